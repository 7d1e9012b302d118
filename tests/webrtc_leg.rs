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
