//! Fuzzes SRTP/SRTCP and SDES parsing: unprotecting arbitrary bytes must not panic (and,
//! without the key, must never succeed); protecting arbitrary bytes must not panic, and
//! whatever protects must unprotect back to the same bytes; an `a=crypto` value must parse
//! or fail cleanly, and a parsed one must write back to text that parses to the same line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtpbridge::dtls::sdes::{CryptoAttribute, FormatOptions};
use rtpbridge::dtls::srtp::{SessionParams, SrtpContext, SrtpProfile};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else {
        return;
    };
    let profile = SrtpProfile::ALL[(selector & 0x0f) as usize % SrtpProfile::ALL.len()];
    let key = vec![0x5a; profile.master_key_len()];
    let salt = vec![0xa5; profile.master_salt_len()];
    let new = || {
        let mut c = SrtpContext::new(profile, &key, &salt).expect("valid key lengths");
        if selector & 0x80 != 0 {
            c.set_mki(&[1, 2, 3, 4]).expect("short MKI");
        }
        // Refused for GCM (no such transform); the context then stays as it was.
        let _ = c.set_session_params(SessionParams {
            unencrypted_srtcp: selector & 0x40 != 0,
            unencrypted_srtp: selector & 0x20 != 0,
            unauthenticated_srtp: selector & 0x10 != 0,
        });
        c
    };

    // Unprotect: random bytes carry no valid tag (a 4-byte tag could match by chance, so
    // only the no-panic property is asserted).
    let mut rx = new();
    let _ = rx.unprotect_rtp(&mut packet.to_vec());
    let _ = rx.unprotect_rtcp(&mut packet.to_vec());

    // Protect then unprotect: a round trip.
    let mut tx = new();
    let mut rx = new();
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + tx.rtp_overhead(), 0);
    if let Ok(n) = tx.protect_rtp(&mut buf, packet.len()) {
        let m = rx
            .unprotect_rtp(&mut buf[..n])
            .expect("own SRTP must unprotect");
        assert_eq!(&buf[..m], packet);
    }
    let mut buf = packet.to_vec();
    buf.resize(packet.len() + tx.rtcp_overhead(), 0);
    if let Ok(n) = tx.protect_rtcp(&mut buf, packet.len()) {
        let m = rx
            .unprotect_rtcp(&mut buf[..n])
            .expect("own SRTCP must unprotect");
        assert_eq!(&buf[..m], packet);
    }

    // SDES.
    if let Ok(text) = std::str::from_utf8(packet) {
        if let Ok(line) = CryptoAttribute::parse(text) {
            let again = CryptoAttribute::parse(&line.to_string()).expect("written line parses");
            assert_eq!(again, line);
            let ours = line.to_attribute(FormatOptions::default());
            CryptoAttribute::parse(ours.strip_prefix("crypto:").expect("prefix"))
                .expect("rtpengine-style line parses");
        }
    }
});
