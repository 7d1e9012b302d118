//! Offer/answer negotiation of one RTP media section, without transcoding.
//!
//! [`offer`] applies the codec options to the offerer's codecs and yields the list written
//! into the offer sent on ([`OfferPlan::out`]). [`answer`] matches the answerer's codecs to
//! that list by format ([`super::format::answer_matches`]), not by payload type number, and
//! yields the answer for the offerer in the offerer's numbering, plus what each party may send
//! and how its payload types are renumbered for the other ([`PayloadTypes`]).
//!
//! The order of the operations follows rtpengine 10.5 (read off its behaviour):
//! - offer sent on: `strip`, then `consume`, then `mask` (all three with `except` sparing
//!   codecs from `all`/`full`); `offer` re-adds stripped codecs in the order given (before
//!   the first telephone-event/CN); `transcode` re-adds a codec the offerer offered unless
//!   `strip=full`/`mask=full`; an empty result restores the offerer's list (rtpengine calls
//!   that a usage error). Finally telephone-event and CN of a clock rate that no media codec
//!   has any more are removed, when a codec of that clock rate (or any telephone-event/CN)
//!   was removed by an option (when that leaves nothing, the offerer's list is restored too;
//!   rtpengine writes an `m=` line without formats).
//! - from the offerer we take its codecs minus `strip` (re-added by `offer`/`transcode`) and
//!   minus `ignore`; `accept`/`consume`/`always transcode` mark codecs that rtpengine would
//!   transcode to if the answerer refused them.
//! - answer: the answer's own `strip`/`offer`; every answer codec that matches an offered
//!   format is kept, in the answer's order (a same-numbered match first); `single codec`
//!   keeps the first media codec and every telephone-event/CN. rtx matches through the codec
//!   its `apt=` names (rewritten to the offerer's number); RED only where the payload types
//!   it carries inside its packets are numbered alike on both legs.
//!
//! What needs transcoding is refused with [`CodecError::NeedsTranscoding`]: `transcode` of a
//! codec the offerer did not offer, a `ptime` other than the offerer's, a `ptime-reverse`
//! other than the answerer's. Where rtpengine would transcode only after the answer
//! (`accept`, `consume`, `always transcode`), the answer carries what the answerer accepted
//! and a warning says so.
//!
//! When an active answer keeps no media codec (it accepted only telephone-event, or only
//! codecs nobody offered), rtpengine answers the offerer with the offer's first codec, so the
//! offerer gets a usable SDP; so does rtpbridge, with a warning, instead of an answer with
//! telephone-event alone. A rejected section (port 0) lists the matching codecs, else the
//! offer's first.

use crate::sdp::{starts_with_ignore_case, Codec, Media, SdpError};

use super::flags::{is_all, rtpengine_can_synthesise, spec_matches, CodecFlags};
use super::format::{
    answer_matches, clock_rate, is_dependent, is_supplemental, referenced_payload_types,
    renumber_references, Encoding,
};
use super::payload::PayloadTypes;

/// The codec model of one RTP media section: its payload types in `m=` order with their
/// `a=rtpmap` (or the static table's), `a=fmtp` and `a=rtcp-fb`, and the section's
/// packetization times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaCodecs {
    pub codecs: Vec<Codec>,
    /// `a=ptime`.
    pub ptime: Option<u32>,
    /// `a=maxptime`.
    pub maxptime: Option<u32>,
}

impl MediaCodecs {
    /// The model of an RTP section; `None` for sections without RTP payload types (udptl,
    /// MSRP, ...). A format that is not a payload type number is an error.
    pub fn from_media(m: &Media) -> Result<Option<MediaCodecs>, SdpError> {
        if !m.is_rtp() || m.is_message() {
            return Ok(None);
        }
        let maxptime = m
            .attr("maxptime")
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|v| *v > 0);
        Ok(Some(MediaCodecs {
            codecs: m.codecs()?,
            ptime: m.ptime(),
            maxptime,
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("{0} needs transcoding, which rtpbridge does not do")]
    NeedsTranscoding(String),
}

/// The outcome of an offer for one media section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferPlan {
    /// The codecs of the offer sent on, in order, in the offerer's numbering.
    pub out: Vec<Codec>,
    /// The offerer's section as it offered it.
    pub offered: MediaCodecs,
    /// The offered codecs rtpbridge takes from the offerer (not stripped, not ignored).
    pub usable: Vec<Codec>,
    /// Payload types (offerer's numbers) that `accept`/`consume` marked for transcoding.
    pub accepted: Vec<u8>,
    /// The `a=ptime` to write into the offer sent on (the `ptime` option).
    pub ptime: Option<u32>,
    /// `ptime-reverse`, checked against the answer.
    pub ptime_reverse: Option<u32>,
}

/// The outcome of an answer for one media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerPlan {
    /// The codecs of the answer sent to the offerer, in the offerer's numbering.
    pub out: Vec<Codec>,
    /// `ptime-reverse`: the `a=ptime` to write into that answer.
    pub ptime: Option<u32>,
    /// What the answerer may send, renumbered for the offerer.
    pub from_answerer: PayloadTypes,
    /// What the offerer may send, renumbered for the answerer.
    pub from_offerer: PayloadTypes,
    pub warnings: Vec<String>,
}

/// A codec list being edited, with what the edits touched (for telephone-event/CN cleanup).
struct Store {
    codecs: Vec<Codec>,
    touched_rates: Vec<u32>,
    all_touched: bool,
    strip_full: bool,
}

impl Store {
    fn new(codecs: &[Codec]) -> Store {
        Store {
            codecs: codecs.to_vec(),
            touched_rates: Vec::new(),
            all_touched: false,
            strip_full: false,
        }
    }

    fn touch(&mut self, c: &Codec) {
        if is_supplemental(c) {
            self.all_touched = true;
        } else {
            let rate = clock_rate(c).unwrap_or(0);
            if !self.touched_rates.contains(&rate) {
                self.touched_rates.push(rate);
            }
        }
    }

    fn has(&self, spec: &str) -> bool {
        self.codecs.iter().any(|c| spec_matches(spec, c))
    }

    fn has_pt(&self, pt: u8) -> bool {
        self.codecs.iter().any(|c| c.payload_type == pt)
    }

    /// Removes the codecs `specs` name; `all`/`full` remove all but those `except` names.
    fn strip(&mut self, specs: &[String], except: &[String]) {
        for spec in specs {
            let all = is_all(spec);
            if spec.eq_ignore_ascii_case("full") {
                self.strip_full = true;
            }
            let mut removed = Vec::new();
            self.codecs.retain(|c| {
                let hit = if all {
                    !except.iter().any(|e| spec_matches(e, c))
                } else {
                    spec_matches(spec, c)
                };
                if hit {
                    removed.push(c.clone());
                }
                !hit
            });
            for c in &removed {
                self.touch(c);
            }
        }
    }

    /// Inserts `c` after the media codecs, before the first telephone-event/CN.
    fn insert_ordered(&mut self, c: Codec) {
        let at = self
            .codecs
            .iter()
            .position(is_supplemental)
            .unwrap_or(self.codecs.len());
        self.touch(&c);
        self.codecs.insert(at, c);
    }

    /// Re-adds codecs of `orig` that `specs` name and that are not here any more. Returns
    /// whether `spec` was found in `orig`.
    fn readd(&mut self, spec: &str, orig: &[Codec]) -> bool {
        if self.has(spec) {
            return true;
        }
        let mut found = false;
        for c in orig.iter().filter(|c| spec_matches(spec, c)) {
            found = true;
            if !self.has_pt(c.payload_type) {
                self.insert_ordered(c.clone());
            }
        }
        found
    }

    /// An empty list after the options is a usage error: back to the original codecs.
    fn restore_if_empty(&mut self, orig: &[Codec]) {
        if self.codecs.is_empty() {
            *self = Store::new(orig);
        }
    }

    /// Drops telephone-event/CN of clock rates that lost their media codecs to an option.
    fn drop_stray_supplemental(&mut self) {
        let rates: Vec<u32> = self
            .codecs
            .iter()
            .filter(|c| !is_supplemental(c))
            .filter_map(clock_rate)
            .collect();
        let (all, touched) = (self.all_touched, &self.touched_rates);
        self.codecs.retain(|c| {
            if !is_supplemental(c) {
                return true;
            }
            let rate = clock_rate(c).unwrap_or(0);
            rates.contains(&rate) || !(all || touched.contains(&rate))
        });
    }
}

/// The packetization time a codec uses when the SDP gives none (RFC 3551).
fn default_ptime(codecs: &[Codec]) -> u32 {
    let first = codecs.iter().find(|c| !is_supplemental(c));
    match first
        .and_then(|c| c.encoding.as_deref())
        .and_then(Encoding::parse)
    {
        Some(e) if e.name.eq_ignore_ascii_case("G723") => 30,
        _ => 20,
    }
}

fn describe(c: &Codec) -> String {
    match &c.encoding {
        Some(e) => format!("{e} ({})", c.payload_type),
        None => format!("payload type {}", c.payload_type),
    }
}

/// Applies the offer's codec options to the offerer's codecs of one RTP section.
pub fn offer(section: &MediaCodecs, flags: &CodecFlags) -> Result<OfferPlan, CodecError> {
    let offered = &section.codecs[..];
    // The offer sent on.
    let mut out = Store::new(offered);
    out.strip(&flags.strip, &flags.except);
    out.strip(&flags.consume, &flags.except);
    out.strip(&flags.mask, &flags.except);
    for spec in &flags.offer {
        out.readd(spec, offered);
    }
    for spec in &flags.transcode {
        if out.has(spec) {
            continue;
        }
        let in_offer = offered.iter().any(|c| spec_matches(spec, c));
        if in_offer && !out.strip_full {
            out.readd(spec, offered);
        } else if rtpengine_can_synthesise(spec) {
            return Err(CodecError::NeedsTranscoding(format!(
                "codec transcode '{spec}' ({})",
                if in_offer {
                    "stripped with 'full'"
                } else {
                    "not in the offer"
                }
            )));
        }
        // rtpengine skips names it cannot synthesise; so do we.
    }
    out.restore_if_empty(offered);
    out.drop_stray_supplemental();
    // Only telephone-event/CN were left, and they went with their clock rate: rtpengine then
    // sends an m= line without formats; treat it as the usage error it is.
    out.restore_if_empty(offered);

    // What we take from the offerer.
    let mut usable = Store::new(offered);
    usable.strip(&flags.strip, &flags.except);
    for spec in &flags.offer {
        usable.readd(spec, offered);
    }
    if !usable.strip_full {
        for spec in &flags.transcode {
            usable.readd(spec, offered);
        }
    }
    usable.restore_if_empty(offered);
    for spec in &flags.consume {
        usable.readd(spec, offered);
    }
    usable
        .codecs
        .retain(|c| !flags.ignore.iter().any(|s| spec_matches(s, c)));
    let mut accepted = Vec::new();
    for spec in flags.accept.iter().chain(&flags.consume) {
        for c in usable.codecs.iter() {
            if (is_all(spec) || spec_matches(spec, c)) && !accepted.contains(&c.payload_type) {
                accepted.push(c.payload_type);
            }
        }
    }

    if let Some(want) = flags.ptime {
        let have = section.ptime.unwrap_or_else(|| default_ptime(&out.codecs));
        if want != have {
            return Err(CodecError::NeedsTranscoding(format!(
                "ptime {want} (the offer sends {have} ms packets; repacketizing)"
            )));
        }
    }
    Ok(OfferPlan {
        out: out.codecs,
        offered: section.clone(),
        usable: usable.codecs,
        accepted,
        ptime: flags.ptime,
        ptime_reverse: flags.ptime_reverse,
    })
}

/// Payload types allowed before the answer: those of the offer sent on, both ways, unchanged.
impl OfferPlan {
    pub fn early_payload_types(&self) -> PayloadTypes {
        if self.out.is_empty() {
            return PayloadTypes::allow_all();
        }
        let mut p = PayloadTypes::none();
        for c in &self.out {
            p.allow(c.payload_type, c.payload_type);
        }
        p
    }
}

/// Matches the answerer's codecs of one RTP section to the offer. `rejected`: the answer's
/// port is 0.
pub fn answer(
    plan: &OfferPlan,
    section: &MediaCodecs,
    rejected: bool,
    flags: &CodecFlags,
) -> Result<AnswerPlan, CodecError> {
    let answered = &section.codecs[..];
    let mut warnings = Vec::new();
    if let (Some(want), false) = (plan.ptime_reverse, rejected) {
        let have = section.ptime.unwrap_or_else(|| default_ptime(answered));
        if want != have {
            return Err(CodecError::NeedsTranscoding(format!(
                "ptime-reverse {want} (the answer sends {have} ms packets; repacketizing)"
            )));
        }
    }

    // The answer's own options.
    let mut ans = Store::new(answered);
    ans.strip(&flags.strip, &flags.except);
    for spec in &flags.offer {
        ans.readd(spec, answered);
    }
    ans.restore_if_empty(answered);

    // Match by format; a same-numbered match first, then the first free one in offer order.
    // rtx and RED come second: they match through the codecs they serve.
    let usable = |c: &Codec| plan.usable.iter().any(|u| u.payload_type == c.payload_type);
    let mut taken = vec![false; plan.out.len()];
    // (position in the answer, the answer's codec, the offer's payload type)
    let mut matched: Vec<(usize, Codec, u8)> = Vec::new();
    let pick = |taken: &[bool], a: &Codec, fits: &dyn Fn(&Codec) -> bool| {
        let free = |i: usize, o: &Codec| !taken[i] && usable(o) && answer_matches(o, a) && fits(o);
        plan.out
            .iter()
            .enumerate()
            .position(|(i, o)| o.payload_type == a.payload_type && free(i, o))
            .or_else(|| plan.out.iter().enumerate().position(|(i, o)| free(i, o)))
    };
    for (n, a) in ans
        .codecs
        .iter()
        .enumerate()
        .filter(|(_, a)| !is_dependent(a))
    {
        if let Some(i) = pick(&taken, a, &|_| true) {
            taken[i] = true;
            matched.push((n, a.clone(), plan.out[i].payload_type));
        }
    }
    if flags.single_codec {
        let mut seen_media = false;
        matched.retain(|(_, a, _)| {
            if is_supplemental(a) {
                return true;
            }
            let keep = !seen_media;
            seen_media = true;
            keep
        });
    }
    for (n, a) in ans
        .codecs
        .iter()
        .enumerate()
        .filter(|(_, a)| is_dependent(a))
    {
        // The codecs it serves, in the offerer's numbers; RED carries payload types inside
        // its packets, so it is kept only where both sides number them alike.
        let red = a
            .encoding
            .as_deref()
            .is_some_and(|e| starts_with_ignore_case(e, "red/"));
        let to_offer = |pt: u8| {
            matched
                .iter()
                .find(|(_, m, _)| m.payload_type == pt)
                .map(|(_, _, o)| *o)
                .filter(|o| !red || *o == pt)
        };
        let Some(renumbered) = renumber_references(a, to_offer) else {
            continue;
        };
        let refs = referenced_payload_types(&renumbered);
        let fits = |o: &Codec| referenced_payload_types(o) == refs;
        if let Some(i) = pick(&taken, a, &fits) {
            taken[i] = true;
            matched.push((n, renumbered, plan.out[i].payload_type));
        }
    }
    matched.sort_by_key(|(n, _, _)| *n);
    let matched: Vec<(Codec, u8)> = matched.into_iter().map(|(_, a, pt)| (a, pt)).collect();

    // The answer for the offerer: the answerer's codec lines in the offerer's numbering.
    let mut out: Vec<Codec> = matched
        .iter()
        .map(|(a, pt)| Codec {
            payload_type: *pt,
            ..a.clone()
        })
        .collect();
    let mut fallback = None;
    if rejected {
        if out.is_empty() {
            fallback = plan.out.first().cloned();
        }
    } else if !out.iter().any(|c| !is_supplemental(c)) {
        fallback = plan
            .out
            .iter()
            .find(|c| !is_supplemental(c) && usable(c))
            .cloned();
        if let Some(f) = &fallback {
            warnings.push(format!(
                "the answer accepted no media codec of the offer; answering the offerer with {}",
                describe(f)
            ));
        }
    }
    if let Some(f) = &fallback {
        out.insert(0, f.clone());
    }

    // What rtpengine would have transcoded to, had it the chance.
    if !rejected {
        if let Some(w) = transcode_warning(plan, &out) {
            warnings.push(w);
        }
    }

    // Packets. The answerer sends with its own numbers (or, as RFC 3264 has it, the offer's).
    let (from_answerer, from_offerer) = if plan.out.is_empty() {
        (PayloadTypes::allow_all(), PayloadTypes::allow_all())
    } else {
        let mut from_b = PayloadTypes::none();
        let mut from_a = PayloadTypes::none();
        for (a, pt) in &matched {
            from_b.allow(a.payload_type, *pt);
            from_a.allow(*pt, a.payload_type);
        }
        for (_, pt) in &matched {
            if !from_b.allows(*pt) {
                from_b.allow(*pt, *pt);
            }
        }
        if let Some(f) = &fallback {
            if !from_b.allows(f.payload_type) {
                from_b.allow(f.payload_type, f.payload_type);
            }
            if !from_a.allows(f.payload_type) {
                from_a.allow(f.payload_type, f.payload_type);
            }
        }
        (from_b, from_a)
    };
    Ok(AnswerPlan {
        out,
        ptime: plan.ptime_reverse.filter(|_| !rejected),
        from_answerer,
        from_offerer,
        warnings,
    })
}

/// With `accept`/`consume`/`always transcode`, rtpengine answers the offerer with an accepted
/// codec the answerer refused (and transcodes): a media codec it prefers over the one the
/// answerer chose, or a telephone-event/CN of the chosen clock rate.
fn transcode_warning(plan: &OfferPlan, out: &[Codec]) -> Option<String> {
    if plan.accepted.is_empty() {
        return None;
    }
    let first_media = out.iter().find(|c| !is_supplemental(c))?;
    let rate = clock_rate(first_media);
    let missed = plan.usable.iter().find(|c| {
        if !plan.accepted.contains(&c.payload_type)
            || out.iter().any(|o| o.payload_type == c.payload_type)
        {
            return false;
        }
        if is_supplemental(c) {
            return clock_rate(c) == rate;
        }
        // Preferred: before the chosen codec in the offerer's order.
        let pos = |pt| plan.usable.iter().position(|u| u.payload_type == pt);
        pos(c.payload_type) < pos(first_media.payload_type)
    })?;
    Some(format!(
        "rtpengine would transcode to the accepted codec {}; rtpbridge does not transcode and \
         answers with the codecs the answerer accepted",
        describe(missed)
    ))
}

/// Codec state of one party's side of one media section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideCodecs {
    /// The codecs to write into the SDP sent to this party (`None`: as the input has them).
    pub out: Option<Vec<Codec>>,
    /// The `a=ptime` to write into the SDP sent to this party (`ptime`/`ptime-reverse`).
    pub ptime_out: Option<u32>,
    /// This party's latest offer, as negotiated (set while it is the offerer).
    pub offer: Option<OfferPlan>,
    /// What this party may send us, and how its payload types are renumbered.
    pub inbound: PayloadTypes,
    /// An answer has settled `inbound`; a re-offer keeps it until its own answer arrives, so
    /// renumbered media keeps flowing during a re-INVITE.
    pub negotiated: bool,
}

#[cfg(test)]
#[path = "negotiate_tests.rs"]
mod tests;
