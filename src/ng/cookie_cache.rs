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
//!
//! Storage: replies live and die in insertion order, so they are appended to large chunks
//! (an arena) instead of one heap allocation each. Under a high request rate the cache holds
//! tens of thousands of replies; kept as separate allocations they fragmented the heap
//! and made every other allocation of the control thread slower. A chunk goes back once no
//! live entry is in it, and the bytes the chunks hold are bounded with the entries.
//! The map is keyed by a keyed hash of the cookie (the cookie itself is stored in the chunk
//! and compared on lookup), so an entry costs no allocation of its own either.

use std::collections::hash_map::{Entry as MapEntry, RandomState};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

/// Default TTL, as rtpengine.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
/// Default bound on the bytes held (cookies plus replies).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Size of an arena chunk; a bigger entry gets a chunk of its own size.
const CHUNK: usize = 256 * 1024;

struct Entry {
    /// Sequence number of the chunk holding `cookie ++ reply`.
    chunk: u64,
    offset: usize,
    cookie_len: usize,
    reply_len: usize,
    inserted: Instant,
    /// Which queue slot is current for this cookie (older slots are stale).
    seq: u64,
}

impl Entry {
    fn size(&self) -> usize {
        self.cookie_len + self.reply_len
    }
}

struct Slot {
    key: u64,
    inserted: Instant,
    seq: u64,
}

struct Chunk {
    data: Vec<u8>,
    /// Live entries stored in this chunk.
    live: usize,
}

/// The map's keys are already SipHash values (keyed per cache): hash them no further.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub struct CookieCache {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    hasher: RandomState,
    map: HashMap<u64, Entry, BuildHasherDefault<PassThrough>>,
    /// Insertion order; may hold stale slots for cookies that were re-inserted.
    order: VecDeque<Slot>,
    /// Chunks in insertion order; `chunks[0]` has sequence number `first_chunk`.
    chunks: VecDeque<Chunk>,
    first_chunk: u64,
    /// A released standard-size chunk, kept for the next one needed.
    spare: Option<Vec<u8>>,
    /// Capacity of all chunks.
    held: usize,
    /// Bytes of live entries (cookies plus replies).
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
            hasher: RandomState::new(),
            map: HashMap::default(),
            order: VecDeque::new(),
            chunks: VecDeque::new(),
            first_chunk: 0,
            spare: None,
            held: 0,
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

    fn key(&self, cookie: &[u8]) -> u64 {
        self.hasher.hash_one(cookie)
    }

    /// The stored `cookie ++ reply` of an entry.
    fn stored(&self, e: &Entry) -> Option<&[u8]> {
        let idx = usize::try_from(e.chunk.checked_sub(self.first_chunk)?).ok()?;
        self.chunks
            .get(idx)?
            .data
            .get(e.offset..e.offset + e.size())
    }

    /// The live entry for `cookie`, if the key is its own (not another cookie's with the
    /// same hash).
    fn find(&self, cookie: &[u8]) -> Option<(u64, &Entry)> {
        let key = self.key(cookie);
        let e = self.map.get(&key)?;
        let stored = self.stored(e)?;
        (&stored[..e.cookie_len] == cookie).then_some((key, e))
    }

    /// The cached reply for `cookie`, if one was inserted less than `ttl` before `now`.
    pub fn get(&mut self, cookie: &[u8], now: Instant) -> Option<&[u8]> {
        self.expire(now);
        // `now` may be older than the queue's front (callers' clocks are not ours to
        // trust), so check this entry's age too.
        let ttl = self.ttl;
        let (key, expired) = match self.find(cookie) {
            None => return None,
            Some((key, e)) => (key, now.saturating_duration_since(e.inserted) >= ttl),
        };
        if expired {
            self.remove_key(key);
            return None;
        }
        let e = self.map.get(&key)?;
        let stored = self.stored(e)?;
        Some(&stored[e.cookie_len..])
    }

    /// Stores the reply for `cookie`, replacing any earlier one. A reply too big for the
    /// byte bound is not stored; older entries are evicted to make room otherwise.
    pub fn insert(&mut self, cookie: impl AsRef<[u8]>, reply: impl AsRef<[u8]>, now: Instant) {
        self.insert_parts(cookie.as_ref(), reply.as_ref(), now);
    }

    /// [`insert`](Self::insert) for a reply datagram that starts with its cookie (NG replies
    /// do): the key is its first `cookie_len` bytes.
    pub fn insert_reply(&mut self, reply: &[u8], cookie_len: usize, now: Instant) {
        let cookie = &reply[..cookie_len.min(reply.len())];
        self.insert_parts(cookie, reply, now);
    }

    fn insert_parts(&mut self, cookie: &[u8], reply: &[u8], now: Instant) {
        self.expire(now);
        let size = cookie.len() + reply.len();
        let key = self.key(cookie);
        // Whatever was stored under this key (this cookie, or a colliding one) goes.
        self.remove_key(key);
        if self.max_entries == 0 || size > self.max_bytes {
            return;
        }
        let (chunk, offset) = self.append(cookie, reply);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back(Slot {
            key,
            inserted: now,
            seq,
        });
        let entry = Entry {
            chunk,
            offset,
            cookie_len: cookie.len(),
            reply_len: reply.len(),
            inserted: now,
            seq,
        };
        match self.map.entry(key) {
            MapEntry::Occupied(mut o) => {
                o.insert(entry);
            }
            MapEntry::Vacant(v) => {
                v.insert(entry);
            }
        }
        self.bytes += size;
        while self.map.len() > self.max_entries
            || self.bytes > self.max_bytes
            || self.held > self.max_bytes.saturating_add(CHUNK)
        {
            if !self.pop_oldest() {
                break;
            }
        }
        self.compact_if_needed();
    }

    /// Copies `cookie ++ reply` into the newest chunk (or a new one); returns where.
    fn append(&mut self, cookie: &[u8], reply: &[u8]) -> (u64, usize) {
        let size = cookie.len() + reply.len();
        let fits = self
            .chunks
            .back()
            .is_some_and(|c| c.data.capacity() - c.data.len() >= size);
        if !fits {
            let data = match self.spare.take() {
                Some(v) if size <= CHUNK => v,
                _ => Vec::with_capacity(size.max(CHUNK)),
            };
            self.held += data.capacity();
            self.chunks.push_back(Chunk { data, live: 0 });
        }
        let seq = self.first_chunk + self.chunks.len() as u64 - 1;
        let Some(c) = self.chunks.back_mut() else {
            // Just pushed; cannot happen.
            return (seq, 0);
        };
        let offset = c.data.len();
        c.data.extend_from_slice(cookie);
        c.data.extend_from_slice(reply);
        c.live += 1;
        (seq, offset)
    }

    /// Forgets the reply for `cookie`. Its queue slot goes stale and is skipped later.
    pub fn remove(&mut self, cookie: &[u8]) {
        if let Some((key, _)) = self.find(cookie) {
            self.remove_key(key);
        }
    }

    fn remove_key(&mut self, key: u64) {
        let Some(old) = self.map.remove(&key) else {
            return;
        };
        self.bytes -= old.size();
        if let Some(c) = old
            .chunk
            .checked_sub(self.first_chunk)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.chunks.get_mut(i))
        {
            c.live = c.live.saturating_sub(1);
        }
        // Release the chunks no live entry uses any more, oldest first; the newest one
        // stays to be filled further.
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|c| c.live == 0) {
            if let Some(c) = self.chunks.pop_front() {
                self.first_chunk += 1;
                self.held -= c.data.capacity();
                self.recycle(c.data);
            }
        }
        if self.map.is_empty() {
            // Nothing live: start the next entry at the beginning of a chunk.
            while let Some(c) = self.chunks.pop_front() {
                self.first_chunk += 1;
                self.held -= c.data.capacity();
                self.recycle(c.data);
            }
        }
    }

    fn recycle(&mut self, mut data: Vec<u8>) {
        if data.capacity() == CHUNK && self.spare.is_none() {
            data.clear();
            self.spare = Some(data);
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
        if self.map.is_empty() {
            // Idle: give back the spare chunk too.
            self.spare = None;
        }
        // After a burst the map and the queue keep their capacity; give most of it back once
        // they are mostly empty (rarely: only after they shrank to a quarter).
        if self.map.capacity() > 1024 && self.map.len() * 4 < self.map.capacity() {
            self.map.shrink_to(self.map.len() * 2);
        }
        if self.order.capacity() > 1024 && self.order.len() * 4 < self.order.capacity() {
            self.order.shrink_to(self.order.len() * 2);
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

    /// Bytes of storage the cache holds (its chunks), at least [`bytes`](Self::bytes).
    pub fn held_bytes(&self) -> usize {
        self.held + self.spare.as_ref().map_or(0, Vec::capacity)
    }

    /// Removes the oldest queue slot and, if it is current, its entry. Returns `false`
    /// when the queue is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some(slot) = self.order.pop_front() else {
            return false;
        };
        if self.map.get(&slot.key).is_some_and(|e| e.seq == slot.seq) {
            self.remove_key(slot.key);
        }
        true
    }

    /// Re-inserting the same cookie leaves stale slots behind; drop them once they
    /// outnumber the live ones so the queue stays proportional to the map.
    fn compact_if_needed(&mut self) {
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|s| map.get(&s.key).is_some_and(|e| e.seq == s.seq));
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
        c.insert(b"a", b"a d6:result4:ponge", t0);
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
        c.insert(b"a", b"old", t0);
        c.insert(b"a", b"newer", t0 + secs(5));
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
            c.insert(b"same", b"r", t0 + Duration::from_millis(i));
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
        c.insert(b"a", b"r", t0);
        assert_eq!(c.get(b"a", t0), None);
        assert!(c.is_empty());
    }

    #[test]
    fn tolerates_time_going_backwards() {
        let t0 = Instant::now() + secs(100);
        let mut c = CookieCache::new(secs(10), 10);
        c.insert(b"a", b"r", t0);
        assert_eq!(c.get(b"a", t0 - secs(50)), Some(&b"r"[..]));
        c.insert(b"b", b"r", t0 - secs(50));
        // b is behind a in the queue but already expired by its own age.
        assert_eq!(c.get(b"b", t0 + secs(1)), None);
        assert_eq!(c.get(b"a", t0 + secs(1)), Some(&b"r"[..]));
    }

    #[test]
    fn reply_keyed_by_its_cookie_prefix() {
        let t0 = Instant::now();
        let mut c = CookieCache::default();
        c.insert_reply(b"k1 d6:result2:oke", 2, t0);
        assert_eq!(c.get(b"k1", t0), Some(&b"k1 d6:result2:oke"[..]));
        assert_eq!(c.get(b"k1 ", t0), None);
        assert_eq!(c.bytes(), 2 + 17);
    }

    #[test]
    fn chunks_are_released_as_entries_go() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(10), 1_000_000);
        // About 40 chunks' worth, inserted over 40 s: at most the last 10 s stay.
        for i in 0..10_000u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 4);
            c.insert(format!("cookie-{i}"), vec![(i % 251) as u8; 1000], at);
        }
        assert!(
            c.held_bytes() <= c.bytes() + 2 * CHUNK,
            "{} {}",
            c.held_bytes(),
            c.bytes()
        );
        assert_eq!(
            c.get(b"cookie-9999", t0 + secs(40)),
            Some(&[(9999 % 251) as u8; 1000][..])
        );
        assert_eq!(c.get(b"cookie-10", t0 + secs(40)), None);
        c.expire(t0 + secs(100));
        assert!(c.is_empty());
        assert_eq!(c.held_bytes(), 0);
        assert!(c.map.capacity() <= 1024 && c.order.capacity() <= 1024);
    }

    #[test]
    fn held_bytes_bounded_when_entries_are_replaced() {
        let t0 = Instant::now();
        let mut c = CookieCache::new(secs(1000), 1_000_000).with_max_bytes(CHUNK * 4);
        // Re-inserting leaves dead bytes in the chunks; the bound still holds.
        for i in 0..50_000u32 {
            let cookie = format!("c{}", i % 7);
            c.insert(cookie, vec![1; 500], t0);
        }
        assert!(c.held_bytes() <= CHUNK * 6, "{}", c.held_bytes());
        assert_eq!(c.len(), 7);
        for i in 0..7 {
            assert_eq!(c.get(format!("c{i}").as_bytes(), t0), Some(&[1u8; 500][..]));
        }
    }

    #[test]
    fn a_reply_bigger_than_a_chunk_is_kept() {
        let t0 = Instant::now();
        let mut c = CookieCache::default();
        let big = vec![7u8; CHUNK + 10];
        c.insert(b"small", b"x", t0);
        c.insert(b"big", &big, t0);
        c.insert(b"after", b"y", t0);
        assert_eq!(c.get(b"big", t0), Some(&big[..]));
        assert_eq!(c.get(b"small", t0), Some(&b"x"[..]));
        assert_eq!(c.get(b"after", t0), Some(&b"y"[..]));
    }

    #[test]
    fn remove_forgets() {
        let t0 = Instant::now();
        let mut c = CookieCache::default();
        c.insert(b"a", b"r", t0);
        c.remove(b"a");
        assert_eq!(c.get(b"a", t0), None);
        assert_eq!(c.bytes(), 0);
    }
}
