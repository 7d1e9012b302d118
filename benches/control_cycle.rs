//! One control-plane cycle without the NG socket: the offer, answer and delete that
//! `rtpbridge-bench control` sends, each decoded from bencode, parsed into a request, run
//! through the call registry (which allocates ports and drives one real media worker) and its
//! reply encoded. What this leaves out of a cycle is the UDP receive and send and the
//! retransmit cache, so it isolates the user-space cost the control plane can cut.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rtpbridge::bench::ng::{answer, delete, offer, plain_sdp};
use rtpbridge::call::Registry;
use rtpbridge::config::{Config, IoEngine};
use rtpbridge::media::MediaPlane;
use rtpbridge::ng::bencode::{self, OwnedValue};
use rtpbridge::ng::parse_request;

/// Decodes, parses and runs one request, and encodes its reply into `out`.
fn run(registry: &mut Registry, body: &[u8], out: &mut Vec<u8>) {
    let value = bencode::decode(body).expect("bencode");
    let dict = value.as_dict().expect("a dictionary");
    let req = parse_request(dict).expect("a valid request");
    let reply = registry
        .handle(&req, Instant::now())
        .expect("the command succeeds");
    out.clear();
    reply.encode(out);
}

/// Cycles between two waits for the media worker.
const WINDOW: u64 = 21;

fn encoded(v: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode(&mut out);
    out
}

fn bench_cycle(c: &mut Criterion) {
    let cfg = Config {
        port_min: 62000,
        port_max: 62999,
        ..Config::default()
    };
    let media = MediaPlane::start(
        1,
        cfg.port_min,
        cfg.port_max,
        None,
        None,
        IoEngine::default(),
    )
    .expect("a media worker");
    let mut registry = Registry::new(Arc::new(cfg), media);
    let a: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    let b: SocketAddr = "127.0.0.1:40002".parse().expect("address");
    // The bodies are prepared once, as a client would send them; only the call-id differs
    // between calls, and the cycle reuses one call-id (the delete ends the call).
    let o = encoded(&offer("bench-cycle", &plain_sdp(a, 1)));
    let r = encoded(&answer("bench-cycle", &plain_sdp(b, 1)));
    let d = encoded(&delete("bench-cycle"));
    let mut out = Vec::with_capacity(4096);

    let mut g = c.benchmark_group("control");
    g.throughput(Throughput::Elements(1));
    g.bench_function("offer_answer_delete", |bench| {
        bench.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                run(&mut registry, black_box(&o), &mut out);
                run(&mut registry, black_box(&r), &mut out);
                run(&mut registry, black_box(&d), &mut out);
                // What the control loop does at the end of a batch (the load generator keeps
                // 64 requests outstanding): hand the queued media commands to the worker and
                // wait for its acknowledgement.
                if i % WINDOW == WINDOW - 1 || i + 1 == iters {
                    if let Some(mut ticket) = registry.start_settle() {
                        ticket.wait();
                    }
                }
            }
            black_box(out.len());
            start.elapsed()
        })
    });
    g.finish();
    registry.shutdown();
}

criterion_group!(benches, bench_cycle);
criterion_main!(benches);
