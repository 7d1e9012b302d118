//! The call registry and the offer/answer model: calls, monologues (one per tag), medias.
//!
//! Owns every call's signalling state and decides which leg talks to which; the media plane
//! owns the sockets. Everything here runs on the control thread; packets never come here.

pub mod model;
mod query;
mod recording;
mod sdes;
mod sdpview;
mod unsupported;
pub mod webrtc;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::codec::{
    self, AnswerPlan, CodecError, CodecFlags, MediaCodecs, OfferPlan, PayloadTypes,
};
use crate::config::{Config, Interface};
use crate::media::latch::LatchPolicy;
use crate::media::{LegConfig, MediaPlane};
use crate::ng::bencode::OwnedValue;
use crate::ng::request::{AddrFamily, Command, NgRequest, RtcpMuxFlag};
use crate::sdp::{Direction, Media, Session};

use model::{Call, EndReason, MediaSide, Monologue};

/// Log target of the lines written for every request and every call (offer, answer and
/// delete processed, call ended). rtpengine logs those at level 6 (info), above its default 5
/// (notice); the daemon's `-L 5` keeps them out the same way (they cost about a tenth of
/// the control plane's CPU at thousands of requests per second).
pub const REQUEST_LOG: &str = "rtpbridge::requests";

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("Unknown call-id")]
    UnknownCall,
    #[error("Unknown from-tag")]
    UnknownTag,
    #[error("No call-id in message")]
    NoCallId,
    #[error("No from-tag in message")]
    NoFromTag,
    #[error("from-tag and to-tag are the same")]
    SameTags,
    #[error("No SDP body in message")]
    NoSdp,
    #[error("Failed to parse SDP: {0}")]
    BadSdp(String),
    #[error("Ran out of ports")]
    NoPorts,
    #[error("No interface for the requested address family")]
    NoInterface,
    #[error("Unsupported command: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// A bug met while handling the request (see [`Registry::handle_contained`]).
    #[error("Internal error; the call was ended")]
    Internal,
}

/// Counters for `statistics`.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub managed: u64,
    pub rejected: u64,
    pub timeout: u64,
    pub silent_timeout: u64,
    pub final_timeout: u64,
    pub regular_terminated: u64,
    pub forced_terminated: u64,
    pub commands: HashMap<String, u64>,
    pub errors: u64,
}

/// Calls [`Registry::tick`] walks before it lets another thread of the core run.
const TICK_SLICE: usize = 64;

pub struct Registry {
    /// Boxed: the table keeps spare slots (it grows by doubling), and a spare slot costs the
    /// size of its value.
    calls: HashMap<String, Box<Call>>,
    media: MediaPlane,
    cfg: Arc<Config>,
    pub totals: Totals,
    started: Instant,
    recordings: recording::Recordings,
    /// The daemon's DTLS certificate, whose fingerprint our DTLS-SRTP SDP carries.
    dtls_cert: Option<crate::dtls::dtls::LazyCert>,
    /// Tests: an offer for this call-id panics once its legs are allocated.
    #[cfg(test)]
    panic_on: Option<String>,
}

fn unix_now() -> (u64, u32) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_micros())
}

fn family_of(ip: IpAddr) -> AddrFamily {
    if ip.is_ipv4() {
        AddrFamily::Ip4
    } else {
        AddrFamily::Ip6
    }
}

fn matches_family(ip: IpAddr, f: AddrFamily) -> bool {
    family_of(ip) == f
}

/// Rtpengine's decision: do we offer rtcp-mux to the answerer?
fn offer_mux(flags: &[RtcpMuxFlag], offerer_muxes: bool) -> bool {
    if flags
        .iter()
        .any(|f| matches!(f, RtcpMuxFlag::Demux | RtcpMuxFlag::Reject))
        && !flags
            .iter()
            .any(|f| matches!(f, RtcpMuxFlag::Offer | RtcpMuxFlag::Require))
    {
        return false;
    }
    if flags
        .iter()
        .any(|f| matches!(f, RtcpMuxFlag::Offer | RtcpMuxFlag::Require))
    {
        return true;
    }
    offerer_muxes
}

/// Rtpengine's decision: do we accept the offerer's rtcp-mux in the answer we send it?
fn accept_mux(flags: &[RtcpMuxFlag], offerer_muxes: bool, answerer_muxes: bool) -> bool {
    if !offerer_muxes || flags.contains(&RtcpMuxFlag::Reject) {
        return false;
    }
    if flags.iter().any(|f| {
        matches!(
            f,
            RtcpMuxFlag::Demux | RtcpMuxFlag::Accept | RtcpMuxFlag::Require
        )
    }) {
        return true;
    }
    answerer_muxes
}

impl Registry {
    pub fn new(cfg: Arc<Config>, media: MediaPlane) -> Registry {
        Registry {
            calls: HashMap::new(),
            media,
            cfg,
            totals: Totals::default(),
            started: Instant::now(),
            recordings: Default::default(),
            dtls_cert: None,
            #[cfg(test)]
            panic_on: None,
        }
    }

    /// Tests: makes an offer for `call_id` panic halfway (after its legs are allocated).
    #[cfg(test)]
    pub(crate) fn inject_panic(&mut self, call_id: &str) {
        self.panic_on = Some(call_id.to_owned());
    }

    /// Sets the certificate DTLS-SRTP legs use (the workers were given the same one).
    pub fn set_dtls_cert(&mut self, cert: crate::dtls::dtls::LazyCert) {
        self.dtls_cert = Some(cert);
    }

    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    pub fn media(&self) -> &MediaPlane {
        &self.media
    }

    /// Changes whenever a command's reply must wait for [`settle`](Self::settle): the command
    /// closed sockets, and the SIP proxy must not hear of it before they are closed.
    pub fn sync_epoch(&self) -> u64 {
        self.media.sync_epoch()
    }

    /// Hands the queued media commands to the workers and waits until those that closed
    /// sockets for a reply have done so. Call before sending a reply during which
    /// [`sync_epoch`](Self::sync_epoch) changed, and before blocking for the next request (a
    /// batch of requests can share one call).
    pub fn settle(&mut self) {
        self.media.sync_requested();
    }

    /// [`settle`](Self::settle) without the waiting: wakes the workers and returns the
    /// acknowledgements to wait for, if any reply needs them. Lets the caller go on with other
    /// requests meanwhile.
    pub fn start_settle(&mut self) -> Option<crate::media::SyncTicket> {
        self.media.start_sync()
    }

    /// [`handle`](Self::handle), with a bug in it kept to the request's own call: a panic
    /// becomes [`CallError::Internal`] (an error reply) instead of ending the control thread
    /// and with it every call, and the call it happened in is ended, since its state may be
    /// half updated (its ports go back to the pool, its worker drops its legs).
    pub fn handle_contained(
        &mut self,
        req: &NgRequest,
        now: Instant,
    ) -> Result<OwnedValue, CallError> {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let panic = match catch_unwind(AssertUnwindSafe(|| self.handle(req, now))) {
            Ok(result) => return result,
            Err(panic) => panic,
        };
        let what = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        let call_id = req.call_id.as_deref().unwrap_or("");
        tracing::error!(
            call_id,
            command = req.command.name(),
            "internal error while handling an NG command ({what}); ending the call"
        );
        self.totals.errors += 1;
        if !call_id.is_empty() {
            // The call's state is suspect: ending it may fail too, and is contained as well.
            if catch_unwind(AssertUnwindSafe(|| {
                self.end_call(call_id, EndReason::Shutdown)
            }))
            .is_err()
            {
                tracing::error!(call_id, "internal error while ending the call; dropped");
                self.calls.remove(call_id);
            }
        }
        Err(CallError::Internal)
    }

    /// Executes one NG command. Its media commands are queued but the workers are only woken
    /// by [`settle`](Self::settle).
    pub fn handle(&mut self, req: &NgRequest, now: Instant) -> Result<OwnedValue, CallError> {
        for opt in unsupported::ignored_options(req) {
            tracing::warn!(
                call_id = req.call_id.as_deref().unwrap_or(""),
                "option {opt} is accepted but not implemented yet; ignored"
            );
        }
        let name = req.command.name();
        match self.totals.commands.get_mut(name) {
            Some(n) => *n += 1,
            None => {
                self.totals.commands.insert(name.to_string(), 1);
            }
        }
        let r = match &req.command {
            Command::Ping => Ok(OwnedValue::dict().with("result", OwnedValue::lit("pong"))),
            Command::Offer => self.offer(req, now),
            Command::Answer => self.answer(req, now),
            Command::Delete => self.delete(req, now),
            Command::Query => self.query(req),
            Command::List => Ok(self.list(req)),
            Command::Statistics => Ok(self.statistics()),
            Command::StartRecording | Command::StopRecording | Command::PauseRecording => {
                self.rec_command(req)
            }
            other => Err(CallError::Unsupported(format!("{other:?}"))),
        };
        if r.is_err() {
            self.totals.errors += 1;
        }
        r
    }

    fn pick_interface(&self, family: AddrFamily, name: Option<&str>) -> Option<&Interface> {
        let ifs = &self.cfg.interfaces;
        if let Some(n) = name {
            if let Some(i) = ifs
                .iter()
                .find(|i| i.name == n && matches_family(i.address, family))
            {
                return Some(i);
            }
        }
        ifs.iter().find(|i| matches_family(i.address, family))
    }

    fn latch_policy(&self, req: &NgRequest) -> LatchPolicy {
        LatchPolicy {
            mode: self.cfg.endpoint_learning,
            strict_source: req.flags.strict_source,
            asymmetric: req.flags.asymmetric,
            media_handover: req.flags.media_handover,
        }
    }

    fn offer(&mut self, req: &NgRequest, now: Instant) -> Result<OwnedValue, CallError> {
        let Some(SdpRequest {
            call_id,
            from_tag,
            session,
            descs,
        }) = sdp_request(req)?
        else {
            return Ok(untouched(req.sdp.as_deref().unwrap_or_default()));
        };
        // Codec options are judged before any state changes: a refused offer leaves no trace.
        let codec_flags = CodecFlags::from_request(req);
        let mut codec_plans = session
            .media()
            .iter()
            .map(|m| offer_codecs(m, &codec_flags))
            .collect::<Result<Vec<_>, _>>()?;
        let (secs, us) = unix_now();

        if !self.calls.contains_key(call_id) {
            let worker = self.media.pick_worker();
            self.totals.managed += 1;
            self.calls.insert(
                call_id.to_string(),
                Box::new(Call {
                    id: call_id.to_string(),
                    worker,
                    created: secs,
                    created_us: us,
                    created_at: now,
                    last_signal: secs,
                    last_signal_at: now,
                    // The offerer and the party the offer goes to (forks add more).
                    monologues: Vec::with_capacity(2),
                    delete_at: None,
                    record_call: false,
                }),
            );
        }
        let call = self.calls.get_mut(call_id).ok_or(CallError::UnknownCall)?;
        call.last_signal = secs;
        call.last_signal_at = now;
        call.delete_at = None;
        if req.record_call == Some(true) || req.flags.record_call {
            call.record_call = true;
        }

        // The offerer, and the party the offer goes to.
        let a = match call.find_tag(from_tag) {
            Some(i) => i,
            None => {
                call.monologues
                    .push(Monologue::new(Some(from_tag.to_string()), secs));
                call.monologues.len() - 1
            }
        };
        let b = call.offer_target(a, req.to_tag.as_deref(), req.via_branch.as_deref(), secs);
        if let Some(l) = &req.label {
            call.monologues[a].label = Some(l.clone());
        }
        if let Some(v) = &req.via_branch {
            call.monologues[a].via_branch = Some(v.clone());
        }

        let worker = call.worker;
        let in_family = descs
            .iter()
            .find_map(|d| d.address)
            .map(family_of)
            .unwrap_or(AddrFamily::Ip4);
        let out_family = req.address_family.unwrap_or(in_family);
        let a_iface = req
            .direction
            .first()
            .map(String::as_str)
            .or(req.interface.as_deref());
        let b_iface = req
            .direction
            .get(1)
            .map(String::as_str)
            .or(req.interface.as_deref());
        let a_addr = self
            .pick_interface(in_family, a_iface)
            .or_else(|| self.pick_interface(out_family, a_iface))
            .map(|i| (i.address, i.sdp_address()))
            .ok_or(CallError::NoInterface)?;
        let b_addr = self
            .pick_interface(out_family, b_iface)
            .map(|i| (i.address, i.sdp_address()))
            .ok_or(CallError::NoInterface)?;
        let policy = self.latch_policy(req);
        let sdes_flags = sdes::flags(req);
        let osrtp = sdes::OsrtpFlags::from_request(req);

        let call = self.calls.get_mut(call_id).ok_or(CallError::UnknownCall)?;
        for m in [a, b] {
            // Exactly the sections of the SDP: a side is big, growth would leave slack.
            let medias = &mut call.monologues[m].medias;
            medias.reserve_exact(descs.len().saturating_sub(medias.len()));
        }
        for (i, d) in descs.iter().enumerate() {
            for m in [a, b] {
                while call.monologues[m].medias.len() <= i {
                    call.monologues[m].medias.push(MediaSide::default());
                }
            }
            let relayed = d.is_relayed() && !d.is_rejected();
            for (m, (bind, _)) in [(a, a_addr), (b, b_addr)] {
                let mono = &mut call.monologues[m];
                let tag = mono.tag.as_deref().unwrap_or("");
                let side = &mut mono.medias[i];
                let wrong_family = side.leg.as_ref().is_some_and(|l| l.address != bind);
                if (!relayed || wrong_family) && side.leg.is_some() {
                    if let Some(l) = side.leg.take() {
                        self.media.remove_leg(&l);
                    }
                }
                if relayed && side.leg.is_none() {
                    let leg = self
                        .media
                        .add_leg(worker, bind, call_id, tag)
                        .map_err(|_| CallError::NoPorts)?;
                    side.leg = Some(leg);
                }
            }
            let a_side = &mut call.monologues[a].medias[i];
            a_side.desc = d.clone();

            let to_b = offer_mux(&req.rtcp_mux, d.rtcp_mux);
            let require = req.rtcp_mux.contains(&RtcpMuxFlag::Require);
            let b_side = &mut call.monologues[b].medias[i];
            b_side.mux_offered_to = to_b;
            // Kept with the party the offer went to: each branch of a fork has its own.
            b_side.mux_flags = req.rtcp_mux.clone();
            if require {
                b_side.rtcp_mux = true;
            }
            let plan = codec_plans.get_mut(i).and_then(Option::take);
            let (a_side, b_side) = two_sides_mut(call, a, b, i);
            apply_offer_codecs(a_side, b_side, plan);
            if let Some(m) = session.media().get(i) {
                let out_protocol = req.transport_protocol.as_deref().unwrap_or(&d.protocol);
                let forced = req.transport_protocol.is_some();
                sdes::on_offer(a_side, b_side, m, out_protocol, forced, &sdes_flags, osrtp);
                webrtc::on_offer(a_side, b_side, &session, i, out_protocol, req);
            }
        }
        // Sections dropped from the SDP: release their sockets.
        for m in [a, b] {
            while call.monologues[m].medias.len() > descs.len() {
                if let Some(side) = call.monologues[m].medias.pop() {
                    if let Some(l) = side.leg {
                        self.media.remove_leg(&l);
                    }
                }
            }
        }
        call.monologues[a].bundle = bundle_group(&session);
        #[cfg(test)]
        if self.panic_on.as_deref() == Some(call_id) {
            panic!("injected failure in the offer of {call_id}");
        }
        ice_addresses(&mut self.media, call, a, b, &self.cfg.interfaces);
        configure_pair(&self.media, call, a, b, policy, req.flags.loop_protect);

        let out = {
            let (recv, send) = two_mut(&mut call.monologues, b, a);
            let ours = sdpview::Ours {
                sdp_addr: b_addr.1,
                cert: self.dtls_cert.as_ref(),
                interfaces: &self.cfg.interfaces,
            };
            sdpview::rewrite_for(&session, recv, send, ours, req, true)
                .map_err(|e| CallError::BadSdp(e.to_string()))?
        };
        tracing::info!(target: REQUEST_LOG, call_id, from_tag, "offer processed");
        let mut reply = OwnedValue::dict().with("sdp", OwnedValue::str(&out));
        self.rec_after_sdp(req, "offer", a, &out, &mut reply);
        reply.push("result", OwnedValue::lit("ok"));
        Ok(reply)
    }

    fn answer(&mut self, req: &NgRequest, now: Instant) -> Result<OwnedValue, CallError> {
        let Some(SdpRequest {
            call_id,
            from_tag,
            session,
            descs,
        }) = sdp_request(req)?
        else {
            return Ok(untouched(req.sdp.as_deref().unwrap_or_default()));
        };
        let (secs, _) = unix_now();
        let policy = self.latch_policy(req);
        let call = self.calls.get_mut(call_id).ok_or(CallError::UnknownCall)?;
        call.last_signal = secs;
        call.last_signal_at = now;
        if req.record_call == Some(true) || req.flags.record_call {
            call.record_call = true;
        }
        let a = call.find_tag(from_tag).ok_or(CallError::UnknownTag)?;
        // The answerer: the monologue with the To-tag, else the untagged one the offer created.
        let b = call
            .answer_source(a, req.to_tag.as_deref(), req.via_branch.as_deref())
            .ok_or(CallError::UnknownTag)?;
        if a == b {
            return Err(CallError::SameTags);
        }
        // Codec negotiation of every section, before the media state changes: a refused
        // answer (it would need transcoding) leaves the negotiated media as it was.
        let codec_flags = CodecFlags::from_request(req);
        let mut codec_plans = Vec::with_capacity(descs.len());
        for (i, m) in session.media().iter().enumerate() {
            let offer = call.monologues[a]
                .medias
                .get(i)
                .and_then(|s| s.codecs.offer.as_ref());
            codec_plans.push(answer_codecs(m, offer, &codec_flags)?);
        }
        let mut warnings: Vec<String> = Vec::new();
        let sdes_flags = sdes::flags(req);
        let osrtp = sdes::OsrtpFlags::from_request(req);
        if let Some(l) = &req.label {
            call.monologues[b].label = Some(l.clone());
        }
        for (i, d) in descs.iter().enumerate() {
            if i >= call.monologues[b].medias.len() || i >= call.monologues[a].medias.len() {
                break;
            }
            let b_side = &mut call.monologues[b].medias[i];
            b_side.desc = d.clone();
            if !b_side.rtcp_mux {
                b_side.rtcp_mux = b_side.mux_offered_to && d.rtcp_mux;
            }
            let b_mux = b_side.rtcp_mux;
            let mut flags = b_side.mux_flags.clone();
            flags.extend(req.rtcp_mux.iter().cloned());
            let a_side = &mut call.monologues[a].medias[i];
            a_side.rtcp_mux = accept_mux(&flags, a_side.desc.rtcp_mux, b_mux);
            let plan = codec_plans.get_mut(i).and_then(Option::take);
            if let Some(p) = &plan {
                warnings.extend(p.warnings.iter().cloned());
            }
            let (a_side, b_side) = two_sides_mut(call, a, b, i);
            apply_answer_codecs(a_side, b_side, plan);
            if let Some(m) = session.media().get(i) {
                sdes::on_answer(a_side, b_side, m, &sdes_flags, osrtp);
                webrtc::on_answer(a_side, b_side, &session, i, req);
            }
            if d.is_rejected() {
                for m in [a, b] {
                    if let Some(l) = call.monologues[m].medias[i].leg.take() {
                        self.media.remove_leg(&l);
                    }
                }
            }
        }
        ice_addresses(&mut self.media, call, a, b, &self.cfg.interfaces);
        configure_pair(&self.media, call, a, b, policy, req.flags.loop_protect);
        let local = call.monologues[a]
            .medias
            .iter()
            .find_map(|s| s.leg.as_ref())
            .map(|l| l.address);
        let adv = local
            .and_then(|ip| {
                self.cfg
                    .interfaces
                    .iter()
                    .find(|i| i.address == ip)
                    .map(|i| i.sdp_address())
            })
            .or(local)
            .unwrap_or(self.cfg.interfaces[0].sdp_address());
        let out = {
            let (recv, send) = two_mut(&mut call.monologues, a, b);
            let ours = sdpview::Ours {
                sdp_addr: adv,
                cert: self.dtls_cert.as_ref(),
                interfaces: &self.cfg.interfaces,
            };
            sdpview::rewrite_for(&session, recv, send, ours, req, false)
                .map_err(|e| CallError::BadSdp(e.to_string()))?
        };
        tracing::info!(
            target: REQUEST_LOG,
            call_id,
            from_tag,
            to_tag = req.to_tag.as_deref().unwrap_or(""),
            "answer processed"
        );
        let mut reply = OwnedValue::dict().with("sdp", OwnedValue::str(&out));
        if !warnings.is_empty() {
            for w in &warnings {
                tracing::warn!(call_id, "{w}");
            }
            reply.push("warning", OwnedValue::str(&warnings.join("; ")));
        }
        self.rec_after_sdp(req, "answer", b, &out, &mut reply);
        reply.push("result", OwnedValue::lit("ok"));
        Ok(reply)
    }

    fn delete(&mut self, req: &NgRequest, now: Instant) -> Result<OwnedValue, CallError> {
        let call_id = req.call_id.as_deref().ok_or(CallError::NoCallId)?;
        let Some(call) = self.calls.get_mut(call_id) else {
            if req.flags.fatal {
                return Err(CallError::UnknownCall);
            }
            return Ok(OwnedValue::dict()
                .with("result", OwnedValue::lit("ok"))
                .with(
                    "warning",
                    OwnedValue::lit("Call-ID not found or tags didn't match"),
                ));
        };
        let delay = req.delete_delay.unwrap_or(self.cfg.delete_delay);
        let stats = if req.from_tag.is_some() {
            Some(query::call_stats(call))
        } else {
            None
        };
        // Which parties go: the named tags (or the placeholder of the named via-branch), plus
        // placeholders left talking to nobody. If no two live parties still talk, the whole
        // call goes (after delete-delay); otherwise only those parties, at once.
        let mut gone: Vec<usize> = Vec::new();
        if let Some(ft) = req.from_tag.as_deref() {
            let a = call.find_tag(ft);
            let branch_placeholder = req.via_branch.as_deref().and_then(|br| {
                call.monologues.iter().position(|m| {
                    !m.deleted && m.tag.is_none() && m.via_branch.as_deref() == Some(br)
                })
            });
            match (branch_placeholder, a) {
                (Some(p), _) if req.to_tag.is_none() && call.monologues.len() > 2 => gone.push(p),
                (_, Some(a)) => {
                    gone.push(a);
                    if let Some(b) = req.to_tag.as_deref().and_then(|t| call.find_tag(t)) {
                        gone.push(b);
                    }
                }
                (_, None) => {
                    if req.flags.fatal {
                        return Err(CallError::UnknownTag);
                    }
                }
            }
        }
        let whole = gone.is_empty() || {
            let mut marked = gone.clone();
            for &g in &gone {
                call.monologues[g].deleted = true;
            }
            for i in 0..call.monologues.len() {
                let m = &call.monologues[i];
                if !m.deleted
                    && m.tag.is_none()
                    && m.peer.is_some_and(|p| call.monologues[p].deleted)
                {
                    call.monologues[i].deleted = true;
                    marked.push(i);
                }
            }
            let whole = !call.has_live_pair();
            if whole {
                // The call stays whole (and queryable, with media) until delete-delay ends.
                for i in marked {
                    call.monologues[i].deleted = false;
                }
            }
            whole
        };
        if !whole {
            let worker = call.worker;
            for m in call.monologues.iter_mut().filter(|m| m.deleted) {
                for side in &mut m.medias {
                    if let Some(l) = side.leg.take() {
                        self.media.remove_leg(&l);
                    }
                }
            }
            self.media.request_sync(worker);
            tracing::info!(
                target: REQUEST_LOG,
                call_id,
                parties = gone.len(),
                "delete processed: branch removed, call continues"
            );
        }
        if whole {
            if delay == 0 {
                self.end_call(call_id, EndReason::Deleted);
            } else {
                call.delete_at = Some(now + Duration::from_secs(delay as u64));
            }
            self.rec_deleted(call_id);
        }
        tracing::info!(target: REQUEST_LOG, call_id, delay, "delete processed");
        let mut reply = match stats {
            Some(s) => s,
            None => OwnedValue::dict(),
        };
        reply.push("result", OwnedValue::lit("ok"));
        Ok(reply)
    }

    fn query(&mut self, req: &NgRequest) -> Result<OwnedValue, CallError> {
        let call_id = req.call_id.as_deref().ok_or(CallError::NoCallId)?;
        let call = self.calls.get(call_id).ok_or(CallError::UnknownCall)?;
        let mut reply = query::call_stats(call);
        reply.push("result", OwnedValue::lit("ok"));
        Ok(reply)
    }

    fn list(&self, _req: &NgRequest) -> OwnedValue {
        let mut ids: Vec<&String> = self.calls.keys().collect();
        ids.sort();
        let list = ids
            .into_iter()
            .take(32)
            .map(|s| OwnedValue::str(s))
            .collect();
        OwnedValue::dict()
            .with("calls", OwnedValue::List(list))
            .with("result", OwnedValue::lit("ok"))
    }

    fn statistics(&self) -> OwnedValue {
        query::statistics(self, self.started.elapsed())
    }

    fn end_call(&mut self, call_id: &str, reason: EndReason) {
        if let Some(call) = self.calls.remove(call_id) {
            for leg in call.legs() {
                self.media.remove_leg(leg);
            }
            self.media.request_sync(call.worker);
            self.rec_call_ended(&call);
            let t = &mut self.totals;
            match reason {
                EndReason::Deleted => t.regular_terminated += 1,
                EndReason::Timeout => t.timeout += 1,
                EndReason::SilentTimeout => t.silent_timeout += 1,
                EndReason::FinalTimeout => t.final_timeout += 1,
                EndReason::Shutdown => t.forced_terminated += 1,
            }
            tracing::info!(target: REQUEST_LOG, call_id, ?reason, "call ended");
        }
    }

    /// Timers: delete-delay expiry and media timeouts. Call about once a second.
    ///
    /// Every call's state is out of the caches by the time this runs (the media workers had
    /// the core), so the walk is cache-miss bound: 250-440 us of CPU at 1000 calls in one go,
    /// during which a media worker sharing the core waited. It gives way every 64 calls
    /// (`TICK_SLICE`), and looks at the SDP directions only for a call idle long enough for
    /// either timeout.
    pub fn tick(&mut self, now: Instant) {
        let (unix, _) = unix_now();
        let cfg = self.cfg.clone();
        let min_limit = match (cfg.timeout, cfg.silent_timeout) {
            (0, 0) => None,
            (0, l) | (l, 0) => Some(l),
            (a, b) => Some(a.min(b)),
        };
        let mut ended = Vec::new();
        for (n, (id, call)) in self.calls.iter().enumerate() {
            if n > 0 && n % TICK_SLICE == 0 {
                std::thread::yield_now();
            }
            if call.delete_at.is_some_and(|t| now >= t) {
                ended.push((id.clone(), EndReason::Deleted));
                continue;
            }
            if cfg.final_timeout > 0
                && now.duration_since(call.created_at)
                    >= Duration::from_secs(cfg.final_timeout as u64)
            {
                ended.push((id.clone(), EndReason::FinalTimeout));
                continue;
            }
            let last_media = call
                .legs()
                .map(|l| {
                    l.stats
                        .rtp
                        .last_packet
                        .load(std::sync::atomic::Ordering::Relaxed)
                        .max(
                            l.stats
                                .rtcp
                                .last_packet
                                .load(std::sync::atomic::Ordering::Relaxed),
                        )
                })
                .max()
                .unwrap_or(0);
            let idle = unix.saturating_sub(last_media.max(call.last_signal));
            if min_limit.is_none_or(|l| idle < l as u64) {
                continue;
            }
            let on_hold = call.monologues.iter().all(|m| {
                m.medias.iter().all(|s| {
                    matches!(
                        s.desc.direction,
                        Some(Direction::SendOnly | Direction::RecvOnly | Direction::Inactive)
                    )
                })
            });
            let (limit, reason) = if on_hold {
                (cfg.silent_timeout, EndReason::SilentTimeout)
            } else {
                (cfg.timeout, EndReason::Timeout)
            };
            if limit > 0 && idle >= limit as u64 {
                ended.push((id.clone(), reason));
            }
        }
        for (id, reason) in ended {
            self.end_call(&id, reason);
        }
        self.settle();
    }

    /// Ends every call and stops the media workers (SIGTERM).
    pub fn shutdown(&mut self) {
        let ids: Vec<String> = self.calls.keys().cloned().collect();
        for id in ids {
            self.end_call(&id, EndReason::Shutdown);
        }
        self.media.shutdown();
        self.rec_shutdown();
    }
}

/// What offer and answer both read first.
struct SdpRequest<'r> {
    call_id: &'r str,
    from_tag: &'r str,
    session: Session<'r>,
    descs: Vec<model::MediaDesc>,
}

/// The keys offer and answer require, the party's SDP parsed; `None` when loop-protect finds
/// our own marker (the SDP then goes on untouched).
fn sdp_request(req: &NgRequest) -> Result<Option<SdpRequest<'_>>, CallError> {
    let call_id = req.call_id.as_deref().ok_or(CallError::NoCallId)?;
    let from_tag = req.from_tag.as_deref().ok_or(CallError::NoFromTag)?;
    let sdp_text = req.sdp.as_deref().ok_or(CallError::NoSdp)?;
    let session = Session::parse(sdp_text).map_err(|e| CallError::BadSdp(e.to_string()))?;
    if sdpview::is_own_loop(&session, req) {
        return Ok(None);
    }
    let descs = party_descs(&session, req);
    Ok(Some(SdpRequest {
        call_id,
        from_tag,
        session,
        descs,
    }))
}

/// The reply for an SDP we must not touch (loop-protect found our own marker).
fn untouched(sdp: &str) -> OwnedValue {
    tracing::info!(
        target: REQUEST_LOG,
        "SDP already carries our loop-protect marker; passed on untouched"
    );
    OwnedValue::dict()
        .with("sdp", OwnedValue::str(sdp))
        .with("result", OwnedValue::lit("ok"))
}

/// The party's media as its SDP describes it; with `SIP-source-address`, the address the SIP
/// message came from (`received-from`) replaces the SDP's.
fn party_descs(session: &Session, req: &NgRequest) -> Vec<model::MediaDesc> {
    let mut descs = sdpview::describe(session);
    if req.flags.sip_source_address {
        if let Some((_, ip)) = req.received_from {
            for d in &mut descs {
                if d.address.is_some_and(|a| !a.is_unspecified()) {
                    d.address = Some(ip);
                }
            }
        }
    }
    descs
}

/// Legs that do ICE get host candidates on every configured interface address.
fn ice_addresses(media: &mut MediaPlane, call: &mut Call, a: usize, b: usize, ifs: &[Interface]) {
    let addrs: Vec<IpAddr> = ifs.iter().map(|i| i.address).collect();
    if addrs.len() < 2 {
        return;
    }
    for m in [a, b] {
        for side in &mut call.monologues[m].medias {
            if let (true, Some(leg)) = (side.ice.on, side.leg.as_mut()) {
                media.add_ice_addresses(leg, &addrs);
            }
        }
    }
}

/// Points the two parties' legs at each other and tells each worker where to send.
fn configure_pair(
    media: &MediaPlane,
    call: &Call,
    a: usize,
    b: usize,
    latch: LatchPolicy,
    loop_protect: bool,
) {
    let (ma, mb) = (&call.monologues[a], &call.monologues[b]);
    for (i, sa) in ma.medias.iter().enumerate() {
        let Some(sb) = mb.medias.get(i) else { continue };
        for (me, other) in [(sa, sb), (sb, sa)] {
            if let Some(leg) = &me.leg {
                // Before its party's SDP (an offer not answered yet) the leg relays nothing
                // from it, but knows what it will carry: the protocol offered to it.
                let awaiting_sdp = me.desc.protocol.is_empty();
                let protocol = if awaiting_sdp {
                    &other.desc.protocol
                } else {
                    &me.desc.protocol
                };
                media.configure(
                    leg,
                    LegConfig {
                        peer: other.leg.as_ref().map(|l| l.id),
                        awaiting_sdp,
                        advertised_rtp: me.desc.rtp_endpoint(),
                        advertised_rtcp: me.desc.rtcp_endpoint(),
                        rtcp_mux: me.rtcp_mux,
                        latch,
                        loop_protect,
                        rtp: protocol
                            .as_bytes()
                            .windows(3)
                            .any(|w| w.eq_ignore_ascii_case(b"RTP")),
                        payload_types: me.codecs.inbound.clone(),
                        srtp_recv: me.sdes.recv.clone().map(Box::new),
                        srtp_send: me.sdes.send.clone().map(Box::new),
                        ice: webrtc::ice_config(me).map(Box::new),
                        dtls: webrtc::dtls_config(me).map(Box::new),
                    },
                );
            }
        }
    }
}

/// The mids of a session's `a=group:BUNDLE`, if it has one.
fn bundle_group(s: &Session) -> Option<Vec<String>> {
    s.attrs("group")
        .find_map(|g| g.strip_prefix("BUNDLE"))
        .map(|mids| mids.split_whitespace().map(str::to_string).collect())
}

/// The offer's codec plan for one section: `None` for sections without RTP codecs.
fn offer_codecs(m: &Media, flags: &CodecFlags) -> Result<Option<OfferPlan>, CallError> {
    match MediaCodecs::from_media(m).map_err(|e| CallError::BadSdp(e.to_string()))? {
        Some(section) => Ok(Some(codec::offer(&section, flags)?)),
        None => Ok(None),
    }
}

/// The answer's codec plan for one section, given the offerer's plan for it.
fn answer_codecs(
    m: &Media,
    offer: Option<&OfferPlan>,
    flags: &CodecFlags,
) -> Result<Option<AnswerPlan>, CallError> {
    let Some(offer) = offer else {
        return Ok(None);
    };
    match MediaCodecs::from_media(m).map_err(|e| CallError::BadSdp(e.to_string()))? {
        Some(section) => Ok(Some(codec::answer(offer, &section, m.port() == 0, flags)?)),
        None => Ok(None),
    }
}

/// Records an offer's codecs: what goes to the answerer (`b`) and what each may send until
/// the answer (or, on a re-offer, what the last answer settled).
fn apply_offer_codecs(a: &mut MediaSide, b: &mut MediaSide, plan: Option<OfferPlan>) {
    match plan {
        Some(plan) => {
            if !(a.codecs.negotiated && b.codecs.negotiated) {
                let early = plan.early_payload_types();
                a.codecs.inbound = early.clone();
                b.codecs.inbound = early;
            }
            b.codecs.out = Some(plan.out.clone());
            b.codecs.ptime_out = plan.ptime;
            b.codecs.offer = None;
            a.codecs.offer = Some(plan);
        }
        None => {
            for s in [&mut *a, &mut *b] {
                s.codecs = Default::default();
            }
        }
    }
}

/// Records an answer's codecs: what goes back to the offerer (`a`) and what each may send.
fn apply_answer_codecs(a: &mut MediaSide, b: &mut MediaSide, plan: Option<AnswerPlan>) {
    match plan {
        Some(plan) => {
            a.codecs.out = Some(plan.out);
            a.codecs.ptime_out = plan.ptime;
            a.codecs.inbound = plan.from_offerer;
            b.codecs.inbound = plan.from_answerer;
            a.codecs.negotiated = true;
            b.codecs.negotiated = true;
        }
        None => {
            a.codecs.out = None;
            a.codecs.ptime_out = None;
            a.codecs.inbound = PayloadTypes::allow_all();
            b.codecs.inbound = PayloadTypes::allow_all();
        }
    }
}

/// Mutable access to the same section of two different monologues.
fn two_sides_mut(
    call: &mut Call,
    a: usize,
    b: usize,
    i: usize,
) -> (&mut MediaSide, &mut MediaSide) {
    let (ma, mb) = two_monologues_mut(&mut call.monologues, a, b);
    (&mut ma.medias[i], &mut mb.medias[i])
}

fn two_monologues_mut(v: &mut [Monologue], a: usize, b: usize) -> (&mut Monologue, &mut Monologue) {
    assert_ne!(a, b, "a monologue never talks to itself");
    if a < b {
        let (lo, hi) = v.split_at_mut(b);
        (&mut lo[a], &mut hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(a);
        (&mut hi[0], &mut lo[b])
    }
}

/// Mutable access to one monologue and shared access to another.
fn two_mut(v: &mut [Monologue], m: usize, other: usize) -> (&mut Monologue, &Monologue) {
    assert_ne!(m, other, "a monologue never talks to itself");
    if m < other {
        let (lo, hi) = v.split_at_mut(other);
        (&mut lo[m], &hi[0])
    } else {
        let (lo, hi) = v.split_at_mut(m);
        (&mut hi[0], &lo[other])
    }
}
