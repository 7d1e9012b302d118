//! Retransmission cache: cookie → encoded reply datagram.
//!
//! SIP proxies resend an NG request with the same cookie when the reply is late or lost.
//! Running the command twice would be wrong (a second `offer` allocates new ports), so the
//! first reply is kept for a while and sent again as is. rtpengine keeps replies for about
//! 30 seconds. Like rtpengine, the cache is keyed on the cookie alone, not on the
//! sender's address.
//!
//! Sans-IO: time is passed in. Expiry is amortised: entries sit in a queue in insertion
//! order and are dropped from its front, so no call scans the whole cache.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Default TTL, as rtpengine.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// Default bound on the bytes held (cookies plus replies).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

struct Entry {
    reply: Vec<u8>,
    inserted: Instant,
    /// Which queue slot is current for this cookie (older slots are stale).
    seq: u64,
}

struct Slot {
    cookie: Vec<u8>,
    inserted: Instant,
    seq: u64,
}

pub struct CookieCache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    map: HashMap<Vec<u8>, Entry>,
    /// Insertion order; may hold stale slots for cookies that were re-inserted.
    order: VecDeque<Slot>,
    bytes: usize,
    next_seq: u64,
}

impl CookieCache {
    /// A cache that keeps replies for `ttl` and holds at most `max_entries` of them
    /// (and at most [`DEFAULT_MAX_BYTES`]; see [`CookieCache::with_max_bytes`]).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        CookieCache {
            ttl,
            max_entries,
            max_bytes: DEFAULT_MAX_BYTES,
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    /// Sets the bound on the bytes held (cookies plus replies).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The cached reply for `cookie`, if one was inserted less than `ttl` before `now`.
    pub fn get(&mut self, cookie: &[u8], now: Instant) -> Option<&[u8]> {
        self.expire(now);
        // `now` may be older than the queue's front (callers' clocks are not ours to
        // trust), so check this entry's age too.
        let ttl = self.ttl;
        let expired = match self.map.get(cookie) {
            None => return None,
            Some(e) => now.saturating_duration_since(e.inserted) >= ttl,
        };
        if expired {
            self.remove(cookie);
            return None;
        }
        self.map.get(cookie).map(|e| e.reply.as_slice())
    }

    /// Stores the reply for `cookie`, replacing any earlier one. A reply too big for the
    /// byte bound is not stored; older entries are evicted to make room otherwise.
    pub fn insert(&mut self, cookie: Vec<u8>, reply: Vec<u8>, now: Instant) {
        self.expire(now);
        let size = cookie.len() + reply.len();
        if self.max_entries == 0 || size > self.max_bytes {
            self.remove(&cookie);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back(Slot {
            cookie: cookie.clone(),
            inserted: now,
            seq,
        });
        match self.map.entry(cookie) {
            MapEntry::Occupied(mut o) => {
                let old = o.get();
                self.bytes -= o.key().len() + old.reply.len();
                o.insert(Entry {
                    reply,
                    inserted: now,
                    seq,
                });
            }
            MapEntry::Vacant(v) => {
                v.insert(Entry {
                    reply,
                    inserted: now,
                    seq,
                });
            }
        }
        self.bytes += size;
        while self.map.len() > self.max_entries || self.bytes > self.max_bytes {
            if !self.pop_oldest() {
                break;
            }
        }
        self.compact_if_needed();
    }

    /// Forgets the reply for `cookie`. Its queue slot goes stale and is skipped later.
    pub fn remove(&mut self, cookie: &[u8]) {
        if let Some(old) = self.map.remove(cookie) {
            self.bytes -= cookie.len() + old.reply.len();
        }
    }

    /// Drops every entry inserted `ttl` or more before `now` (amortised: only looks at
    /// the front of the insertion queue).
    pub fn expire(&mut self, now: Instant) {
        while let Some(front) = self.order.front() {
            if now.saturating_duration_since(front.inserted) < self.ttl {
                break;
            }
            self.pop_oldest();
        }
    }

    /// Number of cached replies.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes held (cookies plus replies).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Removes the oldest queue slot and, if it is current, its entry. Returns `false`
    /// when the queue is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some(slot) = self.order.pop_front() else {
            return false;
        };
        if self
            .map
            .get(&slot.cookie)
            .is_some_and(|e| e.seq == slot.seq)
        {
            self.remove(&slot.cookie);
        }
        true
    }

    /// Re-inserting the same cookie leaves stale slots behind; drop them once they
    /// outnumber the live ones so the queue stays proportional to the map.
    fn compact_if_needed(&mut self) {
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|s| map.get(&s.cookie).is_some_and(|e| e.seq == s.seq));
        }
    }
}

impl Default for CookieCache {
    fn default() -> Self {
        CookieCache::new(DEFAULT_TTL, 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn returns_reply_until_ttl() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(30), 10);
        assert_eq!(c.get(b"a", t0), None);
        c.insert(b"a".to_vec(), b"a d6:result4:ponge".to_vec(), t0);
        assert_eq!(c.get(b"a", t0), Some(&b"a d6:result4:ponge"[..]));
        assert_eq!(c.get(b"a", t0 + secs(29)), Some(&b"a d6:result4:ponge"[..]));
        assert_eq!(c.get(b"b", t0 + secs(29)), None);
        assert_eq!(c.get(b"a", t0 + secs(30)), None);
        assert!(c.is_empty());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn expiry_is_by_insertion_time() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(10), 100);
        for i in 0..5u64 {
            c.insert(format!("c{i}").into_bytes(), vec![b'x'; 10], t0 + secs(i));
        }
        assert_eq!(c.len(), 5);
        c.expire(t0 + secs(12));
        // c0 (t0) and c1 (t0+1) and c2 (t0+2) are 10 s old or more.
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(b"c2", t0 + secs(12)), None);
        assert!(c.get(b"c3", t0 + secs(12)).is_some());
        assert_eq!(c.bytes(), 2 * (2 + 10));
    }

    #[test]
    fn reinsert_replaces_and_refreshes() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(10), 100);
        c.insert(b"a".to_vec(), b"old".to_vec(), t0);
        c.insert(b"a".to_vec(), b"newer".to_vec(), t0 + secs(5));
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), 1 + 5);
        // The stale slot from t0 expires without taking the new entry with it.
        assert_eq!(c.get(b"a", t0 + secs(11)), Some(&b"newer"[..]));
        assert_eq!(c.get(b"a", t0 + secs(15)), None);
    }

    #[test]
    fn stale_slots_are_compacted() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(1000), 100);
        for i in 0..10_000u64 {
            c.insert(
                b"same".to_vec(),
                b"r".to_vec(),
                t0 + Duration::from_millis(i),
            );
        }
        assert_eq!(c.len(), 1);
        assert!(c.order.len() <= 2 * c.map.len() + 17, "{}", c.order.len());
    }

    #[test]
    fn bounded_by_entries() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(30), 3);
        for i in 0..10u8 {
            c.insert(vec![i], vec![i], t0);
        }
        assert_eq!(c.len(), 3);
        // The oldest were evicted first.
        assert_eq!(c.get(&[6], t0), None);
        assert_eq!(c.get(&[7], t0), Some(&[7u8][..]));
        assert_eq!(c.get(&[9], t0), Some(&[9u8][..]));
    }

    #[test]
    fn bounded_by_bytes() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(30), 1000).with_max_bytes(100);
        for i in 0..10u8 {
            c.insert(vec![i], vec![0; 39], t0); // 40 bytes each
        }
        assert_eq!(c.len(), 2);
        assert!(c.bytes() <= 100);
        // Too big to ever fit: not stored, and a previous entry for it is dropped.
        c.insert(vec![9], vec![0; 200], t0);
        assert_eq!(c.get(&[9], t0), None);
        assert_eq!(c.len(), 1);
        assert_eq!(c.bytes(), 40);
    }

    #[test]
    fn zero_capacity_stores_nothing() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(30), 0);
        c.insert(b"a".to_vec(), b"r".to_vec(), t0);
        assert_eq!(c.get(b"a", t0), None);
        assert!(c.is_empty());
    }

    #[test]
    fn tolerates_time_going_backwards() {
        let t0 = Instant::now() + secs(100);
        let mut c = CookieCache::new(secs(10), 10);
        c.insert(b"a".to_vec(), b"r".to_vec(), t0);
        assert_eq!(c.get(b"a", t0 - secs(50)), Some(&b"r"[..]));
        c.insert(b"b".to_vec(), b"r".to_vec(), t0 - secs(50));
        // b is behind a in the queue but already expired by its own age.
        assert_eq!(c.get(b"b", t0 + secs(1)), None);
        assert_eq!(c.get(b"a", t0 + secs(1)), Some(&b"r"[..]));
    }

    #[test]
    fn remove_forgets() {
        let t0 = Instant::now();
        let mut c = CookieCache::default();
        c.insert(b"a".to_vec(), b"r".to_vec(), t0);
        c.remove(b"a");
        assert_eq!(c.get(b"a", t0), None);
        assert_eq!(c.bytes(), 0);
    }
}
