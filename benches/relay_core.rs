//! The media worker's real packet path, without sockets for RTP: a worker with two legs
//! (real loopback sockets, never read), configured as the control plane would, and one
//! datagram at a time through `Worker::relay_datagram` (demux, SRTP, payload types, endpoint
//! learning, counters, SRTP for the peer). Plain RTP, and SDES-SRTP in to plain RTP out.

use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtpbridge::codec::PayloadTypes;
use rtpbridge::dtls::sdes::CryptoAttribute;
use rtpbridge::dtls::srtp::SrtpContext;
use rtpbridge::media::stats::{LegStats, WorkerCounters};
use rtpbridge::media::worker::{LegConfig, LegSockets, Worker, WorkerCmd};

const A: u64 = 1;
const B: u64 = 2;

fn sock() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind")
}

fn worker(srtp_from_a: Option<CryptoAttribute>) -> Worker {
    let (_tx, rx) = crossbeam_channel::unbounded();
    let (mut w, _waker) =
        Worker::new(rx, Arc::new(WorkerCounters::default()), (1, 2), None).expect("worker");
    for id in [A, B] {
        w.apply_now(WorkerCmd::AddLeg {
            id,
            sockets: LegSockets::New {
                rtp: sock(),
                rtcp: Some(sock()),
            },
            stats: Arc::new(LegStats::default()),
            call_id: Arc::from("bench"),
            tag: Arc::from(if id == A { "a" } else { "b" }),
        });
    }
    let mut pts = PayloadTypes::none();
    pts.allow(0, 0);
    pts.allow(101, 101);
    let cfg = |peer, adv: &str, srtp_recv| LegConfig {
        peer: Some(peer),
        advertised_rtp: Some(adv.parse().expect("addr")),
        rtp: true,
        payload_types: pts.clone(),
        srtp_recv,
        ..LegConfig::default()
    };
    w.apply_now(WorkerCmd::Configure {
        id: A,
        cfg: Box::new(cfg(B, "192.0.2.1:40000", srtp_from_a.map(Box::new))),
    });
    w.apply_now(WorkerCmd::Configure {
        id: B,
        cfg: Box::new(cfg(A, "198.51.100.7:50000", None)),
    });
    w
}

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    p
}

fn bench_relay(c: &mut Criterion) {
    let src: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
    let from_b: SocketAddr = "198.51.100.7:50000".parse().expect("addr");
    let t0 = Instant::now();
    let late = t0 + Duration::from_secs(5);
    let mut g = c.benchmark_group("worker_relay");
    g.throughput(Throughput::Elements(1));

    // Plain RTP both ways latched, then A -> B in steady state.
    let mut w = worker(None);
    w.relay_datagram(A, false, &rtp(1), src, t0);
    w.relay_datagram(B, false, &rtp(1), from_b, t0);
    let mut seq = 2u16;
    let mut pkt = rtp(seq);
    g.bench_function("plain_rtp", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(w.relay_datagram(A, false, black_box(&pkt), src, late))
        })
    });

    // SDES-SRTP from A, authenticated and decrypted, relayed plain to B. Each iteration
    // encrypts a fresh packet first (the replay window refuses repeats), so the figure is
    // protect + relay; `srtp_protect_only` is the first part alone, to subtract.
    let key = CryptoAttribute::parse(
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
    )
    .expect("crypto line");
    let mut enc: SrtpContext = key.srtp_context().expect("context");
    let mut w = worker(Some(key.clone()));
    let mut buf = vec![0u8; 256];
    let template = rtp(0);
    let protect = |enc: &mut SrtpContext, seq: u16, buf: &mut Vec<u8>| {
        buf[..template.len()].copy_from_slice(&template);
        buf[2..4].copy_from_slice(&seq.to_be_bytes());
        enc.protect_rtp(buf, template.len()).expect("protect")
    };
    let n = protect(&mut enc, 1, &mut buf);
    w.relay_datagram(A, false, &buf[..n], src, t0);
    w.relay_datagram(B, false, &rtp(1), from_b, t0);
    let mut seq = 1u16;
    g.bench_function("srtp_protect_then_relay_plain_out", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            let n = protect(&mut enc, seq, &mut buf);
            black_box(w.relay_datagram(A, false, black_box(&buf[..n]), src, late))
        })
    });
    let mut enc2: SrtpContext = key.srtp_context().expect("context");
    let mut seq2 = 0u16;
    g.bench_function("srtp_protect_only", |b| {
        b.iter(|| {
            seq2 = seq2.wrapping_add(1);
            black_box(protect(&mut enc2, seq2, &mut buf))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_relay);
criterion_main!(benches);
