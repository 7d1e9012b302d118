//! STUN (RFC 8489, RFC 5389) as far as ICE needs it: Binding requests, success and error
//! responses with short-term credentials.
//!
//! [`Message::parse`] is a zero-copy view over one datagram: it validates the header and walks the
//! attributes once, keeping the ones ICE uses and remembering where MESSAGE-INTEGRITY and
//! FINGERPRINT sit so that [`Message::verify_integrity`] and [`Message::verify_fingerprint`] can
//! check them over the right prefix later. Unknown comprehension-optional attributes are
//! skipped; unknown comprehension-required ones are reported by
//! [`Message::unknown_required`]. The parser never panics and allocates nothing.
//!
//! [`MessageWriter`] appends a message to a caller-provided `Vec<u8>` (no allocation once the
//! vector has capacity) and keeps the header's length field current after every attribute, so
//! that MESSAGE-INTEGRITY and FINGERPRINT are computed over exactly what precedes them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// The fixed magic cookie of RFC 5389 and later (classic RFC 3489 STUN is not accepted).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Size of the STUN header.
pub const HEADER_LEN: usize = 20;
/// Largest message accepted or built. ICE messages are a few hundred bytes; anything larger
/// than a jumbo-free datagram is not ours.
pub const MAX_MESSAGE_LEN: usize = 2048;
/// Most attributes walked in one message before giving up.
pub const MAX_ATTRIBUTES: usize = 48;
/// Most unknown comprehension-required attribute types remembered for a 420 reply.
pub const MAX_UNKNOWN_REPORTED: usize = 8;
/// USERNAME must be shorter than this many bytes (RFC 8489 section 14.3).
pub const MAX_USERNAME_LEN: usize = 513;
/// SOFTWARE and the ERROR-CODE reason phrase are limited to 763 bytes (128 characters).
pub const MAX_TEXT_LEN: usize = 763;

/// The Binding method, the only one ICE uses.
pub const METHOD_BINDING: u16 = 0x001;

const FINGERPRINT_XOR: u32 = 0x5354_554E;
const INTEGRITY_LEN: usize = 20;

/// Attribute types this codec knows (and a few it only needs to name).
pub mod attr {
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    pub const USERNAME: u16 = 0x0006;
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    pub const ERROR_CODE: u16 = 0x0009;
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    pub const REALM: u16 = 0x0014;
    pub const NONCE: u16 = 0x0015;
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    pub const PRIORITY: u16 = 0x0024;
    pub const USE_CANDIDATE: u16 = 0x0025;
    pub const SOFTWARE: u16 = 0x8022;
    pub const FINGERPRINT: u16 = 0x8028;
    pub const ICE_CONTROLLED: u16 = 0x8029;
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

/// Error codes ICE uses.
pub mod code {
    pub const BAD_REQUEST: u16 = 400;
    pub const UNAUTHORIZED: u16 = 401;
    pub const UNKNOWN_ATTRIBUTE: u16 = 420;
    pub const ROLE_CONFLICT: u16 = 487;
    pub const SERVER_ERROR: u16 = 500;
}

/// Why a datagram is not an acceptable STUN message, or why a message cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StunError {
    #[error("not a STUN message")]
    NotStun,
    #[error("STUN message truncated")]
    Truncated,
    #[error("STUN message longer than {MAX_MESSAGE_LEN} bytes")]
    TooLong,
    #[error("STUN length field does not match the datagram")]
    LengthMismatch,
    #[error("malformed STUN attribute {0:#06x}")]
    BadAttribute(u16),
    #[error("STUN attribute after FINGERPRINT")]
    AfterFingerprint,
    #[error("more than {MAX_ATTRIBUTES} STUN attributes")]
    TooManyAttributes,
    #[error("value too long for STUN attribute {0:#06x}")]
    ValueTooLong(u16),
}

/// The class of a STUN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Request,
    Indication,
    Success,
    Error,
}

impl Class {
    fn bits(self) -> u16 {
        match self {
            Class::Request => 0x000,
            Class::Indication => 0x010,
            Class::Success => 0x100,
            Class::Error => 0x110,
        }
    }
}

/// Encodes a class and a 12-bit method into the 14-bit message type.
pub fn message_type(class: Class, method: u16) -> u16 {
    (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | class.bits()
}

fn split_type(t: u16) -> (Class, u16) {
    let class = match t & 0x0110 {
        0x000 => Class::Request,
        0x010 => Class::Indication,
        0x100 => Class::Success,
        _ => Class::Error,
    };
    let method = (t & 0x000F) | ((t & 0x00E0) >> 1) | ((t & 0x3E00) >> 2);
    (class, method)
}

/// The 96-bit transaction ID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TransactionId(pub [u8; 12]);

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// An ERROR-CODE attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode<'a> {
    /// 300..=699.
    pub code: u16,
    /// The reason phrase (empty if it was not valid UTF-8).
    pub reason: &'a str,
}

/// Cheap check whether a datagram looks like a STUN message (RFC 7983 demultiplexing plus the
/// magic cookie and a consistent length), without walking the attributes.
pub fn is_stun(packet: &[u8]) -> bool {
    packet.len() >= HEADER_LEN
        && packet[0] < 4
        && be32(&packet[4..8]) == MAGIC_COOKIE
        && usize::from(be16(&packet[2..4])) + HEADER_LEN == packet.len()
}

/// A parsed STUN message borrowing the datagram it came from.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    bytes: &'a [u8],
    class: Class,
    method: u16,
    transaction_id: TransactionId,
    username: Option<&'a str>,
    integrity_at: Option<usize>,
    fingerprint_at: Option<usize>,
    xor_mapped_address: Option<SocketAddr>,
    priority: Option<u32>,
    use_candidate: bool,
    ice_controlling: Option<u64>,
    ice_controlled: Option<u64>,
    error_code: Option<ErrorCode<'a>>,
    software: Option<&'a str>,
    unknown: [u16; MAX_UNKNOWN_REPORTED],
    unknown_len: usize,
}

impl<'a> Message<'a> {
    /// Parses one datagram as a STUN message. The datagram must be exactly one message (the
    /// length field must account for every byte).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, StunError> {
        if bytes.len() < HEADER_LEN {
            return Err(if bytes.first().is_some_and(|b| *b < 4) {
                StunError::Truncated
            } else {
                StunError::NotStun
            });
        }
        if bytes[0] & 0xC0 != 0 || be32(&bytes[4..8]) != MAGIC_COOKIE {
            return Err(StunError::NotStun);
        }
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(StunError::TooLong);
        }
        let length = usize::from(be16(&bytes[2..4]));
        if length % 4 != 0 || length + HEADER_LEN != bytes.len() {
            return Err(StunError::LengthMismatch);
        }
        let (class, method) = split_type(be16(&bytes[0..2]));
        let mut tid = [0u8; 12];
        tid.copy_from_slice(&bytes[8..20]);
        let mut msg = Message {
            bytes,
            class,
            method,
            transaction_id: TransactionId(tid),
            username: None,
            integrity_at: None,
            fingerprint_at: None,
            xor_mapped_address: None,
            priority: None,
            use_candidate: false,
            ice_controlling: None,
            ice_controlled: None,
            error_code: None,
            software: None,
            unknown: [0; MAX_UNKNOWN_REPORTED],
            unknown_len: 0,
        };

        let mut pos = HEADER_LEN;
        let mut count = 0usize;
        while pos < bytes.len() {
            if msg.fingerprint_at.is_some() {
                return Err(StunError::AfterFingerprint);
            }
            count += 1;
            if count > MAX_ATTRIBUTES {
                return Err(StunError::TooManyAttributes);
            }
            let header = bytes.get(pos..pos + 4).ok_or(StunError::Truncated)?;
            let typ = be16(&header[0..2]);
            let len = usize::from(be16(&header[2..4]));
            let value = bytes
                .get(pos + 4..pos + 4 + len)
                .ok_or(StunError::BadAttribute(typ))?;
            let padded = (len + 3) & !3;
            if pos + 4 + padded > bytes.len() {
                return Err(StunError::BadAttribute(typ));
            }
            let at = pos;
            pos += 4 + padded;

            if typ == attr::FINGERPRINT {
                if len != 4 {
                    return Err(StunError::BadAttribute(typ));
                }
                msg.fingerprint_at = Some(at);
                continue;
            }
            // Everything between MESSAGE-INTEGRITY and FINGERPRINT is ignored (RFC 8489 14.5).
            if msg.integrity_at.is_some() {
                continue;
            }
            msg.attribute(at, typ, value)?;
        }
        Ok(msg)
    }

    fn attribute(&mut self, at: usize, typ: u16, value: &'a [u8]) -> Result<(), StunError> {
        let bad = StunError::BadAttribute(typ);
        match typ {
            attr::USERNAME => {
                if value.len() >= MAX_USERNAME_LEN {
                    return Err(bad);
                }
                let s = std::str::from_utf8(value).map_err(|_| bad)?;
                self.username.get_or_insert(s);
            }
            attr::MESSAGE_INTEGRITY => {
                if value.len() != INTEGRITY_LEN {
                    return Err(bad);
                }
                self.integrity_at = Some(at);
            }
            attr::XOR_MAPPED_ADDRESS => {
                let addr = self.decode_xor_address(value).ok_or(bad)?;
                self.xor_mapped_address.get_or_insert(addr);
            }
            attr::PRIORITY => {
                let v: [u8; 4] = value.try_into().map_err(|_| bad)?;
                self.priority.get_or_insert(u32::from_be_bytes(v));
            }
            attr::USE_CANDIDATE => {
                if !value.is_empty() {
                    return Err(bad);
                }
                self.use_candidate = true;
            }
            attr::ICE_CONTROLLING => {
                let v: [u8; 8] = value.try_into().map_err(|_| bad)?;
                self.ice_controlling.get_or_insert(u64::from_be_bytes(v));
            }
            attr::ICE_CONTROLLED => {
                let v: [u8; 8] = value.try_into().map_err(|_| bad)?;
                self.ice_controlled.get_or_insert(u64::from_be_bytes(v));
            }
            attr::ERROR_CODE => {
                if value.len() < 4 || value.len() > 4 + MAX_TEXT_LEN {
                    return Err(bad);
                }
                let class = u16::from(value[2] & 0x07);
                let number = u16::from(value[3]);
                if !(3..=6).contains(&class) || number > 99 {
                    return Err(bad);
                }
                let reason = std::str::from_utf8(&value[4..]).unwrap_or("");
                self.error_code.get_or_insert(ErrorCode {
                    code: class * 100 + number,
                    reason,
                });
            }
            attr::SOFTWARE => {
                // Informational only: an over-long or non-UTF-8 value is ignored, not fatal.
                if let Some(s) = (value.len() <= MAX_TEXT_LEN)
                    .then(|| std::str::from_utf8(value).ok())
                    .flatten()
                {
                    self.software.get_or_insert(s);
                }
            }
            // Known, not used by ICE, comprehension-required: accept and skip.
            attr::MAPPED_ADDRESS | attr::UNKNOWN_ATTRIBUTES => {}
            t if t < 0x8000 => self.note_unknown(t),
            _ => {}
        }
        Ok(())
    }

    fn note_unknown(&mut self, t: u16) {
        if self.unknown_len < MAX_UNKNOWN_REPORTED && !self.unknown_required().contains(&t) {
            self.unknown[self.unknown_len] = t;
            self.unknown_len += 1;
        }
    }

    fn decode_xor_address(&self, value: &[u8]) -> Option<SocketAddr> {
        if value.len() < 4 || value[0] != 0 {
            return None;
        }
        let port = be16(&value[2..4]) ^ (MAGIC_COOKIE >> 16) as u16;
        let ip = match (value[1], value.len()) {
            (0x01, 8) => {
                let raw = be32(&value[4..8]) ^ MAGIC_COOKIE;
                IpAddr::V4(Ipv4Addr::from(raw))
            }
            (0x02, 20) => {
                let mut raw = [0u8; 16];
                let key = xor_key(&self.transaction_id);
                for (i, b) in raw.iter_mut().enumerate() {
                    *b = value[4 + i] ^ key[i];
                }
                IpAddr::V6(Ipv6Addr::from(raw))
            }
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// The whole message as received.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub fn class(&self) -> Class {
        self.class
    }
    pub fn method(&self) -> u16 {
        self.method
    }
    pub fn transaction_id(&self) -> TransactionId {
        self.transaction_id
    }
    /// USERNAME (the first one if repeated).
    pub fn username(&self) -> Option<&'a str> {
        self.username
    }
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        self.xor_mapped_address
    }
    pub fn priority(&self) -> Option<u32> {
        self.priority
    }
    pub fn use_candidate(&self) -> bool {
        self.use_candidate
    }
    /// ICE-CONTROLLING's tie-breaker.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.ice_controlling
    }
    /// ICE-CONTROLLED's tie-breaker.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.ice_controlled
    }
    pub fn error_code(&self) -> Option<ErrorCode<'a>> {
        self.error_code
    }
    pub fn software(&self) -> Option<&'a str> {
        self.software
    }
    /// Unknown comprehension-required attribute types (before MESSAGE-INTEGRITY), at most
    /// [`MAX_UNKNOWN_REPORTED`] of them.
    pub fn unknown_required(&self) -> &[u16] {
        &self.unknown[..self.unknown_len]
    }
    pub fn has_integrity(&self) -> bool {
        self.integrity_at.is_some()
    }
    pub fn has_fingerprint(&self) -> bool {
        self.fingerprint_at.is_some()
    }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1) with `key` (for short-term credentials: the
    /// password). False if the attribute is absent. The comparison is constant-time.
    pub fn verify_integrity(&self, key: &[u8]) -> bool {
        let Some(at) = self.integrity_at else {
            return false;
        };
        let Some(tag) = self.bytes.get(at + 4..at + 4 + INTEGRITY_LEN) else {
            return false;
        };
        let mac = integrity_mac(key, &self.bytes[..at]);
        mac.verify_slice(tag).is_ok()
    }

    /// Checks FINGERPRINT. False if the attribute is absent.
    pub fn verify_fingerprint(&self) -> bool {
        let Some(at) = self.fingerprint_at else {
            return false;
        };
        let Some(value) = self.bytes.get(at + 4..at + 8) else {
            return false;
        };
        fingerprint_of(&self.bytes[..at]) == be32(value)
    }
}

/// HMAC-SHA1 over `prefix` (the message up to the MESSAGE-INTEGRITY attribute) with the
/// header's length field set as if MESSAGE-INTEGRITY were the last attribute.
fn integrity_mac(key: &[u8], prefix: &[u8]) -> Hmac<Sha1> {
    // HMAC's own key processing (hash keys longer than a block, zero-pad the rest), done here
    // so that the infallible fixed-size constructor can be used.
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        use sha1::Digest;
        let digest = Sha1::digest(key);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha1> as KeyInit>::new(&block.into());
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&prefix[..HEADER_LEN]);
    let len = (prefix.len() + 4 + INTEGRITY_LEN - HEADER_LEN) as u16;
    header[2..4].copy_from_slice(&len.to_be_bytes());
    mac.update(&header);
    mac.update(&prefix[HEADER_LEN..]);
    mac
}

fn fingerprint_of(prefix: &[u8]) -> u32 {
    crc32fast::hash(prefix) ^ FINGERPRINT_XOR
}

fn xor_key(tid: &TransactionId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    key[4..].copy_from_slice(&tid.0);
    key
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Appends one STUN message to a `Vec<u8>`.
///
/// ```
/// # use rtpbridge::ice::stun::*;
/// let mut buf = Vec::new();
/// let tid = TransactionId([7; 12]);
/// let mut w = MessageWriter::new(&mut buf, Class::Request, METHOD_BINDING, tid);
/// w.username("remote:local").unwrap();
/// w.priority(1_862_270_975).unwrap();
/// w.message_integrity(b"password").unwrap();
/// w.fingerprint().unwrap();
/// let msg = Message::parse(&buf).unwrap();
/// assert!(msg.verify_integrity(b"password") && msg.verify_fingerprint());
/// ```
pub struct MessageWriter<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    tid: TransactionId,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message at the end of `buf`.
    pub fn new(buf: &'b mut Vec<u8>, class: Class, method: u16, tid: TransactionId) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&message_type(class, method).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        buf.extend_from_slice(&tid.0);
        MessageWriter { buf, start, tid }
    }

    /// Current length of the message being written.
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether only the header has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == HEADER_LEN
    }

    /// Appends a raw attribute (padded with zeros).
    pub fn attribute(&mut self, typ: u16, value: &[u8]) -> Result<&mut Self, StunError> {
        let padded = (value.len() + 3) & !3;
        if value.len() > usize::from(u16::MAX) || self.len() + 4 + padded > MAX_MESSAGE_LEN {
            return Err(StunError::ValueTooLong(typ));
        }
        self.buf.extend_from_slice(&typ.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        self.buf.resize(self.buf.len() + padded - value.len(), 0);
        self.set_length();
        Ok(self)
    }

    fn set_length(&mut self) {
        let body = (self.len() - HEADER_LEN) as u16;
        self.buf[self.start + 2..self.start + 4].copy_from_slice(&body.to_be_bytes());
    }

    pub fn username(&mut self, username: &str) -> Result<&mut Self, StunError> {
        if username.len() >= MAX_USERNAME_LEN {
            return Err(StunError::ValueTooLong(attr::USERNAME));
        }
        self.attribute(attr::USERNAME, username.as_bytes())
    }

    pub fn priority(&mut self, priority: u32) -> Result<&mut Self, StunError> {
        self.attribute(attr::PRIORITY, &priority.to_be_bytes())
    }

    pub fn use_candidate(&mut self) -> Result<&mut Self, StunError> {
        self.attribute(attr::USE_CANDIDATE, &[])
    }

    pub fn ice_controlling(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.attribute(attr::ICE_CONTROLLING, &tie_breaker.to_be_bytes())
    }

    pub fn ice_controlled(&mut self, tie_breaker: u64) -> Result<&mut Self, StunError> {
        self.attribute(attr::ICE_CONTROLLED, &tie_breaker.to_be_bytes())
    }

    pub fn xor_mapped_address(&mut self, addr: SocketAddr) -> Result<&mut Self, StunError> {
        let port = addr.port() ^ (MAGIC_COOKIE >> 16) as u16;
        let mut value = [0u8; 20];
        value[2..4].copy_from_slice(&port.to_be_bytes());
        let len = match addr.ip() {
            IpAddr::V4(ip) => {
                value[1] = 0x01;
                let x = u32::from(ip) ^ MAGIC_COOKIE;
                value[4..8].copy_from_slice(&x.to_be_bytes());
                8
            }
            IpAddr::V6(ip) => {
                value[1] = 0x02;
                let key = xor_key(&self.tid);
                for (i, b) in ip.octets().iter().enumerate() {
                    value[4 + i] = b ^ key[i];
                }
                20
            }
        };
        self.attribute(attr::XOR_MAPPED_ADDRESS, &value[..len])
    }

    /// ERROR-CODE with `code` in 300..=699.
    pub fn error_code(&mut self, code: u16, reason: &str) -> Result<&mut Self, StunError> {
        if !(300..700).contains(&code) {
            return Err(StunError::BadAttribute(attr::ERROR_CODE));
        }
        if reason.len() > MAX_TEXT_LEN {
            return Err(StunError::ValueTooLong(attr::ERROR_CODE));
        }
        let mut value = [0u8; 4 + MAX_TEXT_LEN];
        value[2] = (code / 100) as u8;
        value[3] = (code % 100) as u8;
        value[4..4 + reason.len()].copy_from_slice(reason.as_bytes());
        self.attribute(attr::ERROR_CODE, &value[..4 + reason.len()])
    }

    /// UNKNOWN-ATTRIBUTES for a 420 response.
    pub fn unknown_attributes(&mut self, types: &[u16]) -> Result<&mut Self, StunError> {
        let mut value = [0u8; 2 * MAX_UNKNOWN_REPORTED];
        let n = types.len().min(MAX_UNKNOWN_REPORTED);
        for (i, t) in types[..n].iter().enumerate() {
            value[2 * i..2 * i + 2].copy_from_slice(&t.to_be_bytes());
        }
        self.attribute(attr::UNKNOWN_ATTRIBUTES, &value[..2 * n])
    }

    pub fn software(&mut self, software: &str) -> Result<&mut Self, StunError> {
        if software.len() > MAX_TEXT_LEN {
            return Err(StunError::ValueTooLong(attr::SOFTWARE));
        }
        self.attribute(attr::SOFTWARE, software.as_bytes())
    }

    /// MESSAGE-INTEGRITY over everything written so far, keyed with `key`.
    pub fn message_integrity(&mut self, key: &[u8]) -> Result<&mut Self, StunError> {
        if self.len() + 4 + INTEGRITY_LEN > MAX_MESSAGE_LEN {
            return Err(StunError::ValueTooLong(attr::MESSAGE_INTEGRITY));
        }
        let tag = integrity_mac(key, &self.buf[self.start..])
            .finalize()
            .into_bytes();
        self.attribute(attr::MESSAGE_INTEGRITY, &tag)
    }

    /// FINGERPRINT over everything written so far; it must be the last attribute.
    pub fn fingerprint(&mut self) -> Result<&mut Self, StunError> {
        if self.len() + 8 > MAX_MESSAGE_LEN {
            return Err(StunError::ValueTooLong(attr::FINGERPRINT));
        }
        // The length field must already count FINGERPRINT itself.
        let body = (self.len() + 8 - HEADER_LEN) as u16;
        self.buf[self.start + 2..self.start + 4].copy_from_slice(&body.to_be_bytes());
        let crc = fingerprint_of(&self.buf[self.start..]);
        self.attribute(attr::FINGERPRINT, &crc.to_be_bytes())
    }

    /// The message written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

#[cfg(test)]
#[path = "stun_tests.rs"]
mod tests;
