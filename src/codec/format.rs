//! What makes two payload formats "the same" for offer/answer.
//!
//! A format is identified by its encoding name (case-insensitive), clock rate and channel
//! count, plus only those `a=fmtp` parameters that select a different bitstream for that
//! codec. Everything else in `a=fmtp` (bitrates, DTMF event lists, Opus' `useinbandfec`,
//! a G.711 `abc=no` nobody knows) describes preferences or capabilities, and an answerer that
//! leaves it out still speaks the same format. Unknown parameters never make two formats
//! different: that is what removed PCMU from an answer in rtpengine mr13.
//!
//! Parameters that do identify a format:
//! - H.264 (RFC 6184): the profile from `profile-level-id` (profile_idc plus the constraint
//!   flags that make e.g. Constrained Baseline; the level is negotiable and ignored), and
//!   `packetization-mode` (default 0). Missing `profile-level-id` means Baseline.
//! - H.265 (RFC 7798): `profile-space` (default 0) and `profile-id` (default 1).
//! - VP9: `profile-id` (default 0). AV1: `profile` (default 0).
//! - AMR and AMR-WB (RFC 4867): `octet-align`, `crc`, `robust-sorting` (default 0) and
//!   `interleaving` must agree; an answer's `mode-set` must lie within the offer's (a side
//!   without `mode-set` allows every mode).
//! - G.722.1 (RFC 5577): `bitrate`.
//!
//! Opus is Opus: `opus/48000` and `opus/48000/2` are the same codec (RFC 7587 always writes
//! two channels), and no Opus parameter changes the format. telephone-event and CN are told
//! apart by clock rate only; their event lists are not identity.

use crate::sdp::Codec;

/// The `name/clock[/channels]` of an `a=rtpmap`, split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding<'a> {
    pub name: &'a str,
    pub clock_rate: u32,
    pub channels: u32,
}

impl<'a> Encoding<'a> {
    /// Splits `name/clock[/channels]`; `None` when the clock rate is missing or not a number.
    pub fn parse(enc: &'a str) -> Option<Encoding<'a>> {
        let mut it = enc.split('/');
        let name = it.next().filter(|n| !n.is_empty())?;
        let clock_rate = it.next()?.trim().parse().ok()?;
        let channels = match it.next() {
            Some(c) => c.trim().parse().ok()?,
            None => 1,
        };
        Some(Encoding {
            name,
            clock_rate,
            channels,
        })
    }

    pub fn family(&self) -> Family {
        Family::of(self.name)
    }
}

/// The codecs whose identity rules differ; everything else compares name, clock and channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    TelephoneEvent,
    ComfortNoise,
    Opus,
    H264,
    H265,
    Vp9,
    Av1,
    Amr,
    AmrWb,
    G7221,
    /// Retransmission (RFC 4588): `apt=` names the payload type it repairs.
    Rtx,
    /// Redundant audio (RFC 2198): the fmtp lists the payload types it carries.
    Red,
    /// G.711, G.722, GSM, G.729, and every codec without format-selecting parameters.
    Plain,
}

impl Family {
    pub fn of(name: &str) -> Family {
        const TABLE: &[(&str, Family)] = &[
            ("telephone-event", Family::TelephoneEvent),
            ("CN", Family::ComfortNoise),
            ("opus", Family::Opus),
            ("H264", Family::H264),
            ("H265", Family::H265),
            ("VP9", Family::Vp9),
            ("AV1", Family::Av1),
            ("AMR", Family::Amr),
            ("AMR-WB", Family::AmrWb),
            ("G7221", Family::G7221),
            ("rtx", Family::Rtx),
            ("red", Family::Red),
        ];
        TABLE
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
            .unwrap_or(Family::Plain)
    }

    /// telephone-event and comfort noise ride along with a media codec of their clock rate.
    pub fn is_supplemental(self) -> bool {
        matches!(self, Family::TelephoneEvent | Family::ComfortNoise)
    }
}

/// Whether `c` is telephone-event or CN.
pub fn is_supplemental(c: &Codec) -> bool {
    c.encoding
        .as_deref()
        .and_then(Encoding::parse)
        .is_some_and(|e| e.family().is_supplemental())
}

/// The clock rate of `c`, when its encoding is known.
pub fn clock_rate(c: &Codec) -> Option<u32> {
    c.encoding
        .as_deref()
        .and_then(Encoding::parse)
        .map(|e| e.clock_rate)
}

/// The `key=value` pairs of an `a=fmtp` value (`;`-separated, keys case-insensitive).
/// Entries without `=` (telephone-event's `0-15`) have an empty key.
pub fn fmtp_params(fmtp: &str) -> impl Iterator<Item = (&str, &str)> {
    fmtp.split(';').filter_map(|p| {
        let p = p.trim();
        if p.is_empty() {
            return None;
        }
        Some(match p.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => ("", p),
        })
    })
}

/// The value of one `a=fmtp` parameter.
pub fn fmtp_param<'a>(fmtp: Option<&'a str>, key: &str) -> Option<&'a str> {
    fmtp_params(fmtp?)
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn int_param(fmtp: Option<&str>, key: &str, default: u32) -> Option<u32> {
    match fmtp_param(fmtp, key) {
        None => Some(default),
        // An unreadable value says nothing about the format: treat it as unknown.
        Some(v) => v.parse().ok(),
    }
}

/// Compares one integer parameter; an unreadable value on either side never differs.
fn same_int(a: Option<&str>, b: Option<&str>, key: &str, default: u32) -> bool {
    match (int_param(a, key, default), int_param(b, key, default)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    }
}

/// H.264 profiles as RFC 6184's `profile-level-id` selects them (ITU-T H.264 Annex A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H264Profile {
    ConstrainedBaseline,
    Baseline,
    Main,
    Extended,
    ConstrainedHigh,
    High,
    /// Any other profile_idc, compared by number.
    Other(u8),
}

/// The profile of an H.264 `profile-level-id` (6 hex digits: profile_idc, profile-iop,
/// level_idc). `None` when it is not 6 hex digits.
pub fn h264_profile(profile_level_id: &str) -> Option<H264Profile> {
    if profile_level_id.len() != 6 || !profile_level_id.is_ascii() {
        return None;
    }
    let idc = u8::from_str_radix(&profile_level_id[0..2], 16).ok()?;
    let iop = u8::from_str_radix(&profile_level_id[2..4], 16).ok()?;
    u8::from_str_radix(&profile_level_id[4..6], 16).ok()?;
    let set0 = iop & 0x80 != 0;
    let set1 = iop & 0x40 != 0;
    // constraint_set3 and constraint_set4/5 select intra or constrained High variants.
    let set4_5 = iop & 0x0c == 0x0c;
    Some(match idc {
        0x42 if set1 => H264Profile::ConstrainedBaseline,
        0x42 => H264Profile::Baseline,
        0x4d if set1 => H264Profile::ConstrainedBaseline,
        0x4d => H264Profile::Main,
        0x58 if set0 && set1 => H264Profile::ConstrainedBaseline,
        0x58 if set0 => H264Profile::Baseline,
        0x58 => H264Profile::Extended,
        0x64 if set4_5 => H264Profile::ConstrainedHigh,
        0x64 => H264Profile::High,
        other => H264Profile::Other(other),
    })
}

fn h264_compatible(a: Option<&str>, b: Option<&str>) -> bool {
    // RFC 6184: without profile-level-id, Baseline (level 1) is implied.
    let profile = |f: Option<&str>| match fmtp_param(f, "profile-level-id") {
        None => Some(H264Profile::Baseline),
        Some(v) => h264_profile(v),
    };
    let same_profile = match (profile(a), profile(b)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    same_profile && same_int(a, b, "packetization-mode", 0)
}

/// The AMR modes a `mode-set` allows (bit n = mode n); `None` = unreadable.
fn amr_modes(v: &str) -> Option<u16> {
    let mut set = 0u16;
    for m in v.split(',') {
        let n: u32 = m.trim().parse().ok()?;
        if n > 8 {
            return None;
        }
        set |= 1 << n;
    }
    Some(set)
}

fn amr_compatible(offered: Option<&str>, answered: Option<&str>) -> bool {
    let symmetric = ["octet-align", "crc", "robust-sorting"]
        .iter()
        .all(|k| same_int(offered, answered, k, 0));
    // interleaving has no default: present on one side only is a different format.
    let interleaving = match (
        fmtp_param(offered, "interleaving"),
        fmtp_param(answered, "interleaving"),
    ) {
        (None, None) => true,
        (Some(_), None) | (None, Some(_)) => false,
        (Some(x), Some(y)) => x.parse::<u32>().ok() == y.parse::<u32>().ok(),
    };
    let modes = match (
        fmtp_param(offered, "mode-set").map(amr_modes),
        fmtp_param(answered, "mode-set").map(amr_modes),
    ) {
        (Some(Some(o)), Some(Some(a))) => a & !o == 0,
        _ => true,
    };
    symmetric && interleaving && modes
}

/// Whether `answered` (from an answer) is a format `offered` (from the offer) described.
///
/// The comparison is symmetric except for AMR's `mode-set`, where the answer may narrow the
/// offer's modes but not add to them. Codecs without a known encoding (a dynamic payload type
/// without `a=rtpmap`) can only be matched by payload type number.
pub fn answer_matches(offered: &Codec, answered: &Codec) -> bool {
    let (Some(oe), Some(ae)) = (offered.encoding.as_deref(), answered.encoding.as_deref()) else {
        return offered.payload_type == answered.payload_type;
    };
    let (Some(o), Some(a)) = (Encoding::parse(oe), Encoding::parse(ae)) else {
        return oe.eq_ignore_ascii_case(ae);
    };
    if !o.name.eq_ignore_ascii_case(a.name) || o.clock_rate != a.clock_rate {
        return false;
    }
    let family = o.family();
    if family != Family::Opus && !family.is_supplemental() && o.channels != a.channels {
        return false;
    }
    let (of, af) = (offered.fmtp.as_deref(), answered.fmtp.as_deref());
    match family {
        Family::H264 => h264_compatible(of, af),
        Family::H265 => same_int(of, af, "profile-space", 0) && same_int(of, af, "profile-id", 1),
        Family::Vp9 => same_int(of, af, "profile-id", 0),
        Family::Av1 => same_int(of, af, "profile", 0),
        Family::Amr | Family::AmrWb => amr_compatible(of, af),
        Family::G7221 => match (fmtp_param(of, "bitrate"), fmtp_param(af, "bitrate")) {
            (Some(x), Some(y)) => x.parse::<u32>().ok() == y.parse::<u32>().ok(),
            _ => true,
        },
        // Which codec they serve is checked by the caller, through the payload types.
        Family::Rtx | Family::Red => true,
        Family::TelephoneEvent | Family::ComfortNoise | Family::Opus | Family::Plain => true,
    }
}

/// Whether `c` only makes sense with other payload types of the section (rtx, RED).
pub fn is_dependent(c: &Codec) -> bool {
    c.encoding
        .as_deref()
        .and_then(Encoding::parse)
        .is_some_and(|e| matches!(e.family(), Family::Rtx | Family::Red))
}

/// The payload types an rtx (`apt=N`) or RED (`N/M/...`) format refers to, in order.
/// Empty for other codecs and when the fmtp does not say.
pub fn referenced_payload_types(c: &Codec) -> Vec<u8> {
    let fmtp = c.fmtp.as_deref();
    let family = c
        .encoding
        .as_deref()
        .and_then(Encoding::parse)
        .map(|e| e.family());
    let pt = |v: &str| v.trim().parse::<u8>().ok().filter(|p| *p < 128);
    match family {
        Some(Family::Rtx) => fmtp_param(fmtp, "apt").and_then(pt).into_iter().collect(),
        Some(Family::Red) => fmtp_params(fmtp.unwrap_or(""))
            .find(|(k, _)| k.is_empty())
            .map(|(_, v)| v.split('/').map(pt).collect::<Option<Vec<u8>>>())
            .unwrap_or_default()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `c` with the payload types its fmtp refers to renumbered by `map` (rtx's `apt=`; RED's
/// list). `None` when a reference has no number under `map`.
pub fn renumber_references(c: &Codec, map: impl Fn(u8) -> Option<u8>) -> Option<Codec> {
    let Some(fmtp) = c.fmtp.as_deref() else {
        return Some(c.clone());
    };
    let red = c
        .encoding
        .as_deref()
        .and_then(Encoding::parse)
        .is_some_and(|e| e.family() == Family::Red);
    let mut parts = Vec::new();
    for part in fmtp.split(';') {
        let trimmed = part.trim_start();
        let lead = &part[..part.len() - trimmed.len()];
        let renumbered = match trimmed.split_once('=') {
            Some((k, v)) if !red && k.trim().eq_ignore_ascii_case("apt") => {
                let n = map(v.trim().parse().ok()?)?;
                format!("{lead}{}={n}", k.trim())
            }
            None if red && !trimmed.is_empty() => {
                let pts = trimmed
                    .trim_end()
                    .split('/')
                    .map(|p| p.trim().parse().ok().and_then(&map).map(|n| n.to_string()))
                    .collect::<Option<Vec<String>>>()?;
                format!("{lead}{}", pts.join("/"))
            }
            _ => part.to_string(),
        };
        parts.push(renumbered);
    }
    Some(Codec {
        fmtp: Some(parts.join(";")),
        ..c.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(pt: u8, enc: &str, fmtp: &str) -> Codec {
        Codec {
            payload_type: pt,
            encoding: Some(enc.to_string()),
            fmtp: (!fmtp.is_empty()).then(|| fmtp.to_string()),
            rtcp_fb: Vec::new(),
        }
    }

    /// (family, offered encoding, offered fmtp, answered encoding, answered fmtp, match?)
    const CASES: &[(&str, &str, &str, &str, &str, bool)] = &[
        // G.711, G.722, GSM, G.729: no fmtp parameter identifies the format.
        ("g711", "PCMU/8000", "abc=no", "PCMU/8000", "", true),
        ("g711", "PCMU/8000", "", "pcmu/8000", "abc=yes", true),
        ("g711", "PCMA/8000", "abc=no", "PCMA/8000", "abc=yes", true),
        ("g711", "PCMU/8000", "", "PCMA/8000", "", false),
        ("g711", "PCMU/8000", "", "PCMU/16000", "", false),
        ("g711", "PCMU/8000", "", "PCMU/8000/2", "", false),
        ("g722", "G722/8000", "bitrate=64", "G722/8000", "", true),
        ("g722", "G722/8000", "", "G722/16000", "", false),
        (
            "gsm",
            "GSM/8000",
            "this-is-unknown=no",
            "GSM/8000",
            "",
            true,
        ),
        (
            "g729",
            "G729/8000",
            "annexb=no",
            "G729/8000",
            "annexb=yes",
            true,
        ),
        // telephone-event and CN: the clock rate, never the event list.
        (
            "te",
            "telephone-event/8000",
            "0-15",
            "telephone-event/8000",
            "0-16",
            true,
        ),
        (
            "te",
            "telephone-event/8000",
            "0-15",
            "telephone-event/8000",
            "",
            true,
        ),
        (
            "te",
            "telephone-event/8000",
            "",
            "telephone-event/16000",
            "",
            false,
        ),
        (
            "te",
            "telephone-event/48000",
            "0-15",
            "TELEPHONE-EVENT/48000",
            "0-11",
            true,
        ),
        ("cn", "CN/8000", "", "CN/8000", "", true),
        ("cn", "CN/8000", "", "CN/16000", "", false),
        // Opus: the codec itself, nothing else.
        (
            "opus",
            "opus/48000/2",
            "useinbandfec=1",
            "opus/48000/2",
            "",
            true,
        ),
        ("opus", "opus/48000", "", "opus/48000/2", "stereo=1", true),
        (
            "opus",
            "opus/48000/2",
            "maxplaybackrate=16000",
            "OPUS/48000/2",
            "cbr=1",
            true,
        ),
        ("opus", "opus/48000/2", "", "speex/48000", "", false),
        // H.264: profile and packetization-mode; the level is negotiable.
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=42e00a;packetization-mode=1",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "packetization-mode=1;profile-level-id=42C01F;level-asymmetry-allowed=1",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=4d401f;packetization-mode=1",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=640c1f;packetization-mode=1",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=42001f;packetization-mode=1",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=4d001f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=640032;packetization-mode=1",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=640032;packetization-mode=1",
            "H264/90000",
            "profile-level-id=640c1f;packetization-mode=1",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=640c1f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=640c34;packetization-mode=1",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=0",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=1",
            "H264/90000",
            "profile-level-id=42e01f",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f",
            "H264/90000",
            "profile-level-id=42e01f;packetization-mode=0",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "",
            "H264/90000",
            "profile-level-id=42000a",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "",
            "H264/90000",
            "profile-level-id=42e01f",
            false,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=zzzzzz",
            "H264/90000",
            "profile-level-id=42e01f",
            true,
        ),
        (
            "h264",
            "H264/90000",
            "profile-level-id=42e01f;sprop-parameter-sets=Z0IAH5WoFAFuQA==,aM48gA==",
            "H264/90000",
            "profile-level-id=42e01f;max-br=5000",
            true,
        ),
        // H.265, VP9, AV1: profiles.
        (
            "h265",
            "H265/90000",
            "",
            "H265/90000",
            "profile-id=1;level-id=93",
            true,
        ),
        (
            "h265",
            "H265/90000",
            "profile-id=1",
            "H265/90000",
            "profile-id=2",
            false,
        ),
        (
            "h265",
            "H265/90000",
            "profile-space=0;profile-id=2;tier-flag=0",
            "H265/90000",
            "profile-id=2;tier-flag=1",
            true,
        ),
        ("vp9", "VP9/90000", "", "VP9/90000", "profile-id=0", true),
        (
            "vp9",
            "VP9/90000",
            "profile-id=0",
            "VP9/90000",
            "profile-id=2",
            false,
        ),
        (
            "vp9",
            "VP9/90000",
            "profile-id=2",
            "VP9/90000",
            "profile-id=2;max-fr=30",
            true,
        ),
        (
            "vp8",
            "VP8/90000",
            "max-fs=12288",
            "VP8/90000",
            "max-fr=60",
            true,
        ),
        ("av1", "AV1/90000", "", "AV1/90000", "profile=1", false),
        // AMR / AMR-WB: octet-align and friends must agree, mode-set may only narrow.
        (
            "amr",
            "AMR/8000",
            "octet-align=1",
            "AMR/8000",
            "octet-align=1",
            true,
        ),
        ("amr", "AMR/8000", "octet-align=1", "AMR/8000", "", false),
        ("amr", "AMR/8000", "", "AMR/8000", "octet-align=0", true),
        (
            "amr",
            "AMR/8000",
            "octet-align=0",
            "AMR/8000",
            "octet-align=1",
            false,
        ),
        (
            "amr",
            "AMR/8000",
            "mode-set=0,2,4,7",
            "AMR/8000",
            "mode-set=2,7",
            true,
        ),
        (
            "amr",
            "AMR/8000",
            "mode-set=2,7",
            "AMR/8000",
            "mode-set=0,2,4,7",
            false,
        ),
        ("amr", "AMR/8000", "", "AMR/8000", "mode-set=7", true),
        ("amr", "AMR/8000", "mode-set=7", "AMR/8000", "", true),
        (
            "amr",
            "AMR/8000",
            "crc=1;octet-align=1",
            "AMR/8000",
            "octet-align=1",
            false,
        ),
        (
            "amr",
            "AMR/8000",
            "interleaving=4;octet-align=1",
            "AMR/8000",
            "octet-align=1",
            false,
        ),
        (
            "amr",
            "AMR/8000",
            "mode-change-capability=2;max-red=0",
            "AMR/8000",
            "",
            true,
        ),
        (
            "amr-wb",
            "AMR-WB/16000",
            "octet-align=1;mode-set=0,1,2",
            "AMR-WB/16000",
            "octet-align=1;mode-set=2",
            true,
        ),
        (
            "amr-wb",
            "AMR-WB/16000",
            "octet-align=1",
            "AMR-WB/16000",
            "octet-align=0",
            false,
        ),
        ("amr-wb", "AMR-WB/16000", "", "AMR/8000", "", false),
        // G.722.1: the bitrate selects the format.
        (
            "g7221",
            "G7221/16000",
            "bitrate=24000",
            "G7221/16000",
            "bitrate=32000",
            false,
        ),
        (
            "g7221",
            "G7221/16000",
            "bitrate=24000",
            "G7221/16000",
            "bitrate=24000",
            true,
        ),
        // Unknown codecs: name, clock and channels only.
        (
            "unknown",
            "X-FOO/8000",
            "mode=1",
            "x-foo/8000",
            "mode=2",
            true,
        ),
        ("unknown", "X-FOO/8000", "", "X-BAR/8000", "", false),
    ];

    #[test]
    fn format_identity_table() {
        for (i, (family, oe, of, ae, af, want)) in CASES.iter().enumerate() {
            let offered = c(96, oe, of);
            let answered = c(97, ae, af);
            assert_eq!(
                answer_matches(&offered, &answered),
                *want,
                "case {i} ({family}): offer {oe} {of:?} vs answer {ae} {af:?}"
            );
        }
    }

    #[test]
    fn identity_is_symmetric_except_amr_mode_set() {
        for (family, oe, of, ae, af, _) in CASES {
            let (x, y) = (c(96, oe, of), c(97, ae, af));
            let (fwd, back) = (answer_matches(&x, &y), answer_matches(&y, &x));
            if of.contains("mode-set") || af.contains("mode-set") {
                continue;
            }
            assert_eq!(fwd, back, "{family}: {oe} {of:?} / {ae} {af:?}");
        }
    }

    #[test]
    fn unknown_dynamic_types_match_by_number() {
        let none = |pt| Codec {
            payload_type: pt,
            encoding: None,
            fmtp: None,
            rtcp_fb: Vec::new(),
        };
        assert!(answer_matches(&none(96), &none(96)));
        assert!(!answer_matches(&none(96), &none(97)));
        assert!(answer_matches(&none(96), &c(96, "opus/48000/2", "")));
        assert!(!answer_matches(&c(97, "opus/48000/2", ""), &none(96)));
    }

    #[test]
    fn encodings_split() {
        assert_eq!(
            Encoding::parse("opus/48000/2"),
            Some(Encoding {
                name: "opus",
                clock_rate: 48000,
                channels: 2
            })
        );
        assert_eq!(Encoding::parse("PCMU/8000").map(|e| e.channels), Some(1));
        assert_eq!(Encoding::parse("PCMU"), None);
        assert_eq!(Encoding::parse("/8000"), None);
        assert_eq!(Encoding::parse("PCMU/x"), None);
    }

    #[test]
    fn h264_profiles() {
        use H264Profile::*;
        for (plid, want) in [
            ("42e01f", ConstrainedBaseline),
            ("42c01f", ConstrainedBaseline),
            ("42401f", ConstrainedBaseline),
            ("42001f", Baseline),
            ("42800a", Baseline),
            ("4d401f", ConstrainedBaseline),
            ("4d001f", Main),
            ("58c01f", ConstrainedBaseline),
            ("58801f", Baseline),
            ("58001f", Extended),
            ("640c1f", ConstrainedHigh),
            ("640032", High),
            ("f4001f", Other(0xf4)),
        ] {
            assert_eq!(h264_profile(plid), Some(want), "{plid}");
        }
        assert_eq!(h264_profile("42e01"), None);
        assert_eq!(h264_profile("42e01g"), None);
        assert_eq!(h264_profile("é2e01f"), None);
    }

    #[test]
    fn fmtp_parameters() {
        let f = "profile-level-id=42e01f; packetization-mode = 1;;flag";
        let v: Vec<_> = fmtp_params(f).collect();
        assert_eq!(
            v,
            [
                ("profile-level-id", "42e01f"),
                ("packetization-mode", "1"),
                ("", "flag")
            ]
        );
        assert_eq!(fmtp_param(Some(f), "PACKETIZATION-MODE"), Some("1"));
        assert_eq!(fmtp_param(None, "x"), None);
    }

    #[test]
    fn references_of_rtx_and_red() {
        let rtx = c(97, "rtx/90000", "apt=96;rtx-time=3000");
        assert!(is_dependent(&rtx));
        assert_eq!(referenced_payload_types(&rtx), [96]);
        let red = c(63, "red/48000/2", "111/111");
        assert_eq!(referenced_payload_types(&red), [111, 111]);
        assert!(referenced_payload_types(&c(0, "PCMU/8000", "apt=1")).is_empty());
        let map = |p: u8| (p == 96 || p == 111).then_some(p + 4);
        let r = renumber_references(&rtx, map).unwrap();
        assert_eq!(r.fmtp.as_deref(), Some("apt=100;rtx-time=3000"));
        let r = renumber_references(&c(97, "rtx/90000", "rtx-time=3000; APT=96"), map).unwrap();
        assert_eq!(r.fmtp.as_deref(), Some("rtx-time=3000; APT=100"));
        let r = renumber_references(&red, map).unwrap();
        assert_eq!(r.fmtp.as_deref(), Some("115/115"));
        assert_eq!(renumber_references(&c(98, "rtx/90000", "apt=7"), map), None);
        assert_eq!(renumber_references(&c(98, "rtx/90000", "apt=x"), map), None);
    }

    #[test]
    fn supplemental_codecs() {
        assert!(is_supplemental(&c(101, "telephone-event/8000", "0-15")));
        assert!(is_supplemental(&c(13, "CN/8000", "")));
        assert!(!is_supplemental(&c(0, "PCMU/8000", "")));
        assert_eq!(clock_rate(&c(9, "G722/8000", "")), Some(8000));
    }
}
