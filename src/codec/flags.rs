//! The codec options of an offer or answer (`codec` dictionary, `codec-strip-NAME` flags,
//! `single codec`, `ptime`, ...) and how a codec name in them selects codecs of an SDP.

use crate::ng::request::NgRequest;
use crate::sdp::Codec;

use super::format::Encoding;

/// The codec manipulations requested with one offer or answer, as rtpengine documents them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecFlags {
    /// Removed from the SDP sent on, and not taken from the offerer either.
    pub strip: Vec<String>,
    /// Removed from the offer sent on; still acceptable from the offerer (for transcoding).
    pub mask: Vec<String>,
    /// Re-added after `strip`/`mask` (`all`), in the order given.
    pub offer: Vec<String>,
    /// Spared by `strip=all` / `mask=all`.
    pub except: Vec<String>,
    /// Like `mask`, and marked for transcoding.
    pub consume: Vec<String>,
    /// Offered on, and marked for transcoding should the answerer refuse them.
    pub accept: Vec<String>,
    /// Options (bitrate) for codecs used in transcoding: nothing to do without transcoding.
    pub set: Vec<String>,
    /// Treated as never offered by the offerer.
    pub ignore: Vec<String>,
    /// Added to the offer, transcoding if the offerer did not offer them.
    pub transcode: Vec<String>,
    /// `single codec`: the answer keeps one media codec (plus telephone-event and CN).
    pub single_codec: bool,
    /// `always transcode` (its `accept=all` is already in `accept`).
    pub always_transcode: bool,
    pub ptime: Option<u32>,
    pub ptime_reverse: Option<u32>,
}

impl CodecFlags {
    pub fn from_request(req: &NgRequest) -> CodecFlags {
        CodecFlags {
            strip: req.codec_strip.clone(),
            mask: req.codec_mask.clone(),
            offer: req.codec_offer.clone(),
            except: req.codec_except.clone(),
            consume: req.codec_consume.clone(),
            accept: req.codec_accept.clone(),
            set: req.codec_set.clone(),
            ignore: req.codec_ignore.clone(),
            transcode: req.codec_transcode.clone(),
            single_codec: req.flags.single_codec,
            always_transcode: req.flags.always_transcode,
            ptime: req.ptime.filter(|p| *p > 0),
            ptime_reverse: req.ptime_reverse.filter(|p| *p > 0),
        }
    }
}

/// Whether a codec name from the flags (`PCMU`, `opus/48000`, `opus/48000/2`,
/// `telephone-event/8000/1`) names `c`. Like rtpengine, the name matches the encoding name,
/// the `a=rtpmap` encoding as written, or `name/clock/channels`, ignoring case. Anything more
/// specific (a bitrate or fmtp after further slashes) matches nothing that is in an SDP.
pub fn spec_matches(spec: &str, c: &Codec) -> bool {
    let Some(enc) = c.encoding.as_deref() else {
        return false;
    };
    if spec.eq_ignore_ascii_case(enc) {
        return true;
    }
    let Some(e) = Encoding::parse(enc) else {
        return false;
    };
    if spec.eq_ignore_ascii_case(e.name) {
        return true;
    }
    // name/clock/channels, compared without building a string.
    let mut parts = spec.split('/');
    let (Some(n), Some(r), Some(ch), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    n.eq_ignore_ascii_case(e.name)
        && r.parse::<u32>().ok() == Some(e.clock_rate)
        && ch.parse::<u32>().ok() == Some(e.channels)
}

/// `all` and `full` select every codec.
pub fn is_all(spec: &str) -> bool {
    spec.eq_ignore_ascii_case("all") || spec.eq_ignore_ascii_case("full")
}

/// Codecs rtpengine can encode and decode, so `transcode=NAME` for one of these makes it add
/// a codec the offerer never offered. (It silently skips names it cannot synthesise.)
pub fn rtpengine_can_synthesise(spec: &str) -> bool {
    const KNOWN: &[&str] = &[
        "PCMU",
        "PCMA",
        "G722",
        "G723",
        "G729",
        "G729a",
        "GSM",
        "opus",
        "speex",
        "iLBC",
        "AMR",
        "AMR-WB",
        "EVS",
        "L16",
        "MP3",
        "vorbis",
        "ac3",
        "eac3",
        "QCELP",
        "EVRC",
        "telephone-event",
        "CN",
    ];
    let name = spec.split('/').next().unwrap_or(spec);
    KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(enc: &str) -> Codec {
        Codec {
            payload_type: 96,
            encoding: Some(enc.into()),
            fmtp: None,
            rtcp_fb: Vec::new(),
        }
    }

    #[test]
    fn names_select_codecs_like_rtpengine() {
        let cases: &[(&str, &str, bool)] = &[
            ("PCMU", "PCMU/8000", true),
            ("pcmu", "PCMU/8000", true),
            ("PCMU/8000", "PCMU/8000", true),
            ("PCMU/8000/1", "PCMU/8000", true),
            ("PCMU/8000/2", "PCMU/8000", false),
            ("PCMA", "PCMU/8000", false),
            ("opus", "opus/48000/2", true),
            ("opus/48000/2", "opus/48000/2", true),
            ("opus/48000", "opus/48000/2", false),
            ("opus/48000/1", "opus/48000/2", false),
            ("opus/48000", "opus/48000", true),
            ("opus/48000/1", "opus/48000", true),
            ("opus/48000/2/32000", "opus/48000/2", false),
            ("telephone-event", "telephone-event/8000", true),
            ("telephone-event/8000", "telephone-event/16000", false),
            ("G7221", "G7221/16000", true),
            ("G722", "G7221/16000", false),
        ];
        for (spec, enc, want) in cases {
            assert_eq!(spec_matches(spec, &c(enc)), *want, "{spec} vs {enc}");
        }
        let unknown = Codec {
            encoding: None,
            ..c("x")
        };
        assert!(!spec_matches("96", &unknown));
    }

    #[test]
    fn synthesisable_names() {
        assert!(rtpengine_can_synthesise("pcma"));
        assert!(rtpengine_can_synthesise("opus/48000/1"));
        assert!(!rtpengine_can_synthesise("t38"));
        assert!(is_all("ALL") && is_all("full") && !is_all("allx"));
    }
}
