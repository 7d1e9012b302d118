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
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtpbridge::codec::PayloadTypes;
use rtpbridge::config::EndpointLearning;
use rtpbridge::media::latch::{Latch, LatchPolicy, PacketInfo, Verdict};
use rtpbridge::media::stats::{bump, LegStats, WorkerCounters};
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

const UNIX: u64 = 1_700_000_000;

struct Leg {
    latch: Latch,
    policy: LatchPolicy,
    pts: PayloadTypes,
    stats: LegStats,
    local: SocketAddr,
    peer_dest: Option<SocketAddr>,
}

/// The socket-free steps of the worker's packet path, in its order. Returns where the packet
/// would be sent.
#[inline]
fn decide(
    leg: &mut Leg,
    wc: &WorkerCounters,
    pkt: &mut [u8],
    src: SocketAddr,
    now: Instant,
    unix: u64,
    range: (u16, u16),
) -> Option<SocketAddr> {
    bump(&wc.received, 1);
    if pkt.len() < 4 || !(128..=191).contains(&pkt[0]) {
        bump(&wc.dropped_malformed, 1);
        return None;
    }
    if (range.0..=range.1).contains(&src.port()) && leg.local.ip() == src.ip() {
        bump(&wc.dropped_loop, 1);
        return None;
    }
    let is_rtcp = (192..=223).contains(&pkt[1]); // RTCP muxed on the RTP port (RFC 5761)
    if !is_rtcp && !leg.pts.apply(&mut pkt[1]) {
        bump(&wc.dropped_payload_type, 1);
        return None;
    }
    let info = if is_rtcp {
        PacketInfo::rtcp(pkt)
    } else {
        PacketInfo::rtp(pkt)
    };
    match leg.latch.on_packet(src, info, now, &leg.policy) {
        Verdict::Drop => {
            bump(&wc.dropped_source, 1);
            return None;
        }
        Verdict::Learn(_) | Verdict::Accept => {}
    }
    bump(&leg.stats.rtp.packets, 1);
    bump(&leg.stats.rtp.bytes, pkt.len() as u64);
    // The worker reads the wall clock once per poll round, not per packet.
    leg.stats.rtp.last_packet.store(unix, Relaxed);
    if pkt.len() >= 12 {
        let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
        leg.stats.ssrc.store(ssrc, Relaxed);
        leg.stats.has_ssrc.store(true, Relaxed);
    }
    let dest = leg.peer_dest?;
    bump(&wc.relayed, 1);
    bump(&wc.relayed_bytes, pkt.len() as u64);
    Some(dest)
}

fn bench_relay(c: &mut Criterion) {
    let src: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
    let mut pkt = vec![0u8; 172];
    pkt[0] = 0x80;
    pkt[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    let mut pts = PayloadTypes::none();
    pts.allow(0, 0);
    pts.allow(101, 101);
    let wc = WorkerCounters::default();
    let t0 = Instant::now();
    let mut g = c.benchmark_group("relay_decision");
    g.throughput(Throughput::Elements(1));
    for (name, mode) in [
        ("latched_delayed", EndpointLearning::Delayed),
        ("latched_heuristic", EndpointLearning::Heuristic),
        ("learning_off", EndpointLearning::Off),
    ] {
        let mut leg = Leg {
            latch: Latch::new(Some(src)),
            policy: LatchPolicy {
                mode,
                ..LatchPolicy::default()
            },
            pts: pts.clone(),
            stats: LegStats::default(),
            local: "192.0.2.10:30000".parse().expect("addr"),
            peer_dest: Some("198.51.100.7:50000".parse().expect("addr")),
        };
        // Steady state: past the learning delay, the endpoint confirmed.
        let late = t0 + Duration::from_secs(5);
        decide(&mut leg, &wc, &mut pkt, src, t0, UNIX, (30000, 40000));
        decide(&mut leg, &wc, &mut pkt, src, late, UNIX, (30000, 40000));
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(decide(
                    &mut leg,
                    &wc,
                    black_box(&mut pkt),
                    black_box(src),
                    late,
                    UNIX,
                    (30000, 40000),
                ))
            })
        });
    }
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

criterion_group!(benches, bench_ng, bench_sdp, bench_relay);
criterion_main!(benches);
