//! SDP: a line-preserving model (unknown lines and their order survive) and the rewriting
//! rtpengine does to it. Pure text in, text out; knows nothing about sockets or calls.
//!
//! - [`Session::parse`] reads an SDP body (CRLF or LF line endings) into a [`Session`]; its
//!   `Display` implementation writes it back unchanged (with CRLF line endings).
//! - [`rewrite()`] produces the SDP rtpengine would send on, given the caller's decisions
//!   (addresses, ports, direction, ...) in a [`SessionRewrite`].
//! - [`OriginTracker`] keeps the per-monologue state behind rtpengine's `replace` flags
//!   for the SDP version, username and session name.

mod parse;
#[cfg(test)]
mod parse_tests;
mod rewrite;
#[cfg(test)]
mod rewrite_tests;

pub use parse::{Codec, Connection, Line, Media, Origin, RtcpAttr, Session};
pub use rewrite::{
    rewrite, MediaRewrite, OriginTracker, ReplaceFlags, RtcpAttribute, SessionRewrite,
};

use std::fmt;

/// Largest SDP body accepted, in bytes.
pub const MAX_SDP_BYTES: usize = 64 * 1024;
/// Largest number of lines accepted.
pub const MAX_SDP_LINES: usize = 1000;
/// Largest number of `m=` sections accepted (over all session descriptions).
pub const MAX_MEDIA_SECTIONS: usize = 64;
/// Largest number of session descriptions (`v=` lines) in one body.
pub const MAX_SESSION_DESCRIPTIONS: usize = 16;

/// Why an SDP body could not be parsed or rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP body is empty")]
    Empty,
    #[error("SDP body is not valid UTF-8")]
    NotUtf8,
    #[error("SDP body is too large ({0} bytes)")]
    TooLarge(usize),
    #[error("SDP body has too many lines (more than {MAX_SDP_LINES})")]
    TooManyLines,
    #[error("SDP body has too many media sections (more than {MAX_MEDIA_SECTIONS})")]
    TooManyMedia,
    #[error("SDP body has too many session descriptions (more than {MAX_SESSION_DESCRIPTIONS})")]
    TooManySessions,
    #[error("line {line}: missing '=' after the line type")]
    MissingEquals { line: usize },
    #[error("line {line}: stray carriage return or NUL inside a line")]
    BadCharacter { line: usize },
    #[error("line {line}: unknown SDP line type '{kind}'")]
    UnknownLineType { line: usize, kind: char },
    #[error("SDP doesn't start with a v= line")]
    MissingVersion,
    #[error("line {line}: v= line must be \"v=0\"")]
    BadVersion { line: usize },
    #[error("line {line}: {kind}= line found within a media section")]
    SessionLineInMedia { line: usize, kind: char },
    #[error("line {line}: malformed o= line")]
    BadOrigin { line: usize },
    #[error("line {line}: more than one o= line")]
    DuplicateOrigin { line: usize },
    #[error("line {line}: malformed c= line")]
    BadConnection { line: usize },
    #[error("line {line}: more than one c= line at the same level")]
    DuplicateConnection { line: usize },
    #[error("line {line}: malformed m= line: {reason}")]
    BadMedia { line: usize, reason: &'static str },
    #[error("media section {index}: invalid RTP payload type '{format}'")]
    InvalidPayloadType { index: usize, format: String },
    #[error("SDP has no media section to rewrite")]
    NoMedia,
    #[error("rewrite describes {given} media sections, the SDP has {expected}")]
    MediaCountMismatch { expected: usize, given: usize },
    #[error("invalid {what} for the SDP (line break or misplaced space)")]
    InvalidValue { what: &'static str },
    #[error("media section {index} needs a c= line but the session has none")]
    NoSessionConnection { index: usize },
}

/// A media direction attribute (`a=sendrecv` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `"sendrecv"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name (case-sensitive, as rtpengine matches it).
    pub fn from_attr_name(name: &str) -> Option<Direction> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Builds a direction from "we send" / "we receive" flags.
    pub fn from_send_recv(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether this direction includes sending.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this direction includes receiving.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport protocols rtpengine knows, by canonical spelling, and whether they carry
/// RTP. `m=` protocols are matched case-insensitively and written back in this spelling.
const KNOWN_PROTOCOLS: &[(&str, bool)] = &[
    ("RTP/AVP", true),
    ("RTP/SAVP", true),
    ("RTP/AVPF", true),
    ("RTP/SAVPF", true),
    ("UDP/TLS/RTP/SAVP", true),
    ("UDP/TLS/RTP/SAVPF", true),
    ("udptl", false),
];

/// The canonical spelling of a known transport protocol, matched case-insensitively.
pub fn canonical_protocol(proto: &str) -> Option<&'static str> {
    KNOWN_PROTOCOLS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(proto))
        .map(|(name, _)| *name)
}

/// Whether `s` starts with `prefix`, ASCII case ignored (SDP protocol and encoding names are
/// case-insensitive), without a lowercased copy.
pub fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether a transport protocol is one of the RTP profiles rtpengine handles.
pub fn is_rtp_protocol(proto: &str) -> bool {
    KNOWN_PROTOCOLS
        .iter()
        .any(|(name, rtp)| *rtp && name.eq_ignore_ascii_case(proto))
}

/// The encoding (`name/clock[/channels]`) of a static RTP payload type, as rtpengine
/// writes it in the `a=rtpmap` lines it adds for payload types that had none.
pub fn static_payload_encoding(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU/8000",
        3 => "GSM/8000",
        4 => "G723/8000",
        5 => "DVI4/8000",
        6 => "DVI4/16000",
        7 => "LPC/8000",
        8 => "PCMA/8000",
        9 => "G722/8000",
        10 => "L16/44100",
        11 => "L16/44100/2",
        12 => "QCELP/8000",
        13 => "CN/8000",
        14 => "MPA/90000",
        15 => "G728/8000",
        16 => "DVI4/11025",
        17 => "DVI4/22050",
        18 => "G729/8000",
        25 => "CelB/90000",
        26 => "JPEG/90000",
        28 => "nv/90000",
        31 => "H261/90000",
        32 => "MPV/90000",
        33 => "MP2T/90000",
        34 => "H263/90000",
        _ => return None,
    })
}

/// Whether an attribute name is one of the ICE attributes rtpengine strips or regenerates.
pub fn is_ice_attribute(name: &str) -> bool {
    matches!(
        name,
        "ice-ufrag"
            | "ice-pwd"
            | "ice-options"
            | "ice-lite"
            | "ice-mismatch"
            | "remote-candidates"
            | "candidate"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_match_case_insensitively() {
        assert_eq!(canonical_protocol("rtp/avp"), Some("RTP/AVP"));
        assert_eq!(canonical_protocol("UDPTL"), Some("udptl"));
        assert_eq!(canonical_protocol("TCP/MSRP"), None);
        assert!(is_rtp_protocol("udp/tls/rtp/savpf"));
        assert!(!is_rtp_protocol("udptl"));
        assert!(!is_rtp_protocol("*"));
    }

    #[test]
    fn direction_round_trips() {
        for d in [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ] {
            assert_eq!(Direction::from_attr_name(d.as_str()), Some(d));
            assert_eq!(Direction::from_send_recv(d.sends(), d.receives()), d);
        }
        assert_eq!(Direction::from_attr_name("SendRecv"), None);
    }

    #[test]
    fn static_payload_types() {
        assert_eq!(static_payload_encoding(0), Some("PCMU/8000"));
        assert_eq!(static_payload_encoding(11), Some("L16/44100/2"));
        assert_eq!(static_payload_encoding(96), None);
    }
}
