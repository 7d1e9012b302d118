//! A pipelining NG client: keeps up to `window` requests outstanding, matches replies by
//! cookie, retransmits (same cookie) after a timeout. Drives call setup, teardown and the
//! control-plane benchmark.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::dtls::sdes::{self, CryptoAttribute, FormatOptions};
use crate::dtls::srtp::SrtpProfile;
use crate::ng::bencode::{self, Dict, OwnedValue, Value};

use super::BenchError;

/// How many times a request is sent before the run gives up.
pub const MAX_TRIES: u32 = 5;

/// One multi-step job (e.g. offer, answer, delete of one call): the pipeline asks for step
/// `n + 1` once the reply to step `n` came back.
pub trait Flow {
    /// The request body of `step` of `job`, or `None` when the job is complete.
    fn request(&mut self, job: usize, step: usize) -> Option<OwnedValue>;
    /// The reply to `step` of `job` (already checked for `result: error`).
    fn reply(&mut self, job: usize, step: usize, reply: &Dict<'_>) -> Result<(), BenchError>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineStats {
    pub jobs_completed: usize,
    /// Jobs completed before the deadline (all of them without one).
    pub jobs_in_time: usize,
    pub requests: u64,
    pub retransmits: u64,
    pub elapsed: Duration,
}

struct Pending {
    job: usize,
    step: usize,
    sent: Instant,
    tries: u32,
    datagram: Vec<u8>,
}

pub struct NgClient {
    sock: UdpSocket,
    prefix: String,
    next: u64,
    pub retransmit_after: Duration,
}

impl NgClient {
    pub fn connect(server: SocketAddr) -> Result<NgClient, BenchError> {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0"
                .parse()
                .map_err(|_| BenchError::Usage("bind".into()))?
        } else {
            "[::]:0"
                .parse()
                .map_err(|_| BenchError::Usage("bind".into()))?
        };
        let sock = UdpSocket::bind(bind)?;
        // A window of outstanding requests gets its replies in bursts (deletes carry ~1.8 KB
        // of statistics); the default 212 KB buffer overflows and each lost reply stalls a
        // window slot for the retransmit timeout.
        let _ = socket2::SockRef::from(&sock).set_recv_buffer_size(4 << 20);
        sock.connect(server)?;
        sock.set_read_timeout(Some(Duration::from_millis(5)))?;
        Ok(NgClient {
            sock,
            prefix: format!("{}_{}", std::process::id(), rand::random::<u32>()),
            next: 0,
            retransmit_after: Duration::from_millis(1000),
        })
    }

    fn cookie(&mut self) -> String {
        self.next += 1;
        format!("{}_{}", self.prefix, self.next)
    }

    /// One request, waiting for its reply.
    pub fn request(&mut self, body: &OwnedValue) -> Result<OwnedValue, BenchError> {
        struct One<'b> {
            body: &'b OwnedValue,
            reply: Option<OwnedValue>,
        }
        impl Flow for One<'_> {
            fn request(&mut self, _: usize, step: usize) -> Option<OwnedValue> {
                (step == 0).then(|| self.body.clone())
            }
            fn reply(&mut self, _: usize, _: usize, r: &Dict<'_>) -> Result<(), BenchError> {
                self.reply = Some(OwnedValue::from(Value::Dict(r.clone())));
                Ok(())
            }
        }
        let mut one = One { body, reply: None };
        self.pipeline(&mut one, 1, 1, None)?;
        one.reply.ok_or_else(|| BenchError::Ng("no reply".into()))
    }

    /// Runs `jobs` jobs of `flow` with at most `window` requests outstanding. With a
    /// `deadline`, no job starts after it (the ones running finish).
    pub fn pipeline(
        &mut self,
        flow: &mut dyn Flow,
        jobs: usize,
        window: usize,
        deadline: Option<Instant>,
    ) -> Result<PipelineStats, BenchError> {
        let start = Instant::now();
        let window = window.max(1);
        let mut stats = PipelineStats::default();
        let mut pending: HashMap<String, Pending> = HashMap::new();
        let mut next_job = 0;
        let mut buf = vec![0u8; 65536];
        let mut last_scan = start;
        loop {
            let now = Instant::now();
            let may_start = deadline.is_none_or(|d| now < d);
            while pending.len() < window && next_job < jobs && may_start {
                let job = next_job;
                next_job += 1;
                match flow.request(job, 0) {
                    Some(body) => self.send(&mut pending, &mut stats, job, 0, &body)?,
                    None => {
                        stats.jobs_completed += 1;
                        stats.jobs_in_time += 1;
                    }
                }
            }
            if pending.is_empty() && (next_job >= jobs || !may_start) {
                break;
            }
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let Some(d) = buf.get(..n) else { continue };
                    let Some(sp) = d.iter().position(|&b| b == b' ') else {
                        continue;
                    };
                    let cookie = String::from_utf8_lossy(&d[..sp]).into_owned();
                    let Some(p) = pending.remove(&cookie) else {
                        continue; // a late duplicate
                    };
                    let dict = match bencode::decode(&d[sp + 1..]) {
                        Ok(Value::Dict(dict)) => dict,
                        _ => return Err(BenchError::Ng("undecodable reply".into())),
                    };
                    if dict.get_str("result") != Some("ok")
                        && dict.get_str("result") != Some("pong")
                    {
                        let reason = dict.get_str("error-reason").unwrap_or("(no reason)");
                        return Err(BenchError::ServerError(reason.to_string()));
                    }
                    flow.reply(p.job, p.step, &dict)?;
                    match flow.request(p.job, p.step + 1) {
                        Some(body) => {
                            self.send(&mut pending, &mut stats, p.job, p.step + 1, &body)?
                        }
                        None => {
                            stats.jobs_completed += 1;
                            if deadline.is_none_or(|d| Instant::now() < d) {
                                stats.jobs_in_time += 1;
                            }
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(BenchError::Ng(
                        "connection refused (is the server up?)".into(),
                    ))
                }
                Err(e) => return Err(e.into()),
            }
            let now = Instant::now();
            if now.duration_since(last_scan) >= Duration::from_millis(50) {
                last_scan = now;
                for p in pending.values_mut() {
                    if now.duration_since(p.sent) >= self.retransmit_after {
                        if p.tries >= MAX_TRIES {
                            return Err(BenchError::NgTimeout(p.tries));
                        }
                        p.tries += 1;
                        p.sent = now;
                        stats.retransmits += 1;
                        self.sock.send(&p.datagram)?;
                    }
                }
            }
        }
        stats.elapsed = start.elapsed();
        Ok(stats)
    }

    fn send(
        &mut self,
        pending: &mut HashMap<String, Pending>,
        stats: &mut PipelineStats,
        job: usize,
        step: usize,
        body: &OwnedValue,
    ) -> Result<(), BenchError> {
        let cookie = self.cookie();
        let mut datagram = Vec::with_capacity(cookie.len() + 256);
        datagram.extend_from_slice(cookie.as_bytes());
        datagram.push(b' ');
        body.encode(&mut datagram);
        self.sock.send(&datagram)?;
        stats.requests += 1;
        pending.insert(
            cookie,
            Pending {
                job,
                step,
                sent: Instant::now(),
                tries: 1,
                datagram,
            },
        );
        Ok(())
    }
}

/// A one-stream PCMU SDP naming `addr` as the media address.
pub fn plain_sdp(addr: SocketAddr, session: u64) -> String {
    let (fam, ip) = match addr.ip() {
        IpAddr::V4(ip) => ("IP4", ip.to_string()),
        IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    format!(
        "v=0\r\no=- {session} 1 IN {fam} {ip}\r\ns=bench\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        port = addr.port()
    )
}

/// The SRTP suite the bench offers on its SDES leg.
pub const SDES_SUITE: SrtpProfile = SrtpProfile::Aes128CmHmacSha1_80;

/// A one-stream PCMU SDP on RTP/SAVP with one `a=crypto` line (the bench's SDES leg).
pub fn sdes_sdp(addr: SocketAddr, session: u64, crypto: &CryptoAttribute) -> String {
    plain_sdp(addr, session).replace(" RTP/AVP ", " RTP/SAVP ")
        + &format!("a={}\r\n", crypto.to_attribute(FormatOptions::default()))
}

/// The `m=` protocol of the first media section.
pub fn media_proto(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("m="))
        .and_then(|m| m.split_ascii_whitespace().nth(2))
}

/// The `a=crypto` line of an SDP for `suite` (the relay's key for the bench's SDES leg).
pub fn answer_crypto(sdp: &str, suite: SrtpProfile) -> Result<CryptoAttribute, BenchError> {
    let values = sdp
        .lines()
        .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"));
    let (lines, _) = sdes::parse_all(values);
    lines
        .into_iter()
        .find(|c| c.suite == suite)
        .ok_or_else(|| BenchError::Sdp(format!("no a=crypto line for {suite} in the answer")))
}

/// The media address of the (first) audio stream of an SDP: the last `c=` before the end
/// of the first `m=` section, and that section's port.
pub fn media_addr(sdp: &str) -> Result<SocketAddr, BenchError> {
    let mut ip: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    for line in sdp.lines() {
        let line = line.trim_end();
        if let Some(c) = line.strip_prefix("c=") {
            let a = c.split_ascii_whitespace().nth(2);
            ip = a.and_then(|a| a.split('/').next()?.parse().ok()).or(ip);
        } else if let Some(m) = line.strip_prefix("m=") {
            if port.is_some() {
                break;
            }
            port = m
                .split_ascii_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok());
        }
    }
    match (ip, port) {
        (Some(ip), Some(port)) => Ok(SocketAddr::new(ip, port)),
        _ => Err(BenchError::Sdp(format!("no c=/m= address in {sdp:?}"))),
    }
}

/// The request bodies of one plain call: offer from `a`, answer from `b`, delete.
pub fn offer(call_id: &str, sdp: &str) -> OwnedValue {
    OwnedValue::dict()
        .with("command", "offer")
        .with("call-id", call_id)
        .with("from-tag", "bench-a")
        .with("sdp", sdp)
}

/// An offer from the SDES leg that asks the relay to offer plain RTP to the other side.
pub fn offer_to_plain(call_id: &str, sdp: &str) -> OwnedValue {
    offer(call_id, sdp).with("transport-protocol", "RTP/AVP")
}

pub fn answer(call_id: &str, sdp: &str) -> OwnedValue {
    OwnedValue::dict()
        .with("command", "answer")
        .with("call-id", call_id)
        .with("from-tag", "bench-a")
        .with("to-tag", "bench-b")
        .with("sdp", sdp)
}

/// With `delete-delay: 0`: the call and its ports go at once (servers keep deleted calls 30 s
/// by default, which a control-plane run at thousands of cycles/s would exhaust ports with).
pub fn delete(call_id: &str) -> OwnedValue {
    OwnedValue::dict()
        .with("command", "delete")
        .with("call-id", call_id)
        .with("from-tag", "bench-a")
        .with("delete-delay", 0i64)
}

/// Where each side of a call must send: `a_dest` is the relay port the answer named (the
/// caller's side), `b_dest` the one the offer named (the callee's side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDests {
    pub a_dest: SocketAddr,
    pub b_dest: SocketAddr,
}

/// The SRTP keys of one call's SDES leg (the caller's side, the bench's socket `a`).
#[derive(Debug, Clone)]
pub struct SdesKeys {
    /// The bench's (offered): protects what the bench sends on the leg.
    pub tx: CryptoAttribute,
    /// The relay's (from its answer): unprotects what the bench receives on the leg.
    pub rx: CryptoAttribute,
}

/// Sets up calls `0..n` (`{prefix}-{i}`) with offer + answer; both sides name the bench's
/// shared sockets `a` and `b`. With [`Setup::with_sdes`] the caller's side is RTP/SAVP with
/// an SDES key and the relay is asked to offer plain RTP/AVP to the callee (an SRTP to RTP
/// bridge).
pub struct Setup<'p> {
    pub prefix: &'p str,
    pub a: SocketAddr,
    pub b: SocketAddr,
    pub dests: Vec<Option<CallDests>>,
    partial: Vec<Option<SocketAddr>>,
    /// Delete each call after its answer (the control-plane cycle).
    pub delete_after: bool,
    /// SDES on the caller's leg.
    pub sdes: bool,
    /// Per call (with `sdes`, not for control-plane cycles): the leg's keys.
    pub keys: Vec<Option<SdesKeys>>,
    offered: Vec<Option<CryptoAttribute>>,
}

impl<'p> Setup<'p> {
    pub fn new(
        prefix: &'p str,
        a: SocketAddr,
        b: SocketAddr,
        n: usize,
        delete_after: bool,
    ) -> Self {
        Setup {
            prefix,
            a,
            b,
            dests: if delete_after {
                Vec::new()
            } else {
                vec![None; n]
            },
            partial: if delete_after {
                Vec::new()
            } else {
                vec![None; n]
            },
            delete_after,
            sdes: false,
            keys: Vec::new(),
            offered: Vec::new(),
        }
    }

    /// Makes the caller's leg RTP/SAVP with SDES (see the type's docs).
    pub fn with_sdes(mut self) -> Self {
        self.sdes = true;
        if !self.delete_after {
            self.keys = vec![None; self.dests.len()];
            self.offered = vec![None; self.dests.len()];
        }
        self
    }

    pub fn call_id(&self, job: usize) -> String {
        format!("{}-{job}", self.prefix)
    }
}

impl Flow for Setup<'_> {
    fn request(&mut self, job: usize, step: usize) -> Option<OwnedValue> {
        let id = self.call_id(job);
        match step {
            0 if self.sdes => {
                let crypto = CryptoAttribute::generate(1, SDES_SUITE, &mut rand::rng());
                let sdp = sdes_sdp(self.a, job as u64, &crypto);
                if let Some(o) = self.offered.get_mut(job) {
                    *o = Some(crypto);
                }
                Some(offer_to_plain(&id, &sdp))
            }
            0 => Some(offer(&id, &plain_sdp(self.a, job as u64))),
            1 => Some(answer(&id, &plain_sdp(self.b, job as u64))),
            2 if self.delete_after => Some(delete(&id)),
            _ => None,
        }
    }

    fn reply(&mut self, job: usize, step: usize, reply: &Dict<'_>) -> Result<(), BenchError> {
        if self.delete_after || step > 1 {
            return Ok(());
        }
        let sdp = reply
            .get_str("sdp")
            .ok_or_else(|| BenchError::Sdp("reply without sdp".into()))?;
        let addr = media_addr(sdp)?;
        if self.sdes {
            // The relay must offer plain RTP to the callee and answer the caller with SRTP.
            let proto = media_proto(sdp).unwrap_or("");
            match step {
                0 if proto != "RTP/AVP" => {
                    return Err(BenchError::Sdp(format!(
                        "the relay offered {proto:?} to the plain side (want RTP/AVP)"
                    )))
                }
                1 if proto != "RTP/SAVP" => {
                    return Err(BenchError::Sdp(format!(
                        "the relay answered the SDES side with {proto:?} (want RTP/SAVP)"
                    )))
                }
                _ => {}
            }
            if step == 1 {
                let rx = answer_crypto(sdp, SDES_SUITE)?;
                let tx = self.offered.get_mut(job).and_then(Option::take);
                if let (Some(k), Some(tx)) = (self.keys.get_mut(job), tx) {
                    *k = Some(SdesKeys { tx, rx });
                }
            }
        }
        match step {
            0 => {
                if let Some(p) = self.partial.get_mut(job) {
                    *p = Some(addr);
                }
            }
            _ => {
                let b_dest = self.partial.get(job).copied().flatten();
                if let (Some(d), Some(b_dest)) = (self.dests.get_mut(job), b_dest) {
                    *d = Some(CallDests {
                        a_dest: addr,
                        b_dest,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Deletes calls `0..n` of `prefix`.
pub struct Teardown<'p> {
    pub prefix: &'p str,
}

impl Flow for Teardown<'_> {
    fn request(&mut self, job: usize, step: usize) -> Option<OwnedValue> {
        (step == 0).then(|| delete(&format!("{}-{job}", self.prefix)))
    }
    fn reply(&mut self, _: usize, _: usize, _: &Dict<'_>) -> Result<(), BenchError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_addr_prefers_media_level_connection() {
        let sdp = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.2\r\nm=video 5000 RTP/AVP 96\r\n";
        assert_eq!(
            media_addr(sdp).unwrap(),
            "10.0.0.2:4000".parse::<std::net::SocketAddr>().unwrap()
        );
        let own = plain_sdp("127.0.0.1:4242".parse::<std::net::SocketAddr>().unwrap(), 1);
        assert_eq!(
            media_addr(&own).unwrap(),
            "127.0.0.1:4242".parse::<std::net::SocketAddr>().unwrap()
        );
        assert!(media_addr("v=0\r\n").is_err());
    }

    #[test]
    fn sdes_offer_carries_a_key_the_answer_parser_reads_back() {
        let key = CryptoAttribute::generate(1, SDES_SUITE, &mut rand::rng());
        let sdp = sdes_sdp(
            "127.0.0.1:4000".parse::<std::net::SocketAddr>().unwrap(),
            7,
            &key,
        );
        assert_eq!(media_proto(&sdp), Some("RTP/SAVP"));
        assert_eq!(
            media_addr(&sdp).unwrap(),
            "127.0.0.1:4000".parse::<std::net::SocketAddr>().unwrap()
        );
        let back = answer_crypto(&sdp, SDES_SUITE).unwrap();
        assert_eq!(back.master_key(), key.master_key());
        assert_eq!(back.master_salt(), key.master_salt());
        assert!(answer_crypto(&sdp, SrtpProfile::AeadAes128Gcm).is_err());
        let plain = plain_sdp("127.0.0.1:4000".parse::<std::net::SocketAddr>().unwrap(), 7);
        assert_eq!(media_proto(&plain), Some("RTP/AVP"));
        assert!(answer_crypto(&plain, SDES_SUITE).is_err());
    }
}
