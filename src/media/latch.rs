//! Endpoint learning ("latching"), sans-IO: given where a packet came from, what it carries
//! (SSRC, sequence number, whether SRTP authenticated it) and the time, decide whether to
//! forward it and where to send this party's media from now on.
//!
//! Modes follow rtpengine's `--endpoint-learning`, hardened against blind RTP injection and
//! RTP "bleed" (ES2025-01, CVE-2025-53399):
//! - `off`: always send to the address the SDP named; never learn. Packets are accepted from
//!   anywhere (rtpengine's behaviour), or only from the SDP address with `strict_source`.
//! - `immediate`, `delayed`, `heuristic` (the modes that allow NAT): the first packet's source
//!   is learned at once. For [`LEARNING_DELAY`] after that first packet (the learning window)
//!   a source that shares the SDP's IP address and matches it better (exact address and port
//!   beats address only) takes over at once: the SDP-advertised endpoint wins over a stranger.
//!   `confirmed` is set at once (`immediate`) or when the window closes (`delayed`,
//!   `heuristic`); it only feeds the statistics, the rules below apply from the first packet.
//! - Any other source must prove it continues the current stream before it is adopted:
//!   [`Continuity::rtp`] (default 10) consecutive RTP packets from that one new source, all
//!   carrying the current SSRC, each sequence number one above the previous and ahead of the
//!   last one forwarded by no more than [`max_seq_jump`] allows; or [`Continuity::rtcp`]
//!   (default 2) consecutive RTCP packets carrying the current sender SSRC; or a single
//!   packet that SRTP/SRTCP authenticated (and replay-checked) before it got here. Until
//!   then its packets are dropped: not forwarded (no injection) and never a reason to send
//!   anywhere else (no bleed). This is how IP handover (Wi-Fi to 4G, same SSRC) keeps
//!   working while a blind attacker, who knows neither SSRC nor sequence, gets nothing.
//! - `strict_source`: once a source is learned nothing else is accepted, proven or not
//!   (the learning window's SDP preference still applies).
//! - `media_handover`: the continuity proof is still required for RTP and RTCP; only opaque
//!   datagrams (no SSRC to prove, e.g. T.38) move the endpoint on sight, as rtpengine does.
//! - `asymmetric` never learns.
//!
//! Everything is `Copy` state: no allocation per packet.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::config::EndpointLearning;

/// How long after the first packet an SDP-matching source still displaces a stranger, and
/// after which `delayed` and `heuristic` report the endpoint as confirmed.
pub const LEARNING_DELAY: Duration = Duration::from_secs(3);

/// Largest jump of the sequence number from the last forwarded packet to a new source's
/// first packet when the stream is live.
pub const SEQ_JUMP_BASE: u16 = 32;
/// The allowed jump grows with the time since the last forwarded packet at this many
/// packets per second (an upper bound of any voice stream's rate: 10 ms packets).
pub const SEQ_JUMP_RATE: u64 = 100;

/// How far ahead of the last forwarded sequence number a new source may start, `idle` after
/// the last forwarded packet: a handover after an outage resumes further on, a packet
/// sprayed while the stream is live must land in a narrow window.
pub fn max_seq_jump(idle: Duration) -> u16 {
    let grown = (idle.as_millis() as u64).saturating_mul(SEQ_JUMP_RATE) / 1000;
    (u64::from(SEQ_JUMP_BASE) + grown).min(0x7fff) as u16
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatchPolicy {
    pub mode: EndpointLearning,
    pub strict_source: bool,
    pub asymmetric: bool,
    pub media_handover: bool,
}

/// How many consecutive packets a new source must send to prove it continues the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Continuity {
    /// RTP packets (SSRC and sequence checked); at least 1.
    pub rtp: u8,
    /// RTCP packets (sender SSRC checked); at least 1.
    pub rtcp: u8,
}

impl Default for Continuity {
    /// 10 RTP / 2 RTCP packets, as rtpproxy's IP-handover patch.
    fn default() -> Self {
        Continuity { rtp: 10, rtcp: 2 }
    }
}

/// What the latch needs to know about a packet besides its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// RTP: the SSRC. RTCP: the sender SSRC of the first packet of the compound.
    pub ssrc: u32,
    /// RTP: the sequence number. RTCP: `None`.
    pub seq: Option<u16>,
    /// SRTP/SRTCP authenticated the packet (and its replay check passed).
    pub authenticated: bool,
}

impl PacketInfo {
    /// SSRC and sequence number of an RTP packet (header only; `None` if shorter than 12
    /// bytes).
    pub fn rtp(pkt: &[u8]) -> Option<PacketInfo> {
        let h = pkt.get(..12)?;
        Some(PacketInfo {
            ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            seq: Some(u16::from_be_bytes([h[2], h[3]])),
            authenticated: false,
        })
    }

    /// The sender SSRC of an RTCP packet (`None` if shorter than 8 bytes).
    pub fn rtcp(pkt: &[u8]) -> Option<PacketInfo> {
        let h = pkt.get(..8)?;
        Some(PacketInfo {
            ssrc: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            seq: None,
            authenticated: false,
        })
    }

    pub fn authenticated(self, authenticated: bool) -> PacketInfo {
        PacketInfo {
            authenticated,
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward; the destination is unchanged.
    Accept,
    /// Forward, and from now on send to this address.
    Learn(SocketAddr),
    /// Do not forward.
    Drop,
}

/// The stream as last forwarded from the learned source.
#[derive(Debug, Clone, Copy)]
struct Position {
    ssrc: u32,
    seq: Option<u16>,
    at: Instant,
}

/// A new source part-way through its continuity proof.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    addr: SocketAddr,
    seq: Option<u16>,
    count: u8,
}

/// Learning state of one component (RTP or RTCP) of one leg.
#[derive(Debug, Clone, Default)]
pub struct Latch {
    /// Address from the SDP (where we send until we learn).
    pub advertised: Option<SocketAddr>,
    /// The current destination.
    pub current: Option<SocketAddr>,
    pub confirmed: bool,
    pub continuity: Continuity,
    /// `current` came from a packet (not from the SDP or a guess).
    learned: bool,
    first_packet: Option<Instant>,
    rank: u8,
    stream: Option<Position>,
    candidate: Option<Candidate>,
    /// RTCP: the RTP latch's learned address (only sources with its IP address are learned
    /// first; with rtcp-mux, only that very address).
    anchor: Option<(SocketAddr, bool)>,
}

/// `a` is ahead of `b` by 1..=`max` in sequence-number space (wrapping).
fn ahead(a: u16, b: u16, max: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d <= max
}

impl Latch {
    pub fn new(advertised: Option<SocketAddr>) -> Latch {
        Latch {
            advertised,
            current: advertised,
            ..Latch::default()
        }
    }

    /// The SDP named a (possibly new) address: a re-INVITE. Learning starts over when it
    /// changed; a confirmed endpoint is kept when it did not.
    pub fn set_advertised(&mut self, advertised: Option<SocketAddr>) {
        if self.advertised != advertised {
            let (continuity, anchor) = (self.continuity, self.anchor);
            *self = Latch::new(advertised);
            self.continuity = continuity;
            self.anchor = anchor;
        }
    }

    /// The RTP latch of the same leg learned `rtp` (call this on the RTCP latch). Until RTCP
    /// arrives, RTCP goes to the next port up; an RTCP source learned before RTP that does not
    /// share RTP's address (a stranger racing the first packets) is forgotten, and later
    /// first sources must share it (`rtcp_mux`: the very address).
    pub fn follow_rtp(&mut self, rtp: SocketAddr, rtcp_mux: bool) {
        self.anchor = Some((rtp, rtcp_mux));
        if self.learned && !self.current.is_some_and(|c| self.fits_anchor(c)) {
            let (continuity, anchor) = (self.continuity, self.anchor);
            *self = Latch::new(self.advertised);
            self.continuity = continuity;
            self.anchor = anchor;
        }
        if !rtcp_mux && self.current.is_none() {
            self.current = Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)));
        }
    }

    /// An ICE agent selected (nominated, checked) the pair whose remote end is `addr`: it
    /// becomes the endpoint at once, confirmed, and nothing but the next nomination moves it
    /// while the leg runs with `strict_source` (as ICE legs should).
    pub fn confirm(&mut self, addr: SocketAddr, now: Instant) {
        self.first_packet.get_or_insert(now);
        self.learned = true;
        self.confirmed = true;
        self.rank = u8::MAX;
        self.candidate = None;
        if self.current != Some(addr) {
            self.stream = None;
            self.current = Some(addr);
        }
    }

    fn fits_anchor(&self, src: SocketAddr) -> bool {
        match self.anchor {
            None => true,
            Some((a, true)) => a == src,
            Some((a, false)) => a.ip() == src.ip(),
        }
    }

    /// How well `src` matches the SDP: 3 address and port, 2 address, 0 otherwise. (A
    /// matching port alone ranks nothing: an attacker can pick its source port.)
    fn rank_of(&self, src: SocketAddr) -> u8 {
        match self.advertised {
            Some(a) if a == src => 3,
            Some(a) if same_ip(a.ip(), src.ip()) => 2,
            _ => 0,
        }
    }

    fn position(info: Option<PacketInfo>, now: Instant) -> Option<Position> {
        info.map(|i| Position {
            ssrc: i.ssrc,
            seq: i.seq,
            at: now,
        })
    }

    /// Makes `src` the learned endpoint, its packet the stream position. The first source
    /// is reported as learned even when the SDP named it (the RTCP latch follows it).
    fn adopt(&mut self, src: SocketAddr, info: Option<PacketInfo>, now: Instant) -> Verdict {
        let was_learned = self.learned;
        self.learned = true;
        self.rank = self.rank_of(src);
        self.stream = Self::position(info, now);
        self.candidate = None;
        if was_learned && self.current == Some(src) {
            Verdict::Accept
        } else {
            self.current = Some(src);
            Verdict::Learn(src)
        }
    }

    /// Decides about one packet from `src`. `info` is `None` for datagrams that carry no
    /// RTP/RTCP header (non-RTP media, or too short to have one).
    pub fn on_packet(
        &mut self,
        src: SocketAddr,
        info: Option<PacketInfo>,
        now: Instant,
        p: &LatchPolicy,
    ) -> Verdict {
        if p.asymmetric || p.mode == EndpointLearning::Off {
            if p.strict_source && self.advertised.is_some_and(|a| a != src) {
                return Verdict::Drop;
            }
            return Verdict::Accept;
        }
        let first = *self.first_packet.get_or_insert(now);
        let window_open = now.saturating_duration_since(first) < LEARNING_DELAY;
        if p.mode == EndpointLearning::Immediate || !window_open {
            self.confirmed = true;
        }
        if !self.learned {
            if !self.fits_anchor(src) {
                return Verdict::Drop;
            }
            return self.adopt(src, info, now);
        }
        if self.current == Some(src) {
            self.on_current(info, now);
            return Verdict::Accept;
        }
        // The SDP's own address wins over a stranger while the window is open.
        let rank = self.rank_of(src);
        if window_open && rank >= 2 && rank > self.rank && self.fits_anchor(src) {
            return self.adopt(src, info, now);
        }
        if p.strict_source {
            return Verdict::Drop;
        }
        let Some(info) = info else {
            // Nothing to prove continuity with: only an explicit media-handover moves.
            if p.media_handover {
                return self.adopt(src, None, now);
            }
            return Verdict::Drop;
        };
        if info.authenticated {
            return self.adopt(src, Some(info), now);
        }
        if self.proves_continuity(src, info, now) {
            return self.adopt(src, Some(info), now);
        }
        Verdict::Drop
    }

    /// A packet from the learned source: the stream moves on (a new SSRC from the learned
    /// source is that party's new stream).
    fn on_current(&mut self, info: Option<PacketInfo>, now: Instant) {
        let Some(info) = info else { return };
        match &mut self.stream {
            Some(pos) if pos.ssrc == info.ssrc => {
                if let (Some(seq), Some(last)) = (info.seq, pos.seq) {
                    if ahead(seq, last, 0x7fff) {
                        pos.seq = Some(seq);
                    }
                } else if pos.seq.is_none() {
                    pos.seq = info.seq;
                }
                pos.at = now;
            }
            _ => self.stream = Self::position(Some(info), now),
        }
    }

    /// Counts `info` from the non-learned `src` towards its proof; true when it completes.
    fn proves_continuity(&mut self, src: SocketAddr, info: PacketInfo, now: Instant) -> bool {
        let Some(pos) = self.stream else {
            return false;
        };
        let same_candidate = self.candidate.filter(|c| c.addr == src);
        let fits = info.ssrc == pos.ssrc
            && match (info.seq, pos.seq) {
                (Some(seq), Some(last)) => {
                    let window = max_seq_jump(now.saturating_duration_since(pos.at));
                    let in_order = match same_candidate {
                        Some(c) => c.seq.is_some_and(|prev| seq == prev.wrapping_add(1)),
                        None => true,
                    };
                    in_order && ahead(seq, last, window)
                }
                // RTCP: the sender SSRC is all there is.
                (None, _) => true,
                (Some(_), None) => false,
            };
        if !fits {
            // A packet that breaks the proof ends it; strangers' packets do not touch it.
            if same_candidate.is_some() {
                self.candidate = None;
            }
            return false;
        }
        let count = same_candidate.map_or(1, |c| c.count.saturating_add(1));
        let needed = if info.seq.is_some() {
            self.continuity.rtp
        } else {
            self.continuity.rtcp
        };
        if count >= needed.max(1) {
            return true;
        }
        self.candidate = Some(Candidate {
            addr: src,
            seq: info.seq,
            count,
        });
        false
    }
}

/// Equal addresses, an IPv4-mapped IPv6 address equal to its IPv4 form.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn pol(mode: EndpointLearning) -> LatchPolicy {
        LatchPolicy {
            mode,
            ..LatchPolicy::default()
        }
    }

    fn rtp(ssrc: u32, seq: u16) -> Option<PacketInfo> {
        Some(PacketInfo {
            ssrc,
            seq: Some(seq),
            authenticated: false,
        })
    }

    fn rtcp(ssrc: u32) -> Option<PacketInfo> {
        Some(PacketInfo {
            ssrc,
            seq: None,
            authenticated: false,
        })
    }

    const NAT_MODES: [EndpointLearning; 3] = [
        EndpointLearning::Immediate,
        EndpointLearning::Delayed,
        EndpointLearning::Heuristic,
    ];

    const MS20: Duration = Duration::from_millis(20);

    /// A stream from `src` at 50 pps: packets `seq..seq+n`, starting at `t`; returns the
    /// verdicts and the time after the last.
    fn stream(
        l: &mut Latch,
        src: SocketAddr,
        ssrc: u32,
        seq: u16,
        n: u16,
        t: Instant,
        p: &LatchPolicy,
    ) -> (Vec<Verdict>, Instant) {
        let mut t = t;
        let v = (0..n)
            .map(|i| {
                let v = l.on_packet(src, rtp(ssrc, seq.wrapping_add(i)), t, p);
                t += MS20;
                v
            })
            .collect();
        (v, t)
    }

    #[test]
    fn packet_info_reads_headers() {
        let mut pkt = [0u8; 12];
        pkt[0] = 0x80;
        pkt[2..4].copy_from_slice(&0x1234u16.to_be_bytes());
        pkt[8..12].copy_from_slice(&0xdeadbeefu32.to_be_bytes());
        assert_eq!(PacketInfo::rtp(&pkt), rtp(0xdeadbeef, 0x1234));
        assert_eq!(PacketInfo::rtp(&pkt[..11]), None);
        let rr = [0x80, 201, 0, 1, 1, 2, 3, 4];
        assert_eq!(PacketInfo::rtcp(&rr), rtcp(0x01020304));
        assert_eq!(PacketInfo::rtcp(&rr[..7]), None);
        assert!(
            PacketInfo::rtp(&pkt)
                .unwrap()
                .authenticated(true)
                .authenticated
        );
    }

    #[test]
    fn max_seq_jump_grows_with_idle_time() {
        assert_eq!(max_seq_jump(Duration::ZERO), SEQ_JUMP_BASE);
        assert_eq!(max_seq_jump(Duration::from_secs(1)), SEQ_JUMP_BASE + 100);
        assert_eq!(max_seq_jump(Duration::from_secs(100_000)), 0x7fff);
    }

    #[test]
    fn first_source_is_learned_at_once_in_every_nat_mode() {
        for mode in NAT_MODES {
            let t = Instant::now();
            let mut l = Latch::new(Some(a("10.0.0.1:4000")));
            let p = pol(mode);
            assert_eq!(
                l.on_packet(a("192.0.2.9:5000"), rtp(7, 100), t, &p),
                Verdict::Learn(a("192.0.2.9:5000"))
            );
            assert_eq!(l.confirmed, mode == EndpointLearning::Immediate);
            assert_eq!(
                l.on_packet(a("192.0.2.9:5000"), rtp(7, 101), t + LEARNING_DELAY, &p),
                Verdict::Accept
            );
            assert!(l.confirmed);
        }
    }

    #[test]
    fn handover_with_same_ssrc_switches_on_the_tenth_packet() {
        for mode in NAT_MODES {
            let t = Instant::now();
            let old = a("192.0.2.1:4000");
            let new = a("198.51.100.7:61000");
            let mut l = Latch::new(Some(old));
            let p = pol(mode);
            let (_, t) = stream(&mut l, old, 0xabc, 65530, 300, t, &p);
            // The old path stops; two packets are lost in the switch; the sequence wraps.
            let last = 65530u16.wrapping_add(299);
            let (v, _) = stream(&mut l, new, 0xabc, last.wrapping_add(3), 12, t + MS20, &p);
            assert_eq!(&v[..9], &[Verdict::Drop; 9], "{mode:?}");
            assert_eq!(v[9], Verdict::Learn(new), "{mode:?}");
            assert_eq!(&v[10..], &[Verdict::Accept; 2]);
            assert_eq!(l.current, Some(new));
            // The old address is now the stranger.
            assert_eq!(
                l.on_packet(old, rtp(0xabc, last.wrapping_add(20)), t, &p),
                Verdict::Drop
            );
        }
    }

    #[test]
    fn handover_after_a_long_outage_is_allowed_a_bigger_jump() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(old));
        let p = pol(EndpointLearning::Immediate);
        let (_, t) = stream(&mut l, old, 5, 1000, 10, t, &p);
        // 2 s without packets: the phone sent ~100 packets into the dead network.
        let (v, _) = stream(
            &mut l,
            new,
            5,
            1010 + 100,
            10,
            t + Duration::from_secs(2),
            &p,
        );
        assert_eq!(v[9], Verdict::Learn(new));
        // The same jump while the stream is live is refused.
        let mut l = Latch::new(Some(old));
        let (_, t) = stream(&mut l, old, 5, 1000, 10, Instant::now(), &p);
        let (v, _) = stream(&mut l, new, 5, 1010 + 100, 10, t, &p);
        assert!(v.iter().all(|v| *v == Verdict::Drop));
    }

    #[test]
    fn attacker_with_random_ssrcs_is_never_adopted_nor_forwarded() {
        for mode in NAT_MODES {
            let t = Instant::now();
            let victim = a("192.0.2.1:4000");
            let attacker = a("203.0.113.66:4000");
            let mut l = Latch::new(Some(victim));
            let p = pol(mode);
            let mut t = t;
            let mut x: u32 = 0x1234_5678;
            for i in 0..2000u16 {
                // Interleaved with the victim's stream, before and after the window closes.
                assert_ne!(
                    l.on_packet(victim, rtp(1, i), t, &p),
                    Verdict::Drop,
                    "{mode:?}"
                );
                for _ in 0..5 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let v = l.on_packet(attacker, rtp(x, x as u16), t, &p);
                    assert_eq!(v, Verdict::Drop, "{mode:?}");
                    // A stream of its own, consecutive and steady.
                    let v = l.on_packet(attacker, rtp(0x6666, i), t, &p);
                    assert_eq!(v, Verdict::Drop, "{mode:?}");
                }
                t += MS20;
            }
            assert_eq!(l.current, Some(victim));
        }
    }

    #[test]
    fn attacker_with_the_right_ssrc_but_wrong_sequence_is_never_adopted() {
        let victim = a("192.0.2.1:4000");
        let attacker = a("203.0.113.66:4000");
        for mode in NAT_MODES {
            let mut t = Instant::now();
            let mut l = Latch::new(Some(victim));
            let p = pol(mode);
            let mut seq = 5000u16;
            // Consecutive runs that start behind, far ahead or half the space away, while
            // the victim's stream goes on.
            for offset in [-1000i32, -1, 0, 100, 1000, 20000, 0x8000] {
                let mut guess = seq.wrapping_add(offset as u16);
                for _ in 0..30 {
                    assert_ne!(l.on_packet(victim, rtp(42, seq), t, &p), Verdict::Drop);
                    let v = l.on_packet(attacker, rtp(42, guess), t, &p);
                    assert_eq!(v, Verdict::Drop, "{mode:?} {offset}");
                    seq = seq.wrapping_add(1);
                    guess = guess.wrapping_add(1);
                    t += MS20;
                }
            }
            // Right start, but skipping numbers: never ten in a row.
            for i in 0..40u16 {
                let v = l.on_packet(attacker, rtp(42, seq.wrapping_add(2 * i)), t, &p);
                assert_eq!(v, Verdict::Drop);
            }
            assert_eq!(l.current, Some(victim));
        }
    }

    #[test]
    fn live_stream_overtakes_a_prover_with_the_right_ssrc() {
        // An attacker who guessed a sequence just ahead, sending at the victim's pace: the
        // live stream keeps moving the position past its numbers.
        let t = Instant::now();
        let (victim, attacker) = (a("192.0.2.1:4000"), a("203.0.113.66:4000"));
        let mut l = Latch::new(Some(victim));
        let p = pol(EndpointLearning::Delayed);
        let (_, mut t) = stream(&mut l, victim, 42, 100, 10, t, &p);
        for i in 0..20u16 {
            assert_eq!(
                l.on_packet(victim, rtp(42, 110 + 2 * i), t, &p),
                Verdict::Accept
            );
            assert_eq!(
                l.on_packet(attacker, rtp(42, 111 + i), t, &p),
                Verdict::Drop
            );
            t += MS20;
        }
        assert_eq!(l.current, Some(victim));
    }

    #[test]
    fn a_strangers_packets_do_not_break_a_proof_in_progress() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(old));
        let p = pol(EndpointLearning::Heuristic);
        let (_, mut t) = stream(&mut l, old, 9, 0, 5, t, &p);
        let mut last = Verdict::Drop;
        for i in 0..10u16 {
            assert_eq!(
                l.on_packet(a("203.0.113.1:9"), rtp(9, 7777), t, &p),
                Verdict::Drop
            );
            last = l.on_packet(new, rtp(9, 5 + i), t, &p);
            t += MS20;
        }
        assert_eq!(last, Verdict::Learn(new));
    }

    #[test]
    fn strict_source_never_hands_over() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        for mode in NAT_MODES {
            let mut l = Latch::new(Some(old));
            let p = LatchPolicy {
                strict_source: true,
                ..pol(mode)
            };
            let (_, t) = stream(&mut l, old, 1, 0, 10, t, &p);
            let (v, _) = stream(&mut l, new, 1, 10, 30, t, &p);
            assert!(v.iter().all(|v| *v == Verdict::Drop), "{mode:?}");
            let auth = rtp(1, 40).map(|i| i.authenticated(true));
            assert_eq!(l.on_packet(new, auth, t, &p), Verdict::Drop);
            assert_eq!(l.on_packet(old, rtp(1, 41), t, &p), Verdict::Accept);
        }
        // Off + strict: only the SDP address.
        let mut l = Latch::new(Some(old));
        let p = LatchPolicy {
            strict_source: true,
            ..pol(EndpointLearning::Off)
        };
        assert_eq!(l.on_packet(new, rtp(1, 0), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(old, rtp(1, 0), t, &p), Verdict::Accept);
    }

    #[test]
    fn rtcp_needs_two_packets_with_the_sender_ssrc() {
        let t = Instant::now();
        let (old, new, evil) = (
            a("192.0.2.1:4001"),
            a("198.51.100.7:61001"),
            a("203.0.113.66:4001"),
        );
        let mut l = Latch::new(Some(old));
        let p = pol(EndpointLearning::Delayed);
        assert_eq!(l.on_packet(old, rtcp(77), t, &p), Verdict::Learn(old));
        assert_eq!(l.on_packet(evil, rtcp(78), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(evil, rtcp(78), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(new, rtcp(77), t, &p), Verdict::Drop);
        // A stranger in between does not matter; a wrong SSRC from the candidate does.
        assert_eq!(l.on_packet(evil, rtcp(78), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(new, rtcp(77), t, &p), Verdict::Learn(new));
        let mut l = Latch::new(Some(old));
        l.on_packet(old, rtcp(77), t, &p);
        assert_eq!(l.on_packet(new, rtcp(77), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(new, rtcp(99), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(new, rtcp(77), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(new, rtcp(77), t, &p), Verdict::Learn(new));
    }

    #[test]
    fn continuity_thresholds_are_configurable() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(old));
        l.continuity = Continuity { rtp: 3, rtcp: 1 };
        let p = pol(EndpointLearning::Immediate);
        let (_, t) = stream(&mut l, old, 1, 0, 5, t, &p);
        let (v, _) = stream(&mut l, new, 1, 5, 3, t, &p);
        assert_eq!(v, [Verdict::Drop, Verdict::Drop, Verdict::Learn(new)]);
        l.set_advertised(Some(a("192.0.2.2:4000")));
        assert_eq!(l.continuity.rtp, 3);
    }

    #[test]
    fn srtp_authenticated_packet_moves_at_once() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(old));
        let p = pol(EndpointLearning::Delayed);
        let (_, t) = stream(&mut l, old, 1, 0, 5, t, &p);
        let auth = rtp(2, 9999).map(|i| i.authenticated(true));
        assert_eq!(l.on_packet(new, auth, t, &p), Verdict::Learn(new));
    }

    #[test]
    fn sdp_address_displaces_a_stranger_during_the_window_only() {
        let t = Instant::now();
        let sdp = a("192.0.2.1:4000");
        let evil = a("203.0.113.66:4000");
        for mode in NAT_MODES {
            let p = pol(mode);
            // The stranger (even with the SDP port) raced the first packet.
            let mut l = Latch::new(Some(sdp));
            assert_eq!(l.on_packet(evil, rtp(6, 1), t, &p), Verdict::Learn(evil));
            assert_eq!(
                l.on_packet(sdp, rtp(1, 500), t + MS20, &p),
                Verdict::Learn(sdp),
                "{mode:?}"
            );
            assert_eq!(l.on_packet(evil, rtp(6, 2), t + MS20, &p), Verdict::Drop);
            // Same IP, other port (a NAT that keeps the address) beats a stranger too,
            // and the exact address beats that.
            let mut l = Latch::new(Some(sdp));
            l.on_packet(evil, rtp(6, 1), t, &p);
            let nat = a("192.0.2.1:30000");
            assert_eq!(l.on_packet(nat, rtp(1, 5), t, &p), Verdict::Learn(nat));
            assert_eq!(l.on_packet(sdp, rtp(1, 900), t, &p), Verdict::Learn(sdp));
            assert_eq!(l.on_packet(nat, rtp(1, 6), t, &p), Verdict::Drop);
            // After the window the SDP address must prove continuity like anyone.
            let mut l = Latch::new(Some(sdp));
            l.on_packet(evil, rtp(6, 1), t, &p);
            assert_eq!(
                l.on_packet(sdp, rtp(1, 5), t + LEARNING_DELAY, &p),
                Verdict::Drop
            );
        }
    }

    #[test]
    fn rtcp_follows_rtp_and_forgets_a_stranger() {
        let t = Instant::now();
        let p = pol(EndpointLearning::Immediate);
        let evil = a("203.0.113.66:4001");
        let mut l = Latch::new(None);
        assert_eq!(l.on_packet(evil, rtcp(1), t, &p), Verdict::Learn(evil));
        l.follow_rtp(a("192.0.2.1:4000"), false);
        assert_eq!(l.current, Some(a("192.0.2.1:4001")));
        assert_eq!(l.on_packet(evil, rtcp(1), t, &p), Verdict::Drop);
        let nat = a("192.0.2.1:5555");
        assert_eq!(l.on_packet(nat, rtcp(2), t, &p), Verdict::Learn(nat));
        // rtcp-mux: only the RTP address itself.
        let mut l = Latch::new(None);
        l.follow_rtp(a("192.0.2.1:4000"), true);
        assert_eq!(l.current, None);
        assert_eq!(l.on_packet(nat, rtcp(2), t, &p), Verdict::Drop);
        assert_eq!(
            l.on_packet(a("192.0.2.1:4000"), rtcp(2), t, &p),
            Verdict::Learn(a("192.0.2.1:4000"))
        );
    }

    #[test]
    fn ice_selection_is_final_under_strict_source() {
        let t = Instant::now();
        let (sdp, pair) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(sdp));
        let p = LatchPolicy {
            strict_source: true,
            ..pol(EndpointLearning::Delayed)
        };
        l.confirm(pair, t);
        assert_eq!((l.current, l.confirmed), (Some(pair), true));
        // Not even the SDP address during the window, nor an authenticated packet.
        assert_eq!(l.on_packet(sdp, rtp(1, 1), t, &p), Verdict::Drop);
        let auth = rtp(1, 2).map(|i| i.authenticated(true));
        assert_eq!(l.on_packet(sdp, auth, t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(pair, rtp(1, 3), t, &p), Verdict::Accept);
    }

    #[test]
    fn off_and_asymmetric_never_learn() {
        let t = Instant::now();
        for p in [
            pol(EndpointLearning::Off),
            LatchPolicy {
                asymmetric: true,
                ..pol(EndpointLearning::Immediate)
            },
        ] {
            let mut l = Latch::new(Some(a("10.0.0.1:4000")));
            assert_eq!(
                l.on_packet(a("10.0.0.5:1"), rtp(1, 1), t, &p),
                Verdict::Accept
            );
            assert_eq!(l.current, Some(a("10.0.0.1:4000")));
        }
    }

    #[test]
    fn opaque_datagrams_move_only_with_media_handover() {
        let t = Instant::now();
        let (old, new) = (a("192.0.2.1:4000"), a("198.51.100.7:61000"));
        let mut l = Latch::new(Some(old));
        let p = pol(EndpointLearning::Immediate);
        assert_eq!(l.on_packet(old, None, t, &p), Verdict::Learn(old));
        assert_eq!(l.on_packet(new, None, t, &p), Verdict::Drop);
        let p = LatchPolicy {
            media_handover: true,
            ..p
        };
        assert_eq!(l.on_packet(new, None, t, &p), Verdict::Learn(new));
        // media-handover does not waive the proof for RTP (after the window, in which the
        // SDP address would still win).
        let later = t + LEARNING_DELAY;
        assert_eq!(l.on_packet(old, rtp(3, 3), later, &p), Verdict::Drop);
    }

    #[test]
    fn readvertising_same_address_keeps_confirmation() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        l.on_packet(
            a("10.0.0.9:1"),
            rtp(1, 1),
            t,
            &pol(EndpointLearning::Immediate),
        );
        l.set_advertised(Some(a("10.0.0.1:4000")));
        assert!(l.confirmed);
        l.set_advertised(Some(a("10.0.0.2:4000")));
        assert!(!l.confirmed);
        assert_eq!(l.current, Some(a("10.0.0.2:4000")));
    }
}
