//! End-to-end tests that drive the relay daemon with real, unmodified peers:
//!
//! - `rtpengine_ng_client_offer_answer_delete`: rtpengine's own perl NG client
//!   (`rtpengine-ng-client`, Debian package `rtpengine-utils`) sends ping, offer, answer, query,
//!   delete and query-after-delete; the test checks the rewritten SDPs and the query reply.
//! - `kamailio_sipp_20_concurrent_calls`: Kamailio (rtpengine module) anchors 20 concurrent
//!   SIPp calls on the daemon; each call plays G.711 RTP in both directions. The relayed RTP is
//!   captured on `lo` with tshark and counted per direction.
//! - `kamailio_sipp_record_call`: the same with `record-call=yes` on offer and answer and a
//!   recording directory: one pcap per call, named after SIPp's Call-ID like rtpengine does,
//!   holding both directions (read back with tshark), and the metadata files in place.
//!
//! The daemon under test is the `rtpbridge` binary of this crate. Set
//! `RTPBRIDGE_TEST_DAEMON=/usr/bin/rtpengine` to run the very same tests against the real
//! rtpengine (both accept the same command line).
//!
//! Requirements (Debian/Ubuntu packages): `kamailio`, `kamailio-extra-modules`, `sip-tester`,
//! `tshark`, `rtpengine-utils`. The Kamailio/SIPp test needs root (SIPp sends RTP through raw
//! sockets, tshark captures on `lo`). Every child process runs in its own process group and is
//! killed by a guard, also when an assertion fails. Temp dirs are kept (and their path printed)
//! when a test fails (or always with `RTPBRIDGE_TEST_KEEP_TMP=1`), removed otherwise.
//!
//! Run: `cargo test --test real_peers -- --nocapture` (prints the measured packet counts).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ------------------------------------------------------------------------------------------
// Small helpers: temp dirs, ports, child processes.
// ------------------------------------------------------------------------------------------

/// The daemon binary under test.
fn daemon_binary() -> PathBuf {
    match std::env::var_os("RTPBRIDGE_TEST_DAEMON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_rtpbridge")),
    }
}

/// Full path of an external tool (PATH, then the sbin dirs a non-login root shell may lack);
/// fails the test with the package to install when it is missing.
fn tool(name: &str, package: &str) -> PathBuf {
    let path_dirs = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    path_dirs
        .into_iter()
        .chain(sbin)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: install the Debian/Ubuntu package `{package}`")
        })
}

/// A unique directory under the system temp dir; removed on drop unless the test failed.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(test: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "rtpbridge-{test}-{}-{nanos:09}",
            std::process::id()
        ));
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test failed: logs and captures kept in {}",
                self.path.display()
            );
        } else if std::env::var_os("RTPBRIDGE_TEST_KEEP_TMP").is_some() {
            eprintln!("RTPBRIDGE_TEST_KEEP_TMP: kept {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A UDP port that was free on `ip` a moment ago (the kernel picks it).
fn free_udp_port(ip: Ipv4Addr) -> u16 {
    let sock = UdpSocket::bind(SocketAddrV4::new(ip, 0)).expect("bind ephemeral UDP port");
    sock.local_addr().expect("local addr").port()
}

/// A media port range for the daemon, below the kernel's ephemeral range (where
/// `free_udp_port` picks from) and distinct per test (`slot`) and per test process.
fn media_port_range(slot: u32) -> (u16, u16) {
    let base = 20000 + ((std::process::id() % 30) * 2 + slot) * 200;
    (base as u16, (base + 199) as u16)
}

/// A child process in its own process group, with its output in a log file.
/// Dropping it kills the whole group (SIGTERM, then SIGKILL) and reaps the child.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Proc {
        let out = fs::File::create(&log).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
        }
    }

    /// Like `spawn`, but hands stderr to the caller (stdout still goes to the log).
    fn spawn_piped_stderr(
        name: &str,
        cmd: &mut Command,
        log: PathBuf,
    ) -> (Proc, std::process::ChildStderr) {
        let out = fs::File::create(&log).expect("create log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        (
            Proc {
                name: name.to_string(),
                child,
                log,
            },
            stderr,
        )
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits for the process to exit by itself; `None` on timeout.
    fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` to the process group and waits for the leader to exit.
    fn signal_and_wait(&mut self, sig: i32, timeout: Duration) -> Option<ExitStatus> {
        if let Some(status) = self.try_wait() {
            return Some(status);
        }
        // SAFETY: plain kill(2) on the process group this test created for its own child.
        unsafe {
            libc::kill(-self.pid(), sig);
        }
        self.wait_timeout(timeout)
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Panics (with the log tail) if the process has already exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.try_wait() {
            panic!(
                "{} exited early with {status}; last log lines:\n{}",
                self.name,
                self.log_tail(40)
            );
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self
            .signal_and_wait(libc::SIGTERM, Duration::from_secs(3))
            .is_none()
        {
            // SAFETY: as above, our own child's process group.
            unsafe {
                libc::kill(-self.pid(), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
        // Stragglers of the group (e.g. forked workers) get SIGKILL too.
        // SAFETY: as above; ESRCH when the group is already gone is fine.
        unsafe {
            libc::kill(-self.pid(), libc::SIGKILL);
        }
        if std::thread::panicking() {
            eprintln!(
                "----- {} log ({}), last lines -----\n{}",
                self.name,
                self.log.display(),
                self.log_tail(60)
            );
        }
    }
}

/// Starts the daemon under test and waits until it answers an NG `ping`.
fn start_daemon(dir: &TempDir, ng_port: u16, ports: (u16, u16)) -> Proc {
    start_daemon_with(dir, ng_port, ports, &[])
}

/// [`start_daemon`] with extra command line arguments.
fn start_daemon_with(dir: &TempDir, ng_port: u16, ports: (u16, u16), extra: &[String]) -> Proc {
    let bin = daemon_binary();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--table=-1",
        "--config-file=none",
        "-f",
        "-E",
        "-L",
        "6",
        "-i",
        "127.0.0.1",
        "-n",
        &format!("127.0.0.1:{ng_port}"),
        "-m",
        &ports.0.to_string(),
        "-M",
        &ports.1.to_string(),
    ]);
    cmd.args(extra);
    let name = format!("daemon {}", bin.display());
    let mut daemon = Proc::spawn(&name, &mut cmd, dir.join("daemon.log"));
    let ng = SocketAddr::from((Ipv4Addr::LOCALHOST, ng_port));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut attempt = 0u32;
    loop {
        daemon.assert_running();
        attempt += 1;
        let reply = ng_request(ng, &format!("ping{attempt}"), b"d7:command4:pinge");
        if reply.as_deref().is_some_and(|r| r.contains("pong")) {
            return daemon;
        }
        assert!(
            Instant::now() < deadline,
            "daemon {} did not answer NG ping on {ng} within 10 s",
            bin.display()
        );
    }
}

/// One NG request/response over UDP; `None` when nothing came back within 200 ms.
fn ng_request(ng: SocketAddr, cookie: &str, bencoded: &[u8]) -> Option<String> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .ok()?;
    let mut msg = format!("{cookie} ").into_bytes();
    msg.extend_from_slice(bencoded);
    sock.send_to(&msg, ng).ok()?;
    let mut buf = [0u8; 65536];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.strip_prefix(&format!("{cookie} "))
        .map(|rest| rest.to_string())
}

// ------------------------------------------------------------------------------------------
// Test 1: rtpengine's perl NG client.
// ------------------------------------------------------------------------------------------

/// Output of one `rtpengine-ng-client` run.
struct NgClientRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl NgClientRun {
    /// The SDP the daemon returned (between the "New SDP:" markers).
    fn new_sdp(&self) -> String {
        let start = self
            .stdout
            .find("New SDP:")
            .unwrap_or_else(|| panic!("no `New SDP:` in output:\n{}", self.stdout));
        let body = &self.stdout[start..];
        let open = "-----8<-----8<-----8<-----8<-----8<-----\n";
        let close = "\n----->8----->8----->8----->8----->8-----";
        let from = body.find(open).expect("SDP opening marker") + open.len();
        let to = body[from..].find(close).expect("SDP closing marker") + from;
        body[from..to].to_string()
    }
}

fn ng_client(bin: &Path, ng_port: u16, args: &[&str]) -> NgClientRun {
    let out = Command::new(bin)
        .arg("--proxy-address=127.0.0.1")
        .arg(format!("--proxy-port={ng_port}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtpengine-ng-client");
    NgClientRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Lines of an SDP starting with `prefix`.
fn sdp_lines<'a>(sdp: &'a str, prefix: &str) -> Vec<&'a str> {
    sdp.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The port of the single `m=audio` line.
fn audio_port(sdp: &str) -> u16 {
    let m = sdp_lines(sdp, "m=audio ");
    assert_eq!(m.len(), 1, "expected one m=audio line in:\n{sdp}");
    m[0].split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("bad m= line {:?}", m[0]))
}

/// Checks the relay's rewrite of one side's SDP; returns the media port it allocated.
fn check_rewritten_sdp(sdp: &str, ports: (u16, u16), origin_addr: &str) -> u16 {
    assert_eq!(
        sdp_lines(sdp, "c="),
        vec!["c=IN IP4 127.0.0.1"],
        "connection address must be the relay's:\n{sdp}"
    );
    let origin = sdp_lines(sdp, "o=");
    assert_eq!(origin.len(), 1, "one o= line:\n{sdp}");
    assert!(
        origin[0].ends_with(&format!(" IN IP4 {origin_addr}")),
        "o= line should carry {origin_addr}: {:?}",
        origin[0]
    );
    let port = audio_port(sdp);
    assert!(
        (ports.0..=ports.1).contains(&port),
        "media port {port} outside the daemon's range {ports:?}"
    );
    assert_eq!(port % 2, 0, "RTP port {port} should be even");
    assert_eq!(
        sdp_lines(sdp, "m=audio "),
        vec![format!("m=audio {port} RTP/AVP 0 8").as_str()],
        "codecs and protocol must pass through unchanged:\n{sdp}"
    );
    assert!(
        sdp_lines(sdp, "a=rtpmap:0 PCMU/8000").len() == 1,
        "rtpmap kept:\n{sdp}"
    );
    assert_eq!(
        sdp_lines(sdp, "a=rtcp:"),
        vec![format!("a=rtcp:{}", port + 1).as_str()],
        "RTCP port is announced as RTP port + 1:\n{sdp}"
    );
    assert!(
        sdp_lines(sdp, "a=sendrecv").len() == 1,
        "direction kept:\n{sdp}"
    );
    for ice in ["a=ice-ufrag", "a=ice-pwd", "a=candidate", "a=ice-options"] {
        assert!(
            sdp_lines(sdp, ice).is_empty(),
            "ICE=remove must strip {ice}:\n{sdp}"
        );
    }
    port
}

fn query_mentions_port(query: &str, port: u16) -> bool {
    query.contains(&format!("'local port' => '{port}'"))
        || query.contains(&format!("'local port' => {port}"))
}

fn query_mentions_tag(query: &str, tag: &str) -> bool {
    query.contains(&format!("{tag} => {{")) || query.contains(&format!("'{tag}' => {{"))
}

#[test]
fn rtpengine_ng_client_offer_answer_delete() {
    let ng_client_bin = tool("rtpengine-ng-client", "rtpengine-utils");
    let dir = TempDir::new("ngclient");
    let ng_port = free_udp_port(Ipv4Addr::LOCALHOST);
    let ports = media_port_range(0);
    let mut daemon = start_daemon(&dir, ng_port, ports);

    let call_id = format!("ngclient-{}@test", std::process::id());
    let (from_tag, to_tag) = ("callerTag1", "calleeTag2");

    // ping
    let ping = ng_client(&ng_client_bin, ng_port, &["ping"]);
    assert!(ping.ok, "ping failed: {}{}", ping.stdout, ping.stderr);
    assert!(
        ping.stdout.contains("result => 'pong'"),
        "ping reply: {}",
        ping.stdout
    );

    // offer: an SDP with ICE attributes, rewritten with replace-origin and ICE=remove
    let offer_sdp = dir.join("offer.sdp");
    fs::write(
        &offer_sdp,
        "v=0\r\n\
         o=- 1545997027 1 IN IP4 198.51.100.1\r\n\
         s=tester\r\n\
         c=IN IP4 198.51.100.1\r\n\
         t=0 0\r\n\
         m=audio 2000 RTP/AVP 0 8\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=ice-ufrag:w9Zk\r\n\
         a=ice-pwd:a8D3kVjPq7uB2nEwT5yXcR1m\r\n\
         a=candidate:1 1 UDP 2130706431 198.51.100.1 2000 typ host\r\n\
         a=candidate:1 2 UDP 2130706430 198.51.100.1 2001 typ host\r\n\
         a=sendrecv\r\n",
    )
    .expect("write offer SDP");
    let offer = ng_client(
        &ng_client_bin,
        ng_port,
        &[
            &format!("--call-id={call_id}"),
            &format!("--from-tag={from_tag}"),
            &format!("--sdp-file={}", offer_sdp.display()),
            "--replace-origin",
            "--ICE=remove",
            "offer",
        ],
    );
    assert!(offer.ok, "offer failed: {}{}", offer.stdout, offer.stderr);
    assert!(!offer.stdout.contains("Error reason"), "{}", offer.stdout);
    let offer_port = check_rewritten_sdp(&offer.new_sdp(), ports, "127.0.0.1");

    // answer: no replace-origin this time, so o= must stay the callee's
    let answer_sdp = dir.join("answer.sdp");
    fs::write(
        &answer_sdp,
        "v=0\r\n\
         o=- 2890844527 1 IN IP4 198.51.100.2\r\n\
         s=callee\r\n\
         c=IN IP4 198.51.100.2\r\n\
         t=0 0\r\n\
         m=audio 3000 RTP/AVP 0 8\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=sendrecv\r\n",
    )
    .expect("write answer SDP");
    let answer = ng_client(
        &ng_client_bin,
        ng_port,
        &[
            &format!("--call-id={call_id}"),
            &format!("--from-tag={from_tag}"),
            &format!("--to-tag={to_tag}"),
            &format!("--sdp-file={}", answer_sdp.display()),
            "--ICE=remove",
            "answer",
        ],
    );
    assert!(
        answer.ok,
        "answer failed: {}{}",
        answer.stdout, answer.stderr
    );
    let answer_port = check_rewritten_sdp(&answer.new_sdp(), ports, "198.51.100.2");
    assert_ne!(offer_port, answer_port, "each side gets its own relay port");

    // query: both tags, both relay ports, both peers' addresses
    let query = ng_client(
        &ng_client_bin,
        ng_port,
        &[&format!("--call-id={call_id}"), "query"],
    );
    assert!(query.ok, "query failed: {}{}", query.stdout, query.stderr);
    for tag in [from_tag, to_tag] {
        assert!(
            query_mentions_tag(&query.stdout, tag),
            "query should list tag {tag}:\n{}",
            query.stdout
        );
    }
    for port in [offer_port, answer_port] {
        assert!(
            query_mentions_port(&query.stdout, port),
            "query should list local port {port}:\n{}",
            query.stdout
        );
    }
    for addr in ["198.51.100.1", "198.51.100.2"] {
        assert!(
            query.stdout.contains(addr),
            "query should show endpoint {addr}:\n{}",
            query.stdout
        );
    }

    // delete (immediately), then the call is gone
    let delete = ng_client(
        &ng_client_bin,
        ng_port,
        &[
            &format!("--call-id={call_id}"),
            &format!("--from-tag={from_tag}"),
            "--delete-delay=0",
            "delete",
        ],
    );
    assert!(
        delete.ok,
        "delete failed: {}{}",
        delete.stdout, delete.stderr
    );
    assert!(!delete.stdout.contains("Error reason"), "{}", delete.stdout);

    let gone = ng_client(
        &ng_client_bin,
        ng_port,
        &[&format!("--call-id={call_id}"), "query"],
    );
    assert!(!gone.ok, "query after delete should fail:\n{}", gone.stdout);
    assert!(
        gone.stderr.contains("Unknown call-id"),
        "query after delete: expected error reason `Unknown call-id`, got:\n{}{}",
        gone.stdout,
        gone.stderr
    );

    daemon.assert_running();
}

// ------------------------------------------------------------------------------------------
// Test 2: Kamailio + SIPp, 20 concurrent calls with RTP both ways.
// ------------------------------------------------------------------------------------------

const CALLS: usize = 20;
/// RTP packets per call and direction in the generated pcaps (20 ms each: 3 s of audio).
/// The SIPp UAC scenario pauses 4 s after starting to play before it sends BYE.
const PCAP_PACKETS: usize = 150;
const PTIME_MS: u32 = 20;
const SSRC_UAC: u32 = 0x0A11_CE01;
const SSRC_UAS: u32 = 0x0B0B_0002;
const UAC_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const UAS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Writes a classic pcap (Ethernet/IPv4/UDP) with `PCAP_PACKETS` G.711 A-law RTP packets
/// (payload type 8, 160 bytes of A-law silence, 20 ms apart) for SIPp's `play_pcap_audio`.
/// SIPp only uses the UDP payload and timing; addresses and ports are rewritten per call.
fn write_g711_pcap(path: &Path, ssrc: u32) {
    let mut out = Vec::new();
    // global header: magic, v2.4, tz 0, sigfigs 0, snaplen, linktype 1 (Ethernet)
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let (src_ip, dst_ip) = ([10u8, 0, 0, 1], [10u8, 0, 0, 2]);
    for i in 0..PCAP_PACKETS {
        let mut rtp = Vec::with_capacity(172);
        rtp.push(0x80);
        rtp.push(if i == 0 { 0x80 | 8 } else { 8 }); // marker on the first packet
        rtp.extend_from_slice(&(1000u16.wrapping_add(i as u16)).to_be_bytes());
        rtp.extend_from_slice(&(160u32 * i as u32).to_be_bytes());
        rtp.extend_from_slice(&ssrc.to_be_bytes());
        rtp.extend(std::iter::repeat_n(0xD5u8, 160));

        let udp_len = 8 + rtp.len();
        let mut udp = Vec::with_capacity(udp_len);
        udp.extend_from_slice(&4000u16.to_be_bytes());
        udp.extend_from_slice(&4000u16.to_be_bytes());
        udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
        udp.extend_from_slice(&0u16.to_be_bytes()); // no checksum; SIPp computes its own
        udp.extend_from_slice(&rtp);

        let ip_len = 20 + udp_len;
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
        ip.extend_from_slice(&(i as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]); // DF, TTL 64, UDP, checksum below
        ip.extend_from_slice(&src_ip);
        ip.extend_from_slice(&dst_ip);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());

        let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&udp);

        let t_us = i as u64 * u64::from(PTIME_MS) * 1000;
        out.extend_from_slice(&(1_700_000_000u32 + (t_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    fs::write(path, out).expect("write pcap");
}

/// Sends SIP OPTIONS to Kamailio until it answers 200 (its workers are up and the script runs).
fn wait_for_sip_options_ok(kamailio: &mut Proc, port: u16) {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind SIP probe socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let local = sock.local_addr().expect("local addr").port();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut buf = [0u8; 4096];
    for n in 1u32.. {
        kamailio.assert_running();
        let msg = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe-{n};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@127.0.0.1:{local}>;tag=probe{n}\r\n\
             To: <sip:127.0.0.1:{port}>\r\n\
             Call-ID: probe-{n}-{}@127.0.0.1\r\n\
             CSeq: {n} OPTIONS\r\n\
             Content-Length: 0\r\n\r\n",
            std::process::id()
        );
        let _ = sock.send_to(msg.as_bytes(), (Ipv4Addr::LOCALHOST, port));
        if let Ok((len, _)) = sock.recv_from(&mut buf) {
            if buf[..len].starts_with(b"SIP/2.0 200") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "kamailio did not answer OPTIONS on 127.0.0.1:{port} within 15 s"
        );
    }
}

/// True once some process has a UDP socket bound to `ip:port` (per /proc/net/udp).
fn udp_socket_bound(ip: Ipv4Addr, port: u16) -> bool {
    let want = format!("{:08X}:{:04X}", u32::from_ne_bytes(ip.octets()), port);
    fs::read_to_string("/proc/net/udp")
        .map(|t| {
            t.lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some(want.as_str()))
        })
        .unwrap_or(false)
}

fn wait_for_udp_bind(proc_: &mut Proc, ip: Ipv4Addr, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !udp_socket_bound(ip, port) {
        proc_.assert_running();
        assert!(
            Instant::now() < deadline,
            "{} did not bind {ip}:{port} within 10 s",
            proc_.name
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads SIPp's `-trace_stat` CSV: (last row as name -> value, max of `CurrentCall`).
fn sipp_stats(path: &Path) -> (BTreeMap<String, String>, u64) {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read SIPp stats {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("stats header").split(';').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(';').collect()).collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let max_current = col("CurrentCall")
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c).and_then(|v| v.trim().parse::<u64>().ok()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    let last = rows.last().expect("at least one stats row");
    let map = header
        .iter()
        .zip(last.iter())
        .map(|(h, v)| (h.to_string(), v.trim().to_string()))
        .collect();
    (map, max_current)
}

fn stat_u64(stats: &BTreeMap<String, String>, name: &str) -> u64 {
    stats
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("SIPp stats lack {name}: {stats:?}"))
}

/// Per-direction tallies of the capture.
#[derive(Default, Debug)]
struct Direction {
    /// Packets from this direction's sender into the daemon's ports.
    into_daemon: usize,
    /// Packets the daemon relayed to this direction's receiver with the sender's SSRC.
    relayed: usize,
    /// Relayed packets carrying an unexpected SSRC (should be none).
    wrong_ssrc: usize,
    /// Relayed packets per receiver port (one per call).
    per_flow: BTreeMap<u16, usize>,
    /// Daemon ports the relayed packets left from (one per call).
    daemon_ports: BTreeSet<u16>,
}

/// Classifies the captured packets with `tshark -r`.
fn count_rtp(tshark: &Path, capture: &Path, ports: (u16, u16)) -> (Direction, Direction) {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(capture)
        .args(["-n", "-T", "fields", "-E", "separator=/t"])
        .args(["-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst"])
        .args(["-e", "udp.dstport", "-e", "udp.payload"])
        .stdin(Stdio::null())
        .output()
        .expect("run tshark -r");
    assert!(
        out.status.success(),
        "tshark -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let in_range = |p: u16| (ports.0..=ports.1).contains(&p);
    let (mut uac_to_uas, mut uas_to_uac) = (Direction::default(), Direction::default());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 5 {
            continue;
        }
        let (Ok(src), Ok(sport), Ok(dst), Ok(dport)) = (
            f[0].parse::<Ipv4Addr>(),
            f[1].parse::<u16>(),
            f[2].parse::<Ipv4Addr>(),
            f[3].parse::<u16>(),
        ) else {
            continue;
        };
        let payload = f[4].replace(':', "");
        let ssrc = payload
            .get(16..24)
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        let to_daemon = dst == Ipv4Addr::LOCALHOST && in_range(dport);
        if src == UAC_IP && to_daemon {
            uac_to_uas.into_daemon += 1;
        } else if src == UAS_IP && to_daemon {
            uas_to_uac.into_daemon += 1;
        } else if in_range(sport) && (dst == UAS_IP || dst == UAC_IP) {
            let (dir, expected) = if dst == UAS_IP {
                (&mut uac_to_uas, SSRC_UAC)
            } else {
                (&mut uas_to_uac, SSRC_UAS)
            };
            if ssrc == Some(expected) {
                dir.relayed += 1;
                *dir.per_flow.entry(dport).or_default() += 1;
                dir.daemon_ports.insert(sport);
            } else {
                dir.wrong_ssrc += 1;
            }
        }
    }
    (uac_to_uas, uas_to_uac)
}

fn check_direction(name: &str, dir: &Direction, calls: usize) {
    let sent = PCAP_PACKETS * calls;
    let pct = 100.0 * dir.relayed as f64 / sent as f64;
    eprintln!(
        "{name}: SIPp sent {sent} (captured into the daemon: {}), relayed {} = {pct:.1}%, \
         {} flows, wrong SSRC {}",
        dir.into_daemon,
        dir.relayed,
        dir.per_flow.len(),
        dir.wrong_ssrc
    );
    assert_eq!(
        dir.wrong_ssrc, 0,
        "{name}: packets relayed with a foreign SSRC"
    );
    assert!(
        dir.relayed * 100 >= sent * 95,
        "{name}: only {} of {sent} RTP packets relayed ({pct:.1}%)",
        dir.relayed
    );
    assert!(
        dir.relayed <= dir.into_daemon,
        "{name}: relayed {} packets but only {} entered the daemon",
        dir.relayed,
        dir.into_daemon
    );
    assert_eq!(
        dir.per_flow.len(),
        calls,
        "{name}: every call's receiver must get media: {:?}",
        dir.per_flow
    );
    assert_eq!(
        dir.daemon_ports.len(),
        calls,
        "{name}: one relay port per call: {:?}",
        dir.daemon_ports
    );
    for (port, n) in &dir.per_flow {
        assert!(
            n * 100 >= PCAP_PACKETS * 90,
            "{name}: the call whose receiver is on port {port} got only {n} of {PCAP_PACKETS}"
        );
    }
}

/// One Kamailio + SIPp run: `calls` concurrent calls through the daemon, RTP both ways.
struct KamSipp<'a> {
    /// Temp dir name and media port slot (distinct per test).
    name: &'a str,
    slot: u32,
    calls: usize,
    /// Appended to the rtpengine_offer()/rtpengine_answer() flags of the Kamailio config.
    extra_flags: &'a str,
    /// Extra daemon arguments; `@DIR@` is replaced by the run's temp dir.
    daemon_args: &'a [&'a str],
}

/// What a run leaves behind for the test's own checks.
struct KamSippRun {
    dir: TempDir,
    ports: (u16, u16),
    uac_pid: i32,
    uac_to_uas: Direction,
    uas_to_uac: Direction,
}

#[test]
fn kamailio_sipp_20_concurrent_calls() {
    let run = kamailio_sipp(&KamSipp {
        name: "kamsipp",
        slot: 1,
        calls: CALLS,
        extra_flags: "",
        daemon_args: &[],
    });
    // Media: >= 95 % of what SIPp sent reached the other side, per direction.
    check_direction("UAC -> UAS", &run.uac_to_uas, CALLS);
    check_direction("UAS -> UAC", &run.uas_to_uac, CALLS);
}

/// Runs Kamailio, the daemon and SIPp (UAS, then UAC) for `opts.calls` concurrent calls,
/// checks SIPp's results, captures the media on `lo`, and stops everything.
fn kamailio_sipp(opts: &KamSipp) -> KamSippRun {
    let calls = opts.calls;
    let kamailio_bin = tool("kamailio", "kamailio");
    let sipp_bin = tool("sipp", "sip-tester");
    let tshark_bin = tool("tshark", "tshark");
    let dir = TempDir::new(opts.name);

    let ng_port = free_udp_port(Ipv4Addr::LOCALHOST);
    let sip_port = free_udp_port(Ipv4Addr::LOCALHOST);
    let uac_port = free_udp_port(UAC_IP);
    let uas_port = free_udp_port(UAS_IP);
    let ports = media_port_range(opts.slot);

    // The scenarios name their pcaps relative to themselves: put both side by side.
    write_g711_pcap(&dir.join("uac.pcap"), SSRC_UAC);
    write_g711_pcap(&dir.join("uas.pcap"), SSRC_UAS);
    for xml in ["uac_pcap_both_ways.xml", "uas_pcap_both_ways.xml"] {
        fs::copy(fixture(&format!("sipp/{xml}")), dir.join(xml)).expect("copy SIPp scenario");
    }

    let daemon_args: Vec<String> = opts
        .daemon_args
        .iter()
        .map(|a| a.replace("@DIR@", &dir.path.display().to_string()))
        .collect();
    let mut daemon = start_daemon_with(&dir, ng_port, ports, &daemon_args);

    // Kamailio with a config generated from the fixture template.
    let modules_dir = [
        "/usr/lib/x86_64-linux-gnu/kamailio/modules",
        "/usr/lib/aarch64-linux-gnu/kamailio/modules",
        "/usr/lib64/kamailio/modules",
        "/usr/lib/kamailio/modules",
    ]
    .into_iter()
    .find(|d| Path::new(d).join("rtpengine.so").is_file())
    .expect("kamailio's rtpengine.so not found: install kamailio-extra-modules");
    let template = fs::read_to_string(fixture("kamailio/rtpbridge-proxy.cfg.in"))
        .expect("read kamailio config template");
    let cfg = template
        .replace("@SIP_PORT@", &sip_port.to_string())
        .replace("@NG_PORT@", &ng_port.to_string())
        .replace("@MODULES_DIR@", modules_dir)
        .replace(
            " ICE=remove\")",
            &format!(" ICE=remove{}\")", opts.extra_flags),
        );
    assert!(
        !cfg.lines().any(|l| !l.starts_with('#') && l.contains('@')),
        "unfilled placeholder in kamailio config:\n{cfg}"
    );
    let cfg_path = dir.join("kamailio.cfg");
    fs::write(&cfg_path, cfg).expect("write kamailio config");
    let run_dir = dir.join("kamailio-run");
    fs::create_dir_all(&run_dir).expect("kamailio runtime dir");
    let mut kamailio = Proc::spawn(
        "kamailio",
        Command::new(&kamailio_bin)
            .args(["-DD", "-E", "-a", "no", "-m", "64", "-M", "8", "-w"])
            .arg(&dir.path)
            .arg("-Y")
            .arg(&run_dir)
            .arg("-f")
            .arg(&cfg_path),
        dir.join("kamailio.log"),
    );
    wait_for_sip_options_ok(&mut kamailio, sip_port);

    // Capture everything that enters or leaves the daemon's media ports.
    let capture = dir.join("rtp.pcapng");
    let (mut tshark, tshark_stderr) = Proc::spawn_piped_stderr(
        "tshark",
        Command::new(&tshark_bin)
            .args(["-i", "lo", "-n", "-q", "-B", "16", "-f"])
            .arg(format!("udp and portrange {}-{}", ports.0, ports.1))
            .arg("-w")
            .arg(&capture),
        dir.join("tshark.log"),
    );
    // Forward tshark's stderr into its log file and report the `Capturing on` line.
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut tshark_log = fs::OpenOptions::new()
        .append(true)
        .open(&tshark.log)
        .expect("open tshark log");
    let stderr_reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(tshark_stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("Capturing on") {
                let _ = ready_tx.send(());
            }
            let _ = writeln!(tshark_log, "{line}");
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if ready_rx.recv_timeout(Duration::from_secs(15)).is_err() {
        tshark.assert_running();
        panic!("tshark did not report `Capturing on` within 15 s");
    }

    // SIPp UAS on 127.0.0.3, then the UAC on 127.0.0.2 through Kamailio.
    let sipp_common = |cmd: &mut Command| {
        cmd.current_dir(&dir.path)
            .args([
                "-t",
                "u1",
                "-nostdin",
                "-trace_err",
                "-trace_stat",
                "-fd",
                "1",
            ])
            .args(["-timeout", "60s", "-timeout_error"]);
    };
    let mut uas_cmd = Command::new(&sipp_bin);
    uas_cmd
        .arg("-sf")
        .arg(dir.join("uas_pcap_both_ways.xml"))
        .args(["-i", &UAS_IP.to_string(), "-mi", &UAS_IP.to_string()])
        .args(["-p", &uas_port.to_string(), "-m", &calls.to_string()])
        .arg("-stf")
        .arg(dir.join("uas-stats.csv"))
        .arg("-error_file")
        .arg(dir.join("uas-errors.log"));
    sipp_common(&mut uas_cmd);
    let mut uas = Proc::spawn("sipp-uas", &mut uas_cmd, dir.join("sipp-uas.log"));
    wait_for_udp_bind(&mut uas, UAS_IP, uas_port);

    let mut uac_cmd = Command::new(&sipp_bin);
    uac_cmd
        .arg(format!("{UAS_IP}:{uas_port}"))
        .arg("-sf")
        .arg(dir.join("uac_pcap_both_ways.xml"))
        .args(["-i", &UAC_IP.to_string(), "-mi", &UAC_IP.to_string()])
        .args(["-p", &uac_port.to_string()])
        .args(["-rsa", &format!("127.0.0.1:{sip_port}"), "-s", "rtpbridge"])
        .args(["-l", &calls.to_string(), "-m", &calls.to_string()])
        .args(["-r", &calls.to_string(), "-rp", "1000"])
        .arg("-stf")
        .arg(dir.join("uac-stats.csv"))
        .arg("-error_file")
        .arg(dir.join("uac-errors.log"));
    sipp_common(&mut uac_cmd);
    let mut uac = Proc::spawn("sipp-uac", &mut uac_cmd, dir.join("sipp-uac.log"));
    let uac_pid = uac.pid();

    let uac_status = uac
        .wait_timeout(Duration::from_secs(60))
        .expect("SIPp UAC did not finish its 20 calls within 60 s");
    let uas_status = uas
        .wait_timeout(Duration::from_secs(15))
        .expect("SIPp UAS did not finish within 15 s after the UAC");

    // Stop the capture like Ctrl-C would, and wait for the file to be complete.
    let tshark_status = tshark
        .signal_and_wait(libc::SIGINT, Duration::from_secs(10))
        .expect("tshark did not stop on SIGINT");
    let tshark_stderr = stderr_reader.join().unwrap_or_default();
    assert!(
        tshark_status.success() || tshark_status.code().is_none(),
        "tshark failed ({tshark_status}): {tshark_stderr}"
    );

    // SIPp: 20 successful calls on both sides, all 20 up at the same time.
    let (uac_stats, uac_max_current) = sipp_stats(&dir.join("uac-stats.csv"));
    let (uas_stats, _) = sipp_stats(&dir.join("uas-stats.csv"));
    let uac_ok = stat_u64(&uac_stats, "SuccessfulCall(C)");
    let uac_failed = stat_u64(&uac_stats, "FailedCall(C)");
    let uas_ok = stat_u64(&uas_stats, "SuccessfulCall(C)");
    eprintln!(
        "SIPp: UAC {uac_ok} successful / {uac_failed} failed (max {uac_max_current} concurrent, \
         {uac_status}); UAS {uas_ok} successful ({uas_status})"
    );
    assert!(uac_status.success(), "SIPp UAC exit status {uac_status}");
    assert!(uas_status.success(), "SIPp UAS exit status {uas_status}");
    assert_eq!(uac_ok, calls as u64, "UAC successful calls");
    assert_eq!(uac_failed, 0, "UAC failed calls");
    assert_eq!(uas_ok, calls as u64, "UAS successful calls");
    assert_eq!(
        uac_max_current, calls as u64,
        "all calls should have been up concurrently"
    );

    let (uac_to_uas, uas_to_uac) = count_rtp(&tshark_bin, &capture, ports);
    kamailio.assert_running();
    daemon.assert_running();
    // The daemon stops on SIGTERM with everything it wrote complete.
    let status = daemon.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "daemon did not exit cleanly on SIGTERM: {status:?}"
    );
    KamSippRun {
        dir,
        ports,
        uac_pid,
        uac_to_uas,
        uas_to_uac,
    }
}

// ------------------------------------------------------------------------------------------
// Test 3: Kamailio + SIPp with `record-call=yes`: the daemon records each call to PCAP.
// ------------------------------------------------------------------------------------------

/// Per-direction packet counts of one recorded pcap: (from UAC, from UAS, anything else).
fn count_recorded(tshark: &Path, pcap: &Path, ports: (u16, u16)) -> (usize, usize, usize) {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(pcap)
        .args(["-n", "-T", "fields", "-E", "separator=/t"])
        .args([
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "udp.dstport",
            "-e",
            "udp.payload",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run tshark -r");
    assert!(
        out.status.success(),
        "tshark -r {} failed: {}",
        pcap.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut uac, mut uas, mut other) = (0, 0, 0);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let parsed = (
            f.first().and_then(|v| v.parse::<Ipv4Addr>().ok()),
            f.get(1).and_then(|v| v.parse::<Ipv4Addr>().ok()),
            f.get(2).and_then(|v| v.parse::<u16>().ok()),
        );
        let ssrc = f
            .get(3)
            .map(|p| p.replace(':', ""))
            .and_then(|p| p.get(16..24).and_then(|h| u32::from_str_radix(h, 16).ok()));
        match parsed {
            (Some(src), Some(dst), Some(dport))
                if dst == Ipv4Addr::LOCALHOST && (ports.0..=ports.1).contains(&dport) =>
            {
                if src == UAC_IP && ssrc == Some(SSRC_UAC) {
                    uac += 1;
                } else if src == UAS_IP && ssrc == Some(SSRC_UAS) {
                    uas += 1;
                } else {
                    other += 1;
                }
            }
            _ => other += 1,
        }
    }
    (uac, uas, other)
}

#[test]
fn kamailio_sipp_record_call() {
    const REC_CALLS: usize = 2;
    let tshark_bin = tool("tshark", "tshark");
    let run = kamailio_sipp(&KamSipp {
        name: "kamrec",
        slot: 2,
        calls: REC_CALLS,
        extra_flags: " record-call=yes",
        daemon_args: &[
            "--recording-dir=@DIR@/rec",
            "--recording-method=pcap",
            "--delete-delay=0",
        ],
    });
    check_direction("UAC -> UAS", &run.uac_to_uas, REC_CALLS);
    check_direction("UAS -> UAC", &run.uas_to_uac, REC_CALLS);

    let rec = run.dir.join("rec");
    let mut pcaps: Vec<String> = fs::read_dir(rec.join("pcaps"))
        .expect("pcaps/ in the recording dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    pcaps.sort();
    assert_eq!(pcaps.len(), REC_CALLS, "one pcap per call: {pcaps:?}");
    let (mut rec_uac, mut rec_uas) = (0, 0);
    for n in 1..=REC_CALLS {
        // SIPp's Call-ID is `<call number>-<pid>@<local ip>`; `@` is escaped as `%40`.
        let prefix = format!("{n}-{}%40{UAC_IP}-", run.uac_pid);
        let name = pcaps
            .iter()
            .find(|p| p.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no pcap named {prefix}<16 hex>.pcap in {pcaps:?}"));
        let hex = name[prefix.len()..]
            .strip_suffix(".pcap")
            .expect(".pcap suffix");
        assert!(
            hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
            "{name}"
        );
        let (uac, uas, other) =
            count_recorded(&tshark_bin, &rec.join("pcaps").join(name), run.ports);
        eprintln!("{name}: {uac} packets from the UAC, {uas} from the UAS, {other} other");
        assert_eq!(other, 0, "{name}: unexpected packets");
        for (dir, got) in [("UAC", uac), ("UAS", uas)] {
            assert!(
                got * 100 >= PCAP_PACKETS * 95,
                "{name}: only {got} of {PCAP_PACKETS} packets from the {dir} recorded"
            );
        }
        rec_uac += uac;
        rec_uas += uas;
        let meta = rec.join("metadata").join(format!(
            "rtpengine-meta-{}.txt",
            name.trim_end_matches(".pcap")
        ));
        let text = fs::read_to_string(&meta)
            .unwrap_or_else(|e| panic!("metadata {}: {e}", meta.display()));
        assert!(
            text.starts_with(&format!("{}\n", rec.join("pcaps").join(name).display())),
            "{text}"
        );
        assert!(text.contains("SDP mode: offer") && text.contains("SDP mode: answer"));
    }
    // Every packet the daemon relayed was recorded first; nothing it did not receive was.
    for (dir, recorded, d) in [
        ("UAC -> UAS", rec_uac, &run.uac_to_uas),
        ("UAS -> UAC", rec_uas, &run.uas_to_uac),
    ] {
        assert!(
            d.relayed <= recorded && recorded <= d.into_daemon,
            "{dir}: relayed {} <= recorded {recorded} <= received {} does not hold",
            d.relayed,
            d.into_daemon
        );
    }
    let tmp_left = fs::read_dir(rec.join("tmp"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(tmp_left, 0, "metadata files left in tmp/");
}
