//! ICE and DTLS-SRTP in offer/answer: which party does ICE and DTLS with us, our credentials,
//! roles and SDP attributes towards each, and what the worker is told.
//!
//! ICE towards a party (rtpengine's `ICE` option): `remove` never, `force` always, `default`
//! (or no option) when the SDP that goes on to the party was made from an SDP that had ICE. A
//! party that answers without ICE does not do it, and ICE stops towards it. The side that
//! offers is controlling (we, towards the answerer; the offerer, towards us), unless ICE-lite
//! says otherwise. Our credentials are made once per side and renewed when the party restarts
//! ICE (new ufrag/pwd); our candidates are the leg's own sockets (host type), written the way
//! rtpengine writes them.
//!
//! DTLS-SRTP towards a party: when its transport is `UDP/TLS/RTP/SAVP(F)` (what it offered, or
//! what we offer it), unless `DTLS=off`. We offer `a=setup:actpass` (or what `DTLS=active`/
//! `passive` asks for); we answer `active` to an `actpass` or `passive` offer (`passive` with
//! `DTLS=passive`), and `passive` to an `active` one. The party's `a=fingerprint` is what its
//! certificate must hash to.

use std::net::SocketAddr;

use rand::Rng;

use super::model::MediaSide;
use crate::dtls::dtls::{Fingerprint, HashAlgorithm, LazyCert};
use crate::ice::{Candidate, CandidateType, Credentials};
use crate::media::webrtc::{DtlsLegConfig, DtlsSetup, IceLegConfig};
use crate::ng::request::{IceMode, NgRequest};
use crate::sdp::{starts_with_ignore_case, Session};

/// ICE state of one party's side.
#[derive(Debug, Clone, Default)]
pub struct SideIce {
    /// Our SDP towards this party carries ICE.
    pub on: bool,
    /// We sent this party an offer with ICE and have no answer yet.
    pub awaiting_answer: bool,
    pub local: Option<Credentials>,
    pub foundation: String,
    pub controlling: bool,
    pub lite: bool,
    pub trickle: bool,
    /// From the party's SDP.
    pub remote: Option<Credentials>,
    pub remote_candidates: Vec<Candidate>,
    pub remote_lite: bool,
    pub end_of_candidates: bool,
}

/// DTLS state of one party's side.
#[derive(Debug, Clone, Default)]
pub struct SideDtls {
    pub on: bool,
    /// Our role towards the party (None: not decided, i.e. actpass).
    pub setup: Option<DtlsSetup>,
    /// What our SDP says (`actpass` in offers).
    pub sdp_setup: Option<&'static str>,
    /// The party's fingerprint and setup.
    pub fingerprint: Option<Fingerprint>,
    pub party_setup: Option<String>,
    /// Hash function of the fingerprint we write (`DTLS-fingerprint`).
    pub hash: Option<HashAlgorithm>,
}

/// ICE and DTLS of a party as its SDP describes one section.
#[derive(Debug, Default)]
struct PartyWebrtc {
    ice: Option<Credentials>,
    candidates: Vec<Candidate>,
    end_of_candidates: bool,
    lite: bool,
    fingerprint: Option<Fingerprint>,
    setup: Option<String>,
}

fn read_party(s: &Session, i: usize) -> PartyWebrtc {
    let Some(m) = s.media().get(i) else {
        return PartyWebrtc::default();
    };
    let ice = match (s.media_attr(i, "ice-ufrag"), s.media_attr(i, "ice-pwd")) {
        (Some(u), Some(p)) => Some(Credentials {
            ufrag: u.trim().to_string(),
            pwd: p.trim().to_string(),
        }),
        _ => None,
    };
    let candidates = m
        .candidates()
        .filter_map(|c| Candidate::parse(c).ok().flatten())
        .take(crate::ice::agent::MAX_REMOTE_CANDIDATES)
        .collect();
    PartyWebrtc {
        ice,
        candidates,
        end_of_candidates: m.end_of_candidates(),
        lite: s.ice_lite(),
        fingerprint: s
            .media_attr(i, "fingerprint")
            .and_then(|f| Fingerprint::parse(f).ok()),
        setup: s
            .media_attr(i, "setup")
            .map(|v| v.trim().to_ascii_lowercase()),
    }
}

/// Whether a transport protocol is DTLS-SRTP.
pub fn is_dtls_protocol(protocol: &str) -> bool {
    starts_with_ignore_case(protocol, "UDP/TLS/RTP/SAVP")
        || starts_with_ignore_case(protocol, "DCCP/TLS/RTP/SAVP")
}

fn lite_forward(req: &NgRequest) -> bool {
    matches!(req.ice_lite.as_deref(), Some("forward") | Some("both"))
}

fn lite_backward(req: &NgRequest) -> bool {
    matches!(req.ice_lite.as_deref(), Some("backward") | Some("both"))
}

fn dtls_off(req: &NgRequest) -> bool {
    req.dtls.as_deref() == Some("off")
}

fn hash_of(req: &NgRequest) -> Option<HashAlgorithm> {
    req.dtls_fingerprint
        .as_deref()
        .and_then(|n| HashAlgorithm::from_sdp_name(&n.to_ascii_lowercase()))
}

fn random_foundation() -> String {
    let mut r = rand::rng();
    (0..16)
        .map(|_| {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            char::from(A[r.random_range(0..A.len())])
        })
        .collect()
}

/// Takes in the party's ICE from its SDP; a changed ufrag/pwd is an ICE restart, which
/// renews our credentials towards it.
fn learn_party_ice(side: &mut SideIce, p: &PartyWebrtc) {
    let Some(creds) = &p.ice else {
        return;
    };
    let restart = side.remote.as_ref().is_some_and(|r| r != creds);
    if restart {
        side.remote_candidates.clear();
        side.local = Some(Credentials::random(&mut rand::rng()));
    }
    side.remote = Some(creds.clone());
    for c in &p.candidates {
        if !side
            .remote_candidates
            .iter()
            .any(|r| r.addr == c.addr && r.component == c.component)
            && side.remote_candidates.len() < crate::ice::agent::MAX_REMOTE_CANDIDATES
        {
            side.remote_candidates.push(c.clone());
        }
    }
    side.remote_lite = p.lite;
    side.end_of_candidates = p.end_of_candidates;
}

fn ensure_local(side: &mut SideIce) {
    if side.local.is_none() {
        side.local = Some(Credentials::random(&mut rand::rng()));
    }
    if side.foundation.is_empty() {
        side.foundation = random_foundation();
    }
}

/// An offer from `a` (its SDP `s`, section `i`) going to `b` as `out_protocol`.
pub fn on_offer(
    a: &mut MediaSide,
    b: &mut MediaSide,
    s: &Session,
    i: usize,
    out_protocol: &str,
    req: &NgRequest,
) {
    let p = read_party(s, i);
    // Towards the offerer: ICE if it offered ICE (and the offer was not told to reject it).
    if p.ice.is_some() && !req.flags.reject_ice {
        learn_party_ice(&mut a.ice, &p);
        ensure_local(&mut a.ice);
        a.ice.on = true;
        a.ice.controlling = false;
        a.ice.awaiting_answer = false;
        a.ice.lite = lite_backward(req);
    } else if a.ice.is_allocated() {
        // Our credentials stay, for when ICE comes back (unallocated: all default already).
        a.ice.on = false;
        a.ice.remote = None;
        a.ice.remote_candidates.clear();
    }
    // Towards the answerer.
    let to_b = match req.ice {
        Some(IceMode::Remove) => false,
        Some(IceMode::Force) | Some(IceMode::ForceRelay) => true,
        Some(IceMode::Optional) => true,
        Some(IceMode::Default) | None => p.ice.is_some(),
    };
    if to_b {
        ensure_local(&mut b.ice);
        b.ice.on = true;
        b.ice.awaiting_answer = true;
        b.ice.lite = lite_forward(req);
        b.ice.controlling = !b.ice.lite;
        b.ice.trickle = req.flags.trickle_ice;
    } else {
        b.ice.reset();
    }

    // DTLS towards the offerer.
    if !dtls_off(req) && is_dtls_protocol(&a.desc.protocol) {
        a.dtls.on = true;
        a.dtls.fingerprint = p.fingerprint;
        a.dtls.party_setup = p.setup.clone();
        a.dtls.hash = hash_of(req).or(p.fingerprint.map(|f| f.algorithm()));
        // Our role is settled by the answer we send; until then we only accept a ClientHello.
        a.dtls.setup = None;
        a.dtls.sdp_setup = None;
    } else {
        a.dtls.reset();
    }
    // DTLS towards the answerer.
    if !dtls_off(req) && is_dtls_protocol(out_protocol) {
        b.dtls.on = true;
        b.dtls.hash = hash_of(req);
        let (setup, sdp) = match req.dtls.as_deref() {
            Some("active") => (Some(DtlsSetup::Active), "active"),
            Some("passive") => (Some(DtlsSetup::Passive), "passive"),
            // A re-offer keeps the role the last answer settled.
            _ => (b.dtls.setup.or(Some(DtlsSetup::ActPass)), "actpass"),
        };
        b.dtls.setup = setup;
        b.dtls.sdp_setup = Some(sdp);
    } else {
        b.dtls.reset();
    }
}

/// Our role answering an offer whose `a=setup` is `party` (`DTLS` option `flag`).
fn answer_role(party: Option<&str>, flag: Option<&str>) -> DtlsSetup {
    match party {
        Some("active") => DtlsSetup::Passive,
        Some("passive") => DtlsSetup::Active,
        _ => match flag {
            Some("passive") => DtlsSetup::Passive,
            _ => DtlsSetup::Active,
        },
    }
}

/// The answer from `b` (its SDP `s`, section `i`) to `a`'s offer.
pub fn on_answer(a: &mut MediaSide, b: &mut MediaSide, s: &Session, i: usize, req: &NgRequest) {
    let p = read_party(s, i);
    // The answerer: ICE only if it answered with ICE.
    if b.ice.on && p.ice.is_some() && !req.flags.reject_ice {
        learn_party_ice(&mut b.ice, &p);
        b.ice.awaiting_answer = false;
        if p.lite && !b.ice.lite {
            b.ice.controlling = true;
        }
    } else {
        b.ice.reset();
    }
    // Towards the offerer: the answer's ICE option can still remove or force it.
    match req.ice {
        Some(IceMode::Remove) if a.ice.is_allocated() => a.ice.on = false,
        Some(IceMode::Force) | Some(IceMode::ForceRelay) => {
            ensure_local(&mut a.ice);
            a.ice.on = true;
        }
        _ => {}
    }
    if a.ice.on && lite_forward(req) {
        // ICE-lite in the answer applies to the party the answer goes to.
        a.ice.lite = true;
        a.ice.controlling = false;
    }
    // DTLS: the answerer's choice settles our role towards it.
    if b.dtls.on {
        let answered_dtls = is_dtls_protocol(&b.desc.protocol) || p.fingerprint.is_some();
        if answered_dtls && !dtls_off(req) {
            b.dtls.fingerprint = p.fingerprint;
            b.dtls.party_setup = p.setup.clone();
            b.dtls.setup = Some(match p.setup.as_deref() {
                Some("active") => DtlsSetup::Passive,
                Some("passive") => DtlsSetup::Active,
                _ => b.dtls.setup.unwrap_or(DtlsSetup::Active),
            });
            if b.dtls.setup == Some(DtlsSetup::ActPass) {
                b.dtls.setup = Some(DtlsSetup::Active);
            }
        } else {
            b.dtls.reset();
        }
    }
    // The answer's DTLS option can pick our role towards an actpass offerer.
    if a.dtls.on {
        if dtls_off(req) {
            a.dtls.reset();
        } else {
            a.dtls.setup = Some(answer_role(
                a.dtls.party_setup.as_deref(),
                req.dtls.as_deref(),
            ));
            if let Some(h) = hash_of(req) {
                a.dtls.hash = Some(h);
            }
        }
    }
}

/// What the worker does about ICE with this side's party.
pub fn ice_config(side: &MediaSide) -> Option<IceLegConfig> {
    let ice = &side.ice;
    if !ice.on || !(ice.remote.is_some() || ice.awaiting_answer) {
        return None;
    }
    Some(IceLegConfig {
        local: ice.local.clone()?,
        foundation: ice.foundation.clone(),
        lite: ice.lite,
        controlling: ice.controlling,
        remote: ice.remote.clone(),
        remote_candidates: ice.remote_candidates.clone(),
        remote_lite: ice.remote_lite,
        end_of_candidates: ice.end_of_candidates,
    })
}

pub fn dtls_config(side: &MediaSide) -> Option<DtlsLegConfig> {
    let d = &side.dtls;
    if !d.on {
        return None;
    }
    Some(DtlsLegConfig {
        setup: d.setup.unwrap_or(DtlsSetup::ActPass),
        fingerprint: d.fingerprint,
    })
}

/// Our ICE attributes towards this side's party (`a=` values, in rtpengine's order).
/// `addrs`: (local preference index, address, RTP port) of each host candidate; `rtcp`: the
/// SDP does not multiplex RTCP, so RTCP candidates (port + 1) follow.
pub fn ice_attributes(
    side: &MediaSide,
    addrs: &[(u32, std::net::IpAddr, u16)],
    rtcp: bool,
) -> Vec<String> {
    let ice = &side.ice;
    let Some(local) = ice.local.as_ref().filter(|_| ice.on) else {
        return Vec::new();
    };
    let mut v = vec![
        format!("ice-ufrag:{}", local.ufrag),
        format!("ice-pwd:{}", local.pwd),
    ];
    if ice.trickle {
        v.push("ice-options:trickle".into());
    }
    let cand = |index: u32, addr: SocketAddr, component: u16| Candidate {
        foundation: ice.foundation.clone(),
        component,
        priority: crate::ice::candidate::rtpengine_priority(
            CandidateType::Host.type_preference(),
            index,
            u32::from(component),
        ),
        addr,
        kind: CandidateType::Host,
        related: None,
    };
    for &(index, ip, port) in addrs {
        v.push(format!(
            "candidate:{}",
            cand(index, SocketAddr::new(ip, port), 1)
        ));
    }
    if rtcp {
        for &(index, ip, port) in addrs {
            let c = cand(index, SocketAddr::new(ip, port.wrapping_add(1)), 2);
            v.push(format!("candidate:{c}"));
        }
    }
    if ice.trickle {
        v.push("end-of-candidates".into());
    }
    v
}

/// Our DTLS attributes towards this side's party.
pub fn dtls_attributes(side: &MediaSide, cert: Option<&LazyCert>, is_offer: bool) -> Vec<String> {
    let d = &side.dtls;
    // Only a side that does DTLS makes the certificate.
    let Some(cert) = cert.filter(|_| d.on).and_then(LazyCert::get) else {
        return Vec::new();
    };
    let setup = if is_offer {
        d.sdp_setup.unwrap_or("actpass")
    } else {
        match d.setup {
            Some(DtlsSetup::Passive) => "passive",
            _ => "active",
        }
    };
    let fp = d
        .hash
        .and_then(|h| cert.fingerprint_with(h).ok())
        .unwrap_or(*cert.fingerprint());
    vec![format!("setup:{setup}"), format!("fingerprint:{fp}")]
}
