//! SDES: SDP security descriptions (RFC 4568 `a=crypto`) and the suite choices rtpengine
//! makes with them.
//!
//! - [`CryptoAttribute`] parses one `a=crypto` value (`<tag> <suite> inline:<key||salt>
//!   [|lifetime][|MKI:length] [session params]`) and writes it back, either faithfully
//!   ([`Display`](std::fmt::Display)) or the way rtpengine prints its own lines
//!   ([`CryptoAttribute::to_attribute`]: no `=` padding unless `SDES-pad`, `|2^31` only with
//!   `SDES-lifetime`, the MKI echoed, only the three RFC 4568 session parameters).
//! - [`SdesFlags`] is the NG `SDES` option list (also given as `SDES-...` flags).
//! - [`offer_suites`] decides the crypto lines of an outgoing offer: the offerer's lines that
//!   the flags allow (same tags, same keys, so SRTP can pass through), then every other suite
//!   in rtpengine's order ([`SrtpProfile::ALL`]) with fresh keys and tags counting on from the
//!   highest tag seen. [`build_offer`] turns that plan into attributes.
//! - [`answer_choice`] decides the line of the answer to the offerer: a suite the answerer
//!   also accepted (passthrough, with its key), else the offerer's first allowed line with a
//!   fresh key. [`accepted_offer`] finds which of our offered lines an answerer took.
//!
//! Flags and the offered list: `SDES-off` offers nothing; `SDES-no-NAME` drops NAME both
//! from the offerer's lines and from the added ones; `SDES-only-NAME` keeps just the named
//! suites (it wins over `no-`); `SDES-nonew` passes the offerer's lines through unfiltered
//! and adds none (it wins over both); `SDES-order:A;B` moves those suites to the front;
//! `SDES-unencrypted_srtp`/`_srtcp`/`unauthenticated_srtp` add the session parameter to
//! offered lines, `SDES-encrypted_srtp`/... remove it; `SDES-lifetime` and `SDES-pad` only
//! change formatting; `SDES-static` (answer) keeps the previously answered line;
//! `SDES-offerer_pref:A;B` reorders the offerer's lines for the answer and disables the
//! passthrough match; `SDES-prefer` does not change any list (it makes an offer with both
//! DTLS and SDES accept SDES, a decision for the caller).
//!
//! All twelve suites rtpengine offers are implemented by [`super::srtp`], F8 included.

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use rand::RngCore;

use super::srtp::{SessionParams, SrtpContext, SrtpError, SrtpProfile};

/// Longest `a=crypto` value accepted.
pub const MAX_CRYPTO_VALUE_LEN: usize = 2048;
/// Most session parameters kept from one line.
pub const MAX_SESSION_PARAMS: usize = 16;
/// Largest MKI length (RFC 4568: 1 to 128 bytes).
pub const MAX_MKI_LEN: u8 = 128;
/// SRTP key lifetime ceiling of every suite here (2^48 packets).
const MAX_LIFETIME: u64 = 1 << 48;

const B64_PAD: GeneralPurpose =
    GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new());
const B64_NO_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_encode_padding(false),
);
/// Decoding accepts the key with or without `=` padding and with non-zero unused bits.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why an `a=crypto` value was not understood (rtpengine ignores such lines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    #[error("a=crypto value too long")]
    TooLong,
    #[error("a=crypto is missing its {0}")]
    Missing(&'static str),
    #[error("invalid a=crypto tag")]
    BadTag,
    #[error("unknown crypto suite '{0}'")]
    UnknownSuite(String),
    #[error("unsupported key method (only inline: is defined)")]
    BadKeyMethod,
    #[error("invalid base64 key")]
    BadBase64,
    #[error("key and salt must be {expected} bytes, got {got}")]
    BadKeyLength { expected: usize, got: usize },
    #[error("invalid key lifetime")]
    BadLifetime,
    #[error("invalid MKI")]
    BadMki,
    #[error("too many session parameters")]
    TooManyParams,
}

/// A key lifetime as written: `2^N` or a plain packet count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    PowerOfTwo(u8),
    Packets(u64),
}

impl Lifetime {
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64 << n,
            Lifetime::Packets(n) => n,
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lifetime::PowerOfTwo(n) => write!(f, "2^{n}"),
            Lifetime::Packets(n) => write!(f, "{n}"),
        }
    }
}

/// A master key identifier: its value and its length in bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    pub value: u64,
    pub len: u8,
}

impl Mki {
    /// The MKI as carried in packets: `value` big-endian in `len` bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let len = self.len as usize;
        let mut out = vec![0u8; len];
        let v = self.value.to_be_bytes();
        let n = len.min(8);
        out[len - n..].copy_from_slice(&v[8 - n..]);
        out
    }
}

/// One `a=crypto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    pub tag: u32,
    pub suite: SrtpProfile,
    key: [u8; 32],
    salt: [u8; 14],
    pub lifetime: Option<Lifetime>,
    pub mki: Option<Mki>,
    pub unencrypted_srtp: bool,
    pub unencrypted_srtcp: bool,
    pub unauthenticated_srtp: bool,
    /// Other session parameters (`KDR=...`, `WSH=...`, ...), as received.
    pub other_params: Vec<String>,
}

/// How [`CryptoAttribute::to_attribute`] writes a line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatOptions {
    /// Keep base64 `=` padding (`SDES-pad`, `pad crypto`).
    pub pad: bool,
    /// Add the key lifetime `|2^31` (`SDES-lifetime`).
    pub lifetime: bool,
}

impl CryptoAttribute {
    fn blank(tag: u32, suite: SrtpProfile) -> CryptoAttribute {
        CryptoAttribute {
            tag,
            suite,
            key: [0; 32],
            salt: [0; 14],
            lifetime: None,
            mki: None,
            unencrypted_srtp: false,
            unencrypted_srtcp: false,
            unauthenticated_srtp: false,
            other_params: Vec::new(),
        }
    }

    /// A line with the given key and salt (lengths must match the suite).
    pub fn new(
        tag: u32,
        suite: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<CryptoAttribute, SdesError> {
        let expected = suite.master_key_len() + suite.master_salt_len();
        let got = master_key.len() + master_salt.len();
        if master_key.len() != suite.master_key_len()
            || master_salt.len() != suite.master_salt_len()
        {
            return Err(SdesError::BadKeyLength { expected, got });
        }
        let mut a = CryptoAttribute::blank(tag, suite);
        a.key[..master_key.len()].copy_from_slice(master_key);
        a.salt[..master_salt.len()].copy_from_slice(master_salt);
        Ok(a)
    }

    /// A line with a fresh random key and salt from `rng` (use a CSPRNG such as
    /// `rand::rng()`).
    pub fn generate(tag: u32, suite: SrtpProfile, rng: &mut impl RngCore) -> CryptoAttribute {
        let mut a = CryptoAttribute::blank(tag, suite);
        rng.fill_bytes(&mut a.key[..suite.master_key_len()]);
        rng.fill_bytes(&mut a.salt[..suite.master_salt_len()]);
        a
    }

    pub fn master_key(&self) -> &[u8] {
        &self.key[..self.suite.master_key_len()]
    }

    pub fn master_salt(&self) -> &[u8] {
        &self.salt[..self.suite.master_salt_len()]
    }

    /// An SRTP context keyed with this line, with its MKI and session parameters.
    pub fn srtp_context(&self) -> Result<SrtpContext, SrtpError> {
        let mut ctx = SrtpContext::new(self.suite, self.master_key(), self.master_salt())?;
        ctx.set_session_params(SessionParams {
            unencrypted_srtp: self.unencrypted_srtp,
            unencrypted_srtcp: self.unencrypted_srtcp,
            unauthenticated_srtp: self.unauthenticated_srtp,
        })?;
        if let Some(mki) = self.mki {
            ctx.set_mki(&mki.to_bytes())?;
        }
        Ok(ctx)
    }

    /// Parses an `a=crypto` attribute value (the text after `a=crypto:`).
    pub fn parse(value: &str) -> Result<CryptoAttribute, SdesError> {
        if value.len() > MAX_CRYPTO_VALUE_LEN {
            return Err(SdesError::TooLong);
        }
        let mut words = value.split_ascii_whitespace();
        let tag = words.next().ok_or(SdesError::Missing("tag"))?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SdesError::BadTag);
        }
        let tag: u32 = tag.parse().map_err(|_| SdesError::BadTag)?;
        let suite_name = words.next().ok_or(SdesError::Missing("crypto suite"))?;
        let suite = SrtpProfile::from_sdes_name(suite_name)
            .ok_or_else(|| SdesError::UnknownSuite(suite_name.chars().take(64).collect()))?;
        let key_params = words.next().ok_or(SdesError::Missing("key parameters"))?;
        // Only the first of several `;`-separated keys is used (as rtpengine does).
        let key_param = key_params.split(';').next().unwrap_or_default();
        let method_len = "inline:".len();
        if key_param.len() < method_len
            || !key_param.as_bytes()[..method_len].eq_ignore_ascii_case(b"inline:")
        {
            return Err(SdesError::BadKeyMethod);
        }
        let mut info = key_param[method_len..].split('|');
        let b64 = info.next().unwrap_or_default();
        let expected = suite.master_key_len() + suite.master_salt_len();
        let mut buf = [0u8; 64];
        if b64.len() > 64 {
            return Err(SdesError::BadKeyLength {
                expected,
                got: b64.len() * 3 / 4,
            });
        }
        let got = B64_LENIENT
            .decode_slice(b64, &mut buf)
            .map_err(|_| SdesError::BadBase64)?;
        if got != expected {
            return Err(SdesError::BadKeyLength { expected, got });
        }
        let key_len = suite.master_key_len();
        let mut attr = CryptoAttribute::new(tag, suite, &buf[..key_len], &buf[key_len..got])?;
        buf.fill(0);

        let (first, second, extra) = (info.next(), info.next(), info.next());
        if extra.is_some() {
            return Err(SdesError::BadLifetime);
        }
        match (first, second) {
            (Some(l), Some(m)) => {
                attr.lifetime = Some(parse_lifetime(l)?);
                attr.mki = Some(parse_mki(m)?);
            }
            // A single field is the MKI if it has a colon, else the lifetime.
            (Some(f), None) if f.contains(':') => attr.mki = Some(parse_mki(f)?),
            (Some(f), None) => attr.lifetime = Some(parse_lifetime(f)?),
            _ => {}
        }

        for param in words {
            match param {
                "UNENCRYPTED_SRTP" => attr.unencrypted_srtp = true,
                "UNENCRYPTED_SRTCP" => attr.unencrypted_srtcp = true,
                "UNAUTHENTICATED_SRTP" => attr.unauthenticated_srtp = true,
                other => {
                    if attr.other_params.len() >= MAX_SESSION_PARAMS {
                        return Err(SdesError::TooManyParams);
                    }
                    attr.other_params.push(other.to_string());
                }
            }
        }
        Ok(attr)
    }

    /// The base64 of key || salt.
    pub fn inline_key(&self, pad: bool) -> String {
        let mut material = [0u8; 46];
        let (k, s) = (self.master_key(), self.master_salt());
        material[..k.len()].copy_from_slice(k);
        material[k.len()..k.len() + s.len()].copy_from_slice(s);
        let out = if pad { &B64_PAD } else { &B64_NO_PAD }.encode(&material[..k.len() + s.len()]);
        material.fill(0);
        out
    }

    /// The full SDP attribute as rtpengine writes its lines: `crypto:<tag> <suite>
    /// inline:<key>[|2^31][|MKI:len][ UNENCRYPTED_SRTP][ UNENCRYPTED_SRTCP]
    /// [ UNAUTHENTICATED_SRTP]` (received lifetimes and other parameters are not repeated).
    pub fn to_attribute(&self, opts: FormatOptions) -> String {
        let mut s = format!(
            "crypto:{} {} inline:{}",
            self.tag,
            self.suite.sdes_name(),
            self.inline_key(opts.pad)
        );
        if opts.lifetime {
            s.push_str("|2^31");
        }
        if let Some(m) = self.mki {
            s.push_str(&format!("|{}:{}", m.value, m.len));
        }
        for (on, name) in [
            (self.unencrypted_srtp, "UNENCRYPTED_SRTP"),
            (self.unencrypted_srtcp, "UNENCRYPTED_SRTCP"),
            (self.unauthenticated_srtp, "UNAUTHENTICATED_SRTP"),
        ] {
            if on {
                s.push(' ');
                s.push_str(name);
            }
        }
        s
    }

    fn apply_session_flags(&mut self, flags: &SdesFlags, offer: bool) {
        for (param, set, clear) in [
            (
                &mut self.unencrypted_srtp,
                flags.unencrypted_srtp,
                flags.encrypted_srtp,
            ),
            (
                &mut self.unencrypted_srtcp,
                flags.unencrypted_srtcp,
                flags.encrypted_srtcp,
            ),
            (
                &mut self.unauthenticated_srtp,
                flags.unauthenticated_srtp,
                flags.authenticated_srtp,
            ),
        ] {
            if set && offer {
                *param = true;
            } else if clear {
                *param = false;
            }
        }
    }
}

/// Writes the value (after `a=crypto:`) as received: padding-free key, lifetime, MKI and
/// every session parameter.
impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} inline:{}",
            self.tag,
            self.suite.sdes_name(),
            self.inline_key(false)
        )?;
        if let Some(l) = self.lifetime {
            write!(f, "|{l}")?;
        }
        if let Some(m) = self.mki {
            write!(f, "|{}:{}", m.value, m.len)?;
        }
        for (on, name) in [
            (self.unencrypted_srtp, "UNENCRYPTED_SRTP"),
            (self.unencrypted_srtcp, "UNENCRYPTED_SRTCP"),
            (self.unauthenticated_srtp, "UNAUTHENTICATED_SRTP"),
        ] {
            if on {
                write!(f, " {name}")?;
            }
        }
        for p in &self.other_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

fn parse_lifetime(s: &str) -> Result<Lifetime, SdesError> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let lifetime = if let Some(exp) = s.strip_prefix("2^") {
        if !digits(exp) {
            return Err(SdesError::BadLifetime);
        }
        let n: u8 = exp.parse().map_err(|_| SdesError::BadLifetime)?;
        if n == 0 || n >= 64 {
            return Err(SdesError::BadLifetime);
        }
        Lifetime::PowerOfTwo(n)
    } else {
        if !digits(s) {
            return Err(SdesError::BadLifetime);
        }
        Lifetime::Packets(s.parse().map_err(|_| SdesError::BadLifetime)?)
    };
    let n = lifetime.packets();
    if n == 0 || n > MAX_LIFETIME {
        return Err(SdesError::BadLifetime);
    }
    Ok(lifetime)
}

fn parse_mki(s: &str) -> Result<Mki, SdesError> {
    let (value, len) = s.split_once(':').ok_or(SdesError::BadMki)?;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(value) || !digits(len) {
        return Err(SdesError::BadMki);
    }
    let value: u64 = value.parse().map_err(|_| SdesError::BadMki)?;
    let len: u8 = len.parse().map_err(|_| SdesError::BadMki)?;
    if len == 0 || len > MAX_MKI_LEN {
        return Err(SdesError::BadMki);
    }
    Ok(Mki { value, len })
}

/// Parses every `a=crypto` value of a media section, skipping lines that are not understood
/// (unknown suite, bad key, ...) as rtpengine does. Returns the lines and the errors.
pub fn parse_all<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> (Vec<CryptoAttribute>, Vec<SdesError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for v in values {
        match CryptoAttribute::parse(v) {
            Ok(a) => ok.push(a),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

/// The NG `SDES` options (the `SDES` list, or `SDES-...` words in `flags`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdesFlags {
    /// `off` / `no` / `disable`: offer no SDES.
    pub off: bool,
    pub unencrypted_srtp: bool,
    pub unencrypted_srtcp: bool,
    pub unauthenticated_srtp: bool,
    pub encrypted_srtp: bool,
    pub encrypted_srtcp: bool,
    pub authenticated_srtp: bool,
    /// `no-NAME`: suites not to offer.
    pub no: Vec<SrtpProfile>,
    /// `only-NAME`: the only suites to offer (wins over `no`).
    pub only: Vec<SrtpProfile>,
    /// `order:A;B;...`: suites to put first in the outgoing offer.
    pub order: Vec<SrtpProfile>,
    /// `offerer_pref:A;B;...`: suites to prefer from the offerer's list for the answer.
    pub offerer_pref: Vec<SrtpProfile>,
    /// `lifetime`: write `|2^31` after keys.
    pub lifetime: bool,
    /// `pad`: keep base64 padding.
    pub pad: bool,
    /// `static`: keep the previously answered suite on re-invites.
    pub static_crypto: bool,
    /// `nonew`: add no suites, pass the offered ones through unfiltered.
    pub nonew: bool,
    /// `prefer`: with both DTLS and SDES offered, accept SDES.
    pub prefer: bool,
}

impl SdesFlags {
    /// Reads the normalised option strings of the NG request (`off`, `no-NAME`,
    /// `order:A;B`, `offerer_pref:A;B`, ...; see `ng::request`). Unknown suite names in
    /// `no-`/`only-`/lists are ignored: no offered line can have them.
    pub fn from_options<I, S>(options: I) -> SdesFlags
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut f = SdesFlags::default();
        for opt in options {
            let opt = opt.as_ref();
            if let Some(name) = opt.strip_prefix("no-") {
                f.no.extend(SrtpProfile::from_sdes_name(name));
            } else if let Some(name) = opt.strip_prefix("only-") {
                f.only.extend(SrtpProfile::from_sdes_name(name));
            } else if let Some(list) = opt.strip_prefix("order:") {
                f.order.extend(suite_list(list));
            } else if let Some(list) = opt.strip_prefix("offerer_pref:") {
                f.offerer_pref.extend(suite_list(list));
            } else {
                match opt {
                    "off" | "no" | "disable" | "disabled" => f.off = true,
                    "unencrypted_srtp" | "UNENCRYPTED_SRTP" => f.unencrypted_srtp = true,
                    "unencrypted_srtcp" | "UNENCRYPTED_SRTCP" => f.unencrypted_srtcp = true,
                    "unauthenticated_srtp" | "UNAUTHENTICATED_SRTP" => {
                        f.unauthenticated_srtp = true
                    }
                    "encrypted_srtp" | "ENCRYPTED_SRTP" => f.encrypted_srtp = true,
                    "encrypted_srtcp" | "ENCRYPTED_SRTCP" => f.encrypted_srtcp = true,
                    "authenticated_srtp" | "AUTHENTICATED_SRTP" => f.authenticated_srtp = true,
                    "lifetime" => f.lifetime = true,
                    "pad" => f.pad = true,
                    "static" => f.static_crypto = true,
                    "nonew" => f.nonew = true,
                    "prefer" | "priority" => f.prefer = true,
                    _ => {}
                }
            }
        }
        f
    }

    /// Formatting for lines written under these flags.
    pub fn format_options(&self) -> FormatOptions {
        FormatOptions {
            pad: self.pad,
            lifetime: self.lifetime,
        }
    }

    /// Whether `suite` may be offered: in `only` if that is given, else not in `no`.
    pub fn allows(&self, suite: SrtpProfile) -> bool {
        if !self.only.is_empty() {
            self.only.contains(&suite)
        } else {
            !self.no.contains(&suite)
        }
    }
}

fn suite_list(list: &str) -> impl Iterator<Item = SrtpProfile> + '_ {
    list.split([';', ','])
        .filter_map(|n| SrtpProfile::from_sdes_name(n.trim()))
}

/// Where the key of an outgoing offer line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferSource {
    /// The offerer's line at this index (same key: SRTP can pass through).
    Offered(usize),
    /// Our previous offer's line at this index (re-invite: keep its key).
    Previous(usize),
    /// A fresh random key.
    New,
}

/// One line of an outgoing offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferedSuite {
    pub tag: u32,
    pub suite: SrtpProfile,
    pub source: OfferSource,
}

/// The crypto lines of an outgoing offer (see the module docs), given the offerer's lines
/// (`offered`, empty for a plain RTP offerer) and our previous offer on this media
/// (`previous`, empty unless this is a re-invite).
pub fn offer_suites(
    offered: &[CryptoAttribute],
    previous: &[CryptoAttribute],
    flags: &SdesFlags,
) -> Vec<OfferedSuite> {
    if flags.off {
        return Vec::new();
    }
    let mut out: Vec<OfferedSuite> = Vec::new();
    let mut next_tag = 1u32;
    let have = |out: &[OfferedSuite], s: SrtpProfile| out.iter().any(|o| o.suite == s);
    for (i, a) in offered.iter().enumerate() {
        if !flags.nonew && !flags.allows(a.suite) {
            continue;
        }
        next_tag = next_tag.max(a.tag.saturating_add(1));
        out.push(OfferedSuite {
            tag: a.tag,
            suite: a.suite,
            source: OfferSource::Offered(i),
        });
    }
    for (i, a) in previous.iter().enumerate() {
        if have(&out, a.suite) || (!flags.nonew && !flags.allows(a.suite)) {
            continue;
        }
        let tag = a.tag.max(next_tag);
        next_tag = tag.saturating_add(1);
        out.push(OfferedSuite {
            tag,
            suite: a.suite,
            source: OfferSource::Previous(i),
        });
    }
    if !flags.nonew {
        for suite in SrtpProfile::ALL {
            if have(&out, suite) || !flags.allows(suite) {
                continue;
            }
            out.push(OfferedSuite {
                tag: next_tag,
                suite,
                source: OfferSource::New,
            });
            next_tag = next_tag.saturating_add(1);
        }
    }
    if !flags.order.is_empty() {
        let mut ordered = Vec::with_capacity(out.len());
        for s in &flags.order {
            if let Some(pos) = out.iter().position(|o| o.suite == *s) {
                ordered.push(out.remove(pos));
            }
        }
        ordered.append(&mut out);
        out = ordered;
    }
    out
}

/// [`offer_suites`] made into attributes: offered and previous lines keep their keys,
/// lifetime and MKI, new ones get fresh keys from `rng`; the session-parameter flags apply.
pub fn build_offer(
    offered: &[CryptoAttribute],
    previous: &[CryptoAttribute],
    flags: &SdesFlags,
    rng: &mut impl RngCore,
) -> Vec<CryptoAttribute> {
    offer_suites(offered, previous, flags)
        .into_iter()
        .map(|o| {
            let mut a = match o.source {
                OfferSource::Offered(i) => offered[i].clone(),
                OfferSource::Previous(i) => previous[i].clone(),
                OfferSource::New => CryptoAttribute::generate(o.tag, o.suite, rng),
            };
            a.tag = o.tag;
            a.apply_session_flags(flags, true);
            a
        })
        .collect()
}

/// The offerer's lines that `flags` allow (all of them with `nonew`); if none is allowed the
/// first one stays, so that an answer is still possible.
fn allowed_indices(lines: &[CryptoAttribute], flags: &SdesFlags) -> Vec<usize> {
    let allowed: Vec<usize> = (0..lines.len())
        .filter(|&i| flags.nonew || flags.allows(lines[i].suite))
        .collect();
    if allowed.is_empty() && !lines.is_empty() {
        vec![0]
    } else {
        allowed
    }
}

/// Where the key of our answer to the offerer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKey {
    /// The answerer's key for the same suite (SRTP passes through unchanged).
    Passthrough,
    /// Our previous answer's key (re-invite with the same suite, or `SDES-static`).
    Previous,
    /// A fresh random key.
    Fresh,
}

/// The line we answer the offerer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerChoice {
    /// Index of the chosen line in the offerer's list.
    pub offered_index: usize,
    pub tag: u32,
    pub suite: SrtpProfile,
    pub key: AnswerKey,
}

/// What the answer to the offerer is decided from.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnswerInput<'a> {
    /// The offerer's lines.
    pub offered: &'a [CryptoAttribute],
    /// The line the answerer sent back for our offer, if it answered with SDES.
    pub peer_answer: Option<&'a CryptoAttribute>,
    /// Our previous answer to this offerer (re-invite), if any.
    pub previous: Option<&'a CryptoAttribute>,
}

/// Chooses the line of the answer to the offerer. `offer_flags` are the flags the offer
/// came with (`no-`, `only-`, `nonew`, `offerer_pref:`), `answer_flags` those of the answer
/// (`static`). `None` if the offerer sent no usable line.
pub fn answer_choice(
    input: &AnswerInput<'_>,
    offer_flags: &SdesFlags,
    answer_flags: &SdesFlags,
) -> Option<AnswerChoice> {
    let mut candidates = allowed_indices(input.offered, offer_flags);
    // offerer_pref: preferred suites first; a forced order also means no passthrough match.
    let mut reordered = false;
    let mut insert_at = 0;
    for pref in &offer_flags.offerer_pref {
        if let Some(pos) = candidates[insert_at..]
            .iter()
            .position(|&i| input.offered[i].suite == *pref)
        {
            let idx = candidates.remove(insert_at + pos);
            candidates.insert(insert_at, idx);
            insert_at += 1;
            reordered = true;
        }
    }
    let choice = |i: usize, key| AnswerChoice {
        offered_index: i,
        tag: input.offered[i].tag,
        suite: input.offered[i].suite,
        key,
    };
    if let (true, Some(prev)) = (answer_flags.static_crypto, input.previous) {
        if let Some(&i) = candidates
            .iter()
            .find(|&&i| input.offered[i].suite == prev.suite && input.offered[i].tag == prev.tag)
        {
            return Some(choice(i, AnswerKey::Previous));
        }
    }
    if let (false, Some(peer)) = (reordered, input.peer_answer) {
        if let Some(&i) = candidates
            .iter()
            .find(|&&i| input.offered[i].suite == peer.suite)
        {
            return Some(choice(i, AnswerKey::Passthrough));
        }
    }
    let &i = candidates.first()?;
    let key = match input.previous {
        Some(prev) if prev.suite == input.offered[i].suite => AnswerKey::Previous,
        _ => AnswerKey::Fresh,
    };
    Some(choice(i, key))
}

/// [`answer_choice`] made into the attribute to send the offerer. Session parameters come
/// from the answerer's line on passthrough, else from the offerer's line; the `encrypted_*`
/// flags of `answer_flags` clear them.
pub fn build_answer(
    input: &AnswerInput<'_>,
    offer_flags: &SdesFlags,
    answer_flags: &SdesFlags,
    rng: &mut impl RngCore,
) -> Option<CryptoAttribute> {
    let c = answer_choice(input, offer_flags, answer_flags)?;
    let offered = &input.offered[c.offered_index];
    let mut a = match (c.key, input.peer_answer, input.previous) {
        (AnswerKey::Passthrough, Some(peer), _) => peer.clone(),
        (AnswerKey::Previous, _, Some(prev)) => prev.clone(),
        _ => {
            let mut a = CryptoAttribute::generate(c.tag, c.suite, rng);
            a.unencrypted_srtp = offered.unencrypted_srtp;
            a.unencrypted_srtcp = offered.unencrypted_srtcp;
            a.unauthenticated_srtp = offered.unauthenticated_srtp;
            a
        }
    };
    a.tag = c.tag;
    a.lifetime = None;
    a.apply_session_flags(answer_flags, false);
    Some(a)
}

/// Which of our offered lines (`our_offer`) the answerer accepted: its first line that
/// `offer_flags` allow (or its first line if none is), matched by tag and suite.
pub fn accepted_offer(
    our_offer: &[CryptoAttribute],
    answer: &[CryptoAttribute],
    offer_flags: &SdesFlags,
) -> Option<usize> {
    let &first = allowed_indices(answer, offer_flags).first()?;
    let a = &answer[first];
    our_offer
        .iter()
        .position(|o| o.suite == a.suite && o.tag == a.tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use SrtpProfile::*;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(0x5de5)
    }

    /// A line with a deterministic key for `suite`.
    fn line(tag: u32, suite: SrtpProfile) -> CryptoAttribute {
        let key: Vec<u8> = (0..suite.master_key_len() as u8)
            .map(|i| i ^ tag as u8)
            .collect();
        let salt: Vec<u8> = (0..suite.master_salt_len() as u8)
            .map(|i| 0x80 | i)
            .collect();
        CryptoAttribute::new(tag, suite, &key, &salt).unwrap()
    }

    fn flags(opts: &[&str]) -> SdesFlags {
        SdesFlags::from_options(opts)
    }

    fn plan(offered: &[CryptoAttribute], f: &SdesFlags) -> Vec<(u32, SrtpProfile, OfferSource)> {
        offer_suites(offered, &[], f)
            .into_iter()
            .map(|o| (o.tag, o.suite, o.source))
            .collect()
    }

    #[test]
    fn parses_a_plain_line() {
        let key_salt: Vec<u8> = (1..=30).collect();
        let b64 = B64_NO_PAD.encode(&key_salt);
        assert_eq!(b64.len(), 40);
        let a = CryptoAttribute::parse(&format!("7 AES_CM_128_HMAC_SHA1_32 inline:{b64}")).unwrap();
        assert_eq!((a.tag, a.suite), (7, Aes128CmHmacSha1_32));
        assert_eq!(a.master_key(), &key_salt[..16]);
        assert_eq!(a.master_salt(), &key_salt[16..]);
        assert_eq!((a.lifetime, a.mki), (None, None));
        assert_eq!(
            a.to_string(),
            format!("7 AES_CM_128_HMAC_SHA1_32 inline:{b64}")
        );
        // The key method is case-insensitive, extra whitespace is fine.
        let b =
            CryptoAttribute::parse(&format!("7  AES_CM_128_HMAC_SHA1_32   INLINE:{b64}")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn padding_is_optional_and_written_only_with_pad() {
        // AES-256-CM: 46 bytes = 62 base64 characters + "==".
        let a = line(3, Aes256CmHmacSha1_80);
        let padded = a.inline_key(true);
        let bare = a.inline_key(false);
        assert_eq!((padded.len(), bare.len()), (64, 62));
        assert!(padded.ends_with("=="));
        for text in [&padded, &bare] {
            let b = CryptoAttribute::parse(&format!("3 AES_256_CM_HMAC_SHA1_80 inline:{text}"))
                .unwrap();
            assert_eq!(b, a);
        }
        let pad = FormatOptions {
            pad: true,
            lifetime: false,
        };
        assert!(a.to_attribute(pad).ends_with("=="));
        assert!(!a.to_attribute(FormatOptions::default()).ends_with('='));
    }

    #[test]
    fn key_text_lengths_match_rtpengine() {
        // Unpadded lengths of key||salt per suite: 40, 38, 51, 59, 62 characters.
        for (suite, len) in [
            (Aes128CmHmacSha1_80, 40),
            (AeadAes128Gcm, 38),
            (Aes192CmHmacSha1_32, 51),
            (AeadAes256Gcm, 59),
            (Aes256CmHmacSha1_32, 62),
            (F8_128HmacSha1_80, 40),
            (NullHmacSha1_32, 40),
        ] {
            let a = CryptoAttribute::generate(1, suite, &mut rng());
            assert_eq!(a.inline_key(false).len(), len, "{suite}");
        }
    }

    #[test]
    fn lifetime_mki_and_session_parameters() {
        let base = line(1, Aes128CmHmacSha1_80).inline_key(false);
        let p = |rest: &str| {
            CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{base}{rest}"))
        };

        let a = p("|2^20|1:4 UNENCRYPTED_SRTCP KDR=0 WSH=128").unwrap();
        assert_eq!(a.lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(a.mki, Some(Mki { value: 1, len: 4 }));
        assert!(a.unencrypted_srtcp && !a.unencrypted_srtp && !a.unauthenticated_srtp);
        assert_eq!(a.other_params, ["KDR=0", "WSH=128"]);
        assert_eq!(
            a.to_string(),
            format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{base}|2^20|1:4 UNENCRYPTED_SRTCP KDR=0 WSH=128"
            )
        );
        // rtpengine's own form drops the received lifetime and unknown parameters.
        assert_eq!(
            a.to_attribute(FormatOptions::default()),
            format!("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{base}|1:4 UNENCRYPTED_SRTCP")
        );
        assert_eq!(
            a.to_attribute(FormatOptions {
                pad: false,
                lifetime: true
            }),
            format!("crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{base}|2^31|1:4 UNENCRYPTED_SRTCP")
        );

        assert_eq!(
            p("|1048576").unwrap().lifetime,
            Some(Lifetime::Packets(1 << 20))
        );
        let m = p("|77:2").unwrap();
        assert_eq!((m.lifetime, m.mki), (None, Some(Mki { value: 77, len: 2 })));
        assert_eq!(m.mki.unwrap().to_bytes(), [0, 77]);
        assert_eq!(
            Mki {
                value: 0x0102,
                len: 12
            }
            .to_bytes()[10..],
            [1, 2]
        );
        let all = p(" UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP").unwrap();
        assert!(all.unencrypted_srtp && all.unencrypted_srtcp && all.unauthenticated_srtp);

        for bad in [
            "|2^0",
            "|2^+5",
            "|+5",
            "|2^64",
            "|0",
            "|2^49",
            "|x",
            "|2^20|",
            "|1:0",
            "|1:129",
            "|a:4",
            "|2^20|1:4|5",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_lines_are_errors() {
        let k = line(1, Aes128CmHmacSha1_80).inline_key(false);
        let cases: Vec<(String, SdesError)> = vec![
            (
                format!("x AES_CM_128_HMAC_SHA1_80 inline:{k}"),
                SdesError::BadTag,
            ),
            (
                format!("1234567890 AES_CM_128_HMAC_SHA1_80 inline:{k}"),
                SdesError::BadTag,
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_99 inline:{k}"),
                SdesError::UnknownSuite("AES_CM_128_HMAC_SHA1_99".into()),
            ),
            (
                format!("1 AES_CM_128_HMAC_SHA1_80 uri:{k}"),
                SdesError::BadKeyMethod,
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!".into(),
                SdesError::BadBase64,
            ),
            (
                format!("1 AES_256_CM_HMAC_SHA1_80 inline:{k}"),
                SdesError::BadKeyLength {
                    expected: 46,
                    got: 30,
                },
            ),
            (
                "1 AES_CM_128_HMAC_SHA1_80".into(),
                SdesError::Missing("key parameters"),
            ),
            ("".into(), SdesError::Missing("tag")),
            ("1".repeat(MAX_CRYPTO_VALUE_LEN + 1), SdesError::TooLong),
        ];
        for (text, err) in cases {
            assert_eq!(CryptoAttribute::parse(&text), Err(err), "{text}");
        }
        let (ok, errors) = parse_all([
            format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k}").as_str(),
            "2 FOO inline:abcd",
        ]);
        assert_eq!((ok.len(), errors.len()), (1, 1));
    }

    #[test]
    fn flags_from_ng_options() {
        let f = flags(&[
            "off",
            "no-NULL_HMAC_SHA1_32",
            "no-BOGUS",
            "only-AES_CM_128_HMAC_SHA1_80",
            "order:AES_256_CM_HMAC_SHA1_32;AEAD_AES_128_GCM",
            "offerer_pref:AES_CM_128_HMAC_SHA1_32",
            "UNENCRYPTED_SRTCP",
            "authenticated_srtp",
            "lifetime",
            "pad",
            "static",
            "nonew",
            "priority",
        ]);
        assert!(f.off && f.unencrypted_srtcp && f.authenticated_srtp && f.lifetime && f.pad);
        assert!(f.static_crypto && f.nonew && f.prefer);
        assert_eq!(f.no, [NullHmacSha1_32]);
        assert_eq!(f.only, [Aes128CmHmacSha1_80]);
        assert_eq!(f.order, [Aes256CmHmacSha1_32, AeadAes128Gcm]);
        assert_eq!(f.offerer_pref, [Aes128CmHmacSha1_32]);
        assert_eq!(
            f.format_options(),
            FormatOptions {
                pad: true,
                lifetime: true
            }
        );
    }

    #[test]
    fn plain_offerer_gets_every_suite_in_rtpengine_order() {
        let p = plan(&[], &SdesFlags::default());
        let expected: Vec<_> = SrtpProfile::ALL
            .iter()
            .enumerate()
            .map(|(i, &s)| (i as u32 + 1, s, OfferSource::New))
            .collect();
        assert_eq!(p, expected);

        let p = plan(
            &[],
            &flags(&["no-F8_128_HMAC_SHA1_80", "no-AES_CM_128_HMAC_SHA1_80"]),
        );
        assert_eq!(p.len(), 10);
        assert_eq!(p[6], (7, Aes128CmHmacSha1_32, OfferSource::New));
        assert_eq!(p[7], (8, F8_128HmacSha1_32, OfferSource::New));

        assert!(plan(&[], &flags(&["off"])).is_empty());
    }

    #[test]
    fn offered_lines_pass_through_then_the_rest_follow() {
        let offered = [
            line(1, Aes128CmHmacSha1_80),
            line(2, Aes128CmHmacSha1_32),
            line(3, Aes256CmHmacSha1_80),
            line(4, Aes256CmHmacSha1_32),
        ];
        let p = plan(&offered, &SdesFlags::default());
        assert_eq!(p.len(), 12);
        assert_eq!(
            p[..4].iter().map(|x| x.2).collect::<Vec<_>>(),
            [0, 1, 2, 3].map(OfferSource::Offered)
        );
        let added: Vec<_> = p[4..].iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(
            added,
            [
                (5, AeadAes256Gcm),
                (6, AeadAes128Gcm),
                (7, Aes192CmHmacSha1_80),
                (8, Aes192CmHmacSha1_32),
                (9, F8_128HmacSha1_80),
                (10, F8_128HmacSha1_32),
                (11, NullHmacSha1_80),
                (12, NullHmacSha1_32),
            ]
        );

        // no- drops an offered line too; its tag is not reused.
        let p = plan(&offered, &flags(&["no-AES_CM_128_HMAC_SHA1_32"]));
        assert_eq!(
            p.iter().map(|x| x.0).collect::<Vec<_>>(),
            [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        );
        let p = plan(&offered, &flags(&["no-AES_CM_128_HMAC_SHA1_80"]));
        assert_eq!((p[0].0, p[0].1), (2, Aes128CmHmacSha1_32));

        // One offered line (OSRTP-style): it keeps tag 1, the other eleven follow.
        let p = plan(&[line(1, Aes128CmHmacSha1_80)], &SdesFlags::default());
        assert_eq!(p.len(), 12);
        assert_eq!(p[1], (2, AeadAes256Gcm, OfferSource::New));
        assert_eq!(p[7], (8, Aes128CmHmacSha1_32, OfferSource::New));

        // New tags continue from the highest offered tag.
        let p = plan(
            &[line(9, AeadAes128Gcm), line(5, NullHmacSha1_80)],
            &SdesFlags::default(),
        );
        assert_eq!(p[2], (10, AeadAes256Gcm, OfferSource::New));
    }

    #[test]
    fn only_nonew_and_order() {
        let offered = [line(1, Aes128CmHmacSha1_80), line(2, Aes128CmHmacSha1_32)];
        let p = plan(
            &offered,
            &flags(&[
                "only-AES_CM_128_HMAC_SHA1_32",
                "only-AEAD_AES_128_GCM",
                "no-AEAD_AES_128_GCM",
            ]),
        );
        assert_eq!(
            p,
            [
                (2, Aes128CmHmacSha1_32, OfferSource::Offered(1)),
                (3, AeadAes128Gcm, OfferSource::New)
            ]
        );
        let p = plan(
            &offered,
            &flags(&[
                "nonew",
                "no-AES_CM_128_HMAC_SHA1_80",
                "only-NULL_HMAC_SHA1_80",
            ]),
        );
        assert_eq!(
            p,
            [
                (1, Aes128CmHmacSha1_80, OfferSource::Offered(0)),
                (2, Aes128CmHmacSha1_32, OfferSource::Offered(1))
            ]
        );
        let p = plan(
            &offered,
            &flags(&["order:NULL_HMAC_SHA1_32;AES_CM_128_HMAC_SHA1_32;AES_192_CM_HMAC_SHA1_80"]),
        );
        assert_eq!(p[0], (12, NullHmacSha1_32, OfferSource::New));
        assert_eq!(p[1], (2, Aes128CmHmacSha1_32, OfferSource::Offered(1)));
        assert_eq!(p[2].1, Aes192CmHmacSha1_80);
        assert_eq!(p[3], (1, Aes128CmHmacSha1_80, OfferSource::Offered(0)));
        assert_eq!(p.len(), 12);
    }

    #[test]
    fn reinvite_keeps_previous_keys() {
        let mut r = rng();
        let first = build_offer(&[], &[], &SdesFlags::default(), &mut r);
        let again = build_offer(&[], &first, &SdesFlags::default(), &mut r);
        assert_eq!(first, again);
        // A suite now offered by the offerer replaces ours; the others keep their keys.
        let offered = [line(1, AeadAes128Gcm)];
        let again = build_offer(&offered, &first, &SdesFlags::default(), &mut r);
        assert_eq!(again[0], offered[0]);
        assert_eq!(again.len(), 12);
        let ours_gcm256 = first.iter().find(|a| a.suite == AeadAes256Gcm).unwrap();
        let again_gcm256 = again.iter().find(|a| a.suite == AeadAes256Gcm).unwrap();
        assert_eq!(again_gcm256.master_key(), ours_gcm256.master_key());
        assert_eq!(again_gcm256.tag, 2);
    }

    #[test]
    fn build_offer_keys_and_session_parameters() {
        let mut offered = line(4, Aes128CmHmacSha1_80);
        offered.unencrypted_srtcp = true;
        offered.mki = Some(Mki { value: 1, len: 4 });
        let f = flags(&["unencrypted_srtp", "encrypted_srtcp", "lifetime"]);
        let out = build_offer(std::slice::from_ref(&offered), &[], &f, &mut rng());
        assert_eq!(out.len(), 12);
        assert_eq!(out[0].master_key(), offered.master_key());
        assert_eq!(out[0].mki, offered.mki);
        assert!(out
            .iter()
            .all(|a| a.unencrypted_srtp && !a.unencrypted_srtcp));
        let keys: std::collections::HashSet<_> =
            out.iter().map(|a| a.master_key().to_vec()).collect();
        assert_eq!(keys.len(), 12, "fresh keys differ");
        let text = out[1].to_attribute(f.format_options());
        assert!(
            text.starts_with("crypto:5 AEAD_AES_256_GCM inline:"),
            "{text}"
        );
        assert!(text.ends_with("|2^31 UNENCRYPTED_SRTP"), "{text}");
        // Written lines parse back to the same keys.
        for a in &out {
            let text = a.to_attribute(FormatOptions::default());
            let back = CryptoAttribute::parse(text.strip_prefix("crypto:").unwrap()).unwrap();
            assert_eq!(
                (back.master_key(), back.master_salt()),
                (a.master_key(), a.master_salt())
            );
        }
    }

    #[test]
    fn answer_to_a_plain_answerer_takes_the_first_allowed_line() {
        let offered = [
            line(1, Aes128CmHmacSha1_80),
            line(2, Aes128CmHmacSha1_32),
            line(3, Aes256CmHmacSha1_80),
        ];
        let input = AnswerInput {
            offered: &offered,
            ..Default::default()
        };
        let none = SdesFlags::default();
        let c = answer_choice(&input, &none, &none).unwrap();
        assert_eq!(
            (c.offered_index, c.tag, c.suite, c.key),
            (0, 1, Aes128CmHmacSha1_80, AnswerKey::Fresh)
        );

        let c = answer_choice(&input, &flags(&["no-AES_CM_128_HMAC_SHA1_80"]), &none).unwrap();
        assert_eq!((c.tag, c.suite), (2, Aes128CmHmacSha1_32));
        let c = answer_choice(&input, &flags(&["only-AES_256_CM_HMAC_SHA1_80"]), &none).unwrap();
        assert_eq!(c.tag, 3);
        // Nothing allowed: the top line stays usable.
        let c = answer_choice(&input, &flags(&["only-NULL_HMAC_SHA1_80"]), &none).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(answer_choice(&AnswerInput::default(), &none, &none), None);

        let a = build_answer(&input, &none, &none, &mut rng()).unwrap();
        assert_eq!((a.tag, a.suite), (1, Aes128CmHmacSha1_80));
        assert_ne!(a.master_key(), offered[0].master_key());
    }

    #[test]
    fn answer_passes_the_answerers_key_through_when_suites_match() {
        let offered = [line(1, AeadAes256Gcm), line(7, Aes128CmHmacSha1_80)];
        let peer = line(7, Aes128CmHmacSha1_80);
        let none = SdesFlags::default();
        let input = AnswerInput {
            offered: &offered,
            peer_answer: Some(&peer),
            previous: None,
        };
        let c = answer_choice(&input, &none, &none).unwrap();
        assert_eq!((c.tag, c.key), (7, AnswerKey::Passthrough));
        let a = build_answer(&input, &none, &none, &mut rng()).unwrap();
        assert_eq!(a.master_key(), peer.master_key());
        assert_eq!(a.tag, 7);

        // The answerer took a suite the offerer didn't have: transcode with a fresh key.
        let peer = line(8, Aes192CmHmacSha1_32);
        let input = AnswerInput {
            offered: &offered,
            peer_answer: Some(&peer),
            previous: None,
        };
        let c = answer_choice(&input, &none, &none).unwrap();
        assert_eq!(
            (c.tag, c.suite, c.key),
            (1, AeadAes256Gcm, AnswerKey::Fresh)
        );

        // offerer_pref reorders and turns the passthrough match off.
        let peer = line(1, AeadAes256Gcm);
        let input = AnswerInput {
            offered: &offered,
            peer_answer: Some(&peer),
            previous: None,
        };
        let pref = flags(&["offerer_pref:AES_CM_128_HMAC_SHA1_80"]);
        let c = answer_choice(&input, &pref, &none).unwrap();
        assert_eq!((c.tag, c.key), (7, AnswerKey::Fresh));
    }

    #[test]
    fn static_and_reinvite_answers_keep_the_previous_line() {
        let offered = [line(1, AeadAes256Gcm), line(7, Aes128CmHmacSha1_80)];
        let previous = line(1, AeadAes256Gcm);
        let peer = line(7, Aes128CmHmacSha1_80);
        let none = SdesFlags::default();
        let input = AnswerInput {
            offered: &offered,
            peer_answer: Some(&peer),
            previous: Some(&previous),
        };
        // Without static the answerer's new choice wins.
        assert_eq!(answer_choice(&input, &none, &none).unwrap().tag, 7);
        let c = answer_choice(&input, &none, &flags(&["static"])).unwrap();
        assert_eq!((c.tag, c.key), (1, AnswerKey::Previous));
        let a = build_answer(&input, &none, &flags(&["static"]), &mut rng()).unwrap();
        assert_eq!(a, previous);
        // A re-invite choosing the same suite again keeps our key.
        let input = AnswerInput {
            offered: &offered,
            peer_answer: None,
            previous: Some(&previous),
        };
        assert_eq!(
            answer_choice(&input, &none, &none).unwrap().key,
            AnswerKey::Previous
        );
    }

    #[test]
    fn accepted_offer_matches_tag_and_suite() {
        let ours = build_offer(&[], &[], &SdesFlags::default(), &mut rng());
        let answer = [line(7, Aes128CmHmacSha1_80)];
        assert_eq!(
            accepted_offer(&ours, &answer, &SdesFlags::default()),
            Some(6)
        );
        let wrong_tag = [line(3, Aes128CmHmacSha1_80)];
        assert_eq!(
            accepted_offer(&ours, &wrong_tag, &SdesFlags::default()),
            None
        );
        assert_eq!(accepted_offer(&ours, &[], &SdesFlags::default()), None);
    }

    #[test]
    fn a_line_keys_working_srtp_contexts() {
        for suite in SrtpProfile::ALL {
            let mut a = CryptoAttribute::generate(1, suite, &mut rng());
            a.mki = Some(Mki { value: 3, len: 2 });
            let text = a.to_attribute(FormatOptions::default());
            let parsed = CryptoAttribute::parse(text.strip_prefix("crypto:").unwrap()).unwrap();
            let mut tx = a.srtp_context().unwrap();
            let mut rx = parsed.srtp_context().unwrap();
            let mut buf = [0u8; 64];
            buf[0] = 0x80;
            buf[12..20].copy_from_slice(b"payload!");
            let n = tx.protect_rtp(&mut buf, 20).unwrap();
            assert_eq!(n, 20 + suite.rtp_tag_len() + 2);
            assert_eq!(rx.unprotect_rtp(&mut buf[..n]).unwrap(), 20, "{suite}");
            assert_eq!(&buf[12..20], b"payload!");
        }
    }
}
