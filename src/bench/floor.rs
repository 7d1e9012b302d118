//! The floor: the least a relay must do, to compare real relays against. One thread. NG:
//! `ping`, `offer` (allocates the call's two ports, rewrites `c=` and the `m=` port),
//! `answer` (the same for the other side), `delete`; nothing else. Media: a packet arriving
//! on one port of a call is sent from the other port to the other party, whose address is
//! latched from the source of its own packets (symmetric latching) and taken from its SDP
//! until then. No RTCP ports, no codec checks, no statistics, no crypto.
//!
//! Two engines ([`FloorIo`]):
//! - `epoll`: mio readiness, one `recvfrom` and one `sendto` per packet.
//! - `uring`: one io_uring; a multishot `recvmsg` on every media socket takes buffers from
//!   one provided-buffer ring, the packet is sent from that same buffer (`send` with a
//!   destination address) and the buffer goes back to the ring when the send completes. All
//!   sends queued while handling one batch of completions go to the kernel in the next
//!   `io_uring_enter`, which also waits. With `wait_us > 0` ("batched wake-ups") the wait
//!   returns only after that many microseconds (or 256 completions) once anything is ready,
//!   so each wake-up handles a batch.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use socket2::SockAddr;

use crate::ng::bencode::{self, OwnedValue, Value};

use super::ng::media_addr;
use super::BenchError;

/// Which media loop the floor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorIo {
    Epoll,
    /// io_uring; `wait_us > 0`: batched wake-ups (see the module docs).
    Uring {
        wait_us: u32,
    },
}

struct Call {
    /// `[0]` faces the caller (its port goes in the answer), `[1]` the callee.
    socks: [UdpSocket; 2],
    ports: [u16; 2],
    peers: [Option<SocketAddr>; 2],
    /// `peers` as socket addresses for the kernel (uring engine).
    peer_sa: [Option<SockAddr>; 2],
}

/// What an NG command changed in the call table.
enum Change {
    None,
    Created(usize),
    Removed(Box<Call>),
}

/// The calls and their ports; NG commands.
struct Calls {
    ip: IpAddr,
    range: (u16, u16),
    cursor: u16,
    calls: Slab<Call>,
    by_id: HashMap<String, usize>,
}

impl Calls {
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
        let (s0, p0) = self.alloc_port()?;
        let (s1, p1) = self.alloc_port()?;
        let key = self.calls.insert(Call {
            socks: [s0, s1],
            ports: [p0, p1],
            peers: [None, None],
            peer_sa: [None, None],
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

    fn command(&mut self, body: &[u8]) -> (OwnedValue, Change) {
        let err = |r: &str| {
            (
                OwnedValue::dict()
                    .with("result", "error")
                    .with("error-reason", r),
                Change::None,
            )
        };
        let Ok(Value::Dict(d)) = bencode::decode(body) else {
            return err("Could not decode dictionary");
        };
        let cmd = d.get_str("command").unwrap_or("");
        if cmd == "ping" {
            return (OwnedValue::dict().with("result", "pong"), Change::None);
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
                let (key, change) = match (self.by_id.get(id).copied(), cmd) {
                    (Some(k), _) => (k, Change::None),
                    (None, "offer") => match self.new_call(id) {
                        Ok(k) => (k, Change::Created(k)),
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
                    call.peer_sa[side] = Some(SockAddr::from(addr));
                }
                let sdp = self.rewrite(sdp, reply_port);
                (
                    OwnedValue::dict().with("result", "ok").with("sdp", sdp),
                    change,
                )
            }
            "delete" => {
                let Some(key) = self.by_id.remove(id) else {
                    return err("Call-ID not found or tags didn't match");
                };
                match self.calls.try_remove(key) {
                    Some(call) => (
                        OwnedValue::dict().with("result", "ok"),
                        Change::Removed(Box::new(call)),
                    ),
                    None => (OwnedValue::dict().with("result", "ok"), Change::None),
                }
            }
            _ => err("Unrecognized command"),
        }
    }
}

/// Answers every NG request queued on `ng`; `on_change` sees each change to the table.
fn serve_ng(
    ng: &UdpSocket,
    calls: &mut Calls,
    buf: &mut [u8],
    mut on_change: impl FnMut(&mut Calls, Change) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let (n, src) = match ng.recv_from(buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(_) => continue,
        };
        let d = &buf[..n];
        let Some(sp) = d.iter().position(|&b| b == b' ') else {
            continue;
        };
        let (reply, change) = calls.command(&d[sp + 1..]);
        on_change(calls, change)?;
        let mut out = Vec::with_capacity(sp + 256);
        out.extend_from_slice(&d[..sp + 1]);
        reply.encode(&mut out);
        let _ = ng.send_to(&out, src);
    }
}

pub struct Floor {
    ng: UdpSocket,
    calls: Calls,
    io: FloorIo,
}

impl Floor {
    /// Binds the NG socket; media ports come from `range` on `ip`. The engine is epoll
    /// unless [`Floor::with_io`] says otherwise.
    pub fn bind(ng: SocketAddr, ip: IpAddr, range: (u16, u16)) -> Result<Floor, BenchError> {
        if range.0 == 0 || range.1 <= range.0 {
            return Err(BenchError::Usage(
                "--ports must be MIN-MAX with MIN < MAX".into(),
            ));
        }
        let sock = UdpSocket::bind(ng)?;
        Ok(Floor {
            ng: sock,
            calls: Calls {
                ip,
                range,
                cursor: range.0,
                calls: Slab::new(),
                by_id: HashMap::new(),
            },
            io: FloorIo::Epoll,
        })
    }

    pub fn with_io(mut self, io: FloorIo) -> Floor {
        self.io = io;
        self
    }

    pub fn ng_addr(&self) -> io::Result<SocketAddr> {
        self.ng.local_addr()
    }

    /// Serves until `stop` is set.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), BenchError> {
        match self.io {
            FloorIo::Epoll => self.run_epoll(stop),
            FloorIo::Uring { wait_us } => uring::run(self, stop, wait_us),
        }
    }

    fn run_epoll(&mut self, stop: &AtomicBool) -> Result<(), BenchError> {
        const NG: Token = Token(usize::MAX);
        let mut poll = Poll::new()?;
        let reg = poll.registry().try_clone()?;
        reg.register(&mut self.ng, NG, Interest::READABLE)?;
        let mut events = Events::with_capacity(1024);
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            match poll.poll(&mut events, Some(Duration::from_millis(200))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                let t = ev.token();
                if t == NG {
                    serve_ng(&self.ng, &mut self.calls, &mut buf, |calls, ch| match ch {
                        Change::Created(key) => {
                            let call = &mut calls.calls[key];
                            for (side, sock) in call.socks.iter_mut().enumerate() {
                                reg.register(sock, Token(key * 2 + side), Interest::READABLE)?;
                            }
                            Ok(())
                        }
                        Change::Removed(mut call) => {
                            for sock in &mut call.socks {
                                let _ = reg.deregister(sock);
                            }
                            Ok(())
                        }
                        Change::None => Ok(()),
                    })?;
                } else {
                    self.relay_epoll(t.0 / 2, t.0 % 2, &mut buf);
                }
            }
        }
        Ok(())
    }

    fn relay_epoll(&mut self, key: usize, side: usize, buf: &mut [u8]) {
        let Some(call) = self.calls.calls.get_mut(key) else {
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
}

mod uring {
    //! The io_uring engine (see the module docs above).

    use super::*;
    use io_uring::{cqueue, opcode, types, IoUring};

    const TAG_RECV: u64 = 1;
    const TAG_SEND: u64 = 2;
    const TAG_NG: u64 = 3;
    const TAG_CANCEL: u64 = 4;
    /// Provided receive buffers (a power of two) and their size.
    const NBUF: usize = 4096;
    const BUF_SIZE: usize = 2048;
    const GROUP: u16 = 0;
    /// Completions a batched wake-up waits for at most.
    const WAKE_BATCH: usize = 256;

    fn ud(tag: u64, gen: u32, index: u32) -> u64 {
        tag << 56 | (u64::from(gen) & 0xff_ffff) << 32 | u64::from(index)
    }
    fn ud_parts(ud: u64) -> (u64, u32, u32) {
        (ud >> 56, ((ud >> 32) & 0xff_ffff) as u32, ud as u32)
    }

    pub(super) use crate::media::bufring::parse_sockaddr;

    /// A media socket's place in the fixed-file table: which call and side it is, and the
    /// generation of its receive request (completions of an older one are stale).
    #[derive(Clone, Copy)]
    struct Slot {
        key: usize,
        side: usize,
        gen: u32,
    }

    /// The receive buffers and, per buffer, the destination of the send that holds it.
    struct BufRing {
        ring: crate::media::bufring::BufRing,
        dests: Vec<libc::sockaddr_storage>,
    }

    impl BufRing {
        fn new() -> io::Result<BufRing> {
            Ok(BufRing {
                ring: crate::media::bufring::BufRing::new(NBUF, BUF_SIZE)?,
                // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
                dests: vec![unsafe { std::mem::zeroed() }; NBUF],
            })
        }
    }

    struct Engine {
        ring: IoUring,
        slots: Vec<Option<Slot>>,
        gen: u32,
        /// The msghdr the multishot receives are shaped by (name only).
        msg: libc::msghdr,
        range_min: u16,
    }

    impl Engine {
        fn push(&mut self, e: io_uring::squeue::Entry) -> io::Result<()> {
            loop {
                // SAFETY: every entry's pointers (buffers, addresses, the msghdr) outlive
                // the request: see the callers.
                if unsafe { self.ring.submission().push(&e) }.is_ok() {
                    return Ok(());
                }
                self.ring.submit()?;
            }
        }

        fn arm_recv(&mut self, slot: u32) -> io::Result<()> {
            let Some(s) = self.slots.get(slot as usize).copied().flatten() else {
                return Ok(());
            };
            let e = opcode::RecvMsgMulti::new(types::Fixed(slot), &self.msg, GROUP)
                .build()
                .user_data(ud(TAG_RECV, s.gen, slot));
            self.push(e)
        }

        fn add(&mut self, calls: &Calls, key: usize) -> io::Result<()> {
            let call = &calls.calls[key];
            for side in 0..2 {
                let slot = u32::from(call.ports[side] - self.range_min);
                self.ring
                    .submitter()
                    .register_files_update(slot, &[call.socks[side].as_raw_fd()])?;
                self.gen = self.gen.wrapping_add(1) & 0xff_ffff;
                self.slots[slot as usize] = Some(Slot {
                    key,
                    side,
                    gen: self.gen,
                });
                self.arm_recv(slot)?;
            }
            Ok(())
        }

        fn remove(&mut self, call: &Call) -> io::Result<()> {
            for side in 0..2 {
                let slot = u32::from(call.ports[side] - self.range_min);
                if let Some(s) = self.slots[slot as usize].take() {
                    let e = opcode::AsyncCancel::new(ud(TAG_RECV, s.gen, slot))
                        .build()
                        .user_data(ud(TAG_CANCEL, 0, slot));
                    self.push(e)?;
                }
            }
            self.ring.submit()?;
            for side in 0..2 {
                let slot = u32::from(call.ports[side] - self.range_min);
                let fd: RawFd = -1;
                self.ring.submitter().register_files_update(slot, &[fd])?;
            }
            Ok(())
        }
    }

    pub(super) fn run(
        floor: &mut Floor,
        stop: &AtomicBool,
        wait_us: u32,
    ) -> Result<(), BenchError> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_taskrun_flag()
            .setup_coop_taskrun()
            .setup_cqsize(65536)
            .build(4096)?;
        let min_timeout = ring.params().is_feature_min_timeout();
        let n_slots = u32::from(floor.calls.range.1 - floor.calls.range.0) + 1;
        ring.submitter().register_files_sparse(n_slots)?;
        let mut bufs = BufRing::new()?;
        // SAFETY: the ring memory stays mapped until `bufs` drops, after `eng` (declared
        // later, dropped first) closed the io_uring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.ring.entries_addr(),
                NBUF as u16,
                GROUP,
                0,
            )?
        };
        // SAFETY: an all-zero msghdr is valid; only the name length matters here.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        let mut eng = Engine {
            ring,
            slots: vec![None; n_slots as usize],
            gen: 0,
            msg,
            range_min: floor.calls.range.0,
        };
        let ng_fd = floor.ng.as_raw_fd();
        let arm_ng = |eng: &mut Engine| {
            let e = opcode::PollAdd::new(types::Fd(ng_fd), libc::POLLIN as u32)
                .multi(true)
                .build()
                .user_data(ud(TAG_NG, 0, 0));
            eng.push(e)
        };
        arm_ng(&mut eng)?;
        let mut ng_buf = vec![0u8; 65536];
        let mut rearm: Vec<u32> = Vec::new();
        let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(4096);
        let ts = types::Timespec::new().nsec(200_000_000);
        while !stop.load(Ordering::Relaxed) {
            let args = types::SubmitArgs::new().timespec(&ts);
            let r = if wait_us == 0 {
                eng.ring.submitter().submit_with_args(1, &args)
            } else if min_timeout {
                let args = args.min_wait_usec(wait_us);
                eng.ring.submitter().submit_with_args(WAKE_BATCH, &args)
            } else {
                std::thread::sleep(Duration::from_micros(u64::from(wait_us)));
                eng.ring.submitter().submit_with_args(1, &args)
            };
            match r {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            cqes.clear();
            cqes.extend(
                eng.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let mut ng_ready = false;
            for &(u, res, flags) in &cqes {
                let (tag, gen, index) = ud_parts(u);
                match tag {
                    TAG_RECV => {
                        let bid = cqueue::buffer_select(flags);
                        let live = eng
                            .slots
                            .get(index as usize)
                            .copied()
                            .flatten()
                            .filter(|s| s.gen == gen);
                        if !cqueue::more(flags) && live.is_some() {
                            rearm.push(index);
                        }
                        let Some(bid) = bid else { continue };
                        let sent = match (live, res > 0) {
                            (Some(slot), true) => relay(
                                &mut eng,
                                &mut floor.calls,
                                &mut bufs,
                                slot,
                                bid,
                                res as usize,
                            )?,
                            _ => false,
                        };
                        if !sent {
                            bufs.ring.give(bid);
                        }
                    }
                    TAG_SEND => bufs.ring.give(index as u16),
                    TAG_NG => {
                        ng_ready = true;
                        if !cqueue::more(flags) {
                            arm_ng(&mut eng)?;
                        }
                    }
                    _ => {}
                }
            }
            bufs.ring.publish();
            for slot in rearm.drain(..) {
                eng.arm_recv(slot)?;
            }
            if ng_ready {
                serve_ng(
                    &floor.ng,
                    &mut floor.calls,
                    &mut ng_buf,
                    |calls, ch| match ch {
                        Change::Created(key) => eng.add(calls, key),
                        Change::Removed(call) => eng.remove(&call),
                        Change::None => Ok(()),
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Latches the source and queues the packet in buffer `bid` to the other side; false
    /// when nothing was queued (the buffer is free again).
    fn relay(
        eng: &mut Engine,
        calls: &mut Calls,
        bufs: &mut BufRing,
        slot: Slot,
        bid: u16,
        len: usize,
    ) -> io::Result<bool> {
        let Some(call) = calls.calls.get_mut(slot.key) else {
            return Ok(false);
        };
        let Ok(out) = types::RecvMsgOut::parse(bufs.ring.buf(bid, len), &eng.msg) else {
            return Ok(false);
        };
        if out.is_payload_truncated() {
            return Ok(false);
        }
        let payload = out.payload_data();
        let (payload_ptr, payload_len) = (payload.as_ptr(), payload.len() as u32);
        if let Some(src) = parse_sockaddr(out.name_data()) {
            if call.peers[slot.side] != Some(src) {
                call.peers[slot.side] = Some(src);
                call.peer_sa[slot.side] = Some(SockAddr::from(src));
            }
        }
        let other = 1 - slot.side;
        let Some(dest) = &call.peer_sa[other] else {
            return Ok(false);
        };
        let dslot = u32::from(call.ports[other] - eng.range_min);
        let d = &mut bufs.dests[usize::from(bid)];
        let dlen = dest.len();
        // SAFETY: a SockAddr holds at most a sockaddr_storage; copying its bytes into one.
        unsafe {
            std::ptr::copy_nonoverlapping(
                dest.as_ptr() as *const u8,
                d as *mut libc::sockaddr_storage as *mut u8,
                dlen as usize,
            )
        };
        // The buffer and the address stay untouched until this send's completion gives
        // the buffer back.
        let e = opcode::Send::new(types::Fixed(dslot), payload_ptr, payload_len)
            .dest_addr(d as *const libc::sockaddr_storage as *const libc::sockaddr)
            .dest_addr_len(dlen)
            .build()
            .user_data(ud(TAG_SEND, 0, u32::from(bid)));
        eng.push(e)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ng::{plain_sdp, NgClient};
    use std::net::UdpSocket;
    use std::sync::Arc;

    fn relay_roundtrip(io: FloorIo, range: (u16, u16)) {
        let mut f = Floor::bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
            range,
        )
        .unwrap()
        .with_io(io);
        let ng = f.ng_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let th = std::thread::spawn(move || f.run(&s2));

        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&a, &b] {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        }
        let mut c = NgClient::connect(ng).unwrap();
        for round in 0..2 {
            let id = format!("x{round}");
            let r = c
                .request(&crate::bench::ng::offer(
                    &id,
                    &plain_sdp(a.local_addr().unwrap(), 1),
                ))
                .unwrap();
            let to_b = media_addr(r.get("sdp").and_then(|v| v.as_str()).unwrap()).unwrap();
            let r = c
                .request(&crate::bench::ng::answer(
                    &id,
                    &plain_sdp(b.local_addr().unwrap(), 1),
                ))
                .unwrap();
            let to_a = media_addr(r.get("sdp").and_then(|v| v.as_str()).unwrap()).unwrap();
            assert_ne!(to_a, to_b);

            let mut buf = [0u8; 100];
            for i in 0..20u8 {
                a.send_to(&[b'b', i], to_a).unwrap();
                let (n, from) = b.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&[b'b', i][..], to_b));
                b.send_to(&[b'a', i], to_b).unwrap();
                let (n, from) = a.recv_from(&mut buf).unwrap();
                assert_eq!((&buf[..n], from), (&[b'a', i][..], to_a));
            }

            c.request(&crate::bench::ng::delete(&id)).unwrap();
            assert!(matches!(
                c.request(&crate::bench::ng::delete(&id)),
                Err(BenchError::ServerError(_))
            ));
        }
        stop.store(true, Ordering::Relaxed);
        th.join().unwrap().unwrap();
    }

    #[test]
    fn epoll_offer_answer_relay_delete() {
        relay_roundtrip(FloorIo::Epoll, (41000, 41099));
    }

    #[test]
    fn uring_offer_answer_relay_delete() {
        relay_roundtrip(FloorIo::Uring { wait_us: 0 }, (41100, 41199));
    }

    #[test]
    fn uring_batched_wakeups_relay() {
        relay_roundtrip(FloorIo::Uring { wait_us: 200 }, (41200, 41299));
    }

    #[test]
    fn sockaddr_parsing() {
        let v4: SocketAddr = "10.1.2.3:4567".parse().unwrap();
        let sa = SockAddr::from(v4);
        // SAFETY: as_ptr points at len() bytes.
        let b = unsafe { std::slice::from_raw_parts(sa.as_ptr() as *const u8, sa.len() as usize) };
        assert_eq!(uring_parse(b), Some(v4));
        let v6: SocketAddr = "[2001:db8::1]:5004".parse().unwrap();
        let sa = SockAddr::from(v6);
        // SAFETY: as above.
        let b = unsafe { std::slice::from_raw_parts(sa.as_ptr() as *const u8, sa.len() as usize) };
        assert_eq!(uring_parse(b), Some(v6));
        assert_eq!(uring_parse(&[0u8; 1]), None);
    }

    fn uring_parse(b: &[u8]) -> Option<SocketAddr> {
        uring::parse_sockaddr(b)
    }
}
