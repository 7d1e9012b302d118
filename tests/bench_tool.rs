//! The bench tool end to end: `rtpbridge-bench run` against a real `rtpbridge` (plain, and with
//! the caller's leg SRTP over SDES) and against the bench's own floor relays (epoll, io_uring,
//! io_uring with batched wake-ups), 10 calls for 2 s. Checks the counts (no loss, no
//! reordering, every packet accounted for, none undecryptable) and that the measurements are
//! present and plausible; no timing thresholds.
//!
//! In SDES mode a packet only counts as received when its stamp is readable, so a full count
//! means both directions went through the relay's crypto: what the bench sent as SRTP arrived
//! on the plain side decrypted, and what it sent in plain arrived on the SRTP side encrypted
//! with the key the relay answered with. `bench_sdes_against_rtpengine` runs the same against
//! Debian's rtpengine (`--ignored`; it needs /usr/bin/rtpengine).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{s, Server};

const CALLS: u64 = 10;

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A media range below the ephemeral range, so the bench's own sockets never fall inside it.
fn media_range(seed: u16) -> (u16, u16) {
    let base = 20000 + (seed as u32 % 200) * 60;
    (base as u16, (base + 59) as u16)
}

fn bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rtpbridge-bench"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtpbridge-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Output to a reader that went away (`rtpbridge-bench ... | head -1`) ends the bench by
/// SIGPIPE, as other command-line tools, not with a panic on stderr.
#[test]
fn a_closed_output_pipe_ends_the_bench_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_rtpbridge-bench"))
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run rtpbridge-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
}

fn result_line(out: &str) -> HashMap<String, String> {
    let line = out
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {out}"));
    line.split_whitespace()
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(r: &HashMap<String, String>, k: &str) -> f64 {
    r.get(k)
        .unwrap_or_else(|| panic!("no {k} in {r:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} is not a number in {r:?}"))
}

fn check(r: &HashMap<String, String>) {
    assert_eq!(num(r, "srtp_errors"), 0.0, "{r:?}");
    // 2 s at 50 pps, two streams per call.
    let expected = CALLS * 2 * 50 * 2;
    assert_eq!(num(r, "calls"), CALLS as f64);
    assert_eq!(num(r, "sent"), expected as f64, "{r:?}");
    assert_eq!(num(r, "received"), expected as f64, "{r:?}");
    assert_eq!(num(r, "loss_pct"), 0.0);
    assert_eq!(num(r, "reordered"), 0.0);
    assert_eq!(num(r, "duplicates"), 0.0);
    assert_eq!(num(r, "foreign"), 0.0);
    assert_eq!(num(r, "send_errors"), 0.0);
    let (p50, p99, max) = (
        num(r, "lat_p50_us"),
        num(r, "lat_p99_us"),
        num(r, "lat_max_us"),
    );
    assert!(p50 <= p99 && p99 <= max, "{r:?}");
    assert!(num(r, "lag_p99_us") <= num(r, "lag_max_us"));
    // With --pid: the server's CPU and memory are read from /proc.
    assert!(num(r, "server_cpu_s") >= 0.0);
    assert!(num(r, "server_rss_kb") > 0.0);
    assert!(num(r, "cpu_us_per_pkt") >= 0.0);
    assert!((num(r, "window_s") - 2.0).abs() < 0.5, "{r:?}");
}

fn run_against(ng: &str, pid: u32, extra: &[&str]) -> HashMap<String, String> {
    let pid = pid.to_string();
    let mut args = vec![
        "run",
        "--ng",
        ng,
        "--pid",
        &pid,
        "--calls",
        "10",
        "--duration",
        "2",
        "--warmup",
        "0.5",
        "--drain-ms",
        "2000",
    ];
    args.extend_from_slice(extra);
    let out = bench(&args);
    // The run names the command that produced it.
    let first = out.lines().next().unwrap_or("");
    assert!(
        first.starts_with("# rtpbridge-bench run --ng ") && first.ends_with(&args[1..].join(" ")),
        "{out}"
    );
    result_line(&out)
}

fn rtpbridge() -> common::Server {
    let ng_port = free_port();
    let (pmin, pmax) = media_range(ng_port);
    let ng = format!("127.0.0.1:{ng_port}");
    let args: Vec<String> = [
        "--config-file=none",
        "-f",
        "-E",
        "-L",
        "6",
        "-i",
        "127.0.0.1",
        "-n",
        &ng,
        "-m",
        &pmin.to_string(),
        "-M",
        &pmax.to_string(),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    Server::spawn(args, ng.parse().unwrap(), pmin, pmax)
}

#[test]
fn bench_against_rtpbridge() {
    let server = rtpbridge();
    let ng = server.ng.to_string();
    let r = run_against(&ng, server.child.id(), &[]);
    check(&r);
    // The calls were deleted afterwards, at once (the bench's deletes say delete-delay 0;
    // the server's default would keep them 30 s).
    let list = server.client().ok(&[("command", s("list"))]);
    match common::get(&list, "calls") {
        Some(common::Value::List(calls)) => assert!(calls.is_empty(), "{list:?}"),
        other => panic!("list reply without calls: {other:?}"),
    }
}

#[test]
fn bench_sdes_against_rtpbridge() {
    let server = rtpbridge();
    let ng = server.ng.to_string();
    let r = run_against(&ng, server.child.id(), &["--sdes"]);
    check(&r);
}

/// Debian's rtpengine, userspace only, as an independent SDES peer.
#[test]
#[ignore = "needs /usr/bin/rtpengine (Debian's rtpengine 10.5)"]
fn bench_sdes_against_rtpengine() {
    let ng_port = free_port();
    let (pmin, pmax) = media_range(ng_port.wrapping_add(31));
    let ng = format!("127.0.0.1:{ng_port}");
    let child = Command::new("/usr/bin/rtpengine")
        .args([
            "--config-file=none",
            "--foreground",
            "--table=-1",
            "--interface=127.0.0.1",
            &format!("--listen-ng={ng}"),
            &format!("--port-min={pmin}"),
            &format!("--port-max={pmax}"),
            "--log-stderr",
            "--log-level=3",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/bin/rtpengine");
    let server = Killed(child);
    wait_for_ping(&ng, "rtpengine");
    for extra in [&[][..], &["--sdes"][..]] {
        let r = run_against(&ng, server.0.id(), extra);
        check(&r);
    }
}

fn wait_for_ping(ng: &str, what: &str) {
    let c = common::NgClient::new(ng.parse().unwrap());
    c.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = false;
    while Instant::now() < deadline && !up {
        up = c
            .try_request(&[("command", s("ping"))])
            .is_ok_and(|r| common::get_str(&r, "result") == "pong");
    }
    assert!(up, "{what} did not answer ping");
}

/// A child process that gets SIGTERM when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

fn floor_relay(io: &[&str], seed: u16) {
    // NG on port 0: the floor says which port it got (no window for another socket to take
    // a port picked in advance).
    let (pmin, pmax) = media_range(free_port().wrapping_add(seed));
    let ports = format!("{pmin}-{pmax}");
    let mut args = vec!["floor", "--ng", "127.0.0.1:0", "--ports", &ports];
    args.extend_from_slice(io);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtpbridge-bench"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start floor relay");
    let mut line = String::new();
    // Kept open until the test ends, so the floor can still write to it.
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    stderr
        .read_line(&mut line)
        .expect("floor relay's first line");
    let floor = Killed(child);
    let ng = line
        .split("NG on ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("floor relay said {line:?}"))
        .to_string();
    wait_for_ping(&ng, "floor relay");
    let r = run_against(&ng, floor.0.id(), &[]);
    check(&r);
    // A floor does no crypto: an SDES run stops at setup, with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_rtpbridge-bench"))
        .args([
            "run",
            "--ng",
            &ng,
            "--calls",
            "2",
            "--duration",
            "0.2",
            "--sdes",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run rtpbridge-bench");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("want RTP/AVP"), "{err}");
}

#[test]
fn bench_against_floor_epoll() {
    floor_relay(&[], 97);
}

#[test]
fn bench_against_floor_uring() {
    floor_relay(&["--io", "uring"], 113);
}

#[test]
fn bench_against_floor_uring_batched_wakeups() {
    floor_relay(&["--io", "uring", "--wait-us", "300"], 131);
}
