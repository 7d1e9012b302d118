//! Both media worker engines through the real binary over real sockets: io_uring (the
//! default) and epoll (`--io-engine=epoll`, also the fallback where the kernel refuses
//! io_uring). Each case runs on each engine: a plain relay with churn (the ports kept for the
//! next call, or closed on delete, i.e. the receives cancelled), an SDES-SRTP relay checked
//! against webrtc-srtp, and WebRTC legs (ICE + DTLS-SRTP) with the project's own ICE/DTLS test
//! peer; and io_uring's datagram sizes, buffer ring and registered-file table.

mod common;
use common::*;

/// The engines, as `--io-engine` names them.
const ENGINES: [&str; 2] = ["uring", "epoll"];

/// A server whose media workers run `engine`.
fn server(engine: &str, extra: &[&str]) -> Server {
    let flag = format!("--io-engine={engine}");
    let mut args = vec![flag.as_str()];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The workers really ran `engine` (or, on a kernel that refuses io_uring, said they fell
/// back to epoll).
fn check_engine(srv: &Server, engine: &str) {
    // Each worker says which engine it runs as it starts, which can be after the server
    // first answers.
    assert!(srv.await_log("media worker uses"), "no engine reported");
    if engine == "uring" && srv.log_contains("io_uring unavailable") {
        eprintln!("io_uring refused by this kernel: the epoll fallback was tested");
        return;
    }
    assert!(
        !srv.log_contains("no registered-file table"),
        "{:?}",
        srv.log.lock().unwrap()
    );
    let want = if engine == "uring" {
        "media worker uses io_uring"
    } else {
        "media worker uses epoll"
    };
    assert!(srv.log_contains(want), "{:?}", srv.log.lock().unwrap());
}

/// A server whose workers run io_uring, or None on a kernel that refuses it (the epoll
/// fallback then runs, and the io_uring-only cases have nothing to check).
fn uring_server() -> Option<Server> {
    let srv = server("uring", &[]);
    check_engine(&srv, "uring");
    (!srv.log_contains("io_uring unavailable")).then_some(srv)
}

mod plain {
    use crate::common::*;
    use std::net::UdpSocket;

    use crate::common::plain_call as setup;

    #[test]
    fn relay_both_ways_delete_and_churn() {
        for engine in crate::ENGINES {
            relay_delete_and_churn(engine);
        }
    }

    fn relay_delete_and_churn(engine: &str) {
        let srv = crate::server(engine, &[]);
        let c = srv.client();
        let call = setup(&c, "uring-1", "", "", &[]);
        for _ in 0..3 {
            relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 50, 0x1111);
            relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 50, 0x2222);
        }
        crate::check_engine(&srv, engine);

        let q = c.ok(&[("command", s("query")), ("call-id", s("uring-1"))]);
        let totals = get(&q, "totals").unwrap();
        assert_eq!(get_int(get(totals, "RTP").unwrap(), "packets"), 300);

        c.ok(&[
            ("command", s("delete")),
            ("call-id", s("uring-1")),
            ("from-tag", s("tag-a")),
            ("delete-delay", Value::Int(0)),
        ]);
        let q = c.request(&[("command", s("query")), ("call-id", s("uring-1"))]);
        assert_eq!(get_str(&q, "result"), "error");
        // The ports stay open for the next call, their receives armed, and relay nothing.
        let idle = media_stat(&c, "idleport");
        // io_uring counts a relayed packet when its send completes, which can be after the
        // party has it: wait until all 300 are counted before taking the baseline.
        let relayed = await_media_stat(&c, "relayed", 300);
        assert_eq!(relayed, 300);
        call.a
            .send_to(&rtp(0x1111, 300, 1), ("127.0.0.1", call.to_a_side))
            .unwrap();
        call.b
            .send_to(&rtp(0x2222, 300, 2), ("127.0.0.1", call.to_b_side))
            .unwrap();
        assert_eq!(await_media_stat(&c, "idleport", idle + 2), idle + 2);
        assert_eq!(media_stat(&c, "relayed"), relayed);

        // Many calls set up and torn down: the kept ports and slab slots are reused, late
        // completions of the old legs must not reach the new ones.
        for i in 0..20 {
            let id = format!("uring-churn-{i}");
            let call = setup(&c, &id, "", "", &[]);
            relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 5, 0x3333);
            relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 5, 0x4444);
            c.ok(&[
                ("command", s("delete")),
                ("call-id", s(&id)),
                ("delete-delay", Value::Int(0)),
            ]);
        }
    }

    #[test]
    fn without_warm_ports_delete_cancels_receives_and_closes() {
        for engine in crate::ENGINES {
            delete_closes(engine);
        }
    }

    fn delete_closes(engine: &str) {
        let srv = crate::server(engine, &["--warm-ports=0"]);
        let c = srv.client();
        let call = setup(&c, "uring-cold", "", "", &[]);
        relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 5, 0x1111);
        crate::check_engine(&srv, engine);
        c.ok(&[
            ("command", s("delete")),
            ("call-id", s("uring-cold")),
            ("delete-delay", Value::Int(0)),
        ]);
        // The receives were cancelled: the ports are closed and can be bound again.
        UdpSocket::bind(("127.0.0.1", call.to_a_side)).expect("RTP port freed");
        UdpSocket::bind(("127.0.0.1", call.to_b_side + 1)).expect("RTCP port freed");
    }
}

mod sizes {
    use crate::common::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    use crate::common::plain_call as setup;

    /// One datagram to the relay; what reaches `to` (whole: the buffer is larger than anything
    /// sent), if anything.
    pub(super) fn through(
        from: &UdpSocket,
        port: u16,
        to: &UdpSocket,
        pkt: &[u8],
    ) -> Option<Vec<u8>> {
        from.send_to(pkt, ("127.0.0.1", port)).unwrap();
        to.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let got = to.recv(&mut buf).ok().map(|n| buf[..n].to_vec());
        to.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        got
    }

    /// A send the kernel refuses (a broadcast destination without SO_BROADCAST) is counted as
    /// a send error and not as relayed; the call goes on.
    #[test]
    fn failed_sends_are_counted_not_relayed() {
        for engine in crate::ENGINES {
            failed_sends(engine);
        }
    }

    fn failed_sends(engine: &str) {
        let srv = crate::server(engine, &[]);
        let c = srv.client();
        let a = udp("127.0.0.2:0");
        let a_port = a.local_addr().unwrap().port();
        c.ok(&[
            ("command", s("offer")),
            ("call-id", s("refused")),
            ("from-tag", s("tag-a")),
            ("sdp", s(&sdp("127.0.0.2", a_port, ""))),
        ]);
        let r = c.ok(&[
            ("command", s("answer")),
            ("call-id", s("refused")),
            ("from-tag", s("tag-a")),
            ("to-tag", s("tag-b")),
            ("sdp", s(&sdp("255.255.255.255", 9, ""))),
        ]);
        // The port the answer tells A to send to.
        let to_a_side = media_port(&get_str(&r, "sdp"));
        crate::check_engine(&srv, engine);
        let (errors, relayed) = (media_stat(&c, "senderrors"), media_stat(&c, "relayed"));
        for seq in 0..5 {
            a.send_to(&rtp(0x8888, seq, 1), ("127.0.0.1", to_a_side))
                .unwrap();
        }
        assert_eq!(
            await_media_stat(&c, "senderrors", errors + 5),
            errors + 5,
            "{engine}: each refused send counted"
        );
        assert_eq!(media_stat(&c, "relayed"), relayed, "{engine}: none relayed");
        let q = c.ok(&[("command", s("query")), ("call-id", s("refused"))]);
        assert_eq!(get_str(&q, "result"), "ok");
    }

    /// Bursts of datagrams, many of them in flight at once: each arrives exactly as sent and
    /// once. With io_uring a datagram leaves from the buffer it arrived in, which goes back to
    /// the ring for the next receive once the send has taken its bytes (and, with quiet sends,
    /// without a completion to say so).
    #[test]
    fn bursts_in_flight_keep_their_content() {
        for engine in crate::ENGINES {
            bursts(engine);
        }
    }

    fn bursts(engine: &str) {
        let srv = crate::server(engine, &[]);
        let c = srv.client();
        let call = setup(&c, "bursts", "", "", &[]);
        relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 3, 0x6666);
        relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 3, 0x7777);
        crate::check_engine(&srv, engine);
        let pkt = |seq: u16| {
            let mut p = rtp(0x6666, seq, 0);
            p.resize(200 + usize::from(seq % 5) * 150, 0);
            for (i, b) in p[12..].iter_mut().enumerate() {
                *b = (usize::from(seq) * 31 + i) as u8;
            }
            p
        };
        const BURST: u16 = 64;
        let mut seen = std::collections::HashSet::new();
        for burst in 0..20u16 {
            let first = 100 + burst * BURST;
            for seq in first..first + BURST {
                call.a
                    .send_to(&pkt(seq), ("127.0.0.1", call.to_a_side))
                    .unwrap();
            }
            let mut got = 0;
            while got < BURST {
                let Some((data, _)) = try_recv(&call.b, Duration::from_millis(500)) else {
                    break;
                };
                let seq = u16::from_be_bytes([data[2], data[3]]);
                assert_eq!(data, pkt(seq), "{engine}: datagram {seq} arrived as sent");
                assert!(seen.insert(seq), "{engine}: datagram {seq} arrived twice");
                got += 1;
            }
        }
        // Loopback with 64 datagrams per burst loses none in practice; a few may fall off a
        // full socket buffer on a loaded machine, which is not what this checks.
        assert!(
            seen.len() >= 20 * usize::from(BURST) * 9 / 10,
            "{engine}: {} of {} datagrams arrived",
            seen.len(),
            20 * BURST
        );
    }

    /// Datagrams up to 2 KB are relayed whole, from the very buffer they arrived in; a larger
    /// one is dropped and counted as malformed, and the next one still passes. Many more datagrams than the ring has buffers pass in a row.
    #[test]
    fn large_datagrams_and_a_full_ring_cycle() {
        let Some(srv) = crate::uring_server() else {
            return;
        };
        let c = srv.client();
        let call = setup(&c, "uring-sizes", "", "", &[]);
        let sized = |seq: u16, len: usize| {
            let mut p = rtp(0x5555, seq, seq as u8);
            p.resize(len, 0xa5);
            p
        };
        for (seq, len) in [(0u16, 172), (1, 1500), (2, 2048), (3, 2048)] {
            let pkt = sized(seq, len);
            let got = through(&call.a, call.to_a_side, &call.b, &pkt);
            assert_eq!(
                got.as_deref(),
                Some(&pkt[..]),
                "{len}-byte datagram relayed whole"
            );
        }
        let malformed = media_stat(&c, "malformed");
        call.a
            .send_to(&sized(4, 2049), ("127.0.0.1", call.to_a_side))
            .unwrap();
        assert_eq!(
            await_media_stat(&c, "malformed", malformed + 1),
            malformed + 1,
            "the drop is counted"
        );
        assert!(
            try_recv(&call.b, Duration::from_millis(1)).is_none(),
            "not relayed"
        );
        // Every buffer goes back to the ring after its send: far more datagrams than the
        // ring's buffers, the other way too.
        for seq in 5..1200u16 {
            let pkt = sized(seq, 200 + usize::from(seq % 7) * 300);
            let got = through(&call.b, call.to_b_side, &call.a, &pkt);
            assert_eq!(got.as_deref(), Some(&pkt[..]), "datagram {seq}");
        }
    }
}

mod sdes {
    use crate::common::sdes::*;

    #[test]
    fn plain_offer_to_sdes_answerer() {
        for engine in crate::ENGINES {
            sdes_relay(engine);
        }
    }

    fn sdes_relay(engine: &str) {
        let srv = crate::server(engine, &[]);
        let c = srv.client();
        let mut l = plain_to_sdes(&c, "uring-sdes", &[]);
        exchange(&mut l, 1);
        exchange(&mut l, 100);
        // A tampered packet is dropped; the next good one is what the plain party gets.
        tampered_then_good(&mut l, 159);
        assert_eq!(rtp_errors(&c, "uring-sdes"), 1);
        crate::check_engine(&srv, engine);
    }
}

/// The WebRTC leg (ICE + DTLS-SRTP) on each engine, with the shared test peer
/// (tests/common/webrtc.rs).
mod webrtc {
    use crate::common::webrtc::{run_with, Case, CASE};

    fn run(case: Case) {
        for engine in crate::ENGINES {
            let flag = format!("--io-engine={engine}");
            let server = run_with(case.clone(), &[flag.as_str()]);
            crate::check_engine(&server, engine);
            assert!(
                server.log_contains("DTLS certificate made"),
                "made on first use"
            );
        }
    }

    #[test]
    fn browser_offer_ice_dtls() {
        run(CASE);
    }

    #[test]
    fn plain_offer_to_browser_answerer() {
        run(Case {
            reverse: true,
            ..CASE
        });
    }

    #[test]
    fn dtls_srtp_peer_without_ice_rtpbridge_server() {
        run(Case {
            ice: false,
            dtls_flag: Some("passive"),
            ..CASE
        });
    }

    #[test]
    fn ice_host_candidates_on_every_interface_and_an_ipv6_browser() {
        run(Case {
            v6_peer: true,
            ..CASE
        });
    }
}

/// io_uring's connected twins: a media socket's second socket on its port, connected to
/// where its party receives, that relayed datagrams leave through (no route lookup per
/// send) and that the party's own datagrams then arrive on.
mod twins {
    use crate::common::*;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
    use std::time::Duration;

    use crate::common::plain_call as setup;

    /// The process's IPv4 UDP sockets: (local address, remote address if connected), from
    /// /proc/<pid>/net/udp and the process's descriptors.
    fn udp_sockets(pid: u32) -> Vec<(SocketAddr, Option<SocketAddr>)> {
        let inodes: std::collections::HashSet<String> =
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect();
        let addr = |hex: &str| {
            let (ip, port) = hex.split_once(':').unwrap();
            let ip = u32::from_str_radix(ip, 16).unwrap();
            let port = u16::from_str_radix(port, 16).unwrap();
            // The kernel prints the address as it is in memory (network order) read as a
            // native (little-endian) int.
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip.swap_bytes())), port)
        };
        std::fs::read_to_string(format!("/proc/{pid}/net/udp"))
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                if !inodes.contains(f[9]) {
                    return None;
                }
                let remote = addr(f[2]);
                Some((addr(f[1]), (remote.port() != 0).then_some(remote)))
            })
            .collect()
    }

    /// The remote addresses of the process's connected sockets on local `port`.
    fn connected_on(pid: u32, port: u16) -> Vec<SocketAddr> {
        udp_sockets(pid)
            .into_iter()
            .filter(|(l, _)| l.port() == port)
            .filter_map(|(_, r)| r)
            .collect()
    }

    /// A twin's receive names no source and its buffer has no room for one: a datagram too
    /// large for the relay is dropped and counted there too, never relayed cut short, and
    /// what follows passes whole.
    #[test]
    fn an_oversized_datagram_on_a_twin_is_dropped_and_counted() {
        let Some(srv) = crate::uring_server() else {
            return;
        };
        let c = srv.client();
        let pid = srv.child.id();
        let call = setup(&c, "twin-sizes", "", "", &[]);
        relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 20, 0x1111);
        relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 20, 0x2222);
        // From here on what A sends arrives on the twin.
        assert_eq!(
            connected_on(pid, call.to_a_side),
            vec![call.a.local_addr().unwrap()]
        );
        let sized = |seq: u16, len: usize| {
            let mut p = rtp(0x1111, seq, 1);
            p.resize(len, 0xa5);
            p
        };
        let malformed = media_stat(&c, "malformed");
        // Just over the limit, and over the whole receive buffer.
        for (seq, len) in [(20u16, 2049usize), (21, 4000)] {
            call.a
                .send_to(&sized(seq, len), ("127.0.0.1", call.to_a_side))
                .unwrap();
        }
        assert_eq!(
            await_media_stat(&c, "malformed", malformed + 2),
            malformed + 2,
            "both dropped and counted"
        );
        let pkt = sized(22, 2048);
        assert_eq!(
            super::sizes::through(&call.a, call.to_a_side, &call.b, &pkt).as_deref(),
            Some(&pkt[..]),
            "the next datagram passes whole (nothing of the dropped ones before it)"
        );
    }

    /// Receives `n` datagrams on `s` and returns their RTP sequence numbers.
    fn seqs(s: &UdpSocket, n: usize) -> Vec<u16> {
        (0..n)
            .map(|_| {
                let (p, _) = recv(s);
                u16::from_be_bytes([p[2], p[3]])
            })
            .collect()
    }

    /// Both parties send at once, so each side's twin is connected while the other's
    /// datagrams are on their way: every datagram arrives once and in order across the
    /// switch. Each side then has a twin connected to its party, and no other socket can
    /// bind the shared ports.
    #[test]
    fn media_stays_in_order_across_the_switch_and_the_ports_stay_private() {
        let Some(srv) = crate::uring_server() else {
            return;
        };
        let c = srv.client();
        let pid = srv.child.id();
        for round in 0..3 {
            let id = format!("twins-{round}");
            let call = setup(&c, &id, "", "", &[]);
            const N: u16 = 100;
            for seq in 0..N {
                call.a
                    .send_to(&rtp(0x1111, seq, 1), ("127.0.0.1", call.to_a_side))
                    .unwrap();
                call.b
                    .send_to(&rtp(0x2222, seq, 2), ("127.0.0.1", call.to_b_side))
                    .unwrap();
            }
            let want: Vec<u16> = (0..N).collect();
            assert_eq!(seqs(&call.b, N.into()), want, "A to B, in order");
            assert_eq!(seqs(&call.a, N.into()), want, "B to A, in order");
            assert_eq!(
                connected_on(pid, call.to_a_side),
                vec![call.a.local_addr().unwrap()],
                "A's side has one twin, connected to A"
            );
            assert_eq!(
                connected_on(pid, call.to_b_side),
                vec![call.b.local_addr().unwrap()]
            );
            assert!(UdpSocket::bind(("127.0.0.1", call.to_a_side)).is_err());
            let shared = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )
            .unwrap();
            shared.set_reuse_port(true).unwrap();
            let port: SocketAddr = ([127, 0, 0, 1], call.to_b_side).into();
            assert!(
                shared.bind(&port.into()).is_err(),
                "SO_REUSEPORT joins no port"
            );
            c.ok(&[
                ("command", s("delete")),
                ("call-id", s(&id)),
                ("delete-delay", Value::Int(0)),
            ]);
        }
    }

    /// A party that moves (IP handover, same stream) is latched at its new address after
    /// proving continuity; the twin follows it there, and media keeps flowing in order.
    #[test]
    fn the_twin_follows_a_party_that_moves() {
        let Some(srv) = crate::uring_server() else {
            return;
        };
        let c = srv.client();
        let pid = srv.child.id();
        let call = setup(&c, "twin-moves", "", "", &[]);
        relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 20, 0x1111);
        relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 20, 0x2222);
        assert_eq!(
            connected_on(pid, call.to_a_side),
            vec![call.a.local_addr().unwrap()]
        );
        // A moves: the same stream, continued from a new address.
        let a2 = udp("127.0.0.2:0");
        for seq in 20..40u16 {
            a2.send_to(&rtp(0x1111, seq, 3), ("127.0.0.1", call.to_a_side))
                .unwrap();
        }
        // The tenth proves continuity (default): it and the rest pass.
        assert_eq!(seqs(&call.b, 11), (29..40).collect::<Vec<_>>());
        // What B sends now goes to A's new address, in order; the twin moves there.
        for seq in 20..60u16 {
            call.b
                .send_to(&rtp(0x2222, seq, 4), ("127.0.0.1", call.to_b_side))
                .unwrap();
        }
        assert_eq!(seqs(&a2, 40), (20..60).collect::<Vec<_>>());
        assert_eq!(
            connected_on(pid, call.to_a_side),
            vec![a2.local_addr().unwrap()],
            "the twin moved to A's new address"
        );
        for seq in 40..80u16 {
            a2.send_to(&rtp(0x1111, seq, 5), ("127.0.0.1", call.to_a_side))
                .unwrap();
        }
        assert_eq!(seqs(&call.b, 40), (40..80).collect::<Vec<_>>());
    }

    /// A party whose port is closed makes the kernel answer with ICMP port unreachable, which
    /// a connected socket reports as an error: the relay counts the refused sends, and once
    /// the party is back on its port the media reaches it again (at most the first datagram
    /// is lost to an error still pending on the twin).
    #[test]
    fn a_party_that_was_unreachable_gets_media_again() {
        let Some(srv) = crate::uring_server() else {
            return;
        };
        let c = srv.client();
        let call = setup(&c, "twin-icmp", "", "", &[]);
        relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 20, 0x1111);
        let b_addr = call.b.local_addr().unwrap();
        drop(call.b);
        let done = || media_stat(&c, "relayed") + media_stat(&c, "senderrors");
        let before = done();
        for seq in 20..40u16 {
            call.a
                .send_to(&rtp(0x1111, seq, 1), ("127.0.0.1", call.to_a_side))
                .unwrap();
        }
        // All 20 handled (sent into the closed port, or refused) before B is back.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while done() < before + 20 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(done(), before + 20);
        let b = UdpSocket::bind(b_addr).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut got = Vec::new();
        for seq in 40..60u16 {
            call.a
                .send_to(&rtp(0x1111, seq, 2), ("127.0.0.1", call.to_a_side))
                .unwrap();
            if let Some((p, _)) = try_recv(&b, Duration::from_millis(500)) {
                got.push(u16::from_be_bytes([p[2], p[3]]));
            }
        }
        let first = *got.first().expect("media reaches B again");
        assert!(first <= 41, "at most the first datagram lost: {got:?}");
        assert_eq!(got, (first..60).collect::<Vec<_>>());
        let q = c.ok(&[("command", s("query")), ("call-id", s("twin-icmp"))]);
        assert_eq!(get_str(&q, "result"), "ok");
    }
}

/// The io_uring registered-file table is sized within the open-file limit (the kernel refuses
/// a table larger than RLIMIT_NOFILE, and every socket was then used by fd): a server whose
/// port range and addresses call for 400 slots, under a limit of 200 files, still gets its
/// table and relays.
#[test]
fn registered_file_table_fits_the_open_file_limit() {
    use std::os::unix::process::CommandExt;
    let ng = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (pmin, pmax) = (29000u16, 29099u16);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rtpbridge"));
    cmd.args([
        "--config-file=none",
        "-f",
        "-E",
        "-L",
        "7",
        "-i",
        "127.0.0.1",
        "--io-engine=uring",
        "-n",
        &ng.to_string(),
        "-m",
        &pmin.to_string(),
        "-M",
        &pmax.to_string(),
    ]);
    // SAFETY: setrlimit is async-signal-safe and touches only the child's own limits.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 200,
                rlim_max: 200,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let srv = Server::spawn_command(cmd, ng, pmin, pmax);
    let c = srv.client();
    let call = plain_call(&c, "fd-limit", "", "", &[]);
    relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 20, 0x3333);
    relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 20, 0x4444);
    check_engine(&srv, "uring");
}
