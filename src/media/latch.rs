//! Endpoint learning ("latching"), sans-IO: given the address a packet came from and the time,
//! decide whether to accept it and where to send this party's media from now on.
//!
//! Modes follow rtpengine's `--endpoint-learning`:
//! - `off`: always send to the address the SDP named; never learn.
//! - `immediate`: the first packet's source is learned and confirmed at once.
//! - `delayed`: sources are learned (latest wins) for the first [`LEARNING_DELAY`] after the first
//!   packet, then the address is confirmed.
//! - `heuristic`: like delayed, but a source that matches the SDP address and port beats one
//!   that matches the address only, which beats one matching the port only, which beats others.
//!
//! Once confirmed, packets from another source are forwarded but do not move the endpoint,
//! unless `media_handover` is set (they do) or `strict_source` is set (they are dropped).
//! `asymmetric` never learns. The hardened learning (continuity proof before a handover) builds
//! on this in the attack-hardening work.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::EndpointLearning;

/// How long `delayed` and `heuristic` keep learning after the first packet.
pub const LEARNING_DELAY: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatchPolicy {
    pub mode: EndpointLearning,
    pub strict_source: bool,
    pub asymmetric: bool,
    pub media_handover: bool,
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

/// Learning state of one component (RTP or RTCP) of one leg.
#[derive(Debug, Clone, Default)]
pub struct Latch {
    /// Address from the SDP (where we send until we learn).
    pub advertised: Option<SocketAddr>,
    /// The current destination.
    pub current: Option<SocketAddr>,
    pub confirmed: bool,
    first_packet: Option<Instant>,
    rank: u8,
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
            *self = Latch::new(advertised);
        }
    }

    fn rank_of(&self, src: SocketAddr) -> u8 {
        match self.advertised {
            Some(a) if a == src => 3,
            Some(a) if a.ip() == src.ip() => 2,
            Some(a) if a.port() == src.port() => 1,
            _ => 0,
        }
    }

    pub fn on_packet(&mut self, src: SocketAddr, now: Instant, p: &LatchPolicy) -> Verdict {
        if p.asymmetric || p.mode == EndpointLearning::Off {
            if p.strict_source && self.advertised.is_some_and(|a| a != src) {
                return Verdict::Drop;
            }
            return Verdict::Accept;
        }
        if self.confirmed {
            if self.current == Some(src) {
                return Verdict::Accept;
            }
            if p.media_handover {
                self.current = Some(src);
                return Verdict::Learn(src);
            }
            if p.strict_source {
                return Verdict::Drop;
            }
            return Verdict::Accept;
        }
        let first = *self.first_packet.get_or_insert(now);
        let delay_over = now.duration_since(first) >= LEARNING_DELAY;
        let learn = match p.mode {
            EndpointLearning::Immediate => {
                self.confirmed = true;
                true
            }
            EndpointLearning::Delayed => {
                if delay_over {
                    self.confirmed = true;
                }
                true
            }
            EndpointLearning::Heuristic => {
                let r = self.rank_of(src);
                if delay_over {
                    self.confirmed = true;
                }
                if r >= self.rank || self.current.is_none() {
                    self.rank = r;
                    true
                } else {
                    false
                }
            }
            EndpointLearning::Off => false,
        };
        if learn && self.current != Some(src) {
            self.current = Some(src);
            return Verdict::Learn(src);
        }
        if !learn && p.strict_source && self.confirmed {
            return Verdict::Drop;
        }
        Verdict::Accept
    }
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

    #[test]
    fn immediate_confirms_first_source() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        let p = pol(EndpointLearning::Immediate);
        assert_eq!(
            l.on_packet(a("10.0.0.9:5000"), t, &p),
            Verdict::Learn(a("10.0.0.9:5000"))
        );
        assert!(l.confirmed);
        // Another source is forwarded but does not move the endpoint.
        assert_eq!(l.on_packet(a("10.0.0.7:5000"), t, &p), Verdict::Accept);
        assert_eq!(l.current, Some(a("10.0.0.9:5000")));
    }

    #[test]
    fn strict_source_drops_others_after_confirmation() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        let p = LatchPolicy {
            strict_source: true,
            ..pol(EndpointLearning::Immediate)
        };
        l.on_packet(a("10.0.0.1:4000"), t, &p);
        assert_eq!(l.on_packet(a("10.0.0.7:5000"), t, &p), Verdict::Drop);
        assert_eq!(l.on_packet(a("10.0.0.1:4000"), t, &p), Verdict::Accept);
    }

    #[test]
    fn delayed_follows_latest_until_delay_then_confirms() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        let p = pol(EndpointLearning::Delayed);
        assert_eq!(
            l.on_packet(a("10.0.0.2:1"), t, &p),
            Verdict::Learn(a("10.0.0.2:1"))
        );
        assert_eq!(
            l.on_packet(a("10.0.0.3:1"), t + Duration::from_secs(1), &p),
            Verdict::Learn(a("10.0.0.3:1"))
        );
        assert!(!l.confirmed);
        assert_eq!(
            l.on_packet(a("10.0.0.3:1"), t + Duration::from_secs(4), &p),
            Verdict::Accept
        );
        assert!(l.confirmed);
        assert_eq!(
            l.on_packet(a("10.0.0.4:1"), t + Duration::from_secs(5), &p),
            Verdict::Accept
        );
        assert_eq!(l.current, Some(a("10.0.0.3:1")));
    }

    #[test]
    fn heuristic_prefers_sdp_match() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        let p = pol(EndpointLearning::Heuristic);
        assert_eq!(l.on_packet(a("10.0.0.1:4000"), t, &p), Verdict::Accept);
        // A worse-ranked source does not displace the exact match.
        assert_eq!(l.on_packet(a("10.9.9.9:1234"), t, &p), Verdict::Accept);
        assert_eq!(l.current, Some(a("10.0.0.1:4000")));
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
            assert_eq!(l.on_packet(a("10.0.0.5:1"), t, &p), Verdict::Accept);
            assert_eq!(l.current, Some(a("10.0.0.1:4000")));
        }
    }

    #[test]
    fn media_handover_moves_confirmed_endpoint() {
        let t = Instant::now();
        let mut l = Latch::new(None);
        let p = LatchPolicy {
            media_handover: true,
            ..pol(EndpointLearning::Immediate)
        };
        l.on_packet(a("10.0.0.1:1"), t, &p);
        assert_eq!(
            l.on_packet(a("10.0.0.2:1"), t, &p),
            Verdict::Learn(a("10.0.0.2:1"))
        );
    }

    #[test]
    fn readvertising_same_address_keeps_confirmation() {
        let t = Instant::now();
        let mut l = Latch::new(Some(a("10.0.0.1:4000")));
        l.on_packet(a("10.0.0.9:1"), t, &pol(EndpointLearning::Immediate));
        l.set_advertised(Some(a("10.0.0.1:4000")));
        assert!(l.confirmed);
        l.set_advertised(Some(a("10.0.0.2:4000")));
        assert!(!l.confirmed);
        assert_eq!(l.current, Some(a("10.0.0.2:4000")));
    }
}
