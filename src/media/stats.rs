//! Counters shared between a worker (the only writer) and the control plane (readers).
//!
//! Each counter has exactly one writer, so updates are a relaxed load and store rather than a
//! locked read-modify-write: no lock and no bus-locked instruction on the packet path.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Adds to a single-writer counter.
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Packet counters of one direction of one component (RTP or RTCP) of a leg.
#[derive(Debug, Default)]
pub struct Counters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    /// Unix seconds of the last packet received (0 = none yet).
    pub last_packet: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            packets: self.packets.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            errors: self.errors.load(Relaxed),
            last_packet: self.last_packet.load(Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    pub packets: u64,
    pub bytes: u64,
    pub errors: u64,
    pub last_packet: u64,
}

/// Everything the control plane may read about one leg (one party's side of one m= section).
#[derive(Debug, Default)]
pub struct LegStats {
    /// Packets received from this party on the RTP port (RTP, and RTCP when muxed).
    pub rtp: Counters,
    /// RTCP received from this party.
    pub rtcp: Counters,
    pub ssrc: AtomicU32,
    pub has_ssrc: AtomicBool,
    /// Whether endpoint learning has confirmed an address.
    pub confirmed: AtomicBool,
    /// The learned RTP and RTCP endpoints. Written only when learning changes them (rare), never
    /// per packet.
    pub learned: Mutex<(Option<SocketAddr>, Option<SocketAddr>)>,
}

impl LegStats {
    pub fn learned(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        self.learned.lock().map(|g| *g).unwrap_or((None, None))
    }
}

/// Per-worker totals, including drops by reason.
#[derive(Debug, Default)]
pub struct WorkerCounters {
    pub received: AtomicU64,
    pub relayed: AtomicU64,
    pub relayed_bytes: AtomicU64,
    /// Not RTP/RTCP (first byte outside 128..=191) or too short.
    pub dropped_malformed: AtomicU64,
    /// The other side has no known destination yet.
    pub dropped_no_destination: AtomicU64,
    /// Rejected by endpoint learning / strict-source.
    pub dropped_source: AtomicU64,
    /// Came from one of our own ports (loop-protect).
    pub dropped_loop: AtomicU64,
    /// Arrived on a port between calls (its sockets kept open for the next call).
    pub dropped_idle_port: AtomicU64,
    /// RTP with a payload type the codec negotiation did not allow for its sender.
    pub dropped_payload_type: AtomicU64,
    /// SRTP/SRTCP from an SDES party that failed authentication (or could not be decrypted).
    pub dropped_srtp_auth: AtomicU64,
    /// SRTP on a DTLS-SRTP leg before its handshake produced keys.
    pub dropped_no_keys: AtomicU64,
    /// STUN received on a leg, and the part the ICE agent refused (no ICE on the leg,
    /// failed authentication, unknown transaction, malformed).
    pub stun_received: AtomicU64,
    pub dropped_stun: AtomicU64,
    /// DTLS records received, and the part dropped: not from an ICE-checked, SDP-named or
    /// latched source, over the per-leg handshake cap, refused by the endpoint, or on a leg
    /// without DTLS.
    pub dtls_received: AtomicU64,
    pub dropped_dtls_source: AtomicU64,
    pub dropped_dtls: AtomicU64,
    /// DTLS handshakes that produced keys / failed.
    pub dtls_connected: AtomicU64,
    pub dtls_failed: AtomicU64,
    pub send_errors: AtomicU64,
}

/// A point-in-time copy of [`WorkerCounters`], summed over workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerTotals {
    pub received: u64,
    pub relayed: u64,
    pub relayed_bytes: u64,
    pub dropped_malformed: u64,
    pub dropped_no_destination: u64,
    pub dropped_source: u64,
    pub dropped_loop: u64,
    pub dropped_idle_port: u64,
    pub dropped_payload_type: u64,
    pub dropped_srtp_auth: u64,
    pub dropped_no_keys: u64,
    pub stun_received: u64,
    pub dropped_stun: u64,
    pub dtls_received: u64,
    pub dropped_dtls_source: u64,
    pub dropped_dtls: u64,
    pub dtls_connected: u64,
    pub dtls_failed: u64,
    pub send_errors: u64,
}

impl WorkerTotals {
    pub fn add(&mut self, c: &WorkerCounters) {
        self.received += c.received.load(Relaxed);
        self.relayed += c.relayed.load(Relaxed);
        self.relayed_bytes += c.relayed_bytes.load(Relaxed);
        self.dropped_malformed += c.dropped_malformed.load(Relaxed);
        self.dropped_no_destination += c.dropped_no_destination.load(Relaxed);
        self.dropped_source += c.dropped_source.load(Relaxed);
        self.dropped_loop += c.dropped_loop.load(Relaxed);
        self.dropped_idle_port += c.dropped_idle_port.load(Relaxed);
        self.dropped_payload_type += c.dropped_payload_type.load(Relaxed);
        self.dropped_srtp_auth += c.dropped_srtp_auth.load(Relaxed);
        self.dropped_no_keys += c.dropped_no_keys.load(Relaxed);
        self.stun_received += c.stun_received.load(Relaxed);
        self.dropped_stun += c.dropped_stun.load(Relaxed);
        self.dtls_received += c.dtls_received.load(Relaxed);
        self.dropped_dtls_source += c.dropped_dtls_source.load(Relaxed);
        self.dropped_dtls += c.dropped_dtls.load(Relaxed);
        self.dtls_connected += c.dtls_connected.load(Relaxed);
        self.dtls_failed += c.dtls_failed.load(Relaxed);
        self.send_errors += c.send_errors.load(Relaxed);
    }
}
