//! Cross-checks against webrtc-srtp, an independent implementation: for every profile both
//! implement, what one protects the other unprotects, and both produce the same bytes.

use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

use super::tests::rtp_packet;
use super::*;

const SHARED: [(SrtpProfile, ProtectionProfile); 6] = [
    (
        SrtpProfile::Aes128CmHmacSha1_80,
        ProtectionProfile::Aes128CmHmacSha1_80,
    ),
    (
        SrtpProfile::Aes128CmHmacSha1_32,
        ProtectionProfile::Aes128CmHmacSha1_32,
    ),
    (
        SrtpProfile::Aes256CmHmacSha1_80,
        ProtectionProfile::Aes256CmHmacSha1_80,
    ),
    (
        SrtpProfile::Aes256CmHmacSha1_32,
        ProtectionProfile::Aes256CmHmacSha1_32,
    ),
    (SrtpProfile::AeadAes128Gcm, ProtectionProfile::AeadAes128Gcm),
    (SrtpProfile::AeadAes256Gcm, ProtectionProfile::AeadAes256Gcm),
];

fn keys(profile: SrtpProfile, seed: u8) -> (Vec<u8>, Vec<u8>) {
    let key = (0..profile.master_key_len() as u8)
        .map(|i| i.wrapping_mul(31).wrapping_add(seed))
        .collect();
    let salt = (0..profile.master_salt_len() as u8)
        .map(|i| i.wrapping_mul(17) ^ seed)
        .collect();
    (key, salt)
}

fn theirs(p: ProtectionProfile, key: &[u8], salt: &[u8]) -> Context {
    Context::new(
        key,
        salt,
        p,
        Some(srtp_replay_protection(64)),
        Some(srtcp_replay_protection(64)),
    )
    .unwrap()
}

/// RTP packets crossing the sequence-number wrap, with and without a header extension and
/// CSRC, various payload sizes.
fn rtp_stream(ssrc: u32) -> Vec<Vec<u8>> {
    (0..700u32)
        .map(|i| {
            let seq = (65200 + i) as u16;
            let mut p = rtp_packet(seq, ssrc, (i as usize * 13) % 300);
            if i % 5 == 0 {
                // Add one CSRC and a two-word one-byte-header extension after the header.
                p[0] |= 0x11;
                let ext = [
                    0, 0, 0, 42, 0xbe, 0xde, 0, 2, 0x10, i as u8, 0x21, 1, 2, 0, 0, 0,
                ];
                p.splice(12..12, ext);
            }
            p
        })
        .collect()
}

/// RTCP compound packets: SR (with one report block) + SDES.
fn rtcp_packet(ssrc: u32, n: u32) -> Vec<u8> {
    let mut p = vec![0x81, 200, 0, 12];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x11; 20]);
    p.extend_from_slice(&[0x22; 20]);
    p[12] = n as u8;
    // SDES with one CNAME chunk: 4 + 4 + 2 + 6 (+ end, padded to 4) = 20 bytes.
    p.extend_from_slice(&[0x81, 202, 0, 4]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 6, b'r', b't', b'p', b'b', b'r', b'g', 0, 0, 0, 0]);
    p
}

#[test]
fn ours_and_webrtc_srtp_agree_on_srtp() {
    for (ours_p, theirs_p) in SHARED {
        let (key, salt) = keys(ours_p, 0x5a);
        let mut ours_tx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut ours_rx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut their_tx = theirs(theirs_p, &key, &salt);
        let mut their_rx = theirs(theirs_p, &key, &salt);
        for plain in rtp_stream(0x0bad_cafe) {
            let mut buf = plain.clone();
            buf.resize(plain.len() + ours_tx.rtp_overhead(), 0);
            let n = ours_tx.protect_rtp(&mut buf, plain.len()).unwrap();
            buf.truncate(n);

            let their_out = their_tx.encrypt_rtp(&plain).unwrap();
            assert_eq!(&buf[..], &their_out[..], "{ours_p}: identical SRTP bytes");

            let decrypted = their_rx.decrypt_rtp(&buf).unwrap();
            assert_eq!(
                &decrypted[..],
                &plain[..],
                "{ours_p}: webrtc-srtp reads ours"
            );

            let mut theirs_buf = their_out.to_vec();
            let n = ours_rx.unprotect_rtp(&mut theirs_buf).unwrap();
            assert_eq!(
                &theirs_buf[..n],
                &plain[..],
                "{ours_p}: we read webrtc-srtp's"
            );
        }
        assert_eq!(ours_rx.roc(0x0bad_cafe), Some(1), "{ours_p}");
    }
}

#[test]
fn ours_and_webrtc_srtp_agree_on_srtcp() {
    for (ours_p, theirs_p) in SHARED {
        let (key, salt) = keys(ours_p, 0x33);
        let ssrc = 0x4455_6677;
        let mut ours_tx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut ours_rx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut their_tx = theirs(theirs_p, &key, &salt);
        let mut their_rx = theirs(theirs_p, &key, &salt);
        // webrtc-srtp numbers its first SRTCP packet 1.
        ours_tx.set_srtcp_index(ssrc, 1);
        for n in 0..300 {
            let plain = rtcp_packet(ssrc, n);
            let mut buf = plain.clone();
            buf.resize(plain.len() + ours_tx.rtcp_overhead(), 0);
            let len = ours_tx.protect_rtcp(&mut buf, plain.len()).unwrap();
            buf.truncate(len);

            let their_out = their_tx.encrypt_rtcp(&plain).unwrap();
            assert_eq!(&buf[..], &their_out[..], "{ours_p}: identical SRTCP bytes");

            let decrypted = their_rx.decrypt_rtcp(&buf).unwrap();
            assert_eq!(&decrypted[..], &plain[..], "{ours_p}");

            let mut theirs_buf = their_out.to_vec();
            let len = ours_rx.unprotect_rtcp(&mut theirs_buf).unwrap();
            assert_eq!(&theirs_buf[..len], &plain[..], "{ours_p}");
        }
    }
}

#[test]
fn webrtc_srtp_rejects_what_we_reject() {
    // A tampered packet fails in both; a replay fails in both.
    for (ours_p, theirs_p) in SHARED {
        let (key, salt) = keys(ours_p, 0x77);
        let mut ours_tx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut ours_rx = SrtpContext::new(ours_p, &key, &salt).unwrap();
        let mut their_rx = theirs(theirs_p, &key, &salt);
        let plain = rtp_packet(10, 99, 160);
        let mut buf = plain.clone();
        buf.resize(plain.len() + ours_tx.rtp_overhead(), 0);
        let n = ours_tx.protect_rtp(&mut buf, plain.len()).unwrap();
        buf.truncate(n);
        let mut bad = buf.clone();
        bad[20] ^= 4;
        assert!(their_rx.decrypt_rtp(&bad).is_err());
        assert_eq!(
            ours_rx.unprotect_rtp(&mut bad.clone()),
            Err(SrtpError::AuthFailed)
        );
        their_rx.decrypt_rtp(&buf).unwrap();
        ours_rx.unprotect_rtp(&mut buf.clone()).unwrap();
        assert!(their_rx.decrypt_rtp(&buf).is_err());
        assert_eq!(
            ours_rx.unprotect_rtp(&mut buf.clone()),
            Err(SrtpError::Replay)
        );
    }
}
