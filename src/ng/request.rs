//! A decoded NG dictionary turned into a typed request.
//!
//! Options reach rtpengine in three ways, and all of them are handled here, in the order
//! the entries arrive (so for a scalar option the last occurrence wins):
//! - explicit dictionary keys (`"ICE": "force"`, `"replace": ["origin"]`, ...);
//! - words in the `flags` list (`trust-address`, `replace-origin`, `codec-strip-PCMA`,
//!   `SDES-no-NAME`, `RTP/SAVPF`, and `KEY=VALUE` words for any known key);
//! - the `rtpp-flags` string newer Kamailio sends: space-separated words, `KEY=VALUE`
//!   pairs, with `[ ]` for lists and dictionaries
//!   (`codec=[transcode=[PCMA PCMU] strip=[EVS]]`).
//!
//! Key and flag names compare with `-`, `_` and space as the same character and are
//! otherwise case-sensitive, as in rtpengine (which also accepts a few lower-case
//! spellings, e.g. `ice`, `sdes`: those are listed explicitly).
//!
//! Nothing here fails on an unknown or unsupported option: like rtpengine, it is skipped
//! and a line is added to [`NgRequest::warnings`] ("unknown flag 'X'", "unknown key 'X'",
//! or "... accepted but not implemented" for options rtpengine documents that rtpbridge
//! does not support). Only a missing `command`, or a missing key a command cannot do
//! without, is an error.
//!
//! Values are taken as sent, not judged against the command: e.g. `ptime` or
//! `codec-mask` are parsed in an `answer` too, where rtpengine ignores them.

use std::borrow::Cow;
use std::net::IpAddr;

use super::bencode::{Dict, Value};
use super::message::NgError;

/// The NG command (`command` key). Names compare like keys (`start_recording` ==
/// `start recording`), case-sensitively (`block DTMF`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    Ping,
    Offer,
    Answer,
    Delete,
    Query,
    List,
    Statistics,
    StartRecording,
    StopRecording,
    PauseRecording,
    StartForwarding,
    StopForwarding,
    BlockDtmf,
    UnblockDtmf,
    BlockMedia,
    UnblockMedia,
    SilenceMedia,
    UnsilenceMedia,
    PlayMedia,
    StopMedia,
    PlayDtmf,
    Publish,
    /// `subscribe request`
    Subscribe,
    SubscribeAnswer,
    Unsubscribe,
    /// Any other command, as sent. The dispatcher replies "Unrecognized command".
    Other(String),
}

impl Default for Command {
    fn default() -> Self {
        Command::Other(String::new())
    }
}

impl Command {
    pub fn from_name(name: &str) -> Command {
        // Copied only when there is something to map (`start_recording`, `play-media`).
        let n: Cow<'_, [u8]> = if name.bytes().any(|b| b == b'-' || b == b'_') {
            Cow::Owned(
                name.bytes()
                    .map(|b| if b == b'-' || b == b'_' { b' ' } else { b })
                    .collect(),
            )
        } else {
            Cow::Borrowed(name.as_bytes())
        };
        match &*n {
            b"ping" => Command::Ping,
            b"offer" => Command::Offer,
            b"answer" => Command::Answer,
            b"delete" => Command::Delete,
            b"query" => Command::Query,
            b"list" => Command::List,
            b"statistics" => Command::Statistics,
            b"start recording" => Command::StartRecording,
            b"stop recording" => Command::StopRecording,
            b"pause recording" => Command::PauseRecording,
            b"start forwarding" => Command::StartForwarding,
            b"stop forwarding" => Command::StopForwarding,
            b"block DTMF" => Command::BlockDtmf,
            b"unblock DTMF" => Command::UnblockDtmf,
            b"block media" => Command::BlockMedia,
            b"unblock media" => Command::UnblockMedia,
            b"silence media" => Command::SilenceMedia,
            b"unsilence media" => Command::UnsilenceMedia,
            b"play media" => Command::PlayMedia,
            b"stop media" => Command::StopMedia,
            b"play DTMF" => Command::PlayDtmf,
            b"publish" => Command::Publish,
            b"subscribe request" => Command::Subscribe,
            b"subscribe answer" => Command::SubscribeAnswer,
            b"unsubscribe" => Command::Unsubscribe,
            _ => Command::Other(name.to_string()),
        }
    }

    /// The name as the NG documentation writes it.
    pub fn name(&self) -> &str {
        match self {
            Command::Ping => "ping",
            Command::Offer => "offer",
            Command::Answer => "answer",
            Command::Delete => "delete",
            Command::Query => "query",
            Command::List => "list",
            Command::Statistics => "statistics",
            Command::StartRecording => "start recording",
            Command::StopRecording => "stop recording",
            Command::PauseRecording => "pause recording",
            Command::StartForwarding => "start forwarding",
            Command::StopForwarding => "stop forwarding",
            Command::BlockDtmf => "block DTMF",
            Command::UnblockDtmf => "unblock DTMF",
            Command::BlockMedia => "block media",
            Command::UnblockMedia => "unblock media",
            Command::SilenceMedia => "silence media",
            Command::UnsilenceMedia => "unsilence media",
            Command::PlayMedia => "play media",
            Command::StopMedia => "stop media",
            Command::PlayDtmf => "play DTMF",
            Command::Publish => "publish",
            Command::Subscribe => "subscribe request",
            Command::SubscribeAnswer => "subscribe answer",
            Command::Unsubscribe => "unsubscribe",
            Command::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrFamily {
    Ip4,
    Ip6,
}

impl AddrFamily {
    /// `IP4` or `IP6`, as in `received-from` and `address family`.
    pub fn from_name(s: &str) -> Option<AddrFamily> {
        match s {
            "IP4" => Some(AddrFamily::Ip4),
            "IP6" => Some(AddrFamily::Ip6),
            _ => None,
        }
    }

    pub fn of(addr: &IpAddr) -> AddrFamily {
        match addr {
            IpAddr::V4(_) => AddrFamily::Ip4,
            IpAddr::V6(_) => AddrFamily::Ip6,
        }
    }
}

/// The `ICE` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IceMode {
    Remove,
    Force,
    Default,
    ForceRelay,
    Optional,
}

/// Items of the `rtcp-mux` list (or `rtcp-mux-X` flags), in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RtcpMuxFlag {
    Offer,
    Demux,
    Accept,
    Reject,
    /// rtpengine treats `require` as implying `offer` too.
    Require,
}

/// The `all` key: which call parties or media flows a command applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllMode {
    All,
    None,
    OfferAnswer,
    ExceptOfferAnswer,
    Flows,
}

/// The `replace` list (or `replace-X` flags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replace {
    pub origin: bool,
    pub origin_full: bool,
    pub session_connection: bool,
    pub sdp_version: bool,
    pub force_increment_sdp_version: bool,
    pub username: bool,
    pub session_name: bool,
    pub zero_address: bool,
}

/// Boolean words of the `flags` list (and `rtpp-flags`). A flag that is `true` was given;
/// what it does is up to the command handler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    /// `trust-address`. Cleared by a later `SIP-source-address`.
    pub trust_address: bool,
    /// `SIP-source-address`. Cleared by a later `trust-address`. If neither is given, the
    /// configured default (`--sip-source`) applies.
    pub sip_source_address: bool,
    /// `symmetric` (rtpproxy `w`; the default anyway, rtpengine itself logs it as unknown).
    pub symmetric: bool,
    pub asymmetric: bool,
    pub unidirectional: bool,
    pub strict_source: bool,
    pub media_handover: bool,
    pub port_latching: bool,
    pub no_port_latching: bool,
    pub no_rtcp_attribute: bool,
    pub full_rtcp_attribute: bool,
    pub loop_protect: bool,
    /// `record-call` as a flag (also sets [`NgRequest::record_call`]).
    pub record_call: bool,
    /// `all` as a flag, or `all=all`.
    pub all: bool,
    pub generate_mid: bool,
    /// `strip-extmap`, or `extmap=[strip=[all]]`.
    pub strip_extmap: bool,
    pub original_sendrecv: bool,
    /// `allow asymmetric codecs`.
    pub asymmetric_codecs: bool,
    pub allow_no_codec_media: bool,
    pub allow_transcoding: bool,
    pub force_transcoding: bool,
    /// `always transcode` (also adds `all` to `codec_accept`, as rtpengine does).
    pub always_transcode: bool,
    /// `reuse codecs` / `no codec renegotiation`.
    pub reuse_codecs: bool,
    pub single_codec: bool,
    pub static_codecs: bool,
    pub reset: bool,
    /// The bare word `to-tag` (honour the `to-tag` in a `delete`).
    pub to_tag_delete: bool,
    pub fatal: bool,
    pub fast: bool,
    /// `pad crypto` (legacy alias of `SDES-pad`, which also sets this).
    pub pad_crypto: bool,
    pub no_jitter_buffer: bool,
    /// `trickle ICE`, or `trickle` in the `ICE` list.
    pub trickle_ice: bool,
    /// `reject ICE`.
    pub reject_ice: bool,
    pub inject_dtmf: bool,
    pub detect_dtmf: bool,
    pub block_dtmf: bool,
    pub block_egress: bool,
    pub block_short: bool,
    pub passthrough: bool,
    pub no_passthrough: bool,
    pub pierce_nat: bool,
    pub nat_wait: bool,
    pub directional: bool,
    pub bidirectional: bool,
    pub inactive: bool,
    pub early_media: bool,
    pub debug: bool,
    pub fragment: bool,
    pub new_branch: bool,
    pub no_tls_id: bool,
    pub provisional: bool,
    pub recrypt: bool,
    pub rtcp_mirror: bool,
    pub discard_recording: bool,
    pub exclude_recording: bool,
    pub skip_recording_db: bool,
    pub egress: bool,
    pub unsubscribe: bool,
    /// `pause` as a flag or `pause=yes` (a `stop recording` that pauses).
    pub pause: bool,
    /// `WebRTC`: its expansion (transport, ICE, rtcp-mux, SDES-off, ...) is applied too.
    pub webrtc: bool,
}

/// A typed NG request. See the module documentation for where each field can come from.
/// Strings that are not UTF-8 are converted lossily.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NgRequest {
    pub command: Command,
    pub call_id: Option<String>,
    pub from_tag: Option<String>,
    pub to_tag: Option<String>,
    /// `from-tags` list and `from-tags-TAG` flags.
    pub from_tags: Vec<String>,
    pub via_branch: Option<String>,
    /// The SDP body. A body that is not UTF-8 is converted lossily, with a warning.
    pub sdp: Option<String>,
    /// `label` or `from-label` (rtpengine treats them alike).
    pub label: Option<String>,
    pub set_label: Option<String>,
    /// `from-label` only (it is also copied to `label`).
    pub from_label: Option<String>,
    pub to_label: Option<String>,
    /// `address`: selects a call party by its SDP media address (block/unblock commands).
    pub address: Option<String>,
    pub received_from: Option<(AddrFamily, IpAddr)>,
    pub media_address: Option<IpAddr>,
    pub address_family: Option<AddrFamily>,
    /// `transport-protocol`, or a transport word in the flags (`RTP/SAVPF`).
    pub transport_protocol: Option<String>,
    /// `transport-protocol=accept` (answer: go along with the answerer's protocol).
    pub transport_protocol_accept: bool,
    pub ice: Option<IceMode>,
    /// `ICE-lite` (or `lite-X` in the `ICE` list), normalised to `off`, `forward`,
    /// `backward` or `both`.
    pub ice_lite: Option<String>,
    /// `DTLS`, normalised to `passive`, `active` or `off`.
    pub dtls: Option<String>,
    pub dtls_fingerprint: Option<String>,
    /// `SDES` options in order, normalised: `off`, `unencrypted_srtp`, `unencrypted_srtcp`,
    /// `unauthenticated_srtp`, `encrypted_srtp`, `encrypted_srtcp`, `authenticated_srtp`,
    /// `lifetime`, `pad`, `static`, `nonew`, `prefer`, `no-SUITE`, `only-SUITE`,
    /// `order:LIST`, `offerer_pref:LIST`.
    pub sdes: Vec<String>,
    /// `OSRTP` options, normalised: `offer`, `offer-legacy`, `accept-RFC`,
    /// `accept-legacy`, `accept`.
    pub osrtp: Vec<String>,
    /// `bundle` options (rtpengine 12+): `offer` puts the offer's sections into an
    /// `a=group:BUNDLE` (with generated mids where needed); `accept` is the default.
    pub bundle: Vec<String>,
    pub rtcp_mux: Vec<RtcpMuxFlag>,
    pub replace: Replace,
    /// Interface names: the `direction` list, repeated `direction` string keys (OpenSIPS),
    /// `from-interface` / `to-interface` (slots 0 and 1; an empty string is "not given"),
    /// or bare `internal` / `external` in `rtpp-flags`.
    pub direction: Vec<String>,
    pub interface: Option<String>,
    pub flags: Flags,
    pub all: Option<AllMode>,
    /// `record-call` key (`yes`/`on` or `no`/`off`) or flag.
    pub record_call: Option<bool>,
    /// `generate RTCP` key (`on`/`off`) or flag.
    pub generate_rtcp: Option<bool>,
    /// `endpoint-learning`: `off`, `immediate`, `delayed` or `heuristic`.
    pub endpoint_learning: Option<String>,
    pub delete_delay: Option<u32>,
    pub codec_strip: Vec<String>,
    pub codec_mask: Vec<String>,
    pub codec_offer: Vec<String>,
    pub codec_except: Vec<String>,
    pub codec_consume: Vec<String>,
    pub codec_accept: Vec<String>,
    pub codec_set: Vec<String>,
    pub codec_transcode: Vec<String>,
    pub codec_ignore: Vec<String>,
    pub ptime: Option<u32>,
    pub ptime_reverse: Option<u32>,
    /// `TOS` as given (negative: leave unchanged; 256 or more: back to the default).
    pub tos: Option<i64>,
    pub metadata: Option<String>,
    /// `output-destination` / `recording-file` and aliases.
    pub output_destination: Option<String>,
    /// `recording-dir` / `output-dir` and aliases.
    pub recording_dir: Option<String>,
    pub recording_pattern: Option<String>,
    /// `supports` list (e.g. `load limit`).
    pub supports: Vec<String>,
    /// `list`: maximum number of call-ids.
    pub limit: Option<u32>,
    /// `play media` source and repetition.
    pub file: Option<String>,
    pub blob: Option<Vec<u8>>,
    pub db_id: Option<i64>,
    pub repeat_times: Option<i64>,
    pub repeat_duration: Option<i64>,
    pub start_pos: Option<i64>,
    /// `play DTMF`: `code` or `digit`, as given (`"5"`, `"#"`, or an integer 0-15).
    pub digit: Option<String>,
    pub duration: Option<i64>,
    pub volume: Option<i64>,
    /// `play DTMF`: pause between events, in milliseconds.
    pub pause: Option<i64>,
    /// One line per option that was unknown, malformed or accepted but not implemented.
    pub warnings: Vec<String>,
}

/// Nesting bound for `KEY=VALUE` words that contain more options (`flags=...` inside a
/// flags list, `rtpp-flags` inside `rtpp-flags`) and for `[ ]` in `rtpp-flags`.
const MAX_NESTING: u32 = 8;

/// Parses a decoded NG dictionary into an [`NgRequest`].
///
/// Errors, with rtpengine's wording: no string `command`; for `offer`, `answer` and
/// `publish` no `sdp`; no `call-id` for commands that act on a call; no `from-tag` in an
/// `offer` or `answer`; no `to-tag` in an `answer`, `subscribe answer` or `unsubscribe`.
/// The checks run in rtpengine's order (for `offer`: SDP, call-id, from-tag).
pub fn parse_request(dict: &Dict<'_>) -> Result<NgRequest, NgError> {
    let command = dict
        .get("command")
        .and_then(Value::as_bytes)
        .ok_or(NgError::NoCommand)?;
    let command = Command::from_name(&String::from_utf8_lossy(command));

    let mut p = Parser {
        req: NgRequest {
            command,
            ..NgRequest::default()
        },
        nesting: 0,
        transport_bits: 0,
        rtpp_directions: 0,
    };
    for (key, value) in dict.iter() {
        if !p.apply_key(key, value) {
            p.warn(format!("unknown key '{}'", lossy(key)));
        }
    }
    let req = p.req;
    check_required(&req)?;
    Ok(req)
}

fn check_required(req: &NgRequest) -> Result<(), NgError> {
    use Command::*;
    let need_sdp = matches!(req.command, Offer | Answer | Publish);
    let need_call_id = !matches!(req.command, Ping | List | Statistics | Publish | Other(_));
    let need_from_tag = matches!(req.command, Offer | Answer);
    let need_to_tag = matches!(req.command, Answer | SubscribeAnswer | Unsubscribe);
    if matches!(req.command, SubscribeAnswer) {
        // rtpengine checks call-id, to-tag, then the SDP here.
        if req.call_id.is_none() {
            return Err(NgError::NoCallId);
        }
        if req.to_tag.is_none() {
            return Err(NgError::NoToTag);
        }
        if req.sdp.is_none() {
            return Err(NgError::NoSdp);
        }
        return Ok(());
    }
    if need_sdp && req.sdp.is_none() {
        return Err(NgError::NoSdp);
    }
    if need_call_id && req.call_id.is_none() {
        return Err(NgError::NoCallId);
    }
    if need_from_tag && req.from_tag.is_none() {
        return Err(NgError::NoFromTag);
    }
    if need_to_tag && req.to_tag.is_none() {
        return Err(NgError::NoToTag);
    }
    Ok(())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Maps `_` and space to `-` (one byte for one byte, so offsets stay valid). Borrows when
/// there is nothing to map, which is the usual case (every request key and flag goes through
/// here).
fn norm(b: &[u8]) -> Cow<'_, [u8]> {
    if !b.iter().any(|&c| c == b'_' || c == b' ') {
        return Cow::Borrowed(b);
    }
    Cow::Owned(
        b.iter()
            .map(|&c| if c == b'_' || c == b' ' { b'-' } else { c })
            .collect(),
    )
}

fn push_warning(warnings: &mut Vec<String>, msg: String) {
    if warnings.len() < MAX_WARNINGS {
        warnings.push(msg);
    } else if warnings.len() == MAX_WARNINGS {
        warnings.push("further warnings suppressed".into());
    }
}

/// If the normalised word `n` starts with `prefix`, the rest of the original `word`.
fn strip_norm<'w>(word: &'w [u8], n: &[u8], prefix: &[u8]) -> Option<&'w [u8]> {
    if n.starts_with(prefix) {
        word.get(prefix.len()..)
    } else {
        None
    }
}

/// rtpengine's escapes in codec and tag lists: `--` for `=`, `..` for a space.
fn unescape(b: &[u8]) -> String {
    lossy(b).replace("--", "=").replace("..", " ")
}

/// The transport protocols rtpengine knows, matched case-insensitively as it does.
const TRANSPORTS: [&str; 7] = [
    "RTP/AVP",
    "RTP/SAVP",
    "RTP/AVPF",
    "RTP/SAVPF",
    "UDP/TLS/RTP/SAVP",
    "UDP/TLS/RTP/SAVPF",
    "udptl",
];

fn canonical_transport(s: &[u8]) -> Option<&'static str> {
    TRANSPORTS
        .iter()
        .copied()
        .find(|t| t.as_bytes().eq_ignore_ascii_case(s))
}

/// At most this many warnings are kept per request; a hostile datagram full of unknown
/// flags should not turn into thousands of log lines.
pub const MAX_WARNINGS: usize = 32;

/// Which list a codec operation fills.
#[derive(Clone, Copy)]
enum CodecOp {
    Strip,
    Mask,
    Offer,
    Except,
    Consume,
    Accept,
    Set,
    Transcode,
    Ignore,
}

impl CodecOp {
    fn from_name(n: &[u8]) -> Option<CodecOp> {
        Some(match n {
            b"strip" => CodecOp::Strip,
            b"mask" => CodecOp::Mask,
            b"offer" => CodecOp::Offer,
            b"except" => CodecOp::Except,
            b"consume" => CodecOp::Consume,
            b"accept" => CodecOp::Accept,
            b"set" => CodecOp::Set,
            b"transcode" => CodecOp::Transcode,
            b"ignore" => CodecOp::Ignore,
            _ => return None,
        })
    }
}

/// Flag-word prefixes that carry a codec: `codec-strip-PCMA`, `transcode-opus`, ...
const CODEC_PREFIXES: [(&[u8], CodecOp); 10] = [
    (b"codec-strip-", CodecOp::Strip),
    (b"codec-mask-", CodecOp::Mask),
    (b"codec-offer-", CodecOp::Offer),
    (b"codec-except-", CodecOp::Except),
    (b"codec-consume-", CodecOp::Consume),
    (b"codec-accept-", CodecOp::Accept),
    (b"codec-set-", CodecOp::Set),
    (b"codec-transcode-", CodecOp::Transcode),
    (b"codec-ignore-", CodecOp::Ignore),
    (b"transcode-", CodecOp::Transcode),
];

/// `rtpp-flags` keys that take a codec list: `codec-strip=PCMA`, `transcode=[A B]`.
fn rtpp_codec_key(n: &[u8]) -> Option<CodecOp> {
    Some(match n {
        b"codec-strip" => CodecOp::Strip,
        b"codec-mask" => CodecOp::Mask,
        b"codec-offer" => CodecOp::Offer,
        b"codec-except" => CodecOp::Except,
        b"codec-consume" => CodecOp::Consume,
        b"codec-accept" => CodecOp::Accept,
        b"codec-set" => CodecOp::Set,
        b"codec-ignore" => CodecOp::Ignore,
        b"codec-transcode" | b"transcode" => CodecOp::Transcode,
        _ => return None,
    })
}

struct Parser {
    req: NgRequest,
    /// Current depth of options nested in option values.
    nesting: u32,
    /// rtpengine's legacy transport words in `rtpp-flags` (`RTP`, `SRTP`, `AVPF`, ...).
    transport_bits: u32,
    /// `direction=X` / `internal` / `external` words seen in `rtpp-flags`.
    rtpp_directions: usize,
}

impl Parser {
    fn warn(&mut self, msg: String) {
        push_warning(&mut self.req.warnings, msg);
    }

    fn take_warnings(&mut self, from: &mut Vec<String>) {
        for w in from.drain(..) {
            self.warn(w);
        }
    }

    fn not_implemented_key(&mut self, key: &[u8]) {
        self.warn(format!("key '{}' accepted but not implemented", lossy(key)));
    }

    fn not_implemented_flag(&mut self, word: &[u8]) {
        self.warn(format!(
            "flag '{}' accepted but not implemented",
            lossy(word)
        ));
    }

    /// A string value, or `None` with a warning.
    fn text(&mut self, key: &[u8], v: &Value<'_>) -> Option<String> {
        match v {
            Value::Bytes(b) => Some(lossy(b)),
            _ => {
                self.warn(format!(
                    "value of '{}' is not a string; ignored",
                    lossy(key)
                ));
                None
            }
        }
    }

    /// An integer given as an integer or as a decimal string.
    fn int(&mut self, key: &[u8], v: &Value<'_>) -> Option<i64> {
        let parsed = match v {
            Value::Int(i) => Some(*i),
            Value::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok()),
            _ => None,
        };
        if parsed.is_none() {
            self.warn(format!(
                "value of '{}' is not an integer; ignored",
                lossy(key)
            ));
        }
        parsed
    }

    fn uint32(&mut self, key: &[u8], v: &Value<'_>) -> Option<u32> {
        let i = self.int(key, v)?;
        match u32::try_from(i) {
            Ok(u) => Some(u),
            Err(_) => {
                self.warn(format!(
                    "value {i} of '{}' is out of range; ignored",
                    lossy(key)
                ));
                None
            }
        }
    }

    /// The strings of a list, or of a comma-separated string (as rtpengine allows).
    fn items<'a>(&mut self, key: &[u8], v: &Value<'a>) -> Vec<&'a [u8]> {
        match v {
            Value::Bytes(b) => {
                let b: &'a [u8] = b;
                b.split(|&c| c == b',').filter(|s| !s.is_empty()).collect()
            }
            Value::List(list) => {
                let mut out = Vec::with_capacity(list.len());
                for item in list {
                    match item {
                        Value::Bytes(b) => out.push(*b),
                        _ => self.warn(format!("non-string item in '{}' ignored", lossy(key))),
                    }
                }
                out
            }
            _ => {
                self.warn(format!(
                    "value of '{}' is not a list or string; ignored",
                    lossy(key)
                ));
                Vec::new()
            }
        }
    }

    fn codec_list(&mut self, op: CodecOp) -> &mut Vec<String> {
        let r = &mut self.req;
        match op {
            CodecOp::Strip => &mut r.codec_strip,
            CodecOp::Mask => &mut r.codec_mask,
            CodecOp::Offer => &mut r.codec_offer,
            CodecOp::Except => &mut r.codec_except,
            CodecOp::Consume => &mut r.codec_consume,
            CodecOp::Accept => &mut r.codec_accept,
            CodecOp::Set => &mut r.codec_set,
            CodecOp::Transcode => &mut r.codec_transcode,
            CodecOp::Ignore => &mut r.codec_ignore,
        }
    }

    fn push_codecs(&mut self, op: CodecOp, key: &[u8], v: &Value<'_>) {
        for item in self.items(key, v) {
            let s = unescape(item);
            self.codec_list(op).push(s);
        }
    }

    fn set_direction(&mut self, slot: usize, name: String) {
        let d = &mut self.req.direction;
        while d.len() < slot {
            d.push(String::new());
        }
        if d.len() == slot {
            d.push(name);
        } else {
            d[slot] = name;
        }
    }

    /// Applies one dictionary entry (or `KEY=VALUE` word). Returns `false` if the key is
    /// unknown, leaving the warning to the caller.
    fn apply_key(&mut self, key: &[u8], v: &Value<'_>) -> bool {
        let n = norm(key);
        match &*n {
            b"command" => {}
            b"call-id" | b"call-ID" => self.req.call_id = self.text(key, v),
            b"from-tag" => self.req.from_tag = self.text(key, v),
            b"to-tag" => self.req.to_tag = self.text(key, v),
            b"via-branch" => self.req.via_branch = self.text(key, v),
            b"sdp" | b"SDP" => match v {
                Value::Bytes(b) => match std::str::from_utf8(b) {
                    Ok(s) => self.req.sdp = Some(s.to_string()),
                    Err(_) => {
                        self.req.sdp = Some(lossy(b));
                        self.warn("SDP body is not UTF-8; invalid bytes replaced".into());
                    }
                },
                _ => {
                    self.warn("value of 'sdp' is not a string; ignored".into());
                }
            },
            b"label" => self.req.label = self.text(key, v),
            b"from-label" => {
                let s = self.text(key, v);
                self.req.label.clone_from(&s);
                self.req.from_label = s;
            }
            b"set-label" => self.req.set_label = self.text(key, v),
            b"to-label" => self.req.to_label = self.text(key, v),
            b"address" => self.req.address = self.text(key, v),
            b"interface" => self.req.interface = self.text(key, v),
            b"from-tags" => {
                for item in self.items(key, v) {
                    self.req.from_tags.push(unescape(item));
                }
            }
            b"received-from" => self.received_from(key, v),
            b"media-address" => {
                if let Some(s) = self.text(key, v) {
                    match s.parse::<IpAddr>() {
                        Ok(a) => self.req.media_address = Some(a),
                        Err(_) => self.warn(format!("could not parse 'media-address' '{s}'")),
                    }
                }
            }
            b"address-family" => {
                if let Some(s) = self.text(key, v) {
                    match AddrFamily::from_name(&s) {
                        Some(f) => self.req.address_family = Some(f),
                        None => self.warn(format!("unknown address family '{s}'")),
                    }
                }
            }
            b"transport-protocol" => {
                if let Some(s) = self.text(key, v) {
                    if s == "accept" {
                        self.req.transport_protocol_accept = true;
                    } else {
                        match canonical_transport(s.as_bytes()) {
                            Some(t) => self.req.transport_protocol = Some(t.to_string()),
                            None => self.warn(format!("unknown transport protocol '{s}'; ignored")),
                        }
                    }
                }
            }
            b"ICE" | b"ice" => {
                for item in self.items(key, v) {
                    self.ice_option(item);
                }
            }
            b"ICE-lite" | b"ice-lite" => {
                if let Some(s) = self.text(key, v) {
                    self.ice_lite(s.as_bytes());
                }
            }
            b"DTLS" | b"dtls" => {
                for item in self.items(key, v) {
                    match item {
                        b"passive" => self.req.dtls = Some("passive".into()),
                        b"active" => self.req.dtls = Some("active".into()),
                        b"off" | b"no" | b"disable" | b"disabled" => {
                            self.req.dtls = Some("off".into());
                        }
                        _ => self.warn(format!("unknown 'DTLS' option '{}'", lossy(item))),
                    }
                }
            }
            b"DTLS-fingerprint" | b"dtls-fingerprint" => {
                self.req.dtls_fingerprint = self.text(key, v);
            }
            b"SDES" | b"sdes" => {
                for item in self.items(key, v) {
                    self.sdes_option(item);
                }
            }
            b"bundle" | b"BUNDLE" => {
                for item in self.items(key, v) {
                    match item {
                        b"offer" | b"accept" => self.req.bundle.push(lossy(item)),
                        _ => self.warn(format!(
                            "'bundle' option '{}' is not implemented; ignored",
                            lossy(item)
                        )),
                    }
                }
            }
            b"OSRTP" | b"osrtp" => {
                for item in self.items(key, v) {
                    self.osrtp_option(item);
                }
            }
            b"rtcp-mux" | b"RTCP-mux" => {
                for item in self.items(key, v) {
                    self.rtcp_mux_option(item);
                }
            }
            b"replace" => {
                for item in self.items(key, v) {
                    self.replace_option(item);
                }
            }
            b"flags" => {
                for item in self.items(key, v) {
                    self.flag_word(item);
                }
            }
            b"rtpp-flags" => match v {
                Value::Bytes(b) => self.rtpp_flags(b),
                _ => self.warn("value of 'rtpp-flags' is not a string; ignored".into()),
            },
            b"direction" => match v {
                Value::Bytes(b) => self.req.direction.push(lossy(b)),
                _ => {
                    for item in self.items(key, v) {
                        self.req.direction.push(lossy(item));
                    }
                }
            },
            b"from-interface" => {
                if let Some(s) = self.text(key, v) {
                    self.set_direction(0, s);
                }
            }
            b"to-interface" => {
                if let Some(s) = self.text(key, v) {
                    self.set_direction(1, s);
                }
            }
            b"record-call" => {
                if let Some(s) = self.text(key, v) {
                    match s.as_str() {
                        "yes" | "on" => self.req.record_call = Some(true),
                        "no" | "off" => self.req.record_call = Some(false),
                        _ => self.warn(format!("unknown 'record-call' value '{s}'")),
                    }
                }
            }
            b"generate-RTCP" | b"generate-rtcp" => {
                if let Some(s) = self.text(key, v) {
                    match s.as_str() {
                        "on" => self.req.generate_rtcp = Some(true),
                        "off" => self.req.generate_rtcp = Some(false),
                        _ => self.warn(format!("unknown 'generate RTCP' value '{s}'")),
                    }
                }
            }
            b"endpoint-learning" => {
                for item in self.items(key, v) {
                    self.endpoint_learning(item);
                }
            }
            b"passthrough" | b"passthru" => {
                if let Some(s) = self.text(key, v) {
                    match s.as_str() {
                        "on" | "yes" | "enable" | "enabled" => self.req.flags.passthrough = true,
                        "off" | "no" | "disable" | "disabled" => {
                            self.req.flags.no_passthrough = true;
                        }
                        _ => self.warn(format!("unknown 'passthrough' value '{s}'")),
                    }
                }
            }
            b"all" => {
                if let Some(s) = self.text(key, v) {
                    let mode = match &*norm(s.as_bytes()) {
                        b"all" => Some(AllMode::All),
                        b"none" => Some(AllMode::None),
                        b"offer-answer" => Some(AllMode::OfferAnswer),
                        b"except-offer-answer" | b"not-offer-answer" | b"non-offer-answer" => {
                            Some(AllMode::ExceptOfferAnswer)
                        }
                        b"flows" => Some(AllMode::Flows),
                        _ => None,
                    };
                    match mode {
                        Some(m) => {
                            self.req.flags.all = m == AllMode::All;
                            self.req.all = Some(m);
                        }
                        None => self.warn(format!("unknown 'all' value '{s}'")),
                    }
                }
            }
            b"delete-delay" => {
                if let Some(i) = self.int(key, v) {
                    match u32::try_from(i) {
                        Ok(d) => self.req.delete_delay = Some(d),
                        Err(_) => self.warn(format!("invalid 'delete-delay' {i}; ignored")),
                    }
                }
            }
            b"ptime" => self.req.ptime = self.uint32(key, v),
            b"ptime-reverse" | b"reverse-ptime" => self.req.ptime_reverse = self.uint32(key, v),
            b"TOS" | b"tos" => self.req.tos = self.int(key, v),
            b"metadata" => self.req.metadata = self.text(key, v),
            b"output-destination"
            | b"output-dest"
            | b"output-file"
            | b"recording-destination"
            | b"recording-dest"
            | b"recording-file" => {
                self.req.output_destination = self.text(key, v);
            }
            b"recording-path"
            | b"recording-dir"
            | b"recording-directory"
            | b"recording-folder"
            | b"output-path"
            | b"output-dir"
            | b"output-directory"
            | b"output-folder" => self.req.recording_dir = self.text(key, v),
            b"recording-pattern" | b"output-pattern" => {
                self.req.recording_pattern = self.text(key, v);
            }
            b"codec" | b"codecs" => match v {
                Value::Dict(d) => {
                    for (op_name, list) in d.iter() {
                        match CodecOp::from_name(&norm(op_name)) {
                            Some(op) => self.push_codecs(op, op_name, list),
                            None => {
                                self.warn(format!("unknown 'codec' operation '{}'", lossy(op_name)))
                            }
                        }
                    }
                }
                _ => self.warn("value of 'codec' is not a dictionary; ignored".into()),
            },
            b"extmap" => self.extmap(key, v),
            b"supports" => {
                for item in self.items(key, v) {
                    let s = lossy(item);
                    if s != "load limit" {
                        self.warn(format!("optional feature '{s}' not supported"));
                    }
                    self.req.supports.push(s);
                }
            }
            b"limit" => self.req.limit = self.uint32(key, v),
            b"file" => self.req.file = self.text(key, v),
            b"blob" => match v {
                Value::Bytes(b) => self.req.blob = Some(b.to_vec()),
                _ => self.warn("value of 'blob' is not a string; ignored".into()),
            },
            b"db-id" => self.req.db_id = self.int(key, v),
            b"repeat-times" => self.req.repeat_times = self.int(key, v),
            b"repeat-duration" => self.req.repeat_duration = self.int(key, v),
            b"start-pos" => self.req.start_pos = self.int(key, v),
            b"code" | b"digit" => match v {
                Value::Int(i) => self.req.digit = Some(i.to_string()),
                _ => self.req.digit = self.text(key, v),
            },
            b"duration" => self.req.duration = self.int(key, v),
            b"volume" => self.req.volume = self.int(key, v),
            b"pause" => match v {
                Value::Bytes(b"yes") => self.req.flags.pause = true,
                Value::Bytes(b"no") => self.req.flags.pause = false,
                _ => self.req.pause = self.int(key, v),
            },
            // Documented by rtpengine, not supported by rtpbridge.
            b"alias-key"
            | b"audio-player"
            | b"player"
            | b"delay-buffer"
            | b"DTMF-security"
            | b"dtmf-security"
            | b"DTMF-security-trigger"
            | b"dtmf-security-trigger"
            | b"DTMF-security-trigger-end"
            | b"dtmf-security-trigger-end"
            | b"DTMF-delay"
            | b"dtmf-delay"
            | b"DTMF-log-dest"
            | b"dtmf-log-dest"
            | b"DTMF-log-destination"
            | b"dtmf-log-destination"
            | b"drop-traffic"
            | b"DTLS-reverse"
            | b"dtls-reverse"
            | b"frequency"
            | b"frequencies"
            | b"inbound-peer"
            | b"outbound-peer"
            | b"peer"
            | b"media-echo"
            | b"moh"
            | b"MoH"
            | b"MOH"
            | b"SIP-message-type"
            | b"sip-message-type"
            | b"SIP-code"
            | b"sip-code"
            | b"SIP-response-code"
            | b"sip-response-code"
            | b"template"
            | b"trigger"
            | b"trigger-end"
            | b"end-trigger"
            | b"trigger-end-time"
            | b"end-trigger-time"
            | b"trigger-end-digits"
            | b"end-trigger-digits"
            | b"T38"
            | b"T.38"
            | b"t38"
            | b"t.38"
            | b"T38-version"
            | b"T.38-version"
            | b"t38-version"
            | b"t.38-version"
            | b"xmlrpc-callback"
            | b"XMLRPC-callback"
            | b"sdp-attr"
            | b"SDP-attr"
            | b"sdp-media-remove"
            | b"SDP-media-remove"
            | b"blob64"
            | b"instance"
            | b"calls"
            | b"tags"
            | b"media"
            | b"medias"
            | b"to-call-id"
            | b"source-tag"
            | b"source-call-id"
            | b"source-call-ID"
            | b"codecs-offer"
            | b"recording-media-slot-offer"
            | b"recording-media-slot-answer"
            | b"recording-media-slots" => self.not_implemented_key(key),
            _ if n.starts_with(b"vsc-") || n.starts_with(b"VSC-") => {
                self.not_implemented_key(key);
            }
            _ => return false,
        }
        true
    }

    fn received_from(&mut self, key: &[u8], v: &Value<'_>) {
        let (family, addr) = match v {
            Value::List(l) => match (
                l.first().and_then(Value::as_str),
                l.get(1).and_then(Value::as_str),
            ) {
                (Some(f), Some(a)) => (Some(f), a),
                _ => {
                    self.warn("malformed 'received-from'; ignored".into());
                    return;
                }
            },
            Value::Bytes(_) => match v.as_str() {
                Some(a) => (None, a),
                None => {
                    self.warn("malformed 'received-from'; ignored".into());
                    return;
                }
            },
            _ => {
                self.warn(format!("value of '{}' is not a list; ignored", lossy(key)));
                return;
            }
        };
        let Ok(ip) = addr.parse::<IpAddr>() else {
            self.warn(format!("could not parse 'received-from' address '{addr}'"));
            return;
        };
        let actual = AddrFamily::of(&ip);
        if let Some(f) = family {
            match AddrFamily::from_name(f) {
                Some(given) if given == actual => {}
                _ => self.warn(format!(
                    "'received-from' family '{f}' does not match address '{addr}'"
                )),
            }
        }
        self.req.received_from = Some((actual, ip));
    }

    fn ice_option(&mut self, item: &[u8]) {
        let n = norm(item);
        match &*n {
            b"remove" => self.req.ice = Some(IceMode::Remove),
            b"force" => self.req.ice = Some(IceMode::Force),
            b"default" => self.req.ice = Some(IceMode::Default),
            b"optional" => self.req.ice = Some(IceMode::Optional),
            b"force-relay" => self.req.ice = Some(IceMode::ForceRelay),
            b"trickle" => self.req.flags.trickle_ice = true,
            b"ice2" | b"ICE2" => self.not_implemented_flag(item),
            b"lite" => self.ice_lite(b"forward"),
            b"no-lite" => self.ice_lite(b"off"),
            _ if n.starts_with(b"lite-") => self.ice_lite(&item[5..]),
            _ => self.warn(format!("unknown 'ICE' option '{}'", lossy(item))),
        }
    }

    fn ice_lite(&mut self, value: &[u8]) {
        let canonical = match value {
            b"off" | b"none" | b"no" => "off",
            b"forward" | b"offer" | b"fwd" | b"fw" => "forward",
            b"backward" | b"backwards" | b"reverse" | b"answer" | b"back" | b"bkw" | b"bk" => {
                "backward"
            }
            b"both" => "both",
            _ => {
                self.warn(format!("unknown 'ICE-lite' option '{}'", lossy(value)));
                return;
            }
        };
        self.req.ice_lite = Some(canonical.to_string());
    }

    fn sdes_option(&mut self, item: &[u8]) {
        let n = norm(item);
        let prefixes: [(&[u8], &str); 4] = [
            (b"no-", "no-"),
            (b"only-", "only-"),
            (b"order:", "order:"),
            (b"offerer-pref:", "offerer_pref:"),
        ];
        for (prefix, canonical) in prefixes {
            if let Some(rest) = strip_norm(item, &n, prefix) {
                self.req.sdes.push(format!("{canonical}{}", lossy(rest)));
                return;
            }
        }
        let canonical = match &*n {
            b"off" | b"no" | b"disable" | b"disabled" => "off",
            b"unencrypted-srtp" | b"UNENCRYPTED-SRTP" => "unencrypted_srtp",
            b"unencrypted-srtcp" | b"UNENCRYPTED-SRTCP" => "unencrypted_srtcp",
            b"unauthenticated-srtp" | b"UNAUTHENTICATED-SRTP" => "unauthenticated_srtp",
            b"encrypted-srtp" | b"ENCRYPTED-SRTP" => "encrypted_srtp",
            b"encrypted-srtcp" | b"ENCRYPTED-SRTCP" => "encrypted_srtcp",
            b"authenticated-srtp" | b"AUTHENTICATED-SRTP" => "authenticated_srtp",
            b"lifetime" => "lifetime",
            b"pad" => {
                self.req.flags.pad_crypto = true;
                "pad"
            }
            b"static" => "static",
            b"nonew" => "nonew",
            b"prefer" | b"priority" => "prefer",
            _ => {
                self.warn(format!("unknown 'SDES' option '{}'", lossy(item)));
                return;
            }
        };
        self.req.sdes.push(canonical.to_string());
    }

    fn osrtp_option(&mut self, item: &[u8]) {
        let canonical = match &*norm(item) {
            b"offer" | b"offer-RFC" | b"offer-rfc" => "offer",
            b"offer-legacy" => "offer-legacy",
            b"accept-RFC" | b"accept-rfc" => "accept-RFC",
            b"accept-legacy" => "accept-legacy",
            b"accept" => "accept",
            _ => {
                self.warn(format!("unknown 'OSRTP' option '{}'", lossy(item)));
                return;
            }
        };
        self.req.osrtp.push(canonical.to_string());
    }

    fn rtcp_mux_option(&mut self, item: &[u8]) {
        let f = match item {
            b"offer" => RtcpMuxFlag::Offer,
            b"require" => RtcpMuxFlag::Require,
            b"demux" => RtcpMuxFlag::Demux,
            b"accept" => RtcpMuxFlag::Accept,
            b"reject" => RtcpMuxFlag::Reject,
            _ => {
                self.warn(format!("unknown 'rtcp-mux' option '{}'", lossy(item)));
                return;
            }
        };
        self.req.rtcp_mux.push(f);
    }

    fn replace_option(&mut self, item: &[u8]) {
        let r = &mut self.req.replace;
        match &*norm(item) {
            b"origin" => r.origin = true,
            b"origin-full" => r.origin_full = true,
            b"session-connection" => r.session_connection = true,
            b"sdp-version" | b"SDP-version" => r.sdp_version = true,
            b"force-increment-sdp-ver" | b"force-increment-SDP-ver" => {
                r.force_increment_sdp_version = true;
            }
            b"username" => r.username = true,
            b"session-name" => r.session_name = true,
            b"zero-address" => r.zero_address = true,
            _ => self.warn(format!("unknown 'replace' option '{}'", lossy(item))),
        }
    }

    fn endpoint_learning(&mut self, item: &[u8]) {
        match item {
            b"off" | b"immediate" | b"delayed" | b"heuristic" => {
                self.req.endpoint_learning = Some(lossy(item));
            }
            _ => self.warn(format!(
                "unknown 'endpoint-learning' option '{}'",
                lossy(item)
            )),
        }
    }

    fn extmap(&mut self, key: &[u8], v: &Value<'_>) {
        let Value::Dict(d) = v else {
            self.warn("value of 'extmap' is not a dictionary; ignored".into());
            return;
        };
        for (op, list) in d.iter() {
            let items = self.items(op, list);
            if op == b"strip" && items.iter().any(|i| *i == b"all") && items.len() == 1 {
                self.req.flags.strip_extmap = true;
            } else {
                self.not_implemented_key(key);
                return;
            }
        }
    }

    fn webrtc(&mut self) {
        let r = &mut self.req;
        r.flags.webrtc = true;
        r.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
        r.ice = Some(IceMode::Force);
        r.flags.trickle_ice = true;
        r.rtcp_mux.push(RtcpMuxFlag::Offer);
        r.rtcp_mux.push(RtcpMuxFlag::Require);
        r.flags.no_rtcp_attribute = true;
        r.sdes.push("off".into());
        r.flags.generate_mid = true;
    }

    /// Runs `f` one nesting level deeper, or warns and skips it past [`MAX_NESTING`].
    fn nested(&mut self, what: &[u8], f: impl FnOnce(&mut Self)) {
        if self.nesting >= MAX_NESTING {
            self.warn(format!(
                "options nested too deeply at '{}'; ignored",
                lossy(what)
            ));
            return;
        }
        self.nesting += 1;
        f(self);
        self.nesting -= 1;
    }

    /// One word of the `flags` list (or a bare word of `rtpp-flags`).
    fn flag_word(&mut self, word: &[u8]) {
        let n = norm(word);
        let f = &mut self.req.flags;
        match &*n {
            b"all" => {
                f.all = true;
                self.req.all = Some(AllMode::All);
            }
            b"allow-asymmetric-codecs" | b"allow-asymmetric-codec" => f.asymmetric_codecs = true,
            b"allow-no-codec-media"
            | b"allow-no-codec-medias"
            | b"allow-empty-codec-media"
            | b"allow-empty-codec-medias" => f.allow_no_codec_media = true,
            b"allow-transcoding" => f.allow_transcoding = true,
            b"force-transcoding" => f.force_transcoding = true,
            b"always-transcode" => {
                f.always_transcode = true;
                self.req.codec_accept.push("all".into());
            }
            b"asymmetric" => f.asymmetric = true,
            b"symmetric" => f.symmetric = true,
            b"asymmetric-codecs" | b"symmetric-codecs" | b"reorder-codecs" => {
                self.warn(format!("obsolete flag '{}' ignored", lossy(word)));
            }
            b"bidirectional" => f.bidirectional = true,
            b"block-dtmf" | b"block-DTMF" => f.block_dtmf = true,
            b"block-egress" => f.block_egress = true,
            b"block-short" | b"block-shorts" | b"block-short-packets" => f.block_short = true,
            b"debug" | b"debugging" => f.debug = true,
            b"detect-DTMF" | b"detect-dtmf" => f.detect_dtmf = true,
            b"directional" => f.directional = true,
            b"discard-recording" => f.discard_recording = true,
            b"early-media" => f.early_media = true,
            b"egress" => f.egress = true,
            b"exclude-recording" => f.exclude_recording = true,
            b"fatal" => f.fatal = true,
            b"fast" => f.fast = true,
            b"fragment" => f.fragment = true,
            b"full-rtcp-attribute" | b"full-RTCP-attribute" => f.full_rtcp_attribute = true,
            b"generate-mid" => f.generate_mid = true,
            b"generate-RTCP" | b"generate-rtcp" => self.req.generate_rtcp = Some(true),
            b"ICE-reject" | b"ice-reject" | b"reject-ICE" | b"reject-ice" => f.reject_ice = true,
            b"inactive" => f.inactive = true,
            b"inject-DTMF" | b"inject-dtmf" => f.inject_dtmf = true,
            b"loop-protect" => f.loop_protect = true,
            b"media-handover" => f.media_handover = true,
            b"mirror-RTCP" | b"mirror-rtcp" | b"RTCP-mirror" | b"rtcp-mirror" => {
                f.rtcp_mirror = true;
            }
            b"NAT-wait" | b"nat-wait" => f.nat_wait = true,
            b"new-branch" => f.new_branch = true,
            b"no-codec-renegotiation" | b"reuse-codecs" => f.reuse_codecs = true,
            b"no-passthrough" => f.no_passthrough = true,
            b"no-port-latching" => f.no_port_latching = true,
            b"no-rtcp-attribute" | b"no-RTCP-attribute" => f.no_rtcp_attribute = true,
            b"no-tls-id" => f.no_tls_id = true,
            b"no-jitter-buffer" => f.no_jitter_buffer = true,
            b"original-sendrecv" => f.original_sendrecv = true,
            b"pad-crypto" => f.pad_crypto = true,
            b"passthrough" => f.passthrough = true,
            b"pause" => f.pause = true,
            b"pierce-NAT" | b"pierce-nat" => f.pierce_nat = true,
            b"port-latching" => f.port_latching = true,
            b"provisional" => f.provisional = true,
            b"record-call" => {
                f.record_call = true;
                self.req.record_call = Some(true);
            }
            b"recrypt" => f.recrypt = true,
            b"reset" => f.reset = true,
            b"single-codec" => f.single_codec = true,
            b"SIP-source-address" | b"sip-source-address" => {
                f.sip_source_address = true;
                f.trust_address = false;
            }
            b"skip-recording-db" | b"skip-recording-database" => f.skip_recording_db = true,
            b"static-codec" | b"static-codecs" => f.static_codecs = true,
            b"strict-source" => f.strict_source = true,
            b"strip-extmap" => f.strip_extmap = true,
            b"to-tag" => f.to_tag_delete = true,
            b"trickle-ICE" | b"trickle-ice" => f.trickle_ice = true,
            b"trust-address" => {
                f.trust_address = true;
                f.sip_source_address = false;
            }
            b"unidirectional" => f.unidirectional = true,
            b"unsubscribe" => f.unsubscribe = true,
            b"webrtc" | b"webRTC" | b"WebRTC" | b"WebRtc" => self.webrtc(),
            b"audio-player"
            | b"player"
            | b"no-player"
            | b"no-audio-player"
            | b"mix"
            | b"mixed"
            | b"no-redis-update"
            | b"recording-vsc"
            | b"recording-VSC"
            | b"recording-announcement"
            | b"SIPREC"
            | b"siprec" => self.not_implemented_flag(word),
            _ => self.prefixed_flag_word(word, &n),
        }
    }

    /// Flag words with a prefix (`codec-strip-PCMA`, `SDES-no-X`, `replace-origin`, ...),
    /// transport names, and `KEY=VALUE` words.
    fn prefixed_flag_word(&mut self, word: &[u8], n: &[u8]) {
        if let Some(t) = canonical_transport(word) {
            self.req.transport_protocol = Some(t.to_string());
            return;
        }
        let rest = |p: &[u8]| strip_norm(word, n, p);
        for (prefix, op) in CODEC_PREFIXES {
            if let Some(codec) = rest(prefix) {
                let s = unescape(codec);
                self.codec_list(op).push(s);
                return;
            }
        }
        if let Some(r) = rest(b"SDES-") {
            self.sdes_option(r);
        } else if let Some(r) = rest(b"OSRTP-") {
            self.osrtp_option(r);
        } else if let Some(r) = rest(b"replace-") {
            self.replace_option(r);
        } else if let Some(r) = rest(b"rtcp-mux-") {
            self.rtcp_mux_option(r);
        } else if let Some(r) = rest(b"from-tags-") {
            self.req.from_tags.push(unescape(r));
        } else if let Some(r) = rest(b"endpoint-learning-") {
            self.endpoint_learning(r);
        } else if rest(b"BUNDLE-").is_some()
            || rest(b"T38-").is_some()
            || rest(b"T.38-").is_some()
            || rest(b"sdp-attr-add-").is_some()
            || rest(b"sdp-attr-remove-").is_some()
            || rest(b"sdp-attr-substitute-").is_some()
        {
            self.not_implemented_flag(word);
        } else if let Some(eq) = word.iter().position(|&c| c == b'=') {
            // `ICE=force` inside the flags list: a key given as a word.
            let (key, value) = (&word[..eq], &word[eq + 1..]);
            let mut known = true;
            self.nested(word, |p| {
                let value = p.rtpp_value(value);
                known = p.apply_key(key, &value);
            });
            if !known {
                self.warn(format!("unknown flag '{}'", lossy(word)));
            }
        } else {
            self.warn(format!("unknown flag '{}'", lossy(word)));
        }
    }

    /// A `KEY=VALUE` value as written in `rtpp-flags` or a flags word: `[ ... ]` is a
    /// list or dictionary, anything else a string.
    fn rtpp_value<'a>(&mut self, value: &'a [u8]) -> Value<'a> {
        if value.first() == Some(&b'[') {
            let mut t = Tokenizer {
                s: value,
                pos: 0,
                warnings: Vec::new(),
            };
            let v = t.bracket(1);
            t.skip_spaces();
            if t.pos < value.len() {
                t.warn(format!("unexpected text after ']' in '{}'", lossy(value)));
            }
            self.take_warnings(&mut t.warnings);
            v
        } else {
            Value::Bytes(value)
        }
    }

    /// The `rtpp-flags` string: the flags exactly as the proxy's script wrote them.
    fn rtpp_flags(&mut self, s: &[u8]) {
        self.nested(b"rtpp-flags", |p| {
            let mut t = Tokenizer {
                s,
                pos: 0,
                warnings: Vec::new(),
            };
            while let Some((key, value)) = t.next_token() {
                p.take_warnings(&mut t.warnings);
                match value {
                    Some(v) => p.rtpp_key_value(key, &v),
                    None => p.rtpp_word(key),
                }
            }
            p.take_warnings(&mut t.warnings);
            p.apply_transport_bits();
        });
    }

    fn rtpp_key_value(&mut self, key: &[u8], v: &Value<'_>) {
        let n = norm(key);
        if let Some(op) = rtpp_codec_key(&n) {
            self.push_codecs(op, key, v);
            return;
        }
        match &*n {
            b"to-tag" => {
                self.req.to_tag = self.text(key, v);
                self.req.flags.to_tag_delete = true;
            }
            b"from-tag" => {
                self.req.from_tag = self.text(key, v);
                self.req.flags.directional = true;
            }
            b"direction" if matches!(v, Value::Bytes(_)) => {
                if let Some(s) = self.text(key, v) {
                    self.rtpp_direction(s);
                }
            }
            _ => {
                if !self.apply_key(key, v) {
                    self.warn(format!("unknown key '{}'", lossy(key)));
                }
            }
        }
    }

    fn rtpp_direction(&mut self, name: String) {
        if self.rtpp_directions >= 2 {
            self.warn(format!("too many 'direction' flags; '{name}' ignored"));
            return;
        }
        let slot = self.rtpp_directions;
        self.rtpp_directions += 1;
        self.set_direction(slot, name);
    }

    fn rtpp_word(&mut self, word: &[u8]) {
        let bits = &mut self.transport_bits;
        match word {
            b"RTP" => *bits = (*bits | 0x100) & !0x001,
            b"AVP" => *bits = (*bits | 0x100) & !0x002,
            b"SRTP" => *bits |= 0x101,
            b"AVPF" => *bits |= 0x102,
            b"DTLS" => *bits |= 0x104,
            b"RTP/AVP" => *bits = 0x100,
            b"RTP/SAVP" => *bits = 0x101,
            b"RTP/AVPF" => *bits = 0x102,
            b"RTP/SAVPF" => *bits = 0x103,
            b"UDP/TLS/RTP/SAVP" => *bits = 0x104,
            b"UDP/TLS/RTP/SAVPF" => *bits = 0x106,
            b"internal" | b"external" => self.rtpp_direction(lossy(word)),
            _ => self.flag_word(word),
        }
    }

    /// Turns the legacy transport words of `rtpp-flags` into a transport protocol.
    fn apply_transport_bits(&mut self) {
        let bits = std::mem::take(&mut self.transport_bits);
        if bits == 0 {
            return;
        }
        let t = match bits & 0x7 {
            0 => "RTP/AVP",
            1 => "RTP/SAVP",
            2 => "RTP/AVPF",
            3 => "RTP/SAVPF",
            4 => "UDP/TLS/RTP/SAVP",
            6 => "UDP/TLS/RTP/SAVPF",
            _ => {
                self.warn("contradictory transport flags in 'rtpp-flags'; ignored".into());
                return;
            }
        };
        self.req.transport_protocol = Some(t.to_string());
    }
}

/// Splits an `rtpp-flags` string into words, `KEY=VALUE` pairs and `[ ]` groups. Every
/// value borrows from the string.
struct Tokenizer<'a> {
    s: &'a [u8],
    pos: usize,
    warnings: Vec<String>,
}

impl<'a> Tokenizer<'a> {
    fn warn(&mut self, msg: String) {
        push_warning(&mut self.warnings, msg);
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Bytes up to (not including) the first byte in `stop`, or the end.
    fn until(&mut self, stop: &[u8]) -> &'a [u8] {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if stop.contains(&c) {
                break;
            }
            self.pos += 1;
        }
        let s: &'a [u8] = self.s;
        &s[start..self.pos]
    }

    /// The next top-level `KEY` or `KEY=VALUE`.
    fn next_token(&mut self) -> Option<(&'a [u8], Option<Value<'a>>)> {
        self.skip_spaces();
        self.peek()?;
        let key = self.until(b" =");
        if self.peek() != Some(b'=') {
            return Some((key, None));
        }
        self.pos += 1; // '='
        let value = if self.peek() == Some(b'[') {
            self.bracket(1)
        } else {
            Value::Bytes(self.until(b" "))
        };
        Some((key, Some(value)))
    }

    /// A `[ ... ]` group at `self.pos`: a dictionary if its first item is `KEY=...`,
    /// otherwise a list. Unterminated groups end at the end of the string (with a warning).
    fn bracket(&mut self, depth: u32) -> Value<'a> {
        self.pos += 1; // '['
        if depth > MAX_NESTING {
            self.skip_group();
            self.warn("'rtpp-flags' nested too deeply; group ignored".into());
            return Value::List(Vec::new());
        }
        self.skip_spaces();
        let is_dict = match self.peek() {
            Some(b'[') | Some(b']') | None => false,
            Some(_) => {
                let save = self.pos;
                let first = self.until(b" []");
                self.pos = save;
                first.contains(&b'=')
            }
        };
        let mut list = Vec::new();
        let mut dict = Dict::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                None => {
                    self.warn("unterminated '[' in 'rtpp-flags'".into());
                    break;
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                Some(b'[') => {
                    let v = self.bracket(depth + 1);
                    if is_dict {
                        self.warn(
                            "list without a key in an 'rtpp-flags' dictionary ignored".into(),
                        );
                    } else {
                        list.push(v);
                    }
                }
                Some(_) if is_dict => {
                    let key = self.until(b" =[]");
                    if self.peek() == Some(b'=') {
                        self.pos += 1;
                        let v = if self.peek() == Some(b'[') {
                            self.bracket(depth + 1)
                        } else {
                            Value::Bytes(self.until(b" ]"))
                        };
                        dict.push(key, v);
                    } else {
                        self.warn(format!(
                            "entry '{}' without '=' in an 'rtpp-flags' dictionary ignored",
                            lossy(key)
                        ));
                    }
                }
                Some(_) => list.push(Value::Bytes(self.until(b" []"))),
            }
        }
        if is_dict {
            Value::Dict(dict)
        } else {
            Value::List(list)
        }
    }

    /// Skips to just after the `]` that closes the group whose `[` was just consumed.
    fn skip_group(&mut self) {
        let mut open = 1usize;
        while let Some(c) = self.peek() {
            self.pos += 1;
            match c {
                b'[' => open += 1,
                b']' => {
                    open -= 1;
                    if open == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::bencode::{decode, OwnedValue};

    /// Builds a request dictionary from `(key, value)` pairs, in order.
    fn req(entries: &[(&str, OwnedValue)]) -> Result<NgRequest, NgError> {
        let bytes = OwnedValue::Dict(
            entries
                .iter()
                .map(|(k, v)| (k.to_string().into(), v.clone()))
                .collect(),
        )
        .to_bytes();
        let v = decode(&bytes).expect("valid bencode");
        parse_request(v.as_dict().expect("dict"))
    }

    fn s(x: &str) -> OwnedValue {
        OwnedValue::str(x)
    }

    fn l(items: &[&str]) -> OwnedValue {
        OwnedValue::List(items.iter().map(|i| OwnedValue::str(i)).collect())
    }

    fn offer(extra: &[(&str, OwnedValue)]) -> NgRequest {
        let mut e = vec![
            ("sdp", s("v=0\r\n")),
            ("call-id", s("cid")),
            ("from-tag", s("ft")),
        ];
        e.extend_from_slice(extra);
        e.push(("command", s("offer")));
        req(&e).expect("offer parses")
    }

    #[test]
    fn commands() {
        let cases = [
            ("ping", Command::Ping),
            ("offer", Command::Offer),
            ("start recording", Command::StartRecording),
            ("start_recording", Command::StartRecording),
            ("block DTMF", Command::BlockDtmf),
            ("subscribe request", Command::Subscribe),
            ("subscribe answer", Command::SubscribeAnswer),
            ("block dtmf", Command::Other("block dtmf".into())),
            ("Ping", Command::Other("Ping".into())),
            ("connect", Command::Other("connect".into())),
        ];
        for (name, want) in cases {
            assert_eq!(Command::from_name(name), want, "{name}");
        }
        assert_eq!(Command::Subscribe.name(), "subscribe request");
        assert_eq!(Command::PlayDtmf.name(), "play DTMF");
        assert_eq!(Command::Other("x y".into()).name(), "x y");
    }

    #[test]
    fn command_errors() {
        assert_eq!(req(&[]), Err(NgError::NoCommand));
        assert_eq!(
            req(&[("command", OwnedValue::Int(1))]),
            Err(NgError::NoCommand)
        );
        assert_eq!(
            req(&[("command", s("ping"))]).unwrap().command,
            Command::Ping
        );
        let unknown = req(&[("command", s("frobnicate"))]).unwrap();
        assert_eq!(unknown.command, Command::Other("frobnicate".into()));
    }

    #[test]
    fn required_keys_in_rtpengine_order() {
        use NgError::*;
        type Case = (Vec<(&'static str, OwnedValue)>, Result<(), NgError>);
        let cases: Vec<Case> = vec![
            (vec![("command", s("offer"))], Err(NoSdp)),
            (
                vec![("command", s("offer")), ("sdp", s("v=0"))],
                Err(NoCallId),
            ),
            (
                vec![
                    ("command", s("offer")),
                    ("sdp", s("v=0")),
                    ("call-id", s("c")),
                ],
                Err(NoFromTag),
            ),
            (
                vec![
                    ("command", s("answer")),
                    ("sdp", s("v=0")),
                    ("call-id", s("c")),
                    ("from-tag", s("f")),
                ],
                Err(NoToTag),
            ),
            (vec![("command", s("delete"))], Err(NoCallId)),
            (vec![("command", s("delete")), ("call-id", s("c"))], Ok(())),
            (vec![("command", s("query"))], Err(NoCallId)),
            (vec![("command", s("start recording"))], Err(NoCallId)),
            (vec![("command", s("stop recording"))], Err(NoCallId)),
            (vec![("command", s("pause recording"))], Err(NoCallId)),
            (vec![("command", s("block media"))], Err(NoCallId)),
            (vec![("command", s("play media"))], Err(NoCallId)),
            (vec![("command", s("subscribe answer"))], Err(NoCallId)),
            (
                vec![("command", s("subscribe answer")), ("call-id", s("c"))],
                Err(NoToTag),
            ),
            (
                vec![
                    ("command", s("subscribe answer")),
                    ("call-id", s("c")),
                    ("to-tag", s("t")),
                ],
                Err(NoSdp),
            ),
            (
                vec![("command", s("unsubscribe")), ("call-id", s("c"))],
                Err(NoToTag),
            ),
            (vec![("command", s("publish"))], Err(NoSdp)),
            (vec![("command", s("publish")), ("sdp", s("v=0"))], Ok(())),
            (vec![("command", s("list"))], Ok(())),
            (vec![("command", s("statistics"))], Ok(())),
            (vec![("command", s("ping"))], Ok(())),
            (vec![("command", s("nonsense"))], Ok(())),
            // A non-string call-id counts as missing (with a warning).
            (
                vec![("command", s("delete")), ("call-id", OwnedValue::Int(5))],
                Err(NoCallId),
            ),
        ];
        for (entries, want) in cases {
            let got = req(&entries).map(|_| ());
            assert_eq!(got, want, "{entries:?}");
        }
    }

    #[test]
    fn explicit_keys() {
        let r = offer(&[
            ("via-branch", s("z9hG4bK1")),
            ("ICE", s("force")),
            ("DTLS", s("passive")),
            ("SDES", l(&["off", "no-AES_CM_128_HMAC_SHA1_32"])),
            ("rtcp-mux", l(&["offer", "require"])),
            (
                "replace",
                l(&["origin", "session-connection", "SDP-version"]),
            ),
            ("transport protocol", s("RTP/SAVPF")),
            ("record call", s("on")),
            ("delete-delay", s("7")),
            ("address family", s("IP6")),
            ("media address", s("2001:db8::1")),
            ("received from", l(&["IP4", "10.0.0.1"])),
            ("label", s("caller")),
            ("set-label", s("new")),
            ("to-label", s("callee")),
            ("interface", s("pub")),
            ("ptime", OwnedValue::Int(20)),
            ("metadata", s("a:b|c:d")),
            ("output-destination", s("/tmp/x.pcap")),
            ("ICE-lite", s("bkw")),
            ("TOS", OwnedValue::Int(184)),
        ]);
        assert_eq!(r.command, Command::Offer);
        assert_eq!(r.call_id.as_deref(), Some("cid"));
        assert_eq!(r.from_tag.as_deref(), Some("ft"));
        assert_eq!(r.sdp.as_deref(), Some("v=0\r\n"));
        assert_eq!(r.via_branch.as_deref(), Some("z9hG4bK1"));
        assert_eq!(r.ice, Some(IceMode::Force));
        assert_eq!(r.dtls.as_deref(), Some("passive"));
        assert_eq!(r.sdes, ["off", "no-AES_CM_128_HMAC_SHA1_32"]);
        assert_eq!(r.rtcp_mux, [RtcpMuxFlag::Offer, RtcpMuxFlag::Require]);
        assert!(r.replace.origin && r.replace.session_connection && r.replace.sdp_version);
        assert!(!r.replace.username);
        assert_eq!(r.transport_protocol.as_deref(), Some("RTP/SAVPF"));
        assert_eq!(r.record_call, Some(true));
        assert_eq!(r.delete_delay, Some(7));
        assert_eq!(r.address_family, Some(AddrFamily::Ip6));
        assert_eq!(r.media_address, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(
            r.received_from,
            Some((AddrFamily::Ip4, "10.0.0.1".parse().unwrap()))
        );
        assert_eq!(r.label.as_deref(), Some("caller"));
        assert_eq!(r.set_label.as_deref(), Some("new"));
        assert_eq!(r.to_label.as_deref(), Some("callee"));
        assert_eq!(r.interface.as_deref(), Some("pub"));
        assert_eq!(r.ptime, Some(20));
        assert_eq!(r.metadata.as_deref(), Some("a:b|c:d"));
        assert_eq!(r.output_destination.as_deref(), Some("/tmp/x.pcap"));
        assert_eq!(r.ice_lite.as_deref(), Some("backward"));
        assert_eq!(r.tos, Some(184));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn key_spellings_are_equivalent() {
        for key in ["record-call", "record call", "record_call"] {
            let r = offer(&[(key, s("no"))]);
            assert_eq!(r.record_call, Some(false), "{key}");
        }
        for key in ["ICE", "ice"] {
            assert_eq!(offer(&[(key, s("remove"))]).ice, Some(IceMode::Remove));
        }
        // Case matters otherwise.
        let r = offer(&[("Ice", s("remove"))]);
        assert_eq!(r.ice, None);
        assert_eq!(r.warnings, ["unknown key 'Ice'"]);
    }

    #[test]
    fn ice_list_and_values() {
        let r = offer(&[("ICE", l(&["force-relay", "trickle", "lite-both"]))]);
        assert_eq!(r.ice, Some(IceMode::ForceRelay));
        assert!(r.flags.trickle_ice);
        assert_eq!(r.ice_lite.as_deref(), Some("both"));
        for (v, want) in [
            ("remove", IceMode::Remove),
            ("force", IceMode::Force),
            ("default", IceMode::Default),
            ("optional", IceMode::Optional),
            ("force_relay", IceMode::ForceRelay),
            ("force relay", IceMode::ForceRelay),
        ] {
            assert_eq!(offer(&[("ICE", s(v))]).ice, Some(want), "{v}");
        }
        let r = offer(&[("ICE", s("sideways"))]);
        assert_eq!(r.ice, None);
        assert_eq!(r.warnings, ["unknown 'ICE' option 'sideways'"]);
    }

    #[test]
    fn flags_list_words() {
        let r = offer(&[(
            "flags",
            l(&[
                "trust-address",
                "symmetric",
                "strict source",
                "loop_protect",
                "record-call",
                "generate-mid",
                "strip-extmap",
                "original-sendrecv",
                "allow asymmetric codecs",
                "no-rtcp-attribute",
                "full-rtcp-attribute",
                "port-latching",
                "media-handover",
                "asymmetric",
                "reset",
                "single-codec",
                "pad-crypto",
                "no-jitter-buffer",
                "fatal",
                "all",
                "to-tag",
            ]),
        )]);
        let f = &r.flags;
        assert!(f.trust_address && f.symmetric && f.strict_source && f.loop_protect);
        assert!(f.record_call && f.generate_mid && f.strip_extmap && f.original_sendrecv);
        assert!(f.asymmetric_codecs && f.no_rtcp_attribute && f.full_rtcp_attribute);
        assert!(f.port_latching && f.media_handover && f.asymmetric && f.reset);
        assert!(f.single_codec && f.pad_crypto && f.no_jitter_buffer && f.fatal);
        assert!(f.all && f.to_tag_delete);
        assert_eq!(r.record_call, Some(true));
        assert_eq!(r.all, Some(AllMode::All));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn trust_address_and_sip_source_last_wins() {
        let r = offer(&[("flags", l(&["trust-address", "SIP-source-address"]))]);
        assert!(!r.flags.trust_address && r.flags.sip_source_address);
        let r = offer(&[("flags", l(&["SIP source address", "trust address"]))]);
        assert!(r.flags.trust_address && !r.flags.sip_source_address);
    }

    #[test]
    fn prefixed_flag_words() {
        let r = offer(&[(
            "flags",
            l(&[
                "replace-origin",
                "replace-session-connection",
                "codec-strip-PCMA",
                "codec-strip-all",
                "codec-mask-telephone-event",
                "codec-offer-opus",
                "codec-except-G722",
                "codec-transcode-iLBC/8000/1///mode--30",
                "transcode-G729",
                "codec-set-opus/48000/2/32000",
                "codec-accept-AMR",
                "codec-consume-PCMU",
                "codec-ignore-speex",
                "SDES-off",
                "SDES-no-AES_CM_128_HMAC_SHA1_32",
                "SDES-only-AES_256_CM_HMAC_SHA1_80",
                "SDES-unencrypted_srtp",
                "SDES-pad",
                "OSRTP-accept",
                "rtcp-mux-offer",
                "rtcp-mux-demux",
                "from-tags-abc",
                "endpoint-learning-heuristic",
                "RTP/AVP",
            ]),
        )]);
        assert!(r.replace.origin && r.replace.session_connection);
        assert_eq!(r.codec_strip, ["PCMA", "all"]);
        assert_eq!(r.codec_mask, ["telephone-event"]);
        assert_eq!(r.codec_offer, ["opus"]);
        assert_eq!(r.codec_except, ["G722"]);
        assert_eq!(r.codec_transcode, ["iLBC/8000/1///mode=30", "G729"]);
        assert_eq!(r.codec_set, ["opus/48000/2/32000"]);
        assert_eq!(r.codec_accept, ["AMR"]);
        assert_eq!(r.codec_consume, ["PCMU"]);
        assert_eq!(r.codec_ignore, ["speex"]);
        assert_eq!(
            r.sdes,
            [
                "off",
                "no-AES_CM_128_HMAC_SHA1_32",
                "only-AES_256_CM_HMAC_SHA1_80",
                "unencrypted_srtp",
                "pad"
            ]
        );
        assert!(r.flags.pad_crypto);
        assert_eq!(r.osrtp, ["accept"]);
        assert_eq!(r.rtcp_mux, [RtcpMuxFlag::Offer, RtcpMuxFlag::Demux]);
        assert_eq!(r.from_tags, ["abc"]);
        assert_eq!(r.endpoint_learning.as_deref(), Some("heuristic"));
        assert_eq!(r.transport_protocol.as_deref(), Some("RTP/AVP"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn key_value_words_in_flags_list() {
        let r = offer(&[(
            "flags",
            l(&[
                "ICE=force",
                "DTLS=off",
                "delete-delay=5",
                "label=caller",
                "codec=[strip=[PCMA PCMU] transcode=[opus]]",
                "bogus=1",
            ]),
        )]);
        assert_eq!(r.ice, Some(IceMode::Force));
        assert_eq!(r.dtls.as_deref(), Some("off"));
        assert_eq!(r.delete_delay, Some(5));
        assert_eq!(r.label.as_deref(), Some("caller"));
        assert_eq!(r.codec_strip, ["PCMA", "PCMU"]);
        assert_eq!(r.codec_transcode, ["opus"]);
        assert_eq!(r.warnings, ["unknown flag 'bogus=1'"]);
    }

    #[test]
    fn unknown_and_unsupported_are_warnings_not_errors() {
        let r = offer(&[
            (
                "flags",
                l(&["frobnicate", "SIPREC", "T38-decode", "asymmetric-codecs"]),
            ),
            ("moh", OwnedValue::dict().with("file", "/x.wav")),
            ("x-custom", s("1")),
            ("supports", l(&["load limit", "time travel"])),
            ("record-call", s("maybe")),
        ]);
        assert_eq!(
            r.warnings,
            [
                "unknown flag 'frobnicate'",
                "flag 'SIPREC' accepted but not implemented",
                "flag 'T38-decode' accepted but not implemented",
                "obsolete flag 'asymmetric-codecs' ignored",
                "key 'moh' accepted but not implemented",
                "unknown key 'x-custom'",
                "optional feature 'time travel' not supported",
                "unknown 'record-call' value 'maybe'",
            ]
        );
        assert_eq!(r.supports, ["load limit", "time travel"]);
        assert_eq!(r.record_call, None);
    }

    #[test]
    fn codec_dictionary() {
        let codec = OwnedValue::dict()
            .with("strip", l(&["PCMA"]))
            .with("offer", l(&["opus", "G722"]))
            .with("mask", l(&["PCMU"]))
            .with("except", l(&["G729"]))
            .with("consume", l(&["AMR"]))
            .with("accept", s("AMR-WB,EVS"))
            .with("set", l(&["opus/48000/2/32000"]))
            .with("transcode", l(&["iLBC/8000/1///mode--30"]))
            .with("ignore", l(&["speex"]))
            .with("shuffle", l(&["x"]));
        let r = offer(&[("codec", codec)]);
        assert_eq!(r.codec_strip, ["PCMA"]);
        assert_eq!(r.codec_offer, ["opus", "G722"]);
        assert_eq!(r.codec_mask, ["PCMU"]);
        assert_eq!(r.codec_except, ["G729"]);
        assert_eq!(r.codec_consume, ["AMR"]);
        assert_eq!(r.codec_accept, ["AMR-WB", "EVS"]);
        assert_eq!(r.codec_set, ["opus/48000/2/32000"]);
        assert_eq!(r.codec_transcode, ["iLBC/8000/1///mode=30"]);
        assert_eq!(r.codec_ignore, ["speex"]);
        assert_eq!(r.warnings, ["unknown 'codec' operation 'shuffle'"]);
    }

    #[test]
    fn direction_forms() {
        let r = offer(&[("direction", l(&["priv", "pub"]))]);
        assert_eq!(r.direction, ["priv", "pub"]);
        // OpenSIPS: the same key twice, string values.
        let r = offer(&[("direction", s("internal")), ("direction", s("external"))]);
        assert_eq!(r.direction, ["internal", "external"]);
        let r = offer(&[("to-interface", s("pub")), ("from-interface", s("priv"))]);
        assert_eq!(r.direction, ["priv", "pub"]);
        let r = offer(&[("to-interface", s("pub"))]);
        assert_eq!(r.direction, ["", "pub"]);
    }

    #[test]
    fn rtpp_flags_string() {
        let r = offer(&[(
            "rtpp-flags",
            s(
                "replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept \
               transport-protocol=RTP/AVP address-family=IP4 ICE=force \
               codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]] \
               OSRTP=[offer] SDES=[no-NULL_HMAC_SHA1_32 pad] codec-mask-opus \
               direction=priv direction=pub record-call=yes trust-address unheard-of",
            ),
        )]);
        assert!(r.replace.origin);
        assert_eq!(r.via_branch.as_deref(), Some("auto-next"));
        assert!(r.flags.strict_source && r.flags.trust_address);
        assert_eq!(r.label.as_deref(), Some("callee"));
        assert_eq!(r.osrtp, ["accept", "offer"]);
        assert_eq!(r.transport_protocol.as_deref(), Some("RTP/AVP"));
        assert_eq!(r.address_family, Some(AddrFamily::Ip4));
        assert_eq!(r.ice, Some(IceMode::Force));
        assert_eq!(r.codec_transcode, ["PCMA", "PCMU"]);
        assert_eq!(r.codec_accept, ["AMR-WB", "AMR"]);
        assert_eq!(r.codec_strip, ["EVS"]);
        assert_eq!(r.codec_mask, ["opus"]);
        assert_eq!(r.sdes, ["no-NULL_HMAC_SHA1_32", "pad"]);
        assert_eq!(r.direction, ["priv", "pub"]);
        assert_eq!(r.record_call, Some(true));
        assert_eq!(r.warnings, ["unknown flag 'unheard-of'"]);
    }

    #[test]
    fn rtpp_flags_special_words() {
        let r = req(&[
            ("command", s("delete")),
            ("call-id", s("c")),
            (
                "rtpp_flags",
                s("to-tag=tt from-tag=ff delete-delay=0 fatal"),
            ),
        ])
        .unwrap();
        assert_eq!(r.to_tag.as_deref(), Some("tt"));
        assert!(r.flags.to_tag_delete);
        assert_eq!(r.from_tag.as_deref(), Some("ff"));
        assert!(r.flags.directional);
        assert_eq!(r.delete_delay, Some(0));
        assert!(r.flags.fatal);

        let transports = [
            ("RTP AVP", "RTP/AVP"),
            ("SRTP AVP", "RTP/SAVP"),
            ("RTP AVPF", "RTP/AVPF"),
            ("SRTP AVPF", "RTP/SAVPF"),
            ("DTLS AVPF", "UDP/TLS/RTP/SAVPF"),
            ("UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVP"),
            ("RTP/SAVPF", "RTP/SAVPF"),
        ];
        for (words, want) in transports {
            let r = offer(&[("rtpp-flags", s(words))]);
            assert_eq!(r.transport_protocol.as_deref(), Some(want), "{words}");
        }
        let r = offer(&[("rtpp-flags", s("internal external internal"))]);
        assert_eq!(r.direction, ["internal", "external"]);
        assert_eq!(
            r.warnings,
            ["too many 'direction' flags; 'internal' ignored"]
        );
    }

    #[test]
    fn rtpp_flags_malformed_input_is_survivable() {
        for text in [
            "codec=[strip=[PCMA",
            "codec=[[[[[[[[[[[[[[[[[[[[x]]]]]]]]]]]]]]]]]]]]",
            "a=[b=] ]]]] [[[ ===",
            "=",
            "  ",
            "codec=[strip]",
            "flags=flags=flags=flags=flags=flags=flags=flags=flags=flags=flags=x",
        ] {
            let r = offer(&[("rtpp-flags", s(text))]);
            assert_eq!(r.command, Command::Offer, "{text}");
        }
        let r = offer(&[("rtpp-flags", s("codec=[strip=[PCMA"))]);
        assert_eq!(r.codec_strip, ["PCMA"]);
        assert!(!r.warnings.is_empty());
        // Self-referencing key=value words stop at the nesting bound.
        let deep = "flags=".repeat(10_000) + "x";
        let r = offer(&[("flags", l(&[&deep]))]);
        assert!(r.warnings.iter().any(|w| w.contains("nested too deeply")));
    }

    #[test]
    fn transport_protocols_match_case_insensitively() {
        for (given, want) in [
            ("RTP/AVP", Some("RTP/AVP")),
            ("rtp/savpf", Some("RTP/SAVPF")),
            ("UDP/TLS/RTP/SAVPF", Some("UDP/TLS/RTP/SAVPF")),
            ("UDPTL", Some("udptl")),
            ("TCP/MSRP", None),
        ] {
            let r = offer(&[("transport-protocol", s(given))]);
            assert_eq!(r.transport_protocol.as_deref(), want, "{given}");
            assert_eq!(r.warnings.is_empty(), want.is_some(), "{given}");
        }
        let r = offer(&[("transport-protocol", s("accept"))]);
        assert!(r.transport_protocol_accept);
        assert_eq!(r.transport_protocol, None);
    }

    #[test]
    fn warnings_are_capped() {
        let words: Vec<String> = (0..1000).map(|i| format!("junk{i}")).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let r = offer(&[("flags", l(&words))]);
        assert_eq!(r.warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(r.warnings[0], "unknown flag 'junk0'");
        assert_eq!(r.warnings[MAX_WARNINGS], "further warnings suppressed");
        let rtpp = format!("codec=[a=1 {}]", "x ".repeat(1000));
        let r = offer(&[("rtpp-flags", s(&rtpp))]);
        assert_eq!(r.warnings.len(), MAX_WARNINGS + 1);
    }

    #[test]
    fn webrtc_alias() {
        let r = offer(&[("flags", l(&["WebRTC"]))]);
        assert!(r.flags.webrtc);
        assert_eq!(r.transport_protocol.as_deref(), Some("UDP/TLS/RTP/SAVPF"));
        assert_eq!(r.ice, Some(IceMode::Force));
        assert!(r.flags.trickle_ice && r.flags.no_rtcp_attribute && r.flags.generate_mid);
        assert_eq!(r.rtcp_mux, [RtcpMuxFlag::Offer, RtcpMuxFlag::Require]);
        assert_eq!(r.sdes, ["off"]);
    }

    #[test]
    fn value_validation() {
        let r = offer(&[
            ("received-from", l(&["IP4", "::1"])),
            ("media-address", s("not-an-ip")),
            ("delete-delay", OwnedValue::Int(-1)),
            ("ptime", s("abc")),
            ("address-family", s("IPX")),
        ]);
        // The address wins over a wrong family name.
        assert_eq!(
            r.received_from,
            Some((AddrFamily::Ip6, "::1".parse().unwrap()))
        );
        assert_eq!(r.media_address, None);
        assert_eq!(r.delete_delay, None);
        assert_eq!(r.ptime, None);
        assert_eq!(r.address_family, None);
        assert_eq!(r.warnings.len(), 5, "{:?}", r.warnings);
    }

    #[test]
    fn non_utf8_sdp_is_kept_lossily_with_warning() {
        let bytes = b"d7:command5:offer3:sdp3:a\xffb7:call-id1:c8:from-tag1:fe";
        let v = decode(bytes).unwrap();
        let r = parse_request(v.as_dict().unwrap()).unwrap();
        assert_eq!(r.sdp.as_deref(), Some("a\u{fffd}b"));
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn play_and_recording_keys() {
        let r = req(&[
            ("command", s("play DTMF")),
            ("call-id", s("c")),
            ("code", s("#")),
            ("duration", OwnedValue::Int(250)),
            ("volume", s("-8")),
            ("pause", OwnedValue::Int(100)),
        ])
        .unwrap();
        assert_eq!(r.digit.as_deref(), Some("#"));
        assert_eq!(
            (r.duration, r.volume, r.pause),
            (Some(250), Some(-8), Some(100))
        );
        let r = req(&[
            ("command", s("stop recording")),
            ("call-id", s("c")),
            ("pause", s("yes")),
            ("recording-dir", s("/rec")),
            ("recording_pattern", s("%c")),
        ])
        .unwrap();
        assert!(r.flags.pause);
        assert_eq!(r.recording_dir.as_deref(), Some("/rec"));
        assert_eq!(r.recording_pattern.as_deref(), Some("%c"));
        let r = req(&[
            ("command", s("play media")),
            ("call-id", s("c")),
            ("file", s("/a.wav")),
            ("repeat-times", OwnedValue::Int(3)),
            ("all", s("flows")),
        ])
        .unwrap();
        assert_eq!(r.file.as_deref(), Some("/a.wav"));
        assert_eq!(r.repeat_times, Some(3));
        assert_eq!(r.all, Some(AllMode::Flows));
        assert!(!r.flags.all);
        let r = req(&[("command", s("list")), ("limit", OwnedValue::Int(10))]).unwrap();
        assert_eq!(r.limit, Some(10));
    }
}

/// Every request of the real captures in `tests/fixtures/ng/`.
#[cfg(test)]
mod fixture_tests {
    use super::*;
    use crate::ng::bencode::decode;
    use crate::ng::message::{decode_body, split_datagram};

    const OPENSIPS: &str = include_str!("../../tests/fixtures/ng/opensips-3.6.8-requests.jsonl");
    const KAMAILIO: &str = include_str!("../../tests/fixtures/ng/kamailio-requests.txt");

    struct Captured {
        scenario: String,
        seq: u64,
        cookie: String,
        raw: Vec<u8>,
        json: serde_json::Value,
    }

    fn opensips() -> Vec<Captured> {
        OPENSIPS
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let json: serde_json::Value = serde_json::from_str(l).expect("valid JSON line");
                Captured {
                    scenario: json["scenario"].as_str().unwrap().to_string(),
                    seq: json["seq"].as_u64().unwrap(),
                    cookie: json["cookie"].as_str().unwrap().to_string(),
                    // The README says `raw` is all ASCII, so the JSON string is byte-exact.
                    raw: json["raw"].as_str().unwrap().as_bytes().to_vec(),
                    json,
                }
            })
            .collect()
    }

    /// Compares a decoded bencode value with its JSON rendering in the capture.
    fn same(v: &Value<'_>, j: &serde_json::Value) -> bool {
        match (v, j) {
            (Value::Int(i), serde_json::Value::Number(n)) => n.as_i64() == Some(*i),
            (Value::Bytes(b), serde_json::Value::String(s)) => *b == s.as_bytes(),
            (Value::List(l), serde_json::Value::Array(a)) => {
                l.len() == a.len() && l.iter().zip(a).all(|(x, y)| same(x, y))
            }
            (Value::Dict(d), serde_json::Value::Object(o)) => {
                d.len() == o.len()
                    && d.iter().all(|(k, v)| {
                        std::str::from_utf8(k)
                            .ok()
                            .and_then(|k| o.get(k))
                            .is_some_and(|j| same(v, j))
                    })
            }
            _ => false,
        }
    }

    fn parse(raw: &[u8]) -> NgRequest {
        let v = decode(raw).expect("captured request decodes");
        parse_request(v.as_dict().expect("a dictionary")).expect("captured request parses")
    }

    #[test]
    fn opensips_requests_decode_in_wire_order() {
        let all = opensips();
        assert_eq!(all.len(), 27);
        for c in &all {
            // The whole datagram, as it went over the wire.
            let mut datagram = c.cookie.as_bytes().to_vec();
            datagram.push(b' ');
            datagram.extend_from_slice(&c.raw);
            let (cookie, body) = split_datagram(&datagram).unwrap();
            assert_eq!(cookie, c.cookie.as_bytes());
            let dict = decode_body(body).unwrap();
            // `request_items` is the authoritative wire order, duplicates kept.
            let items = c.json["request_items"].as_array().unwrap();
            assert_eq!(dict.len(), items.len(), "{} {}", c.scenario, c.seq);
            for ((k, v), item) in dict.iter().zip(items) {
                assert_eq!(k, item[0].as_str().unwrap().as_bytes());
                assert!(
                    same(v, &item[1]),
                    "{} {} key {}",
                    c.scenario,
                    c.seq,
                    lossy(k)
                );
            }
            // Re-encoding gives the captured bytes back.
            let mut again = Vec::new();
            decode(&c.raw).unwrap().encode(&mut again);
            assert_eq!(again, c.raw);
        }
    }

    #[test]
    fn opensips_requests_parse() {
        for c in opensips() {
            let r = parse(&c.raw);
            let name = c.json["command"].as_str().unwrap();
            assert_eq!(r.command.name(), name);
            let req = &c.json["request"];
            assert_eq!(r.call_id.as_deref(), req["call-id"].as_str());
            assert_eq!(r.from_tag.as_deref(), req["from-tag"].as_str());
            assert_eq!(r.to_tag.as_deref(), req["to-tag"].as_str());
            assert_eq!(r.sdp.as_deref(), req["sdp"].as_str());
            if let Some(rf) = req["received-from"].as_array() {
                let addr: IpAddr = rf[1].as_str().unwrap().parse().unwrap();
                assert_eq!(rf[0], "IP4");
                assert_eq!(r.received_from, Some((AddrFamily::Ip4, addr)));
            }
            let ctx = format!("{} {}: {:?}", c.scenario, c.seq, r.warnings);
            match (c.scenario.as_str(), c.seq) {
                ("startup", _) => {
                    assert_eq!(r.command, Command::Ping);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("plain" | "delflags", 1 | 2) | ("record" | "manage", 1 | 2) => {
                    assert!(r.replace.origin && r.replace.session_connection, "{ctx}");
                    assert!(!r.replace.origin_full);
                    let record = c.scenario == "record";
                    assert_eq!(r.record_call, record.then_some(true), "{ctx}");
                    let manage = c.scenario == "manage";
                    assert_eq!(r.ice, manage.then_some(IceMode::Remove), "{ctx}");
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("webrtc", 1) => {
                    assert_eq!(r.command, Command::Offer);
                    assert_eq!(r.ice, Some(IceMode::Force));
                    assert_eq!(r.dtls.as_deref(), Some("passive"));
                    assert!(r.flags.generate_mid);
                    assert_eq!(r.transport_protocol.as_deref(), Some("RTP/SAVPF"));
                    assert_eq!(r.rtcp_mux, [RtcpMuxFlag::Offer]);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("webrtc", 2) => {
                    assert_eq!(r.command, Command::Answer);
                    assert_eq!(r.ice, Some(IceMode::Remove));
                    assert_eq!(r.transport_protocol.as_deref(), Some("RTP/AVP"));
                    assert_eq!(r.rtcp_mux, [RtcpMuxFlag::Demux]);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("codec", 1) => {
                    assert!(r.flags.trust_address && r.flags.symmetric);
                    assert_eq!(r.codec_strip, ["PCMA"]);
                    assert_eq!(r.codec_mask, ["telephone-event"]);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("codec", 2) => {
                    assert!(r.flags.trust_address && r.flags.symmetric);
                    assert!(r.codec_strip.is_empty() && r.codec_mask.is_empty());
                }
                ("direction", 1) => {
                    // Two `direction` keys with string values, in order.
                    assert_eq!(r.direction, ["internal", "external"]);
                    assert_eq!(r.media_address, Some("127.0.0.1".parse().unwrap()));
                    assert_eq!(r.label.as_deref(), Some("caller"));
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("direction", 2) => {
                    assert!(r.direction.is_empty());
                    assert_eq!(r.label.as_deref(), Some("callee"));
                    assert_eq!(r.media_address, Some("127.0.0.1".parse().unwrap()));
                }
                ("ifaces", 1) => {
                    assert_eq!(r.direction, ["internal", "external"]);
                    assert!(r.replace.origin && !r.replace.session_connection);
                }
                ("ifaces", 2) => assert_eq!(r.direction, ["external", "internal"]),
                ("delflags", 3) => {
                    // `to-tag delete-delay=0 via-branch=1`: no from-tag in this delete.
                    assert_eq!(r.command, Command::Delete);
                    assert_eq!(r.delete_delay, Some(0));
                    assert_eq!(r.via_branch.as_deref(), Some("z9hG4bK-28403-1-7"));
                    assert_eq!(r.to_tag.as_deref(), Some("28402SIPpTag011"));
                    assert_eq!(r.from_tag, None);
                    assert!(!r.flags.to_tag_delete);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                ("manage", 3) => {
                    assert_eq!(r.command, Command::Delete);
                    assert_eq!(r.ice, Some(IceMode::Remove));
                    assert_eq!(r.from_tag, None);
                }
                (_, 3) => {
                    // A plain `rtpengine_delete()`: call-id and received-from only.
                    assert_eq!(r.command, Command::Delete);
                    assert_eq!(r.from_tag, None);
                    assert_eq!(r.delete_delay, None);
                    assert!(r.warnings.is_empty(), "{ctx}");
                }
                other => panic!("unexpected capture {other:?}"),
            }
        }
    }

    fn kamailio() -> Vec<(String, String, Vec<u8>)> {
        KAMAILIO
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.splitn(3, ' ');
                let scenario = parts.next().unwrap().to_string();
                let cookie = parts.next().unwrap().to_string();
                let raw = parts
                    .next()
                    .unwrap()
                    .replace("\\r", "\r")
                    .replace("\\n", "\n");
                (scenario, cookie, raw.into_bytes())
            })
            .collect()
    }

    #[test]
    fn kamailio_requests_parse() {
        let all = kamailio();
        assert_eq!(all.len(), 8);
        for (scenario, cookie, raw) in all {
            let r = parse(&raw);
            let ctx = format!("{scenario} {cookie}: {:?}", r.warnings);
            assert!(r.warnings.is_empty(), "{ctx}");
            if r.command == Command::Ping {
                continue;
            }
            assert_eq!(r.supports, ["load limit"], "{ctx}");
            assert!(r.from_tag.is_some(), "{ctx}");
            assert_eq!(r.received_from.map(|(f, _)| f), Some(AddrFamily::Ip4));
            match r.command {
                Command::Offer | Command::Answer => {
                    assert!(r.replace.origin && r.replace.session_connection, "{ctx}");
                    assert!(r.sdp.as_deref().is_some_and(|s| s.starts_with("v=0\r\n")));
                    let record = scenario == "record";
                    assert_eq!(r.record_call, record.then_some(true), "{ctx}");
                    assert_eq!(r.to_tag.is_some(), r.command == Command::Answer, "{ctx}");
                }
                Command::Delete => {
                    assert_eq!(
                        r.call_id.as_deref().map(|c| c.ends_with("@127.0.0.2")),
                        Some(true)
                    );
                    assert!(r.sdp.is_none());
                }
                ref other => panic!("unexpected command {other:?} in {ctx}"),
            }
        }
    }
}
