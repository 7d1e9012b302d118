//! The WebRTC leg over real sockets, without a browser: a test peer built from the project's
//! sans-IO ICE agent, OpenSSL DTLS endpoint and SRTP (each checked against independent
//! implementations in its own tests: stun_codec, webrtc-rs dtls, webrtc-srtp) calls a plain
//! RTP endpoint through the real rtpbridge binary. The headless-Chromium test
//! (tests/webrtc_browser.rs) is the real-peer check; this one is fast and runs every variant.

mod common;

use common::webrtc::*;
use common::*;

#[test]
fn browser_offer_ice_dtls_rtpbridge_client() {
    run(Case {
        ice: true,
        dtls_flag: None,
        reverse: false,
        record: None,
        v6_peer: false,
        spray: false,
    });
}

#[test]
fn browser_offer_ice_dtls_rtpbridge_server() {
    run(Case {
        ice: true,
        dtls_flag: Some("passive"),
        reverse: false,
        record: None,
        v6_peer: false,
        spray: false,
    });
}

#[test]
fn plain_offer_to_browser_answerer() {
    run(Case {
        ice: true,
        dtls_flag: None,
        reverse: true,
        record: None,
        v6_peer: false,
        spray: false,
    });
}

#[test]
fn dtls_srtp_peer_without_ice() {
    run(Case {
        ice: false,
        dtls_flag: None,
        reverse: false,
        record: None,
        v6_peer: false,
        spray: false,
    });
}

#[test]
fn dtls_srtp_peer_without_ice_rtpbridge_server() {
    run(Case {
        ice: false,
        dtls_flag: Some("passive"),
        reverse: false,
        record: None,
        v6_peer: false,
        spray: false,
    });
}

#[test]
fn webrtc_call_is_recorded_decrypted() {
    let dir = std::env::temp_dir().join(format!("rtpbridge-webrtc-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    run(Case {
        ice: true,
        dtls_flag: None,
        reverse: false,
        record: Some(dir.clone()),
        v6_peer: false,
        spray: false,
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ice_host_candidates_on_every_interface_and_an_ipv6_browser() {
    run(Case {
        ice: true,
        dtls_flag: None,
        reverse: false,
        record: None,
        v6_peer: true,
        spray: false,
    });
}

/// Sprayed calls in a series (`RTPBRIDGE_SPRAY_CALLS` overrides).
fn spray_calls() -> usize {
    std::env::var("RTPBRIDGE_SPRAY_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(20)
}

/// Sprayed calls one after the other on one server, cycling through `cases`: each must
/// complete DTLS and carry 50 packets each way intact (`run_on` asserts it), and rtpbridge
/// must have dropped sprayed hellos for their source.
fn spray_series(cases: &[Case]) {
    let server = Server::start(&[]);
    let n = spray_calls();
    for i in 0..n {
        let case = &cases[i % cases.len()];
        let c = run_on(&server, case).expect("a sprayed call reports its spray");
        eprintln!(
            "sprayed call {}/{n} (dtls flag {:?}, reverse {}): ok; {} ClientHellos sprayed, \
             dtlssourcerejected +{}",
            i + 1,
            case.dtls_flag,
            case.reverse,
            c.sent,
            c.source_rejected
        );
        assert!(c.sent > 0, "call {}: the spray sent nothing", i + 1);
        assert!(
            c.source_rejected > 0,
            "call {}: rtpbridge counted no DTLS dropped for its source ({c:?})",
            i + 1
        );
    }
    eprintln!("{n}/{n} sprayed calls kept two-way media");
}

/// ES2023-03 against a DTLS-SRTP peer without ICE, rtpbridge as DTLS client (it answers
/// `active`): only the SDP address and the latch tell the peer from the sprayer.
#[test]
fn sprayed_client_hellos_peer_without_ice_rtpbridge_client() {
    spray_series(&[Case {
        ice: false,
        spray: true,
        ..CASE
    }]);
}

/// The same with rtpbridge as DTLS server (it answers `passive`).
#[test]
fn sprayed_client_hellos_peer_without_ice_rtpbridge_server() {
    spray_series(&[Case {
        ice: false,
        dtls_flag: Some("passive"),
        spray: true,
        ..CASE
    }]);
}

/// rtpbridge offers `actpass` to the peer, which answers `active` (rtpbridge is server); the
/// spray starts with the offer, so it has the port to itself until the answer. Until the
/// peer's SDP arrives its leg relays nothing and opens no handshake (no SDP address, no ICE);
/// the peer's own hello, retransmitted after the answer, then gets through.
#[test]
fn sprayed_client_hellos_before_the_answer_peer_without_ice() {
    spray_series(&[Case {
        ice: false,
        reverse: true,
        spray: true,
        ..CASE
    }]);
}

/// An ICE restart on a re-offer, as a browser does when its network changes: the peer moves to
/// a new socket with a new ufrag/pwd and re-offers. rtpbridge must answer with new credentials
/// of its own, check the new address with them, move the media there (it takes media only
/// from checked addresses) and keep the DTLS-SRTP association and its keys.
#[test]
fn ice_restart_on_reoffer_moves_the_media_to_the_new_address() {
    use rtpbridge::ice::{Candidate, Credentials, IceAgent, IceConfig};
    use std::net::UdpSocket;
    use std::time::{Duration, Instant};

    let server = Server::start(&[]);
    let ng = server.client();
    let plain = udp("127.0.0.1:0");
    let plain_port = plain.local_addr().unwrap().port();
    let mut peer = WebPeer::new(true, "127.0.0.1:0");
    let call = format!("ice-restart-{plain_port}");
    let offer = |sdp: &str| {
        let r = ng.ok(&[
            ("command", s("offer")),
            ("call-id", s(&call)),
            ("from-tag", s("browser")),
            ("sdp", s(sdp)),
            ("ICE", s("remove")),
            ("transport-protocol", s("RTP/AVP")),
            ("rtcp-mux", list(&["demux"])),
        ]);
        media_port(&get_str(&r, "sdp"))
    };
    let answer = || {
        let r = ng.ok(&[
            ("command", s("answer")),
            ("call-id", s(&call)),
            ("from-tag", s("browser")),
            ("to-tag", s("phone")),
            ("sdp", s(&plain_sdp(plain_port))),
            ("ICE", s("force")),
            ("transport-protocol", s("UDP/TLS/RTP/SAVPF")),
        ]);
        get_str(&r, "sdp")
    };
    let to_plain_port = offer(&peer.sdp("actpass"));
    let first = answer();
    peer.take_remote(&first, Instant::now());
    assert!(
        peer.pump(Duration::from_secs(10), |p| p.send_ctx.is_some()),
        "DTLS connects"
    );
    let to_relay_plain: std::net::SocketAddr =
        format!("127.0.0.1:{to_plain_port}").parse().unwrap();
    let both_ways = |peer: &mut WebPeer, seq0: u16| {
        let before = peer.media.len();
        for i in 0..10u16 {
            peer.send_rtp(&rtp(0x1111, seq0 + i, 7));
            plain
                .send_to(&rtp(0x2222, seq0 + i, 9), to_relay_plain)
                .unwrap();
        }
        for i in 0..10u16 {
            let (p, _) = recv(&plain);
            assert_eq!(p, rtp(0x1111, seq0 + i, 7), "peer -> plain after {seq0}");
        }
        assert!(peer.pump(Duration::from_secs(5), |p| p.media.len() >= before + 10));
        assert_eq!(
            peer.media[before..].to_vec(),
            (0..10u16)
                .map(|i| rtp(0x2222, seq0 + i, 9))
                .collect::<Vec<_>>()
        );
    };
    both_ways(&mut peer, 100);

    // The network changes: a new socket, new ICE credentials, a re-offer.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = sock.local_addr().unwrap();
    let creds = Credentials {
        ufrag: "restartUfrag".into(),
        pwd: "restartPasswordOf22Chr".into(),
    };
    let mut agent = IceAgent::new(IceConfig {
        controlling: true,
        local_credentials: Some(creds.clone()),
        nomination_delay: Duration::from_millis(100),
        ..IceConfig::default()
    });
    agent.add_local_candidate(local, 1).unwrap();
    peer.sock = sock;
    peer.local = local;
    peer.ice = Some(agent);
    peer.creds = creds;
    peer.selected = None;
    assert_eq!(offer(&peer.sdp("actpass")), to_plain_port, "ports are kept");
    let second = answer();
    let ufrag = |sdp: &str| attr(sdp, "ice-ufrag").unwrap().to_string();
    let pwd = |sdp: &str| attr(sdp, "ice-pwd").unwrap().to_string();
    assert_ne!(
        ufrag(&first),
        ufrag(&second),
        "new ufrag answers the restart"
    );
    assert_ne!(pwd(&first), pwd(&second), "new pwd answers the restart");
    assert_eq!(attr(&first, "fingerprint"), attr(&second, "fingerprint"));
    {
        let a = peer.ice.as_mut().unwrap();
        a.set_remote_credentials(&ufrag(&second), &pwd(&second))
            .unwrap();
        for l in second
            .lines()
            .filter_map(|l| l.trim_end().strip_prefix("a=candidate:"))
        {
            a.add_remote_candidate(Candidate::parse(l).unwrap().unwrap())
                .unwrap();
        }
        a.handle_timeout(Instant::now());
    }
    assert!(
        peer.pump(Duration::from_secs(10), |p| p.selected.is_some()),
        "the checks with the new credentials succeed"
    );
    // Media from the new address is taken, and media to the peer goes there now.
    both_ways(&mut peer, 200);
}
