//! Batched datagram I/O for the NG socket: one `recvmmsg` takes every queued request (up to
//! [`BATCH`]) and one `sendmmsg` sends the replies handled together. With a SIP proxy keeping
//! many requests outstanding this saves a system call, and the proxy a wake-up, per request.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::SockAddr;

/// Datagrams per `recvmmsg`.
pub const BATCH: usize = 32;

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65536;

/// Receive buffers for one `recvmmsg`: [`BATCH`] datagrams of up to 64 KiB each. The memory
/// is only touched as far as datagrams fill it.
pub struct RecvBatch {
    bufs: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: [usize; BATCH],
    addr_lens: [libc::socklen_t; BATCH],
    n: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![0u8; BATCH * MAX_DATAGRAM],
            // SAFETY: an all-zero sockaddr_storage is a valid (AF_UNSPEC) value.
            addrs: vec![unsafe { std::mem::zeroed() }; BATCH],
            lens: [0; BATCH],
            addr_lens: [0; BATCH],
            n: 0,
        }
    }
}

impl RecvBatch {
    /// Receives what is queued on `sock` (non-blocking): the number of datagrams, 0 when
    /// nothing was (WouldBlock).
    pub fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        self.n = 0;
        // SAFETY: all-zero iovec/mmsghdr values are valid; every pointer set below refers
        // to buffers owned by `self` that outlive the call.
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (i, (iov, hdr)) in iov.iter_mut().zip(hdrs.iter_mut()).enumerate() {
            iov.iov_base = self.bufs[i * MAX_DATAGRAM..].as_mut_ptr() as *mut libc::c_void;
            iov.iov_len = MAX_DATAGRAM;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
            hdr.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
        }
        // SAFETY: see above; the kernel writes at most iov_len bytes and msg_namelen bytes.
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        self.n = r as usize;
        for (i, hdr) in hdrs.iter().take(self.n).enumerate() {
            self.lens[i] = hdr.msg_len as usize;
            self.addr_lens[i] = hdr.msg_hdr.msg_namelen;
        }
        Ok(self.n)
    }

    /// Datagram `i` of the last [`recv`](Self::recv) and its source (None: not an IP
    /// address).
    pub fn get(&self, i: usize) -> Option<(&[u8], Option<SocketAddr>)> {
        if i >= self.n {
            return None;
        }
        let data = &self.bufs[i * MAX_DATAGRAM..i * MAX_DATAGRAM + self.lens[i].min(MAX_DATAGRAM)];
        // SAFETY: the kernel filled addrs[i] and said how many bytes of it are valid.
        let addr = unsafe { SockAddr::new(self.addrs[i], self.addr_lens[i]) };
        Some((data, addr.as_socket()))
    }
}

/// Replies waiting for one `sendmmsg` per socket.
#[derive(Default)]
pub struct Outbox {
    data: Vec<u8>,
    /// (socket index, destination, end of its bytes in `data`)
    items: Vec<(usize, SockAddr, usize)>,
}

impl Outbox {
    pub fn push(&mut self, sock: usize, to: SocketAddr, reply: &[u8]) {
        self.data.extend_from_slice(reply);
        self.items.push((sock, SockAddr::from(to), self.data.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sends everything queued, each reply from the socket at its index in `socks`, and
    /// empties the box. Failed datagrams are logged and skipped.
    pub fn flush<S: AsRawFd>(&mut self, socks: &[S]) {
        let mut start = 0;
        let mut i = 0;
        while i < self.items.len() {
            let sock = self.items[i].0;
            // A run of replies from the same socket, at most BATCH.
            let mut j = i;
            while j < self.items.len() && self.items[j].0 == sock && j - i < BATCH {
                j += 1;
            }
            let first = start;
            let end = self.items[j - 1].2;
            if let Some(s) = socks.get(sock) {
                send_run(s.as_raw_fd(), &self.data, first, &self.items[i..j]);
            }
            start = end;
            i = j;
        }
        self.items.clear();
        self.data.clear();
    }
}

/// One `sendmmsg` (repeated for what the kernel did not take) for `items`, whose bytes
/// start at `first` in `data`.
fn send_run(fd: libc::c_int, data: &[u8], first: usize, items: &[(usize, SockAddr, usize)]) {
    // SAFETY: all-zero iovec/mmsghdr values are valid; the pointers set below refer to
    // `data` and `items`, which outlive the calls.
    let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    let n = items.len().min(BATCH);
    let mut start = first;
    for k in 0..n {
        let (_, addr, end) = &items[k];
        iov[k].iov_base = data[start..].as_ptr() as *mut libc::c_void;
        iov[k].iov_len = end - start;
        hdrs[k].msg_hdr.msg_name = addr.as_ptr() as *mut libc::c_void;
        hdrs[k].msg_hdr.msg_namelen = addr.len();
        hdrs[k].msg_hdr.msg_iov = &mut iov[k];
        hdrs[k].msg_hdr.msg_iovlen = 1;
        start = *end;
    }
    let mut off = 0;
    while off < n {
        // SAFETY: hdrs[off..n] are initialised above and point at live memory.
        let r =
            unsafe { libc::sendmmsg(fd, hdrs[off..].as_mut_ptr(), (n - off) as libc::c_uint, 0) };
        if r > 0 {
            off += r as usize;
            continue;
        }
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        // The datagram at `off` failed (a full buffer or an error from an earlier ICMP):
        // skip it, as a failed sendto would.
        let to = items[off].1.as_socket();
        tracing::warn!(?to, "cannot send NG reply: {e}");
        off += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn batches_round_trip_with_sources_and_order() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.set_nonblocking(true).unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = server.local_addr().unwrap();
        let mut rx = RecvBatch::default();
        assert_eq!(rx.recv(&server).unwrap(), 0, "nothing queued");
        for i in 0..40u8 {
            let s = if i % 2 == 0 { &a } else { &b };
            s.send_to(&vec![i; 1 + i as usize * 100], to).unwrap();
        }
        let mut seen = Vec::new();
        let mut out = Outbox::default();
        loop {
            let n = rx.recv(&server).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= BATCH);
            for i in 0..n {
                let (d, from) = rx.get(i).unwrap();
                let from = from.unwrap();
                assert_eq!(d.len(), 1 + d[0] as usize * 100);
                let want = if d[0] % 2 == 0 { &a } else { &b };
                assert_eq!(from, want.local_addr().unwrap());
                seen.push(d[0]);
                out.push(0, from, &d[..1]);
            }
            assert!(rx.get(n).is_none());
        }
        assert_eq!(seen, (0..40).collect::<Vec<u8>>());
        out.flush(std::slice::from_ref(&server));
        assert!(out.is_empty());
        for s in [&a, &b] {
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            for _ in 0..20 {
                let (n, from) = s.recv_from(&mut buf).unwrap();
                assert_eq!((n, from), (1, to));
                got.push(buf[0]);
            }
            let parity = if std::ptr::eq(s, &a) { 0 } else { 1 };
            let want: Vec<u8> = (0..40).filter(|i| i % 2 == parity).collect();
            assert_eq!(got, want, "replies arrive in order");
        }
    }
}
