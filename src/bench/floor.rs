//! The floor: the least a relay must do, to compare real relays against. One thread, one
//! epoll loop (mio). NG: `ping`, `offer` (allocates the call's two ports, rewrites `c=` and
//! the `m=` port), `answer` (the same for the other side), `delete`; nothing else. Media: a
//! packet arriving on one port of a call is sent from the other port to the other party,
//! whose address is latched from the source of its own packets (symmetric latching) and
//! taken from its SDP until then. No RTCP ports, no codec checks, no statistics.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::ng::bencode::{self, OwnedValue, Value};

use super::ng::media_addr;
use super::BenchError;

const NG: Token = Token(usize::MAX);

struct Call {
    id: String,
    /// `[0]` faces the caller (its port goes in the answer), `[1]` the callee.
    socks: [UdpSocket; 2],
    ports: [u16; 2],
    peers: [Option<SocketAddr>; 2],
}

pub struct Floor {
    poll: Poll,
    ng: UdpSocket,
    ip: IpAddr,
    range: (u16, u16),
    cursor: u16,
    calls: Slab<Call>,
    by_id: HashMap<String, usize>,
}

impl Floor {
    pub fn bind(ng: SocketAddr, ip: IpAddr, range: (u16, u16)) -> Result<Floor, BenchError> {
        if range.0 == 0 || range.1 <= range.0 {
            return Err(BenchError::Usage(
                "--ports must be MIN-MAX with MIN < MAX".into(),
            ));
        }
        let poll = Poll::new()?;
        let mut sock = UdpSocket::bind(ng)?;
        poll.registry()
            .register(&mut sock, NG, Interest::READABLE)?;
        Ok(Floor {
            poll,
            ng: sock,
            ip,
            range,
            cursor: range.0,
            calls: Slab::new(),
            by_id: HashMap::new(),
        })
    }

    pub fn ng_addr(&self) -> io::Result<SocketAddr> {
        self.ng.local_addr()
    }

    fn alloc_port(&mut self) -> io::Result<(UdpSocket, u16)> {
        let span = (self.range.1 - self.range.0) as u32 + 1;
        for _ in 0..span {
            let p = self.cursor;
            self.cursor = if p >= self.range.1 {
                self.range.0
            } else {
                p + 1
            };
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(self.ip, p)) {
                return Ok((s, p));
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "port range exhausted",
        ))
    }

    fn new_call(&mut self, id: &str) -> io::Result<usize> {
        let (mut s0, p0) = self.alloc_port()?;
        let (mut s1, p1) = self.alloc_port()?;
        let entry = self.calls.vacant_entry();
        let key = entry.key();
        self.poll
            .registry()
            .register(&mut s0, Token(key * 2), Interest::READABLE)?;
        self.poll
            .registry()
            .register(&mut s1, Token(key * 2 + 1), Interest::READABLE)?;
        entry.insert(Call {
            id: id.to_string(),
            socks: [s0, s1],
            ports: [p0, p1],
            peers: [None, None],
        });
        self.by_id.insert(id.to_string(), key);
        Ok(key)
    }

    fn rewrite(&self, sdp: &str, port: u16) -> String {
        let fam = if self.ip.is_ipv4() { "IP4" } else { "IP6" };
        let mut out = String::with_capacity(sdp.len() + 16);
        for line in sdp.lines() {
            let line = line.trim_end_matches('\r');
            if line.starts_with("c=") {
                out.push_str(&format!("c=IN {fam} {}", self.ip));
            } else if let Some(m) = line.strip_prefix("m=") {
                let mut f = m.splitn(3, ' ');
                let media = f.next().unwrap_or("audio");
                let _ = f.next();
                let rest = f.next().unwrap_or("");
                out.push_str(&format!("m={media} {port} {rest}"));
            } else if line.starts_with("a=rtcp:") {
                continue;
            } else {
                out.push_str(line);
            }
            out.push_str("\r\n");
        }
        out
    }

    fn command(&mut self, body: &[u8]) -> OwnedValue {
        let err = |r: &str| {
            OwnedValue::dict()
                .with("result", "error")
                .with("error-reason", r)
        };
        let Ok(Value::Dict(d)) = bencode::decode(body) else {
            return err("Could not decode dictionary");
        };
        let cmd = d.get_str("command").unwrap_or("");
        if cmd == "ping" {
            return OwnedValue::dict().with("result", "pong");
        }
        let Some(id) = d.get_str("call-id") else {
            return err("No call-id in message");
        };
        match cmd {
            "offer" | "answer" => {
                let Some(sdp) = d.get_str("sdp") else {
                    return err("No SDP body in message");
                };
                let Ok(addr) = media_addr(sdp) else {
                    return err("Failed to parse SDP");
                };
                let key = match (self.by_id.get(id).copied(), cmd) {
                    (Some(k), _) => k,
                    (None, "offer") => match self.new_call(id) {
                        Ok(k) => k,
                        Err(_) => return err("Ran out of ports"),
                    },
                    (None, _) => return err("Unknown call-id"),
                };
                let Some(call) = self.calls.get_mut(key) else {
                    return err("Unknown call-id");
                };
                // The offerer is side 0: it is told side 0's port in the answer; the callee
                // gets side 1's port in the offer.
                let (side, reply_port) = if cmd == "offer" {
                    (0, call.ports[1])
                } else {
                    (1, call.ports[0])
                };
                if call.peers[side].is_none() {
                    call.peers[side] = Some(addr);
                }
                let sdp = self.rewrite(sdp, reply_port);
                OwnedValue::dict().with("result", "ok").with("sdp", sdp)
            }
            "delete" => {
                let Some(key) = self.by_id.remove(id) else {
                    return err("Call-ID not found or tags didn't match");
                };
                if self.calls.contains(key) {
                    let mut call = self.calls.remove(key);
                    for s in &mut call.socks {
                        let _ = self.poll.registry().deregister(s);
                    }
                    debug_assert_eq!(call.id, id);
                }
                OwnedValue::dict().with("result", "ok")
            }
            _ => err("Unrecognized command"),
        }
    }

    fn on_ng(&mut self, buf: &mut [u8]) {
        loop {
            let (n, src) = match self.ng.recv_from(buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let d = &buf[..n];
            let Some(sp) = d.iter().position(|&b| b == b' ') else {
                continue;
            };
            let reply = self.command(&d[sp + 1..]);
            let mut out = Vec::with_capacity(sp + 256);
            out.extend_from_slice(&d[..sp + 1]);
            reply.encode(&mut out);
            let _ = self.ng.send_to(&out, src);
        }
    }

    fn on_media(&mut self, key: usize, side: usize, buf: &mut [u8]) {
        let Some(call) = self.calls.get_mut(key) else {
            return;
        };
        let other = 1 - side;
        loop {
            let (n, src) = match call.socks[side].recv_from(buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            call.peers[side] = Some(src);
            if let Some(dest) = call.peers[other] {
                let _ = call.socks[other].send_to(&buf[..n], dest);
            }
        }
    }

    /// Serves until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), BenchError> {
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            match self
                .poll
                .poll(&mut events, Some(Duration::from_millis(200)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                let t = ev.token();
                if t == NG {
                    self.on_ng(&mut buf);
                } else {
                    self.on_media(t.0 / 2, t.0 % 2, &mut buf);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ng::{plain_sdp, NgClient};
    use std::net::UdpSocket as StdUdp;
    use std::sync::Arc;

    #[test]
    fn offer_answer_relay_delete() {
        let mut f = Floor::bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
            (41000, 41099),
        )
        .unwrap();
        let ng = f.ng_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let th = std::thread::spawn(move || f.run(&s2));

        let a = StdUdp::bind("127.0.0.1:0").unwrap();
        let b = StdUdp::bind("127.0.0.1:0").unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let mut c = NgClient::connect(ng).unwrap();
        let r = c
            .request(&crate::bench::ng::offer(
                "x",
                &plain_sdp(a.local_addr().unwrap(), 1),
            ))
            .unwrap();
        let to_b = media_addr(r.get("sdp").and_then(|v| v.as_str()).unwrap()).unwrap();
        let r = c
            .request(&crate::bench::ng::answer(
                "x",
                &plain_sdp(b.local_addr().unwrap(), 1),
            ))
            .unwrap();
        let to_a = media_addr(r.get("sdp").and_then(|v| v.as_str()).unwrap()).unwrap();
        assert_ne!(to_a, to_b);

        let mut buf = [0u8; 100];
        a.send_to(b"hello-b", to_a).unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello-b"[..], to_b));
        b.send_to(b"hello-a", to_b).unwrap();
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"hello-a"[..], to_a));

        c.request(&crate::bench::ng::delete("x")).unwrap();
        assert!(matches!(
            c.request(&crate::bench::ng::delete("x")),
            Err(BenchError::ServerError(_))
        ));
        stop.store(true, Ordering::Relaxed);
        th.join().unwrap().unwrap();
    }
}
