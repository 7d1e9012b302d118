//! SRTP protect + unprotect of one 172-byte RTP packet (12-byte header, 160-byte payload:
//! 20 ms of G.711), ours against webrtc-srtp. Throughput is reported in elements, one element
//! being a protect+unprotect pair, so criterion prints pairs per second.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtpbridge::dtls::srtp::{SrtpContext, SrtpProfile};
use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

fn packet() -> Vec<u8> {
    let mut p = vec![0x80, 0x00, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
    p.extend((0..160u32).map(|i| (i * 7) as u8));
    p
}

fn set_seq(p: &mut [u8], seq: u16) {
    p[2..4].copy_from_slice(&seq.to_be_bytes());
}

fn bench(c: &mut Criterion) {
    let profiles = [
        (
            "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::Aes128CmHmacSha1_80,
            ProtectionProfile::Aes128CmHmacSha1_80,
        ),
        (
            "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes128Gcm,
            ProtectionProfile::AeadAes128Gcm,
        ),
    ];
    for (name, ours_p, theirs_p) in profiles {
        let key = vec![0x42; ours_p.master_key_len()];
        let salt = vec![0x24; ours_p.master_salt_len()];
        let mut group = c.benchmark_group(format!("srtp_172B/{name}"));
        group.throughput(Throughput::Elements(1));

        group.bench_function("rtpbridge", |b| {
            let mut tx = SrtpContext::new(ours_p, &key, &salt).unwrap();
            let mut rx = SrtpContext::new(ours_p, &key, &salt).unwrap();
            let plain = packet();
            let mut buf = [0u8; 1500];
            let mut seq = 0u16;
            b.iter(|| {
                seq = seq.wrapping_add(1);
                buf[..plain.len()].copy_from_slice(&plain);
                set_seq(&mut buf, seq);
                let n = tx.protect_rtp(&mut buf, plain.len()).unwrap();
                let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
                black_box(&buf[..m]);
            });
        });

        group.bench_function("webrtc-srtp", |b| {
            let new = || {
                Context::new(
                    &key,
                    &salt,
                    theirs_p,
                    Some(srtp_replay_protection(64)),
                    Some(srtcp_replay_protection(64)),
                )
                .unwrap()
            };
            let (mut tx, mut rx) = (new(), new());
            let mut plain = packet();
            let mut seq = 0u16;
            b.iter(|| {
                seq = seq.wrapping_add(1);
                set_seq(&mut plain, seq);
                let enc = tx.encrypt_rtp(&plain).unwrap();
                let dec = rx.decrypt_rtp(&enc).unwrap();
                black_box(dec);
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
