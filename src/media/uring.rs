//! The io_uring engine of a media worker (`--io-engine=uring`).
//!
//! One io_uring per worker thread, created on that thread (single issuer, deferred task
//! work). Every media socket has a multishot `recvmsg` that takes its buffers from one
//! provided-buffer ring; a completion's datagram is copied into the worker's receive buffer and
//! goes through the same [`Worker::relay`] as with epoll. What it forwards is copied back
//! into the provided buffer it arrived in, which is queued as a `send` with a destination
//! address (a dropped datagram's buffer goes back at once); all the sends queued while handling
//! one batch of completions reach the kernel in the next `io_uring_enter`, which also waits for
//! the next completions. Where the kernel can skip completions (5.17), sends are quiet: a
//! successful one posts none, and its buffer goes back to the ring once that `io_uring_enter`
//! has issued it (see [`Uring::reclaim_sent`]); elsewhere a buffer goes back when its send's
//! completion arrives. A forwarded datagram
//! larger than a buffer (possible only when SRTP protection grows one that nearly filled it)
//! is sent with a plain `sendto`.
//!
//! Memory: the buffers are the engine's only per-packet memory, [`NBUF`] x [`BUF_SIZE`] per
//! worker (about 2 MB, all of it resident once the ring has cycled). While the ring is empty
//! (every buffer held by a datagram being handled or sent) a socket's multishot receive ends
//! and is armed again, and datagrams wait in the socket's receive queue meanwhile.
//!
//! Commands: the worker's mio `Poll` keeps only the control plane's `Waker`, and its epoll fd
//! is watched by a multishot `POLL_ADD`; when it fires the poll is drained (zero timeout) and
//! the commands applied. ICE/DTLS timers bound the wait. `--wakeup-batch-us` after a busy
//! round becomes the kernel's minimum wait (IORING_ENTER min-wait) where the kernel has it.
//!
//! Sockets: each watched socket also goes into the ring's registered-file table (a slot per
//! socket token while it is watched), and receives and sends name it by slot: the kernel then
//! looks up no file per request (the lookup was 4% of a worker's time at 1000 calls). A socket
//! the table has no room for is used by fd.
//!
//! Connected twins ([`twin`]): sends to a socket's party go through a second socket on the
//! same port, connected to the party, which spares the kernel a route lookup per datagram;
//! the party's datagrams then arrive on the twin's own receive and count as the socket's.
//!
//! Removing a leg cancels its receives by user data; user data carries a generation per
//! socket slot, so a late completion for a slab index that a new leg took is ignored.
//! Datagrams larger than [`MAX_DATAGRAM`] (2048 bytes; rtpengine takes up to 8192) are
//! dropped and counted as malformed. 1024 buffers of 8 KB would hold 4 MB resident per
//! worker; 256 of them emptied the ring at 1000 calls (see [`WAKE_BATCH`]).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use mio::Events;

use super::{bump, token, Worker, RECV_BUF, SLOTS};
use crate::media::bufring::{parse_sockaddr, write_sockaddr, BufRing};
use twin::Twin;

#[path = "twin.rs"]
mod twin;

const TAG_RECV: u64 = 1;
const TAG_SEND: u64 = 2;
const TAG_WAKE: u64 = 3;
const TAG_CANCEL: u64 = 4;
/// A receive on a socket's connected twin (see [`twin`]).
const TAG_TWIN: u64 = 5;
/// Provided receive buffers (a power of two), each also the send buffer of what is relayed
/// from it.
const NBUF: usize = 1024;
/// A buffer's size: the recvmsg header, the source address and a datagram of up to
/// [`MAX_DATAGRAM`] bytes.
const BUF_SIZE: usize = RECVMSG_OUT + NAME_LEN + MAX_DATAGRAM;
/// `struct io_uring_recvmsg_out` ahead of the name in a multishot `recvmsg` buffer.
const RECVMSG_OUT: usize = 16;
/// The name room of each receive (`msg_namelen`: an IPv6 address).
const NAME_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// The largest datagram received whole (RTP within any MTU, 2 KB video packets).
const MAX_DATAGRAM: usize = 2048;
const GROUP: u16 = 0;
/// Completions a batched wake-up waits for at most.
const WAKE_BATCH: usize = NBUF / 4;
// Each completion holds its buffer until its send completes (the next wait): a batch as large
// as the ring empties it, every socket's multishot receive then ends with ENOBUFS and must be
// re-armed, and at 1000 calls the socket queues overflowed (8% loss, p99 over 2 s).
const _: () = assert!(WAKE_BATCH * 4 <= NBUF);
/// The wait when no timer is pending.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// The longest wait while a new twin's receive is not armed yet.
const TWIN_POLL: Duration = Duration::from_millis(1);

fn ud(tag: u64, gen: u32, index: u32) -> u64 {
    (tag << 56) | ((u64::from(gen) & 0xff_ffff) << 32) | u64::from(index)
}

fn ud_parts(ud: u64) -> (u64, u32, u32) {
    (ud >> 56, ((ud >> 32) & 0xff_ffff) as u32, ud as u32)
}

/// A worker's io_uring state.
pub(super) struct Uring {
    ring: IoUring,
    bufs: BufRing,
    /// Per buffer, the destination of the send that holds it.
    dests: Vec<libc::sockaddr_storage>,
    /// The msghdr the multishot receives are shaped by (name only); boxed so it never moves.
    msg: Box<libc::msghdr>,
    /// The generation of the receive armed on each socket token (0: none).
    gens: Vec<u32>,
    gen: u32,
    min_timeout: bool,
    /// Per socket token, its slot in the ring's registered-file table ([`NO_FILE`]: none, the
    /// fd is used). A registered socket costs the kernel no file lookup per send, as with the
    /// floor relay the engine is measured against.
    files: Vec<u32>,
    free_files: Vec<u32>,
    next_file: u32,
    /// Size of the registered-file table (0: none could be registered).
    file_cap: u32,
    /// Sends complete silently (`IOSQE_CQE_SKIP_SUCCESS`): see [`Uring::reclaim_sent`].
    quiet_sends: bool,
    /// With `quiet_sends`: the buffers of the sends queued since the submission queue was last
    /// seen empty.
    sent: Vec<u16>,
    /// Per socket token, its connected twin.
    twins: Vec<Twin>,
    /// Tokens whose new twin waits for its receive (see [`Uring::arm_twins`]).
    twins_waiting: Vec<usize>,
    /// No twin is made with a file descriptor from here on: the rest of the process's
    /// open-file limit stays for the sockets of new calls.
    twin_fd_max: RawFd,
}

/// No registered-file slot.
const NO_FILE: u32 = u32::MAX;

/// A socket as a request names it.
#[derive(Clone, Copy)]
enum Target {
    Fixed(u32),
    Fd(RawFd),
}

impl Target {
    /// Socket `fd` by its registered-file `slot`, or by fd where it has none ([`NO_FILE`]).
    fn of(slot: u32, fd: RawFd) -> Target {
        match slot {
            NO_FILE => Target::Fd(fd),
            s => Target::Fixed(s),
        }
    }
}

// SAFETY: the raw pointers point into memory the Uring owns (the buffer-ring mapping, the
// boxed msghdr), valid wherever the Uring is; it is created and used on its worker's thread.
unsafe impl Send for Uring {}

impl Uring {
    /// Sets up the ring, the provided buffers and the send pool; an error means "use epoll".
    /// `files`: how many sockets the worker may have (its port range, every address): the
    /// size of the registered-file table, which is kernel memory (8 bytes a slot).
    pub(super) fn new(files: u32) -> io::Result<Uring> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .setup_cqsize(16384)
            .build(1024)?;
        let min_timeout = ring.params().is_feature_min_timeout();
        let quiet_sends = ring.params().is_feature_skip_cqe_on_success();
        // Without a table (an old kernel, a memory limit) sockets are used by fd.
        let file_cap = match ring.submitter().register_files_sparse(files) {
            Ok(()) => files,
            Err(e) => {
                tracing::warn!("io_uring: no registered-file table ({e}); sockets used by fd");
                0
            }
        };
        let bufs = BufRing::new(NBUF, BUF_SIZE)?;
        // SAFETY: the ring memory stays mapped until `bufs` drops, after `ring` closed.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                bufs.entries_addr(),
                NBUF as u16,
                GROUP,
                0,
            )?
        };
        // SAFETY: an all-zero msghdr is valid; only the name length matters here.
        let mut msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msg.msg_namelen = NAME_LEN as libc::socklen_t;
        let mut u = Uring {
            ring,
            bufs,
            // SAFETY: sockaddr_storage is plain old data; all zeroes is valid.
            dests: vec![unsafe { std::mem::zeroed() }; NBUF],
            msg,
            gens: Vec::new(),
            gen: 0,
            min_timeout,
            files: Vec::new(),
            free_files: Vec::new(),
            next_file: 0,
            file_cap,
            quiet_sends,
            sent: Vec::with_capacity(NBUF),
            twins: Vec::new(),
            twins_waiting: Vec::new(),
            twin_fd_max: crate::media::ports::fd_limit()
                .map_or(768, |l| RawFd::try_from(l / 4 * 3).unwrap_or(RawFd::MAX)),
        };
        u.self_test()?;
        Ok(u)
    }

    /// One datagram over loopback through a multishot receive: a kernel that sets up rings
    /// but lacks multishot `recvmsg` (before 6.0) fails here, and the worker uses epoll.
    fn self_test(&mut self) -> io::Result<()> {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let fd = sock.as_raw_fd();
        let e = opcode::RecvMsgMulti::new(types::Fd(fd), &*self.msg, GROUP)
            .build()
            .user_data(ud(TAG_RECV, 0, 0));
        self.push(&e)?;
        self.ring.submit()?;
        sock.send_to(b"io_uring self-test", sock.local_addr()?)?;
        let ts = types::Timespec::from(Duration::from_secs(1));
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) => return Err(e),
        }
        let cqe = self.ring.completion().next();
        let ok = match &cqe {
            Some(c) => {
                if let Some(bid) = cqueue::buffer_select(c.flags()) {
                    self.bufs.give(bid);
                    self.bufs.publish();
                }
                c.result() > 0 && cqueue::more(c.flags())
            }
            None => false,
        };
        let cancel = opcode::AsyncCancel::new(ud(TAG_RECV, 0, 0))
            .build()
            .user_data(ud(TAG_CANCEL, 0, 0));
        self.push(&cancel)?;
        self.ring.submit()?;
        if ok {
            Ok(())
        } else {
            let why = cqe.map_or("no completion".to_string(), |c| {
                io::Error::from_raw_os_error(-c.result().min(0)).to_string()
            });
            Err(io::Error::other(format!(
                "multishot recvmsg self-test failed: {why}"
            )))
        }
    }

    fn push(&mut self, e: &squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every entry's pointers (pool buffers, addresses, the msghdr) stay valid
            // until its completion: see the callers.
            if unsafe { self.ring.submission().push(e) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
            self.reclaim_sent();
        }
    }

    /// Quiet sends: a send is issued while `io_uring_enter` takes it from the submission
    /// queue, and with `MSG_DONTWAIT` it is never parked to wait for room (a full socket
    /// buffer fails it, as a `sendto` would), so once the queue is empty every queued send has
    /// copied its datagram into the kernel, or failed with a completion. Their buffers go back
    /// to the ring then, and a successful send costs no completion at all (the kernel filling
    /// one, this loop reading it). If the kernel left entries in the queue, the buffers wait
    /// for a later call.
    fn reclaim_sent(&mut self) {
        if !self.sent.is_empty() && self.ring.submission().is_empty() {
            for &bid in &self.sent {
                self.bufs.give(bid);
            }
            self.sent.clear();
        }
    }

    /// Arms a multishot receive on `fd` for socket token `tok` (a new generation).
    pub(super) fn arm(&mut self, fd: RawFd, tok: usize) -> io::Result<()> {
        let Ok(index) = u32::try_from(tok) else {
            return Err(io::Error::other("socket token out of range"));
        };
        if self.gens.len() <= tok {
            self.gens.resize(tok + 1, 0);
            self.twins.resize_with(tok + 1, Twin::default);
        }
        if self.gens[tok] != 0 {
            self.cancel(tok)?;
        }
        self.gen = (self.gen % 0xff_ffff) + 1;
        self.gens[tok] = self.gen;
        if self.files.len() <= tok {
            self.files.resize(tok + 1, NO_FILE);
        }
        self.files[tok] = self.register_file(fd);
        self.push_recv(fd, index, self.gen)
    }

    /// Puts socket `fd` into the registered-file table if there is room; its slot, or
    /// [`NO_FILE`].
    fn register_file(&mut self, fd: RawFd) -> u32 {
        let slot = match self.free_files.pop() {
            Some(s) => s,
            None if self.next_file < self.file_cap => {
                self.next_file += 1;
                self.next_file - 1
            }
            None => return NO_FILE,
        };
        match self.ring.submitter().register_files_update(slot, &[fd]) {
            Ok(_) => slot,
            Err(e) => {
                tracing::debug!("io_uring: cannot register a socket ({e}); used by fd");
                self.free_files.push(slot);
                NO_FILE
            }
        }
    }

    /// Takes a socket out of the registered-file table (`slot`: where it is, or
    /// [`NO_FILE`]). Requests still using it keep their own reference until they complete.
    fn unregister_file(&mut self, slot: u32) {
        if slot == NO_FILE {
            return;
        }
        match self.ring.submitter().register_files_update(slot, &[-1]) {
            Ok(_) => self.free_files.push(slot),
            // Left in the table (a kernel refusing to clear its own slot): never reused, so
            // no other socket is ever reached through it.
            Err(e) => tracing::error!("io_uring: cannot unregister a socket: {e}"),
        }
    }

    /// How a request names token `tok`'s socket `fd`.
    fn target(&self, tok: usize, fd: RawFd) -> Target {
        Target::of(self.files.get(tok).copied().unwrap_or(NO_FILE), fd)
    }

    fn push_recv(&mut self, fd: RawFd, index: u32, gen: u32) -> io::Result<()> {
        let target = self.target(index as usize, fd);
        self.push_recv_on(target, ud(TAG_RECV, gen, index))
    }

    /// A twin's receive: a plain multishot `recv`, with no source address written, as all of
    /// a connected socket's datagrams come from where it is connected (see
    /// [`Uring::twin_source`]). `MSG_TRUNC`: a datagram too large for the buffer reports its
    /// real length, so that it is dropped rather than relayed cut short.
    fn push_twin_recv(&mut self, target: Target, user: u64) -> io::Result<()> {
        let e = match target {
            Target::Fixed(slot) => opcode::RecvMulti::new(types::Fixed(slot), GROUP)
                .flags(libc::MSG_TRUNC)
                .build(),
            Target::Fd(fd) => opcode::RecvMulti::new(types::Fd(fd), GROUP)
                .flags(libc::MSG_TRUNC)
                .build(),
        };
        self.push(&e.user_data(user))
    }

    /// Hands the kernel what is queued now rather than at the loop's next wait.
    fn submit_now(&mut self) -> io::Result<()> {
        self.ring.submit()?;
        self.reclaim_sent();
        Ok(())
    }

    fn push_recv_on(&mut self, target: Target, user: u64) -> io::Result<()> {
        let e = match target {
            Target::Fixed(slot) => {
                opcode::RecvMsgMulti::new(types::Fixed(slot), &*self.msg, GROUP).build()
            }
            Target::Fd(fd) => opcode::RecvMsgMulti::new(types::Fd(fd), &*self.msg, GROUP).build(),
        };
        self.push(&e.user_data(user))
    }

    /// Cancels the receive armed for socket token `tok`; its completions are stale from now.
    pub(super) fn cancel(&mut self, tok: usize) -> io::Result<()> {
        let Some(g) = self.gens.get_mut(tok) else {
            return Ok(());
        };
        if *g == 0 {
            return Ok(());
        }
        let gen = std::mem::replace(g, 0);
        let e = opcode::AsyncCancel::new(ud(TAG_RECV, gen, tok as u32))
            .build()
            .user_data(ud(TAG_CANCEL, 0, 0));
        self.push(&e)?;
        let slot = self
            .files
            .get_mut(tok)
            .map_or(NO_FILE, |f| std::mem::replace(f, NO_FILE));
        self.unregister_file(slot);
        self.close_twin(tok);
        Ok(())
    }

    /// Hands queued requests to the kernel now (cancellations before a socket closes).
    pub(super) fn submit(&mut self) -> io::Result<()> {
        self.ring.submit()?;
        self.reclaim_sent();
        Ok(())
    }

    fn arm_wake(&mut self, fd: RawFd) -> io::Result<()> {
        let e = opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(ud(TAG_WAKE, 0, 0));
        self.push(&e)
    }

    /// Submits what is queued and waits for a completion (or `timeout`); `batch_us`: after a
    /// busy round, gather completions that long.
    fn wait(&mut self, timeout: Duration, batch_us: u32) -> io::Result<()> {
        let ts = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&ts);
        let r = if batch_us == 0 {
            self.ring.submitter().submit_with_args(1, &args)
        } else if self.min_timeout {
            let args = args.min_wait_usec(batch_us);
            self.ring.submitter().submit_with_args(WAKE_BATCH, &args)
        } else {
            self.ring.submit()?;
            std::thread::sleep(Duration::from_micros(u64::from(batch_us)));
            self.ring.submitter().submit_with_args(1, &args)
        };
        self.reclaim_sent();
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Worker {
    /// The io_uring loop (see the module docs); returns when the worker must stop.
    pub(super) fn run_uring(mut self) {
        let wake_fd = self.poll.as_raw_fd();
        let mut events = Events::with_capacity(64);
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        tracing::info!("media worker uses io_uring");
        if let Err(e) = u.arm_wake(wake_fd) {
            tracing::error!("media worker (io_uring): cannot watch for commands: {e}");
            return;
        }
        // Legs added before the loop started were registered with mio: move them over.
        let present: Vec<(usize, usize, RawFd)> = self
            .legs
            .iter()
            .flat_map(|(idx, leg)| {
                (0..SLOTS).filter_map(move |s| leg.socket(s).map(|k| (idx, s, k.as_raw_fd())))
            })
            .collect();
        let reg = self.poll.registry();
        for (_, leg) in self.legs.iter_mut() {
            let extra = leg.extra.iter_mut().map(|x| (&mut x.rtp, x.rtcp.as_mut()));
            for (rtp, rtcp) in std::iter::once((&mut leg.rtp, leg.rtcp.as_mut())).chain(extra) {
                let _ = reg.deregister(rtp);
                if let Some(s) = rtcp {
                    let _ = reg.deregister(s);
                }
            }
        }
        for (idx, slot, fd) in present {
            if let Some(u) = self.uring.as_mut() {
                if let Err(e) = u.arm(fd, token(idx, slot).0) {
                    tracing::error!("media worker (io_uring): cannot arm a receive: {e}");
                }
            }
        }
        if !self.handle_commands() {
            return;
        }
        let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(4096);
        let mut busy = false;
        let mut wall = super::UnixClock::default();
        // When the previous round ended: the next wait's timeout is counted from it.
        let mut done = Instant::now();
        loop {
            let timeout = self
                .timers
                .next_wake()
                .map(|t| t.saturating_duration_since(done))
                .unwrap_or(IDLE_WAIT)
                .min(IDLE_WAIT);
            // A new twin's receive waits for its socket's queue to empty: look again soon.
            let timeout = match self.uring.as_ref() {
                Some(u) if u.twins_waiting() => timeout.min(TWIN_POLL),
                _ => timeout,
            };
            let batch_us = if busy {
                let batch = self.wakeup_batch.unwrap_or(super::URING_WAKEUP_BATCH);
                u32::try_from(batch.as_micros()).unwrap_or(u32::MAX)
            } else {
                0
            };
            let Some(u) = self.uring.as_mut() else {
                return;
            };
            if let Err(e) = u.wait(timeout, batch_us) {
                tracing::error!("media worker io_uring wait failed: {e}");
                return;
            }
            cqes.clear();
            cqes.extend(
                u.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let now = Instant::now();
            let unix = wall.secs(now);
            // Commands first (see the epoll loop).
            if !self.rx.is_empty() && !self.handle_commands() {
                return;
            }
            // Start the legs' cache misses for the whole batch before handling its first packet.
            for stage in 0..2 {
                for &(user, _, _) in &cqes {
                    let (tag, _, index) = ud_parts(user);
                    if tag == TAG_RECV || tag == TAG_TWIN {
                        let idx = index as usize / SLOTS;
                        if stage == 0 {
                            self.prefetch_leg(idx);
                        } else {
                            self.prefetch_peer(idx);
                        }
                    }
                }
            }
            let mut packets = 0usize;
            for &(user, res, flags) in &cqes {
                let (tag, gen, index) = ud_parts(user);
                match tag {
                    TAG_RECV | TAG_TWIN => {
                        let twin = tag == TAG_TWIN;
                        let tok = index as usize;
                        let got = self.on_recv_cqe(gen, tok, twin, res, flags, now, unix);
                        packets += usize::from(got);
                    }
                    TAG_SEND if self.uring.as_ref().is_some_and(|u| u.quiet_sends) => {
                        self.on_quiet_send_cqe(res, gen);
                    }
                    TAG_SEND => {
                        let c = &self.counters;
                        if res >= 0 {
                            bump(&c.relayed, 1);
                            bump(&c.relayed_bytes, res as u64);
                        } else {
                            tracing::trace!("send failed: {}", io::Error::from_raw_os_error(-res));
                            bump(&c.send_errors, 1);
                        }
                        // The send is done with the receive buffer it went out of.
                        if let (Some(u), Ok(bid)) = (self.uring.as_mut(), u16::try_from(index)) {
                            u.bufs.give(bid);
                        }
                    }
                    TAG_WAKE => {
                        // Reset the epoll fd's readiness; the commands are in the channel.
                        let _ = self.poll.poll(&mut events, Some(Duration::ZERO));
                        if !cqueue::more(flags) {
                            if let Some(u) = self.uring.as_mut() {
                                if let Err(e) = u.arm_wake(wake_fd) {
                                    tracing::error!("media worker (io_uring): {e}");
                                    return;
                                }
                            }
                        }
                    }
                    _ => {}
                }
                if !self.rx.is_empty() && !self.handle_commands() {
                    return;
                }
            }
            if let Some(u) = self.uring.as_mut() {
                u.bufs.publish();
                if u.twins_waiting() {
                    u.arm_twins();
                }
            }
            busy = packets > 1;
            done = Instant::now();
            self.run_timers(done);
        }
    }

    /// A quiet send's completion, which only a failure posts: its buffer is back already,
    /// and it was counted as relayed when queued (`len` is its length).
    fn on_quiet_send_cqe(&mut self, res: i32, len: u32) {
        if res < 0 {
            let c = &self.counters;
            tracing::trace!("send failed: {}", io::Error::from_raw_os_error(-res));
            bump(&c.send_errors, 1);
            // Adding the two's complement takes the send back out of the relayed counts.
            bump(&c.relayed, 1u64.wrapping_neg());
            bump(&c.relayed_bytes, u64::from(len).wrapping_neg());
        }
    }

    /// One receive completion (`twin`: on token `tok`'s connected twin); true if it carried a
    /// datagram for a live socket.
    #[allow(clippy::too_many_arguments)]
    fn on_recv_cqe(
        &mut self,
        gen: u32,
        tok: usize,
        twin: bool,
        res: i32,
        flags: u32,
        now: Instant,
        unix: u64,
    ) -> bool {
        let Some(u) = self.uring.as_mut() else {
            return false;
        };
        let live = u.live(tok, gen, twin);
        let bid = cqueue::buffer_select(flags);
        let (idx, slot) = (tok / SLOTS, tok % SLOTS);
        if live && twin && !cqueue::more(flags) {
            u.twin_recv_ended(tok, gen, res);
        } else if live && !cqueue::more(flags) {
            // The multishot receive ended (no buffer left, an error): arm it again.
            match self.legs.get(idx).and_then(|l| l.socket(slot)) {
                Some(sock) => {
                    if let Err(e) = u.push_recv(sock.as_raw_fd(), tok as u32, gen) {
                        tracing::error!("media worker (io_uring): cannot re-arm a receive: {e}");
                    }
                }
                None => u.gens[tok] = 0,
            }
        }
        let Some(bid) = bid else {
            return false;
        };
        if !live || res <= 0 {
            u.bufs.give(bid);
            return false;
        }
        let received = u.bufs.buf(bid, res as usize);
        let datagram = if twin {
            // A twin's receive writes the datagram alone; its source is where the twin was
            // connected when it arrived.
            let whole = res as usize <= MAX_DATAGRAM;
            u.twin_source(tok, gen)
                .filter(|_| whole)
                .map(|src| (src, received))
        } else {
            types::RecvMsgOut::parse(received, &u.msg)
                .ok()
                .filter(|out| !out.is_payload_truncated() && !out.is_name_data_truncated())
                .and_then(|out| {
                    let src = parse_sockaddr(out.name_data())?;
                    // The payload ends what the receive wrote.
                    let n = out.payload_data().len();
                    Some((src, &received[received.len() - n..]))
                })
        };
        let parsed = datagram.map(|(src, p)| {
            let len = p.len().min(RECV_BUF - super::SRTP_TAIL);
            self.buf[..len].copy_from_slice(&p[..len]);
            (src, len)
        });
        let Some((src, len)) = parsed else {
            u.bufs.give(bid);
            bump(&self.counters.received, 1);
            bump(&self.counters.dropped_malformed, 1);
            return false;
        };
        // A command queued meanwhile applies to this packet (as with epoll).
        if !self.rx.is_empty() && !self.handle_commands() {
            if let Some(u) = self.uring.as_mut() {
                u.bufs.give(bid);
            }
            return false;
        }
        self.uring_packet(idx, slot, len, src, now, unix, bid);
        true
    }

    /// [`Worker::relay`], then the send queued on the ring from receive buffer `bid` (or sent
    /// at once if it does not fit there). `bid` goes back to the ring when it is not sent from.
    #[allow(clippy::too_many_arguments)]
    fn uring_packet(
        &mut self,
        idx: usize,
        slot: usize,
        len: usize,
        src: std::net::SocketAddr,
        now: Instant,
        unix: u64,
        bid: u16,
    ) {
        let fwd = self.relay(idx, slot, len, src, now, unix);
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        let Some((fwd, peer)) = fwd.and_then(|f| Some((f, self.legs.get(f.peer)?))) else {
            u.bufs.give(bid);
            return;
        };
        let c = &self.counters;
        let send_slot = peer.send_slot(fwd.rtcp_port);
        let sock = peer.socket(send_slot).unwrap_or(&peer.rtp);
        if fwd.len > u.bufs.buf_size() {
            u.bufs.give(bid);
            super::send_counted(c, sock, &self.buf[..fwd.len], fwd.dest);
            return;
        }
        // The datagram was copied out of the buffer before relaying: overwrite it from the start.
        let out = u.bufs.buf_mut(bid, fwd.len);
        out.copy_from_slice(&self.buf[..fwd.len]);
        let out_ptr = out.as_ptr();
        let tok = token(fwd.peer, send_slot).0;
        let fd = sock.as_raw_fd();
        let twin = u.twin_for(tok, fd, fwd.dest);
        let Some(d) = u.dests.get_mut(usize::from(bid)) else {
            u.bufs.give(bid);
            return;
        };
        // Through the connected twin, with no address; else through the socket, to `dest`.
        let (target, d, dest_len) = match twin {
            Some(t) => (t, std::ptr::null(), 0),
            None => {
                let len = write_sockaddr(fwd.dest, d);
                let d = d as *const libc::sockaddr_storage as *const libc::sockaddr;
                (u.target(tok, fd), d, len)
            }
        };
        // The buffer and the address stay untouched until the buffer goes back to the ring:
        // at this send's completion, or for a quiet send once the kernel has issued it (see
        // `reclaim_sent`); the kernel cannot receive into it before.
        let msg_flags = if u.quiet_sends { libc::MSG_DONTWAIT } else { 0 };
        let e = match target {
            Target::Fixed(f) => opcode::Send::new(types::Fixed(f), out_ptr, fwd.len as u32)
                .dest_addr(d)
                .dest_addr_len(dest_len)
                .flags(msg_flags)
                .build(),
            Target::Fd(fd) => opcode::Send::new(types::Fd(fd), out_ptr, fwd.len as u32)
                .dest_addr(d)
                .dest_addr_len(dest_len)
                .flags(msg_flags)
                .build(),
        };
        let e = if u.quiet_sends {
            e.flags(squeue::Flags::SKIP_SUCCESS).user_data(ud(
                TAG_SEND,
                fwd.len as u32,
                u32::from(bid),
            ))
        } else {
            e.user_data(ud(TAG_SEND, 0, u32::from(bid)))
        };
        match u.push(&e) {
            Ok(()) if u.quiet_sends => {
                u.sent.push(bid);
                bump(&c.relayed, 1);
                bump(&c.relayed_bytes, fwd.len as u64);
            }
            Ok(()) => {}
            Err(e) => {
                tracing::trace!("cannot queue a send: {e}");
                u.bufs.give(bid);
                bump(&c.send_errors, 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn user_data_round_trips() {
        for (tag, gen, index) in [(TAG_RECV, 1, 0), (TAG_SEND, 0xff_ffff, u32::MAX), (4, 7, 8)] {
            assert_eq!(ud_parts(ud(tag, gen, index)), (tag, gen, index));
        }
    }

    /// Waits for a receive completion of each token in `toks`, returning its buffers.
    fn received(u: &mut Uring, toks: &[u32]) -> Vec<u32> {
        let mut got = Vec::new();
        let ts = types::Timespec::from(Duration::from_secs(2));
        while got.len() < toks.len() {
            let args = types::SubmitArgs::new().timespec(&ts);
            u.ring
                .submitter()
                .submit_with_args(1, &args)
                .expect("completions within 2 s");
            let cqes: Vec<_> = u.ring.completion().collect();
            for c in cqes {
                let (tag, _, index) = ud_parts(c.user_data());
                if tag == TAG_RECV && c.result() > 0 {
                    got.push(index);
                }
                if let Some(bid) = cqueue::buffer_select(c.flags()) {
                    u.bufs.give(bid);
                }
            }
            u.bufs.publish();
        }
        got.sort_unstable();
        got
    }

    #[test]
    fn sockets_use_the_registered_file_table_while_it_has_room() {
        let mut u = Uring::new(1).expect("io_uring with multishot receives");
        let socks: Vec<_> = (0..3)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").expect("bind"))
            .collect();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        u.arm(socks[0].as_raw_fd(), 0).expect("arm");
        u.arm(socks[1].as_raw_fd(), 1).expect("arm");
        assert!(matches!(u.target(0, -1), Target::Fixed(0)));
        // The table is full: the second socket is used by fd, and receives all the same.
        assert!(matches!(u.target(1, 7), Target::Fd(7)));
        u.submit().expect("submit");
        for s in &socks[..2] {
            peer.send_to(b"x", s.local_addr().unwrap()).expect("send");
        }
        assert_eq!(received(&mut u, &[0, 1]), vec![0, 1]);
        // A cancelled socket gives its slot back, and the next socket takes it.
        u.cancel(0).expect("cancel");
        assert!(matches!(u.target(0, 5), Target::Fd(5)));
        u.arm(socks[2].as_raw_fd(), 2).expect("arm");
        assert!(matches!(u.target(2, -1), Target::Fixed(0)));
        u.submit().expect("submit");
        peer.send_to(b"y", socks[2].local_addr().unwrap())
            .expect("send");
        assert_eq!(received(&mut u, &[2]), vec![2]);
    }

    #[test]
    fn sockaddr_parsing() {
        for a in ["10.1.2.3:4567", "[2001:db8::1]:5004"] {
            let a: SocketAddr = a.parse().unwrap();
            let sa = socket2::SockAddr::from(a);
            // SAFETY: as_ptr points at len() bytes.
            let b =
                unsafe { std::slice::from_raw_parts(sa.as_ptr() as *const u8, sa.len() as usize) };
            assert_eq!(parse_sockaddr(b), Some(a));
            // SAFETY: all zeroes is a valid sockaddr_storage.
            let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let n = write_sockaddr(a, &mut st);
            assert_eq!(n, sa.len());
            // SAFETY: `st` is n bytes and more.
            let w = unsafe { std::slice::from_raw_parts(&st as *const _ as *const u8, n as usize) };
            assert_eq!(w, b, "{a} written as the kernel's own form");
        }
        assert_eq!(parse_sockaddr(&[0u8; 1]), None);
        assert_eq!(parse_sockaddr(&[0u8; 16]), None);
    }
}
