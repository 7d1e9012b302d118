//! The media worker's packet path on arbitrary traffic: two legs of one call, configured as
//! the input says (SDES either way, rtcp-mux, payload-type renumbering, each endpoint-learning
//! mode, strict source, loop protection, opaque UDP, a party still without SDP, ICE, DTLS-SRTP
//! as client or server), then a stream of datagrams from a handful of sources with time
//! passing, reconfigurations, a leg replaced and timers fired. Nothing may panic, and a
//! relayed datagram never grows past what SRTP adds.
//!
//! Datagrams are raw, or (as the input asks) SRTP/SRTCP-protected with the key the receiving
//! leg expects, so that the fuzzer reaches what follows a successful authentication. STUN and
//! DTLS go to the leg's ICE agent and DTLS endpoint, whose replies leave through the leg's
//! real loopback sockets towards loopback ports where nothing listens.
//!
//! Input: two configuration words (leg A, leg B; little-endian u16, bits in [`config`]), then
//! records: a byte with bit 7 clear is a datagram (bit 0: leg B, bit 1: its RTCP socket, bits
//! 2-4: source, bit 5: protect, bit 6: as RTCP), followed by a time step (ms = byte^2), a
//! length byte and that many bytes; a byte with bit 7 set is a command (bits 0-1: reconfigure
//! A, reconfigure B, fire timers after a step, replace leg B), followed by its argument.
//!
//! Run: `cargo +nightly fuzz run relay fuzz/corpus/relay fuzz/seeds/relay`
#![no_main]

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rtpbridge::codec::PayloadTypes;
use rtpbridge::config::EndpointLearning;
use rtpbridge::dtls::dtls::{CertKind, LazyCert};
use rtpbridge::dtls::sdes::CryptoAttribute;
use rtpbridge::dtls::srtp::SrtpContext;
use rtpbridge::ice::{Candidate, CandidateType, Credentials};
use rtpbridge::media::latch::LatchPolicy;
use rtpbridge::media::stats::{LegStats, WorkerCounters};
use rtpbridge::media::webrtc::{DtlsLegConfig, DtlsSetup, IceLegConfig};
use rtpbridge::media::worker::{LegConfig, LegSockets, Worker, WorkerCmd};

const A: u64 = 1;
const B: u64 = 2;
/// Commands carried out per input (the rest are skipped).
const MAX_COMMANDS: u32 = 8;
/// The most SRTP/SRTCP adds to a datagram (a 16-byte tag, a 4-byte SRTCP index, an MKI).
const MAX_GROWTH: usize = 64;

struct Keys {
    cm: CryptoAttribute,
    gcm: CryptoAttribute,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        cm: CryptoAttribute::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        )
        .expect("AES-CM key"),
        gcm: CryptoAttribute::parse(
            "2 AEAD_AES_128_GCM inline:8Q4mKXO1CKgLxUqiZmM4jbodtWhiE4EJasxbXw",
        )
        .expect("AES-GCM key"),
    })
}

fn cert() -> LazyCert {
    static CERT: OnceLock<LazyCert> = OnceLock::new();
    CERT.get_or_init(|| LazyCert::new(CertKind::default()))
        .clone()
}

/// Where party `i` (0-7) sends from and receives on.
fn source(i: u8, rtcp: bool) -> SocketAddr {
    let port = 40_000 + 2 * u16::from(i) + u16::from(rtcp);
    SocketAddr::from(([127, 0, 0, 2 + i], port))
}

fn sock() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind")
}

fn add_leg(w: &mut Worker, id: u64) {
    w.apply_now(WorkerCmd::AddLeg {
        id,
        sockets: LegSockets::New {
            rtp: sock(),
            rtcp: Some(sock()),
        },
        stats: Arc::new(LegStats::default()),
        call_id: Arc::from("fuzz"),
        tag: Arc::from(if id == A { "a" } else { "b" }),
    });
}

/// Leg configuration from bits: 0 SDES in (AES-CM), 1 SDES out (AES-GCM), 2 rtcp-mux,
/// 3 renumber 101 to 96, 4-5 endpoint learning, 6 strict source, 7 asymmetric, 8 media
/// handover, 9 loop protection, 10 opaque UDP, 11 awaiting SDP, 12 ICE, 13 DTLS-SRTP,
/// 14 DTLS client, 15 ICE controlling.
fn config(bits: u16, peer: u64, party: u8) -> LegConfig {
    let on = |i: u16| bits & (1 << i) != 0;
    let k = keys();
    let mut payload_types = PayloadTypes::none();
    payload_types.allow(0, 0);
    payload_types.allow(8, 8);
    payload_types.allow(101, if on(3) { 96 } else { 101 });
    let adv = source(party, false);
    let mode = [
        EndpointLearning::Delayed,
        EndpointLearning::Immediate,
        EndpointLearning::Off,
        EndpointLearning::Heuristic,
    ][usize::from((bits >> 4) & 3)];
    let ice = on(12).then(|| {
        Box::new(IceLegConfig {
            local: Credentials {
                ufrag: "fzUf".into(),
                pwd: "fuzzpasswordfuzzpassword".into(),
            },
            foundation: "1".into(),
            lite: !on(15),
            controlling: on(15),
            remote: Some(Credentials {
                ufrag: "peer".into(),
                pwd: "peerpasswordpeerpassword".into(),
            }),
            remote_candidates: vec![Candidate {
                foundation: "2".into(),
                component: 1,
                priority: 2_130_706_431,
                addr: adv,
                kind: CandidateType::Host,
                related: None,
            }],
            remote_lite: false,
            end_of_candidates: true,
        })
    });
    let dtls = on(13).then(|| {
        Box::new(DtlsLegConfig {
            setup: if on(14) {
                DtlsSetup::Active
            } else {
                DtlsSetup::Passive
            },
            fingerprint: None,
        })
    });
    LegConfig {
        peer: Some(peer),
        awaiting_sdp: on(11),
        advertised_rtp: Some(adv),
        advertised_rtcp: (!on(2)).then(|| source(party, true)),
        rtcp_mux: on(2),
        latch: LatchPolicy {
            mode,
            strict_source: on(6),
            asymmetric: on(7),
            media_handover: on(8),
        },
        loop_protect: on(9),
        rtp: !on(10),
        payload_types,
        srtp_recv: on(0).then(|| Box::new(k.cm.clone())),
        srtp_send: on(1).then(|| Box::new(k.gcm.clone())),
        ice,
        dtls,
    }
}

/// The harness's side of one leg: the SRTP sender its party uses (with SDES in).
struct Party {
    srtp: Option<SrtpContext>,
}

impl Party {
    fn new(bits: u16) -> Party {
        let srtp = (bits & 1 != 0)
            .then(|| keys().cm.srtp_context().ok())
            .flatten();
        Party { srtp }
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn word(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }
}

fn configure(w: &mut Worker, id: u64, bits: u16) {
    let (peer, party) = if id == A { (B, 0) } else { (A, 1) };
    w.apply_now(WorkerCmd::Configure {
        id,
        cfg: Box::new(config(bits, peer, party)),
    });
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let (Some(bits_a), Some(bits_b)) = (input.word(), input.word()) else {
        return;
    };
    let (_tx, rx) = crossbeam_channel::unbounded();
    let Ok((mut w, _waker)) = Worker::new(
        rx,
        Arc::new(WorkerCounters::default()),
        (40_000, 40_099),
        Some(cert()),
    ) else {
        return;
    };
    add_leg(&mut w, A);
    add_leg(&mut w, B);
    configure(&mut w, A, bits_a);
    configure(&mut w, B, bits_b);
    let mut parties = [Party::new(bits_a), Party::new(bits_b)];
    let mut now = Instant::now();
    let mut buf = vec![0u8; 256 + MAX_GROWTH];

    // Replacing a leg binds two sockets: a few per input keep runs fast.
    let mut commands = MAX_COMMANDS;
    while let Some(h) = input.byte() {
        if h & 0x80 != 0 {
            if commands == 0 {
                continue;
            }
            commands -= 1;
            match h & 3 {
                0 | 1 => {
                    let Some(bits) = input.word() else { break };
                    let id = if h & 1 == 0 { A } else { B };
                    configure(&mut w, id, bits);
                    parties[usize::from(h & 1)] = Party::new(bits);
                }
                2 => {
                    let step = input.byte().unwrap_or(0);
                    now += Duration::from_millis(u64::from(step) * u64::from(step));
                    w.fire_timers(now);
                }
                _ => {
                    let Some(bits) = input.word() else { break };
                    w.apply_now(WorkerCmd::RemoveLeg {
                        id: B,
                        park: h & 4 != 0,
                    });
                    add_leg(&mut w, B);
                    configure(&mut w, B, bits);
                    parties[1] = Party::new(bits);
                }
            }
            continue;
        }
        let leg = usize::from(h & 1);
        let rtcp_sock = h & 2 != 0;
        let src = source((h >> 2) & 7, rtcp_sock);
        let protect = h & 0x20 != 0;
        let as_rtcp = h & 0x40 != 0;
        let step = input.byte().unwrap_or(0);
        now += Duration::from_millis(u64::from(step) * u64::from(step));
        let len = usize::from(input.byte().unwrap_or(0));
        let pkt = input.bytes(len);
        buf[..pkt.len()].copy_from_slice(pkt);
        let mut n = pkt.len();
        if protect {
            if let Some(ctx) = parties[leg].srtp.as_mut() {
                let r = if as_rtcp {
                    ctx.protect_rtcp(&mut buf, n)
                } else {
                    ctx.protect_rtp(&mut buf, n)
                };
                if let Ok(m) = r {
                    n = m;
                }
            }
        }
        let id = if leg == 0 { A } else { B };
        if let Some((_, out)) = w.relay_datagram(id, rtcp_sock, &buf[..n], src, now) {
            assert!(
                out <= n + MAX_GROWTH,
                "a {n}-byte datagram was relayed as {out} bytes"
            );
        }
    }
    // Whatever the handshakes left pending runs out.
    w.fire_timers(now + Duration::from_secs(120));
});
