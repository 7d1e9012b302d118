//! The offer/answer data model: a call holds monologues (one per SIP tag), each monologue holds
//! one media side per m= section. A media side owns the leg (our sockets) that faces its party.

use std::net::{IpAddr, SocketAddr};
use std::ops::{Deref, DerefMut};
use std::sync::LazyLock;
use std::time::Instant;

use crate::codec::SideCodecs;
use crate::dtls::sdes::{CryptoAttribute, SdesFlags};
use crate::media::LegHandle;
use crate::ng::request::RtcpMuxFlag;
use crate::sdp::{starts_with_ignore_case, Direction, OriginTracker};

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
    /// The direction attribute that applies (media level, else session level).
    pub direction: Option<Direction>,
}

impl MediaDesc {
    /// Media that rtpbridge relays (RTP, and UDP-based like udptl); TCP media passes through.
    pub fn is_relayed(&self) -> bool {
        !starts_with_ignore_case(&self.protocol, "TCP")
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
    /// SDES-SRTP towards this party (allocated once a party uses it: most sides never do).
    pub sdes: Lazy<SideSdes>,
    /// ICE and DTLS-SRTP towards this party (likewise).
    pub ice: Lazy<super::webrtc::SideIce>,
    pub dtls: Lazy<super::webrtc::SideDtls>,
}

/// State that most media sides never use, kept out of line and allocated on the first mutable
/// access: an unused one costs one pointer instead of its full size in every side. Reads of
/// an unallocated one see the type's default value.
pub struct Lazy<T: LazyDefault>(Option<Box<T>>);

/// A type with a shared default value that [`Lazy`] reads when nothing was allocated.
pub trait LazyDefault: Default + 'static {
    fn shared_default() -> &'static Self;
}

/// Implements [`LazyDefault`] for types that are `Default + Sync`.
macro_rules! lazy_default {
    ($($t:ty),*) => {$(
        impl LazyDefault for $t {
            fn shared_default() -> &'static Self {
                static DEFAULT: LazyLock<$t> = LazyLock::new(<$t>::default);
                &DEFAULT
            }
        }
    )*};
}
lazy_default!(SideSdes, super::webrtc::SideIce, super::webrtc::SideDtls);

impl<T: LazyDefault> Lazy<T> {
    /// Back to the default value, freeing what was allocated.
    pub fn reset(&mut self) {
        self.0 = None;
    }

    /// Whether anything was allocated (the value may still equal the default).
    pub fn is_allocated(&self) -> bool {
        self.0.is_some()
    }

    /// The value, if allocated: for writes that would leave an unallocated one as it is.
    pub fn allocated_mut(&mut self) -> Option<&mut T> {
        self.0.as_deref_mut()
    }
}

impl<T: LazyDefault> Default for Lazy<T> {
    fn default() -> Self {
        Lazy(None)
    }
}

impl<T: LazyDefault> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(b) => b,
            None => T::shared_default(),
        }
    }
}

impl<T: LazyDefault> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: LazyDefault + std::fmt::Debug> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// SDES state of one party's side: the `a=crypto` lines exchanged with it and the keys in use.
#[derive(Debug, Default)]
pub struct SideSdes {
    /// The lines this party offered (in its latest offer; empty if it offered none).
    pub party_offer: Vec<CryptoAttribute>,
    /// The lines we offered to this party (empty: we offered plain RTP).
    pub our_offer: Vec<CryptoAttribute>,
    /// The SDES flags of the offer that made `our_offer` (the answer's choice needs them).
    pub offer_flags: SdesFlags,
    /// The key this party encrypts with (we decrypt what it sends). None: it sends plain RTP.
    pub recv: Option<CryptoAttribute>,
    /// The key we encrypt with towards this party. None: it receives plain RTP.
    pub send: Option<CryptoAttribute>,
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
    /// The mids of this party's `a=group:BUNDLE` (from its latest offer), answered in kind.
    pub bundle: Option<Vec<String>>,
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
            bundle: None,
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
    /// The live monologue with this tag.
    pub fn find_tag(&self, tag: &str) -> Option<usize> {
        self.monologues
            .iter()
            .position(|m| !m.deleted && m.tag.as_deref() == Some(tag))
    }

    fn link(&mut self, a: usize, b: usize) {
        self.monologues[a].peer = Some(b);
        self.monologues[b].peer = Some(a);
    }

    fn push(&mut self, tag: Option<&str>, branch: Option<&str>, now: u64) -> usize {
        let mut m = Monologue::new(tag.map(str::to_string), now);
        m.via_branch = branch.map(str::to_string);
        self.monologues.push(m);
        self.monologues.len() - 1
    }

    /// An untagged placeholder (a party an offer went to, not answered yet) linked to `a`,
    /// preferring the one created for `branch`.
    fn placeholder_of(&self, a: usize, branch: Option<&str>) -> Option<usize> {
        let open = |i: &usize| {
            let m = &self.monologues[*i];
            !m.deleted && m.tag.is_none() && m.peer == Some(a)
        };
        let all = 0..self.monologues.len();
        branch
            .and_then(|b| {
                all.clone()
                    .filter(open)
                    .find(|&i| self.monologues[i].via_branch.as_deref() == Some(b))
            })
            .or_else(|| self.monologues[a].peer.filter(open))
    }

    /// The monologue an offer from `a` goes to. An explicit To-tag names it (re-INVITEs,
    /// including one towards a new party after a transfer); without one, each via-branch of
    /// a forked INVITE gets a placeholder of its own.
    pub fn offer_target(
        &mut self,
        a: usize,
        to_tag: Option<&str>,
        branch: Option<&str>,
        now: u64,
    ) -> usize {
        if let Some(t) = to_tag {
            if let Some(i) = self.find_tag(t).filter(|&i| i != a) {
                self.link(a, i);
                return i;
            }
            if let Some(p) = self.placeholder_of(a, branch) {
                self.monologues[p].tag = Some(t.to_string());
                return p;
            }
            let i = self.push(Some(t), branch, now);
            self.link(a, i);
            return i;
        }
        if let Some(p) = self.monologues[a]
            .peer
            .filter(|&p| !self.monologues[p].deleted)
        {
            let pm = &self.monologues[p];
            let other_branch = pm.tag.is_none()
                && branch.is_some()
                && pm.via_branch.is_some()
                && pm.via_branch.as_deref() != branch;
            if !other_branch {
                return p;
            }
        }
        if let Some(p) = branch.and_then(|_| self.placeholder_of(a, branch)) {
            if self.monologues[p].via_branch.as_deref() == branch {
                self.link(a, p);
                return p;
            }
        }
        let i = self.push(None, branch, now);
        self.link(a, i);
        i
    }

    /// The monologue an answer to `a`'s offer comes from: the To-tag's, else the placeholder
    /// the offer (of this via-branch) created, which now gets the To-tag.
    pub fn answer_source(
        &mut self,
        a: usize,
        to_tag: Option<&str>,
        branch: Option<&str>,
    ) -> Option<usize> {
        let b = match to_tag {
            Some(t) => match self.find_tag(t).filter(|&i| i != a) {
                Some(i) => i,
                None => {
                    let p = self.placeholder_of(a, branch).or(self.monologues[a]
                        .peer
                        .filter(|&p| !self.monologues[p].deleted))?;
                    self.monologues[p].tag = Some(t.to_string());
                    p
                }
            },
            None => self.monologues[a]
                .peer
                .filter(|&p| !self.monologues[p].deleted)?,
        };
        self.link(a, b);
        Some(b)
    }

    /// Whether two live parties still talk to each other.
    pub fn has_live_pair(&self) -> bool {
        self.monologues
            .iter()
            .any(|m| !m.deleted && m.peer.is_some_and(|p| !self.monologues[p].deleted))
    }

    /// All legs of the call.
    pub fn legs(&self) -> impl Iterator<Item = &LegHandle> {
        self.monologues
            .iter()
            .flat_map(|m| m.medias.iter())
            .filter_map(|s| s.leg.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_reads_default_until_written_and_reset_frees() {
        let mut side = MediaSide::default();
        assert!(!side.ice.on && side.ice.remote_candidates.is_empty());
        assert!(!side.ice.is_allocated() && side.ice.allocated_mut().is_none());
        side.ice.on = true;
        assert!(side.ice.is_allocated() && side.ice.on);
        assert!(!side.dtls.is_allocated() && !side.sdes.is_allocated());
        side.ice.reset();
        assert!(!side.ice.is_allocated() && !side.ice.on);
        // A side stays well under a kilobyte (it was 1152 bytes with everything inline).
        assert!(std::mem::size_of::<MediaSide>() < 600);
    }
}
