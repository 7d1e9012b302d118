//! Connected twins: a media socket's second socket on the same port, connected to where the
//! socket's party receives (see [`crate::media::ports::connected_twin`]). Sends to that
//! destination go through the twin with no address, which spares the kernel a route lookup
//! and an IP-ID hash per datagram: 8-10% less CPU per relayed packet at 500 calls
//! (`scripts/bench-paired.sh`, 2026-11-21). io_uring engine only; epoll sends through the
//! socket itself.
//!
//! - A token's twin is made at its first relayed send (the send itself still goes through
//!   the socket), and connected elsewhere when [`TWIN_MOVE`] sends in a row go there (a
//!   party that moved; see [`Uring::move_twin`] for the order of its datagrams).
//! - From its `connect` on, what the destination sends to the port arrives on the twin, and
//!   the twin's datagrams count as the token's. Its receive is armed only once the socket's
//!   queue is empty ([`Uring::arm_twins`]), so what the party sent before the switch is
//!   handled before what it sent after, in order. It is a plain multishot `recv`: the kernel
//!   writes no source address, which is where the twin is connected ([`Uring::twin_source`];
//!   a move cancels it and arms a new one, see [`Uring::move_twin`]).
//! - It closes with its token's receive ([`Uring::cancel`]). A twin whose receive fails (a
//!   connected socket reports ICMP errors, such as port unreachable) is closed, and the token
//!   sends without one for [`TWIN_RETRY`] datagrams (by then the closed socket, which its
//!   cancelled receive held, has left the port for a new twin to bind).
//! - Twins stop where file descriptors get scarce ([`Uring::twin_fd_max`]): the rest of the
//!   open-file limit stays for the sockets of new calls.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use io_uring::opcode;

use super::{ud, Target, Uring, NO_FILE, TAG_CANCEL, TAG_TWIN};

/// Sends in a row to another destination after which the twin moves there.
const TWIN_MOVE: u16 = 8;
/// Sends without a twin after one could not be made or failed, before trying again.
const TWIN_RETRY: u16 = 1024;
/// Rounds a new twin waits for its socket's queue to empty before its receive is armed
/// anyway (a socket flooded from elsewhere never empties; the twin's queue must not fill).
const ARM_ROUNDS: u16 = 64;

/// A socket token's connected twin.
pub(super) struct Twin {
    sock: Option<std::net::UdpSocket>,
    /// Where `sock` is connected.
    dest: Option<SocketAddr>,
    /// The token's own socket (open while the token is armed, which the twin never outlives).
    orig: RawFd,
    /// Registered-file slot of `sock` ([`NO_FILE`]: used by fd).
    file: u32,
    /// Generation of its receive (0: not armed yet).
    pub(super) gen: u32,
    /// The receive cancelled at the last move, until its last completion: its generation and
    /// where the twin was connected while it ran (the source of its datagrams).
    old: Option<(u32, SocketAddr)>,
    /// With a socket: sends in a row to another destination; without: sends left before
    /// trying to make one again.
    count: u16,
    /// Rounds waited for the receive to be armed.
    rounds: u16,
}

impl Twin {
    /// How requests name the twin's socket, if there is one.
    pub(super) fn target(&self) -> Option<Target> {
        let s = self.sock.as_ref()?;
        Some(Target::of(self.file, s.as_raw_fd()))
    }
}

impl Default for Twin {
    fn default() -> Twin {
        Twin {
            sock: None,
            dest: None,
            orig: -1,
            file: NO_FILE,
            gen: 0,
            old: None,
            count: 0,
            rounds: 0,
        }
    }
}

impl Uring {
    /// Where a send from token `tok` (socket `fd`) to `dest` goes through `tok`'s twin
    /// (making or moving it as the module docs say): the twin, which must not be given an
    /// address. None: send through `fd`.
    #[inline]
    pub(super) fn twin_for(&mut self, tok: usize, fd: RawFd, dest: SocketAddr) -> Option<Target> {
        let t = self.twins.get_mut(tok)?;
        if t.dest == Some(dest) {
            t.count = 0;
            return t.target();
        }
        match t.sock {
            Some(_) if t.count + 1 < TWIN_MOVE => t.count += 1,
            Some(_) => self.move_twin(tok, dest),
            None if t.count > 0 => t.count -= 1,
            None => self.make_twin(tok, fd, dest),
        }
        None
    }

    /// Connects token `tok`'s twin to `dest` instead, once its socket and the twin have
    /// nothing queued (or after [`ARM_ROUNDS`] more sends): from the `connect` on, what `dest`
    /// sends arrives on the twin, after what it sent before (in the socket's queue, which is
    /// empty). The twin's receive, which names no source, is cancelled first (its completions
    /// still due come from the old destination: [`Twin::old`]), and a new one is armed as for
    /// a new twin. A datagram from the old destination that slips into the twin's queue
    /// between the check and the `connect`, or one of a flooded twin, is taken as the new
    /// destination's: the same party's, sent before it moved.
    #[cold]
    fn move_twin(&mut self, tok: usize, dest: SocketAddr) {
        let t = &mut self.twins[tok];
        t.count = t.count.saturating_add(1);
        let Some(sock) = &t.sock else {
            return;
        };
        let busy = queued(t.orig) || queued(sock.as_raw_fd());
        // The previous move's receive must have ended first (its source is remembered once).
        if t.old.is_some() || (busy && t.count < TWIN_MOVE + ARM_ROUNDS) {
            return;
        }
        if let (Some(old_dest), gen @ 1..) = (t.dest, t.gen) {
            t.old = Some((gen, old_dest));
            t.gen = 0;
            let e = opcode::AsyncCancel::new(ud(TAG_TWIN, gen, tok as u32))
                .build()
                .user_data(ud(TAG_CANCEL, 0, 0));
            // Cancelled before the `connect`, so that it takes nothing from the new source.
            if let Err(e) = self.push(&e).and_then(|()| self.submit_now()) {
                tracing::debug!("io_uring: cannot move a connected twin: {e}");
                self.drop_twin(tok);
                return;
            }
        }
        let t = &mut self.twins[tok];
        let Some(sock) = &t.sock else {
            return;
        };
        match socket2::SockRef::from(sock).connect(&dest.into()) {
            Ok(()) => {
                t.dest = Some(dest);
                t.count = 0;
                t.rounds = 0;
                self.twins_waiting.push(tok);
            }
            Err(e) => {
                tracing::debug!(%dest, "io_uring: cannot move a connected twin: {e}");
                self.drop_twin(tok);
            }
        }
    }

    /// Makes token `tok`'s twin, connected to `dest`. Its receive waits for
    /// [`Uring::arm_twins`].
    #[cold]
    fn make_twin(&mut self, tok: usize, fd: RawFd, dest: SocketAddr) {
        if self.gens.get(tok).is_none_or(|&g| g == 0) {
            return;
        }
        // SAFETY: `fd` is the armed socket of `tok`, open for the duration of this call.
        let orig = unsafe { BorrowedFd::borrow_raw(fd) };
        let sock = match crate::media::ports::connected_twin(orig, dest) {
            Ok(s) if s.as_raw_fd() < self.twin_fd_max => s,
            Ok(_) => {
                tracing::debug!("io_uring: no connected twin (open-file budget)");
                self.twins[tok].count = TWIN_RETRY;
                return;
            }
            Err(e) => {
                tracing::debug!(%dest, "io_uring: no connected twin: {e}");
                self.twins[tok].count = TWIN_RETRY;
                return;
            }
        };
        let file = self.register_file(sock.as_raw_fd());
        self.twins[tok] = Twin {
            sock: Some(sock),
            dest: Some(dest),
            orig: fd,
            file,
            ..Twin::default()
        };
        self.twins_waiting.push(tok);
    }

    /// Whether a new twin waits for its receive (the loop should not sleep long).
    pub(super) fn twins_waiting(&self) -> bool {
        !self.twins_waiting.is_empty()
    }

    /// Arms the receive of each new twin whose socket has nothing queued any more (or that
    /// waited [`ARM_ROUNDS`]). Called after a round's completions were handled: the socket's
    /// datagrams from before the twin's `connect` have then all completed, and the twin's,
    /// all sent after, complete after them.
    pub(super) fn arm_twins(&mut self) {
        let mut i = 0;
        while i < self.twins_waiting.len() {
            let tok = self.twins_waiting[i];
            let Some(t) = self.twins.get_mut(tok) else {
                self.twins_waiting.swap_remove(i);
                continue;
            };
            let (Some(target), 0) = (t.target(), t.gen) else {
                // Closed (or armed) meanwhile.
                self.twins_waiting.swap_remove(i);
                continue;
            };
            t.rounds += 1;
            if queued(t.orig) && t.rounds < ARM_ROUNDS {
                i += 1;
                continue;
            }
            self.twins_waiting.swap_remove(i);
            self.gen = (self.gen % 0xff_ffff) + 1;
            let gen = self.gen;
            self.twins[tok].gen = gen;
            if let Err(e) = self.push_twin_recv(target, ud(TAG_TWIN, gen, tok as u32)) {
                tracing::debug!("io_uring: cannot receive on a connected twin: {e}");
                self.drop_twin(tok);
            }
        }
    }

    /// A twin receive that ended (`res`: its result): armed again if it only ran out of
    /// buffers; else (an error: a connected socket reports ICMP errors) the twin is dropped.
    pub(super) fn twin_recv_ended(&mut self, tok: usize, gen: u32, res: i32) {
        // The receive a move cancelled has ended: nothing more comes from the old source.
        if let Some(t) = self.twins.get_mut(tok) {
            if t.old.is_some_and(|(g, _)| g == gen) {
                t.old = None;
                return;
            }
        }
        let again = match self.twins.get(tok).and_then(Twin::target) {
            Some(t) if res == -libc::ENOBUFS => self
                .push_twin_recv(t, ud(TAG_TWIN, gen, tok as u32))
                .is_ok(),
            _ => false,
        };
        if !again {
            tracing::debug!(
                "connected twin closed: {}",
                io::Error::from_raw_os_error(-res.min(0))
            );
            self.drop_twin(tok);
        }
    }

    /// Closes token `tok`'s twin and waits [`TWIN_RETRY`] sends before making another.
    fn drop_twin(&mut self, tok: usize) {
        self.close_twin(tok);
        if let Some(t) = self.twins.get_mut(tok) {
            t.count = TWIN_RETRY;
        }
    }

    /// Closes token `tok`'s twin, if it has one (its receive cancelled first).
    pub(super) fn close_twin(&mut self, tok: usize) {
        let Some(t) = self.twins.get_mut(tok) else {
            return;
        };
        let t = std::mem::take(t);
        if t.gen != 0 {
            let e = opcode::AsyncCancel::new(ud(TAG_TWIN, t.gen, tok as u32))
                .build()
                .user_data(ud(TAG_CANCEL, 0, 0));
            if let Err(e) = self.push(&e) {
                tracing::error!("io_uring: cannot cancel a twin's receive: {e}");
            }
        }
        self.unregister_file(t.file);
        // The socket closes here; a request still using it holds its own reference.
        drop(t.sock);
    }

    /// Where a datagram of token `tok`'s twin receive `gen` came from: where the twin was
    /// connected while that receive ran.
    pub(super) fn twin_source(&self, tok: usize, gen: u32) -> Option<SocketAddr> {
        let t = self.twins.get(tok)?;
        if t.gen == gen {
            return t.dest;
        }
        t.old.filter(|(g, _)| *g == gen).map(|(_, d)| d)
    }

    /// Whether a receive completion of token `tok` with generation `gen` is current (`twin`:
    /// one of the token's twin).
    pub(super) fn live(&self, tok: usize, gen: u32, twin: bool) -> bool {
        gen != 0
            && if twin {
                self.twins
                    .get(tok)
                    .is_some_and(|t| t.gen == gen || t.old.is_some_and(|(g, _)| g == gen))
            } else {
                self.gens.get(tok) == Some(&gen)
            }
    }
}

/// Whether socket `fd` has a datagram queued (an error counts as none).
fn queued(fd: RawFd) -> bool {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; `fd` is open (see `Twin::orig`).
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    r == 0 && n > 0
}
