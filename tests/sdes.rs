//! SDES-SRTP bridged to plain RTP through the real binary over real sockets. The SRTP party's
//! side is webrtc-srtp, an independent implementation: what it encrypts rtpbridge must
//! decrypt, and what rtpbridge encrypts it must decrypt, byte for byte.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

use rtpbridge::dtls::sdes::CryptoAttribute;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The SDES party's own key (AES_CM_128_HMAC_SHA1_80, 30 bytes of key and salt).
const PARTY_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn srtp_sdp(ip: &str, port: u16, crypto: &str) -> String {
    format!(
        "v=0\r\no=- 1545997027 1 IN IP4 {ip}\r\ns=tester\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/SAVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n{crypto}"
    )
}

fn m_protocol(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').nth(1))
        .expect("m=audio protocol")
        .to_string()
}

fn crypto_lines(sdp: &str) -> Vec<CryptoAttribute> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"))
        .map(|v| CryptoAttribute::parse(v).expect("our a=crypto parses"))
        .collect()
}

/// A webrtc-srtp context for one AES_CM_128_HMAC_SHA1_80 or _32 line.
fn ctx(line: &CryptoAttribute) -> Context {
    let profile = match line.suite.sdes_name() {
        "AES_CM_128_HMAC_SHA1_80" => ProtectionProfile::Aes128CmHmacSha1_80,
        "AES_CM_128_HMAC_SHA1_32" => ProtectionProfile::Aes128CmHmacSha1_32,
        other => panic!("no test context for {other}"),
    };
    Context::new(line.master_key(), line.master_salt(), profile, None, None)
        .expect("webrtc-srtp context")
}

fn party_line() -> CryptoAttribute {
    CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}")).unwrap()
}

/// An RTCP sender report from `ssrc` (28 bytes).
fn rtcp_sr(ssrc: u32, n: u8) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0x00, 0x06];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[n; 20]);
    p
}

struct Legs {
    plain: UdpSocket,
    plain_rtcp: UdpSocket,
    srtp: UdpSocket,
    srtp_rtcp: UdpSocket,
    /// rtpbridge's ports facing each party.
    to_plain: u16,
    to_srtp: u16,
    /// Encrypts what the SRTP party sends, decrypts what it receives.
    party_tx: Context,
    party_rx: Context,
}

/// Plain RTP one way, SRTP the other: 50 RTP packets each way and RTCP both ways, checked
/// byte for byte after decryption. `seq0` lets a re-INVITE continue the streams.
fn exchange(l: &mut Legs, seq0: u16) {
    for i in 0..50u16 {
        let seq = seq0 + i;
        let pkt = rtp(0x1111, seq, seq as u8);
        l.plain.send_to(&pkt, ("127.0.0.1", l.to_plain)).unwrap();
        let (got, _) = recv(&l.srtp);
        assert_eq!(got.len(), pkt.len() + 10, "SRTP adds the 80-bit tag");
        assert_ne!(got[12..], pkt[12..], "payload is encrypted");
        let plain = l
            .party_rx
            .decrypt_rtp(&got)
            .expect("rtpbridge's SRTP decrypts");
        assert_eq!(&plain[..], &pkt[..], "packet {seq} to the SRTP party");

        let pkt = rtp(0x2222, seq, !(seq as u8));
        let enc = l.party_tx.encrypt_rtp(&pkt).unwrap();
        l.srtp.send_to(&enc, ("127.0.0.1", l.to_srtp)).unwrap();
        let (got, _) = recv(&l.plain);
        assert_eq!(got, pkt, "packet {seq} to the plain party, decrypted");
    }
    // RTCP both ways, on the RTCP ports (no rtcp-mux).
    let rr = rtcp_sr(0x1111, seq0 as u8);
    l.plain_rtcp
        .send_to(&rr, ("127.0.0.1", l.to_plain + 1))
        .unwrap();
    let (got, _) = recv(&l.srtp_rtcp);
    let plain = l
        .party_rx
        .decrypt_rtcp(&got)
        .expect("rtpbridge's SRTCP decrypts");
    assert_eq!(&plain[..], &rr[..]);

    let sr = rtcp_sr(0x2222, seq0 as u8);
    let enc = l.party_tx.encrypt_rtcp(&sr).unwrap();
    l.srtp_rtcp
        .send_to(&enc, ("127.0.0.1", l.to_srtp + 1))
        .unwrap();
    let (got, _) = recv(&l.plain_rtcp);
    assert_eq!(got, sr, "SRTCP decrypted for the plain party");
}

/// Two sockets on consecutive ports (RTP, RTCP) on `ip`.
fn pair(ip: &str) -> (UdpSocket, UdpSocket) {
    loop {
        let s = udp(&format!("{ip}:0"));
        let p = s.local_addr().unwrap().port();
        if p < 65535 {
            if let Ok(r) = UdpSocket::bind((ip, p + 1)) {
                r.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                return (s, r);
            }
        }
    }
}

fn stats_srtp_drops(c: &NgClient) -> i64 {
    let r = c.ok(&[("command", s("statistics"))]);
    let m = get(get(&r, "statistics").unwrap(), "mediastatistics").unwrap();
    get_int(m, "srtpauth")
}

fn rtp_errors(c: &NgClient, call_id: &str) -> i64 {
    let r = c.ok(&[("command", s("query")), ("call-id", s(call_id))]);
    get_int(get(get(&r, "totals").unwrap(), "RTP").unwrap(), "errors")
}

/// A plain offerer (127.0.0.2) and an SDES answerer (127.0.0.3) set up through NG, with `extra`
/// keys on the offer.
fn plain_to_sdes(c: &NgClient, call_id: &str, extra: &[(&str, Value)]) -> Legs {
    let (plain, plain_rtcp) = pair("127.0.0.2");
    let (srtp, srtp_rtcp) = pair("127.0.0.3");
    let (pp, sp) = (
        plain.local_addr().unwrap().port(),
        srtp.local_addr().unwrap().port(),
    );
    let mut offer_req = vec![
        ("command", s("offer")),
        ("call-id", s(call_id)),
        ("from-tag", s("plain")),
        ("transport-protocol", s("RTP/SAVP")),
        ("sdp", s(&sdp("127.0.0.2", pp, ""))),
    ];
    offer_req.extend(extra.iter().cloned());
    let r = c.ok(&offer_req);
    let offer = get_str(&r, "sdp");
    assert_eq!(m_protocol(&offer), "RTP/SAVP");
    let ours = crypto_lines(&offer);
    assert_eq!(ours.len(), 12, "rtpengine's twelve suites: {offer}");
    let chosen = ours
        .iter()
        .find(|l| l.suite.sdes_name() == "AES_CM_128_HMAC_SHA1_80")
        .unwrap()
        .clone();
    let mut party = party_line();
    party.tag = chosen.tag;
    let answer_crypto = format!(
        "a=crypto:{} AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}\r\n",
        chosen.tag
    );
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s(call_id)),
        ("from-tag", s("plain")),
        ("to-tag", s("srtp")),
        ("sdp", s(&srtp_sdp("127.0.0.3", sp, &answer_crypto))),
    ]);
    let answer = get_str(&r, "sdp");
    assert_eq!(
        m_protocol(&answer),
        "RTP/AVP",
        "the plain offerer gets RTP/AVP"
    );
    assert!(crypto_lines(&answer).is_empty(), "{answer}");
    Legs {
        plain,
        plain_rtcp,
        srtp,
        srtp_rtcp,
        to_plain: media_port(&answer),
        to_srtp: media_port(&offer),
        party_tx: ctx(&party),
        party_rx: ctx(&chosen),
    }
}

#[test]
fn plain_offer_to_sdes_answerer() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let mut l = plain_to_sdes(&c, "sdes-1", &[]);
    exchange(&mut l, 1);

    // A tampered packet (one payload bit flipped) is dropped and counted; the next good one
    // is the next thing the plain party gets.
    let before = stats_srtp_drops(&c);
    let good = rtp(0x2222, 60, 1);
    let mut bad = l
        .party_tx
        .encrypt_rtp(&rtp(0x2222, 59, 2))
        .unwrap()
        .to_vec();
    bad[20] ^= 0x01;
    l.srtp.send_to(&bad, ("127.0.0.1", l.to_srtp)).unwrap();
    let enc = l.party_tx.encrypt_rtp(&good).unwrap();
    l.srtp.send_to(&enc, ("127.0.0.1", l.to_srtp)).unwrap();
    let (got, _) = recv(&l.plain);
    assert_eq!(got, good, "the tampered packet was not forwarded");
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
