//! Real-browser WebRTC tests: headless Chromium calls a plain RTP endpoint through the daemon.
//!
//! The test process plays everything but the browser and the relay:
//! - the SIP proxy: it turns SDP into NG `offer`/`answer` requests (bencode over UDP), as
//!   Kamailio's rtpengine module would;
//! - the plain SIP endpoint: a UDP socket on 127.0.0.1 that sends a 440 Hz PCMU tone (160-byte
//!   payloads every 20 ms) and counts the RTP it receives;
//! - a tiny HTTP server on 127.0.0.1 that serves `tests/fixtures/webrtc/call.{html,js}` and
//!   carries the page's signalling, log lines and final getStats report.
//!
//! Forward (browser calls SIP): the browser's offer goes through an NG `offer` with
//! `ICE=remove`, `transport-protocol=RTP/AVP` and `rtcp-mux=[demux]`, the endpoint's plain
//! answer through an NG `answer` with `ICE=force`, `transport-protocol=UDP/TLS/RTP/SAVPF`.
//! `rtcp-mux: [demux]` is what makes the relay offer the SIP side no rtcp-mux (a plain endpoint
//! would not do it) while still accepting it towards the browser: Chrome's `rtcpMuxPolicy` is
//! `require`, so an answer without `a=rtcp-mux` is refused by setRemoteDescription. The relay is
//! DTLS client when it answers Chrome's `actpass` with `a=setup:active` (the default) and DTLS
//! server with `DTLS=passive` on the answer.
//!
//! Reverse (SIP calls browser): the endpoint's plain offer goes through an NG `offer` with
//! `ICE=force`, `transport-protocol=UDP/TLS/RTP/SAVPF`, `rtcp-mux=[offer]`; the browser's
//! answer through an NG `answer` with `ICE=remove`, `transport-protocol=RTP/AVP`. The relay
//! offers `actpass` and Chrome answers `active`, so the relay is DTLS server; with
//! `DTLS=active` on the offer the relay is asked to be the client.
//!
//! A case passes only if the page's final report (from `RTCPeerConnection.getStats`) shows ICE
//! connected, the DTLS transport connected, more than 100 inbound audio packets with audio energy
//! above 0, and the endpoint received more than 100 RTP packets from the browser. The same driver
//! (`run_call`) runs against rtpbridge (the plain `#[test]`s) and against Debian's rtpengine
//! (`#[ignore]`d comparison tests: `cargo test --test webrtc_browser -- --ignored`).
//!
//! What Debian's rtpengine 10.5.3.5 does with these cases (Chromium 156), for comparison:
//! - forward balanced, relay DTLS client: passes; relay DTLS server: passes only sometimes (3 of
//!   10 alone here). Chrome has host candidates on 127.0.0.1 and on the machine's other address;
//!   it may nominate the loopback pair first and re-nominate the other one later (it prefers
//!   non-loopback), while rtpengine keeps sending to the first nominated pair, and Chrome's DTLS
//!   ClientHello never gets an answer (`dtlsState` stays `connecting`).
//! - forward max-bundle: fails, rtpengine drops `a=group:BUNDLE` from the answer; Chrome: "Failed
//!   to set remote answer sdp: Answer cannot remove m= section with mid='0' from
//!   already-established BUNDLE group."
//! - reverse balanced, relay DTLS server: passes. Relay DTLS client: fails, rtpengine offers
//!   `actpass` whatever `DTLS` says, so Chrome takes the client role. Chrome does accept an offer
//!   with `a=setup:active` (answers `passive`; checked by rewriting rtpengine's offer).
//! - reverse max-bundle: fails, no `a=group:BUNDLE` in the offer; Chrome: "Failed to set remote
//!   offer sdp: max-bundle configured but session description has no BUNDLE group".
//!
//! Without the `rtcp-mux` flags above, Chrome refuses rtpengine's SDP in both directions: "The m=
//! section with mid='0' is invalid. RTCP-MUX is not enabled when it is required."
//!
//! ES2023-03 (`sprayed_client_hellos_*`): from the moment the relay's SDP for the browser is
//! known, a stranger sprays the advisory's NULL-cipher ClientHello and a valid one at the
//! relay's browser-facing port (every 5 ms, from 127.0.0.66-70 and another port on 127.0.0.1)
//! until the call ends. 20 calls in a row per DTLS role of the relay, browser offering and
//! answering in turn, on one daemon and in one browser; every call must pass the criteria above
//! and rtpbridge must count the hellos in `statistics` -> `dtlssourcerejected`. rtpbridge: 20/20
//! in both roles. rtpengine 10.5.3.5 (the cases it passes unsprayed): 0/20 in both roles, ICE
//! connects and DTLS stays `connecting`. docs/attack-matrix.md has the attack bench's view.
//!
//! Set `RTPBRIDGE_TEST_VERBOSE=1` (with `--nocapture`) to print the full report of passing calls
//! too; a failing call always prints it: the page's report and log, the NG requests, every SDP
//! exchanged, Chromium's stderr and the daemon's log tail.
//!
//! Chromium is the Debian package `chromium` (`RTPBRIDGE_TEST_CHROMIUM` overrides the path); it
//! runs as root here, hence `--no-sandbox`. A missing browser fails the test, it is not skipped.
//! Each case has its own ports, HTTP server and browser profile directory (a spray series shares
//! one browser, see [`BrowserSession`]); the browser's whole process group is killed and the
//! profile removed on every path, panics included.

mod common;

use std::collections::BTreeSet;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{get, get_str, list, s, NgClient, Value};
use rtpbridge::attack::spray::{HelloSpray, LOOPBACK_SOURCES};

const PAGE_HTML: &str = include_str!("fixtures/webrtc/call.html");
const PAGE_JS: &str = include_str!("fixtures/webrtc/call.js");

/// How long the page keeps polling getStats before it reports a timeout.
const PAGE_DEADLINE: Duration = Duration::from_secs(15);
/// How long the driver waits for the page's next signalling request.
const SIGNAL_TIMEOUT: Duration = Duration::from_secs(15);

// ------------------------------------------------------------------------------------------
// Call options and the report.
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// The browser offers, the plain endpoint answers.
    Forward,
    /// The plain endpoint offers, the browser answers.
    Reverse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bundle {
    Balanced,
    MaxBundle,
}

impl Bundle {
    fn policy(self) -> &'static str {
        match self {
            Bundle::Balanced => "balanced",
            Bundle::MaxBundle => "max-bundle",
        }
    }
}

/// The DTLS role the relay should take towards the browser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

#[derive(Clone, Copy, Debug)]
struct CallOpts {
    direction: Direction,
    bundle: Bundle,
    relay_role: Role,
    /// A stranger sprays ClientHellos at the relay's browser-facing port (see [`SPRAY_EVERY`]).
    spray: bool,
}

impl CallOpts {
    fn label(&self) -> String {
        format!(
            "{:?}-{}-relay-dtls-{:?}{}",
            self.direction,
            self.bundle.policy(),
            self.relay_role,
            if self.spray { "-sprayed" } else { "" }
        )
        .to_lowercase()
    }

    /// The NG dictionary entries for the request that produces the browser's SDP.
    fn ng_towards_browser(&self) -> Vec<(&'static str, Value)> {
        let mut v = vec![
            ("ICE", s("force")),
            ("transport-protocol", s("UDP/TLS/RTP/SAVPF")),
        ];
        match (self.direction, self.relay_role) {
            // Answering Chrome's actpass: active (client) is the default, passive on request.
            (Direction::Forward, Role::Client) => {}
            (Direction::Forward, Role::Server) => v.push(("DTLS", s("passive"))),
            // Offering to Chrome: actpass by default, Chrome then picks active.
            (Direction::Reverse, Role::Server) => v.push(("rtcp-mux", list(&["offer"]))),
            // rtpengine 10.5 still offers actpass here (so it ends up server); Chrome does accept
            // an offer with `a=setup:active` and answers passive.
            (Direction::Reverse, Role::Client) => {
                v.push(("rtcp-mux", list(&["offer"])));
                v.push(("DTLS", s("active")));
            }
        }
        // Chrome with max-bundle refuses a remote offer without `a=group:BUNDLE`; these are the
        // NG spellings (from rtpengine's later releases) asking for a bundled offer with mids.
        if self.direction == Direction::Reverse && self.bundle == Bundle::MaxBundle {
            v.push(("bundle", list(&["offer"])));
            v.push(("flags", list(&["generate-mid"])));
        }
        v
    }

    /// The NG dictionary entries for the request that produces the plain endpoint's SDP.
    fn ng_towards_endpoint(&self) -> Vec<(&'static str, Value)> {
        let mut v = vec![("ICE", s("remove")), ("transport-protocol", s("RTP/AVP"))];
        if self.direction == Direction::Forward {
            v.push(("rtcp-mux", list(&["demux"])));
        }
        v
    }
}

/// Everything one call produced: the page's verdict, the endpoint's counts, the SDPs exchanged
/// and the logs, so that a failing case explains itself.
#[derive(Default)]
struct Report {
    opts_label: String,
    /// The page's final getStats snapshot (JSON), if it sent one.
    page: Option<serde_json::Value>,
    endpoint_received: u64,
    endpoint_sent: u64,
    endpoint_payload_types: BTreeSet<u8>,
    /// (what, SDP) in the order they were exchanged.
    sdps: Vec<(String, String)>,
    /// NG requests sent (without SDP) and their results.
    ng: Vec<String>,
    page_log: Vec<String>,
    browser_stderr: Vec<String>,
    /// Driver-side problems (timeouts, NG errors).
    errors: Vec<String>,
    /// Daemon log tail, filled in by the test that owns the daemon.
    daemon_log: Vec<String>,
    /// ClientHellos the stranger sprayed at the relay (0 without `spray`).
    sprayed: u64,
    /// How much the daemon's [`DTLS_COUNTERS`] grew during a sprayed call (`None`: no such
    /// counters, as in rtpengine).
    dtls_counted: Option<[i64; 3]>,
}

impl Report {
    /// How much the daemon's DTLS counters grew, as text.
    fn counted(&self) -> String {
        match self.dtls_counted {
            Some(c) => DTLS_COUNTERS
                .iter()
                .zip(c)
                .map(|(n, d)| format!("{n} +{d}"))
                .collect::<Vec<_>>()
                .join(", "),
            None => "nothing (no DTLS counters)".into(),
        }
    }

    fn page_str(&self, key: &str) -> Option<&str> {
        self.page.as_ref()?.get(key)?.as_str()
    }

    fn page_num(&self, key: &str) -> f64 {
        self.page
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    }

    /// What keeps this call from passing the acceptance criteria; empty when it passes.
    fn failures(&self, opts: &CallOpts) -> Vec<String> {
        let mut f: Vec<String> = self.errors.iter().map(|e| format!("driver: {e}")).collect();
        if self.page.is_none() {
            f.push("the page sent no report".into());
        }
        if let Some(errs) = self
            .page
            .as_ref()
            .and_then(|p| p.get("errors"))
            .and_then(|e| e.as_array())
        {
            f.extend(errs.iter().map(|e| format!("page: {e}")));
        }
        let ice = self.page_str("iceConnectionState").unwrap_or("-");
        if ice != "connected" && ice != "completed" {
            f.push(format!("ICE state is {ice}, not connected"));
        }
        let dtls = self.page_str("dtlsState").unwrap_or("-");
        if dtls != "connected" {
            f.push(format!("DTLS state is {dtls}, not connected"));
        }
        let pkts = self.page_num("packetsReceived");
        if pkts <= 100.0 {
            f.push(format!("browser received {pkts} audio packets, want > 100"));
        }
        let energy = self.page_num("totalAudioEnergy");
        if energy <= 0.0 {
            f.push(format!("browser totalAudioEnergy is {energy}, want > 0"));
        }
        if opts.spray && self.sprayed == 0 {
            f.push("the spray sent nothing".into());
        }
        if self.endpoint_received <= 100 {
            f.push(format!(
                "endpoint received {} RTP packets from the browser, want > 100",
                self.endpoint_received
            ));
        }
        // The role the browser ended up with must be the opposite of the relay's, or the case
        // did not test what its name says.
        if let Some(role) = self
            .page_str("dtlsRole")
            .filter(|r| *r == "client" || *r == "server")
        {
            let want = match opts.relay_role {
                Role::Client => "server",
                Role::Server => "client",
            };
            if role != want {
                f.push(format!(
                    "browser DTLS role is {role}, want {want} (relay as {:?})",
                    opts.relay_role
                ));
            }
        }
        f
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "===== call {} =====", self.opts_label)?;
        match &self.page {
            Some(p) => writeln!(f, "page report: {p}")?,
            None => writeln!(f, "page report: none")?,
        }
        writeln!(
            f,
            "endpoint: received {} RTP (payload types {:?}), sent {}",
            self.endpoint_received, self.endpoint_payload_types, self.endpoint_sent
        )?;
        if self.sprayed > 0 {
            writeln!(
                f,
                "spray: {} ClientHellos; the daemon counted {}",
                self.sprayed,
                self.counted()
            )?;
        }
        for e in &self.errors {
            writeln!(f, "driver error: {e}")?;
        }
        writeln!(f, "--- NG requests")?;
        for l in &self.ng {
            writeln!(f, "  {l}")?;
        }
        for (what, sdp) in &self.sdps {
            writeln!(f, "--- SDP {what}")?;
            for l in sdp.lines() {
                writeln!(f, "  {l}")?;
            }
        }
        writeln!(f, "--- page log")?;
        for l in &self.page_log {
            writeln!(f, "  {l}")?;
        }
        // Without a system bus or a sound card Chromium logs the same complaints every run.
        let stderr: Vec<String> = self
            .browser_stderr
            .iter()
            .filter(|l| !l.contains("dbus") && !l.starts_with("ALSA lib"))
            .cloned()
            .collect();
        writeln!(
            f,
            "--- chromium stderr (last 30 lines, D-Bus and ALSA noise left out)"
        )?;
        for l in tail(&stderr, 30) {
            writeln!(f, "  {l}")?;
        }
        writeln!(f, "--- daemon log (last 60 lines)")?;
        for l in tail(&self.daemon_log, 60) {
            writeln!(f, "  {l}")?;
        }
        Ok(())
    }
}

fn tail(v: &[String], n: usize) -> &[String] {
    &v[v.len().saturating_sub(n)..]
}

// ------------------------------------------------------------------------------------------
// The plain RTP endpoint.
// ------------------------------------------------------------------------------------------

/// G.711 mu-law encoding of one 16-bit sample (the segment/mantissa form of ITU-T G.711).
fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut v = i32::from(sample);
    let sign = if v < 0 {
        v = -v;
        0x80
    } else {
        0
    };
    let v = v.min(CLIP) + BIAS;
    // v is in 0x84..=0x7fff: its top bit is bit 7..=14, the segment is that minus 7.
    let segment = (31 - (v as u32).leading_zeros()) as i32 - 7;
    let mantissa = (v >> (segment + 3)) & 0x0f;
    !((sign | (segment << 4) | mantissa) as u8)
}

/// One second of a 440 Hz tone at 8 kHz, mu-law (440 whole periods, so it loops seamlessly).
fn tone() -> Vec<u8> {
    (0..8000)
        .map(|n| {
            let t = n as f64 / 8000.0;
            ulaw((8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16)
        })
        .collect()
}

struct Endpoint {
    port: u16,
    dest: Arc<Mutex<Option<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    payload_types: Arc<Mutex<BTreeSet<u8>>>,
    /// Fires once when more than 100 RTP packets have arrived.
    enough: mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind endpoint socket");
        let port = sock.local_addr().expect("endpoint addr").port();
        let dest = Arc::new(Mutex::new(None::<SocketAddr>));
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let payload_types = Arc::new(Mutex::new(BTreeSet::new()));
        let (tx, enough) = mpsc::channel();
        let (d, st, r, se, pts) = (
            dest.clone(),
            stop.clone(),
            received.clone(),
            sent.clone(),
            payload_types.clone(),
        );
        let thread = std::thread::spawn(move || {
            let tone = tone();
            let ssrc: u32 = 0x5eed_0001 ^ std::process::id();
            let (mut seq, mut ts) = (0u16, 0u32);
            let mut next_send = Instant::now();
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now >= next_send {
                    let target = *d.lock().unwrap();
                    if let Some(target) = target {
                        let mut p = Vec::with_capacity(172);
                        p.push(0x80);
                        p.push(if seq == 0 { 0x80 } else { 0x00 }); // marker on the first, PT 0
                        p.extend_from_slice(&seq.to_be_bytes());
                        p.extend_from_slice(&ts.to_be_bytes());
                        p.extend_from_slice(&ssrc.to_be_bytes());
                        let off = (ts % 8000) as usize;
                        p.extend_from_slice(&tone[off..off + 160]);
                        if sock.send_to(&p, target).is_ok() {
                            se.fetch_add(1, Ordering::Relaxed);
                        }
                        seq = seq.wrapping_add(1);
                        ts = ts.wrapping_add(160);
                    }
                    next_send += Duration::from_millis(20);
                    if next_send < now {
                        next_send = now + Duration::from_millis(20);
                    }
                }
                // The receive timeout paces the sender.
                let wait = next_send
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1));
                sock.set_read_timeout(Some(wait)).ok();
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    let pt = buf[1] & 0x7f;
                    // RTP version 2 and not RTCP (PT 200..=204 shows as 72..=76 here).
                    if n >= 12 && buf[0] >> 6 == 2 && !(64..96).contains(&pt) {
                        pts.lock().unwrap().insert(pt);
                        if r.fetch_add(1, Ordering::Relaxed) + 1 == 101 {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        });
        Endpoint {
            port,
            dest,
            stop,
            received,
            sent,
            payload_types,
            enough,
            thread: Some(thread),
        }
    }

    /// The endpoint's SDP: plain RTP/AVP with PCMU only, no ICE, no crypto.
    fn sdp(&self) -> String {
        format!(
            "v=0\r\no=- 7309 1 IN IP4 127.0.0.1\r\ns=plain endpoint\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
            self.port
        )
    }

    fn send_to(&self, dest: SocketAddr) {
        *self.dest.lock().unwrap() = Some(dest);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The address media for the (single) audio stream of `sdp` goes to: the last `c=` line (the
/// media-level one if there is one) and the `m=audio` port.
fn media_dest(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .rev()
        .find_map(|l| l.trim_end().strip_prefix("c=IN IP4 "))?;
    let port = common::media_port(sdp);
    format!("{ip}:{port}").parse().ok()
}

// ------------------------------------------------------------------------------------------
// The stranger spraying ClientHellos.
// ------------------------------------------------------------------------------------------

/// One ClientHello every this long: the advisory's NULL-cipher one and a valid one, from each
/// of [`LOOPBACK_SOURCES`] in turn (other loopback addresses, and another port on the
/// browser's and the relay's own address; none of them ICE-checked). See [`HelloSpray`].
const SPRAY_EVERY: Duration = Duration::from_millis(5);

/// Starts the spray at the media address of `sdp` (the SDP the browser gets).
fn start_spray(sdp: &str, slot: &mut Option<HelloSpray>) -> Result<(), String> {
    let to = media_dest(sdp).ok_or("no c=/m= destination in the browser's SDP to spray at")?;
    let spray = HelloSpray::start(&LOOPBACK_SOURCES, to, SPRAY_EVERY)
        .map_err(|e| format!("cannot start the spray: {e}"))?;
    *slot = Some(spray);
    Ok(())
}

/// The DTLS counters of the daemon's `statistics` -> `mediastatistics`, in this order.
const DTLS_COUNTERS: [&str; 3] = ["dtlsreceived", "dtlssourcerejected", "dtlsrejected"];

/// The daemon's [`DTLS_COUNTERS`] (`None` if it has none, as rtpengine).
fn dtls_counters(ng: &NgClient) -> Option<[i64; 3]> {
    let r = ng.try_request(&[("command", s("statistics"))]).ok()?;
    let media = get(get(&r, "statistics")?, "mediastatistics")?;
    let mut out = [0; 3];
    for (o, name) in out.iter_mut().zip(DTLS_COUNTERS) {
        match get(media, name)? {
            Value::Int(i) => *o = *i,
            _ => return None,
        }
    }
    Some(out)
}

// ------------------------------------------------------------------------------------------
// The HTTP server the page talks to.
// ------------------------------------------------------------------------------------------

enum PageEvent {
    /// A signalling request (`/offer`, `/remote-offer`, `/answer`) waiting for its reply.
    Signal {
        path: String,
        body: String,
        reply: mpsc::Sender<Result<String, String>>,
    },
    /// The page's final report (JSON).
    Report(String),
}

struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    fn start(events: mpsc::Sender<PageEvent>) -> HttpServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind HTTP server");
        let addr = listener.local_addr().expect("HTTP addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (st, lg) = (stop.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (ev, lg) = (events.clone(), lg.clone());
                // One thread per connection: a signalling request is held open while the
                // driver talks NG, and log lines must not queue behind it.
                std::thread::spawn(move || {
                    let _ = serve(conn, &ev, &lg);
                });
            }
        });
        HttpServer {
            addr,
            stop,
            log,
            thread: Some(thread),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one HTTP/1.1 request (the page sends small ones) and answers it; `Connection: close`.
fn serve(
    conn: TcpStream,
    events: &mpsc::Sender<PageEvent>,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                content_length = v.trim().parse().unwrap_or(0).min(1 << 20);
            }
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = target.split('?').next().unwrap_or("").to_string();

    let (status, ctype, out) = match (method.as_str(), path.as_str()) {
        ("GET", "/call.html") => (200, "text/html", PAGE_HTML.to_string()),
        ("GET", "/call.js") => (200, "text/javascript", PAGE_JS.to_string()),
        ("POST", "/log") => {
            log.lock().unwrap().push(body);
            (200, "text/plain", String::new())
        }
        ("POST", "/report") => {
            let _ = events.send(PageEvent::Report(body));
            (200, "text/plain", String::new())
        }
        ("POST", "/offer") | ("GET", "/remote-offer") | ("POST", "/answer") => {
            let (tx, rx) = mpsc::channel();
            let _ = events.send(PageEvent::Signal {
                path: path.clone(),
                body,
                reply: tx,
            });
            match rx.recv_timeout(SIGNAL_TIMEOUT) {
                Ok(Ok(text)) => (200, "text/plain", text),
                Ok(Err(e)) => (500, "text/plain", e),
                Err(_) => (504, "text/plain", "the test gave no answer".to_string()),
            }
        }
        _ => (404, "text/plain", "not found".to_string()),
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{out}",
        out.len()
    )?;
    conn.flush()
}

// ------------------------------------------------------------------------------------------
// Chromium.
// ------------------------------------------------------------------------------------------

fn chromium_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RTPBRIDGE_TEST_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`chromium` not found in PATH: install the Debian package `chromium` \
                 (scripts/test does it as root), or set RTPBRIDGE_TEST_CHROMIUM"
            )
        })
}

/// A headless Chromium in its own process group, with a private directory for its profile,
/// HOME and TMPDIR (where it keeps its singleton socket); dropping it kills the whole group and
/// removes that directory, so a killed browser leaves nothing behind.
struct Browser {
    child: Child,
    dir: PathBuf,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    fn launch(url: &str) -> Browser {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Short: Chromium's singleton socket lives below TMPDIR and a socket path has 107 bytes.
        let dir = std::env::temp_dir().join(format!(
            "rtpbridge-chromium-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        for sub in ["profile", "home", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("create chromium dirs");
        }
        let bin = chromium_binary();
        let mut child = Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--autoplay-policy=no-user-gesture-required",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
            ])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .arg(url)
            .env("HOME", dir.join("home"))
            .env("XDG_CONFIG_HOME", dir.join("home"))
            .env("XDG_CACHE_HOME", dir.join("home"))
            .env("TMPDIR", dir.join("tmp"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("piped stderr");
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Browser { child, dir, stderr }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group created for this child alone.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
        // Other processes of the group may still be exiting and writing for a moment.
        if std::fs::remove_dir_all(&self.dir).is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// How long a page that finished its call may take to ask for the next one before its
/// browser is replaced by a fresh one.
const HANDOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// One Chromium for a series of calls. Each call's page, once it has reported, asks this
/// session's control server (`GET /next`, cross-origin, so the reply allows any origin) where
/// to go next and navigates there, which also ends its peer connection; the next call's page
/// thus loads in the same browser without a new launch (about 2 s each on this machine). A
/// page that does not ask in time gets a fresh browser instead.
struct BrowserSession {
    browser: Option<Browser>,
    ctl: ControlServer,
    /// Lines of the browser's stderr before the current call.
    stderr_mark: usize,
}

impl BrowserSession {
    fn new() -> BrowserSession {
        BrowserSession {
            browser: None,
            ctl: ControlServer::start(),
            stderr_mark: 0,
        }
    }

    /// The query parameter that makes a page ask this session for its successor.
    fn next_param(&self) -> String {
        format!("&next=http://{}", self.ctl.addr)
    }

    /// Shows `url` in the session's browser: hands it to the waiting page, or launches a
    /// browser with it.
    fn open(&mut self, url: &str) {
        if self.browser.is_some() && self.ctl.hand_off(url, HANDOFF_TIMEOUT) {
            self.stderr_mark = self
                .browser
                .as_ref()
                .map_or(0, |b| b.stderr.lock().unwrap().len());
            return;
        }
        self.browser = None; // kills the old one first
        self.browser = Some(Browser::launch(url));
        self.stderr_mark = 0;
    }

    /// The browser's stderr since the current call's page was opened.
    fn stderr_since_open(&self) -> Vec<String> {
        self.browser.as_ref().map_or_else(Vec::new, |b| {
            let l = b.stderr.lock().unwrap();
            l[self.stderr_mark.min(l.len())..].to_vec()
        })
    }
}

/// The URL waiting for a page, and whether the control server is stopping.
type Slot = Arc<(Mutex<(Option<String>, bool)>, Condvar)>;

/// The control server of a [`BrowserSession`]: answers a page's `GET /next` with the URL the
/// driver hands off, waiting for it while the driver is between calls.
struct ControlServer {
    addr: SocketAddr,
    slot: Slot,
    /// A page took a URL.
    taken: mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ControlServer {
    fn start() -> ControlServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind control server");
        let addr = listener.local_addr().expect("control server addr");
        let slot: Slot = Arc::new((Mutex::new((None, false)), Condvar::new()));
        let (taken_tx, taken) = mpsc::channel();
        let sl = slot.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sl.0.lock().unwrap().1 {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (sl, tx) = (sl.clone(), taken_tx.clone());
                std::thread::spawn(move || {
                    let _ = serve_next(conn, &sl, &tx);
                });
            }
        });
        ControlServer {
            addr,
            slot,
            taken,
            thread: Some(thread),
        }
    }

    /// Offers `url` to the page waiting for its successor; true if a page took it within
    /// `timeout` (else the offer is withdrawn).
    fn hand_off(&self, url: &str, timeout: Duration) -> bool {
        while self.taken.try_recv().is_ok() {}
        let (lock, cv) = &*self.slot;
        lock.lock().unwrap().0 = Some(url.to_string());
        cv.notify_all();
        if self.taken.recv_timeout(timeout).is_ok() {
            return true;
        }
        // Withdraw it, unless a page took it just now.
        lock.lock().unwrap().0.take().is_none()
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.slot;
        lock.lock().unwrap().1 = true;
        cv.notify_all();
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one request to the control server: `GET /next` waits (a bounded time) for the URL
/// the driver hands off.
fn serve_next(
    conn: TcpStream,
    slot: &(Mutex<(Option<String>, bool)>, Condvar),
    taken: &mpsc::Sender<()>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
    }
    let (status, body) = if request_line.starts_with("GET /next ") {
        let (lock, cv) = slot;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut g = lock.lock().unwrap();
        loop {
            if let Some(url) = g.0.take() {
                let _ = taken.send(());
                break (200, url);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if g.1 || left.is_zero() {
                break (204, String::new());
            }
            g = cv.wait_timeout(g, left).unwrap().0;
        }
    } else {
        (404, String::new())
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Access-Control-Allow-Origin: *\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

// ------------------------------------------------------------------------------------------
// The call driver.
// ------------------------------------------------------------------------------------------

/// NG requests for one call, recorded into the report.
struct Proxy<'a> {
    ng: NgClient,
    call_id: String,
    report: &'a mut Report,
}

impl Proxy<'_> {
    fn request(
        &mut self,
        command: &str,
        sdp: Option<&str>,
        extra: &[(&'static str, Value)],
    ) -> Result<Value, String> {
        let mut items: Vec<(&str, Value)> = vec![
            ("command", s(command)),
            ("call-id", s(&self.call_id)),
            ("from-tag", s("browser-or-sip-caller")),
        ];
        if command == "answer" {
            items.push(("to-tag", s("callee")));
        }
        if let Some(sdp) = sdp {
            items.push(("sdp", s(sdp)));
        }
        items.extend(extra.iter().cloned());
        let shown: Vec<String> = items
            .iter()
            .filter(|(k, _)| *k != "sdp" && *k != "call-id")
            .map(|(k, v)| format!("{k}={}", show_value(v)))
            .collect();
        let r = self
            .ng
            .try_request(&items)
            .map_err(|e| format!("NG {command}: no reply: {e}"))?;
        let result = match get(&r, "result") {
            Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => "?".into(),
        };
        self.report
            .ng
            .push(format!("{} -> {result}", shown.join(" ")));
        if result != "ok" {
            let reason = match get(&r, "error-reason") {
                Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            };
            return Err(format!("NG {command} failed: {result} {reason}"));
        }
        Ok(r)
    }

    /// Sends an SDP through `offer`/`answer` and returns (and records) the rewritten SDP.
    fn rewrite(
        &mut self,
        command: &str,
        what: &str,
        sdp: &str,
        extra: &[(&'static str, Value)],
    ) -> Result<String, String> {
        self.report
            .sdps
            .push((format!("{what} (in)"), sdp.to_string()));
        let r = self.request(command, Some(sdp), extra)?;
        let out = match get(&r, "sdp") {
            Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => return Err(format!("NG {command}: reply without sdp")),
        };
        self.report
            .sdps
            .push((format!("{what} (out, rewritten)"), out.clone()));
        Ok(out)
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::List(l) => format!(
            "[{}]",
            l.iter().map(show_value).collect::<Vec<_>>().join(",")
        ),
        Value::Dict(_) => "{..}".into(),
    }
}

/// Waits for the page's next signalling request (expecting `path`); a report arriving instead
/// (the page gave up) is kept.
fn next_signal(
    events: &mpsc::Receiver<PageEvent>,
    path: &str,
    report: &mut Report,
) -> Option<(String, mpsc::Sender<Result<String, String>>)> {
    match events.recv_timeout(SIGNAL_TIMEOUT) {
        Ok(PageEvent::Signal {
            path: p,
            body,
            reply,
        }) if p == path => Some((body, reply)),
        Ok(PageEvent::Signal { path: p, reply, .. }) => {
            let _ = reply.send(Err(format!("unexpected request {p}")));
            report
                .errors
                .push(format!("page sent {p}, expected {path}"));
            None
        }
        Ok(PageEvent::Report(r)) => {
            report.page = serde_json::from_str(&r).ok();
            report
                .errors
                .push(format!("page reported before sending {path}"));
            None
        }
        Err(_) => {
            report.errors.push(format!(
                "no {path} request from the page within {SIGNAL_TIMEOUT:?}"
            ));
            None
        }
    }
}

/// Runs one browser call through the NG daemon at `ng`, in `session`'s browser, and reports
/// what happened. Never panics on what the browser or the daemon do: everything goes into the
/// report.
fn run_call(ng: SocketAddr, opts: CallOpts, session: &mut BrowserSession) -> Report {
    let label = opts.label();
    let mut report = Report {
        opts_label: label.clone(),
        ..Report::default()
    };
    let endpoint = Endpoint::start();
    let (ev_tx, events) = mpsc::channel();
    let http = HttpServer::start(ev_tx);
    let url = format!(
        "http://{}/call.html?bundle={}&dir={}&deadline={}",
        http.addr,
        opts.bundle.policy(),
        match opts.direction {
            Direction::Forward => "forward",
            Direction::Reverse => "reverse",
        },
        PAGE_DEADLINE.as_millis()
    ) + &session.next_param();
    session.open(&url);
    // The page reports by its own deadline (counted from its start, a moment after launch).
    let call_deadline = Instant::now() + PAGE_DEADLINE + Duration::from_secs(8);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut proxy = Proxy {
        ng: NgClient::new(ng),
        call_id: format!("webrtc-{label}-{}-{nanos}", std::process::id()),
        report: &mut report,
    };

    let counted_before = if opts.spray {
        dtls_counters(&proxy.ng)
    } else {
        None
    };
    let mut sprayer = None;
    let signalled = signal(&opts, &endpoint, &events, &mut proxy, &mut sprayer);
    if let Err(e) = signalled {
        proxy.report.errors.push(e);
    }
    // The page reports when the criteria hold or its deadline passed.
    if proxy.report.page.is_none() {
        match events.recv_timeout(call_deadline.saturating_duration_since(Instant::now())) {
            Ok(PageEvent::Report(r)) => match serde_json::from_str(&r) {
                Ok(v) => proxy.report.page = Some(v),
                Err(e) => proxy
                    .report
                    .errors
                    .push(format!("page report is not JSON ({e}): {r}")),
            },
            Ok(PageEvent::Signal { path, reply, .. }) => {
                let _ = reply.send(Err("unexpected".into()));
                proxy
                    .report
                    .errors
                    .push(format!("unexpected request {path} after signalling"));
            }
            Err(_) => proxy
                .report
                .errors
                .push("no report from the page in time".into()),
        }
    }
    // The browser started sending when it did, so the endpoint's count is at most a few
    // packets behind; give it a moment if the media flows at all.
    if endpoint.received.load(Ordering::Relaxed) > 0 {
        let _ = endpoint.enough.recv_timeout(Duration::from_secs(5));
    }
    if let Some(sp) = sprayer.take() {
        proxy.report.sprayed = sp.finish();
        proxy.report.dtls_counted = dtls_counters(&proxy.ng)
            .zip(counted_before)
            .map(|(after, before)| std::array::from_fn(|i| after[i] - before[i]));
    }
    // No delete-delay: a series of calls on one daemon must not run out of ports.
    let _ = proxy.request("delete", None, &[("delete-delay", Value::Int(0))]);

    report.endpoint_received = endpoint.received.load(Ordering::Relaxed);
    report.endpoint_sent = endpoint.sent.load(Ordering::Relaxed);
    report.endpoint_payload_types = endpoint.payload_types.lock().unwrap().clone();
    report.page_log = http.log.lock().unwrap().clone();
    report.browser_stderr = session.stderr_since_open();
    report
}

/// The offer/answer exchange between the page, the daemon and the endpoint. With
/// `opts.spray`, the spray starts as soon as the daemon has produced the browser's SDP (its
/// answer, or in reverse its offer), before the browser has it.
fn signal(
    opts: &CallOpts,
    endpoint: &Endpoint,
    events: &mpsc::Receiver<PageEvent>,
    proxy: &mut Proxy<'_>,
    sprayer: &mut Option<HelloSpray>,
) -> Result<(), String> {
    match opts.direction {
        Direction::Forward => {
            let Some((offer, reply)) = next_signal(events, "/offer", proxy.report) else {
                return Ok(());
            };
            let result = (|| {
                let to_endpoint = proxy.rewrite(
                    "offer",
                    "browser offer",
                    &offer,
                    &opts.ng_towards_endpoint(),
                )?;
                let dest = media_dest(&to_endpoint)
                    .ok_or("no c=/m= destination in the offer to the endpoint")?;
                endpoint.send_to(dest);
                let answer = proxy.rewrite(
                    "answer",
                    "endpoint answer",
                    &endpoint.sdp(),
                    &opts.ng_towards_browser(),
                )?;
                if opts.spray {
                    start_spray(&answer, sprayer)?;
                }
                Ok(answer)
            })();
            let _ = reply.send(result.clone());
            result.map(|_| ())
        }
        Direction::Reverse => {
            let Some((_, reply)) = next_signal(events, "/remote-offer", proxy.report) else {
                return Ok(());
            };
            let result = proxy
                .rewrite(
                    "offer",
                    "endpoint offer",
                    &endpoint.sdp(),
                    &opts.ng_towards_browser(),
                )
                .and_then(|offer| {
                    if opts.spray {
                        start_spray(&offer, sprayer)?;
                    }
                    Ok(offer)
                });
            let _ = reply.send(result.clone());
            result?;
            let Some((answer, reply)) = next_signal(events, "/answer", proxy.report) else {
                return Ok(());
            };
            let result = (|| {
                let to_endpoint = proxy.rewrite(
                    "answer",
                    "browser answer",
                    &answer,
                    &opts.ng_towards_endpoint(),
                )?;
                let dest = media_dest(&to_endpoint)
                    .ok_or("no c=/m= destination in the answer to the endpoint")?;
                endpoint.send_to(dest);
                Ok::<_, String>(String::new())
            })();
            let _ = reply.send(result.clone());
            result.map(|_| ())
        }
    }
}

// ------------------------------------------------------------------------------------------
// The daemons.
// ------------------------------------------------------------------------------------------

/// Debian's rtpengine (package `rtpengine-daemon`), for the comparison tests: foreground,
/// userspace only, loopback, a private port range.
struct Rtpengine {
    child: Child,
    ng: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

impl Rtpengine {
    fn start() -> Rtpengine {
        let bin = Path::new("/usr/bin/rtpengine");
        assert!(
            bin.is_file(),
            "/usr/bin/rtpengine not found: install the Debian package `rtpengine-daemon`"
        );
        static SLOT: AtomicU32 = AtomicU32::new(0);
        // 14000-18999: clear of the ranges tests/common and tests/real_peers give rtpbridge.
        let base = 14000
            + (std::process::id() % 5) * 1000
            + SLOT.fetch_add(1, Ordering::Relaxed) % 10 * 100;
        let ng_port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.local_addr())
            .expect("free UDP port")
            .port();
        let ng: SocketAddr = (Ipv4Addr::LOCALHOST, ng_port).into();
        let mut child = Command::new(bin)
            .args([
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "--table=-1",
                "--interface=127.0.0.1",
                "--log-level=7",
            ])
            .arg(format!("--listen-ng={ng}"))
            .arg(format!("--port-min={base}"))
            .arg(format!("--port-max={}", base + 99))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start rtpengine");
        let log = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("piped stderr");
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let r = Rtpengine { child, ng, log };
        // Ready when it answers ping.
        let c = NgClient::new(ng);
        c.sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(v) = c.try_request(&[("command", s("ping"))]) {
                assert_eq!(get_str(&v, "result"), "pong");
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "rtpengine did not answer ping; log: {:?}",
                r.log.lock().unwrap()
            );
        }
    }
}

impl Drop for Rtpengine {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group created for this child alone.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Browsers are heavy for a 2-core machine: at most `MAX_BROWSERS` calls run at once, so that
/// parallel test threads do not starve each other past the page's deadline.
const MAX_BROWSERS: u32 = 2;
static BROWSERS: Mutex<u32> = Mutex::new(0);
static BROWSER_FREED: Condvar = Condvar::new();

struct BrowserSlot;

impl BrowserSlot {
    fn take() -> BrowserSlot {
        let mut n = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= MAX_BROWSERS {
            n = BROWSER_FREED.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        BrowserSlot
    }
}

impl Drop for BrowserSlot {
    fn drop(&mut self) {
        *BROWSERS.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        BROWSER_FREED.notify_one();
    }
}

fn check(mut report: Report, daemon_log: &Mutex<Vec<String>>, opts: &CallOpts) {
    report.daemon_log = daemon_log.lock().unwrap().clone();
    let failures = report.failures(opts);
    if std::env::var_os("RTPBRIDGE_TEST_VERBOSE").is_some() || !failures.is_empty() {
        eprintln!("{report}");
    }
    assert!(
        failures.is_empty(),
        "WebRTC call {} failed:\n  - {}\n(full report above)",
        report.opts_label,
        failures.join("\n  - ")
    );
}

fn against_rtpbridge(opts: CallOpts) {
    let _slot = BrowserSlot::take();
    let server = common::Server::start(&[]);
    let report = run_call(server.ng, opts, &mut BrowserSession::new());
    check(report, &server.log, &opts);
}

fn against_rtpengine(opts: CallOpts) {
    let _slot = BrowserSlot::take();
    let daemon = Rtpengine::start();
    let report = run_call(daemon.ng, opts, &mut BrowserSession::new());
    check(report, &daemon.log, &opts);
}

/// Calls in a spray series (`RTPBRIDGE_SPRAY_CALLS` overrides).
const SPRAY_CALLS: usize = 20;

fn spray_calls() -> usize {
    std::env::var("RTPBRIDGE_SPRAY_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(SPRAY_CALLS)
}

/// Runs a series of sprayed calls, one after the other, through the daemon at `ng`, cycling
/// through `cases`. Every call must pass the usual criteria; with `counted`, the daemon must
/// also have counted sprayed datagrams as dropped for their source
/// (`mediastatistics.dtlssourcerejected`). Prints one line per call and the tally, and a full
/// report for each failing call; fails unless every call passed.
fn spray_series(
    ng: SocketAddr,
    daemon_log: &Mutex<Vec<String>>,
    cases: &[CallOpts],
    counted: bool,
) {
    let n = spray_calls();
    let verbose = std::env::var_os("RTPBRIDGE_TEST_VERBOSE").is_some();
    let started = Instant::now();
    let mut failed = Vec::new();
    // One browser for the series, and its slot held throughout.
    let _slot = BrowserSlot::take();
    let mut session = BrowserSession::new();
    for i in 0..n {
        let opts = CallOpts {
            spray: true,
            ..cases[i % cases.len()]
        };
        let t0 = Instant::now();
        let mut report = run_call(ng, opts, &mut session);
        let mut f = report.failures(&opts);
        if counted && report.dtls_counted.is_none_or(|c| c[1] <= 0) {
            f.push(format!(
                "the daemon counted {} during the call, want dtlssourcerejected > 0",
                report.counted()
            ));
        }
        eprintln!(
            "sprayed call {}/{n} {}: {} in {:.1} s; {} ClientHellos sprayed, counted {}",
            i + 1,
            report.opts_label,
            if f.is_empty() { "ok" } else { "FAILED" },
            t0.elapsed().as_secs_f64(),
            report.sprayed,
            report.counted()
        );
        if verbose || !f.is_empty() {
            report.daemon_log = daemon_log.lock().unwrap().clone();
            eprintln!("{report}");
        }
        if !f.is_empty() {
            failed.push(format!(
                "call {} {}: {}",
                i + 1,
                report.opts_label,
                f.join("; ")
            ));
        }
    }
    eprintln!(
        "{}/{n} sprayed calls kept two-way audio ({:.0} s)",
        n - failed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failed.is_empty(),
        "{} of {n} sprayed calls failed:\n  - {}",
        failed.len(),
        failed.join("\n  - ")
    );
}

const FWD_BAL_CLIENT: CallOpts = CallOpts {
    direction: Direction::Forward,
    bundle: Bundle::Balanced,
    relay_role: Role::Client,
    spray: false,
};
const FWD_BAL_SERVER: CallOpts = CallOpts {
    relay_role: Role::Server,
    ..FWD_BAL_CLIENT
};
const FWD_MAX_CLIENT: CallOpts = CallOpts {
    bundle: Bundle::MaxBundle,
    ..FWD_BAL_CLIENT
};
const FWD_MAX_SERVER: CallOpts = CallOpts {
    bundle: Bundle::MaxBundle,
    ..FWD_BAL_SERVER
};
const REV_SERVER: CallOpts = CallOpts {
    direction: Direction::Reverse,
    bundle: Bundle::Balanced,
    relay_role: Role::Server,
    spray: false,
};
const REV_CLIENT: CallOpts = CallOpts {
    relay_role: Role::Client,
    ..REV_SERVER
};
const REV_MAX_SERVER: CallOpts = CallOpts {
    bundle: Bundle::MaxBundle,
    ..REV_SERVER
};

#[test]
fn browser_offers_balanced_relay_dtls_client() {
    against_rtpbridge(FWD_BAL_CLIENT);
}

#[test]
fn browser_offers_balanced_relay_dtls_server() {
    against_rtpbridge(FWD_BAL_SERVER);
}

#[test]
fn browser_offers_max_bundle_relay_dtls_client() {
    against_rtpbridge(FWD_MAX_CLIENT);
}

#[test]
fn browser_offers_max_bundle_relay_dtls_server() {
    against_rtpbridge(FWD_MAX_SERVER);
}

#[test]
fn browser_answers_relay_dtls_server() {
    against_rtpbridge(REV_SERVER);
}

#[test]
fn browser_answers_relay_dtls_client() {
    against_rtpbridge(REV_CLIENT);
}

#[test]
fn browser_answers_max_bundle_relay_dtls_server() {
    against_rtpbridge(REV_MAX_SERVER);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_offers_balanced_relay_dtls_client() {
    against_rtpengine(FWD_BAL_CLIENT);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_offers_balanced_relay_dtls_server() {
    against_rtpengine(FWD_BAL_SERVER);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_offers_max_bundle_relay_dtls_client() {
    against_rtpengine(FWD_MAX_CLIENT);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_offers_max_bundle_relay_dtls_server() {
    against_rtpengine(FWD_MAX_SERVER);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_answers_relay_dtls_server() {
    against_rtpengine(REV_SERVER);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_answers_relay_dtls_client() {
    against_rtpengine(REV_CLIENT);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_browser_answers_max_bundle_relay_dtls_server() {
    against_rtpengine(REV_MAX_SERVER);
}

/// ES2023-03 against the relay as DTLS client: the browser offers (relay answers `active`) or
/// answers an offer with `a=setup:active`, in turn; ClientHellos sprayed from strangers from the
/// moment the relay's SDP is known. 20 calls on one daemon, every one must keep two-way audio.
#[test]
fn sprayed_client_hellos_relay_dtls_client() {
    let server = common::Server::start(&[]);
    spray_series(server.ng, &server.log, &[FWD_BAL_CLIENT, REV_CLIENT], true);
}

/// The same with the relay as DTLS server (answers `passive`, or offers `actpass` and the
/// browser answers `active`).
#[test]
fn sprayed_client_hellos_relay_dtls_server() {
    let server = common::Server::start(&[]);
    spray_series(server.ng, &server.log, &[FWD_BAL_SERVER, REV_SERVER], true);
}

// rtpengine: only the cases it passes unsprayed (see the module docs), so that a failure is
// the spray's doing.
#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_sprayed_client_hellos_relay_dtls_client() {
    let daemon = Rtpengine::start();
    spray_series(daemon.ng, &daemon.log, &[FWD_BAL_CLIENT], false);
}

#[test]
#[ignore = "comparison with Debian's rtpengine: cargo test --test webrtc_browser -- --ignored"]
fn rtpengine_sprayed_client_hellos_relay_dtls_server() {
    let daemon = Rtpengine::start();
    spray_series(daemon.ng, &daemon.log, &[REV_SERVER], false);
}

#[test]
fn mu_law_known_values() {
    // G.711 mu-law: 0 -> 0xff, full scale positive -> 0x80, full scale negative -> 0x00,
    // and the encoder is odd-symmetric apart from the sign bit.
    assert_eq!(ulaw(0), 0xff);
    assert_eq!(ulaw(i16::MAX), 0x80);
    assert_eq!(ulaw(-i16::MAX), 0x00);
    assert_eq!(ulaw(-1000) | 0x80, ulaw(1000));
    assert_eq!(ulaw(1000), 0xce);
}
