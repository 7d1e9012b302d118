//! Packet index bookkeeping: the RFC 3711 section 3.3.1 ROC estimate, a sliding replay
//! window, and a small fixed-capacity per-SSRC table.

/// Packets the replay window remembers behind the highest index (RFC 3711 asks for at
/// least 64).
pub const REPLAY_WINDOW: u64 = 128;

/// Highest index seen for one stream and which of the [`REPLAY_WINDOW`] indices below it
/// arrived.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReplayWindow {
    /// Highest authenticated index (ROC << 16 | SEQ for SRTP, the SRTCP index for SRTCP).
    pub highest: u64,
    /// Bit `n` set: index `highest - n` was received.
    bits: u128,
}

/// Why a packet index is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayCheck {
    Duplicate,
    TooOld,
}

impl ReplayWindow {
    /// A window whose first packet has `index`.
    pub fn starting_at(index: u64) -> ReplayWindow {
        ReplayWindow {
            highest: index,
            bits: 1,
        }
    }

    /// Whether `index` may be accepted (not seen, not behind the window). Changes nothing.
    pub fn check(&self, index: u64) -> Result<(), ReplayCheck> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW {
            return Err(ReplayCheck::TooOld);
        }
        if self.bits & (1u128 << behind) != 0 {
            return Err(ReplayCheck::Duplicate);
        }
        Ok(())
    }

    /// Records `index` as received (after it authenticated).
    pub fn commit(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.bits = if ahead >= REPLAY_WINDOW {
                0
            } else {
                self.bits << ahead
            };
            self.bits |= 1;
            self.highest = index;
        } else {
            let behind = self.highest - index;
            if behind < REPLAY_WINDOW {
                self.bits |= 1u128 << behind;
            }
        }
    }

    /// Moves `highest` forward without recording anything (the sending side, which only
    /// needs the ROC estimate).
    pub fn advance(&mut self, index: u64) {
        if index > self.highest {
            self.highest = index;
        }
    }
}

/// The 48-bit packet index of `seq` given the highest index so far (RFC 3711 section
/// 3.3.1): the ROC guess is ROC-1, ROC or ROC+1, whichever puts `seq` nearest `highest`.
/// While the ROC is 0 a guess of -1 becomes 0 (a forward jump of more than 2^15), as
/// libsrtp and webrtc-srtp do. `None` past the 48-bit index space.
pub(crate) fn estimate_index(highest: u64, seq: u16) -> Option<u64> {
    let s_l = (highest & 0xffff) as i64;
    let roc = (highest >> 16) as i64;
    let seq_i = seq as i64;
    let v = if s_l < 0x8000 {
        if seq_i - s_l > 0x8000 {
            roc - 1
        } else {
            roc
        }
    } else if s_l - 0x8000 > seq_i {
        roc + 1
    } else {
        roc
    };
    if v > u32::MAX as i64 {
        return None;
    }
    Some(((v.max(0) as u64) << 16) | seq as u64)
}

/// A per-SSRC table of at most `capacity` entries. Lookups scan linearly (a context normally
/// sees one to three SSRCs); inserting into a full table replaces the least recently used
/// entry. It grows as SSRCs appear, on a stream's first packet only, and never once full:
/// reserving all the room up front cost 2.5 KB per SRTP context, 5 KB per SDES call, for
/// slots a call almost never uses.
pub(crate) struct SsrcTable<T> {
    entries: Vec<(u32, u64, T)>,
    capacity: usize,
    clock: u64,
}

impl<T> SsrcTable<T> {
    pub fn new(capacity: usize) -> SsrcTable<T> {
        SsrcTable {
            entries: Vec::new(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    pub fn get(&self, ssrc: u32) -> Option<&T> {
        self.entries
            .iter()
            .find(|(s, _, _)| *s == ssrc)
            .map(|(_, _, t)| t)
    }

    /// The entry for `ssrc`, created with `init` if missing (evicting the least recently
    /// used entry when the table is full); marks it as used now.
    pub fn entry(&mut self, ssrc: u32, init: impl FnOnce() -> T) -> &mut T {
        self.clock += 1;
        let now = self.clock;
        let pos = match self.entries.iter().position(|(s, _, _)| *s == ssrc) {
            Some(p) => p,
            None if self.entries.len() < self.capacity => {
                self.entries.push((ssrc, now, init()));
                self.entries.len() - 1
            }
            None => {
                let (p, _) = self
                    .entries
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, (_, used, _))| *used)
                    .unwrap_or((0, &self.entries[0]));
                self.entries[p] = (ssrc, now, init());
                p
            }
        };
        let e = &mut self.entries[pos];
        e.1 = now;
        &mut e.2
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_estimate_follows_rfc3711() {
        // Plain forward and backward movement within one ROC.
        assert_eq!(estimate_index(100, 101), Some(101));
        assert_eq!(estimate_index(100, 50), Some(50));
        // Wrap forward: highest near the top, seq small -> ROC + 1.
        assert_eq!(estimate_index(0xfffe, 3), Some(0x1_0003));
        // Late packet from before the wrap: highest small in ROC 1, seq large -> ROC 0.
        assert_eq!(estimate_index(0x1_0002, 0xfffd), Some(0xfffd));
        // Before index 0: taken as a jump forward in ROC 0.
        assert_eq!(estimate_index(2, 0xfff0), Some(0xfff0));
        // ROC exhausted.
        assert_eq!(estimate_index(0xffff_ffff_fff0, 2), None);
    }

    #[test]
    fn window_rejects_duplicates_and_old() {
        let mut w = ReplayWindow::starting_at(1000);
        assert_eq!(w.check(1000), Err(ReplayCheck::Duplicate));
        assert_eq!(w.check(999), Ok(()));
        w.commit(999);
        assert_eq!(w.check(999), Err(ReplayCheck::Duplicate));
        w.commit(1200);
        assert_eq!(w.check(1000), Err(ReplayCheck::TooOld));
        assert_eq!(w.check(1200 - 127), Ok(()));
        assert_eq!(w.check(1200 - 128), Err(ReplayCheck::TooOld));
        w.commit(1100);
        assert_eq!(w.check(1100), Err(ReplayCheck::Duplicate));
        assert_eq!(w.check(1101), Ok(()));
    }

    #[test]
    fn ssrc_table_evicts_least_recently_used() {
        let mut t = SsrcTable::new(2);
        *t.entry(1, || 10) += 1;
        *t.entry(2, || 20) += 1;
        *t.entry(1, || 0) += 1; // 1 is now the most recent
        t.entry(3, || 30); // evicts 2
        assert_eq!(t.get(1), Some(&12));
        assert_eq!(t.get(2), None);
        assert_eq!(t.get(3), Some(&30));
        assert_eq!(t.len(), 2);
    }
}
