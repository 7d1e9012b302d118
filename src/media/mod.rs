//! Media: the port pool, the worker threads that own the media sockets, and the relay pipeline.
//!
//! The control plane holds a [`MediaPlane`]: it allocates ports, assigns each call to one worker
//! (all of a call's sockets live there) and sends that worker commands. It never touches a
//! socket after handing it over, and it never locks the packet path.
//!
//! Commands are queued at once but the worker is woken lazily: [`MediaPlane::flush`] wakes every
//! worker that has new commands, once, however many were queued (an eventfd write and a thread
//! wake-up per command cost more than the command). A worker applies every queued command before
//! it reads its next packet, so a packet can never overtake a command queued before it, woken or
//! not; the wake only makes the worker apply them without waiting for a packet. Whoever drives
//! the plane (the NG loop) calls `flush` before it blocks. Likewise [`MediaPlane::request_sync`]
//! only notes that a reply must wait for a worker; [`MediaPlane::sync_requested`] then waits for
//! all of them, one round trip per worker for a whole batch of requests.

pub mod bufring;
pub mod latch;
pub mod ports;
pub mod stats;
pub mod timer_wheel;
pub mod webrtc;
pub mod worker;

use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::Waker;

pub use ports::PortError;
pub use stats::{LegStats, WorkerTotals};
pub use worker::{LegConfig, LegId, LegSockets, WorkerCmd};

use ports::PortPool;
use stats::WorkerCounters;
use worker::Worker;

struct WorkerHandle {
    tx: Sender<WorkerCmd>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<WorkerCounters>,
    /// Commands were queued since the last wake.
    dirty: Cell<bool>,
    /// A reply waits until this worker has applied what was queued so far.
    sync: bool,
}

/// How long a reply waits for a worker's acknowledgement before it goes anyway (with a warning).
const SYNC_TIMEOUT: Duration = Duration::from_secs(1);

/// Acknowledgements outstanding from [`MediaPlane::start_sync`].
pub struct SyncTicket {
    rx: crossbeam_channel::Receiver<()>,
    remaining: usize,
    deadline: Instant,
}

impl SyncTicket {
    /// Whether every worker has acknowledged (or the time is up); does not block.
    pub fn is_done(&mut self) -> bool {
        while self.remaining > 0 {
            match self.rx.try_recv() {
                Ok(()) => self.remaining -= 1,
                // A worker that is gone has nothing left to apply.
                Err(crossbeam_channel::TryRecvError::Disconnected) => self.remaining = 0,
                Err(crossbeam_channel::TryRecvError::Empty) => {
                    if Instant::now() < self.deadline {
                        return false;
                    }
                    tracing::warn!("a media worker did not acknowledge in time");
                    self.remaining = 0;
                }
            }
        }
        true
    }

    /// Blocks until every worker has acknowledged, or the time is up.
    pub fn wait(&mut self) {
        while self.remaining > 0 {
            match self.rx.recv_deadline(self.deadline) {
                Ok(()) => self.remaining -= 1,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => self.remaining = 0,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    tracing::warn!("a media worker did not acknowledge in time");
                    self.remaining = 0;
                }
            }
        }
    }
}

/// A leg as the control plane sees it: where its sockets are and how to reach its worker.
#[derive(Debug, Clone)]
pub struct LegHandle {
    pub id: LegId,
    pub worker: usize,
    pub address: IpAddr,
    pub port: u16,
    pub rtcp_port: u16,
    pub stats: Arc<LegStats>,
    /// The same leg's ports on other interface addresses (ICE host candidates there):
    /// (bind address, RTP port).
    pub extra: Vec<(IpAddr, u16)>,
}

/// Port pairs per worker and local address whose sockets stay open after their call ends,
/// for the next calls, by default (`--warm-ports`). A kept pair is handed out again only once
/// a quarter of that many pairs were kept after it (with few calls ending, ports come from the
/// range in turn as before, so a port is not reused while its old parties may still send to
/// it). Binding, registering and closing a socket is most of what setting up
/// and tearing down a call costs the control plane and the worker. Packets reaching such a
/// port between calls are dropped (and counted), as a closed port would.
pub const WARM_PAIRS: usize = 256;

pub struct MediaPlane {
    workers: Vec<WorkerHandle>,
    pools: HashMap<IpAddr, PortPool>,
    port_range: (u16, u16),
    next_leg: LegId,
    next_worker: usize,
    /// Counts [`request_sync`](Self::request_sync) calls.
    sync_epoch: u64,
    /// Port pairs per worker and address kept open between calls (`--warm-ports`).
    warm_pairs: usize,
}

impl MediaPlane {
    /// Starts `threads` workers (0 = one per core).
    pub fn start(
        threads: usize,
        port_min: u16,
        port_max: u16,
        cert: Option<crate::dtls::dtls::LazyCert>,
        wakeup_batch: Option<std::time::Duration>,
        engine: crate::config::IoEngine,
    ) -> io::Result<MediaPlane> {
        let n = if threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            threads
        };
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = crossbeam_channel::unbounded();
            let counters = Arc::new(WorkerCounters::default());
            let (mut w, waker) =
                Worker::new(rx, counters.clone(), (port_min, port_max), cert.clone())?;
            w.set_wakeup_batch(wakeup_batch);
            w.set_io_engine(engine);
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || w.run())?;
            workers.push(WorkerHandle {
                tx,
                waker,
                thread: Some(thread),
                counters,
                dirty: Cell::new(false),
                sync: false,
            });
        }
        Ok(MediaPlane {
            workers,
            pools: HashMap::new(),
            port_range: (port_min, port_max),
            next_leg: 1,
            next_worker: 0,
            sync_epoch: 0,
            warm_pairs: WARM_PAIRS,
        })
    }

    /// Sets how many port pairs per worker and address stay open between calls (0: every
    /// port closes when its leg ends).
    pub fn set_warm_pairs(&mut self, n: usize) {
        self.warm_pairs = n;
    }

    /// Picks the worker for a new call (round robin).
    pub fn pick_worker(&mut self) -> usize {
        let w = self.next_worker % self.workers.len();
        self.next_worker = self.next_worker.wrapping_add(1);
        w
    }

    /// Queues a command; the worker is woken by the next [`flush`](Self::flush).
    fn send(&self, worker: usize, cmd: WorkerCmd) {
        if let Some(w) = self.workers.get(worker) {
            if w.tx.send(cmd).is_ok() {
                w.dirty.set(true);
            }
        }
    }

    /// Wakes every worker that has commands queued since its last wake.
    pub fn flush(&self) {
        for w in &self.workers {
            if w.dirty.replace(false) {
                let _ = w.waker.wake();
            }
        }
    }

    /// Binds an RTP/RTCP port pair on `address` and hands it to `worker`.
    /// `call_id` and `tag` label the worker's log lines about this leg.
    pub fn add_leg(
        &mut self,
        worker: usize,
        address: IpAddr,
        call_id: &str,
        tag: &str,
    ) -> Result<LegHandle, PortError> {
        let (port, sockets) = self.leg_sockets(worker, address)?;
        let id = self.next_leg;
        self.next_leg += 1;
        let stats = Arc::new(LegStats::default());
        let handle = LegHandle {
            id,
            worker,
            address,
            port,
            rtcp_port: port + 1,
            stats: stats.clone(),
            extra: Vec::new(),
        };
        self.send(
            worker,
            WorkerCmd::AddLeg {
                id,
                sockets,
                stats,
                call_id: Arc::from(call_id),
                tag: Arc::from(tag),
            },
        );
        Ok(handle)
    }

    /// A port pair on `address` for a new leg on `worker`: one the worker keeps open from
    /// an ended call if it has one, else newly bound sockets. When the range is exhausted,
    /// a pair another worker keeps open is closed (waiting for that worker) and bound anew.
    fn leg_sockets(
        &mut self,
        worker: usize,
        address: IpAddr,
    ) -> Result<(u16, LegSockets), PortError> {
        let (min, max) = self.port_range;
        let pool = self
            .pools
            .entry(address)
            .or_insert_with(|| PortPool::new(min, max));
        if let Some((port, old)) = pool.take_warm(worker, self.warm_pairs / 4) {
            return Ok((port, LegSockets::Parked(old)));
        }
        let err = match pool.allocate(address, true) {
            Ok(a) => {
                let sockets = LegSockets::New {
                    rtp: a.rtp,
                    rtcp: a.rtcp,
                };
                return Ok((a.port, sockets));
            }
            Err(e) => e,
        };
        let Some((w, port, old)) = pool.take_any_warm() else {
            return Err(err);
        };
        self.send(w, WorkerCmd::DropParked(old));
        self.sync(w);
        let pool = self.pools.get_mut(&address).ok_or(err)?;
        pool.closed_warm(port);
        let a = pool.allocate(address, true)?;
        Ok((
            a.port,
            LegSockets::New {
                rtp: a.rtp,
                rtcp: a.rtcp,
            },
        ))
    }

    /// Binds the leg's port pair on more local addresses (the other interfaces), so ICE can
    /// offer host candidates there. Addresses it already has are skipped; a failure to bind
    /// one only leaves that candidate out.
    pub fn add_ice_addresses(&mut self, leg: &mut LegHandle, addrs: &[IpAddr]) {
        let (min, max) = self.port_range;
        for &addr in addrs {
            if addr == leg.address
                || leg.extra.iter().any(|(a, _)| *a == addr)
                || leg.extra.len() >= worker::MAX_EXTRA_ADDRESSES
            {
                continue;
            }
            let pool = self
                .pools
                .entry(addr)
                .or_insert_with(|| PortPool::new(min, max));
            match pool.allocate_preferring(addr, leg.port, true) {
                Ok(a) => {
                    leg.extra.push((addr, a.port));
                    self.send(
                        leg.worker,
                        WorkerCmd::AddSockets {
                            id: leg.id,
                            rtp: a.rtp,
                            rtcp: a.rtcp,
                        },
                    );
                }
                Err(e) => tracing::warn!(%addr, "no ICE candidate on this address: {e}"),
            }
        }
    }

    /// Starts (Some) or stops (None) handing the leg's accepted packets to the recorder.
    pub fn set_recording(&self, leg: &LegHandle, tap: Option<crate::recording::LegTap>) {
        self.send(leg.worker, WorkerCmd::SetRecording { id: leg.id, tap });
    }

    pub fn configure(&self, leg: &LegHandle, cfg: LegConfig) {
        self.send(
            leg.worker,
            WorkerCmd::Configure {
                id: leg.id,
                cfg: Box::new(cfg),
            },
        );
    }

    /// Ends the leg on its worker and returns its ports to the pool. Up to
    /// [`set_warm_pairs`](Self::set_warm_pairs) pairs per worker and address stay open
    /// for the next calls.
    pub fn remove_leg(&mut self, leg: &LegHandle) {
        let park = self
            .pools
            .get(&leg.address)
            .is_some_and(|p| p.warm_count(leg.worker) < self.warm_pairs);
        self.send(leg.worker, WorkerCmd::RemoveLeg { id: leg.id, park });
        if let Some(pool) = self.pools.get_mut(&leg.address) {
            if park {
                pool.park(leg.port, leg.worker, leg.id);
            } else {
                pool.release(leg.port);
            }
        }
        for (addr, port) in &leg.extra {
            if let Some(pool) = self.pools.get_mut(addr) {
                pool.release(*port);
            }
        }
    }

    /// Notes that the reply being built must not leave before `worker` has applied every
    /// command sent to it so far (e.g. closed a removed leg's sockets, so that a delete reply
    /// never overtakes them). [`sync_requested`](Self::sync_requested) does the waiting.
    pub fn request_sync(&mut self, worker: usize) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.sync = true;
            self.sync_epoch += 1;
        }
    }

    /// Changes with every [`request_sync`](Self::request_sync): a caller compares it before
    /// and after a request to learn whether that request's reply must wait.
    pub fn sync_epoch(&self) -> u64 {
        self.sync_epoch
    }

    /// Wakes the workers with queued commands and asks every worker named by
    /// [`request_sync`](Self::request_sync) since the last call to acknowledge once it has
    /// applied them: one round trip per worker for any number of requests. `None` when no
    /// worker was named.
    pub fn start_sync(&mut self) -> Option<SyncTicket> {
        let n = self.workers.iter().filter(|w| w.sync).count();
        if n == 0 {
            self.flush();
            return None;
        }
        let (tx, rx) = crossbeam_channel::bounded(n);
        for i in 0..self.workers.len() {
            if std::mem::take(&mut self.workers[i].sync) {
                self.send(i, WorkerCmd::Sync(tx.clone()));
            }
        }
        drop(tx);
        self.flush();
        Some(SyncTicket {
            rx,
            remaining: n,
            deadline: Instant::now() + SYNC_TIMEOUT,
        })
    }

    /// [`start_sync`](Self::start_sync) and wait for it.
    pub fn sync_requested(&mut self) {
        if let Some(mut t) = self.start_sync() {
            t.wait();
        }
    }

    /// Waits (briefly) until `worker` has applied every command sent to it so far.
    pub fn sync(&mut self, worker: usize) {
        self.request_sync(worker);
        self.sync_requested();
    }

    /// Ports in use across all addresses (each pair counts once).
    pub fn ports_in_use(&self) -> usize {
        self.pools.values().map(|p| p.used_count()).sum()
    }

    pub fn totals(&self) -> WorkerTotals {
        let mut t = WorkerTotals::default();
        for w in &self.workers {
            t.add(&w.counters);
        }
        t
    }

    /// Stops every worker and waits for it; their sockets close as they exit.
    pub fn shutdown(&mut self) {
        for w in &self.workers {
            let _ = w.tx.send(WorkerCmd::Shutdown);
            let _ = w.waker.wake();
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for MediaPlane {
    fn drop(&mut self) {
        self.shutdown();
    }
}
