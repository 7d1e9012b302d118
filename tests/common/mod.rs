//! Test harness: runs the real `rtpbridge` binary on a free NG port and its own media port range,
//! and talks to it over real sockets. The bencode on the test side is `serde_bencode`, an
//! independent implementation, so a codec bug cannot hide behind itself.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use serde_bencode::value::Value;

pub mod sdes;
pub mod webrtc;

static COOKIE: AtomicU32 = AtomicU32::new(1);

pub struct Server {
    pub child: Child,
    pub ng: SocketAddr,
    pub port_min: u16,
    pub port_max: u16,
    pub log: Arc<Mutex<Vec<String>>>,
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start(extra: &[&str]) -> Server {
        let ng_port = free_udp_port();
        // A media range of our own: disjoint from every other server this test process starts
        // (a counter), and spread by process id across test binaries. Below the kernel's
        // ephemeral range. Should two ever overlap, the port pool skips ports that are taken.
        static NEXT_RANGE: AtomicU32 = AtomicU32::new(0);
        let slot = NEXT_RANGE.fetch_add(1, Ordering::Relaxed) % 20;
        let base = 20000 + (std::process::id() % 6) * 2000 + slot * 100;
        let (pmin, pmax) = (base as u16, (base + 99) as u16);
        let ng = format!("127.0.0.1:{ng_port}");
        let mut args: Vec<String> = vec![
            "--config-file=none".into(),
            "-f".into(),
            "-E".into(),
            "-L".into(),
            "7".into(),
            "-i".into(),
            "127.0.0.1".into(),
            "-n".into(),
            ng.clone(),
            "-m".into(),
            pmin.to_string(),
            "-M".into(),
            pmax.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::spawn(args, ng.parse().unwrap(), pmin, pmax)
    }

    pub fn spawn(args: Vec<String>, ng: SocketAddr, port_min: u16, port_max: u16) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtpbridge"));
        cmd.args(&args);
        Server::spawn_command(cmd, ng, port_min, port_max)
    }

    /// [`Server::spawn`] for a command the caller has set up (limits, environment).
    pub fn spawn_command(mut cmd: Command, ng: SocketAddr, port_min: u16, port_max: u16) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rtpbridge");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        let s = Server {
            child,
            ng,
            port_min,
            port_max,
            log,
        };
        s.wait_ready();
        s
    }

    /// Waits until the server answers `ping` (the event that it is serving).
    fn wait_ready(&self) {
        let c = NgClient::new(self.ng);
        c.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(r) = c.try_request(&[("command", s("ping"))]) {
                assert_eq!(get_str(&r, "result"), "pong");
                return;
            }
        }
        panic!(
            "rtpbridge did not answer ping; log: {:?}",
            self.log.lock().unwrap()
        );
    }

    pub fn client(&self) -> NgClient {
        NgClient::new(self.ng)
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    /// Waits up to 10 s for a log line containing `needle` (the server's log reaches the test
    /// through a reader thread, after the reply that follows it); true once it is there.
    pub fn await_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log_contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn s(v: &str) -> Value {
    Value::Bytes(v.as_bytes().to_vec())
}

pub fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|i| s(i)).collect())
}

pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Dict(d) => d.get(key.as_bytes()),
        _ => None,
    }
}

pub fn get_str(v: &Value, key: &str) -> String {
    match get(v, key) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("key {key} not a string: {other:?} in {v:?}"),
    }
}

/// The daemon's `statistics` -> `mediastatistics` -> `name` counter.
pub fn media_stat(c: &NgClient, name: &str) -> i64 {
    let r = c.ok(&[("command", s("statistics"))]);
    get_int(
        get(get(&r, "statistics").unwrap(), "mediastatistics").unwrap(),
        name,
    )
}

/// Waits (asking `statistics`, which is the event) until the `name` counter reaches `want`;
/// returns the last value seen.
pub fn await_media_stat(c: &NgClient, name: &str, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = media_stat(c, name);
        if v >= want || Instant::now() > deadline {
            return v;
        }
        std::thread::yield_now();
    }
}

pub fn get_int(v: &Value, key: &str) -> i64 {
    match get(v, key) {
        Some(Value::Int(i)) => *i,
        other => panic!("key {key} not an int: {other:?}"),
    }
}

pub struct NgClient {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl NgClient {
    pub fn new(server: SocketAddr) -> NgClient {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        NgClient { sock, server }
    }

    pub fn encode(items: &[(&str, Value)]) -> Vec<u8> {
        let mut m = HashMap::new();
        for (k, v) in items {
            m.insert(k.as_bytes().to_vec(), v.clone());
        }
        serde_bencode::to_bytes(&Value::Dict(m)).unwrap()
    }

    pub fn raw(&self, datagram: &[u8]) -> std::io::Result<Vec<u8>> {
        self.sock.send_to(datagram, self.server)?;
        let mut buf = vec![0u8; 65536];
        let (n, _) = self.sock.recv_from(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Sends `cookie body` and returns (cookie, decoded reply).
    pub fn raw_with_cookie(&self, cookie: &str, body: &[u8]) -> std::io::Result<(String, Value)> {
        let mut d = cookie.as_bytes().to_vec();
        d.push(b' ');
        d.extend_from_slice(body);
        let r = self.raw(&d)?;
        let sp = r
            .iter()
            .position(|&b| b == b' ')
            .expect("reply has a cookie");
        let v: Value = serde_bencode::from_bytes(&r[sp + 1..]).expect("reply is bencode");
        Ok((String::from_utf8_lossy(&r[..sp]).into_owned(), v))
    }

    pub fn try_request(&self, items: &[(&str, Value)]) -> std::io::Result<Value> {
        let cookie = format!(
            "{}_{}",
            std::process::id(),
            COOKIE.fetch_add(1, Ordering::Relaxed)
        );
        let (c, v) = self.raw_with_cookie(&cookie, &Self::encode(items))?;
        assert_eq!(c, cookie, "reply cookie matches");
        Ok(v)
    }

    pub fn request(&self, items: &[(&str, Value)]) -> Value {
        self.try_request(items).expect("NG reply")
    }

    pub fn ok(&self, items: &[(&str, Value)]) -> Value {
        let r = self.request(items);
        assert_eq!(get_str(&r, "result"), "ok", "reply: {r:?}");
        r
    }
}

/// A plain SIP endpoint's SDP for one audio stream.
pub fn sdp(origin_ip: &str, port: u16, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1545997027 1 IN IP4 {origin_ip}\r\ns=tester\r\nc=IN IP4 {origin_ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n{extra}a=sendrecv\r\n"
    )
}

/// The first `m=audio` port and the `c=` address of an SDP.
pub fn media_port(sdp: &str) -> u16 {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("m=audio port")
}

pub fn rtcp_attr_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=rtcp:"))
        .and_then(|r| r.split(' ').next())
        .and_then(|p| p.parse().ok())
}

/// An RTP packet: PT 0, the given SSRC and sequence number, 160 bytes of payload.
pub fn rtp(ssrc: u32, seq: u16, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(fill, 160));
    p
}

/// A minimal RTCP receiver report (PT 201) from `ssrc`.
pub fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0x00, 0x01];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

pub fn udp(addr: &str) -> UdpSocket {
    let s = UdpSocket::bind(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Receives one datagram (2 s timeout) and returns it with its source.
pub fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).expect("datagram within timeout");
    buf.truncate(n);
    (buf, from)
}

pub fn try_recv(s: &UdpSocket, timeout: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = vec![0u8; 2048];
    let r = s.recv_from(&mut buf).ok().map(|(n, from)| {
        buf.truncate(n);
        (buf, from)
    });
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    r
}

/// Sends `n` RTP packets from `from` to rtpbridge's `to_port` and checks each reaches `to`
/// unchanged, from rtpbridge's port `from_port_seen`.
pub fn relay_check(
    from: &UdpSocket,
    to_port: u16,
    to: &UdpSocket,
    from_port_seen: u16,
    n: u16,
    ssrc: u32,
) {
    for seq in 0..n {
        let pkt = rtp(ssrc, seq, seq as u8);
        from.send_to(&pkt, ("127.0.0.1", to_port)).unwrap();
        let (got, src) = recv(to);
        assert_eq!(got, pkt, "packet {seq} relayed unchanged");
        assert_eq!(src.port(), from_port_seen, "relayed from rtpbridge's port");
    }
}

/// A plain call through rtpbridge: A on 127.0.0.2 offers, B on 127.0.0.3 answers, `flags`
/// on both.
pub struct PlainCall {
    pub a: UdpSocket,
    pub b: UdpSocket,
    /// rtpbridge's ports: where A sends, where B sends.
    pub to_a_side: u16,
    pub to_b_side: u16,
    pub offer_sdp: String,
    pub answer_sdp: String,
}

pub fn plain_call(
    c: &NgClient,
    call_id: &str,
    a_extra: &str,
    b_extra: &str,
    flags: &[(&str, Value)],
) -> PlainCall {
    let a = udp("127.0.0.2:0");
    let b = udp("127.0.0.3:0");
    let a_port = a.local_addr().unwrap().port();
    let b_port = b.local_addr().unwrap().port();
    let mut offer = vec![
        ("command", s("offer")),
        ("call-id", s(call_id)),
        ("from-tag", s("tag-a")),
        ("sdp", s(&sdp("127.0.0.2", a_port, a_extra))),
    ];
    offer.extend(flags.iter().cloned());
    let r = c.ok(&offer);
    let offer_sdp = get_str(&r, "sdp");
    let mut answer = vec![
        ("command", s("answer")),
        ("call-id", s(call_id)),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
        ("sdp", s(&sdp("127.0.0.3", b_port, b_extra))),
    ];
    answer.extend(flags.iter().cloned());
    let r = c.ok(&answer);
    let answer_sdp = get_str(&r, "sdp");
    PlainCall {
        a,
        b,
        to_b_side: media_port(&offer_sdp),
        to_a_side: media_port(&answer_sdp),
        offer_sdp,
        answer_sdp,
    }
}
