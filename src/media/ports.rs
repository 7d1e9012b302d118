//! The port pool: hands out even/odd RTP/RTCP port pairs (or single ports for rtcp-mux) from the
//! configured range, per local address, and takes them back when a call lets go of them.
//!
//! Ports are handed out round-robin from a free queue and returned to its back, so a port that
//! was just released is the last to be reused (stray packets of an old call rarely reach a new
//! one). A port that cannot be bound (taken by another process) is skipped and tried again later.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::BorrowedFd;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("no free ports left in the range {0}-{1}")]
    Exhausted(u16, u16),
}

/// Free ports of one local address.
#[derive(Debug)]
pub struct PortPool {
    min: u16,
    max: u16,
    /// Even port numbers whose pair (port, port+1) is free, in hand-out order.
    free: VecDeque<u16>,
    in_use: HashSet<u16>,
    /// Pairs whose sockets a worker kept open after their call ended ("warm"), per worker,
    /// in the order they were parked: (port, the parked leg's id). Reusing them saves the
    /// control plane and the worker six system calls per socket.
    warm: Vec<VecDeque<(u16, u64)>>,
}

/// Bound sockets of one allocation. `rtcp` is `None` for a single-port (rtcp-mux) allocation.
#[derive(Debug)]
pub struct Allocation {
    pub rtp: UdpSocket,
    pub rtcp: Option<UdpSocket>,
    /// The even base port (the RTP port).
    pub port: u16,
}

impl PortPool {
    pub fn new(min: u16, max: u16) -> PortPool {
        let first = if min.is_multiple_of(2) {
            min
        } else {
            min.saturating_add(1)
        };
        let mut free = VecDeque::new();
        let mut p = first as u32;
        while p < max as u32 {
            free.push_back(p as u16);
            p += 2;
        }
        PortPool {
            min,
            max,
            free,
            in_use: HashSet::new(),
            warm: Vec::new(),
        }
    }

    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    pub fn used_count(&self) -> usize {
        self.in_use.len()
    }

    /// Binds an even port and, with `with_rtcp`, the odd port above it, on `addr`.
    pub fn allocate(&mut self, addr: IpAddr, with_rtcp: bool) -> Result<Allocation, PortError> {
        let tries = self.free.len();
        for _ in 0..tries {
            let Some(port) = self.free.pop_front() else {
                break;
            };
            match bind_pair(addr, port, with_rtcp) {
                Ok((rtp, rtcp)) => {
                    self.in_use.insert(port);
                    return Ok(Allocation { rtp, rtcp, port });
                }
                Err(_) => self.free.push_back(port),
            }
        }
        Err(PortError::Exhausted(self.min, self.max))
    }

    /// Like [`allocate`](Self::allocate), trying `port` first (ICE binds a leg's port number
    /// on every interface address when it can).
    pub fn allocate_preferring(
        &mut self,
        addr: IpAddr,
        port: u16,
        with_rtcp: bool,
    ) -> Result<Allocation, PortError> {
        if let Some(i) = self.free.iter().position(|&p| p == port) {
            if let Ok((rtp, rtcp)) = bind_pair(addr, port, with_rtcp) {
                self.free.remove(i);
                self.in_use.insert(port);
                return Ok(Allocation { rtp, rtcp, port });
            }
        }
        self.allocate(addr, with_rtcp)
    }

    /// Pairs parked at `worker`.
    pub fn warm_count(&self, worker: usize) -> usize {
        self.warm.get(worker).map_or(0, VecDeque::len)
    }

    /// Takes the pair parked longest ago at `worker`, if more than `distance` pairs were
    /// parked there after it: (port, the parked leg's id). The distance keeps a port from
    /// serving the next call while its last call's parties may still be sending to it.
    pub fn take_warm(&mut self, worker: usize, distance: usize) -> Option<(u16, u64)> {
        let q = self.warm.get_mut(worker)?;
        if q.len() <= distance {
            return None;
        }
        let (port, id) = q.pop_front()?;
        self.in_use.insert(port);
        Some((port, id))
    }

    /// Takes the pair parked longest ago at any worker (to close it: the range is exhausted).
    pub fn take_any_warm(&mut self) -> Option<(usize, u16, u64)> {
        let (w, q) = self
            .warm
            .iter_mut()
            .enumerate()
            .filter(|(_, q)| !q.is_empty())
            .max_by_key(|(_, q)| q.len())?;
        let (port, id) = q.pop_front()?;
        Some((w, port, id))
    }

    /// A pair in use whose sockets `worker` keeps open as leg `id` for the next call.
    pub fn park(&mut self, port: u16, worker: usize, id: u64) {
        if self.in_use.remove(&port) {
            if self.warm.len() <= worker {
                self.warm.resize_with(worker + 1, VecDeque::new);
            }
            self.warm[worker].push_back((port, id));
        }
    }

    /// A pair taken with [`take_any_warm`](Self::take_any_warm) whose sockets are closed now.
    pub fn closed_warm(&mut self, port: u16) {
        self.free.push_back(port);
    }

    /// Returns a pair to the pool. Unknown ports are ignored.
    pub fn release(&mut self, port: u16) {
        if self.in_use.remove(&port) {
            self.free.push_back(port);
        }
    }
}

/// A non-blocking UDP socket for `addr`'s family, not bound yet.
fn new_udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    // Non-blocking from the start: one syscall less than setting it afterwards (a port pair
    // per leg, several legs per call, so the control plane's cost per call counts these).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let s = Socket::new(domain, Type::DGRAM.nonblocking(), Some(Protocol::UDP))?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let s = {
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_nonblocking(true)?;
        s
    };
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    Ok(s)
}

/// Binds a non-blocking UDP socket (IPv6 sockets are IPv6-only), optionally with larger kernel
/// buffers. Used for media sockets and the NG control socket alike.
pub fn bind_udp(addr: SocketAddr, buffer: Option<usize>) -> io::Result<UdpSocket> {
    let s = new_udp_socket(addr)?;
    if let Some(size) = buffer {
        let _ = s.set_recv_buffer_size(size);
        let _ = s.set_send_buffer_size(size);
    }
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Media sockets see bursts; a larger buffer absorbs them without loss.
const MEDIA_SOCKET_BUFFER: usize = 1 << 20;

/// Which of the two buffer sizes a media socket must set: asking for
/// [`MEDIA_SOCKET_BUFFER`] is a wasted syscall (two per socket, four sockets per call) where the
/// system default (`net.core.rmem_default`/`wmem_default`) already gives a socket at least
/// as much as the request would. Probed once, on a throwaway socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BufferPlan {
    recv: bool,
    send: bool,
}

fn media_buffer_plan() -> BufferPlan {
    static PLAN: std::sync::OnceLock<BufferPlan> = std::sync::OnceLock::new();
    *PLAN.get_or_init(|| probe_buffer_plan(MEDIA_SOCKET_BUFFER))
}

fn probe_buffer_plan(size: usize) -> BufferPlan {
    let probe = || Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP));
    let (Ok(default), Ok(asked)) = (probe(), probe()) else {
        return BufferPlan {
            recv: true,
            send: true,
        };
    };
    let _ = asked.set_recv_buffer_size(size);
    let _ = asked.set_send_buffer_size(size);
    // Any error: set it, as before.
    let needed = |d: io::Result<usize>, a: io::Result<usize>| match (d, a) {
        (Ok(d), Ok(a)) => d < a,
        _ => true,
    };
    BufferPlan {
        recv: needed(default.recv_buffer_size(), asked.recv_buffer_size()),
        send: needed(default.send_buffer_size(), asked.send_buffer_size()),
    }
}

/// An unbound media socket for `addr`'s family, with the media buffer sizes.
fn media_socket(addr: SocketAddr) -> io::Result<Socket> {
    let plan = media_buffer_plan();
    let s = new_udp_socket(addr)?;
    if plan.recv {
        let _ = s.set_recv_buffer_size(MEDIA_SOCKET_BUFFER);
    }
    if plan.send {
        let _ = s.set_send_buffer_size(MEDIA_SOCKET_BUFFER);
    }
    Ok(s)
}

fn bind_one(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = media_socket(addr)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// A second socket on `orig`'s address and port, connected to `dest` (a "connected twin").
/// From then on the kernel delivers what `dest` sends to that port on the twin (a connected
/// socket's exact match wins over the bound one) and everything else still on `orig`; a send
/// through the twin reuses the route cached at `connect` instead of looking one up, and takes
/// its IP ID from a per-socket counter instead of hashing one.
///
/// Two sockets share a port only if both have `SO_REUSEPORT` when the second binds (and the
/// kernel allows that only within one user). It is set on `orig` just for the twin's `bind`
/// and cleared on both sockets afterwards, so no later socket can bind the port, as before.
pub fn connected_twin(orig: BorrowedFd<'_>, dest: SocketAddr) -> io::Result<UdpSocket> {
    let orig = SockRef::from(&orig);
    let local = orig
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("media socket without an IP address"))?;
    if local.is_ipv4() != dest.is_ipv4() {
        return Err(io::Error::other("destination of another address family"));
    }
    let twin = media_socket(local)?;
    twin.set_reuse_port(true)?;
    orig.set_reuse_port(true)?;
    let bound = twin.bind(&local.into());
    // Cleared whatever the bind did: `orig` goes back to a port of its own.
    orig.set_reuse_port(false)?;
    bound?;
    twin.set_reuse_port(false)?;
    twin.connect(&dest.into())?;
    Ok(twin.into())
}

fn bind_pair(
    addr: IpAddr,
    port: u16,
    with_rtcp: bool,
) -> io::Result<(UdpSocket, Option<UdpSocket>)> {
    let rtp = bind_one(SocketAddr::new(addr, port))?;
    let rtcp = if with_rtcp {
        Some(bind_one(SocketAddr::new(addr, port + 1))?)
    } else {
        None
    };
    Ok((rtp, rtcp))
}

/// The process's open-file limits (`RLIMIT_NOFILE`).
fn nofile() -> io::Result<libc::rlimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed in.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

/// The process's current (soft) limit on open files.
pub fn fd_limit() -> io::Result<libc::rlim_t> {
    nofile().map(|l| l.rlim_cur)
}

/// Raises the process's open-file limit to its hard limit (every call holds four or more
/// sockets, and ports kept open between calls hold theirs; a default soft limit of 1024 would
/// stop a server at about 250 calls). Returns the (soft) limit now in force.
pub fn raise_fd_limit() -> io::Result<libc::rlim_t> {
    let lim = nofile()?;
    if lim.rlim_cur < lim.rlim_max {
        let want = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the struct passed in.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // The soft limit is now the hard one (it never exceeds it).
    Ok(lim.rlim_max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn hands_out_even_pairs_and_reuses_released_last() {
        let mut pool = PortPool::new(41001, 41010);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let a = pool.allocate(lo, true).unwrap();
        assert_eq!(a.port % 2, 0);
        assert_eq!(
            a.rtcp.as_ref().unwrap().local_addr().unwrap().port(),
            a.port + 1
        );
        let b = pool.allocate(lo, false).unwrap();
        assert!(b.rtcp.is_none());
        assert_ne!(a.port, b.port);
        let first = a.port;
        drop(a);
        pool.release(first);
        let mut seen = vec![];
        while let Ok(x) = pool.allocate(lo, true) {
            seen.push(x.port);
            std::mem::forget(x.rtp);
        }
        assert_eq!(
            seen.last(),
            Some(&first),
            "released port is handed out last"
        );
    }

    #[test]
    fn media_sockets_get_at_least_the_buffers_asked_for() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut pool = PortPool::new(41301, 41310);
        let a = pool.allocate(lo, true).unwrap();
        let asked = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        let _ = asked.set_recv_buffer_size(MEDIA_SOCKET_BUFFER);
        let _ = asked.set_send_buffer_size(MEDIA_SOCKET_BUFFER);
        for s in [&a.rtp, a.rtcp.as_ref().unwrap()] {
            let s = socket2::SockRef::from(s);
            assert!(s.recv_buffer_size().unwrap() >= asked.recv_buffer_size().unwrap());
            assert!(s.send_buffer_size().unwrap() >= asked.send_buffer_size().unwrap());
            assert!(s.nonblocking().unwrap());
        }
    }

    #[test]
    fn buffer_sizes_the_default_already_exceeds_are_not_set() {
        // Any default beats a request for one byte (the kernel's minimum is larger).
        assert_eq!(
            probe_buffer_plan(1),
            BufferPlan {
                recv: false,
                send: false
            }
        );
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let now = raise_fd_limit().expect("getrlimit");
        let lim = nofile().expect("getrlimit");
        assert_eq!(
            lim.rlim_cur, lim.rlim_max,
            "soft limit raised to the hard one"
        );
        assert_eq!(now, lim.rlim_cur);
    }

    #[test]
    fn exhaustion_is_an_error() {
        let mut pool = PortPool::new(41101, 41103);
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let _a = pool.allocate(lo, true).unwrap();
        assert!(matches!(
            pool.allocate(lo, true),
            Err(PortError::Exhausted(..))
        ));
    }

    #[test]
    fn skips_ports_taken_by_others() {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let _squatter = UdpSocket::bind((lo, 41202)).unwrap();
        let mut pool = PortPool::new(41202, 41205);
        let a = pool.allocate(lo, true).unwrap();
        assert_eq!(a.port, 41204);
    }

    #[test]
    fn connected_twin_takes_its_peers_datagrams_and_keeps_the_port_private() {
        use std::os::fd::AsFd;
        use std::time::Duration;
        let orig = bind_one("127.0.0.1:0".parse().unwrap()).unwrap();
        let local = orig.local_addr().unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        let twin = connected_twin(orig.as_fd(), peer.local_addr().unwrap()).unwrap();
        assert_eq!(twin.local_addr().unwrap(), local);
        assert_eq!(twin.peer_addr().unwrap(), peer.local_addr().unwrap());
        for s in [&orig, &twin] {
            s.set_nonblocking(false).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            assert!(
                !SockRef::from(s).reuse_port().unwrap(),
                "SO_REUSEPORT left set"
            );
        }
        // What the peer sends reaches the twin; anyone else still reaches the bound socket.
        peer.send_to(b"from the peer", local).unwrap();
        other.send_to(b"from elsewhere", local).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = twin.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"from the peer"[..], peer.local_addr().unwrap())
        );
        let (n, from) = orig.recv_from(&mut buf).unwrap();
        assert_eq!(
            (&buf[..n], from),
            (&b"from elsewhere"[..], other.local_addr().unwrap())
        );
        // The twin sends from the shared port.
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        twin.send(b"to the peer").unwrap();
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"to the peer"[..], local));
        // Nobody else can bind the port, with or without SO_REUSEPORT.
        assert!(UdpSocket::bind(local).is_err());
        let third = new_udp_socket(local).unwrap();
        third.set_reuse_port(true).unwrap();
        assert!(
            third.bind(&local.into()).is_err(),
            "a third socket joined the port"
        );
        // A destination of the other family is refused, and the port stays as it was.
        assert!(connected_twin(orig.as_fd(), "[::1]:5000".parse().unwrap()).is_err());
        assert!(!SockRef::from(&orig).reuse_port().unwrap());
    }
}
