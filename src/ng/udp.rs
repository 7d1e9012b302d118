//! The NG control socket over UDP: the thin I/O layer around the codec, the retransmit cache and
//! the call registry. One control thread; packets never pass through here.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bencode::{self, OwnedValue};
use super::cookie_cache::CookieCache;
use super::message::{encode_reply_into, error_reply, split_datagram, NgError};
use super::mmsg::{Outbox, RecvBatch, BATCH};
use super::request::parse_request;
use crate::call::Registry;
use crate::media::ports::bind_udp;
use crate::media::SyncTicket;

/// How long a reply is kept for retransmitted requests (rtpengine keeps them about 30 s).
pub const REPLY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Handles one datagram and returns the reply datagram, if any. Sans-IO apart from the
/// registry's media plane, so tests can call it directly. The media workers have applied the
/// request's commands (those a reply must wait for) when it returns.
pub fn handle_datagram(
    registry: &mut Registry,
    cache: &mut CookieCache,
    datagram: &[u8],
    now: Instant,
) -> Option<Vec<u8>> {
    let mut reply = Vec::new();
    let out = process(registry, cache, datagram, now, &mut reply)?;
    if let Some(len) = out.cookie_len {
        cache.insert_reply(&reply, len, now);
    }
    registry.settle();
    Some(reply)
}

/// What [`process`] wrote.
struct Outcome {
    /// The reply is new: store it in the retransmit cache under its first `cookie_len`
    /// bytes (its cookie) once it has been sent.
    cookie_len: Option<usize>,
    /// The reply came from the retransmit cache.
    cached: bool,
}

/// [`handle_datagram`] without waiting for the media workers and without caching the reply,
/// which it writes into `reply` (reused across requests): the caller must call
/// [`Registry::settle`] before it sends a reply during which [`Registry::sync_epoch`] changed,
/// and before it blocks, and must cache a new reply before it handles the next datagram.
fn process(
    registry: &mut Registry,
    cache: &mut CookieCache,
    datagram: &[u8],
    now: Instant,
    reply: &mut Vec<u8>,
) -> Option<Outcome> {
    let (cookie, body) = match split_datagram(datagram) {
        Ok(x) => x,
        Err(NgError::NoPayload) => {
            // A cookie and nothing else: the sender can match an error reply to it.
            let cookie = datagram.strip_suffix(b" ").unwrap_or(datagram);
            encode_reply_into(cookie, &error_reply("Empty NG message"), reply);
            return Some(Outcome {
                cookie_len: None,
                cached: false,
            });
        }
        Err(e) => {
            // Without a usable cookie there is nothing the sender could match a reply to.
            tracing::warn!(len = datagram.len(), "dropping NG datagram: {e}");
            return None;
        }
    };
    if let Some(cached) = cache.get(cookie, now) {
        tracing::debug!("retransmitted NG request, sending the cached reply");
        reply.clear();
        reply.extend_from_slice(cached);
        return Some(Outcome {
            cookie_len: None,
            cached: true,
        });
    }
    let value = match bencode::decode(body) {
        Err(e) => error_reply(&format!("Failed to decode bencode: {e}")),
        Ok(value) => match value.as_dict() {
            None => error_reply("Message is not a dictionary"),
            Some(dict) => match parse_request(dict) {
                Err(e) => error_reply(&e.to_string()),
                Ok(req) => {
                    for w in &req.warnings {
                        tracing::warn!(call_id = req.call_id.as_deref().unwrap_or(""), "{w}");
                    }
                    match registry.handle_contained(&req, now) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(
                                call_id = req.call_id.as_deref().unwrap_or(""),
                                "NG command failed: {e}"
                            );
                            error_reply(&e.to_string())
                        }
                    }
                }
            },
        },
    };
    encode_reply_into(cookie, &value, reply);
    Some(Outcome {
        cookie_len: Some(cookie.len()),
        cached: false,
    })
}

/// How many batches' parked replies may wait for their acknowledgements at once, while
/// the loop goes on with the next requests.
const MAX_WAITING: usize = 4;

/// A reply held back until the media workers have caught up.
struct Parked {
    sock: usize,
    to: SocketAddr,
    reply: Vec<u8>,
}

pub struct UdpControl {
    socks: Vec<mio::net::UdpSocket>,
    poll: mio::Poll,
    cache: CookieCache,
}

impl UdpControl {
    /// Binds every given address (rtpengine binds both 0.0.0.0 and :: for a bare port).
    pub fn bind(addrs: &[SocketAddr]) -> io::Result<UdpControl> {
        let poll = mio::Poll::new()?;
        let mut socks = Vec::new();
        for (i, a) in addrs.iter().enumerate() {
            let mut s = mio::net::UdpSocket::from_std(bind_udp(*a, None)?);
            poll.registry()
                .register(&mut s, mio::Token(i), mio::Interest::READABLE)?;
            socks.push(s);
        }
        Ok(UdpControl {
            socks,
            poll,
            cache: CookieCache::new(REPLY_CACHE_TTL, 100_000),
        })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.socks
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// Serves requests until `stop` is set; runs the registry's timers about once a second.
    ///
    /// Requests are handled in batches (up to [`BATCH`], or until the sockets are empty). A
    /// reply goes out at once unless it must wait for the media workers (a delete closes
    /// sockets); those are parked. At the end of a batch the workers are woken once and asked
    /// to acknowledge once; while more requests wait, the loop goes on with them and sends the
    /// parked replies as their acknowledgements arrive; once the sockets are empty it waits
    /// for the acknowledgements outstanding.
    pub fn run(&mut self, registry: &mut Registry, stop: &AtomicBool) {
        let mut rx = RecvBatch::default();
        let mut out = Outbox::default();
        let mut reply = Vec::with_capacity(4096);
        let mut events = mio::Events::with_capacity(64);
        let mut parked: Vec<Parked> = Vec::new();
        let mut waiting: VecDeque<(Option<SyncTicket>, Vec<Parked>)> = VecDeque::new();
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(200)))
            {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("NG poll failed: {e}");
                    return;
                }
            }
            for ev in events.iter() {
                let i = ev.token().0;
                let Some(sock) = self.socks.get(i) else {
                    continue;
                };
                loop {
                    let n = match rx.recv(sock) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            tracing::warn!("NG socket receive error: {e}");
                            // ICMP errors from an earlier reply surface here once; go on.
                            match e.kind() {
                                io::ErrorKind::ConnectionRefused
                                | io::ErrorKind::ConnectionReset => continue,
                                _ => break,
                            }
                        }
                    };
                    let now = Instant::now();
                    for k in 0..n {
                        let Some((datagram, Some(from))) = rx.get(k) else {
                            continue;
                        };
                        let epoch = registry.sync_epoch();
                        let Some(o) = process(registry, &mut self.cache, datagram, now, &mut reply)
                        else {
                            continue;
                        };
                        // A retransmission may ask for a reply still parked: it waits too.
                        let wait = registry.sync_epoch() != epoch
                            || (o.cached && !(parked.is_empty() && waiting.is_empty()));
                        if wait {
                            parked.push(Parked {
                                sock: i,
                                to: from,
                                reply: reply.clone(),
                            });
                        } else {
                            out.push(i, from, &reply);
                        }
                        if let Some(len) = o.cookie_len {
                            self.cache.insert_reply(&reply, len, now);
                        }
                    }
                    // The batch's replies leave together; those waiting for the workers
                    // follow once the workers have caught up.
                    out.flush(&self.socks);
                    if n > 0 {
                        self.end_batch(registry, &mut parked, &mut waiting, &mut out, false);
                    }
                    // Fewer than a full batch: the socket is empty (the next datagram
                    // raises a new readiness event).
                    if n < BATCH {
                        break;
                    }
                }
            }
            self.end_batch(registry, &mut parked, &mut waiting, &mut out, true);
            let now = Instant::now();
            if now.duration_since(last_tick) >= Duration::from_secs(1) {
                last_tick = now;
                registry.tick(now);
                self.cache.expire(now);
            }
        }
    }

    /// Wakes the media workers and asks those that the batch's parked replies wait for to
    /// acknowledge; sends the parked replies whose acknowledgements have come, in order. With
    /// `drain` (nothing else to do) it waits for all of them.
    fn end_batch(
        &self,
        registry: &mut Registry,
        parked: &mut Vec<Parked>,
        waiting: &mut VecDeque<(Option<SyncTicket>, Vec<Parked>)>,
        out: &mut Outbox,
        drain: bool,
    ) {
        let ticket = registry.start_settle();
        if !parked.is_empty() {
            waiting.push_back((ticket, std::mem::take(parked)));
        }
        loop {
            let must_wait = drain || waiting.len() > MAX_WAITING;
            let Some((ticket, _)) = waiting.front_mut() else {
                break;
            };
            let done = match ticket {
                None => true,
                Some(t) if must_wait => {
                    t.wait();
                    true
                }
                Some(t) => t.is_done(),
            };
            if !done {
                break;
            }
            if let Some((_, replies)) = waiting.pop_front() {
                self.send_parked(replies, out);
            }
        }
    }

    /// Sends parked replies through `out` (empty on entry; its buffers are reused).
    fn send_parked(&self, replies: Vec<Parked>, out: &mut Outbox) {
        for p in &replies {
            out.push(p.sock, p.to, &p.reply);
        }
        out.flush(&self.socks);
    }
}

/// Builds the `{"result":"pong"}` reply; used by health checks.
pub fn pong() -> OwnedValue {
    OwnedValue::dict().with("result", OwnedValue::lit("pong"))
}

/// Installs SIGTERM/SIGINT handlers that set the returned flag.
pub fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::media::MediaPlane;
    use crate::ng::bencode::{decode, Value};
    use std::net::UdpSocket;

    /// A control thread serving NG on a loopback port, with `workers` media workers on ports
    /// `ports` (above the kernel's ephemeral range, 32768-60999, so no other socket holds
    /// them) and no delete delay; `prepare` sees the registry before it starts.
    struct Server {
        addr: SocketAddr,
        stop: Arc<AtomicBool>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Server {
        fn start(workers: usize, ports: (u16, u16), prepare: impl FnOnce(&mut Registry)) -> Server {
            let cfg = Config {
                delete_delay: 0,
                port_min: ports.0,
                port_max: ports.1,
                ..Config::default()
            };
            let media = MediaPlane::start(
                workers,
                cfg.port_min,
                cfg.port_max,
                None,
                None,
                crate::config::IoEngine::default(),
            )
            .expect("workers");
            let mut registry = Registry::new(Arc::new(cfg), media);
            prepare(&mut registry);
            let mut control =
                UdpControl::bind(&["127.0.0.1:0".parse().expect("addr")]).expect("bind");
            let addr = control.local_addrs()[0];
            let stop = Arc::new(AtomicBool::new(false));
            let stop2 = stop.clone();
            let thread = std::thread::spawn(move || {
                control.run(&mut registry, &stop2);
                registry.shutdown();
            });
            Server { addr, stop, thread }
        }

        /// Stops the control thread, which must end normally.
        fn stop(self) {
            self.stop.store(true, Ordering::Relaxed);
            self.thread
                .join()
                .expect("the control thread ended normally");
        }
    }

    fn request(cookie: &str, body: OwnedValue) -> Vec<u8> {
        let mut d = format!("{cookie} ").into_bytes();
        body.encode(&mut d);
        d
    }

    fn sdp(port: u16) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\n"
        )
    }

    /// The reply's cookie and its `m=audio` port (0 without SDP).
    fn parse_reply(d: &[u8]) -> (String, u16) {
        let sp = d.iter().position(|&b| b == b' ').expect("cookie");
        let cookie = String::from_utf8_lossy(&d[..sp]).into_owned();
        let v = decode(&d[sp + 1..]).expect("bencode");
        let dict = v.as_dict().expect("dict");
        assert_eq!(dict.get("result"), Some(&Value::Bytes(b"ok")), "{cookie}");
        let port = match dict.get("sdp") {
            Some(Value::Bytes(s)) => String::from_utf8_lossy(s)
                .lines()
                .find_map(|l| l.strip_prefix("m=audio "))
                .and_then(|l| l.split(' ').next())
                .and_then(|p| p.parse().ok())
                .expect("media port"),
            _ => 0,
        };
        (cookie, port)
    }

    fn recv_all(s: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        (0..n)
            .map(|_| {
                let len = s.recv(&mut buf).expect("reply in time");
                buf[..len].to_vec()
            })
            .collect()
    }

    /// The `mediastatistics` counter `name` of a `statistics` reply.
    fn media_counter(c: &UdpSocket, name: &str) -> i64 {
        // A fresh cookie each time: a repeated one would get the cached first reply.
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let cookie = format!("stats{}", N.fetch_add(1, Ordering::Relaxed));
        let body = OwnedValue::dict().with("command", "statistics");
        c.send(&request(&cookie, body)).expect("send");
        let mut buf = vec![0u8; 65536];
        loop {
            let len = c.recv(&mut buf).expect("statistics reply");
            let Some(body) = buf[..len]
                .strip_prefix(cookie.as_bytes())
                .and_then(|b| b.strip_prefix(b" "))
            else {
                continue;
            };
            let v = decode(body).expect("bencode");
            fn get<'a>(v: &Value<'a>, k: &str) -> Option<Value<'a>> {
                v.as_dict().and_then(|d| d.get(k).cloned())
            }
            let stats = get(&v, "statistics").expect("statistics");
            let media = get(&stats, "mediastatistics").expect("mediastatistics");
            return get(&media, name).and_then(|v| v.as_int()).expect(name);
        }
    }

    /// A bug in one call's handling (here an injected panic halfway through its offer, once
    /// its ports are taken) is an error reply for that request: the control thread goes on,
    /// the other call is untouched, and the failed call is ended with its ports given back.
    #[test]
    fn a_panic_in_one_call_is_an_error_reply_and_ends_only_that_call() {
        // Room for two calls (two legs each, RTP and RTCP): a third offer gets ports only if
        // the failed call gave its back.
        let server = Server::start(1, (61400, 61407), |r| r.inject_panic("boom"));
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        c.connect(server.addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let ask = |cookie: &str, body: OwnedValue| -> Vec<u8> {
            c.send(&request(cookie, body)).expect("send");
            recv_all(&c, 1).remove(0)
        };
        let offer = |id: &str| {
            OwnedValue::dict()
                .with("command", "offer")
                .with("call-id", id)
                .with("from-tag", "a")
                .with("sdp", sdp(40000))
        };
        let result = |reply: &[u8]| -> (String, Option<String>) {
            let sp = reply.iter().position(|&b| b == b' ').expect("cookie");
            let v = decode(&reply[sp + 1..]).expect("bencode");
            let d = v.as_dict().expect("dict");
            let text = |k: &str| {
                d.get(k)
                    .and_then(Value::as_bytes)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            };
            (text("result").expect("result"), text("error-reason"))
        };

        let (_, calm_port) = parse_reply(&ask("o1", offer("calm")));
        assert_ne!(calm_port, 0);
        let (res, reason) = result(&ask("o2", offer("boom")));
        assert_eq!(res, "error");
        assert_eq!(
            reason.as_deref(),
            Some("Internal error; the call was ended")
        );
        // The failed call is gone; the other one answers as before.
        let query = |id: &str| {
            OwnedValue::dict()
                .with("command", "query")
                .with("call-id", id)
        };
        let (res, reason) = result(&ask("q1", query("boom")));
        assert_eq!(
            (res.as_str(), reason.as_deref()),
            ("error", Some("Unknown call-id"))
        );
        let answer = OwnedValue::dict()
            .with("command", "answer")
            .with("call-id", "calm")
            .with("from-tag", "a")
            .with("to-tag", "b")
            .with("sdp", sdp(40002));
        let (_, answer_port) = parse_reply(&ask("a1", answer));
        assert_ne!(answer_port, 0);
        // Its ports went back to the pool: a new call gets them.
        let (_, port) = parse_reply(&ask("o3", offer("after")));
        assert_ne!(port, 0);
        server.stop();
    }

    #[test]
    fn pipelined_deletes_are_answered_after_their_legs_stop_relaying() {
        const CALLS: usize = 80;
        let server = Server::start(2, (61600, 61999), |_| {});
        // The two parties of every call.
        let party = || {
            let s = UdpSocket::bind("127.0.0.1:0").expect("party");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s
        };
        let (alice, bob) = (party(), party());
        let port_of = |s: &UdpSocket| s.local_addr().expect("addr").port();
        let c = UdpSocket::bind("127.0.0.1:0").expect("client");
        // 81 delete replies of ~1.8 KB in one burst overflow the default receive buffer.
        socket2::SockRef::from(&c)
            .set_recv_buffer_size(8 << 20)
            .expect("receive buffer");
        c.connect(server.addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let call = |i: usize| OwnedValue::dict().with("call-id", format!("pipe-{i}"));

        // Offers and answers back to back, then every delete (one twice) in one burst.
        for i in 0..CALLS {
            let body = call(i)
                .with("command", "offer")
                .with("from-tag", "a")
                .with("sdp", sdp(port_of(&alice)));
            c.send(&request(&format!("o{i}"), body)).expect("send");
        }
        let mut ports = std::collections::HashMap::new();
        for r in recv_all(&c, CALLS) {
            let (cookie, port) = parse_reply(&r);
            ports.insert(cookie[1..].parse::<usize>().expect("index"), vec![port]);
        }
        for i in 0..CALLS {
            let body = call(i)
                .with("command", "answer")
                .with("from-tag", "a")
                .with("to-tag", "b")
                .with("sdp", sdp(port_of(&bob)));
            c.send(&request(&format!("a{i}"), body)).expect("send");
        }
        for r in recv_all(&c, CALLS) {
            let (cookie, port) = parse_reply(&r);
            let i = cookie[1..].parse::<usize>().expect("index");
            ports.get_mut(&i).expect("offered").push(port);
        }
        // Every call relays: Alice's packet to the port the answer gave her reaches Bob.
        let rtp = |seq: u8| [0x80, 0, 0, seq, 0, 0, 0, 0, 1, 2, 3, 4, 0xff];
        let mut buf = [0u8; 64];
        for i in 0..CALLS {
            alice
                .send_to(&rtp(i as u8), ("127.0.0.1", ports[&i][1]))
                .expect("send");
            let (n, _) = bob.recv_from(&mut buf).expect("relayed before the delete");
            assert_eq!(&buf[..n], &rtp(i as u8));
        }
        // io_uring counts a relayed packet when its send completes, which can be after Bob
        // has it: wait until all 80 are counted before taking the baseline.
        let mut relayed = 0;
        for _ in 0..500 {
            relayed = media_counter(&c, "relayed");
            if relayed >= CALLS as i64 {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(relayed, CALLS as i64, "every call relayed its packet");
        let idle = media_counter(&c, "idleport");
        for i in 0..CALLS {
            let body = call(i).with("command", "delete").with("from-tag", "a");
            let d = request(&format!("d{i}"), body);
            c.send(&d).expect("send");
            if i == CALLS / 2 {
                c.send(&d).expect("retransmission");
            }
        }
        let replies = recv_all(&c, CALLS + 1);
        let mut first: std::collections::HashMap<String, Vec<u8>> = Default::default();
        for r in replies {
            let (cookie, _) = parse_reply(&r);
            // A retransmission gets the very same reply.
            if let Some(prev) = first.insert(cookie.clone(), r.clone()) {
                assert_eq!(prev, r, "{cookie}");
                continue;
            }
            // The reply came after the call's legs ended: what either party sends now is
            // not relayed.
            let i = cookie[1..].parse::<usize>().expect("index");
            alice
                .send_to(&rtp(1), ("127.0.0.1", ports[&i][1]))
                .expect("send");
            bob.send_to(&rtp(2), ("127.0.0.1", ports[&i][0]))
                .expect("send");
        }
        // Wait until the workers have seen all of them (dropped at idle ports), then check
        // that none went anywhere.
        let mut seen = idle;
        for _ in 0..500 {
            seen = media_counter(&c, "idleport");
            if seen >= idle + 2 * CALLS as i64 {
                break;
            }
            std::thread::yield_now();
        }
        assert_eq!(seen, idle + 2 * CALLS as i64, "dropped at idle ports");
        assert_eq!(
            media_counter(&c, "relayed"),
            relayed,
            "nothing relayed after a delete"
        );
        for s in [&alice, &bob] {
            s.set_nonblocking(true).expect("nonblocking");
            assert!(s.recv_from(&mut buf).is_err(), "nothing arrived");
        }
        assert_eq!(first.len(), CALLS);
        server.stop();
    }
}
