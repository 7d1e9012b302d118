//! The traffic engine. All calls share two UDP sockets, `a` (every caller) and `b` (every
//! callee): the relay latches each call on its own ports, so one source address can serve
//! any number of calls, and the call index in the payload tells the streams apart.
//!
//! Stream `2i` is call `i`'s caller sending (from `a` to the call's `a_dest`, arriving on
//! `b`), stream `2i + 1` its callee (from `b` to `b_dest`, arriving on `a`). Send slot `j`
//! is packet `j / 2N` of stream `j % 2N`, due at `j * period / 2N`: the packets of all
//! streams are spread evenly over the period. One thread sends the due packets with
//! `sendmmsg`, drains both sockets with `recvmmsg`, and sleeps until the next slot is due,
//! at least one tick (200 us by default), so every system call moves a batch. One-way
//! latency uses the kernel's receive stamp (`SO_TIMESTAMPNS`), so it does not depend on
//! when the loop gets to read.
//!
//! Payload (after a 12-byte RTP header, PCMU): magic, stream, packet number, send time
//! (ns since the run's epoch); the rest is PCMU silence. The send time is written when the
//! batch is complete, right before its `sendmmsg`, so it includes none of the time spent
//! building the batch; how late that is against the schedule is the bench's own lag.
//!
//! SDES mode (`sdes` keys given): the caller's leg is SRTP. What the bench sends from `a` is
//! stamped and then protected with the call's own key, packet by packet (the stamp is
//! taken before the encryption, so latency includes it); what arrives on `a` is
//! unprotected with the relay's key for the call, found by the SSRC (the relay keeps it),
//! before it is accounted. Packets that fail authentication count as `srtp_errors`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::SockAddr;

use super::histogram::Histogram;
use super::ng::{CallDests, SdesKeys};
use super::procstat;
use super::BenchError;
use crate::dtls::sdes::CryptoAttribute;
use crate::dtls::srtp::SrtpContext;

const MAGIC: u32 = 0x5254_4242; // "RTBB"
const HEADER: usize = 12;
const STAMP: usize = 4 + 4 + 4 + 8;
const BATCH: usize = 64;
const MAX_PACKET: usize = 1500;
/// Room left after the RTP packet for the SRTP authentication tag (and an MKI).
const SRTP_ROOM: usize = 32;

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Packets per second per stream (each call has two streams).
    pub rate: u32,
    /// RTP payload bytes (at least 20 for the stamp).
    pub payload: usize,
    /// Traffic before the measured window (latching, warm caches); not counted.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// How long to keep receiving after the last send.
    pub drain: Duration,
    /// The server process, for CPU and RSS.
    pub pid: Option<u32>,
    /// Send and receive granularity: the loop sleeps at least this long between rounds.
    pub tick: Duration,
    /// Start of the schedule (wall-clock ns, see [`now_ns`]); `None` = now. Shards of one
    /// run share it.
    pub epoch: Option<u64>,
    /// Added to every slot's due time (spreads the slots of parallel shards).
    pub phase: Duration,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            rate: 50,
            payload: 160,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(10),
            drain: Duration::from_millis(500),
            pid: None,
            tick: Duration::from_micros(200),
            epoch: None,
            phase: Duration::ZERO,
        }
    }
}

/// The outcome of one load run; counts cover packets scheduled inside the measured window.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub calls: usize,
    pub sent: u64,
    pub received: u64,
    pub reordered: u64,
    pub duplicates: u64,
    /// Packets that arrived on the wrong socket or with an unknown stamp.
    pub foreign: u64,
    /// SDES mode: received packets that failed SRTP authentication or replay checks.
    pub srtp_errors: u64,
    pub send_errors: u64,
    pub window: Duration,
    pub latency: Histogram,
    pub lag: Histogram,
    pub server_cpu: Option<Duration>,
    pub server_rss_kb: Option<u64>,
    pub bench_cpu: Duration,
}

impl LoadResult {
    /// Adds a parallel shard's result (same schedule): counts and histograms add up, the
    /// server readings and window are this one's (shard 0 takes them).
    pub fn merge(&mut self, o: &LoadResult) {
        self.calls += o.calls;
        self.sent += o.sent;
        self.received += o.received;
        self.reordered += o.reordered;
        self.duplicates += o.duplicates;
        self.foreign += o.foreign;
        self.srtp_errors += o.srtp_errors;
        self.send_errors += o.send_errors;
        self.latency.merge(&o.latency);
        self.lag.merge(&o.lag);
        self.bench_cpu = self.bench_cpu.max(o.bench_cpu);
    }

    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.lost() as f64 * 100.0 / self.sent as f64
        }
    }
    /// Sent packets per second, both directions together.
    pub fn send_pps(&self) -> f64 {
        self.sent as f64 / self.window.as_secs_f64().max(1e-9)
    }
    /// Server CPU microseconds per relayed (received) packet.
    pub fn cpu_us_per_packet(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.received > 0).then(|| cpu.as_secs_f64() * 1e6 / self.received as f64)
    }
    /// The bench's own CPU use (all its threads) as a fraction of one core.
    pub fn bench_load(&self) -> f64 {
        self.bench_cpu.as_secs_f64() / self.window.as_secs_f64().max(1e-9)
    }
    /// Server CPU use as a fraction of one core.
    pub fn server_load(&self) -> Option<f64> {
        Some(self.server_cpu?.as_secs_f64() / self.window.as_secs_f64().max(1e-9))
    }

    /// One `key=value` line (for scripts and tests).
    pub fn kv(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        format!(
            "calls={} sent={} received={} loss_pct={:.4} reordered={} duplicates={} foreign={} \
             srtp_errors={} send_errors={} window_s={:.3} send_pps={:.0} lat_p50_us={} \
             lat_p99_us={} lat_max_us={} lag_p50_us={} lag_p99_us={} lag_max_us={} \
             server_cpu_s={} server_load={} cpu_us_per_pkt={} server_rss_kb={} \
             bench_cpu_s={:.3} bench_load={:.3}",
            self.calls,
            self.sent,
            self.received,
            self.loss_pct(),
            self.reordered,
            self.duplicates,
            self.foreign,
            self.srtp_errors,
            self.send_errors,
            self.window.as_secs_f64(),
            self.send_pps(),
            self.latency.quantile(0.5),
            self.latency.quantile(0.99),
            self.latency.max(),
            self.lag.quantile(0.5),
            self.lag.quantile(0.99),
            self.lag.max(),
            opt(self.server_cpu.map(|d| d.as_secs_f64())),
            opt(self.server_load()),
            opt(self.cpu_us_per_packet()),
            self.server_rss_kb
                .map_or("-".to_string(), |v| v.to_string()),
            self.bench_cpu.as_secs_f64(),
            self.bench_load(),
        )
    }
}

/// The bench's two shared sockets.
pub struct Sockets {
    pub a: UdpSocket,
    pub b: UdpSocket,
}

fn set_buffer(sock: &UdpSocket, opt_force: libc::c_int, opt: libc::c_int, bytes: libc::c_int) {
    let fd = sock.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let p = &bytes as *const libc::c_int as *const libc::c_void;
    // SAFETY: fd is an open socket; p points at a c_int of length len.
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, opt_force, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, opt, p, len);
        }
    }
}

impl Sockets {
    /// Binds both sockets on `ip` (ephemeral ports), non-blocking, with large buffers
    /// (`SO_RCVBUFFORCE` when allowed).
    pub fn bind(ip: std::net::IpAddr) -> io::Result<Sockets> {
        let a = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let b = UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let on: libc::c_int = 1;
        for s in [&a, &b] {
            s.set_nonblocking(true)?;
            // SAFETY: plain setsockopt with an int on an open socket.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TIMESTAMPNS,
                    &on as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            set_buffer(s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 32 << 20);
            set_buffer(s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, 8 << 20);
        }
        Ok(Sockets { a, b })
    }

    pub fn addrs(&self) -> io::Result<(SocketAddr, SocketAddr)> {
        Ok((self.a.local_addr()?, self.b.local_addr()?))
    }

    /// Throws away whatever is queued (packets of an earlier run).
    pub fn flush(&self) {
        let mut buf = [0u8; MAX_PACKET];
        for s in [&self.a, &self.b] {
            while s.recv_from(&mut buf).is_ok() {}
        }
    }
}

/// Wall-clock nanoseconds: the clock of the kernel's `SO_TIMESTAMPNS` receive stamps.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone, Copy, Default)]
struct StreamRx {
    /// Highest packet number seen + 1 (0 = none yet).
    next: u32,
}

/// A batch of outgoing datagrams for one socket.
struct TxBatch {
    bufs: Vec<[u8; MAX_PACKET]>,
    lens: [usize; BATCH],
    dests: [usize; BATCH],
    /// When each packet was due (ns since the epoch).
    due: [u64; BATCH],
    /// Inside the measured window (its lag is recorded).
    measured: [bool; BATCH],
    /// Already stamped (SDES packets are stamped before they are encrypted).
    stamped: [bool; BATCH],
    n: usize,
}

impl TxBatch {
    fn new() -> TxBatch {
        TxBatch {
            bufs: vec![[0u8; MAX_PACKET]; BATCH],
            lens: [0; BATCH],
            dests: [0; BATCH],
            due: [0; BATCH],
            measured: [false; BATCH],
            stamped: [false; BATCH],
            n: 0,
        }
    }

    /// Writes the send time into every packet not yet stamped (one clock read for the
    /// batch, right before it goes out) and records the lag of the measured ones.
    fn stamp(&mut self, epoch: u64, lag: &mut Histogram) {
        let t = now_ns().saturating_sub(epoch);
        for i in 0..self.n {
            if !self.stamped[i] {
                self.bufs[i][24..32].copy_from_slice(&t.to_be_bytes());
                if self.measured[i] {
                    lag.record(t.saturating_sub(self.due[i]) / 1000);
                }
            }
        }
    }
}

/// Per-call SRTP contexts of the SDES leg.
struct SdesLeg {
    tx: Vec<SrtpContext>,
    rx: Vec<SrtpContext>,
}

impl SdesLeg {
    fn new(keys: &[SdesKeys]) -> Result<SdesLeg, BenchError> {
        fn ctx(k: &CryptoAttribute) -> Result<SrtpContext, BenchError> {
            k.srtp_context()
                .map_err(|e| BenchError::Sdp(format!("SRTP key: {e}")))
        }
        let mut leg = SdesLeg {
            tx: Vec::with_capacity(keys.len()),
            rx: Vec::with_capacity(keys.len()),
        };
        for k in keys {
            leg.tx.push(ctx(&k.tx)?);
            leg.rx.push(ctx(&k.rx)?);
        }
        Ok(leg)
    }
}

/// Sends the batch with `sendmmsg`, retrying what the kernel did not take; returns errors.
fn flush_batch(fd: libc::c_int, b: &mut TxBatch, addrs: &[SockAddr]) -> u64 {
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let mut errors = 0;
    // Entries without an address or a packet (failed encryption) are left out.
    let mut m = 0;
    for i in 0..b.n {
        let Some(addr) = addrs.get(b.dests[i]).filter(|_| b.lens[i] > 0) else {
            continue;
        };
        iov[m].iov_base = b.bufs[i].as_mut_ptr() as *mut libc::c_void;
        iov[m].iov_len = b.lens[i];
        hdrs[m].msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
        hdrs[m].msg_hdr.msg_namelen = addr.len();
        hdrs[m].msg_hdr.msg_iov = &mut iov[m];
        hdrs[m].msg_hdr.msg_iovlen = 1;
        m += 1;
    }
    b.n = m;
    let mut off = 0;
    let mut spins = 0;
    while off < b.n {
        // SAFETY: hdrs[off..n] point at live buffers and addresses for the duration of the call.
        let r =
            unsafe { libc::sendmmsg(fd, hdrs[off..].as_mut_ptr(), (b.n - off) as libc::c_uint, 0) };
        if r > 0 {
            off += r as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted if spins < 1000 => spins += 1,
            _ => {
                // Skip the datagram that failed (e.g. ECONNREFUSED from an earlier ICMP).
                errors += 1;
                off += 1;
            }
        }
    }
    b.n = 0;
    errors
}

const CMSG_SPACE: usize = 64;

struct Rx {
    bufs: Vec<[u8; MAX_PACKET]>,
    cmsgs: Vec<[u64; CMSG_SPACE / 8]>,
}

/// The `SCM_TIMESTAMPNS` stamp of a received message (wall-clock ns), if any.
fn rx_stamp(hdr: &libc::msghdr) -> Option<u64> {
    // SAFETY: hdr's control buffer was filled by recvmmsg and msg_controllen says how much;
    // the CMSG_* helpers stay within it.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    None
}

impl Rx {
    /// One `recvmmsg` (non-blocking); returns how many datagrams are in `bufs`, their
    /// lengths and kernel receive stamps.
    fn recv(
        &mut self,
        fd: libc::c_int,
        lens: &mut [usize; BATCH],
        stamps: &mut [u64; BATCH],
    ) -> usize {
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iov[i].iov_base = self.bufs[i].as_mut_ptr() as *mut libc::c_void;
            iov[i].iov_len = MAX_PACKET;
            hdrs[i].msg_hdr.msg_iov = &mut iov[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
            hdrs[i].msg_hdr.msg_control = self.cmsgs[i].as_mut_ptr() as *mut libc::c_void;
            hdrs[i].msg_hdr.msg_controllen = CMSG_SPACE as _;
        }
        // SAFETY: every header points at a live buffer of MAX_PACKET bytes.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r <= 0 {
            return 0;
        }
        let n = r as usize;
        let t = now_ns();
        for i in 0..n {
            lens[i] = hdrs[i].msg_len as usize;
            stamps[i] = rx_stamp(&hdrs[i].msg_hdr).unwrap_or(t);
        }
        n
    }
}

/// Runs the load on `calls` (one entry per call) and measures it. With `sdes` (one entry
/// per call) the caller's leg is SRTP (see the module docs).
pub fn run(
    socks: &Sockets,
    calls: &[CallDests],
    sdes: Option<&[SdesKeys]>,
    cfg: &LoadConfig,
) -> Result<LoadResult, BenchError> {
    if cfg.rate == 0 || calls.is_empty() {
        return Err(BenchError::Usage(
            "need at least one call and a rate > 0".into(),
        ));
    }
    if cfg.payload < STAMP || HEADER + cfg.payload + SRTP_ROOM > MAX_PACKET {
        return Err(BenchError::Usage(format!(
            "payload must be {STAMP}..={} bytes",
            MAX_PACKET - HEADER - SRTP_ROOM
        )));
    }
    let mut sdes = match sdes {
        Some(keys) if keys.len() != calls.len() => {
            return Err(BenchError::Usage("one SDES key pair per call".into()))
        }
        Some(keys) => Some(SdesLeg::new(keys)?),
        None => None,
    };
    let streams = calls.len() as u64 * 2;
    // Destination address per stream.
    let addrs: Vec<SockAddr> = calls
        .iter()
        .flat_map(|c| [SockAddr::from(c.a_dest), SockAddr::from(c.b_dest)])
        .collect();
    let period_ns = 1_000_000_000u64 / cfg.rate as u64;
    let phase = cfg.phase.as_nanos() as u64;
    let due =
        |j: u64| -> u64 { ((j as u128 * period_ns as u128) / streams as u128) as u64 + phase };
    // Slot numbers: [0, j_warm) warm-up, [j_warm, j_end) measured.
    let slots_for =
        |d: Duration| -> u64 { ((d.as_nanos() * streams as u128) / period_ns as u128) as u64 };
    let j_warm = slots_for(cfg.warmup);
    let j_end = j_warm + slots_for(cfg.duration).max(1);

    let fd_a = socks.a.as_raw_fd();
    let fd_b = socks.b.as_raw_fd();

    let mut tx_a = TxBatch::new();
    let mut tx_b = TxBatch::new();
    for b in tx_a.bufs.iter_mut().chain(tx_b.bufs.iter_mut()) {
        b.fill(0xff); // PCMU silence
    }
    let mut rx = Rx {
        bufs: vec![[0u8; MAX_PACKET]; BATCH],
        cmsgs: vec![[0u64; CMSG_SPACE / 8]; BATCH],
    };
    let mut lens = [0usize; BATCH];
    let mut stamps = [0u64; BATCH];
    let tick = cfg.tick.as_nanos().max(1) as u64;
    let mut rx_state = vec![StreamRx::default(); streams as usize];
    let mut res = LoadResult {
        calls: calls.len(),

        ..LoadResult::default()
    };
    let pkt_len = HEADER + cfg.payload;
    let ssrc_base: u32 = rand::random();
    let epoch = cfg.epoch.unwrap_or_else(now_ns);
    let t = now_ns();
    if epoch > t {
        std::thread::sleep(Duration::from_nanos(epoch - t));
    }
    let mut j = 0u64;
    let mut cpu0 = None;
    let mut bench_cpu0 = Duration::ZERO;
    let mut window_start = 0u64;
    let mut drain_until: Option<u64> = None;

    loop {
        let now = now_ns().saturating_sub(epoch);
        let round_start = now;
        // 1. Send what is due.
        if drain_until.is_none() {
            while j < j_end && due(j) <= now {
                if j == j_warm {
                    cpu0 = cfg.pid.map(procstat::cpu_time).transpose()?;
                    bench_cpu0 = procstat::own_cpu_time();
                    window_start = now;
                }
                let s = j % streams;
                let k = (j / streams) as u32;
                let from_a = s.is_multiple_of(2);
                let batch = if from_a { &mut tx_a } else { &mut tx_b };
                let i = batch.n;
                let buf = &mut batch.bufs[i];
                buf[0] = 0x80;
                buf[1] = 0; // PCMU
                buf[2..4].copy_from_slice(&(k as u16).to_be_bytes());
                buf[4..8].copy_from_slice(&k.wrapping_mul(160).to_be_bytes());
                buf[8..12].copy_from_slice(&ssrc_base.wrapping_add(s as u32).to_be_bytes());
                buf[12..16].copy_from_slice(&MAGIC.to_be_bytes());
                buf[16..20].copy_from_slice(&(s as u32).to_be_bytes());
                buf[20..24].copy_from_slice(&k.to_be_bytes());
                batch.lens[i] = pkt_len;
                batch.dests[i] = s as usize;
                batch.due[i] = due(j);
                batch.measured[i] = j >= j_warm;
                batch.stamped[i] = false;
                match sdes.as_mut() {
                    Some(leg) if from_a => {
                        // Stamp, then encrypt: the stamp cannot be written afterwards.
                        let t = now_ns().saturating_sub(epoch);
                        buf[24..32].copy_from_slice(&t.to_be_bytes());
                        batch.stamped[i] = true;
                        if j >= j_warm {
                            res.lag.record(t.saturating_sub(batch.due[i]) / 1000);
                        }
                        match leg
                            .tx
                            .get_mut((s / 2) as usize)
                            .map(|c| c.protect_rtp(buf, pkt_len))
                        {
                            Some(Ok(n)) => batch.lens[i] = n,
                            _ => {
                                res.send_errors += 1;
                                batch.lens[i] = 0;
                            }
                        }
                    }
                    _ => {}
                }
                batch.n += 1;
                if j >= j_warm {
                    res.sent += 1;
                }
                j += 1;
                if batch.n == BATCH {
                    let fd = if from_a { fd_a } else { fd_b };
                    batch.stamp(epoch, &mut res.lag);
                    res.send_errors += flush_batch(fd, batch, &addrs);
                }
            }
            if tx_a.n > 0 {
                tx_a.stamp(epoch, &mut res.lag);
                res.send_errors += flush_batch(fd_a, &mut tx_a, &addrs);
            }
            if tx_b.n > 0 {
                tx_b.stamp(epoch, &mut res.lag);
                res.send_errors += flush_batch(fd_b, &mut tx_b, &addrs);
            }
            if j >= j_end {
                let t = now_ns().saturating_sub(epoch);
                res.window = Duration::from_nanos(t - window_start);
                if let (Some(pid), Some(c0)) = (cfg.pid, cpu0) {
                    res.server_cpu = Some(procstat::cpu_time(pid)?.saturating_sub(c0));
                    res.server_rss_kb = procstat::rss_kb(pid).ok();
                }
                res.bench_cpu = procstat::own_cpu_time().saturating_sub(bench_cpu0);
                drain_until = Some(t + cfg.drain.as_nanos() as u64);
            }
        }
        // 2. Receive everything queued.
        for (fd, parity) in [(fd_b, 0u32), (fd_a, 1u32)] {
            loop {
                let n = rx.recv(fd, &mut lens, &mut stamps);
                if n == 0 {
                    break;
                }
                for i in 0..n {
                    let t = stamps[i].saturating_sub(epoch);
                    let mut len = lens[i];
                    if let (Some(leg), 1) = (sdes.as_mut(), parity) {
                        let buf = &mut rx.bufs[i][..len];
                        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
                        let s = ssrc.wrapping_sub(ssrc_base) as u64;
                        let ctx = (buf.len() >= HEADER && s < streams && s % 2 == 1)
                            .then(|| leg.rx.get_mut((s / 2) as usize))
                            .flatten();
                        match ctx.map(|c| c.unprotect_rtp(buf)) {
                            Some(Ok(n)) => len = n,
                            Some(Err(_)) => {
                                res.srtp_errors += 1;
                                continue;
                            }
                            None => {
                                res.foreign += 1;
                                continue;
                            }
                        }
                    }
                    account(
                        &rx.bufs[i],
                        len,
                        t,
                        parity,
                        streams,
                        j_warm,
                        j_end,
                        &mut rx_state,
                        &mut res,
                    );
                }
                if n < BATCH {
                    break;
                }
            }
        }
        // 3. Sleep until the next slot, at least one tick: packets are sent and read in
        // batches; the kernel's receive stamps keep the latency exact regardless.
        let now = now_ns().saturating_sub(epoch);
        if let Some(d) = drain_until {
            if now >= d || res.received >= res.sent {
                break;
            }
        }
        let wake = match drain_until {
            Some(_) => round_start + tick,
            None => due(j).max(round_start + tick),
        };
        if wake > now {
            sleep_ns(wake - now);
        }
    }
    Ok(res)
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn account(
    buf: &[u8],
    len: usize,
    t: u64,
    parity: u32,
    streams: u64,
    j_warm: u64,
    j_end: u64,
    rx_state: &mut [StreamRx],
    res: &mut LoadResult,
) {
    if len < HEADER + STAMP || buf[12..16] != MAGIC.to_be_bytes() {
        res.foreign += 1;
        return;
    }
    let word = |o: usize| u32::from_be_bytes([buf[o], buf[o + 1], buf[o + 2], buf[o + 3]]);
    let s = word(16);
    let k = word(20);
    let mut ts = [0u8; 8];
    ts.copy_from_slice(&buf[24..32]);
    let sent_at = u64::from_be_bytes(ts);
    if s % 2 != parity || s as u64 >= streams {
        res.foreign += 1;
        return;
    }
    let j = k as u64 * streams + s as u64;
    let Some(st) = rx_state.get_mut(s as usize) else {
        res.foreign += 1;
        return;
    };
    let in_window = (j_warm..j_end).contains(&j);
    if k < st.next {
        if k + 1 == st.next {
            if in_window {
                res.duplicates += 1;
            }
            return;
        }
        if in_window {
            res.reordered += 1;
        }
    } else {
        st.next = k + 1;
    }
    if in_window {
        res.received += 1;
        res.latency.record(t.saturating_sub(sent_at) / 1000);
    }
}

fn sleep_ns(ns: u64) {
    std::thread::sleep(Duration::from_nanos(ns.min(5_000_000)));
}

/// A self-test of the bench alone: every call's streams go straight from one shared socket to
/// the other (no relay), measuring how much load the bench itself can drive.
pub fn direct_calls(socks: &Sockets, n: usize) -> io::Result<Vec<CallDests>> {
    let (a, b) = socks.addrs()?;
    Ok(vec![
        CallDests {
            a_dest: b,
            b_dest: a
        };
        n
    ])
}

/// Waits until the run's start instant is reached (a helper for alternation).
pub fn settle(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::thread::sleep(end - Instant::now());
    }
}
