//! NG datagram framing: `<cookie><space><bencoded dictionary>`.
//!
//! The reply repeats the request's cookie, so the proxy can match it and rtpbridge can
//! spot retransmissions (see [`super::cookie_cache`]). The `error-reason` strings of
//! [`NgError`] follow the wording rtpengine uses, because proxies log them as they are.

use super::bencode::{self, BencodeError, Dict, Limits, OwnedValue, Value};

/// Longest cookie accepted. Real cookies are short (`<pid>_<random>_<seq>`).
pub const MAX_COOKIE_LEN: usize = 256;

/// Why an NG message was rejected. `Display` gives the text for `error-reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NgError {
    /// No space in the datagram, or it starts with one: there is no cookie to reply to.
    #[error("Invalid data (no cookie)")]
    NoCookie,
    /// The cookie is longer than [`MAX_COOKIE_LEN`] or holds non-printable bytes.
    #[error("Invalid data (bad cookie)")]
    BadCookie,
    #[error("Invalid data (no payload)")]
    NoPayload,
    /// The body does not start with `d` (JSON bodies, which rtpengine also accepts, are
    /// not supported).
    #[error("Invalid NG data format")]
    InvalidFormat,
    #[error("Could not decode bencode dictionary")]
    Bencode(#[source] BencodeError),
    #[error("Dictionary contains no key \"command\"")]
    NoCommand,
    #[error("No SDP body in message")]
    NoSdp,
    #[error("No call-id in message")]
    NoCallId,
    #[error("No from-tag in message")]
    NoFromTag,
    #[error("No to-tag in message")]
    NoToTag,
}

impl NgError {
    /// `false` when no reply can be sent because the datagram has no usable cookie; such
    /// datagrams are dropped (and logged) as rtpengine does.
    pub fn can_reply(&self) -> bool {
        !matches!(self, NgError::NoCookie | NgError::BadCookie)
    }

    /// The reply dictionary for this error.
    pub fn to_reply(&self) -> OwnedValue {
        error_reply(&self.to_string())
    }
}

/// Splits a datagram into its cookie and its body (the bytes after the first space).
/// The cookie must be 1 to [`MAX_COOKIE_LEN`] printable ASCII bytes; the body must not be
/// empty. The body is not decoded here: see [`decode_body`].
pub fn split_datagram(d: &[u8]) -> Result<(&[u8], &[u8]), NgError> {
    let space = d.iter().position(|&b| b == b' ').ok_or(NgError::NoCookie)?;
    if space == 0 {
        return Err(NgError::NoCookie);
    }
    let cookie = &d[..space];
    if cookie.len() > MAX_COOKIE_LEN || !cookie.iter().all(|b| b.is_ascii_graphic()) {
        return Err(NgError::BadCookie);
    }
    let body = &d[space + 1..];
    if body.is_empty() {
        return Err(NgError::NoPayload);
    }
    Ok((cookie, body))
}

/// Decodes a message body, which must be a bencoded dictionary, with default [`Limits`].
pub fn decode_body(body: &[u8]) -> Result<Dict<'_>, NgError> {
    decode_body_with(body, &Limits::default())
}

/// Decodes a message body, which must be a bencoded dictionary.
///
/// Trailing ASCII whitespace (a newline from `echo` or `nc`) is ignored, as rtpengine
/// ignores whatever follows the dictionary; any other trailing byte is an error.
pub fn decode_body_with<'a>(body: &'a [u8], limits: &Limits) -> Result<Dict<'a>, NgError> {
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    let body = &body[..end];
    match body.first() {
        None => return Err(NgError::NoPayload),
        Some(b'd') => {}
        Some(_) => return Err(NgError::InvalidFormat),
    }
    match bencode::decode_with(body, limits).map_err(NgError::Bencode)? {
        Value::Dict(d) => Ok(d),
        // Cannot happen after the 'd' check, but never trust that.
        _ => Err(NgError::InvalidFormat),
    }
}

/// Builds the reply datagram: `<cookie> <bencoded reply>`.
pub fn encode_reply(cookie: &[u8], reply: &OwnedValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_reply_into(cookie, reply, &mut out);
    out
}

/// [`encode_reply`] into `out` (cleared first), so that a loop can reuse one buffer.
pub fn encode_reply_into(cookie: &[u8], reply: &OwnedValue, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(cookie.len() + 1 + reply.encoded_len());
    out.extend_from_slice(cookie);
    out.push(b' ');
    reply.encode(out);
}

/// `{"result": "error", "error-reason": reason}`.
pub fn error_reply(reason: &str) -> OwnedValue {
    OwnedValue::dict()
        .with("result", "error")
        .with("error-reason", reason)
}

/// `{"result": "ok"}`, to which a handler adds its own keys.
pub fn ok_reply() -> OwnedValue {
    OwnedValue::dict().with("result", "ok")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cookie_and_body() {
        assert_eq!(
            split_datagram(b"28388_3744_0 d7:command4:pinge"),
            Ok((&b"28388_3744_0"[..], &b"d7:command4:pinge"[..]))
        );
        // Only the first space separates; the body may contain spaces.
        assert_eq!(
            split_datagram(b"c d1:a3:x yee"),
            Ok((&b"c"[..], &b"d1:a3:x yee"[..]))
        );
    }

    #[test]
    fn split_rejections() {
        let long = [b'a'; MAX_COOKIE_LEN + 1];
        let mut too_long = long.to_vec();
        too_long.extend_from_slice(b" de");
        let mut max_len = long[..MAX_COOKIE_LEN].to_vec();
        max_len.extend_from_slice(b" de");
        assert!(split_datagram(&max_len).is_ok());
        let cases: &[(&[u8], NgError)] = &[
            (b"", NgError::NoCookie),
            (b"d7:command4:pinge", NgError::NoCookie),
            (b" d7:command4:pinge", NgError::NoCookie),
            (b"abc ", NgError::NoPayload),
            (b"a\x01b de", NgError::BadCookie),
            (b"a\tb de", NgError::BadCookie),
            (b"\xc3\xa9 de", NgError::BadCookie),
            (&too_long, NgError::BadCookie),
        ];
        for (input, want) in cases {
            assert_eq!(split_datagram(input), Err(want.clone()), "{input:?}");
        }
        assert!(!NgError::NoCookie.can_reply());
        assert!(!NgError::BadCookie.can_reply());
        assert!(NgError::NoPayload.can_reply());
    }

    #[test]
    fn decodes_body() {
        let d = decode_body(b"d7:command4:pinge").unwrap();
        assert_eq!(d.get_str("command"), Some("ping"));
        let d = decode_body(b"d7:command4:pinge\r\n").unwrap();
        assert_eq!(d.get_str("command"), Some("ping"));
        assert_eq!(decode_body(b"l4:pinge"), Err(NgError::InvalidFormat));
        assert_eq!(decode_body(b"i1e"), Err(NgError::InvalidFormat));
        assert_eq!(
            decode_body(b"{\"command\":\"ping\"}"),
            Err(NgError::InvalidFormat)
        );
        assert_eq!(decode_body(b"\n"), Err(NgError::NoPayload));
        assert!(matches!(
            decode_body(b"d7:command4:ping"),
            Err(NgError::Bencode(_))
        ));
        assert!(matches!(decode_body(b"dexx"), Err(NgError::Bencode(_))));
    }

    #[test]
    fn error_reasons_use_rtpengine_wording() {
        assert_eq!(
            NgError::NoCommand.to_string(),
            "Dictionary contains no key \"command\""
        );
        assert_eq!(NgError::NoCallId.to_string(), "No call-id in message");
        assert_eq!(
            NgError::Bencode(BencodeError::UnexpectedEof(3)).to_string(),
            "Could not decode bencode dictionary"
        );
    }

    #[test]
    fn encodes_replies() {
        assert_eq!(
            encode_reply(b"5323_1", &OwnedValue::dict().with("result", "pong")),
            b"5323_1 d6:result4:ponge".to_vec()
        );
        assert_eq!(
            encode_reply(b"c1", &error_reply("Unknown call-id")),
            b"c1 d6:result5:error12:error-reason15:Unknown call-ide".to_vec()
        );
        assert_eq!(
            encode_reply(b"c2", &NgError::NoCallId.to_reply()),
            b"c2 d6:result5:error12:error-reason21:No call-id in messagee".to_vec()
        );
        assert_eq!(ok_reply().to_bytes(), b"d6:result2:oke".to_vec());
    }
}
