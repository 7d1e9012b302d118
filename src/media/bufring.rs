//! An io_uring provided-buffer ring (the entries shared with the kernel and the buffers behind
//! them) and the `recvmsg` source-address reader: shared by the media worker's io_uring engine
//! and the bench's io_uring floor relay.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types;

/// `nbuf` buffers of `buf_size` bytes each, all handed to the kernel at creation. Register it
/// with `register_buf_ring_with_flags(ring.entries_addr(), ring.count(), group, 0)`; the
/// io_uring must be closed (or the ring unregistered) before this is dropped.
pub struct BufRing {
    entries: *mut types::BufRingEntry,
    map_len: usize,
    bufs: Vec<u8>,
    tail: u16,
    nbuf: usize,
    buf_size: usize,
}

impl BufRing {
    /// `nbuf` must be a power of two no larger than 32768.
    pub fn new(nbuf: usize, buf_size: usize) -> io::Result<BufRing> {
        if !nbuf.is_power_of_two() || nbuf > 1 << 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer count must be a power of two up to 32768",
            ));
        }
        let map_len = nbuf * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: an anonymous private mapping; checked for failure below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut r = BufRing {
            entries: p as *mut types::BufRingEntry,
            map_len,
            bufs: vec![0u8; nbuf * buf_size],
            tail: 0,
            nbuf,
            buf_size,
        };
        for bid in 0..nbuf as u16 {
            r.give(bid);
        }
        r.publish();
        Ok(r)
    }

    /// The ring's address, for registration.
    pub fn entries_addr(&self) -> u64 {
        self.entries as u64
    }

    /// The number of buffers, for registration.
    pub fn count(&self) -> u16 {
        self.nbuf as u16
    }

    /// Hands buffer `bid` back (the kernel sees it after [`publish`](Self::publish)).
    pub fn give(&mut self, bid: u16) {
        if usize::from(bid) >= self.nbuf {
            return;
        }
        let i = usize::from(self.tail) & (self.nbuf - 1);
        // SAFETY: `entries` maps nbuf entries and i < nbuf; the kernel reads only the entries
        // between its head and the published tail, and this one is past the tail.
        let e = unsafe { &mut *self.entries.add(i) };
        let off = usize::from(bid) * self.buf_size;
        e.set_addr(self.bufs[off..].as_mut_ptr() as u64);
        e.set_len(self.buf_size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    pub fn publish(&self) {
        // SAFETY: the tail field lies in the mapped first entry; the kernel reads it with
        // acquire semantics.
        unsafe {
            let tail = types::BufRingEntry::tail(self.entries) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The first `len` bytes of buffer `bid`.
    pub fn buf(&self, bid: u16, len: usize) -> &[u8] {
        let off = usize::from(bid).min(self.nbuf - 1) * self.buf_size;
        &self.bufs[off..off + len.min(self.buf_size)]
    }

    /// The first `len` bytes of buffer `bid`, to write into: only while the kernel does not
    /// own it (received from and not given back yet).
    pub fn buf_mut(&mut self, bid: u16, len: usize) -> &mut [u8] {
        let off = usize::from(bid).min(self.nbuf - 1) * self.buf_size;
        &mut self.bufs[off..off + len.min(self.buf_size)]
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.buf_size
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what `new` mapped; the owner closes the io_uring that
        // used it first.
        unsafe { libc::munmap(self.entries as *mut libc::c_void, self.map_len) };
    }
}

/// The socket address a `recvmsg` wrote (IPv4 or IPv6).
pub fn parse_sockaddr(b: &[u8]) -> Option<SocketAddr> {
    if b.len() < 2 {
        return None;
    }
    let family = i32::from(u16::from_ne_bytes([b[0], b[1]]));
    let port = || u16::from_be_bytes([b[2], b[3]]);
    if family == libc::AF_INET && b.len() >= 8 {
        Some(SocketAddr::from(([b[4], b[5], b[6], b[7]], port())))
    } else if family == libc::AF_INET6 && b.len() >= 24 {
        let mut ip = [0u8; 16];
        ip.copy_from_slice(&b[8..24]);
        Some(SocketAddr::from((ip, port())))
    } else {
        None
    }
}

/// Writes `a` into `out` as the kernel takes a destination address; returns its length. The
/// per-packet form of `socket2::SockAddr::from`, which builds a whole `sockaddr_storage` first.
pub fn write_sockaddr(a: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    let p = out as *mut libc::sockaddr_storage;
    match a {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a sockaddr_storage is larger than and aligned for a sockaddr_in.
            unsafe { p.cast::<libc::sockaddr_in>().write(sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo().to_be(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: a sockaddr_storage is larger than and aligned for a sockaddr_in6.
            unsafe { p.cast::<libc::sockaddr_in6>().write(sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}
