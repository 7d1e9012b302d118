//! The control plane's and the packet path's hot functions, without sockets:
//! - bencode decode and encode of a real offer (Kamailio's, from tests/fixtures/ng), and the
//!   NG request parse that follows the decode;
//! - SDP parse of Chrome's offer and the rewrite of it a plain relay does;
//! - the relay's per-packet decision: the media worker's packet path (`Worker::on_packet`) is
//!   private and reads its socket and sends inline, so this bench replays its socket-free steps
//!   in the same order on the same types: RTP sanity, loop-protect, payload-type filter,
//!   endpoint learning (`Latch::on_packet`), the leg and worker counters, the SSRC store.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtpbridge::media::latch::{Latch, LatchPolicy, PacketInfo};
use rtpbridge::ng::bencode::{self, Value};
use rtpbridge::ng::parse_request;
use rtpbridge::sdp::{rewrite, MediaRewrite, Session, SessionRewrite};

/// The first `offer` of tests/fixtures/ng/kamailio-requests.txt, unescaped.
fn kamailio_offer() -> Vec<u8> {
    let text = include_str!("../tests/fixtures/ng/kamailio-requests.txt");
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && l.ends_with("7:command5:offere"))
        .expect("an offer in the fixture");
    let body = line.splitn(3, ' ').nth(2).expect("scenario cookie body");
    body.replace("\\r", "\r").replace("\\n", "\n").into_bytes()
}

fn bench_ng(c: &mut Criterion) {
    let offer = kamailio_offer();
    let mut g = c.benchmark_group("ng_offer");
    g.throughput(Throughput::Bytes(offer.len() as u64));
    g.bench_function("bencode_decode", |b| {
        b.iter(|| black_box(bencode::decode(black_box(&offer)).expect("decodes")))
    });
    let decoded = bencode::decode(&offer).expect("decodes");
    let owned = decoded.to_owned_value();
    let mut out = Vec::with_capacity(offer.len() * 2);
    g.bench_function("bencode_encode", |b| {
        b.iter(|| {
            out.clear();
            owned.encode(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("decode_and_parse_request", |b| {
        b.iter(|| {
            let Ok(Value::Dict(d)) = bencode::decode(black_box(&offer)) else {
                panic!("not a dict")
            };
            black_box(parse_request(&d).expect("a valid offer"))
        })
    });
    g.finish();
}

fn bench_sdp(c: &mut Criterion) {
    let text = include_str!("../tests/fixtures/sdp/chrome-156-offer-pcmu.sdp");
    let mut g = c.benchmark_group("sdp_chrome_offer");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| black_box(Session::parse(black_box(text)).expect("parses")))
    });
    let session = Session::parse(text).expect("parses");
    let ip: IpAddr = "192.0.2.10".parse().expect("ip");
    let rw = SessionRewrite {
        remove_ice: true,
        media: session
            .media()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut r = MediaRewrite::from_input(m, ip, 30000 + 2 * i as u16);
                r.rtcp_port = Some(30001 + 2 * i as u16);
                r
            })
            .collect(),
        ..SessionRewrite::default()
    };
    g.bench_function("rewrite", |b| {
        b.iter(|| black_box(rewrite(black_box(&session), &rw).expect("rewrites")))
    });
    g.bench_function("parse_and_rewrite", |b| {
        b.iter(|| {
            let s = Session::parse(black_box(text)).expect("parses");
            black_box(rewrite(&s, &rw).expect("rewrites"))
        })
    });
    g.finish();
}

/// Endpoint learning alone, steady state. The whole worker packet path is in
/// benches/relay_core.rs (the real worker, not a copy of its steps).
fn bench_latch(c: &mut Criterion) {
    let src: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
    let t0 = Instant::now();
    let mut g = c.benchmark_group("relay_decision");
    g.throughput(Throughput::Elements(1));
    g.bench_function("latch_on_packet_only", |b| {
        let mut latch = Latch::new(Some(src));
        let policy = LatchPolicy::default();
        let info = PacketInfo::rtp(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
        latch.on_packet(src, info, t0, &policy);
        let late = t0 + Duration::from_secs(5);
        b.iter(|| black_box(latch.on_packet(black_box(src), info, late, &policy)))
    });
    g.finish();
}

criterion_group!(benches, bench_ng, bench_sdp, bench_latch);
criterion_main!(benches);
