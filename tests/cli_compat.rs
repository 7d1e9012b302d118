//! rtpengine's command line, for real: the exact argument list rtpengine's own test suite
//! starts its daemon with, inside a network namespace that holds those addresses; the
//! defaults with no arguments; and an option rtpengine does not have. Needs root (CI is).

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A network namespace of our own, removed on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str, addrs: &[&str]) -> Netns {
        let name = format!("rtpb-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).status();
        let ok = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().expect("run ip");
            assert!(
                st.success(),
                "ip {args:?} failed (this test needs root and iproute2)"
            );
        };
        ok(&["netns", "add", &name]);
        let ns = Netns(name);
        ok(&["-n", &ns.0, "link", "set", "lo", "up"]);
        for a in addrs {
            ok(&["-n", &ns.0, "addr", "add", a, "dev", "lo", "nodad"]);
        }
        ns
    }

    /// Runs `f` on a thread that has entered the namespace (its sockets live there).
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).expect("open netns");
            use std::os::fd::AsRawFd;
            // SAFETY: setns on this thread only, with a valid namespace fd.
            let r = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns failed");
            f()
        })
        .join()
        .expect("namespace thread")
    }

    fn spawn(&self, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_rtpbridge")])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rtpbridge in the namespace");
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Collects log lines until one contains `needle` (the event we wait for), or panics.
fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(l) => {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
            Err(_) => panic!("no log line with {needle:?}; got {seen:?}"),
        }
    }
}

fn stop(mut child: Child) {
    // `ip netns exec` execs the daemon, so the child's pid is rtpbridge's.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let st = child.wait().unwrap();
    assert!(st.success(), "clean exit on SIGTERM: {st:?}");
}

fn ping_and_offer(ng: SocketAddr, media_v4: &'static str) {
    let c = NgClient::new(ng);
    let r = c.request(&[("command", s("ping"))]);
    assert_eq!(get_str(&r, "result"), "pong");
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("cli-1")),
        ("from-tag", s("a")),
        ("sdp", s(&sdp("198.51.100.1", 6000, ""))),
    ]);
    let out = get_str(&r, "sdp");
    assert!(out.contains(&format!("c=IN IP4 {media_v4}")), "{out}");
}

#[test]
fn starts_with_rtpengines_test_suite_command_line() {
    let ns = Netns::new("cli", &["203.0.113.1/32", "2001:db8:4321::1/128"]);
    let (child, rx) = ns.spawn(&[
        "--config-file=none",
        "-t",
        "-1",
        "-i",
        "203.0.113.1",
        "-i",
        "2001:db8:4321::1",
        "-n",
        "2223",
        "-c",
        "12345",
        "-f",
        "-L",
        "7",
        "-E",
        "-u",
        "2222",
        "--silence-detect=1",
        "--log-level-internals=7",
    ]);
    let lines = wait_for_line(&rx, "rtpbridge started");
    for opt in [
        "--silence-detect",
        "--log-level-internals",
        "--listen-cli",
        "--listen-udp",
    ] {
        let n = lines.iter().filter(|l| l.contains(opt)).count();
        assert_eq!(n, 1, "exactly one warning line for {opt}: {lines:?}");
    }
    // `-n 2223` listens on every address, like rtpengine: reach it over IPv4 and IPv6.
    ns.run(|| ping_and_offer("127.0.0.1:2223".parse().unwrap(), "203.0.113.1"));
    ns.run(|| {
        let sock = std::net::UdpSocket::bind("[::1]:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let c = NgClient {
            sock,
            server: "[::1]:2223".parse().unwrap(),
        };
        let r = c.request(&[("command", s("ping"))]);
        assert_eq!(get_str(&r, "result"), "pong");
    });
    stop(child);
}

#[test]
fn no_arguments_means_loopback_defaults() {
    let ns = Netns::new("dflt", &[]);
    let (child, rx) = ns.spawn(&["-f", "-E"]);
    wait_for_line(&rx, "rtpbridge started");
    ns.run(|| ping_and_offer("127.0.0.1:2223".parse().unwrap(), "127.0.0.1"));
    ns.run(|| {
        // Media ports come from the default range.
        let c = NgClient::new("127.0.0.1:2223".parse().unwrap());
        let r = c.ok(&[
            ("command", s("offer")),
            ("call-id", s("cli-2")),
            ("from-tag", s("a")),
            ("sdp", s(&sdp("198.51.100.1", 6000, ""))),
        ]);
        let p = media_port(&get_str(&r, "sdp"));
        assert!((30000..=40000).contains(&p), "port {p}");
    });
    stop(child);
}

#[test]
fn unknown_option_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtpbridge"))
        .args(["--config-file=none", "-f", "--no-such-option"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-option"), "{err}");
}
