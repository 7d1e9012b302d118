//! The offer/answer data model: a call holds monologues (one per SIP tag), each monologue holds
//! one media side per m= section. A media side owns the leg (our sockets) that faces its party.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crate::codec::SideCodecs;
use crate::media::LegHandle;
use crate::ng::request::RtcpMuxFlag;
use crate::sdp::OriginTracker;

/// What the call layer needs to know about one m= section of a party's SDP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaDesc {
    pub kind: String,
    pub protocol: String,
    pub port: u16,
    /// Effective connection address (media-level `c=`, else session-level).
    pub address: Option<IpAddr>,
    /// `a=rtcp` port and optional address.
    pub rtcp: Option<(u16, Option<IpAddr>)>,
    pub rtcp_mux: bool,
    /// First codec, as `NAME/RATE` (for statistics).
    pub codec: Option<String>,
    /// `a=mid` and `a=ptime`: sticky per stream (an answer gets the offer's).
    pub mid: Option<String>,
    pub ptime: Option<u32>,
    /// The `c=` address was the zero address (old-style hold).
    pub zero_address: bool,
    /// `sendrecv`, `sendonly`, `recvonly` or `inactive` (media level, else session level).
    pub direction: Option<String>,
}

impl MediaDesc {
    /// Media that rtpbridge relays (RTP, and UDP-based like udptl); TCP media passes through.
    pub fn is_relayed(&self) -> bool {
        !self.protocol.to_ascii_uppercase().starts_with("TCP")
    }

    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Where the party receives RTP, unless the SDP holds it back (zero address or port).
    pub fn rtp_endpoint(&self) -> Option<SocketAddr> {
        let ip = self.address?;
        if ip.is_unspecified() || self.port == 0 {
            return None;
        }
        Some(SocketAddr::new(ip, self.port))
    }

    pub fn rtcp_endpoint(&self) -> Option<SocketAddr> {
        let rtp = self.rtp_endpoint()?;
        match self.rtcp {
            Some((port, addr)) => {
                let ip = addr.unwrap_or(rtp.ip());
                if ip.is_unspecified() || port == 0 {
                    None
                } else {
                    Some(SocketAddr::new(ip, port))
                }
            }
            None => Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
        }
    }
}

/// One party's side of one m= section.
#[derive(Debug, Default)]
pub struct MediaSide {
    /// The party's latest description of this section.
    pub desc: MediaDesc,
    /// Our sockets facing this party (None for pass-through or rejected media).
    pub leg: Option<LegHandle>,
    /// This party sends and receives RTCP on the RTP port (negotiated).
    pub rtcp_mux: bool,
    /// We offered rtcp-mux to this party in the SDP we sent it.
    pub mux_offered_to: bool,
    /// `rtcp-mux` flags given with the offer that created this side's SDP.
    pub mux_flags: Vec<RtcpMuxFlag>,
    /// Codec negotiation: the codecs we write to this party, its offer while it is the
    /// offerer, and the payload types it may send.
    pub codecs: SideCodecs,
}

/// One SIP party (From- or To-tag) of a call.
#[derive(Debug)]
pub struct Monologue {
    /// None until an answer tells us the To-tag.
    pub tag: Option<String>,
    pub label: Option<String>,
    pub via_branch: Option<String>,
    pub created: u64,
    /// Index of the monologue this one talks to.
    pub peer: Option<usize>,
    pub medias: Vec<MediaSide>,
    /// Origin state of the SDP we send to this party (username, session name, version).
    pub origin: OriginTracker,
    pub deleted: bool,
}

impl Monologue {
    pub fn new(tag: Option<String>, created: u64) -> Monologue {
        Monologue {
            tag,
            label: None,
            via_branch: None,
            created,
            peer: None,
            medias: Vec::new(),
            origin: OriginTracker::new(),
            deleted: false,
        }
    }

    pub fn tag_str(&self) -> &str {
        self.tag.as_deref().unwrap_or("")
    }
}

/// Why a call ended, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Deleted,
    Timeout,
    SilentTimeout,
    FinalTimeout,
    Shutdown,
}

#[derive(Debug)]
pub struct Call {
    pub id: String,
    pub worker: usize,
    pub created: u64,
    pub created_us: u32,
    pub created_at: Instant,
    pub last_signal: u64,
    pub last_signal_at: Instant,
    pub monologues: Vec<Monologue>,
    /// When set, the call is removed at this time (delete-delay).
    pub delete_at: Option<Instant>,
    pub record_call: bool,
}

impl Call {
    pub fn find_tag(&self, tag: &str) -> Option<usize> {
        self.monologues
            .iter()
            .position(|m| m.tag.as_deref() == Some(tag))
    }

    /// All legs of the call.
    pub fn legs(&self) -> impl Iterator<Item = &LegHandle> {
        self.monologues
            .iter()
            .flat_map(|m| m.medias.iter())
            .filter_map(|s| s.leg.as_ref())
    }
}
