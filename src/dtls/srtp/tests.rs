//! Known-answer vectors and behaviour tests for SRTP/SRTCP.

use super::*;

pub(super) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Protects `pkt` in a buffer with room to spare and returns the SRTP packet.
fn protect(ctx: &mut SrtpContext, pkt: &[u8]) -> Vec<u8> {
    let mut buf = pkt.to_vec();
    buf.resize(pkt.len() + ctx.rtp_overhead(), 0);
    let n = ctx.protect_rtp(&mut buf, pkt.len()).unwrap();
    buf.truncate(n);
    buf
}

fn protect_rtcp(ctx: &mut SrtpContext, pkt: &[u8]) -> Vec<u8> {
    let mut buf = pkt.to_vec();
    buf.resize(pkt.len() + ctx.rtcp_overhead(), 0);
    let n = ctx.protect_rtcp(&mut buf, pkt.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(ctx: &mut SrtpContext, pkt: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = pkt.to_vec();
    let n = ctx.unprotect_rtp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn unprotect_rtcp(ctx: &mut SrtpContext, pkt: &[u8]) -> Result<Vec<u8>, SrtpError> {
    let mut buf = pkt.to_vec();
    let n = ctx.unprotect_rtcp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

pub(super) fn rtp_packet(seq: u16, ssrc: u32, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seq as u8)));
    p
}

// Vectors shared by libsrtp's srtp_driver and RFC 6188 checks: master key material of 46
// bytes; AES-128 takes key [0..16] + salt [16..30], AES-192 [0..24] + [24..38], AES-256
// [0..32] + [32..46]. ROC 0, SSRC 0xcafebabe, SEQ 0x1234; SRTCP index 1.
const KAT_KEY: &str = "e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6c173\
                       c317f2dabe357793b6960b3aabe6";
const KAT_RTP: &str = "800f1234decafbadcafebabeabababababababababababababababab";
const KAT_RTCP: &str = "81c8000bcafebabeabababababababababababababababab";

fn kat(profile: SrtpProfile, key_len: usize, srtp: &str, srtcp: &str) {
    let material = hex(KAT_KEY);
    let key = &material[..key_len];
    let salt = &material[key_len..key_len + 14];
    let (rtp, srtp) = (hex(KAT_RTP), hex(srtp));
    let mut tx = SrtpContext::new(profile, key, salt).unwrap();
    assert_eq!(protect(&mut tx, &rtp), srtp, "{profile} SRTP protect");
    let mut rx = SrtpContext::new(profile, key, salt).unwrap();
    assert_eq!(
        unprotect(&mut rx, &srtp).unwrap(),
        rtp,
        "{profile} SRTP unprotect"
    );

    let (rtcp, srtcp) = (hex(KAT_RTCP), hex(srtcp));
    let mut tx = SrtpContext::new(profile, key, salt).unwrap();
    tx.set_srtcp_index(0xcafebabe, 1);
    assert_eq!(
        protect_rtcp(&mut tx, &rtcp),
        srtcp,
        "{profile} SRTCP protect"
    );
    assert_eq!(
        unprotect_rtcp(&mut rx, &srtcp).unwrap(),
        rtcp,
        "{profile} SRTCP unprotect"
    );
}

#[test]
fn aes_cm_128_known_answer() {
    kat(
        SrtpProfile::Aes128CmHmacSha1_80,
        16,
        "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
        "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798",
    );
}

#[test]
fn aes_cm_192_known_answer() {
    kat(
        SrtpProfile::Aes192CmHmacSha1_80,
        24,
        "800f1234decafbadcafebabe015781894462529d91cf3659d2462db308d9a044c5d7d68b26ba",
        "81c8000bcafebabe966d603e71f9af335cf9091a50ca4d3a80000001d42b40218dde4990bdef",
    );
}

#[test]
fn aes_cm_256_known_answer() {
    kat(
        SrtpProfile::Aes256CmHmacSha1_80,
        32,
        "800f1234decafbadcafebabe0098219f7ebdba1c3d22f4936f1eac9906f6b227c84961a7b428",
        "81c8000bcafebabe0a865d339e312693592387d45b99a5578000000184f3b4f2b595615af9b5",
    );
}

#[test]
fn aes_cm_256_second_known_answer() {
    let material = hex(
        "f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6\
         3b04803de51ee7c96423ab5b78d2",
    );
    let mut tx = SrtpContext::new(
        SrtpProfile::Aes256CmHmacSha1_80,
        &material[..32],
        &material[32..],
    )
    .unwrap();
    assert_eq!(
        protect(&mut tx, &hex(KAT_RTP)),
        hex("800f1234decafbadcafebabef1d9de17ff251ff1aa007774b0b4b40da08d9d9a5b3a55d8873b")
    );
}

#[test]
fn short_tag_profiles_truncate_the_same_hmac() {
    // The _32 profiles use the same keys and cipher; the SRTP tag is the first 4 bytes of
    // the 10 the _80 profile sends, and SRTCP keeps 10 bytes.
    let material = hex(KAT_KEY);
    let mut tx = SrtpContext::new(
        SrtpProfile::Aes128CmHmacSha1_32,
        &material[..16],
        &material[16..30],
    )
    .unwrap();
    let out = protect(&mut tx, &hex(KAT_RTP));
    assert_eq!(
        out,
        hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc")
    );
    tx.set_srtcp_index(0xcafebabe, 1);
    assert_eq!(protect_rtcp(&mut tx, &hex(KAT_RTCP)).len(), 24 + 4 + 10);
}

// RFC 7714 section 16 (SRTP) and 17 (SRTCP): session keys given directly.
const GCM_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const GCM_SALT: &str = "517569642070726f2071756f";
const GCM_RTP_HEADER: &str = "8040f17b8041f8d35501a0b2";
const GCM_RTCP: &str = "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61\
                        deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";

fn gcm_kat(profile: SrtpProfile, key_len: usize, srtp: &str, srtcp: &str) {
    let key = &hex(GCM_KEY)[..key_len];
    let salt = hex(GCM_SALT);
    let mut rtp = hex(GCM_RTP_HEADER);
    rtp.extend_from_slice(b"Gallia est omnis divisa in partes tres");
    let srtp = hex(srtp);
    let mut tx = SrtpContext::from_session_keys(profile, key, &salt, None).unwrap();
    assert_eq!(protect(&mut tx, &rtp), srtp, "{profile} SRTP");
    let mut rx = SrtpContext::from_session_keys(profile, key, &salt, None).unwrap();
    assert_eq!(unprotect(&mut rx, &srtp).unwrap(), rtp);

    let (rtcp, srtcp) = (hex(GCM_RTCP), hex(srtcp));
    tx.set_srtcp_index(0x4d617273, 0x5d4);
    assert_eq!(protect_rtcp(&mut tx, &rtcp), srtcp, "{profile} SRTCP");
    assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap(), rtcp);
}

#[test]
fn rfc7714_aead_aes_128_gcm() {
    gcm_kat(
        SrtpProfile::AeadAes128Gcm,
        16,
        "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd5\
         0d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee439\
         0cce",
        "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32d\
         c676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf872\
         45d9eade800005d4",
    );
}

#[test]
fn rfc7714_aead_aes_256_gcm() {
    gcm_kat(
        SrtpProfile::AeadAes256Gcm,
        32,
        "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab1801238\
         9a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a7\
         6c13",
        "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50\
         a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6c\
         b26ac3be800005d4",
    );
}

fn contexts(profile: SrtpProfile) -> (SrtpContext, SrtpContext) {
    let key: Vec<u8> = (0..profile.master_key_len() as u8)
        .map(|i| i * 3 + 1)
        .collect();
    let salt: Vec<u8> = (0..profile.master_salt_len() as u8)
        .map(|i| 0xa0 ^ i)
        .collect();
    (
        SrtpContext::new(profile, &key, &salt).unwrap(),
        SrtpContext::new(profile, &key, &salt).unwrap(),
    )
}

#[test]
fn round_trip_across_roc_wrap_every_profile() {
    for profile in SrtpProfile::ALL {
        let (mut tx, mut rx) = contexts(profile);
        let ssrc = 0x1234_5678;
        for i in 0..40u32 {
            let seq = (65520u32 + i) as u16; // 65520..=65535, then 0..23
            let plain = rtp_packet(seq, ssrc, 160);
            let srtp = protect(&mut tx, &plain);
            assert_eq!(srtp.len(), plain.len() + profile.rtp_tag_len());
            assert_eq!(srtp[..12], plain[..12], "{profile}: header stays clear");
            if profile.encrypts() {
                assert_ne!(srtp[12..172], plain[12..], "{profile}: payload encrypted");
            }
            assert_eq!(
                unprotect(&mut rx, &srtp).unwrap(),
                plain,
                "{profile} seq {seq}"
            );
        }
        assert_eq!(tx.roc(ssrc), Some(1), "{profile}");
        assert_eq!(rx.roc(ssrc), Some(1), "{profile}");
    }
}

#[test]
fn late_packet_from_before_the_wrap_uses_the_old_roc() {
    let (mut tx, mut rx) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    let before = protect(&mut tx, &rtp_packet(65534, 7, 20));
    let mut after = Vec::new();
    for seq in [65535u16, 0, 1, 2] {
        after.push(protect(&mut tx, &rtp_packet(seq, 7, 20)));
    }
    for p in &after {
        unprotect(&mut rx, p).unwrap();
    }
    // 65534 arrives after seq 2 of ROC 1: it still belongs to ROC 0.
    assert_eq!(
        unprotect(&mut rx, &before).unwrap(),
        rtp_packet(65534, 7, 20)
    );
    assert_eq!(rx.roc(7), Some(1));
}

#[test]
fn replay_is_rejected_rtp_and_rtcp() {
    for profile in [SrtpProfile::Aes128CmHmacSha1_80, SrtpProfile::AeadAes128Gcm] {
        let (mut tx, mut rx) = contexts(profile);
        let packets: Vec<_> = (100..400u16)
            .map(|s| protect(&mut tx, &rtp_packet(s, 9, 50)))
            .collect();
        unprotect(&mut rx, &packets[10]).unwrap();
        assert_eq!(unprotect(&mut rx, &packets[10]), Err(SrtpError::Replay));
        // Out of order inside the window is fine, once.
        unprotect(&mut rx, &packets[5]).unwrap();
        assert_eq!(unprotect(&mut rx, &packets[5]), Err(SrtpError::Replay));
        unprotect(&mut rx, &packets[299]).unwrap();
        assert_eq!(unprotect(&mut rx, &packets[20]), Err(SrtpError::TooOld));
        unprotect(&mut rx, &packets[299 - 127]).unwrap();

        let rtcp = hex(KAT_RTCP);
        let first = protect_rtcp(&mut tx, &rtcp);
        let second = protect_rtcp(&mut tx, &rtcp);
        assert_ne!(first, second, "{profile}: SRTCP index advances");
        unprotect_rtcp(&mut rx, &second).unwrap();
        unprotect_rtcp(&mut rx, &first).unwrap();
        assert_eq!(unprotect_rtcp(&mut rx, &first), Err(SrtpError::Replay));
        assert_eq!(unprotect_rtcp(&mut rx, &second), Err(SrtpError::Replay));
    }
}

#[test]
fn any_flipped_bit_fails_authentication_and_changes_nothing() {
    for profile in SrtpProfile::ALL {
        let (mut tx, mut rx) = contexts(profile);
        let plain = rtp_packet(5000, 0xabcd, 33);
        let srtp = protect(&mut tx, &plain);
        for byte in 0..srtp.len() {
            let mut bad = srtp.clone();
            bad[byte] ^= 0x10;
            let err = unprotect(&mut rx, &bad).unwrap_err();
            // A flipped version bit is caught by the header check, anything else by the tag.
            assert!(
                matches!(
                    err,
                    SrtpError::AuthFailed | SrtpError::BadVersion | SrtpError::TooShort
                ),
                "{profile} byte {byte}: {err:?}"
            );
            assert_eq!(
                rx.roc(0xabcd),
                None,
                "{profile}: no state from a bad packet"
            );
        }
        // A forged packet far ahead (would move the ROC) must not disturb the real stream.
        let mut forged = protect(&mut tx, &rtp_packet(40000, 0xabcd, 33));
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::AuthFailed));
        assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain);

        let rtcp = hex(KAT_RTCP);
        let srtcp = protect_rtcp(&mut tx, &rtcp);
        for byte in 0..srtcp.len() {
            let mut bad = srtcp.clone();
            bad[byte] ^= 0x01;
            assert!(
                unprotect_rtcp(&mut rx, &bad).is_err(),
                "{profile} rtcp byte {byte}"
            );
        }
        assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap(), rtcp, "{profile}");
    }
}

#[test]
fn csrcs_header_extension_and_padding() {
    // V=2, P=1, X=1, CC=2; two CSRCs; a one-byte-header extension of 2 words; payload
    // ending in 4 bytes of padding.
    let mut plain =
        hex("b2 60 0102 00000010 11111111 22222222 33333333 bede0002 10aa2000 00000000");
    plain.extend_from_slice(&[9u8; 20]);
    plain.extend_from_slice(&[0, 0, 0, 4]);
    for profile in SrtpProfile::ALL {
        let (mut tx, mut rx) = contexts(profile);
        let srtp = protect(&mut tx, &plain);
        // Header, CSRCs and extension stay readable; the payload and padding are encrypted.
        assert_eq!(srtp[..32], plain[..32], "{profile}");
        if profile.encrypts() {
            assert_ne!(srtp[32..plain.len()], plain[32..], "{profile}");
        }
        assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain, "{profile}");
    }
}

#[test]
fn malformed_packets_are_errors() {
    let (mut tx, mut rx) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    let plain = rtp_packet(1, 1, 10);
    let mut small = plain.clone();
    assert_eq!(
        tx.protect_rtp(&mut small, plain.len()),
        Err(SrtpError::NoRoom)
    );
    assert_eq!(tx.protect_rtp(&mut small, 100), Err(SrtpError::TooShort));
    assert_eq!(rx.unprotect_rtp(&mut [0x80; 11]), Err(SrtpError::TooShort));
    assert_eq!(
        rx.unprotect_rtp(&mut [0x40; 40]),
        Err(SrtpError::BadVersion)
    );
    // Header extension running past the end.
    let mut ext = hex("90000001000000000000000100ff0010");
    assert_eq!(rx.unprotect_rtp(&mut ext), Err(SrtpError::TooShort));
    // Header fine but no room for the tag.
    let mut no_tag = hex("800000010000000000000001 0102");
    assert_eq!(rx.unprotect_rtp(&mut no_tag), Err(SrtpError::TooShort));
    assert_eq!(rx.unprotect_rtcp(&mut [0x81; 21]), Err(SrtpError::TooShort));
    assert_eq!(
        SrtpContext::new(SrtpProfile::AeadAes128Gcm, &[0; 16], &[0; 14]).unwrap_err(),
        SrtpError::BadSaltLength {
            expected: 12,
            got: 14
        }
    );
}

#[test]
fn mki_is_carried_and_checked() {
    for profile in [SrtpProfile::Aes128CmHmacSha1_32, SrtpProfile::AeadAes256Gcm] {
        let (mut tx, mut rx) = contexts(profile);
        let mki = [0u8, 0, 0, 1];
        tx.set_mki(&mki).unwrap();
        rx.set_mki(&mki).unwrap();
        let plain = rtp_packet(77, 3, 40);
        let srtp = protect(&mut tx, &plain);
        assert_eq!(srtp.len(), plain.len() + profile.rtp_tag_len() + 4);
        let mki_at = if profile.is_aead() {
            plain.len() + 16
        } else {
            plain.len()
        };
        assert_eq!(srtp[mki_at..mki_at + 4], mki);
        assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain);

        let rtcp = hex(KAT_RTCP);
        let srtcp = protect_rtcp(&mut tx, &rtcp);
        assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap(), rtcp);

        let mut other = contexts(profile).1;
        other.set_mki(&[0, 0, 0, 2]).unwrap();
        assert_eq!(unprotect(&mut other, &srtp), Err(SrtpError::MkiMismatch));
    }
    assert_eq!(
        contexts(SrtpProfile::Aes128CmHmacSha1_80)
            .0
            .set_mki(&[0; 129]),
        Err(SrtpError::BadMki)
    );
}

#[test]
fn unencrypted_srtcp_is_authenticated_only() {
    let rtcp = hex(KAT_RTCP);
    // HMAC profile: header || payload || E=0+index || tag over all of it.
    let (_, mut rx) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    let (keys, _) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    let mut pkt = rtcp.clone();
    pkt.extend_from_slice(&7u32.to_be_bytes());
    let mut tag = [0u8; 10];
    keys.rtcp.hmac(&[&pkt], &mut tag);
    pkt.extend_from_slice(&tag);
    assert_eq!(unprotect_rtcp(&mut rx, &pkt).unwrap(), rtcp);

    // GCM: header || payload || tag || E=0+index, all but the tag as AAD.
    let (keys, mut rx) = contexts(SrtpProfile::AeadAes128Gcm);
    let mut aad = rtcp.clone();
    aad.extend_from_slice(&7u32.to_be_bytes());
    let nonce = keys.rtcp.gcm_nonce(0xcafebabe, 7);
    let tag = keys.rtcp.gcm_seal(&nonce, &aad, &mut []).unwrap();
    let mut pkt = rtcp.clone();
    pkt.extend_from_slice(&tag);
    pkt.extend_from_slice(&7u32.to_be_bytes());
    let mut bad = pkt.clone();
    bad[9] ^= 1;
    assert_eq!(unprotect_rtcp(&mut rx, &bad), Err(SrtpError::AuthFailed));
    assert_eq!(unprotect_rtcp(&mut rx, &pkt).unwrap(), rtcp);
}

#[test]
fn session_parameters_change_the_transform() {
    let plain = rtp_packet(300, 5, 40);
    let rtcp = hex(KAT_RTCP);
    for profile in [
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::F8_128HmacSha1_32,
    ] {
        let (mut tx, mut rx) = contexts(profile);
        let params = SessionParams {
            unencrypted_srtp: true,
            unencrypted_srtcp: true,
            unauthenticated_srtp: false,
        };
        tx.set_session_params(params).unwrap();
        rx.set_session_params(params).unwrap();
        let srtp = protect(&mut tx, &plain);
        assert_eq!(
            srtp[..plain.len()],
            plain[..],
            "{profile}: payload in the clear"
        );
        let mut bad = srtp.clone();
        bad[20] ^= 1;
        assert_eq!(unprotect(&mut rx, &bad), Err(SrtpError::AuthFailed));
        assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain);
        let srtcp = protect_rtcp(&mut tx, &rtcp);
        assert_eq!(srtcp[..rtcp.len()], rtcp[..]);
        assert_eq!(srtcp[rtcp.len()], 0, "{profile}: E flag clear");
        assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap(), rtcp);
        // A receiver that expects encryption still reads E=0 SRTCP (the flag is per packet).
        let (_, mut strict) = contexts(profile);
        assert_eq!(unprotect_rtcp(&mut strict, &srtcp).unwrap(), rtcp);

        let (mut tx, mut rx) = contexts(profile);
        let params = SessionParams {
            unauthenticated_srtp: true,
            ..Default::default()
        };
        tx.set_session_params(params).unwrap();
        rx.set_session_params(params).unwrap();
        assert_eq!(tx.rtp_overhead(), 0);
        let srtp = protect(&mut tx, &plain);
        assert_eq!(srtp.len(), plain.len());
        assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain);
    }
    let (mut tx, mut rx) = contexts(SrtpProfile::AeadAes128Gcm);
    assert_eq!(
        tx.set_session_params(SessionParams {
            unencrypted_srtp: true,
            ..Default::default()
        }),
        Err(SrtpError::Unsupported)
    );
    let params = SessionParams {
        unencrypted_srtcp: true,
        ..Default::default()
    };
    tx.set_session_params(params).unwrap();
    let srtcp = protect_rtcp(&mut tx, &rtcp);
    assert_eq!(srtcp.len(), rtcp.len() + 16 + 4);
    assert_eq!(srtcp[..rtcp.len()], rtcp[..]);
    assert_eq!(unprotect_rtcp(&mut rx, &srtcp).unwrap(), rtcp);
}

#[test]
fn a_forged_packet_does_not_move_the_roc() {
    let (mut tx, mut rx) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    unprotect(&mut rx, &protect(&mut tx, &rtp_packet(65530, 1, 10))).unwrap();
    // A packet with seq 5 would be taken as ROC 1; forged, it must not commit that.
    let mut other = SrtpContext::new(SrtpProfile::Aes128CmHmacSha1_80, &[9; 16], &[9; 14]).unwrap();
    let forged = protect(&mut other, &rtp_packet(5, 1, 16));
    assert_eq!(unprotect(&mut rx, &forged), Err(SrtpError::AuthFailed));
    assert_eq!(rx.roc(1), Some(0));
    assert_eq!(
        unprotect(&mut rx, &protect(&mut tx, &rtp_packet(65531, 1, 10))).unwrap(),
        rtp_packet(65531, 1, 10)
    );
    // The same for SRTCP: a forged index far ahead leaves the window where it was.
    let rtcp = hex(KAT_RTCP);
    unprotect_rtcp(&mut rx, &protect_rtcp(&mut tx, &rtcp)).unwrap();
    other.set_srtcp_index(0xcafebabe, 1000);
    let forged = protect_rtcp(&mut other, &rtcp);
    assert_eq!(unprotect_rtcp(&mut rx, &forged), Err(SrtpError::AuthFailed));
    assert_eq!(
        rx.rtcp_streams
            .get(0xcafebabe)
            .unwrap()
            .window
            .unwrap()
            .highest,
        0
    );
}

#[test]
fn many_ssrcs_stay_bounded() {
    let (mut tx, mut rx) = contexts(SrtpProfile::Aes128CmHmacSha1_80);
    for ssrc in 0..(MAX_SSRCS as u32 * 3) {
        let p = protect(&mut tx, &rtp_packet(10, ssrc, 8));
        unprotect(&mut rx, &p).unwrap();
    }
    assert_eq!(rx.rtp_streams.len(), MAX_SSRCS);
    assert_eq!(tx.rtp_streams.len(), MAX_SSRCS);
}

#[test]
fn profile_names_and_ids() {
    for p in SrtpProfile::ALL {
        assert_eq!(SrtpProfile::from_sdes_name(p.sdes_name()), Some(p));
        if let Some(id) = p.dtls_id() {
            assert_eq!(SrtpProfile::from_dtls_id(id), Some(p));
        }
    }
    assert_eq!(
        SrtpProfile::from_dtls_id(0x0007),
        Some(SrtpProfile::AeadAes128Gcm)
    );
    assert_eq!(SrtpProfile::from_sdes_name("aes_cm_128_hmac_sha1_80"), None);
    assert_eq!(SrtpProfile::from_dtls_id(0x0003), None);
    let p = SrtpProfile::Aes128CmHmacSha1_32;
    assert_eq!(
        (
            p.master_key_len(),
            p.master_salt_len(),
            p.rtp_tag_len(),
            p.rtcp_tag_len()
        ),
        (16, 14, 4, 10)
    );
    let p = SrtpProfile::AeadAes256Gcm;
    assert_eq!(
        (
            p.master_key_len(),
            p.master_salt_len(),
            p.rtp_tag_len(),
            p.rtcp_tag_len()
        ),
        (32, 12, 16, 16)
    );
}
