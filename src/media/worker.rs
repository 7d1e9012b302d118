//! A media worker: one thread, one mio poll, and every socket of the calls assigned to it, so a
//! packet is received and sent on the same thread with no lock. The control plane talks to it
//! only through [`WorkerCmd`] messages and the shared counters.
//!
//! Per packet: one receive, a first-byte check, the latch decision, the payload type check
//! (and renumbering, in place), counter updates and one send. No allocation: the receive
//! buffer is owned by the worker and reused. A recorded leg also hands a copy to the recorder
//! (`recording::LegTap`: pooled buffer, `try_send`).
//!
//! SDES-SRTP legs: a packet from an SRTP party is authenticated and decrypted in place first
//! (a failure drops it before it can teach the latch anything); a packet to an SRTP party is
//! encrypted in place just before the send, into the tail room the receive buffer keeps free.
//! The crypto contexts are built when a leg's keys change, never per packet.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, TryRecvError};
use mio::net::UdpSocket as MioUdp;
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

use super::latch::{Latch, LatchPolicy, PacketInfo, Verdict};
use super::stats::{bump, LegStats, WorkerCounters};
use super::timer_wheel::TimerWheel;
use super::webrtc::{DtlsLegConfig, DtlsRefusal, IceLegConfig, LegWebrtc, Output};
use crate::codec::PayloadTypes;
use crate::config::IoEngine;
use crate::dtls::dtls::LazyCert;
use crate::dtls::sdes::CryptoAttribute;
use crate::dtls::srtp::SrtpContext;

#[path = "uring.rs"]
mod uring;

/// Identifies a leg across the control plane and its worker.
pub type LegId = u64;

const WAKER: Token = Token(usize::MAX);
/// `--wakeup-batch-us` unset: io_uring does not batch wake-ups (measured on 2026-11-21 with
/// the 1024-buffer ring: a 200 us minimum wait cut capacity from 1,500 to 1,218 calls and
/// raised p50 latency to 0.6 ms for no CPU saved)...
pub const URING_WAKEUP_BATCH: std::time::Duration = std::time::Duration::ZERO;
/// ...and neither does epoll (a sleep raised p99 latency and saved no CPU there).
pub const EPOLL_WAKEUP_BATCH: std::time::Duration = std::time::Duration::ZERO;
const RECV_BUF: usize = 65536;
/// Bytes kept free after a received packet for the SRTP/SRTCP tag, MKI and SRTCP index.
const SRTP_TAIL: usize = 256;

/// What the control plane decided about a leg (from SDP and flags).
#[derive(Debug, Clone, Default)]
pub struct LegConfig {
    /// The leg whose party receives what this leg's party sends.
    pub peer: Option<LegId>,
    /// The party has not sent its SDP yet (we offered, no answer): its RTP/RTCP is dropped
    /// (a blind attacker could otherwise inject into a ringing call); STUN and DTLS still
    /// run, under their own rules.
    pub awaiting_sdp: bool,
    /// Where this party said (in SDP) it receives RTP and RTCP.
    pub advertised_rtp: Option<SocketAddr>,
    pub advertised_rtcp: Option<SocketAddr>,
    /// This party sends and receives RTCP on the RTP port.
    pub rtcp_mux: bool,
    pub latch: LatchPolicy,
    /// Drop packets coming from one of our own media ports.
    pub loop_protect: bool,
    /// The media is RTP (RTP/AVP and friends). Other UDP media (udptl/T.38, plain UDP) is
    /// relayed as opaque datagrams, with no RTP checks or RTCP demux.
    pub rtp: bool,
    /// The RTP payload types this party may send (others are dropped and counted), and the
    /// number each is sent on with to the peer (codec negotiation). RTCP is not affected.
    pub payload_types: PayloadTypes,
    /// SDES: the key this party encrypts with (its packets are decrypted) and the key we
    /// encrypt with towards it. None: plain RTP that way.
    /// Boxed, as `ice` and `dtls`: most legs have none, and inline they were two thirds of
    /// the configuration's size (a leg's configuration lives as long as the leg).
    pub srtp_recv: Option<Box<CryptoAttribute>>,
    pub srtp_send: Option<Box<CryptoAttribute>>,
    /// ICE with this party (its STUN is answered, checks run, the selected pair is where
    /// media goes and the only source media is taken from).
    pub ice: Option<Box<IceLegConfig>>,
    /// DTLS-SRTP with this party: the keys come from the handshake, not from SDES.
    pub dtls: Option<Box<DtlsLegConfig>>,
}

/// One direction's crypto stage of a leg.
enum Crypto {
    Plain,
    Srtp(Box<SrtpContext>),
    /// Keys that make no usable context: nothing passes that way.
    Broken,
    /// DTLS-SRTP whose handshake has not produced keys yet: nothing passes that way.
    Pending,
}

impl Crypto {
    fn from_key(key: Option<&CryptoAttribute>, call_id: &str, tag: &str) -> Crypto {
        match key.map(CryptoAttribute::srtp_context) {
            None => Crypto::Plain,
            Some(Ok(ctx)) => Crypto::Srtp(Box::new(ctx)),
            Some(Err(e)) => {
                tracing::warn!(call_id, tag, "unusable SRTP key: {e}");
                Crypto::Broken
            }
        }
    }
}

/// Where a new leg's RTP/RTCP sockets come from.
pub enum LegSockets {
    /// Sockets the control plane has just bound.
    New {
        rtp: UdpSocket,
        rtcp: Option<UdpSocket>,
    },
    /// The sockets of the leg this worker parked on `RemoveLeg { park: true }` (its id):
    /// still bound and watched, so taking them over costs no system call but a drain.
    Parked(LegId),
}

pub enum WorkerCmd {
    AddLeg {
        id: LegId,
        sockets: LegSockets,
        stats: Arc<LegStats>,
        /// Call-ID and tag, for log lines.
        call_id: Arc<str>,
        tag: Arc<str>,
    },
    Configure {
        id: LegId,
        cfg: Box<LegConfig>,
    },
    /// Ends a leg. With `park` its RTP/RTCP sockets stay open (everything arriving there
    /// is dropped) until an `AddLeg` takes them over with [`LegSockets::Parked`] or a
    /// `DropParked` closes them; its other sockets close.
    RemoveLeg {
        id: LegId,
        park: bool,
    },
    /// Closes the sockets of a parked leg.
    DropParked(LegId),
    /// Sockets of the leg's port on another interface address (ICE host candidates).
    AddSockets {
        id: LegId,
        rtp: UdpSocket,
        rtcp: Option<UdpSocket>,
    },
    /// Hand a copy of every accepted packet of this leg to the recorder (None: stop).
    SetRecording {
        id: LegId,
        tap: Option<crate::recording::LegTap>,
    },
    /// Answered once every command queued before it has been applied.
    Sync(crossbeam_channel::Sender<()>),
    Shutdown,
}

/// Field order is the packet path's: what `relay` reads of the receiving leg and of its peer
/// comes first, in as few cache lines as possible (at 1000 calls the legs outgrow the caches,
/// and every line touched per packet was a miss in the profile).
#[repr(C)]
struct Leg {
    hot: Hot,
    id: LegId,
    /// The leg ended and its sockets wait for the next call: nothing passes.
    parked: bool,
    /// This party encrypts with the very key we encrypt with towards the peer (both SDES
    /// parties took the same line): SRTP passes through untouched, as rtpengine does.
    srtp_passthrough: bool,
    /// The slot pair media to this party leaves from (0: the leg's own sockets; 1 + k:
    /// extra address k), as the ICE-selected pair says.
    send_pair: usize,
    /// The peer leg's slab index and id (the id guards against a reused index: a peer
    /// removed since is seen as gone, never as whichever leg took its slot).
    peer: Option<(usize, LegId)>,
    stats: Arc<LegStats>,
    /// Set while the call is recorded.
    rec: Option<crate::recording::LegTap>,
    /// ICE and DTLS of a WebRTC leg (None for plain and SDES legs).
    web: Option<Box<LegWebrtc>>,
    /// Decrypts what the party sends / encrypts what goes to it.
    srtp_in: Crypto,
    srtp_out: Crypto,
    rtp: MioUdp,
    rtcp: Option<MioUdp>,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    // Read at configuration, by timers and by the rare packet only.
    /// Boxed: most of it is read only at configuration; a leg stays small in the slab.
    /// Set only through [`Leg::configure`], which keeps `hot` in step.
    cfg: Box<LegConfig>,
    call_id: Arc<str>,
    tag: Arc<str>,
    rtp_local: Option<SocketAddr>,
    rtcp_local: Option<SocketAddr>,
    /// Sockets on the other interfaces' addresses (ICE host candidates there).
    extra: Vec<ExtraSockets>,
    /// The deadline this leg has in the worker's timer heap.
    timer: Option<Instant>,
}

/// The fields of [`LegConfig`] the packet path reads, copied into the leg itself: the boxed
/// configuration is another cache line, and reaching it was a miss per packet at 1000 calls
/// (a third of `relay`'s time in the profile).
#[derive(Clone, Copy)]
struct Hot {
    /// [`PayloadTypes::bitmap`] of the configuration.
    pt_allowed: u128,
    latch: LatchPolicy,
    rtp: bool,
    loop_protect: bool,
    awaiting_sdp: bool,
    rtcp_mux: bool,
    /// Some allowed payload type is renumbered: the map in the configuration is needed.
    pt_renumber: bool,
}

impl Hot {
    fn of(cfg: &LegConfig) -> Hot {
        Hot {
            pt_allowed: cfg.payload_types.bitmap(),
            latch: cfg.latch,
            rtp: cfg.rtp,
            loop_protect: cfg.loop_protect,
            awaiting_sdp: cfg.awaiting_sdp,
            rtcp_mux: cfg.rtcp_mux,
            pt_renumber: !cfg.payload_types.is_identity(),
        }
    }
}

struct ExtraSockets {
    rtp: MioUdp,
    rtcp: Option<MioUdp>,
    rtp_local: SocketAddr,
    rtcp_local: Option<SocketAddr>,
}

impl Leg {
    /// A leg in its initial state: no configuration, no peer, nothing learned.
    fn new(
        id: LegId,
        call_id: Arc<str>,
        tag: Arc<str>,
        stats: Arc<LegStats>,
        (rtp, rtcp): (MioUdp, Option<MioUdp>),
        (rtp_local, rtcp_local): (Option<SocketAddr>, Option<SocketAddr>),
    ) -> Leg {
        let cfg = Box::<LegConfig>::default();
        Leg {
            hot: Hot::of(&cfg),
            id,
            call_id,
            tag,
            rtp_local,
            rtcp_local,
            rtp,
            rtcp,
            extra: Vec::new(),
            send_pair: 0,
            cfg,
            peer: None,
            rtp_latch: Latch::default(),
            rtcp_latch: Latch::default(),
            stats,
            rec: None,
            srtp_in: Crypto::Plain,
            srtp_out: Crypto::Plain,
            srtp_passthrough: false,
            web: None,
            timer: None,
            parked: false,
        }
    }

    /// Sets the configuration and the copy of it the packet path reads.
    fn configure(&mut self, cfg: Box<LegConfig>) {
        self.hot = Hot::of(&cfg);
        self.cfg = cfg;
    }

    /// The socket of a slot (see [`token`]).
    fn socket(&self, slot: usize) -> Option<&MioUdp> {
        match slot {
            0 => Some(&self.rtp),
            1 => self.rtcp.as_ref(),
            _ => {
                let x = self.extra.get(slot / 2 - 1)?;
                if slot.is_multiple_of(2) {
                    Some(&x.rtp)
                } else {
                    x.rtcp.as_ref()
                }
            }
        }
    }

    /// [`socket`](Self::socket), to register it.
    fn socket_mut(&mut self, slot: usize) -> Option<&mut MioUdp> {
        match slot {
            0 => Some(&mut self.rtp),
            1 => self.rtcp.as_mut(),
            _ => {
                let x = self.extra.get_mut(slot / 2 - 1)?;
                if slot.is_multiple_of(2) {
                    Some(&mut x.rtp)
                } else {
                    x.rtcp.as_mut()
                }
            }
        }
    }

    /// The local address of a slot's socket.
    fn local_of(&self, slot: usize) -> Option<SocketAddr> {
        leg_local(&self.rtp_local, &self.rtcp_local, &self.extra, slot)
    }

    /// The slot whose socket is bound to `addr`.
    fn slot_of(&self, addr: SocketAddr) -> Option<usize> {
        (0..2 + 2 * self.extra.len()).find(|&s| self.local_of(s) == Some(addr))
    }

    /// The socket media to the party leaves from: RTP (`rtcp` false) or RTCP port.
    fn send_socket(&self, rtcp: bool) -> &MioUdp {
        self.socket(self.send_slot(rtcp)).unwrap_or(&self.rtp)
    }

    /// The slot of the socket media to this party leaves from (see [`Leg::send_socket`]).
    fn send_slot(&self, rtcp: bool) -> usize {
        let base = self.send_pair * 2;
        if self.socket(base + rtcp as usize).is_some() {
            base + rtcp as usize
        } else if self.socket(base).is_some() {
            base
        } else {
            0
        }
    }
}

/// Unix seconds for the packet counters' last-packet time, read from the system clock at most
/// every 100 ms rather than once per loop (the counters keep whole seconds).
#[derive(Default)]
pub(super) struct UnixClock {
    secs: u64,
    next: Option<Instant>,
}

impl UnixClock {
    pub(super) fn secs(&mut self, now: Instant) -> u64 {
        if self.next.is_none_or(|t| now >= t) {
            self.secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            self.next = Some(now + std::time::Duration::from_millis(100));
        }
        self.secs
    }
}

pub struct Worker {
    poll: Poll,
    rx: Receiver<WorkerCmd>,
    legs: Slab<Leg>,
    ids: std::collections::HashMap<LegId, usize>,
    /// Legs whose sockets wait for the next call (see [`LegSockets::Parked`]), by old id.
    parked: std::collections::HashMap<LegId, usize>,
    counters: Arc<WorkerCounters>,
    port_range: (u16, u16),
    buf: Vec<u8>,
    /// The daemon's DTLS certificate (shared OpenSSL context), made on first use.
    cert: Option<LazyCert>,
    /// ICE/DTLS deadlines: (when, slab index, leg id). Entries go stale when a leg's deadline
    /// moves; the leg's own `timer` says which one counts.
    /// Deadlines of the legs' ICE/DTLS stages: (leg index, leg id).
    timers: TimerWheel<(usize, LegId)>,
    /// The entries one [`Worker::run_timers`] takes from the wheel (kept for its capacity).
    due: Vec<(Instant, usize, LegId)>,
    /// Pause after a wake-up that handled packets (`--wakeup-batch-us`).
    wakeup_batch: Option<std::time::Duration>,
    /// `--io-engine`: what [`Worker::run`] tries first.
    engine: IoEngine,
    /// Set while the io_uring loop runs: media sockets are armed there, not registered with
    /// the mio poll (which keeps only the waker).
    uring: Option<Box<uring::Uring>>,
}

/// Sockets per leg at most: RTP and RTCP on the leg's own address, and on up to
/// [`MAX_EXTRA_ADDRESSES`] more (ICE host candidates on the other interfaces).
const SLOTS: usize = 8;
pub const MAX_EXTRA_ADDRESSES: usize = SLOTS / 2 - 1;

/// Slot 0/1: the leg's RTP/RTCP socket; 2+2k / 3+2k: those of extra address k.
fn token(idx: usize, slot: usize) -> Token {
    Token(idx * SLOTS + slot)
}

fn is_rtcp_on_mux(pkt: &[u8]) -> bool {
    // RFC 5761: RTCP packet types 192..=223 occupy the second byte where RTP has M+PT.
    pkt.len() >= 2 && (192..=223).contains(&pkt[1])
}

impl Worker {
    pub fn new(
        rx: Receiver<WorkerCmd>,
        counters: Arc<WorkerCounters>,
        port_range: (u16, u16),
        cert: Option<LazyCert>,
    ) -> io::Result<(Worker, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok((
            Worker {
                poll,
                rx,
                legs: Slab::new(),
                ids: Default::default(),
                parked: Default::default(),
                counters,
                port_range,
                buf: vec![0u8; RECV_BUF],
                cert,
                timers: TimerWheel::new(Instant::now()),
                due: Vec::new(),
                wakeup_batch: None,
                engine: IoEngine::Epoll,
                uring: None,
            },
            waker,
        ))
    }

    /// Runs until [`WorkerCmd::Shutdown`] or the control plane goes away.
    pub fn run(mut self) {
        if self.engine == IoEngine::Uring {
            // Two slots (the socket and its connected twin) for every port of the range on
            // every address a leg may have, up to 65536 (512 KB of kernel memory) and the
            // open-file limit (the kernel refuses a larger table); sockets beyond are used
            // by fd.
            let (min, max) = self.port_range;
            let ports = u32::from(max.saturating_sub(min)) + 1;
            let addresses = 1 + MAX_EXTRA_ADDRESSES as u32;
            let fds =
                super::ports::fd_limit().map_or(1024, |l| u32::try_from(l).unwrap_or(u32::MAX));
            match uring::Uring::new((2 * ports * addresses).min(1 << 16).min(fds)) {
                Ok(u) => {
                    self.uring = Some(Box::new(u));
                    return self.run_uring();
                }
                Err(e) => tracing::warn!("io_uring unavailable ({e}): media worker uses epoll"),
            }
        }
        tracing::info!("media worker uses epoll");
        let mut events = Events::with_capacity(1024);
        let mut busy = false;
        let mut wall = UnixClock::default();
        loop {
            let batch = self.wakeup_batch.unwrap_or(EPOLL_WAKEUP_BATCH);
            if busy && !batch.is_zero() {
                // Batched wake-ups: let packets gather so the next round handles many.
                std::thread::sleep(batch);
            }
            let timeout = self
                .timers
                .next_wake()
                .map(|t| t.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!("media worker poll failed: {e}");
                return;
            }
            let now = Instant::now();
            let unix = wall.secs(now);
            // Commands first: the control plane queues a leg's configuration before it replies to
            // the SIP proxy, so any packet that follows that reply must see it.
            if !self.handle_commands() {
                return;
            }
            // Busy: more than one socket was ready. A lone packet (light load) is not held back.
            busy = events
                .iter()
                .filter(|e| e.token() != WAKER)
                .nth(1)
                .is_some();
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                let idx = ev.token().0 / SLOTS;
                let slot = ev.token().0 % SLOTS;
                if !self.drain_socket(idx, slot, now, unix) {
                    return;
                }
            }
            self.run_timers(Instant::now());
        }
    }

    /// Runs the ICE/DTLS timers that are due.
    fn run_timers(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        self.timers
            .expire(now, |t, (idx, id)| due.push((t, idx, id)));
        for &(t, idx, id) in &due {
            let Some(leg) = self.legs.get_mut(idx) else {
                continue;
            };
            // A leg gone, or re-armed since (its deadline moved): a stale entry.
            if leg.id != id || leg.timer != Some(t) {
                continue;
            }
            leg.timer = None;
            if let Some(w) = leg.web.as_mut() {
                w.handle_timeout(now);
            }
            self.flush_web(idx);
        }
        due.clear();
        self.due = due;
    }

    /// Carries out what a leg's ICE/DTLS stages produced, and re-arms its timer.
    fn flush_web(&mut self, idx: usize) {
        let c = &self.counters;
        let Some(leg) = self.legs.get_mut(idx) else {
            return;
        };
        // Out of the leg while its outputs are carried out (they touch the leg's sockets).
        let Some(mut web) = leg.web.take() else {
            return;
        };
        let mut learned = false;
        while let Some(out) = web.pop() {
            match out {
                Output::Transmit { from, to, bytes } => {
                    let sock = leg
                        .slot_of(from)
                        .and_then(|s| leg.socket(s))
                        .unwrap_or(&leg.rtp);
                    if let Err(e) = sock.send_to(&bytes, to) {
                        tracing::trace!(%to, "ICE/DTLS send failed: {e}");
                        bump(&c.send_errors, 1);
                    }
                }
                Output::Selected {
                    rtcp,
                    local,
                    remote,
                } => {
                    if !rtcp {
                        leg.send_pair = leg.slot_of(local).map_or(0, |s| s / 2);
                    }
                    tracing::info!(call_id = &*leg.call_id, tag = &*leg.tag, %remote, rtcp, "ICE selected the party's address");
                    let now = Instant::now();
                    if !rtcp {
                        leg.rtp_latch.confirm(remote, now);
                        if leg.cfg.rtcp_mux || leg.rtcp.is_none() {
                            leg.rtcp_latch.confirm(remote, now);
                        }
                    } else {
                        leg.rtcp_latch.confirm(remote, now);
                    }
                    learned = true;
                }
                Output::Lost { rtcp } => {
                    if rtcp {
                        leg.rtcp_latch.current = None;
                    } else {
                        leg.rtp_latch.current = None;
                        leg.rtp_latch.confirmed = false;
                        if leg.cfg.rtcp_mux {
                            leg.rtcp_latch.current = None;
                        }
                    }
                    learned = true;
                }
                Output::Keys { remote, recv, send } => {
                    tracing::info!(call_id = &*leg.call_id, tag = &*leg.tag, %remote, "DTLS-SRTP connected");
                    bump(&c.dtls_connected, 1);
                    leg.srtp_in = Crypto::Srtp(recv);
                    leg.srtp_out = Crypto::Srtp(send);
                    if !web.has_ice() && leg.rtp_latch.current.is_none() {
                        // The handshake's peer proved the fingerprint: that is the party.
                        let now = Instant::now();
                        leg.rtp_latch.confirm(remote, now);
                        leg.rtcp_latch.follow_rtp(remote, leg.cfg.rtcp_mux);
                        learned = true;
                    }
                }
                Output::HandshakeFailed { remote, error } => {
                    tracing::info!(call_id = &*leg.call_id, tag = &*leg.tag, %remote, "DTLS handshake failed: {error}");
                    bump(&c.dtls_failed, 1);
                }
            }
        }
        let next = web.poll_timeout();
        leg.web = Some(web);
        if learned {
            publish_learned(leg);
        }
        if next != leg.timer {
            leg.timer = next;
            if let Some(t) = next {
                self.timers.insert(t, (idx, leg.id));
            }
        }
    }

    /// A STUN or DTLS datagram (RFC 7983 demux) on a leg.
    fn on_handshake_packet(
        &mut self,
        idx: usize,
        slot: usize,
        len: usize,
        src: SocketAddr,
        now: Instant,
    ) {
        let c = &self.counters;
        let Some(leg) = self.legs.get_mut(idx) else {
            return;
        };
        let pkt = &self.buf[..len];
        if pkt[0] <= 3 {
            bump(&c.stun_received, 1);
            let r = match leg.web.as_mut() {
                Some(w) => match leg_local(&leg.rtp_local, &leg.rtcp_local, &leg.extra, slot) {
                    Some(local) => w.on_stun(now, local, src, pkt),
                    None => Err(crate::ice::IceError::UnknownLocal(src)),
                },
                None => Err(crate::ice::IceError::UnknownLocal(src)),
            };
            if let Err(e) = r {
                tracing::trace!(call_id = &*leg.call_id, %src, "STUN refused: {e}");
                bump(&c.dropped_stun, 1);
            }
        } else {
            bump(&c.dtls_received, 1);
            let allowed = match leg.web.as_ref() {
                Some(w) if w.has_ice() => w.ice_verified(src),
                // Without ICE: only the SDP's or the latched address. Before the party's SDP
                // there is neither, and a handshake waits for it (the peer retransmits).
                Some(_) => {
                    leg.rtp_latch.current == Some(src) || leg.cfg.advertised_rtp == Some(src)
                }
                None => false,
            };
            let r = match leg.web.as_mut() {
                Some(w) => w.on_dtls(now, src, pkt, allowed),
                None => Err(DtlsRefusal::NoDtls),
            };
            match r {
                Ok(()) => {}
                Err(DtlsRefusal::Source) => {
                    tracing::debug!(call_id = &*leg.call_id, %src, "DTLS from an unverified source dropped");
                    bump(&c.dropped_dtls_source, 1);
                }
                Err(e) => {
                    tracing::debug!(call_id = &*leg.call_id, %src, "DTLS dropped: {e:?}");
                    bump(&c.dropped_dtls, 1);
                }
            }
        }
        self.flush_web(idx);
    }

    /// See `--io-engine` (io_uring falls back to epoll when the kernel refuses it).
    pub fn set_io_engine(&mut self, engine: IoEngine) {
        self.engine = engine;
    }

    /// Starts receiving on a socket the io_uring loop does not watch yet (no-op with epoll).
    fn uring_arm(&mut self, idx: usize, slot: usize) {
        let (Some(u), Some(sock)) = (
            self.uring.as_mut(),
            self.legs.get(idx).and_then(|l| l.socket(slot)),
        ) else {
            return;
        };
        if let Err(e) = u.arm(std::os::fd::AsRawFd::as_raw_fd(sock), token(idx, slot).0) {
            tracing::error!("media worker (io_uring): cannot arm a receive: {e}");
        }
    }

    /// See `--wakeup-batch-us`.
    /// None: the engine's default ([`URING_WAKEUP_BATCH`], [`EPOLL_WAKEUP_BATCH`]).
    pub fn set_wakeup_batch(&mut self, d: Option<std::time::Duration>) {
        self.wakeup_batch = d;
    }

    /// Applies one command now, without the worker's thread (benches and tests drive a worker
    /// this way; the thread gets its commands from the channel).
    pub fn apply_now(&mut self, cmd: WorkerCmd) {
        self.apply(cmd);
    }

    /// Runs the ICE/DTLS timers due at `now`, as the worker's loop does (benches and the
    /// fuzz targets drive a worker without its thread).
    pub fn fire_timers(&mut self, now: Instant) {
        self.run_timers(now);
    }

    /// Runs one datagram from `src`, arrived on the RTP socket (`rtcp` false) or the RTCP
    /// socket of leg `id`, through the packet path up to (not including) the send: where it
    /// goes and its length, or None if it was dropped. For benches: no socket is read or
    /// written for RTP.
    pub fn relay_datagram(
        &mut self,
        id: LegId,
        rtcp: bool,
        pkt: &[u8],
        src: SocketAddr,
        now: Instant,
    ) -> Option<(SocketAddr, usize)> {
        let idx = *self.ids.get(&id)?;
        let len = pkt.len().min(RECV_BUF - SRTP_TAIL);
        self.buf[..len].copy_from_slice(&pkt[..len]);
        self.relay(idx, rtcp as usize, len, src, now, 0)
            .map(|f| (f.dest, f.len))
    }

    /// Applies queued commands; false when the worker must stop.
    fn handle_commands(&mut self) -> bool {
        loop {
            match self.rx.try_recv() {
                Ok(WorkerCmd::Shutdown) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
                Ok(cmd) => self.apply(cmd),
            }
        }
    }

    fn apply(&mut self, cmd: WorkerCmd) {
        match cmd {
            WorkerCmd::AddLeg {
                id,
                sockets,
                stats,
                call_id,
                tag,
            } => match sockets {
                LegSockets::New { rtp, rtcp } => {
                    let locals = (
                        rtp.local_addr().ok(),
                        rtcp.as_ref().and_then(|s| s.local_addr().ok()),
                    );
                    let socks = (MioUdp::from_std(rtp), rtcp.map(MioUdp::from_std));
                    let idx = self
                        .legs
                        .insert(Leg::new(id, call_id, tag, stats, socks, locals));
                    if self.watch(idx, 0..2) {
                        self.ids.insert(id, idx);
                    } else {
                        self.legs.remove(idx);
                    }
                }
                LegSockets::Parked(old) => {
                    let Some(idx) = self.parked.remove(&old) else {
                        tracing::error!(
                            call_id = &*call_id,
                            tag = &*tag,
                            "parked sockets {old} are gone: the leg has none"
                        );
                        return;
                    };
                    let idx = self.rebuild(idx, |old| {
                        let locals = (old.rtp_local, old.rtcp_local);
                        Leg::new(id, call_id, tag, stats, (old.rtp, old.rtcp), locals)
                    });
                    if let Some(idx) = idx {
                        self.ids.insert(id, idx);
                    }
                }
            },
            WorkerCmd::Configure { id, cfg } => {
                if let Some(&idx) = self.ids.get(&id) {
                    let leg = &mut self.legs[idx];
                    leg.rtp_latch.set_advertised(cfg.advertised_rtp);
                    let rtcp_adv = if cfg.rtcp_mux {
                        cfg.advertised_rtp
                    } else {
                        cfg.advertised_rtcp
                    };
                    leg.rtcp_latch.set_advertised(rtcp_adv);
                    // Same keys: the contexts (and their rollover counters) carry on.
                    if cfg.srtp_recv != leg.cfg.srtp_recv {
                        leg.srtp_in =
                            Crypto::from_key(cfg.srtp_recv.as_deref(), &leg.call_id, &leg.tag);
                    }
                    if cfg.srtp_send != leg.cfg.srtp_send {
                        leg.srtp_out =
                            Crypto::from_key(cfg.srtp_send.as_deref(), &leg.call_id, &leg.tag);
                    }
                    match (&cfg.dtls, &leg.cfg.dtls) {
                        // DTLS starts: nothing passes until its handshake keys the leg.
                        (Some(_), None) => {
                            leg.srtp_in = Crypto::Pending;
                            leg.srtp_out = Crypto::Pending;
                        }
                        (None, Some(_)) => {
                            leg.srtp_in =
                                Crypto::from_key(cfg.srtp_recv.as_deref(), &leg.call_id, &leg.tag);
                            leg.srtp_out =
                                Crypto::from_key(cfg.srtp_send.as_deref(), &leg.call_id, &leg.tag);
                        }
                        _ => {}
                    }
                    let webrtc = cfg.ice.is_some() || cfg.dtls.is_some();
                    if webrtc && leg.web.is_none() {
                        if let Some(rtp_local) = leg.rtp_local {
                            let mut w = LegWebrtc::new(rtp_local, leg.rtcp_local);
                            for x in &leg.extra {
                                w.add_local(x.rtp_local, x.rtcp_local);
                            }
                            leg.web = Some(Box::new(w));
                        }
                    }
                    if !webrtc {
                        leg.web = None;
                    }
                    let now = Instant::now();
                    let target = leg.rtp_latch.current.or(cfg.advertised_rtp);
                    if let Some(w) = leg.web.as_mut() {
                        w.configure(
                            now,
                            cfg.ice.as_deref(),
                            cfg.dtls.as_deref(),
                            cfg.rtcp_mux,
                            cfg.dtls
                                .as_ref()
                                .and(self.cert.as_ref())
                                .and_then(LazyCert::get),
                            target,
                        );
                    }
                    leg.configure(cfg);
                    publish_learned(leg);
                    self.link(idx);
                    self.flush_web(idx);
                }
            }
            WorkerCmd::AddSockets { id, rtp, rtcp } => {
                let Some(&idx) = self.ids.get(&id) else {
                    return;
                };
                let leg = &mut self.legs[idx];
                if leg.extra.len() >= MAX_EXTRA_ADDRESSES {
                    return;
                }
                let (Ok(rtp_local), rtcp_local) = (
                    rtp.local_addr(),
                    rtcp.as_ref().and_then(|s| s.local_addr().ok()),
                ) else {
                    return;
                };
                let slot = 2 + 2 * leg.extra.len();
                leg.extra.push(ExtraSockets {
                    rtp: MioUdp::from_std(rtp),
                    rtcp: rtcp.map(MioUdp::from_std),
                    rtp_local,
                    rtcp_local,
                });
                if !self.watch(idx, slot..slot + 2) {
                    self.legs[idx].extra.pop();
                    return;
                }
                let leg = &mut self.legs[idx];
                if let Some(w) = leg.web.as_mut() {
                    w.add_local(rtp_local, rtcp_local);
                }
                self.flush_web(idx);
            }
            WorkerCmd::RemoveLeg { id, park } => {
                let Some(idx) = self.ids.remove(&id) else {
                    return;
                };
                if !park {
                    self.close(idx);
                    return;
                }
                // The extra addresses' sockets close; RTP/RTCP stay open, dropping all.
                self.unwatch(idx, 2..SLOTS);
                let parked = self.rebuild(idx, |old| {
                    let locals = (old.rtp_local, old.rtcp_local);
                    let stats = Arc::new(LegStats::default());
                    let socks = (old.rtp, old.rtcp);
                    let mut leg = Leg::new(id, old.call_id, old.tag, stats, socks, locals);
                    leg.parked = true;
                    leg
                });
                if let Some(idx) = parked {
                    self.parked.insert(id, idx);
                }
            }
            WorkerCmd::DropParked(id) => {
                if let Some(idx) = self.parked.remove(&id) {
                    self.close(idx);
                }
            }
            WorkerCmd::SetRecording { id, tap } => {
                if let Some(&idx) = self.ids.get(&id) {
                    self.legs[idx].rec = tap;
                }
            }
            WorkerCmd::Sync(done) => {
                let _ = done.send(());
            }
            WorkerCmd::Shutdown => {}
        }
    }

    /// Starts watching the given slots' sockets of leg `idx` (epoll registration, or an
    /// io_uring receive). False when the RTP socket cannot be watched.
    fn watch(&mut self, idx: usize, slots: std::ops::Range<usize>) -> bool {
        let Some(leg) = self.legs.get_mut(idx) else {
            return false;
        };
        if self.uring.is_none() {
            let reg = self.poll.registry();
            for slot in slots.clone() {
                let Some(sock) = leg.socket_mut(slot) else {
                    continue;
                };
                if let Err(e) = reg.register(sock, token(idx, slot), Interest::READABLE) {
                    tracing::error!(
                        call_id = &*leg.call_id,
                        tag = &*leg.tag,
                        slot,
                        "cannot watch a media socket: {e}"
                    );
                    if slot % 2 == 0 {
                        return false;
                    }
                }
            }
            return true;
        }
        for slot in slots {
            self.uring_arm(idx, slot);
        }
        true
    }

    /// Stops watching the given slots of leg `idx` and closes their sockets if they are
    /// extra addresses' (slot 2 and up). Closing an epoll-registered socket takes it out of
    /// the set (it was never duplicated); io_uring receives are cancelled first.
    fn unwatch(&mut self, idx: usize, slots: std::ops::Range<usize>) {
        if let Some(u) = self.uring.as_mut() {
            let r = slots
                .clone()
                .try_for_each(|s| u.cancel(token(idx, s).0))
                .and_then(|()| u.submit());
            if let Err(e) = r {
                tracing::error!("media worker (io_uring): cannot cancel receives: {e}");
            }
        }
        if slots.end > 2 {
            if let Some(leg) = self.legs.get_mut(idx) {
                leg.extra.clear();
            }
        }
    }

    /// Closes every socket of leg `idx` and forgets it. Legs that had it as peer see it gone
    /// by its id.
    fn close(&mut self, idx: usize) {
        if self.legs.contains(idx) {
            self.unwatch(idx, 0..SLOTS);
            self.legs.remove(idx);
        }
    }

    /// Replaces leg `idx` by what `f` makes of it (its sockets carry over), keeping them
    /// watched. Returns the new leg's index (the same one, as the slab reuses the slot just
    /// freed; otherwise the sockets are watched anew under the new index).
    fn rebuild(&mut self, idx: usize, f: impl FnOnce(Leg) -> Leg) -> Option<usize> {
        let old = self.legs.try_remove(idx)?;
        let new_idx = self.legs.insert(f(old));
        if new_idx != idx {
            // Not expected (the slab hands out the slot just freed), but then the old
            // index's watches must go and the new index's come.
            self.unwatch(idx, 0..2);
            if self.uring.is_none() {
                let leg = &mut self.legs[new_idx];
                let reg = self.poll.registry();
                let _ = reg.reregister(&mut leg.rtp, token(new_idx, 0), Interest::READABLE);
                if let Some(s) = leg.rtcp.as_mut() {
                    let _ = reg.reregister(s, token(new_idx, 1), Interest::READABLE);
                }
            } else {
                self.watch(new_idx, 0..2);
            }
        }
        Some(new_idx)
    }

    /// Resolves leg `idx`'s peer id to its slab index, and the SRTP pass-through of the leg
    /// and its peer. Runs when a leg is configured: O(1), whatever the number of legs.
    fn link(&mut self, idx: usize) {
        let Some(leg) = self.legs.get(idx) else {
            return;
        };
        let peer = leg.cfg.peer.and_then(|p| self.ids.get(&p).map(|&i| (i, p)));
        self.legs[idx].peer = peer;
        self.update_passthrough(idx);
        if let Some((p, _)) = peer {
            // The peer may have been configured first, when this leg's id was unknown to it.
            let my_id = self.legs[idx].id;
            if self.legs[p].cfg.peer == Some(my_id) {
                self.legs[p].peer = Some((idx, my_id));
            }
            self.update_passthrough(p);
        }
    }

    fn update_passthrough(&mut self, idx: usize) {
        let Some(leg) = self.legs.get(idx) else {
            return;
        };
        let same_key = leg
            .peer
            .and_then(|(p, id)| self.legs.get(p).filter(|l| l.id == id))
            .is_some_and(|p| leg.cfg.srtp_recv.is_some() && leg.cfg.srtp_recv == p.cfg.srtp_send);
        self.legs[idx].srtp_passthrough = same_key;
    }

    /// Reads the socket until it would block; false when the worker must stop.
    fn drain_socket(&mut self, idx: usize, slot: usize, now: Instant, unix: u64) -> bool {
        loop {
            // A command queued while we drain (e.g. a re-INVITE's new configuration) applies
            // to the next packet. An empty channel costs a couple of atomic loads.
            if !self.rx.is_empty() && !self.handle_commands() {
                return false;
            }
            let Some(leg) = self.legs.get(idx) else {
                return true;
            };
            let Some(sock) = leg.socket(slot) else {
                return true;
            };
            let (len, src) = match sock.recv_from(&mut self.buf[..RECV_BUF - SRTP_TAIL]) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // ICMP errors from an earlier send surface here; they are not fatal.
                    continue;
                }
            };
            self.on_packet(idx, slot, len, src, now, unix);
        }
    }

    fn on_packet(
        &mut self,
        idx: usize,
        slot: usize,
        len: usize,
        src: SocketAddr,
        now: Instant,
        unix: u64,
    ) {
        let Some(fwd) = self.relay(idx, slot, len, src, now, unix) else {
            return;
        };
        let Some(peer) = self.legs.get(fwd.peer) else {
            return;
        };
        send_counted(
            &self.counters,
            peer.send_socket(fwd.rtcp_port),
            &self.buf[..fwd.len],
            fwd.dest,
        );
    }

    /// The packet path without the final send: demux, SRTP unprotect, payload-type check,
    /// endpoint learning, counters, recording tap, SRTP protect for the peer. The packet is
    /// `self.buf[..len]`; on `Some`, `self.buf[..fwd.len]` is what goes to `fwd.dest` from the
    /// peer leg's socket. STUN and DTLS are handled here too (their replies are sent at once).
    fn relay(
        &mut self,
        idx: usize,
        slot: usize,
        len: usize,
        src: SocketAddr,
        now: Instant,
        unix: u64,
    ) -> Option<Forward> {
        let c = &self.counters;
        bump(&c.received, 1);
        let leg = self.legs.get(idx)?;
        if leg.parked {
            // A port between calls: whatever arrives is a stray of the call that had it.
            bump(&c.dropped_idle_port, 1);
            return None;
        }
        let rtcp_sock = slot % 2 == 1;
        let is_rtp_leg = leg.hot.rtp;
        // RFC 7983: 0-3 STUN, 20-63 DTLS. Plain RTP legs count them as drops there too.
        if is_rtp_leg && len > 0 && (self.buf[0] <= 3 || (20..=63).contains(&self.buf[0])) {
            self.on_handshake_packet(idx, slot, len, src, now);
            return None;
        }
        let pkt = &mut self.buf[..len];
        if is_rtp_leg && (len < 4 || !(128..=191).contains(&pkt[0])) {
            bump(&c.dropped_malformed, 1);
            tracing::trace!(%src, len, "dropped: not RTP/RTCP");
            if let Some(leg) = self.legs.get(idx) {
                bump(&leg.stats.rtp.errors, 1);
            }
            return None;
        }
        let (min, max) = self.port_range;
        let leg = self.legs.get_mut(idx)?;
        if leg.hot.loop_protect
            && (min..=max).contains(&src.port())
            && leg.rtp_local.map(|a| a.ip()) == Some(src.ip())
        {
            bump(&c.dropped_loop, 1);
            return None;
        }
        if leg.hot.awaiting_sdp {
            tracing::trace!(call_id = &*leg.call_id, tag = &*leg.tag, %src, "dropped: before the party's SDP");
            bump(&c.dropped_source, 1);
            return None;
        }
        let is_rtcp = rtcp_sock || (is_rtp_leg && is_rtcp_on_mux(pkt));
        // SRTP: authenticate and decrypt before anything looks at the packet.
        let received_len = len;
        // Same key both ways (and nothing to record): the endpoints do the crypto.
        let srtp_passthrough = leg.srtp_passthrough && leg.rec.is_none();
        let len = match (&mut leg.srtp_in, is_rtp_leg && !srtp_passthrough) {
            (Crypto::Plain, _) | (_, false) => len,
            (Crypto::Srtp(ctx), true) => {
                let r = if is_rtcp {
                    ctx.unprotect_rtcp(pkt)
                } else {
                    ctx.unprotect_rtp(pkt)
                };
                match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::trace!(call_id = &*leg.call_id, tag = &*leg.tag, %src, "dropped: SRTP {e}");
                        bump(&c.dropped_srtp_auth, 1);
                        let s = if is_rtcp {
                            &leg.stats.rtcp
                        } else {
                            &leg.stats.rtp
                        };
                        bump(&s.errors, 1);
                        return None;
                    }
                }
            }
            (Crypto::Broken, true) => {
                bump(&c.dropped_srtp_auth, 1);
                bump(&leg.stats.rtp.errors, 1);
                return None;
            }
            (Crypto::Pending, true) => {
                bump(&c.dropped_no_keys, 1);
                return None;
            }
        };
        let pkt = &mut self.buf[..len];
        // Codec negotiation: only the payload types the SDPs allow pass (before they can
        // teach the latch anything), renumbered for the peer where the two parties number a
        // codec differently.
        if is_rtp_leg
            && !is_rtcp
            && !(leg.hot.pt_allowed & (1u128 << (pkt[1] & 0x7f)) != 0
                && (!leg.hot.pt_renumber || leg.cfg.payload_types.apply(&mut pkt[1])))
        {
            tracing::trace!(
                call_id = &*leg.call_id,
                tag = &*leg.tag,
                pt = pkt[1] & 0x7f,
                "dropped: payload type not negotiated"
            );
            bump(&c.dropped_payload_type, 1);
            return None;
        }
        let pkt = &*pkt;
        let policy = leg.hot.latch;
        // SSRC/sequence for the continuity proof; an SRTP packet here has authenticated.
        let authenticated = !srtp_passthrough && matches!(leg.srtp_in, Crypto::Srtp(_));
        let info = match (is_rtp_leg, is_rtcp) {
            (false, _) => None,
            (true, true) => PacketInfo::rtcp(pkt),
            (true, false) => PacketInfo::rtp(pkt),
        };
        let info = info.map(|i| i.authenticated(authenticated));
        let verdict = match leg.web.as_ref().filter(|w| w.has_ice()) {
            // ICE legs take media only from checked addresses and send where ICE selected,
            // or where authenticated SRTP last came from (a browser may switch to another
            // checked pair without a nomination we would prefer).
            Some(w) if w.ice_verified(src) => {
                if authenticated && !is_rtcp && leg.rtp_latch.current != Some(src) {
                    leg.rtp_latch.confirm(src, now);
                    if leg.hot.rtcp_mux {
                        leg.rtcp_latch.confirm(src, now);
                    }
                    leg.send_pair = slot / 2;
                    publish_learned(leg);
                }
                Verdict::Accept
            }
            Some(_) => Verdict::Drop,
            None if is_rtcp => leg.rtcp_latch.on_packet(src, info, now, &policy),
            None => leg.rtp_latch.on_packet(src, info, now, &policy),
        };
        match verdict {
            Verdict::Drop => {
                tracing::trace!(call_id = &*leg.call_id, tag = &*leg.tag, %src, "dropped: source rejected");
                bump(&c.dropped_source, 1);
                return None;
            }
            Verdict::Learn(addr) => {
                tracing::debug!(call_id = &*leg.call_id, tag = &*leg.tag, %addr, rtcp = is_rtcp, "learned endpoint");
                if !is_rtcp {
                    // RTCP goes to the next port up until it arrives, and is learned only
                    // from RTP's address.
                    leg.rtcp_latch.follow_rtp(addr, leg.hot.rtcp_mux);
                }
                publish_learned(leg);
            }
            Verdict::Accept => {}
        }
        let stats = if is_rtcp {
            &leg.stats.rtcp
        } else {
            &leg.stats.rtp
        };
        bump(&stats.packets, 1);
        bump(&stats.bytes, received_len as u64);
        stats.last_packet.store(unix, Relaxed);
        if is_rtp_leg && !is_rtcp && len >= 12 {
            let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
            leg.stats.ssrc.store(ssrc, Relaxed);
            leg.stats.has_ssrc.store(true, Relaxed);
        }
        // Recording tap: the packet as the party sent it (after SRTP decryption, once that
        // stage exists), before it is sent on. Unrecorded legs pay this one branch.
        if let Some(tap) = &leg.rec {
            tap.record(pkt, src, rtcp_sock);
        }
        let Some((peer_idx, peer_id)) = leg.peer else {
            tracing::trace!(
                call_id = &*leg.call_id,
                tag = &*leg.tag,
                "dropped: no peer leg"
            );
            bump(&c.dropped_no_destination, 1);
            return None;
        };
        let Some(peer) = self.legs.get_mut(peer_idx).filter(|p| p.id == peer_id) else {
            bump(&c.dropped_no_destination, 1);
            return None;
        };
        let to_rtcp_port = is_rtcp && !peer.hot.rtcp_mux;
        let dest = if to_rtcp_port {
            peer.rtcp_latch.current
        } else {
            peer.rtp_latch.current
        };
        let Some(dest) = dest else {
            tracing::trace!(%src, "dropped: peer has no destination");
            bump(&c.dropped_no_destination, 1);
            return None;
        };
        // SRTP towards the peer: encrypt in place, into the tail room.
        let len = match (&mut peer.srtp_out, is_rtp_leg && !srtp_passthrough) {
            (Crypto::Plain, _) | (_, false) => len,
            (Crypto::Srtp(ctx), true) => {
                let r = if is_rtcp {
                    ctx.protect_rtcp(&mut self.buf, len)
                } else {
                    ctx.protect_rtp(&mut self.buf, len)
                };
                match r {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::trace!(%dest, "not sent: SRTP {e}");
                        bump(&c.send_errors, 1);
                        return None;
                    }
                }
            }
            (Crypto::Broken, true) => {
                bump(&c.send_errors, 1);
                return None;
            }
            (Crypto::Pending, true) => {
                bump(&c.dropped_no_keys, 1);
                return None;
            }
        };
        Some(Forward {
            peer: peer_idx,
            rtcp_port: to_rtcp_port,
            dest,
            len,
        })
    }
}

/// Asks the CPU to start loading `p`'s cache line: a hint, with no effect on what the code
/// computes.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing the program sees, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Worker {
    /// First stage of prefetching a batch of received packets: the lines of leg `idx` that
    /// [`Worker::relay`] reads. At 1000 calls the legs and their counters are out of the
    /// caches, and the profile had `relay` waiting on these misses one packet at a time;
    /// started for a whole batch before its first packet, the loads overlap.
    #[inline]
    pub(super) fn prefetch_leg(&self, idx: usize) {
        if let Some(leg) = self.legs.get(idx) {
            prefetch_lines(leg);
        }
    }

    /// Second stage (after [`Worker::prefetch_leg`] for the batch): the leg's counters and its
    /// peer leg, which are found through the leg's own lines.
    #[inline]
    pub(super) fn prefetch_peer(&self, idx: usize) {
        let Some(leg) = self.legs.get(idx) else {
            return;
        };
        prefetch(Arc::as_ptr(&leg.stats));
        if let Some(peer) = leg.peer.and_then(|(p, _)| self.legs.get(p)) {
            prefetch_lines(peer);
        }
    }
}

/// The lines of a leg the packet path reads: its first two (see the field order) and its RTP
/// latch.
#[inline(always)]
fn prefetch_lines(leg: &Leg) {
    let base = leg as *const Leg as *const u8;
    prefetch(base);
    prefetch(base.wrapping_add(64));
    prefetch(&leg.rtp_latch);
}

/// Where [`Worker::relay`] decided a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// Slab index of the leg it leaves from.
    pub peer: usize,
    /// Leaves from the peer leg's RTCP port.
    pub rtcp_port: bool,
    pub dest: SocketAddr,
    pub len: usize,
}

/// Sends a relayed datagram from `sock` and counts it (relayed, or a send error).
fn send_counted(c: &WorkerCounters, sock: &MioUdp, pkt: &[u8], dest: SocketAddr) {
    match sock.send_to(pkt, dest) {
        Ok(_) => {
            bump(&c.relayed, 1);
            bump(&c.relayed_bytes, pkt.len() as u64);
        }
        Err(e) => {
            tracing::trace!(%dest, "send failed: {e}");
            bump(&c.send_errors, 1)
        }
    }
}

/// The local address of a slot's socket (for callers that hold other borrows of the leg).
fn leg_local(
    rtp: &Option<SocketAddr>,
    rtcp: &Option<SocketAddr>,
    extra: &[ExtraSockets],
    slot: usize,
) -> Option<SocketAddr> {
    match slot {
        0 => *rtp,
        1 => *rtcp,
        _ => {
            let x = extra.get(slot / 2 - 1)?;
            if slot.is_multiple_of(2) {
                Some(x.rtp_local)
            } else {
                x.rtcp_local
            }
        }
    }
}

fn publish_learned(leg: &Leg) {
    leg.stats.confirmed.store(leg.rtp_latch.confirmed, Relaxed);
    if let Ok(mut g) = leg.stats.learned.lock() {
        *g = (leg.rtp_latch.current, leg.rtcp_latch.current);
    }
}
