//! ICE candidates: types, priorities and the SDP `a=candidate` syntax (RFC 8839 section 5.1).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::agent::IceError;

/// Longest `a=candidate` value accepted.
pub const MAX_CANDIDATE_LEN: usize = 1024;

/// The candidate types of RFC 8445 section 5.1.2.2, with the recommended type preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateType {
    Host,
    ServerReflexive,
    PeerReflexive,
    Relayed,
}

impl CandidateType {
    /// The RFC 8445 recommended type preference (host 126, prflx 110, srflx 100, relay 0).
    pub fn type_preference(self) -> u32 {
        match self {
            CandidateType::Host => 126,
            CandidateType::PeerReflexive => 110,
            CandidateType::ServerReflexive => 100,
            CandidateType::Relayed => 0,
        }
    }

    /// The SDP token (`host`, `srflx`, `prflx`, `relay`).
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relayed => "relay",
        }
    }

    fn from_token(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::ServerReflexive,
            "prflx" => CandidateType::PeerReflexive,
            "relay" => CandidateType::Relayed,
            _ => return None,
        })
    }
}

/// Candidate priority the way rtpengine computes it:
/// `type_pref << 24 | (65535 - local_index) << 8 | (256 - component)`, where `local_index` is
/// the position of the local address among the interface's addresses (0 for the first). The
/// arithmetic wraps like rtpengine's unsigned C arithmetic, which matters only when
/// `local_index` exceeds 65535 (rtpengine's passthrough priorities can get there).
pub fn rtpengine_priority(type_pref: u32, local_index: u32, component: u32) -> u32 {
    (type_pref << 24) | (65535u32.wrapping_sub(local_index) << 8) | 256u32.wrapping_sub(component)
}

/// One ICE candidate as signalled in SDP (UDP only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// 1 to 32 `ice-char`s.
    pub foundation: String,
    /// 1 = RTP, 2 = RTCP.
    pub component: u16,
    pub priority: u32,
    /// The transport address (for our local candidates also the base).
    pub addr: SocketAddr,
    pub kind: CandidateType,
    /// `raddr`/`rport` (required in SDP for non-host candidates).
    pub related: Option<SocketAddr>,
}

fn is_ice_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

impl Candidate {
    /// Parses the value of an `a=candidate` attribute (with or without a leading `a=` and
    /// `candidate:`). Returns `Ok(None)` for candidates this agent cannot use and ignores on
    /// purpose: non-UDP transports (TCP candidates) and addresses that are host names
    /// (mDNS `.local` names) which a sans-IO agent cannot resolve.
    pub fn parse(value: &str) -> Result<Option<Candidate>, IceError> {
        let value = value.trim_end_matches(['\r', '\n']);
        if value.len() > MAX_CANDIDATE_LEN {
            return Err(IceError::BadCandidate("too long"));
        }
        let value = value.strip_prefix("a=").unwrap_or(value);
        let value = value.strip_prefix("candidate:").unwrap_or(value);
        let mut tok = value.split_ascii_whitespace();
        let mut next = |what: &'static str| tok.next().ok_or(IceError::BadCandidate(what));

        let foundation = next("foundation")?;
        if foundation.is_empty() || foundation.len() > 32 || !foundation.chars().all(is_ice_char) {
            return Err(IceError::BadCandidate("foundation"));
        }
        let component: u16 = next("component")?
            .parse()
            .ok()
            .filter(|c| (1..=256).contains(c))
            .ok_or(IceError::BadCandidate("component"))?;
        let transport = next("transport")?;
        let priority: u32 = next("priority")?
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(IceError::BadCandidate("priority"))?;
        let address = next("address")?;
        let port: u16 = next("port")?
            .parse()
            .map_err(|_| IceError::BadCandidate("port"))?;
        if !next("typ")?.eq_ignore_ascii_case("typ") {
            return Err(IceError::BadCandidate("typ"));
        }
        let kind = CandidateType::from_token(next("type")?)
            .ok_or(IceError::BadCandidate("candidate type"))?;

        let mut raddr: Option<IpAddr> = None;
        let mut rport: Option<u16> = None;
        // Extension attributes come in name/value pairs; unknown ones are skipped.
        while let Some(name) = tok.next() {
            let Some(v) = tok.next() else {
                return Err(IceError::BadCandidate("extension without value"));
            };
            if name.eq_ignore_ascii_case("raddr") {
                raddr = v.parse().ok();
            } else if name.eq_ignore_ascii_case("rport") {
                rport = v.parse().ok();
            }
        }

        if !transport.eq_ignore_ascii_case("udp") {
            return Ok(None);
        }
        let Ok(ip) = address.parse::<IpAddr>() else {
            return Ok(None);
        };
        let related = raddr.map(|ip| SocketAddr::new(ip, rport.unwrap_or(0)));
        Ok(Some(Candidate {
            foundation: foundation.to_owned(),
            component,
            priority,
            addr: SocketAddr::new(ip, port),
            kind,
            related,
        }))
    }

    /// The full SDP line, `a=candidate:...` without line ending.
    pub fn sdp_line(&self) -> String {
        format!("a=candidate:{self}")
    }
}

/// The attribute value as rtpengine writes it:
/// `FOUNDATION COMPONENT UDP PRIORITY ADDRESS PORT typ TYPE[ raddr ADDRESS rport PORT]`.
impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} UDP {} {} {} typ {}",
            self.foundation,
            self.component,
            self.priority,
            self.addr.ip(),
            self.addr.port(),
            self.kind.as_str()
        )?;
        if let Some(r) = self.related {
            write!(f, " raddr {} rport {}", r.ip(), r.port())?;
        }
        Ok(())
    }
}
