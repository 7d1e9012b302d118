//! A hashed timing wheel for a media worker's per-leg deadlines (ICE checks and consent, DTLS
//! retransmissions): inserting and expiring a deadline cost O(1), whatever the number of legs
//! with timers, where a binary heap pays O(log n) for both.
//!
//! Time is cut into ticks of [`TICK`] from the wheel's origin; a deadline goes into the slot of
//! the first tick at or after it, so it fires at most one tick late and never early. A slot
//! holds every deadline of its tick in all future revolutions; [`TimerWheel::expire`] visits
//! the slots of the ticks that passed and takes the entries that are due, leaving the later
//! revolutions' ones where they are.
//!
//! Entries are never removed before they fire: the owner checks on expiry whether an entry is
//! still the one it wants (the worker compares the leg's id and current deadline), as with the
//! heap before. Sans-IO: times come in as arguments, and the tests use made-up instants.

use std::time::{Duration, Instant};

/// The wheel's resolution: how late a deadline may fire at most.
pub const TICK: Duration = Duration::from_millis(1);
/// Slots per revolution (one revolution: 512 ms). A longer deadline (DTLS's doubling
/// retransmissions, ICE consent every few seconds) waits for its revolution in its slot.
const SLOTS: usize = 512;

pub struct TimerWheel<T> {
    origin: Instant,
    slots: Vec<Vec<(Instant, T)>>,
    /// Every tick before this one has been expired.
    next_tick: u64,
    len: usize,
    /// [`next_wake`](Self::next_wake)'s tick, while known (`None`: look it up again).
    wake: Option<u64>,
}

impl<T> TimerWheel<T> {
    pub fn new(origin: Instant) -> TimerWheel<T> {
        TimerWheel {
            origin,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            next_tick: 0,
            len: 0,
            wake: None,
        }
    }

    /// How many entries wait (fired ones excluded; superseded ones included until they fire).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first tick at or after `t`.
    fn tick_at_or_after(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        let tick = TICK.as_nanos();
        u64::try_from(d.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX)
    }

    /// The last tick at or before `t`.
    fn tick_at_or_before(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.origin);
        u64::try_from(d.as_nanos() / TICK.as_nanos()).unwrap_or(u64::MAX)
    }

    fn instant_of(&self, tick: u64) -> Instant {
        let nanos = u128::from(tick) * TICK.as_nanos();
        self.origin + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Adds `item`, due at `deadline`. A deadline already past fires at the next
    /// [`expire`](Self::expire).
    pub fn insert(&mut self, deadline: Instant, item: T) {
        let tick = self.tick_at_or_after(deadline).max(self.next_tick);
        self.slots[(tick % SLOTS as u64) as usize].push((deadline, item));
        self.len += 1;
        // A known wake-up stays right if it comes first; else this tick is the new one.
        self.wake = self.wake.map(|w| w.min(tick));
    }

    /// When the worker must look again: the start of the first tick ahead whose slot holds an
    /// entry, or the end of this revolution when the only entries are further out (a wake-up
    /// per revolution at most, while such entries wait). `None` when the wheel is empty.
    pub fn next_wake(&mut self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let tick = match self.wake {
            Some(t) => t,
            None => {
                let t = (0..SLOTS as u64)
                    .map(|i| self.next_tick + i)
                    .find(|t| !self.slots[(t % SLOTS as u64) as usize].is_empty())
                    .unwrap_or(self.next_tick + SLOTS as u64);
                self.wake = Some(t);
                t
            }
        };
        Some(self.instant_of(tick))
    }

    /// Calls `fire` with every entry due at `now` (deadline <= `now`). Entries of a slot fire in
    /// the order they were inserted; across slots, in tick order.
    pub fn expire(&mut self, now: Instant, mut fire: impl FnMut(Instant, T)) {
        let last = self.tick_at_or_before(now);
        if last < self.next_tick {
            return;
        }
        // Past a whole revolution, every slot is visited once.
        let first = self.next_tick.max(last.saturating_sub(SLOTS as u64 - 1));
        for tick in first..=last {
            let slot = &mut self.slots[(tick % SLOTS as u64) as usize];
            if slot.is_empty() {
                continue;
            }
            // Keep what is due in a later revolution, in order; fire the rest.
            let mut i = 0;
            while i < slot.len() {
                if slot[i].0 <= now {
                    let (deadline, item) = slot.remove(i);
                    self.len -= 1;
                    fire(deadline, item);
                } else {
                    i += 1;
                }
            }
        }
        self.next_tick = last + 1;
        if self.wake.is_some_and(|w| w <= last) {
            self.wake = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn fired(w: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        w.expire(now, |deadline, item| {
            assert!(deadline <= now, "fired early");
            out.push(item);
        });
        out
    }

    #[test]
    fn fires_when_due_never_early_in_deadline_order() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + ms(30), 3);
        w.insert(t0 + ms(10), 1);
        w.insert(t0 + ms(20) + Duration::from_micros(500), 2);
        assert_eq!(w.len(), 3);
        assert_eq!(fired(&mut w, t0 + ms(9)), Vec::<u32>::new());
        assert_eq!(
            fired(&mut w, t0 + ms(20)),
            [1],
            "2 is due half a millisecond later"
        );
        assert_eq!(fired(&mut w, t0 + ms(21)), [2]);
        assert_eq!(fired(&mut w, t0 + ms(100)), [3]);
        assert!(w.is_empty());
        assert_eq!(w.next_wake(), None);
    }

    #[test]
    fn the_wake_up_is_the_first_tick_at_or_after_the_deadline() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        w.insert(t0 + ms(7) + Duration::from_micros(200), 1);
        w.insert(t0 + ms(40), 2);
        let wake = w.next_wake().unwrap();
        assert_eq!(wake, t0 + ms(8));
        assert_eq!(fired(&mut w, wake), [1]);
        assert_eq!(w.next_wake(), Some(t0 + ms(40)));
    }

    #[test]
    fn deadlines_beyond_a_revolution_wait_for_theirs() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        // Same slot as tick 5, three revolutions later.
        let far = t0 + ms(5 + 3 * SLOTS as u64);
        w.insert(far, 9);
        w.insert(t0 + ms(5), 1);
        assert_eq!(fired(&mut w, t0 + ms(5)), [1]);
        // Only the far entry is left: look again when its slot comes round, not before.
        assert_eq!(w.next_wake(), Some(t0 + ms(5 + SLOTS as u64)));
        let mut now = t0 + ms(6);
        let mut wakes = 0;
        while !w.is_empty() {
            let wake = w.next_wake().unwrap();
            assert!(wake >= now && wake <= far, "{:?}", wake - t0);
            now = wake;
            let got = fired(&mut w, now);
            wakes += 1;
            if now >= far {
                assert_eq!(got, [9]);
            } else {
                assert!(got.is_empty());
            }
        }
        assert_eq!(wakes, 3, "one wake-up per revolution");
    }

    #[test]
    fn a_long_pause_fires_everything_due_once() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        for i in 0..2000u32 {
            w.insert(t0 + ms(u64::from(i)), i);
        }
        let got = fired(&mut w, t0 + ms(10_000));
        assert_eq!(got.len(), 2000);
        let mut sorted = got.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..2000).collect::<Vec<_>>());
        assert!(w.is_empty());
    }

    #[test]
    fn a_deadline_in_the_past_fires_at_the_next_expiry() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0);
        assert!(fired(&mut w, t0 + ms(50)).is_empty());
        w.insert(t0 + ms(10), 1);
        w.insert(t0, 2);
        assert_eq!(w.next_wake(), Some(t0 + ms(51)));
        let mut got = fired(&mut w, t0 + ms(51));
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn an_origin_in_the_future_is_no_trouble() {
        let t0 = Instant::now();
        let mut w = TimerWheel::new(t0 + ms(100));
        w.insert(t0, 1);
        w.insert(t0 + ms(101), 2);
        assert_eq!(fired(&mut w, t0 + ms(50)), [1]);
        assert_eq!(w.next_wake(), Some(t0 + ms(101)));
        assert_eq!(fired(&mut w, t0 + ms(101)), [2]);
    }
}
