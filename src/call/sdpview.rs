//! The seam between the call model and the SDP module: what the call layer reads from a
//! party's SDP ([`describe`]) and how it asks for the SDP sent to the other party
//! ([`rewrite_for`]).

use std::net::IpAddr;

use rand::Rng;

use super::model::{MediaDesc, Monologue};
use crate::ng::request::{NgRequest, RtcpMuxFlag};
use crate::sdp::{
    Direction, MediaRewrite, ReplaceFlags, RtcpAttribute, SdpError, Session, SessionRewrite,
};

/// Reads what the call layer needs from each m= section.
pub fn describe(s: &Session) -> Vec<MediaDesc> {
    s.media()
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let conn = s.media_connection(i);
            let codec = m.first_codec().ok().flatten().and_then(|c| c.encoding);
            MediaDesc {
                kind: m.media_type().to_string(),
                protocol: m.protocol().to_string(),
                port: m.port(),
                address: conn.as_ref().map(|c| c.ip),
                // A zero address means hold, except for trickle ICE's placeholder (port 9 with
                // ICE credentials: the candidates come later).
                zero_address: conn.as_ref().is_some_and(|c| c.is_unspecified())
                    && !(m.port() == 9 && m.ice_ufrag().is_some()),
                rtcp: m.rtcp().map(|r| (r.port, r.address)),
                rtcp_mux: m.rtcp_mux(),
                codec,
                direction: Some(s.media_direction(i)),
                mid: m.mid().map(str::to_string),
                ptime: m.ptime(),
            }
        })
        .collect()
}

/// Writes the SDP that goes to `receiver`, made from `input` (the other party's SDP).
///
/// `our_sdp_addr` is the address our sockets facing `receiver` advertise. `is_offer` tells
/// which rtcp-mux state applies: in an offer, what we offer to the receiver; in an answer,
/// whether we accept the receiver's offer.
/// What we put of ourselves into an SDP.
pub struct Ours<'a> {
    /// The address our sockets facing the receiver advertise.
    pub sdp_addr: IpAddr,
    /// The DTLS certificate whose fingerprint we write.
    pub cert: Option<&'a crate::dtls::dtls::LazyCert>,
    /// The configured interfaces (ICE host candidates on each).
    pub interfaces: &'a [crate::config::Interface],
}

pub fn rewrite_for(
    input: &Session,
    receiver: &mut Monologue,
    sender: &Monologue,
    ours: Ours<'_>,
    req: &NgRequest,
    is_offer: bool,
) -> Result<String, SdpError> {
    let Ours {
        sdp_addr: our_sdp_addr,
        cert,
        interfaces,
    } = ours;
    let rtcp_attribute = if req.flags.no_rtcp_attribute {
        RtcpAttribute::Omit
    } else if req.flags.full_rtcp_attribute {
        RtcpAttribute::Full
    } else {
        RtcpAttribute::Normal
    };
    let require = req.rtcp_mux.contains(&RtcpMuxFlag::Require);
    let fmt = super::sdes::flags(req).format_options();
    let mut medias = Vec::with_capacity(input.media().len());
    for (i, m) in input.media().iter().enumerate() {
        let mine = receiver.medias.get(i);
        let theirs = sender.medias.get(i);
        let leg = mine.and_then(|s| s.leg.as_ref());
        let address = req.media_address.unwrap_or(our_sdp_addr);
        let port = if m.port() == 0 {
            0
        } else {
            leg.map(|l| l.port).unwrap_or(m.port())
        };
        let mut mr = MediaRewrite::from_input(m, address, port);
        // Media we do not relay (TCP-based) stays as it is; a rejected section (port 0) is
        // still rewritten (its c= and mid), just without our attributes.
        mr.passthrough = mr.passthrough || (leg.is_none() && m.port() != 0);
        mr.protocol = if is_offer || req.transport_protocol.is_some() {
            req.transport_protocol.clone()
        } else if req.transport_protocol_accept {
            // transport-protocol=accept: the answerer's protocol goes back as it is.
            None
        } else {
            // The answer goes back in the offerer's own protocol.
            mine.map(|s| s.desc.protocol.clone())
                .filter(|p| !p.is_empty() && *p != m.protocol())
        };
        mr.rtcp_attribute = rtcp_attribute;
        mr.zero_address = theirs.is_some_and(|t| t.desc.zero_address)
            && !req.replace.zero_address
            && req.media_address.is_none();
        if theirs.is_some_and(|t| t.desc.zero_address) {
            // Held with the zero address: the party does not receive, whatever it says.
            let d = input.media_direction(i);
            mr.direction = Some(Direction::from_send_recv(d.sends(), false));
        }
        if let Some(c) = mine.map(|s| &s.codecs) {
            // Codec negotiation decided the codec list (and maybe the ptime) of this section.
            if c.out.is_some() {
                mr.codecs = c.out.clone();
            }
            if c.ptime_out.is_some() {
                mr.ptime = c.ptime_out;
            }
        }
        if !is_offer {
            // The answer carries the offer's mid, and the offer's ptime when it has none.
            mr.mid = mine.and_then(|s| s.desc.mid.clone());
            if mr.ptime.is_none() {
                mr.ptime = mine.and_then(|s| s.desc.ptime);
            }
        }
        if let Some(s) = mine.filter(|_| leg.is_some()) {
            mr.crypto_attributes = super::sdes::attributes(s, is_offer, fmt);
            mr.dtls_attributes = super::webrtc::dtls_attributes(s, cert, is_offer);
        }
        let bundle_offer = is_offer && req.bundle.iter().any(|b| b == "offer");
        if is_offer && (req.flags.generate_mid || bundle_offer) && mr.mid.is_none() && m.port() != 0
        {
            mr.mid = Some(i.to_string());
        }
        if let Some(l) = leg {
            let mux = mine.is_some_and(|s| {
                if is_offer {
                    s.mux_offered_to
                } else {
                    s.rtcp_mux
                }
            });
            mr.rtcp_mux = mux;
            let rtcp_on_rtp = (mux && !is_offer) || (is_offer && require);
            mr.rtcp_port = Some(if rtcp_on_rtp { l.port } else { l.rtcp_port });
            if let Some(s) = mine.filter(|_| m.port() != 0) {
                mr.ice_attributes = super::webrtc::ice_attributes(
                    s,
                    &candidate_addresses(l, our_sdp_addr, interfaces),
                    !rtcp_on_rtp,
                );
            }
        }
        medias.push(mr);
    }
    let mut session_attributes = Vec::new();
    if receiver.medias.iter().any(|s| s.ice.on && s.ice.lite) {
        session_attributes.push("ice-lite".to_string());
    }
    if is_offer && req.bundle.iter().any(|b| b == "offer") {
        // One transport for the offered sections (rtpbridge relays each section on its own
        // ports, so this is meant for single-section WebRTC offers, as browsers need).
        let mids: Vec<&str> = medias
            .iter()
            .filter(|m| m.port != 0)
            .filter_map(|m| m.mid.as_deref())
            .collect();
        if !mids.is_empty() {
            session_attributes.push(format!("group:BUNDLE {}", mids.join(" ")));
        }
    }
    if let (false, Some(group)) = (is_offer, receiver.bundle.as_ref()) {
        // The offerer bundles: answer the group with the sections we keep.
        let mids: Vec<&str> = medias
            .iter()
            .filter(|m| m.port != 0)
            .filter_map(|m| m.mid.as_deref())
            .filter(|mid| group.iter().any(|g| g == mid))
            .collect();
        if !mids.is_empty() {
            session_attributes.push(format!("group:BUNDLE {}", mids.join(" ")));
        }
    }
    let origin_address = if req.replace.origin || req.replace.origin_full {
        Some(our_sdp_addr)
    } else {
        None
    };
    let rw = SessionRewrite {
        origin_address,
        replace_session_connection: req.replace.session_connection,
        remove_ice: true,
        strip_extmap: req.flags.strip_extmap,
        original_sendrecv: req.flags.original_sendrecv,
        loop_protect: if req.flags.loop_protect {
            Some(loop_protect_id())
        } else {
            None
        },
        media: medias,
        session_attributes,
        ..SessionRewrite::default()
    };
    let flags = ReplaceFlags {
        username: req.replace.username,
        session_name: req.replace.session_name,
        sdp_version: req.replace.sdp_version || req.replace.force_increment_sdp_version,
    };
    receiver.origin.rewrite(input, rw, flags, || {
        rand::rng().random_range(1..=u32::MAX as u64)
    })
}

/// Where our host candidates are: the leg's own address first (local preference index 0),
/// then the other interfaces in configuration order, as rtpengine lists them: (index, SDP
/// address, RTP port).
fn candidate_addresses(
    leg: &crate::media::LegHandle,
    our_sdp_addr: IpAddr,
    interfaces: &[crate::config::Interface],
) -> Vec<(u32, IpAddr, u16)> {
    let sdp_of = |bind: IpAddr| {
        interfaces
            .iter()
            .find(|i| i.address == bind)
            .map_or(our_sdp_addr, |i| i.sdp_address())
    };
    let mut extra: Vec<(usize, IpAddr, u16)> = leg
        .extra
        .iter()
        .map(|&(bind, port)| {
            let pos = interfaces.iter().position(|i| i.address == bind);
            (pos.unwrap_or(usize::MAX), sdp_of(bind), port)
        })
        .collect();
    extra.sort_by_key(|c| c.0);
    std::iter::once((sdp_of(leg.address), leg.port))
        .chain(extra.into_iter().map(|(_, a, p)| (a, p)))
        .enumerate()
        .map(|(i, (a, p))| (i as u32, a, p))
        .collect()
}

/// With loop-protect: whether this SDP already went through us (it carries our marker), in
/// which case it is passed on untouched.
pub fn is_own_loop(input: &Session, req: &NgRequest) -> bool {
    req.flags.loop_protect && input.attrs("rtpengine").any(|v| v == loop_protect_id())
}

/// The value rtpbridge writes in `a=rtpengine:` with loop-protect: one per process.
fn loop_protect_id() -> String {
    use std::sync::OnceLock;
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut r = rand::rng();
        (0..12)
            .map(|_| char::from(b"0123456789abcdef"[r.random_range(0..16usize)]))
            .collect()
    })
    .clone()
}
