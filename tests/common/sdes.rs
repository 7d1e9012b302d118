//! SDES-SRTP test helpers shared by tests/sdes.rs and tests/uring_engine.rs: a plain party
//! and an SDES party (webrtc-srtp, an independent implementation) around rtpbridge.

use std::net::UdpSocket;
use std::time::Duration;

use super::*;
use rtpbridge::dtls::sdes::CryptoAttribute;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// The SDES party's own key (AES_CM_128_HMAC_SHA1_80, 30 bytes of key and salt).
pub const PARTY_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

pub fn srtp_sdp(ip: &str, port: u16, crypto: &str) -> String {
    format!(
        "v=0\r\no=- 1545997027 1 IN IP4 {ip}\r\ns=tester\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/SAVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n{crypto}"
    )
}

pub fn m_protocol(sdp: &str) -> String {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split(' ').nth(1))
        .expect("m=audio protocol")
        .to_string()
}

pub fn crypto_lines(sdp: &str) -> Vec<CryptoAttribute> {
    sdp.lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"))
        .map(|v| CryptoAttribute::parse(v).expect("our a=crypto parses"))
        .collect()
}

/// A webrtc-srtp context for one AES_CM_128_HMAC_SHA1_80 or _32 line.
pub fn ctx(line: &CryptoAttribute) -> Context {
    let profile = match line.suite.sdes_name() {
        "AES_CM_128_HMAC_SHA1_80" => ProtectionProfile::Aes128CmHmacSha1_80,
        "AES_CM_128_HMAC_SHA1_32" => ProtectionProfile::Aes128CmHmacSha1_32,
        other => panic!("no test context for {other}"),
    };
    Context::new(line.master_key(), line.master_salt(), profile, None, None)
        .expect("webrtc-srtp context")
}

pub fn party_line() -> CryptoAttribute {
    CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}")).unwrap()
}

/// An RTCP sender report from `ssrc` (28 bytes).
pub fn rtcp_sr(ssrc: u32, n: u8) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0x00, 0x06];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[n; 20]);
    p
}

pub struct Legs {
    pub plain: UdpSocket,
    pub plain_rtcp: UdpSocket,
    pub srtp: UdpSocket,
    pub srtp_rtcp: UdpSocket,
    /// rtpbridge's ports facing each party.
    pub to_plain: u16,
    pub to_srtp: u16,
    /// Encrypts what the SRTP party sends, decrypts what it receives.
    pub party_tx: Context,
    pub party_rx: Context,
}

/// The SRTP party sends packet `seq` with one payload bit flipped, then packet `seq + 1`
/// intact: the tampered one must not reach the plain party, the good one must be the next
/// thing it gets.
pub fn tampered_then_good(l: &mut Legs, seq: u16) {
    let good = rtp(0x2222, seq + 1, 1);
    let mut bad = l
        .party_tx
        .encrypt_rtp(&rtp(0x2222, seq, 2))
        .unwrap()
        .to_vec();
    bad[20] ^= 0x01;
    l.srtp.send_to(&bad, ("127.0.0.1", l.to_srtp)).unwrap();
    let enc = l.party_tx.encrypt_rtp(&good).unwrap();
    l.srtp.send_to(&enc, ("127.0.0.1", l.to_srtp)).unwrap();
    let (got, _) = recv(&l.plain);
    assert_eq!(got, good, "the tampered packet was not forwarded");
}

/// Plain RTP one way, SRTP the other: 50 RTP packets each way and RTCP both ways, checked
/// byte for byte after decryption. `seq0` lets a re-INVITE continue the streams.
pub fn exchange(l: &mut Legs, seq0: u16) {
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
pub fn pair(ip: &str) -> (UdpSocket, UdpSocket) {
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

pub fn stats_srtp_drops(c: &NgClient) -> i64 {
    media_stat(c, "srtpauth")
}

pub fn rtp_errors(c: &NgClient, call_id: &str) -> i64 {
    let r = c.ok(&[("command", s("query")), ("call-id", s(call_id))]);
    get_int(get(get(&r, "totals").unwrap(), "RTP").unwrap(), "errors")
}

/// A plain offerer (127.0.0.2) and an SDES answerer (127.0.0.3) set up through NG, with `extra`
/// keys on the offer.
pub fn plain_to_sdes(c: &NgClient, call_id: &str, extra: &[(&str, Value)]) -> Legs {
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
