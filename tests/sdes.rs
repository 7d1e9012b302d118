//! SDES-SRTP bridged to plain RTP through the real binary over real sockets. The SRTP party's
//! side is webrtc-srtp, an independent implementation: what it encrypts rtpbridge must
//! decrypt, and what rtpbridge encrypts it must decrypt, byte for byte.

mod common;
use common::sdes::*;
use common::*;
use std::time::Duration;

use rtpbridge::dtls::sdes::CryptoAttribute;

#[test]
fn plain_offer_to_sdes_answerer() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let mut l = plain_to_sdes(&c, "sdes-1", &[]);
    exchange(&mut l, 1);

    // A tampered packet (one payload bit flipped) is dropped and counted; the next good one
    // is the next thing the plain party gets.
    let before = stats_srtp_drops(&c);
    tampered_then_good(&mut l, 59);
    assert_eq!(stats_srtp_drops(&c), before + 1);
    assert_eq!(
        rtp_errors(&c, "sdes-1"),
        1,
        "the leg counts the auth failure"
    );
}

#[test]
fn sdes_offer_to_plain_answerer_and_reinvite() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let (plain, plain_rtcp) = pair("127.0.0.2");
    let (srtp, srtp_rtcp) = pair("127.0.0.3");
    let (pp, sp) = (
        plain.local_addr().unwrap().port(),
        srtp.local_addr().unwrap().port(),
    );
    let offer_crypto = format!(
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}\r\na=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:8AbZePWwsKhLGX3GlXA+yHYPQ3cgraer/9DkFJYCOPZZy3o9wC0NIbIFYZfyHw==\r\n"
    );
    let offer_answer = || {
        let r = c.ok(&[
            ("command", s("offer")),
            ("call-id", s("sdes-2")),
            ("from-tag", s("srtp")),
            ("transport-protocol", s("RTP/AVP")),
            ("sdp", s(&srtp_sdp("127.0.0.3", sp, &offer_crypto))),
        ]);
        let offer = get_str(&r, "sdp");
        assert_eq!(m_protocol(&offer), "RTP/AVP");
        assert!(crypto_lines(&offer).is_empty(), "{offer}");
        let r = c.ok(&[
            ("command", s("answer")),
            ("call-id", s("sdes-2")),
            ("from-tag", s("srtp")),
            ("to-tag", s("plain")),
            ("sdp", s(&sdp("127.0.0.2", pp, ""))),
        ]);
        let answer = get_str(&r, "sdp");
        assert_eq!(
            m_protocol(&answer),
            "RTP/SAVP",
            "the SRTP offerer gets RTP/SAVP"
        );
        let lines = crypto_lines(&answer);
        assert_eq!(lines.len(), 1, "{answer}");
        assert_eq!(lines[0].tag, 1, "the offerer's first suite is chosen");
        assert_ne!(
            lines[0].master_key(),
            party_line().master_key(),
            "our own key"
        );
        (media_port(&offer), media_port(&answer), lines[0].clone())
    };
    let (to_plain, to_srtp, ours) = offer_answer();
    let mut l = Legs {
        plain,
        plain_rtcp,
        srtp,
        srtp_rtcp,
        to_plain,
        to_srtp,
        party_tx: ctx(&party_line()),
        party_rx: ctx(&ours),
    };
    exchange(&mut l, 1);
    // A re-INVITE: same ports, same key; the crypto state carries on and media keeps flowing.
    let again = offer_answer();
    assert_eq!(
        again,
        (to_plain, to_srtp, ours),
        "a re-INVITE keeps ports and our key"
    );
    exchange(&mut l, 51);
    assert!(
        try_recv(&l.plain, Duration::from_millis(50)).is_none(),
        "nothing extra was relayed"
    );
}

/// SDES on both sides with no common suite choice: the offerer offers only
/// AES_CM_128_HMAC_SHA1_80, the answerer takes the AES_CM_128_HMAC_SHA1_32 line we added, so
/// rtpbridge decrypts with one party's key and encrypts with another, per direction.
#[test]
fn sdes_to_sdes_with_different_suites_reencrypts() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let (a, _a_rtcp) = pair("127.0.0.2");
    let (b, _b_rtcp) = pair("127.0.0.3");
    let (ap, bp) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let a_line = party_line();
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("sdes-3")),
        ("from-tag", s("a")),
        (
            "sdp",
            s(&srtp_sdp(
                "127.0.0.2",
                ap,
                &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}\r\n"),
            )),
        ),
    ]);
    let offer = get_str(&r, "sdp");
    let ours_to_b = crypto_lines(&offer);
    assert_eq!(
        ours_to_b[0], a_line,
        "the offerer's line passes through first"
    );
    let to_b = ours_to_b
        .iter()
        .find(|l| l.suite.sdes_name() == "AES_CM_128_HMAC_SHA1_32")
        .unwrap()
        .clone();
    let b_key = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
    let b_line = CryptoAttribute::parse(&format!(
        "{} AES_CM_128_HMAC_SHA1_32 inline:{b_key}",
        to_b.tag
    ))
    .unwrap();
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s("sdes-3")),
        ("from-tag", s("a")),
        ("to-tag", s("b")),
        (
            "sdp",
            s(&srtp_sdp(
                "127.0.0.3",
                bp,
                &format!(
                    "a=crypto:{} AES_CM_128_HMAC_SHA1_32 inline:{b_key}\r\n",
                    to_b.tag
                ),
            )),
        ),
    ]);
    let answer = get_str(&r, "sdp");
    let to_a = crypto_lines(&answer);
    assert_eq!(to_a.len(), 1, "{answer}");
    assert_eq!((to_a[0].tag, to_a[0].suite), (1, a_line.suite));
    assert_ne!(
        to_a[0].master_key(),
        a_line.master_key(),
        "a fresh key of ours"
    );
    let (to_a_port, to_b_port) = (media_port(&answer), media_port(&offer));

    let (mut a_tx, mut a_rx) = (ctx(&a_line), ctx(&to_a[0]));
    let (mut b_tx, mut b_rx) = (ctx(&b_line), ctx(&to_b));
    for seq in 1..=50u16 {
        let pkt = rtp(0xa, seq, seq as u8);
        a.send_to(&a_tx.encrypt_rtp(&pkt).unwrap(), ("127.0.0.1", to_a_port))
            .unwrap();
        let (got, _) = recv(&b);
        assert_eq!(got.len(), pkt.len() + 4, "the 32-bit tag towards B");
        assert_eq!(&b_rx.decrypt_rtp(&got).unwrap()[..], &pkt[..]);

        let pkt = rtp(0xb, seq, !(seq as u8));
        b.send_to(&b_tx.encrypt_rtp(&pkt).unwrap(), ("127.0.0.1", to_b_port))
            .unwrap();
        let (got, _) = recv(&a);
        assert_eq!(got.len(), pkt.len() + 10, "the 80-bit tag towards A");
        assert_eq!(&a_rx.decrypt_rtp(&got).unwrap()[..], &pkt[..]);
    }
}

/// OSRTP=offer: a plain offer goes out as RTP/AVP with `a=crypto` lines; the answerer takes
/// one (still RTP/AVP), so it gets SRTP while the offerer keeps plain RTP.
#[test]
fn osrtp_offer_accepted() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let (plain, plain_rtcp) = pair("127.0.0.2");
    let (srtp, srtp_rtcp) = pair("127.0.0.3");
    let (pp, sp) = (
        plain.local_addr().unwrap().port(),
        srtp.local_addr().unwrap().port(),
    );
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("osrtp-1")),
        ("from-tag", s("plain")),
        ("OSRTP", list(&["offer"])),
        ("sdp", s(&sdp("127.0.0.2", pp, ""))),
    ]);
    let offer = get_str(&r, "sdp");
    assert_eq!(
        m_protocol(&offer),
        "RTP/AVP",
        "OSRTP keeps the plain protocol"
    );
    let chosen = crypto_lines(&offer)
        .into_iter()
        .find(|l| l.suite.sdes_name() == "AES_CM_128_HMAC_SHA1_80")
        .expect("SDES lines offered");
    let mut party = party_line();
    party.tag = chosen.tag;
    let answer_sdp = sdp(
        "127.0.0.3",
        sp,
        &format!(
            "a=crypto:{} AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}\r\n",
            chosen.tag
        ),
    );
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s("osrtp-1")),
        ("from-tag", s("plain")),
        ("to-tag", s("srtp")),
        ("sdp", s(&answer_sdp)),
    ]);
    let answer = get_str(&r, "sdp");
    assert!(crypto_lines(&answer).is_empty(), "{answer}");
    let mut l = Legs {
        plain,
        plain_rtcp,
        srtp,
        srtp_rtcp,
        to_plain: media_port(&answer),
        to_srtp: media_port(&offer),
        party_tx: ctx(&party),
        party_rx: ctx(&chosen),
    };
    exchange(&mut l, 1);
}

#[test]
fn sdes_call_is_recorded_decrypted() {
    let dir = std::env::temp_dir().join(format!("rtpbridge-sdes-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let srv = Server::start(&[&format!("--recording-dir={}", dir.display())]);
    let c = srv.client();
    let mut l = plain_to_sdes(&c, "sdes-rec", &[("record-call", s("yes"))]);
    exchange(&mut l, 1);
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("sdes-rec")),
        ("delete-delay", Value::Int(0)),
    ]);
    let pcaps: Vec<_> = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(pcaps.len(), 1, "{pcaps:?}");
    // What the SRTP party sent (SSRC 0x2222) is in the file as plain RTP: the payload bytes
    // it encrypted, with no auth tag.
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            pcaps[0].to_str().unwrap(),
            "-o",
            "rtp.heuristic_rtp:TRUE",
        ])
        .args(["-Y", "rtp.ssrc == 0x2222", "-T", "fields"])
        .args(["-e", "rtp.seq", "-e", "udp.length", "-e", "rtp.payload"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 50, "{text}");
    for row in rows {
        let f: Vec<&str> = row.split('\t').collect();
        let seq: u16 = f[0].parse().unwrap();
        assert_eq!(f[1], "180", "8 UDP + 12 RTP + 160 payload, no SRTP tag");
        let want = format!("{:02x}", !(seq as u8)).repeat(160);
        assert_eq!(
            f[2].replace(':', ""),
            want,
            "packet {seq} recorded decrypted"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
