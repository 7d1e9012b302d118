//! Whole calls on arbitrary SDP: an offer, an answer, optionally a re-offer, a query and a
//! delete, each encoded as bencode, decoded and parsed as the NG socket does, and run through
//! the call registry with a real media worker (ports, legs, DTLS certificate). Codec
//! negotiation, SDES, ICE, DTLS and rtcp-mux handling all see what the parties sent, so none of
//! it may panic; and every SDP the registry returns must parse.
//!
//! Input: four bytes of option bits (which NG options both requests carry), then the offer's
//! SDP, the answer's after a NUL byte (the offer again when there is none), and an optional
//! re-offer after a second NUL.
//!
//! Run: `cargo +nightly fuzz run call fuzz/corpus/call fuzz/seeds/call`
#![no_main]

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rtpbridge::call::Registry;
use rtpbridge::config::{Config, IoEngine};
use rtpbridge::dtls::dtls::LazyCert;
use rtpbridge::media::MediaPlane;
use rtpbridge::ng::bencode::{self, OwnedValue};
use rtpbridge::ng::parse_request;
use rtpbridge::sdp::Session;

/// Iterations between two waits for the media worker (its command queue stays short).
const SETTLE_EVERY: u32 = 16;

struct Harness {
    registry: Registry,
    runs: u32,
}

thread_local! {
    static HARNESS: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

fn harness() -> Harness {
    let cfg = Config {
        port_min: 40000,
        port_max: 59999,
        ..Config::default()
    };
    let cert = LazyCert::new(cfg.dtls_cert_kind());
    let media = MediaPlane::start(
        1,
        cfg.port_min,
        cfg.port_max,
        Some(cert.clone()),
        None,
        IoEngine::default(),
    )
    .expect("a media worker");
    let mut registry = Registry::new(Arc::new(cfg), media);
    registry.set_dtls_cert(cert);
    Harness { registry, runs: 0 }
}

fn list(items: &[&str]) -> OwnedValue {
    OwnedValue::from(
        items
            .iter()
            .map(|s| OwnedValue::from(*s))
            .collect::<Vec<_>>(),
    )
}

/// The NG options that bit `i` of `bits` adds to a request.
fn with_options(mut d: OwnedValue, bits: u32) -> OwnedValue {
    let on = |i: u32| bits & (1 << i) != 0;
    if on(0) {
        d = d.with("ICE", "force");
    } else if on(1) {
        d = d.with("ICE", "remove");
    }
    if on(2) {
        d = d.with("DTLS", "passive");
    } else if on(3) {
        d = d.with("DTLS", "off");
    }
    if on(4) {
        d = d.with("transport-protocol", "UDP/TLS/RTP/SAVPF");
    } else if on(5) {
        d = d.with("transport-protocol", "RTP/AVP");
    } else if on(6) {
        d = d.with("transport-protocol", "RTP/SAVP");
    }
    if on(7) {
        d = d.with("SDES", list(&["off"]));
    } else if on(8) {
        d = d.with(
            "SDES",
            list(&["only-AES_CM_128_HMAC_SHA1_80", "no-AEAD_AES_256_GCM"]),
        );
    }
    // A list option with the words whose bits are set (left out when none is).
    let chosen = |d: OwnedValue, key: &'static str, words: &[(u32, &str)]| {
        let set: Vec<&str> = words
            .iter()
            .filter(|(i, _)| on(*i))
            .map(|(_, w)| *w)
            .collect();
        if set.is_empty() {
            d
        } else {
            d.with(key, list(&set))
        }
    };
    d = chosen(
        d,
        "rtcp-mux",
        &[(9, "offer"), (10, "demux"), (11, "require"), (12, "accept")],
    );
    let mut codec = OwnedValue::dict();
    let mut any_codec = false;
    for (i, op, name) in [
        (13, "strip", "PCMA"),
        (14, "mask", "all"),
        (15, "consume", "telephone-event"),
        (16, "except", "PCMU"),
        (17, "offer", "PCMU"),
        (18, "accept", "opus"),
    ] {
        if on(i) {
            codec = codec.with(op, list(&[name]));
            any_codec = true;
        }
    }
    if any_codec {
        d = d.with("codec", codec);
    }
    if on(19) {
        d = d.with(
            "replace",
            list(&["origin", "session-connection", "SDP-version"]),
        );
    }
    d = chosen(
        d,
        "flags",
        &[
            (20, "trust-address"),
            (21, "symmetric"),
            (22, "strict-source"),
            (23, "generate-mid"),
            (24, "strip-extmap"),
            (25, "no-rtcp-attribute"),
            (26, "full-rtcp-attribute"),
            (27, "loop-protect"),
            (28, "OSRTP-offer"),
            (29, "all"),
        ],
    );
    if on(30) {
        d = d.with("label", "caller");
    }
    if on(31) {
        d = d.with("media-address", "198.51.100.7");
    }
    d
}

/// Encodes `request`, decodes and parses it as the NG socket does, and runs it. Every SDP in
/// a successful reply must parse.
fn run(registry: &mut Registry, request: OwnedValue) {
    let mut body = Vec::new();
    request.encode(&mut body);
    let value = bencode::decode(&body).expect("our own bencode decodes");
    let dict = value.as_dict().expect("a dictionary");
    // An option value the parser refuses is an error reply, as over the socket.
    let Ok(req) = parse_request(dict) else {
        return;
    };
    let reply = match registry.handle(&req, Instant::now()) {
        Ok(reply) => reply,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut out = Vec::new();
    reply.encode(&mut out);
    let decoded = bencode::decode(&out).expect("the reply is valid bencode");
    let reply = decoded.as_dict().expect("the reply is a dictionary");
    if let Some(sdp) = reply.get("sdp").and_then(|v| v.as_bytes()) {
        let text = std::str::from_utf8(sdp).expect("the SDP we write is UTF-8");
        if let Err(e) = Session::parse(text) {
            panic!("the registry wrote SDP that does not parse ({e}):\n{text}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((bits, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let bits = u32::from_le_bytes(*bits);
    let mut parts = rest.splitn(3, |&b| b == 0);
    let offer_sdp = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let answer_sdp = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| offer_sdp.clone());
    let reoffer_sdp = parts
        .next()
        .map(|p| String::from_utf8_lossy(p).into_owned());

    HARNESS.with(|h| {
        let mut h = h.borrow_mut();
        let h = h.get_or_insert_with(harness);
        let registry = &mut h.registry;
        let base = |command: &str| {
            OwnedValue::dict()
                .with("command", command)
                .with("call-id", "fuzz-call")
                .with("from-tag", "fuzz-a")
        };
        run(
            registry,
            with_options(base("offer").with("sdp", offer_sdp.as_str()), bits),
        );
        run(
            registry,
            with_options(
                base("answer")
                    .with("to-tag", "fuzz-b")
                    .with("sdp", answer_sdp.as_str()),
                bits.rotate_left(7),
            ),
        );
        if let Some(sdp) = reoffer_sdp {
            run(
                registry,
                with_options(
                    base("offer").with("sdp", sdp.as_str()),
                    bits.rotate_left(13),
                ),
            );
        }
        run(registry, base("query"));
        run(registry, base("delete").with("delete-delay", 0i64));
        h.runs += 1;
        if h.runs % SETTLE_EVERY == 0 {
            h.registry.settle();
        }
        assert_eq!(h.registry.call_count(), 0, "the delete ended the call");
    });
});
