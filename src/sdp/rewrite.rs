//! The rewrite rtpengine 10.5 applies to an SDP it relays, for plain RTP media.
//!
//! How rtpengine 10.5 rewrites an SDP (read off its test suite's expected outputs and real
//! replies; the rules below are what this module implements):
//!
//! Overall shape. The input text is kept: every line is copied in order, except that some
//! lines are edited in place and some attributes are dropped. Each media section then gets a
//! block of generated attributes appended at its END, after all the lines that were kept.
//!
//! Session level (for each session description; rtpengine accepts several `v=` blocks):
//! - `o=`: username replaced only with replace-username (by the one first seen for this
//!   party), session version only with replace-sdp-version, address and address type only
//!   with replace-origin. The network type and any extra fields stay as written.
//! - `s=`: replaced only with replace-session-name.
//! - `c=`: rewritten to our address when any media section of the description has no `c=`
//!   of its own (it then depends on the session `c=`), or when replace-session-connection
//!   is given; otherwise kept. So replace-session-connection only makes a difference when
//!   every section has its own `c=`. The address used is the first media section's.
//! - attributes dropped: ICE ones (ufrag, pwd, options, lite, mismatch, remote-candidates,
//!   candidate) unless ICE is kept (ICE=optional), `a=fingerprint`, `a=setup`,
//!   `a=group:BUNDLE ...`, direction attributes, an `a=rtcp` with an invalid port, and
//!   `a=extmap` with the strip-extmap flag. Everything else (`b=`, `t=`, unknown `a=`) stays
//!   in place. With loop-protect, `a=rtpengine:<id>` is added after the session lines.
//!
//! Media level (non-`message` sections):
//! - `m=`: port replaced by ours (a port of 0 stays 0 and the section is inactive), an
//!   explicit `/count` other than 1 is kept, a known protocol is written in its canonical
//!   spelling (or replaced), and for RTP the format list is the payload type list; non-RTP
//!   formats (e.g. `t38`, `*`) stay as written.
//! - `c=` (only if the section had one): our address; `0.0.0.0`/`::` (of our address family)
//!   when the zero address is kept for a hold. The address family follows our address, so
//!   `IN IP6` can become `IN IP4` and back.
//! - attributes dropped: ICE (as above), `a=rtcp`, `a=rtcp-mux`, `a=mid`,
//!   `a=end-of-candidates`, direction attributes, `a=crypto`, `a=fingerprint`, `a=setup`,
//!   for RTP sections with at least one codec every valid `a=rtpmap`/`a=fmtp` and
//!   `a=rtcp-fb` with a numeric payload type (`a=rtcp-fb:*` stays), `a=ptime` when a ptime
//!   is written, `a=extmap` with strip-extmap. Unknown attributes (`a=ssrc`, `a=msid`,
//!   `a=extmap`, `a=direction:both`, T.38 attributes, ...) stay where they were.
//! - generated block, in this order: `a=mid:X` (if the stream has a mid; also for rejected
//!   sections); then, only when the section is active (port not 0): per codec in `m=` order
//!   `a=rtpmap:PT enc/clock[/channels]` (also added for static payload types that had none,
//!   from the RFC 3551 table; channels only when above 1), `a=fmtp:PT ...` (if non-empty),
//!   `a=rtcp-fb:PT ...`; added `a=` attributes; the direction attribute (always written,
//!   even `sendrecv`, unless original-sendrecv); for RTP `a=rtcp:PORT` (our RTCP port, or
//!   our RTP port when muxing in an answer; `IN IP4 addr` appended with full-rtcp-attribute,
//!   nothing with no-rtcp-attribute) and `a=rtcp-mux`; crypto and DTLS attributes;
//!   `a=ptime:N` for RTP; ICE attributes. Finally `a=end-of-candidates` if the input section
//!   had one.
//! - non-RTP sections (e.g. `m=image ... udptl t38`) get no codec, rtcp or ptime lines but do
//!   get the direction attribute.
//! - `m=message` sections (MSRP) are left completely untouched; if such a section has no `c=`
//!   a copy of the ORIGINAL session `c=` is inserted into it (before its first `a=`/`b=`/`k=`
//!   line), because the session `c=` itself gets rewritten.
//!
//! Facts for the caller, which decides the values in [`SessionRewrite`]/[`MediaRewrite`]:
//! - our address family follows the peer's `c=` family unless address-family is given
//!   (a peer's `IN IP6 ::` yields `IN IP6 ::`); media-address overrides everything, including
//!   a kept zero address;
//! - a peer's `0.0.0.0`/`::` is kept (unless replace zero-address, or trickle ICE with port 9)
//!   and then the direction written drops "receive": sendrecv becomes sendonly;
//! - `o=` replacement uses the real address of the first section's interface (never the zero
//!   address);
//! - the mid and ptime are sticky per stream: an answer without `a=ptime` gets the offer's,
//!   and an answer's `a=mid` is replaced by the mid of the offer (none if it had none);
//! - RTCP: an offer with `a=rtcp-mux` gets `a=rtcp:<our RTCP port>` plus `a=rtcp-mux`; an
//!   answer accepting mux gets `a=rtcp:<our RTP port>` plus `a=rtcp-mux`; without mux
//!   `a=rtcp:<our RTCP port>`.
//!
//! Deviations from rtpengine, for inputs no real peer sends: `a=candidate`/`a=fingerprint`
//! lines are dropped even when malformed (rtpengine keeps unparsable ones); an unknown
//! dynamic payload type without `a=rtpmap` gets no `a=rtpmap` line (rtpengine writes a
//! meaningless one) but keeps its `a=fmtp`; an `m=message` section's `a=mid` is not repeated;
//! all line endings are CRLF.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::parse::{addrtype_of, parse_pt_value, parse_rtcp, parse_rtpmap, RtcpParse};
use super::{
    canonical_protocol, is_ice_attribute, is_rtp_protocol, Codec, Direction, Line, Media, SdpError,
    Session,
};

/// How to write the `a=rtcp` attribute of a media section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RtcpAttribute {
    /// `a=rtcp:PORT`
    #[default]
    Normal,
    /// `a=rtcp:PORT IN IP4 ADDR` (the full-rtcp-attribute flag)
    Full,
    /// No `a=rtcp` line (the no-rtcp-attribute flag); `a=rtcp-mux` is still written.
    Omit,
}

/// What to change in a whole SDP. The caller decides addresses, ports and the other
/// values; [`rewrite()`] decides the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRewrite {
    /// replace-origin: write this address (and its address type) in `o=`.
    pub origin_address: Option<IpAddr>,
    /// replace-session-connection: rewrite the session `c=` even when every media section
    /// has its own `c=` (without it, the session `c=` is rewritten only when some section
    /// relies on it).
    pub replace_session_connection: bool,
    /// Write this as the `o=` session version (replace-sdp-version; see [`OriginTracker`]).
    pub sdp_version: Option<u64>,
    /// Write this as the `o=` username (replace-username; see [`OriginTracker`]).
    pub username: Option<String>,
    /// Write this as the `s=` value (replace-session-name; see [`OriginTracker`]).
    pub session_name: Option<String>,
    /// Drop ICE attributes at session and media level. rtpengine does this for ICE=remove,
    /// ICE=force and the default ICE handling; only ICE=optional keeps them.
    pub remove_ice: bool,
    /// The strip-extmap flag: drop `a=extmap` attributes.
    pub strip_extmap: bool,
    /// The original-sendrecv flag: keep the direction attributes as written and don't write one.
    pub original_sendrecv: bool,
    /// The loop-protect flag: add `a=rtpengine:<this id>` at session level.
    pub loop_protect: Option<String>,
    /// Session-level attribute values (without `a=`) written after the kept session lines
    /// (`ice-lite`, our `group:BUNDLE`).
    pub session_attributes: Vec<String>,
    /// One entry per `m=` section of the input, in the same order.
    pub media: Vec<MediaRewrite>,
}

/// What to write for one media section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRewrite {
    /// Our media address for this section (`c=`, and `a=rtcp` with [`RtcpAttribute::Full`]).
    pub address: IpAddr,
    /// Write the unspecified address of `address`'s family in `c=` instead (rtpengine keeps
    /// a peer's `0.0.0.0` hold address unless told to replace it).
    pub zero_address: bool,
    /// Our RTP port; 0 means the section is rejected (no codec, direction or rtcp lines).
    /// A section whose input port is 0 stays rejected whatever this says.
    pub port: u16,
    /// Our RTCP port. `None` with `rtcp_mux` writes `a=rtcp:<RTP port>`; `None` without
    /// `rtcp_mux` writes no `a=rtcp`.
    pub rtcp_port: Option<u16>,
    /// Write `a=rtcp-mux`.
    pub rtcp_mux: bool,
    pub rtcp_attribute: RtcpAttribute,
    /// The direction to write; `None` = the input's, as rtpengine reads it
    /// ([`Session::media_direction`]).
    pub direction: Option<Direction>,
    /// Replace the `m=` media type (e.g. `image` for a T.38 gateway); `None` = the input's.
    pub media_type: Option<String>,
    /// Replace the `m=` protocol (transport-protocol); `None` = the input's.
    pub protocol: Option<String>,
    /// Leave the section untouched, as rtpengine does with `m=message` (which is always
    /// passed through, whatever this says).
    pub passthrough: bool,
    /// The `a=mid` to write (`None`: none).
    pub mid: Option<String>,
    /// The `a=ptime` to write (`None`: none, and an input `a=ptime` is kept where it was).
    pub ptime: Option<u32>,
    /// The codecs to write, in order; `None` = the input section's (see [`Media::codecs`]).
    pub codecs: Option<Vec<Codec>>,
    /// Attribute values (without `a=`) to add after the codecs (the sdp-attr add flag).
    pub extra_attributes: Vec<String>,
    /// `a=crypto` values (without `a=`), written after the rtcp attributes.
    pub crypto_attributes: Vec<String>,
    /// DTLS attribute values (`setup:...`, `fingerprint:...`), written after crypto.
    pub dtls_attributes: Vec<String>,
    /// ICE attribute values (`ice-ufrag:...`, `candidate:...`), written after `a=ptime`.
    pub ice_attributes: Vec<String>,
}

impl MediaRewrite {
    /// A section with our address and port and nothing else decided: no RTCP lines,
    /// direction and codecs from the input, no mid, no ptime.
    pub fn new(address: IpAddr, port: u16) -> MediaRewrite {
        MediaRewrite {
            address,
            zero_address: false,
            port,
            rtcp_port: None,
            rtcp_mux: false,
            rtcp_attribute: RtcpAttribute::Normal,
            direction: None,
            media_type: None,
            protocol: None,
            passthrough: false,
            mid: None,
            ptime: None,
            codecs: None,
            extra_attributes: Vec::new(),
            crypto_attributes: Vec::new(),
            dtls_attributes: Vec::new(),
            ice_attributes: Vec::new(),
        }
    }

    /// Like [`MediaRewrite::new`], with the mid, ptime and passthrough taken from input
    /// section `media` as a plain relay would (rtcp still undecided).
    pub fn from_input(media: &Media, address: IpAddr, port: u16) -> MediaRewrite {
        MediaRewrite {
            mid: media.mid().map(str::to_owned),
            ptime: media.ptime(),
            passthrough: media.is_message(),
            ..MediaRewrite::new(address, port)
        }
    }

    fn c_address(&self) -> IpAddr {
        match (self.zero_address, self.address) {
            (false, a) => a,
            (true, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (true, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }
    }
}

/// Writes the SDP rtpengine would send on for `input`, as decided in `rw`.
pub fn rewrite(input: &Session, rw: &SessionRewrite) -> Result<String, SdpError> {
    let media = input.media();
    if media.is_empty() {
        return Err(SdpError::NoMedia);
    }
    if rw.media.len() != media.len() {
        return Err(SdpError::MediaCountMismatch {
            expected: media.len(),
            given: rw.media.len(),
        });
    }
    validate(rw)?;
    let mut out = String::with_capacity(input_size(input) * 2);
    for d in 0..input.description_count() {
        let in_desc = || media.iter().filter(move |m| m.description_index() == d);
        let first = in_desc().next().ok_or(SdpError::NoMedia)?;
        let first_rw = &rw.media[first.index()];
        let lines = input.description_lines(d);
        let session_c = lines.iter().find(|l| l.kind == 'c').map(|l| l.value);
        let rewrite_session_c =
            rw.replace_session_connection || in_desc().any(|m| m.connection().is_none());

        for line in lines {
            match line.kind {
                'o' => write_origin(&mut out, line.value, rw),
                's' => match &rw.session_name {
                    Some(name) => push_line(&mut out, 's', name),
                    None => push_line(&mut out, 's', line.value),
                },
                'c' if rewrite_session_c => {
                    write_connection(&mut out, line.value, first_rw.c_address())
                }
                'a' if strip_session_attribute(line, rw) => {}
                _ => push_line(&mut out, line.kind, line.value),
            }
        }
        if d == 0 {
            for a in &rw.session_attributes {
                push_attr(&mut out, a);
            }
        }
        if let Some(id) = &rw.loop_protect {
            push_attr_fmt(&mut out, format_args!("rtpengine:{id}"));
        }

        for m in in_desc() {
            let mrw = &rw.media[m.index()];
            if mrw.passthrough || m.is_message() {
                write_passthrough(&mut out, m, session_c)?;
            } else {
                write_media(&mut out, input, m, mrw, rw)?;
            }
        }
    }
    Ok(out)
}

/// Caller-supplied text must not break the line structure (or the field structure of
/// `o=` and `m=`): no CR, LF or NUL anywhere, no spaces in single fields.
fn validate(rw: &SessionRewrite) -> Result<(), SdpError> {
    fn line_safe(what: &'static str, v: &str) -> Result<(), SdpError> {
        if v.contains(['\r', '\n', '\0']) {
            return Err(SdpError::InvalidValue { what });
        }
        Ok(())
    }
    fn field_safe(what: &'static str, v: &str) -> Result<(), SdpError> {
        if v.is_empty() || v.contains(|c: char| c.is_ascii_whitespace() || c == '\0') {
            return Err(SdpError::InvalidValue { what });
        }
        Ok(())
    }
    if let Some(u) = &rw.username {
        field_safe("username", u)?;
    }
    if let Some(s) = &rw.session_name {
        line_safe("session name", s)?;
    }
    if let Some(id) = &rw.loop_protect {
        field_safe("loop-protect id", id)?;
    }
    for a in &rw.session_attributes {
        line_safe("attribute", a)?;
    }
    for m in &rw.media {
        if let Some(t) = &m.media_type {
            field_safe("media type", t)?;
        }
        if let Some(p) = &m.protocol {
            field_safe("protocol", p)?;
        }
        if let Some(mid) = &m.mid {
            line_safe("mid", mid)?;
        }
        for c in m.codecs.iter().flatten() {
            if let Some(e) = &c.encoding {
                field_safe("codec encoding", e)?;
            }
            if let Some(f) = &c.fmtp {
                line_safe("fmtp", f)?;
            }
            for fb in &c.rtcp_fb {
                line_safe("rtcp-fb", fb)?;
            }
        }
        for a in m
            .extra_attributes
            .iter()
            .chain(&m.crypto_attributes)
            .chain(&m.dtls_attributes)
            .chain(&m.ice_attributes)
        {
            line_safe("attribute", a)?;
        }
    }
    Ok(())
}

fn input_size(input: &Session) -> usize {
    let lines = (0..input.description_count())
        .flat_map(|d| input.description_lines(d))
        .chain(input.media().iter().flat_map(|m| m.lines()));
    lines.map(|l| l.value.len() + 4).sum::<usize>() + input.media().len() * 40
}

fn push_line(out: &mut String, kind: char, value: &str) {
    out.push(kind);
    out.push('=');
    out.push_str(value);
    out.push_str("\r\n");
}

fn push_attr(out: &mut String, value: &str) {
    push_line(out, 'a', value);
}

/// An `a=` line written from format arguments, with no intermediate string.
fn push_attr_fmt(out: &mut String, value: fmt::Arguments<'_>) {
    out.push_str("a=");
    let _ = out.write_fmt(value);
    out.push_str("\r\n");
}

/// Writes the space-separated `fields` as a line of type `kind`, field `i` replaced by what
/// `replace(i, out)` writes when it returns true.
fn push_fields(
    out: &mut String,
    kind: char,
    value: &str,
    mut replace: impl FnMut(usize, &mut String) -> bool,
) {
    out.push(kind);
    out.push('=');
    for (i, field) in value.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if !replace(i, out) {
            out.push_str(field);
        }
    }
    out.push_str("\r\n");
}

/// The `o=` line with the username, version and address `rw` asks for (a line with fewer
/// than six fields as it is).
fn write_origin(out: &mut String, value: &str, rw: &SessionRewrite) {
    if value.split(' ').count() < 6 {
        return push_line(out, 'o', value);
    }
    push_fields(out, 'o', value, |i, out| {
        match (i, &rw.username, rw.sdp_version, rw.origin_address) {
            (0, Some(u), _, _) => out.push_str(u),
            (2, _, Some(v), _) => {
                let _ = write!(out, "{v}");
            }
            (4, _, _, Some(a)) => out.push_str(addrtype_of(a)),
            (5, _, _, Some(a)) => {
                let _ = write!(out, "{a}");
            }
            _ => return false,
        }
        true
    });
}

/// The `c=` line with `ip` for its address (a line with fewer than three fields as it is).
fn write_connection(out: &mut String, value: &str, ip: IpAddr) {
    if value.split(' ').count() < 3 {
        return push_line(out, 'c', value);
    }
    push_fields(out, 'c', value, |i, out| {
        match i {
            1 => out.push_str(addrtype_of(ip)),
            2 => {
                let _ = write!(out, "{ip}");
            }
            _ => return false,
        }
        true
    });
}

fn is_direction(name: &str) -> bool {
    Direction::from_attr_name(name).is_some()
}

fn strip_session_attribute(line: &Line, rw: &SessionRewrite) -> bool {
    let (Some(name), Some(value)) = (line.attr_name(), line.attr_value()) else {
        return false;
    };
    match name {
        _ if is_ice_attribute(name) => rw.remove_ice,
        "fingerprint" | "setup" => true,
        "extmap" => rw.strip_extmap,
        "group" => value.starts_with("BUNDLE "),
        "rtcp" => matches!(parse_rtcp(value), RtcpParse::BadPort),
        _ if is_direction(name) => !rw.original_sendrecv,
        _ => false,
    }
}

/// Whether a media-level attribute is dropped from the kept lines.
fn strip_media_attribute(
    line: &Line,
    rw: &SessionRewrite,
    have_codecs: bool,
    writes_ptime: bool,
) -> bool {
    let (Some(name), Some(value)) = (line.attr_name(), line.attr_value()) else {
        return false;
    };
    match name {
        _ if is_ice_attribute(name) => rw.remove_ice,
        "rtcp" => !matches!(parse_rtcp(value), RtcpParse::BadAddress),
        "rtcp-mux" | "mid" | "end-of-candidates" => true,
        "crypto" | "fingerprint" | "setup" => true,
        "rtpmap" => have_codecs && parse_rtpmap(value).is_some(),
        "fmtp" | "rtcp-fb" => have_codecs && parse_pt_value(value).is_some(),
        "ptime" => writes_ptime,
        "extmap" => rw.strip_extmap,
        _ if is_direction(name) => !rw.original_sendrecv,
        _ => false,
    }
}

/// An `m=message` section: kept as is, plus a copy of the original session `c=` when it has
/// none of its own.
fn write_passthrough(out: &mut String, m: &Media, session_c: Option<&str>) -> Result<(), SdpError> {
    push_line(out, 'm', m.m_line());
    let lines = m.lines();
    if m.connection().is_some() {
        for l in lines {
            push_line(out, l.kind, l.value);
        }
        return Ok(());
    }
    let c = session_c.ok_or(SdpError::NoSessionConnection { index: m.index() })?;
    let at = lines
        .iter()
        .position(|l| matches!(l.kind, 'a' | 'b' | 'k'))
        .unwrap_or(lines.len());
    for l in &lines[..at] {
        push_line(out, l.kind, l.value);
    }
    push_line(out, 'c', c);
    for l in &lines[at..] {
        push_line(out, l.kind, l.value);
    }
    Ok(())
}

fn write_media(
    out: &mut String,
    input: &Session,
    m: &Media,
    mrw: &MediaRewrite,
    rw: &SessionRewrite,
) -> Result<(), SdpError> {
    let protocol: &str = match &mrw.protocol {
        Some(p) => p,
        None => canonical_protocol(m.protocol()).unwrap_or(m.protocol()),
    };
    let rtp = is_rtp_protocol(protocol);
    let codecs: Cow<[Codec]> = match &mrw.codecs {
        Some(c) => Cow::Borrowed(c),
        None if rtp => Cow::Owned(m.codecs()?),
        None => Cow::Owned(Vec::new()),
    };
    let active = m.port() != 0 && mrw.port != 0;

    // m= line: type, port, protocol, then the formats (for RTP, the codecs' payload types)
    // Type, port, protocol, and the formats as written (what is left after the protocol).
    let mut fields = m.m_line().splitn(4, ' ');
    let (mtype, port, formats) = (fields.next(), fields.next(), fields.nth(1));
    out.push_str("m=");
    match &mrw.media_type {
        Some(t) => out.push_str(t),
        None => out.push_str(mtype.unwrap_or("")),
    }
    out.push(' ');
    if m.port() == 0 {
        out.push_str(port.unwrap_or("0"));
    } else {
        let _ = write!(out, "{}", mrw.port);
        if let Some(n) = m.port_count().filter(|n| *n != 1) {
            let _ = write!(out, "/{n}");
        }
    }
    out.push(' ');
    out.push_str(protocol);
    if rtp {
        if formats.is_some() || !codecs.is_empty() {
            out.push(' ');
        }
        for (i, c) in codecs.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{}", c.payload_type);
        }
    } else if let Some(f) = formats {
        out.push(' ');
        out.push_str(f);
    }
    out.push_str("\r\n");

    // kept lines
    let have_codecs = !codecs.is_empty();
    for l in m.lines() {
        match l.kind {
            'c' => write_connection(out, l.value, mrw.c_address()),
            'a' if strip_media_attribute(l, rw, have_codecs, mrw.ptime.is_some()) => {}
            _ => push_line(out, l.kind, l.value),
        }
    }

    // generated block
    if let Some(mid) = &mrw.mid {
        push_attr_fmt(out, format_args!("mid:{mid}"));
    }
    if active {
        if rtp {
            for c in codecs.iter() {
                let pt = c.payload_type;
                if let Some(enc) = &c.encoding {
                    push_attr_fmt(out, format_args!("rtpmap:{pt} {enc}"));
                }
                if let Some(f) = c.fmtp.as_deref().filter(|f| !f.is_empty()) {
                    push_attr_fmt(out, format_args!("fmtp:{pt} {f}"));
                }
                for fb in &c.rtcp_fb {
                    push_attr_fmt(out, format_args!("rtcp-fb:{pt} {fb}"));
                }
            }
        }
        for a in &mrw.extra_attributes {
            push_attr(out, a);
        }
        if !rw.original_sendrecv {
            let dir = mrw
                .direction
                .unwrap_or_else(|| input.media_direction(m.index()));
            push_attr(out, dir.as_str());
        }
        if rtp {
            write_rtcp(out, mrw);
        }
        for a in mrw.crypto_attributes.iter().chain(&mrw.dtls_attributes) {
            push_attr(out, a);
        }
        if let Some(p) = mrw.ptime.filter(|_| rtp) {
            push_attr_fmt(out, format_args!("ptime:{p}"));
        }
        for a in &mrw.ice_attributes {
            push_attr(out, a);
        }
    }
    if m.end_of_candidates() {
        push_attr(out, "end-of-candidates");
    }
    Ok(())
}

fn write_rtcp(out: &mut String, mrw: &MediaRewrite) {
    let port = match (mrw.rtcp_port, mrw.rtcp_mux) {
        (Some(p), _) => p,
        (None, true) => mrw.port,
        (None, false) => return,
    };
    match mrw.rtcp_attribute {
        RtcpAttribute::Normal => push_attr_fmt(out, format_args!("rtcp:{port}")),
        RtcpAttribute::Full => push_attr_fmt(
            out,
            format_args!(
                "rtcp:{port} IN {} {}",
                addrtype_of(mrw.address),
                mrw.address
            ),
        ),
        RtcpAttribute::Omit => {}
    }
    if mrw.rtcp_mux {
        push_attr(out, "rtcp-mux");
    }
}

// ---------------------------------------------------------------------------------------------

/// Which of rtpengine's `replace` flags about the origin are set for this request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaceFlags {
    /// replace: username
    pub username: bool,
    /// replace: session-name
    pub session_name: bool,
    /// replace: SDP version
    pub sdp_version: bool,
}

/// Per-party (monologue) state behind the username, session-name and SDP-version
/// replacements. rtpengine remembers the username, session name and version of the first
/// SDP it rewrites for a party; with the flags it writes those instead of the new SDP's, and
/// it bumps the version by one whenever the SDP it receives or sends differs (apart from the
/// origin line) from the last one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginTracker {
    username: Option<String>,
    session_name: Option<String>,
    version: Option<u64>,
    /// A digest of the last input and output SDP without their `o=` lines (the texts
    /// themselves would cost every party a kilobyte or so for the call's life).
    last_output: Option<u64>,
}

impl OriginTracker {
    pub fn new() -> OriginTracker {
        OriginTracker::default()
    }

    /// The session version currently remembered, if any.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Rewrites `input` like [`rewrite()`], filling `rw.username`, `rw.session_name` and
    /// `rw.sdp_version` from the remembered values as `flags` ask. `fresh_version` is called
    /// once, for the first SDP, when its version is 0 or unreadably large (rtpengine then
    /// picks a random one).
    pub fn rewrite(
        &mut self,
        input: &Session,
        mut rw: SessionRewrite,
        flags: ReplaceFlags,
        fresh_version: impl FnOnce() -> u64,
    ) -> Result<String, SdpError> {
        let origin = input.origin();
        match &self.username {
            None => self.username = origin.map(|o| o.username.to_owned()),
            Some(u) if flags.username => rw.username = Some(u.clone()),
            Some(_) => {}
        }
        match &self.session_name {
            None => self.session_name = input.session_name().map(str::to_owned),
            Some(s) if flags.session_name => rw.session_name = Some(s.clone()),
            Some(_) => {}
        }
        let mut version = match self.version {
            Some(v) => v,
            None => {
                let v = origin.map(|o| o.version_num()).unwrap_or(0);
                let v = if v == 0 || v == u64::MAX {
                    fresh_version()
                } else {
                    v
                };
                self.version = Some(v);
                v
            }
        };
        if !flags.sdp_version {
            return rewrite(input, &rw);
        }
        // What counts as "changed": the SDP the party sent us or the one we send, each without
        // its origin line. A new version number alone is not a change; a new port or attribute
        // on either side is (rtpengine bumps for a changed input port even when ours stays).
        use std::hash::Hasher as _;
        fn digest_line(h: &mut impl std::hash::Hasher, kind: char, value: &str) {
            if kind != 'o' {
                h.write_u32(kind as u32);
                h.write(value.as_bytes());
                h.write_u8(b'\n');
            }
        }
        rw.sdp_version = Some(version);
        let mut out = rewrite(input, &rw)?;
        // SipHash with fixed keys: a 64-bit digest, so two different SDPs pass for the same
        // (and keep the version) with a chance of 2^-64. The input is hashed from its parsed
        // lines (formatting it again cost more than the rewrite), the output from its text.
        let mut h = std::hash::DefaultHasher::new();
        let _ = input.try_for_each_line(|kind, value| {
            digest_line(&mut h, kind, value);
            Ok::<(), std::convert::Infallible>(())
        });
        h.write_u8(0);
        for l in out.split("\r\n").filter(|l| !l.starts_with("o=")) {
            h.write(l.as_bytes());
            h.write_u8(b'\n');
        }
        let key = std::hash::Hasher::finish(&h);
        if self.last_output.is_some_and(|last| last != key) {
            version = version.wrapping_add(1);
            self.version = Some(version);
            rw.sdp_version = Some(version);
            out = rewrite(input, &rw)?;
        }
        self.last_output = Some(key);
        Ok(out)
    }
}
