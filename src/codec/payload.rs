//! The per-packet side of codec negotiation: which RTP payload types a party may send us, and
//! which number each one carries towards the other party.
//!
//! One [`PayloadTypes`] lives in each leg's configuration on the media worker. It is a 128-bit
//! bitmap and, when the legs number a codec differently, a 128-byte table: checking and
//! renumbering a packet is two array reads and one byte written in place. The table is boxed
//! so the worker's command messages stay small, and absent when nothing is renumbered (most
//! calls), so that building and copying a configuration allocates nothing for it; it is built
//! on the control plane, never per packet.

/// Allowed payload types of one sender, and the number each is rewritten to.
#[derive(Clone)]
pub struct PayloadTypes {
    allowed: u128,
    /// `map[pt]` is the number `pt` is sent on with; `None`: every type keeps its number.
    map: Option<Box<[u8; 128]>>,
}

impl PartialEq for PayloadTypes {
    /// The same types allowed, each sent on with the same number (with or without a table).
    fn eq(&self, other: &PayloadTypes) -> bool {
        self.allowed == other.allowed && (0..128u8).all(|pt| self.target(pt) == other.target(pt))
    }
}

impl Eq for PayloadTypes {}

impl Default for PayloadTypes {
    /// Everything allowed, nothing renumbered (a leg no SDP has described yet).
    fn default() -> PayloadTypes {
        PayloadTypes::allow_all()
    }
}

impl std::fmt::Debug for PayloadTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.allowed == u128::MAX && self.is_identity() {
            return f.write_str("PayloadTypes(all)");
        }
        let mut l = f.debug_map();
        for pt in 0..128u8 {
            if self.allows(pt) {
                l.entry(&pt, &self.target(pt));
            }
        }
        l.finish()
    }
}

fn identity() -> Box<[u8; 128]> {
    let mut m = Box::new([0u8; 128]);
    for (i, v) in m.iter_mut().enumerate() {
        *v = i as u8;
    }
    m
}

impl PayloadTypes {
    /// Every payload type passes unchanged.
    pub fn allow_all() -> PayloadTypes {
        PayloadTypes {
            allowed: u128::MAX,
            map: None,
        }
    }

    /// Nothing passes until [`PayloadTypes::allow`] says so.
    pub fn none() -> PayloadTypes {
        PayloadTypes {
            allowed: 0,
            map: None,
        }
    }

    /// Lets `pt` through, renumbered to `to`. Numbers above 127 are ignored.
    pub fn allow(&mut self, pt: u8, to: u8) {
        if pt < 128 && to < 128 {
            self.allowed |= 1u128 << pt;
            match &mut self.map {
                Some(m) => m[pt as usize] = to,
                None if pt == to => {}
                None => self.map.insert(identity())[pt as usize] = to,
            }
        }
    }

    pub fn allows(&self, pt: u8) -> bool {
        pt < 128 && self.allowed & (1u128 << pt) != 0
    }

    /// The number `pt` is sent on with (itself when not allowed).
    pub fn target(&self, pt: u8) -> u8 {
        let pt = pt & 0x7f;
        self.map.as_ref().map_or(pt, |m| m[pt as usize])
    }

    /// Whether no allowed payload type is renumbered.
    pub fn is_identity(&self) -> bool {
        let Some(map) = &self.map else {
            return true;
        };
        // Only the allowed types (a handful) are looked at: this runs per leg configuration.
        let mut bits = self.allowed;
        while bits != 0 {
            let pt = bits.trailing_zeros() as usize;
            if map[pt] as usize != pt {
                return false;
            }
            bits &= bits - 1;
        }
        true
    }

    /// The allowed payload types as a bitmap (bit n = payload type n).
    pub fn bitmap(&self) -> u128 {
        self.allowed
    }

    /// Checks the second byte of an RTP header (marker bit and payload type) and renumbers
    /// the payload type in place, keeping the marker bit. False: the packet must be dropped.
    #[inline]
    pub fn apply(&self, marker_and_pt: &mut u8) -> bool {
        let pt = *marker_and_pt & 0x7f;
        if self.allowed & (1u128 << pt) == 0 {
            return false;
        }
        if let Some(map) = &self.map {
            *marker_and_pt = (*marker_and_pt & 0x80) | map[pt as usize];
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_passes_everything_unchanged() {
        let p = PayloadTypes::default();
        for b in 0..=255u8 {
            let mut x = b;
            assert!(p.apply(&mut x));
            assert_eq!(x, b);
        }
        assert!(p.is_identity());
    }

    #[test]
    fn filters_and_renumbers_keeping_the_marker() {
        let mut p = PayloadTypes::none();
        p.allow(0, 0);
        p.allow(96, 101);
        assert_eq!(p.bitmap(), (1 << 0) | (1 << 96));
        let mut b = 0x80; // marker, PT 0
        assert!(p.apply(&mut b));
        assert_eq!(b, 0x80);
        let mut b = 96;
        assert!(p.apply(&mut b));
        assert_eq!(b, 101);
        let mut b = 0x80 | 96;
        assert!(p.apply(&mut b));
        assert_eq!(b, 0x80 | 101);
        let mut b = 8;
        assert!(!p.apply(&mut b));
        assert_eq!(b, 8, "a dropped packet is left as it was");
        assert!(!p.is_identity());
        assert_eq!(p.target(96), 101);
    }

    #[test]
    fn equal_means_the_same_numbers_with_or_without_a_table() {
        let mut kept = PayloadTypes::none();
        kept.allow(96, 96);
        assert!(kept.map.is_none(), "no table while nothing is renumbered");
        let mut changed_back = PayloadTypes::none();
        changed_back.allow(96, 101);
        assert_ne!(kept, changed_back);
        changed_back.allow(96, 96);
        assert!(changed_back.map.is_some());
        assert_eq!(kept, changed_back);
        assert!(changed_back.is_identity());
    }

    #[test]
    fn out_of_range_numbers_are_ignored() {
        let mut p = PayloadTypes::none();
        p.allow(128, 0);
        p.allow(0, 200);
        assert_eq!(p.bitmap(), 0);
        assert!(!p.allows(200));
    }
}
