//! The line-preserving SDP model and its parser.
//!
//! Every line is kept as its type letter plus the text after `=`, in input order, so that
//! writing a parsed body back gives the same text (with CRLF line endings). The lines rtpengine
//! interprets (`v=`, `o=`, `c=`, `m=`, the attributes it knows) are validated the way rtpengine
//! validates them, so that an SDP rtpengine rejects is rejected here too, and an SDP it accepts
//! is accepted:
//!
//! - the body must start with `v=0`; a later `v=` starts another session description (rtpengine
//!   accepts several in one body and numbers their media sections consecutively);
//! - a line must be `<letter>=...` with a known letter (`v o s i u e p c b t r z k a m`);
//! - `o=` and `s=` may not appear inside a media section; `o=` needs six fields; `s=` is optional;
//! - `c=` needs `IN`, `IP4`/`IP6` and an address of that family (more fields are tolerated);
//!   at most one per level;
//! - `m=` needs a media type, a port 0-65535 (optionally `/count`, count 1-10) and a protocol;
//! - parsing stops at the first empty line, as rtpengine does (trailing garbage after a blank
//!   line is dropped rather than rejected).

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{
    is_rtp_protocol, static_payload_encoding, Direction, SdpError, MAX_MEDIA_SECTIONS,
    MAX_SDP_BYTES, MAX_SDP_LINES, MAX_SESSION_DESCRIPTIONS,
};

/// One SDP line: its type letter and the text after the `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    pub kind: char,
    pub value: &'a str,
}

impl<'a> Line<'a> {
    pub fn new(kind: char, value: &'a str) -> Line<'a> {
        Line { kind, value }
    }

    /// For an `a=` line, the attribute name (the text before the first `:`).
    pub fn attr_name(&self) -> Option<&'a str> {
        if self.kind != 'a' {
            return None;
        }
        Some(match self.colon() {
            Some(i) => &self.value[..i],
            None => self.value,
        })
    }

    /// Where the first `:` of the value is.
    fn colon(&self) -> Option<usize> {
        find_byte(self.value, b':')
    }

    /// For an `a=` line, the attribute value (the text after the first `:`), or `""` for a
    /// flag attribute such as `a=sendrecv`.
    pub fn attr_value(&self) -> Option<&'a str> {
        if self.kind != 'a' {
            return None;
        }
        Some(match self.colon() {
            Some(i) => &self.value[i + 1..],
            None => "",
        })
    }

    /// Whether this is an `a=` line with the given attribute name (case-sensitive).
    pub fn is_attr(&self, name: &str) -> bool {
        self.attr_value_of(name).is_some()
    }

    /// The value of this line if it is an `a=` line with the given attribute name: compares
    /// the name as a prefix, with no search for the `:`. A name containing `:` never matches,
    /// as with [`attr_name`](Self::attr_name).
    pub fn attr_value_of(&self, name: &str) -> Option<&'a str> {
        if self.kind != 'a' {
            return None;
        }
        let rest = self.value.strip_prefix(name)?;
        if name.contains(':') {
            return None;
        }
        match rest.as_bytes().first() {
            None => Some(""),
            Some(b':') => Some(&rest[1..]),
            Some(_) => None,
        }
    }
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}\r\n", self.kind, self.value)
    }
}

/// The fields of an `o=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub username: &'a str,
    pub session_id: &'a str,
    /// The session version as written.
    pub version: &'a str,
    pub nettype: &'a str,
    pub addrtype: &'a str,
    pub address: &'a str,
}

impl Origin<'_> {
    /// The session version as a number, read the way rtpengine reads it: leading digits,
    /// 0 when there are none, `u64::MAX` when it overflows.
    pub fn version_num(&self) -> u64 {
        let digits: &str = {
            let end = self
                .version
                .bytes()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(self.version.len());
            &self.version[..end]
        };
        if digits.is_empty() {
            return 0;
        }
        digits.parse::<u64>().unwrap_or(u64::MAX)
    }

    /// The origin address, when it parses as an address of its `addrtype`.
    pub fn ip(&self) -> Option<IpAddr> {
        parse_addr(self.addrtype, self.address)
    }
}

/// The fields of a `c=` line (at session or media level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection<'a> {
    pub nettype: &'a str,
    pub addrtype: &'a str,
    pub address: &'a str,
    pub ip: IpAddr,
}

impl Connection<'_> {
    /// Whether the address is the unspecified address (`0.0.0.0` or `::`), which SDP uses
    /// to put a stream on hold.
    pub fn is_unspecified(&self) -> bool {
        self.ip.is_unspecified()
    }
}

/// A valid `a=rtcp` attribute: the RTCP port and optionally an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub address: Option<IpAddr>,
}

/// One payload type of an RTP media section, with what its attributes say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    pub payload_type: u8,
    /// `name/clock[/channels]` as rtpengine writes it in `a=rtpmap` (channels only when more
    /// than one); from the section's `a=rtpmap`, else the static payload type table, else
    /// `None` (an unknown dynamic payload type without `a=rtpmap`).
    pub encoding: Option<String>,
    /// The `a=fmtp` parameters; `None` or empty means no `a=fmtp` line.
    pub fmtp: Option<String>,
    /// The `a=rtcp-fb` values for this payload type, in order.
    pub rtcp_fb: Vec<String>,
}

/// One media section: the `m=` line and every line after it up to the next `m=` or `v=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media<'a> {
    index: usize,
    description: usize,
    m_line: &'a str,
    media_type: &'a str,
    port: u16,
    port_count: Option<u16>,
    protocol: &'a str,
    formats: Vec<&'a str>,
    lines: Vec<Line<'a>>,
}

/// A parsed SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<'a> {
    /// Session-level lines of each session description; each starts with its `v=` line.
    /// Almost always exactly one.
    descriptions: Vec<Vec<Line<'a>>>,
    /// All media sections of all session descriptions, in order.
    media: Vec<Media<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Small readers shared with the rewriter.

/// Reads an integer the way C `strtoll` does for rtpengine: optional sign, then at least one
/// digit; anything after the digits is ignored.
pub(crate) fn leading_int(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add(i64::from(b[i] - b'0'));
        i += 1;
    }
    if i == start {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Parses an address of the given SDP address type (`IP4` or `IP6`, case-sensitive).
/// IPv6 addresses may be written in brackets.
pub(crate) fn parse_addr(addrtype: &str, address: &str) -> Option<IpAddr> {
    match addrtype {
        "IP4" => address.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        "IP6" => {
            let inner = match address.strip_prefix('[') {
                Some(rest) => rest.split(']').next().unwrap_or(rest),
                None => address,
            };
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        }
        _ => None,
    }
}

/// The SDP address type of an address.
pub(crate) fn addrtype_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// Where the first `b` (an ASCII byte) is in `s`. SDP fields are short: a byte scan beats
/// a char searcher's setup, which showed in the control plane's profile.
pub(crate) fn find_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().position(|c| c == b)
}

/// The first space-separated token and the rest (empty when there is no space).
fn split_token(s: &str) -> (&str, &str) {
    match find_byte(s, b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    }
}

pub(crate) fn parse_origin(value: &str) -> Option<Origin<'_>> {
    let mut p = [""; 6];
    let mut fields = value.splitn(7, ' ');
    for f in &mut p {
        *f = fields.next()?;
    }
    // Six fields; the address may only be empty when more text follows it.
    if p[5].is_empty() && fields.next().is_none() {
        return None;
    }
    Some(Origin {
        username: p[0],
        session_id: p[1],
        version: p[2],
        nettype: p[3],
        addrtype: p[4],
        address: p[5],
    })
}

pub(crate) fn parse_connection(value: &str) -> Option<Connection<'_>> {
    let mut p = value.split(' ');
    let nettype = p.next()?;
    let addrtype = p.next()?;
    let address = p.next()?;
    if nettype != "IN" && nettype != "in" {
        return None;
    }
    let ip = parse_addr(addrtype, address)?;
    Some(Connection {
        nettype,
        addrtype,
        address,
        ip,
    })
}

/// What rtpengine makes of an `a=rtcp` value.
pub(crate) enum RtcpParse {
    Valid(RtcpAttr),
    /// Bad port: rtpengine marks it ignored and strips it from what it sends on.
    BadPort,
    /// Good port but a malformed address: rtpengine drops it from its attribute list, so
    /// it is neither used nor stripped.
    BadAddress,
}

pub(crate) fn parse_rtcp(value: &str) -> RtcpParse {
    let (port, rest) = split_token(value);
    let port = match leading_int(port) {
        Some(p) if (1..=65535).contains(&p) => p as u16,
        _ => return RtcpParse::BadPort,
    };
    if rest.is_empty() {
        return RtcpParse::Valid(RtcpAttr {
            port,
            address: None,
        });
    }
    match parse_connection(rest) {
        Some(c) => RtcpParse::Valid(RtcpAttr {
            port,
            address: Some(c.ip),
        }),
        None => RtcpParse::BadAddress,
    }
}

/// A parsed `a=rtpmap` value: payload type and normalized encoding.
pub(crate) fn parse_rtpmap(value: &str) -> Option<(i64, Cow<'_, str>)> {
    let (pt, rest) = split_token(value);
    let pt = leading_int(pt).filter(|v| *v >= 0)?;
    let (encoding, _) = split_token(rest);
    let slash = find_byte(encoding, b'/')?;
    let name = &encoding[..slash];
    let after = &encoding[slash + 1..];
    let (clock_text, channels_text) = match find_byte(after, b'/') {
        Some(i) => (&after[..i], Some(&after[i + 1..])),
        None => (after, None),
    };
    if clock_text.is_empty() || !clock_text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut clock: u64 = clock_text.parse().ok()?;
    let channels = channels_text
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| *c != 0)
        .unwrap_or(1);
    // rtpengine's codec library only knows Opus at 48 kHz and corrects other rates.
    if name.eq_ignore_ascii_case("opus") {
        clock = 48000;
    }
    // Usually the text is already what we would write: borrow it then.
    let plain_decimal =
        |t: &str| t == "0" || (!t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()));
    let as_written = plain_decimal(clock_text)
        && clock_text.parse() == Ok(clock)
        && match channels_text {
            None => true,
            Some(t) => channels > 1 && plain_decimal(t),
        };
    if as_written {
        return Some((pt, Cow::Borrowed(encoding)));
    }
    let normalized = if channels > 1 {
        format!("{name}/{clock}/{channels}")
    } else {
        format!("{name}/{clock}")
    };
    Some((pt, Cow::Owned(normalized)))
}

/// A parsed `a=fmtp` or `a=rtcp-fb` value: payload type and the rest.
pub(crate) fn parse_pt_value(value: &str) -> Option<(i64, &str)> {
    let (pt, rest) = split_token(value);
    let pt = leading_int(pt).filter(|v| *v >= 0 && *v <= i64::from(i32::MAX))?;
    Some((pt, rest))
}

/// Parses the port field of an `m=` line: `port` or `port/count`.
fn parse_port(field: &str) -> Result<(u16, Option<u16>), &'static str> {
    let (port, count) = match find_byte(field, b'/') {
        Some(i) => (&field[..i], Some(&field[i + 1..])),
        None => (field, None),
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err("bad port");
    }
    let port: u32 = port.parse().map_err(|_| "bad port")?;
    let port = u16::try_from(port).map_err(|_| "port out of range")?;
    let count = match count {
        None => None,
        Some(c) => {
            if c.is_empty() || c.len() > 2 || !c.bytes().all(|b| b.is_ascii_digit()) {
                return Err("bad port count");
            }
            let c: u16 = c.parse().map_err(|_| "bad port count")?;
            if !(1..=10).contains(&c) {
                return Err("port count out of range");
            }
            Some(c)
        }
    };
    Ok((port, count))
}

// ---------------------------------------------------------------------------------------------

impl<'a> Media<'a> {
    fn parse(index: usize, description: usize, value: &'a str) -> Result<Media<'a>, &'static str> {
        let mut p = value.split(' ');
        let media_type = p.next().unwrap_or("");
        let port = p.next().ok_or("missing port")?;
        let protocol = p.next().ok_or("missing protocol")?;
        if protocol.is_empty() {
            return Err("missing protocol");
        }
        let (port, port_count) = parse_port(port)?;
        let formats = p.filter(|f| !f.is_empty()).collect();
        Ok(Media {
            index,
            description,
            m_line: value,
            media_type,
            port,
            port_count,
            protocol,
            formats,
            lines: Vec::new(),
        })
    }

    /// Position of this section among all media sections of the body (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Which session description (0-based) this section belongs to.
    pub fn description_index(&self) -> usize {
        self.description
    }

    /// The text of the `m=` line after `m=`, as written.
    pub fn m_line(&self) -> &'a str {
        self.m_line
    }

    pub fn media_type(&self) -> &'a str {
        self.media_type
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `/count` of the port field, if written.
    pub fn port_count(&self) -> Option<u16> {
        self.port_count
    }

    pub fn protocol(&self) -> &'a str {
        self.protocol
    }

    /// The format list of the `m=` line (payload types for RTP), as strings.
    pub fn formats(&self) -> &[&'a str] {
        &self.formats
    }

    /// Whether the protocol is one of the RTP profiles rtpengine handles.
    pub fn is_rtp(&self) -> bool {
        is_rtp_protocol(self.protocol)
    }

    /// Whether this is an `m=message` section (MSRP), which rtpengine leaves untouched.
    pub fn is_message(&self) -> bool {
        self.media_type == "message"
    }

    /// The lines after the `m=` line, in order.
    pub fn lines(&self) -> &[Line<'a>] {
        &self.lines
    }

    /// The value of the first attribute with this name (`""` for a flag attribute).
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attrs(name).next()
    }

    /// The values of all attributes with this name, in order.
    pub fn attrs<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'s, 'a, 'n> {
        attrs_in(&self.lines, name)
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    /// The media-level `c=` line.
    pub fn connection(&self) -> Option<Connection<'a>> {
        connection_in(&self.lines)
    }

    /// The first valid `a=rtcp` attribute.
    pub fn rtcp(&self) -> Option<RtcpAttr> {
        self.attrs("rtcp").find_map(|v| match parse_rtcp(v) {
            RtcpParse::Valid(r) => Some(r),
            _ => None,
        })
    }

    /// Whether `a=rtcp-mux` is present.
    pub fn rtcp_mux(&self) -> bool {
        self.has_attr("rtcp-mux")
    }

    /// The media-level direction attribute, if any (the first one written).
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.lines)
    }

    pub fn mid(&self) -> Option<&str> {
        self.attr("mid")
    }

    pub fn ice_ufrag(&self) -> Option<&str> {
        self.attr("ice-ufrag")
    }

    pub fn ice_pwd(&self) -> Option<&str> {
        self.attr("ice-pwd")
    }

    pub fn ice_options(&self) -> Option<&str> {
        self.attr("ice-options")
    }

    /// The `a=candidate` values, in order.
    pub fn candidates(&self) -> impl Iterator<Item = &str> + '_ {
        self.attrs("candidate")
    }

    pub fn end_of_candidates(&self) -> bool {
        self.has_attr("end-of-candidates")
    }

    /// The packetization time from `a=ptime`, when it is a positive integer.
    pub fn ptime(&self) -> Option<u32> {
        let v = leading_int(self.attr("ptime")?)?;
        u32::try_from(v).ok().filter(|v| *v > 0)
    }

    /// The payload types of an RTP section in `m=` order, with their `a=rtpmap`, `a=fmtp`
    /// and `a=rtcp-fb` attributes. Empty for a non-RTP section. A format that is not a
    /// number 0-127 is an error (rtpengine rejects such an SDP).
    pub fn codecs(&self) -> Result<Vec<Codec>, SdpError> {
        if !self.is_rtp() {
            return Ok(Vec::new());
        }
        self.formats.iter().map(|f| self.codec(f)).collect()
    }

    /// The first payload type of an RTP section with its attributes ([`codecs`](Self::codecs)
    /// without the others); `None` for a non-RTP section or one without formats.
    pub fn first_codec(&self) -> Result<Option<Codec>, SdpError> {
        match self.formats.first() {
            Some(f) if self.is_rtp() => self.codec(f).map(Some),
            _ => Ok(None),
        }
    }

    /// Format `f` of the `m=` line with its `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` attributes.
    fn codec(&self, f: &str) -> Result<Codec, SdpError> {
        let pt = leading_int(f)
            .filter(|v| (0..=127).contains(v) && f.starts_with(|c: char| c.is_ascii_digit()))
            .ok_or_else(|| SdpError::InvalidPayloadType {
                index: self.index,
                format: f.to_string(),
            })?;
        // Later attributes for the same payload type win, as in rtpengine.
        let encoding = self
            .attrs("rtpmap")
            .filter_map(parse_rtpmap)
            .filter(|(p, _)| *p == pt)
            .last()
            .map(|(_, e)| e.into_owned())
            .or_else(|| static_payload_encoding(pt as u8).map(str::to_owned));
        let fmtp = self
            .attrs("fmtp")
            .filter_map(parse_pt_value)
            .filter(|(p, _)| *p == pt)
            .last()
            .map(|(_, v)| v.to_owned());
        let rtcp_fb = self
            .attrs("rtcp-fb")
            .filter_map(parse_pt_value)
            .filter(|(p, _)| *p == pt)
            .map(|(_, v)| v.to_owned())
            .collect();
        Ok(Codec {
            payload_type: pt as u8,
            encoding,
            fmtp,
            rtcp_fb,
        })
    }
}

pub(crate) fn attrs_in<'s, 'a, 'n>(
    lines: &'s [Line<'a>],
    name: &'n str,
) -> impl Iterator<Item = &'a str> + use<'s, 'a, 'n> {
    lines.iter().filter_map(move |l| l.attr_value_of(name))
}

pub(crate) fn connection_in<'a>(lines: &[Line<'a>]) -> Option<Connection<'a>> {
    lines
        .iter()
        .find(|l| l.kind == 'c')
        .and_then(|l| parse_connection(l.value))
}

fn direction_in(lines: &[Line<'_>]) -> Option<Direction> {
    lines
        .iter()
        .find_map(|l| l.attr_name().and_then(Direction::from_attr_name))
}

/// How many lines `text` has at most (its line feeds, plus one), and how many of them are
/// `m=` lines.
fn count_lines(text: &str) -> (usize, usize) {
    let b = text.as_bytes();
    let mut lines = 1;
    let mut media = usize::from(b.starts_with(b"m="));
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            lines += 1;
            media += usize::from(b.get(i + 1) == Some(&b'm'));
        }
    }
    (lines, media)
}

impl<'a> Session<'a> {
    /// Parses an SDP body with CRLF or LF line endings. The lines borrow from `text`.
    pub fn parse(text: &'a str) -> Result<Session<'a>, SdpError> {
        if text.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge(text.len()));
        }
        // Sized up front, so that the line lists rarely grow (the model lives only while a
        // request is handled, so some room to spare costs nothing).
        let (total_lines, media_lines) = count_lines(text);
        let total_lines = total_lines.min(MAX_SDP_LINES + 1);
        let mut descriptions: Vec<Vec<Line<'a>>> = Vec::with_capacity(1);
        let mut media: Vec<Media<'a>> = Vec::with_capacity(media_lines.min(MAX_MEDIA_SECTIONS));
        let mut origin_seen = false;
        let mut session_c_seen = false;
        let mut media_c_seen = false;
        let mut line_count = 0usize;

        let mut rest = text;
        while !rest.is_empty() {
            // Lines are short: a plain byte loop beats the general substring search here.
            let (raw, next) = match find_byte(rest, b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            rest = next;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.is_empty() {
                // rtpengine treats an empty line as the end of the body.
                break;
            }
            line_count += 1;
            if line_count > MAX_SDP_LINES {
                return Err(SdpError::TooManyLines);
            }
            let n = line_count;
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' {
                return Err(SdpError::MissingEquals { line: n });
            }
            if !bytes[0].is_ascii() {
                let kind = line.chars().next().unwrap_or('?');
                return Err(SdpError::UnknownLineType { line: n, kind });
            }
            let kind = bytes[0] as char;
            let value = &line[2..];
            if value.contains(['\r', '\0']) {
                return Err(SdpError::BadCharacter { line: n });
            }
            if descriptions.is_empty() && kind != 'v' {
                return Err(SdpError::MissingVersion);
            }
            let in_media = media
                .last()
                .is_some_and(|m| m.description + 1 == descriptions.len());

            match kind {
                'v' => {
                    if value != "0" {
                        return Err(SdpError::BadVersion { line: n });
                    }
                    if descriptions.len() >= MAX_SESSION_DESCRIPTIONS {
                        return Err(SdpError::TooManySessions);
                    }
                    let mut lines = Vec::with_capacity(total_lines.saturating_sub(line_count) + 1);
                    lines.push(Line::new('v', value));
                    descriptions.push(lines);
                    origin_seen = false;
                    session_c_seen = false;
                    continue;
                }
                'o' => {
                    if in_media {
                        return Err(SdpError::SessionLineInMedia { line: n, kind });
                    }
                    if origin_seen {
                        return Err(SdpError::DuplicateOrigin { line: n });
                    }
                    if parse_origin(value).is_none() {
                        return Err(SdpError::BadOrigin { line: n });
                    }
                    origin_seen = true;
                }
                's' => {
                    if in_media {
                        return Err(SdpError::SessionLineInMedia { line: n, kind });
                    }
                }
                'c' => {
                    if parse_connection(value).is_none() {
                        return Err(SdpError::BadConnection { line: n });
                    }
                    let seen = if in_media {
                        &mut media_c_seen
                    } else {
                        &mut session_c_seen
                    };
                    if *seen {
                        return Err(SdpError::DuplicateConnection { line: n });
                    }
                    *seen = true;
                }
                'm' => {
                    if media.len() >= MAX_MEDIA_SECTIONS {
                        return Err(SdpError::TooManyMedia);
                    }
                    let mut m = Media::parse(media.len(), descriptions.len() - 1, value)
                        .map_err(|reason| SdpError::BadMedia { line: n, reason })?;
                    // Room for an even share of the lines left (the usual single section: all).
                    let sections_left = media_lines.saturating_sub(media.len()).max(1);
                    m.lines
                        .reserve_exact(total_lines.saturating_sub(line_count) / sections_left + 4);
                    media.push(m);
                    media_c_seen = false;
                    continue;
                }
                'a' | 'b' | 'k' | 'i' | 'u' | 'e' | 'p' | 't' | 'r' | 'z' => {}
                _ => return Err(SdpError::UnknownLineType { line: n, kind }),
            }

            let l = Line::new(kind, value);
            match (in_media, media.last_mut(), descriptions.last_mut()) {
                (true, Some(m), _) => m.lines.push(l),
                (_, _, Some(d)) => d.push(l),
                // Unreachable: a description exists once the first v= line is read.
                _ => return Err(SdpError::MissingVersion),
            }
        }

        if descriptions.is_empty() {
            return Err(SdpError::Empty);
        }
        Ok(Session {
            descriptions,
            media,
        })
    }

    /// Parses an SDP body given as bytes; it must be UTF-8.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Session<'a>, SdpError> {
        if bytes.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| SdpError::NotUtf8)?;
        Session::parse(text)
    }

    /// Session-level lines of the (first) session description, starting with `v=`.
    pub fn lines(&self) -> &[Line<'a>] {
        self.description_lines(0)
    }

    /// Number of session descriptions (`v=` lines) in the body; almost always 1.
    pub fn description_count(&self) -> usize {
        self.descriptions.len()
    }

    /// Session-level lines of session description `idx` (empty if there is none).
    pub fn description_lines(&self, idx: usize) -> &[Line<'a>] {
        self.descriptions.get(idx).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All media sections, over all session descriptions, in order.
    pub fn media(&self) -> &[Media<'a>] {
        &self.media
    }

    /// The `o=` line of the (first) session description.
    pub fn origin(&self) -> Option<Origin<'a>> {
        origin_of(self.lines())
    }

    /// The `s=` value of the (first) session description.
    pub fn session_name(&self) -> Option<&'a str> {
        self.lines().iter().find(|l| l.kind == 's').map(|l| l.value)
    }

    /// The session-level `c=` line of the (first) session description.
    pub fn connection(&self) -> Option<Connection<'a>> {
        connection_in(self.lines())
    }

    /// The value of the first session-level attribute with this name.
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        self.attrs(name).next()
    }

    /// The values of all session-level attributes with this name, in order.
    pub fn attrs<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'s, 'a, 'n> {
        attrs_in(self.lines(), name)
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(self.lines())
    }

    /// Whether the session declares `a=ice-lite`.
    pub fn ice_lite(&self) -> bool {
        self.has_attr("ice-lite")
    }

    /// The address media section `idx` is sent from: its own `c=`, else the session-level `c=`
    /// of its session description.
    pub fn media_connection(&self, idx: usize) -> Option<Connection<'a>> {
        let m = self.media.get(idx)?;
        m.connection()
            .or_else(|| connection_in(self.description_lines(m.description)))
    }

    /// The direction of media section `idx` as rtpengine reads it: `recvonly` at media or
    /// session level wins, then `sendonly`, then `inactive`; otherwise `sendrecv`.
    pub fn media_direction(&self, idx: usize) -> Direction {
        let Some(m) = self.media.get(idx) else {
            return Direction::SendRecv;
        };
        let session = self.description_lines(m.description);
        let has = |name: &str| m.has_attr(name) || attrs_in(session, name).next().is_some();
        if has("recvonly") {
            Direction::RecvOnly
        } else if has("sendonly") {
            Direction::SendOnly
        } else if has("inactive") {
            Direction::Inactive
        } else {
            Direction::SendRecv
        }
    }

    /// An attribute of media section `idx`, falling back to its session level
    /// (as rtpengine does for `ice-ufrag`, `ice-pwd`, `setup`, `fingerprint`).
    pub fn media_attr(&self, idx: usize, name: &str) -> Option<&str> {
        let m = self.media.get(idx)?;
        m.attr(name)
            .or_else(|| attrs_in(self.description_lines(m.description), name).next())
    }
}

pub(crate) fn origin_of<'a>(lines: &[Line<'a>]) -> Option<Origin<'a>> {
    lines
        .iter()
        .find(|l| l.kind == 'o')
        .and_then(|l| parse_origin(l.value))
}

impl Session<'_> {
    /// Calls `f` with the type and value of every line, in the order they are written out
    /// (`m=` lines included), until `f` returns an error.
    pub fn try_for_each_line<E>(
        &self,
        mut f: impl FnMut(char, &str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut media = self.media.iter().peekable();
        for (d, lines) in self.descriptions.iter().enumerate() {
            for l in lines {
                f(l.kind, l.value)?;
            }
            while let Some(m) = media.next_if(|m| m.description == d) {
                f('m', m.m_line)?;
                for l in &m.lines {
                    f(l.kind, l.value)?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Session<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.try_for_each_line(|kind, value| write!(f, "{kind}={value}\r\n"))
    }
}
