//! The NG control socket over UDP: the thin I/O layer around the codec, the retransmit cache and
//! the call registry. One control thread; packets never pass through here.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bencode::{self, OwnedValue};
use super::cookie_cache::CookieCache;
use super::message::{encode_reply, error_reply, split_datagram, NgError};
use super::request::parse_request;
use crate::call::Registry;
use crate::media::ports::bind_udp;

/// How long a reply is kept for retransmitted requests (rtpengine keeps them about 30 s).
pub const REPLY_CACHE_TTL: Duration = Duration::from_secs(30);

/// Handles one datagram and returns the reply datagram, if any. Sans-IO apart from the
/// registry's media plane, so tests can call it directly.
pub fn handle_datagram(
    registry: &mut Registry,
    cache: &mut CookieCache,
    datagram: &[u8],
    now: Instant,
) -> Option<Vec<u8>> {
    let (cookie, body) = match split_datagram(datagram) {
        Ok(x) => x,
        Err(NgError::NoPayload) => {
            // A cookie and nothing else: the sender can match an error reply to it.
            let cookie = datagram.strip_suffix(b" ").unwrap_or(datagram);
            return Some(encode_reply(cookie, &error_reply("Empty NG message")));
        }
        Err(e) => {
            // Without a usable cookie there is nothing the sender could match a reply to.
            tracing::warn!(len = datagram.len(), "dropping NG datagram: {e}");
            return None;
        }
    };
    if let Some(cached) = cache.get(cookie, now) {
        tracing::debug!("retransmitted NG request, sending the cached reply");
        return Some(cached.to_vec());
    }
    let reply = match bencode::decode(body) {
        Err(e) => error_reply(&format!("Failed to decode bencode: {e}")),
        Ok(value) => match value.as_dict() {
            None => error_reply("Message is not a dictionary"),
            Some(dict) => match parse_request(dict) {
                Err(e) => error_reply(&e.to_string()),
                Ok(req) => {
                    for w in &req.warnings {
                        tracing::warn!(call_id = req.call_id.as_deref().unwrap_or(""), "{w}");
                    }
                    match registry.handle(&req, now) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(
                                call_id = req.call_id.as_deref().unwrap_or(""),
                                "NG command failed: {e}"
                            );
                            error_reply(&e.to_string())
                        }
                    }
                }
            },
        },
    };
    let out = encode_reply(cookie, &reply);
    cache.insert(cookie.to_vec(), out.clone(), now);
    Some(out)
}

pub struct UdpControl {
    socks: Vec<mio::net::UdpSocket>,
    poll: mio::Poll,
    cache: CookieCache,
}

impl UdpControl {
    /// Binds every given address (rtpengine binds both 0.0.0.0 and :: for a bare port).
    pub fn bind(addrs: &[SocketAddr]) -> io::Result<UdpControl> {
        let poll = mio::Poll::new()?;
        let mut socks = Vec::new();
        for (i, a) in addrs.iter().enumerate() {
            let mut s = mio::net::UdpSocket::from_std(bind_udp(*a, None)?);
            poll.registry()
                .register(&mut s, mio::Token(i), mio::Interest::READABLE)?;
            socks.push(s);
        }
        Ok(UdpControl {
            socks,
            poll,
            cache: CookieCache::new(REPLY_CACHE_TTL, 100_000),
        })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.socks
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// Serves requests until `stop` is set; runs the registry's timers about once a second.
    pub fn run(&mut self, registry: &mut Registry, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65536];
        let mut events = mio::Events::with_capacity(64);
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(200)))
            {
                if e.kind() != io::ErrorKind::Interrupted {
                    tracing::error!("NG poll failed: {e}");
                    return;
                }
            }
            for ev in events.iter() {
                let Some(sock) = self.socks.get(ev.token().0) else {
                    continue;
                };
                loop {
                    let (n, from) = match sock.recv_from(&mut buf) {
                        Ok(x) => x,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            tracing::warn!("NG socket receive error: {e}");
                            continue;
                        }
                    };
                    let now = Instant::now();
                    if let Some(reply) = handle_datagram(registry, &mut self.cache, &buf[..n], now)
                    {
                        if let Err(e) = sock.send_to(&reply, from) {
                            tracing::warn!(%from, "cannot send NG reply: {e}");
                        }
                    }
                }
            }
            let now = Instant::now();
            if now.duration_since(last_tick) >= Duration::from_secs(1) {
                last_tick = now;
                registry.tick(now);
                self.cache.expire(now);
            }
        }
    }
}

/// Builds the `{"result":"pong"}` reply; used by health checks.
pub fn pong() -> OwnedValue {
    OwnedValue::dict().with("result", OwnedValue::str("pong"))
}

/// Installs SIGTERM/SIGINT handlers that set the returned flag.
pub fn stop_flag() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, stop.clone())?;
    Ok(stop)
}
