//! A zero-copy bencode codec for NG messages.
//!
//! SIP proxies do not follow the bencode rule that dictionary keys are sorted, and some
//! (OpenSIPS) send the same key more than once, so [`Dict`] keeps its entries in arrival
//! order, duplicates included. Decoding is iterative (an explicit stack, no recursion), so
//! a hostile datagram can only drive nesting up to [`Limits::max_depth`].
//!
//! Only canonical bencode is accepted: no leading zeros in integers or string lengths, no
//! negative zero, no integer outside `i64`, nothing after the top-level value. Because of
//! that, re-encoding a decoded [`Value`] gives back exactly the input bytes.

use std::borrow::Cow;

/// Why a byte string is not acceptable bencode. Every variant carries the byte offset
/// in the input where the problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    #[error("unexpected end of input at byte {0}")]
    UnexpectedEof(usize),
    #[error("unexpected byte 0x{byte:02x} at byte {offset}")]
    UnexpectedByte { offset: usize, byte: u8 },
    #[error("malformed integer at byte {0}")]
    InvalidInteger(usize),
    #[error("integer out of range at byte {0}")]
    IntegerOverflow(usize),
    #[error("malformed string length at byte {0}")]
    InvalidLength(usize),
    #[error("string of {len} bytes at byte {offset} is longer than allowed or than the input")]
    StringTooLong { offset: usize, len: usize },
    #[error("dictionary key at byte {0} is not a string")]
    KeyNotString(usize),
    #[error("dictionary key at byte {0} has no value")]
    MissingValue(usize),
    #[error("nesting deeper than {limit} at byte {offset}")]
    TooDeep { offset: usize, limit: usize },
    #[error("more than {limit} items at byte {offset}")]
    TooManyItems { offset: usize, limit: usize },
    #[error("trailing bytes after the value at byte {0}")]
    TrailingBytes(usize),
}

/// Resource limits for [`decode_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting of lists and dictionaries; the top-level dictionary counts as 1.
    pub max_depth: usize,
    /// Maximum number of values (integers, strings, lists, dictionaries, keys included).
    pub max_items: usize,
    /// Maximum length of one string. A string can never be longer than the input anyway.
    pub max_string_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_items: 100_000,
            max_string_len: usize::MAX,
        }
    }
}

/// Compares two keys with `-`, `_` and space treated as the same character; every other
/// byte must match exactly (case included). `record-call`, `record call` and `record_call`
/// are one key.
pub fn key_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(&x, &y)| x == y || (is_key_sep(x) && is_key_sep(y)))
}

fn is_key_sep(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b' ')
}

/// A decoded bencode value that borrows its strings from the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Int(i64),
    Bytes(&'a [u8]),
    List(Vec<Value<'a>>),
    Dict(Dict<'a>),
}

/// A bencode dictionary: `(key, value)` pairs in arrival order, duplicate keys kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Dict<'a> {
    pub fn new() -> Self {
        Dict {
            entries: Vec::new(),
        }
    }

    /// An empty dictionary with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Dict {
            entries: Vec::with_capacity(n),
        }
    }

    /// Appends an entry (keeps any earlier entry with the same key).
    pub fn push(&mut self, key: &'a [u8], value: Value<'a>) {
        self.entries.push((key, value));
    }

    /// All entries in arrival order.
    pub fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &Value<'a>)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of the FIRST entry whose key matches `key` (see [`key_eq`]). rtpengine's
    /// direct dictionary lookups also find the first occurrence. When every occurrence
    /// matters (OpenSIPS repeats `direction`), use [`Dict::get_all`].
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| key_eq(k, key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The value of the LAST entry whose key matches `key`.
    pub fn get_last(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| key_eq(k, key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Every value whose key matches `key`, in arrival order.
    pub fn get_all<'s>(&'s self, key: &'s str) -> impl Iterator<Item = &'s Value<'a>> + 's {
        self.entries
            .iter()
            .filter(move |(k, _)| key_eq(k, key.as_bytes()))
            .map(|(_, v)| v)
    }

    /// Shortcut for `get(key).and_then(Value::as_str)`.
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

impl<'a> Value<'a> {
    /// The string as UTF-8, or `None` if this is not a string or not valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Writes this value as bencode, dictionary entries in their stored order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => encode_int(*i, out),
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            Value::Dict(dict) => {
                out.push(b'd');
                for (k, v) in dict.iter() {
                    encode_bytes(k, out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Copies this value into an [`OwnedValue`]. Keys that are not UTF-8 are converted
    /// lossily (invalid bytes become U+FFFD).
    pub fn to_owned_value(&self) -> OwnedValue {
        match self {
            Value::Int(i) => OwnedValue::Int(*i),
            Value::Bytes(b) => OwnedValue::Bytes(Cow::Owned(b.to_vec())),
            Value::List(items) => {
                OwnedValue::List(items.iter().map(Value::to_owned_value).collect())
            }
            Value::Dict(dict) => OwnedValue::Dict(
                dict.iter()
                    .map(|(k, v)| {
                        (
                            Cow::Owned(String::from_utf8_lossy(k).into_owned()),
                            v.to_owned_value(),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

/// An owned bencode value, used to build replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedValue {
    Int(i64),
    /// Literal strings (`OwnedValue::lit`) are borrowed: replies are full of them.
    Bytes(Cow<'static, [u8]>),
    List(Vec<OwnedValue>),
    /// Entries are encoded in insertion order (rtpengine does not sort reply keys either).
    /// Keys are mostly literals: borrowing them saves an allocation per key.
    Dict(Vec<(Cow<'static, str>, OwnedValue)>),
    /// A value already encoded by a [`Writer`], copied into the output as it is. Large
    /// replies (a call's statistics) are written this way instead of as a tree of nodes,
    /// each an allocation; [`OwnedValue::get`] and the other readers do not look inside.
    Encoded(Vec<u8>),
}

impl OwnedValue {
    /// A string value: `OwnedValue::lit("ok")`.
    pub fn str(s: &str) -> Self {
        OwnedValue::Bytes(Cow::Owned(s.as_bytes().to_vec()))
    }

    /// A string value that is a literal: no copy, no allocation.
    pub const fn lit(s: &'static str) -> Self {
        OwnedValue::Bytes(Cow::Borrowed(s.as_bytes()))
    }

    pub fn bytes(b: impl Into<Vec<u8>>) -> Self {
        OwnedValue::Bytes(Cow::Owned(b.into()))
    }

    pub fn int(i: i64) -> Self {
        OwnedValue::Int(i)
    }

    /// An empty dictionary.
    pub fn dict() -> Self {
        OwnedValue::Dict(Vec::new())
    }

    /// An empty dictionary with room for `n` entries (one allocation for a reply part whose
    /// size is known).
    pub fn dict_with_capacity(n: usize) -> Self {
        OwnedValue::Dict(Vec::with_capacity(n))
    }

    /// An empty list.
    pub fn list() -> Self {
        OwnedValue::List(Vec::new())
    }

    /// Appends `key: value` to a dictionary. Returns `false` (and changes nothing) if
    /// `self` is not a dictionary.
    pub fn push(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<OwnedValue>,
    ) -> bool {
        match self {
            OwnedValue::Dict(entries) => {
                entries.push((key.into(), value.into()));
                true
            }
            _ => false,
        }
    }

    /// Appends an item to a list. Returns `false` (and changes nothing) if `self` is not
    /// a list.
    pub fn push_item(&mut self, value: impl Into<OwnedValue>) -> bool {
        match self {
            OwnedValue::List(items) => {
                items.push(value.into());
                true
            }
            _ => false,
        }
    }

    /// Builder form of [`OwnedValue::push`]:
    /// `OwnedValue::dict().with("result", "ok").with("sdp", sdp)`.
    #[must_use]
    pub fn with(mut self, key: impl Into<Cow<'static, str>>, value: impl Into<OwnedValue>) -> Self {
        self.push(key, value);
        self
    }

    /// The first value stored under `key` in a dictionary (keys compared as in [`key_eq`]).
    pub fn get(&self, key: &str) -> Option<&OwnedValue> {
        match self {
            OwnedValue::Dict(entries) => entries
                .iter()
                .find(|(k, _)| key_eq(k.as_bytes(), key.as_bytes()))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            OwnedValue::Bytes(b) => Some(b.as_ref()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            OwnedValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Writes this value as bencode, dictionary keys in insertion order.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            OwnedValue::Encoded(b) => out.extend_from_slice(b),
            OwnedValue::Int(i) => encode_int(*i, out),
            OwnedValue::Bytes(b) => encode_bytes(b, out),
            OwnedValue::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            OwnedValue::Dict(entries) => {
                out.push(b'd');
                for (k, v) in entries {
                    encode_bytes(k.as_bytes(), out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The length of [`OwnedValue::encode`]'s output, to size a buffer once.
    pub fn encoded_len(&self) -> usize {
        match self {
            OwnedValue::Encoded(b) => b.len(),
            OwnedValue::Int(i) => int_len(*i),
            OwnedValue::Bytes(b) => bytes_len(b),
            OwnedValue::List(items) => 2 + items.iter().map(OwnedValue::encoded_len).sum::<usize>(),
            OwnedValue::Dict(entries) => {
                2 + entries
                    .iter()
                    .map(|(k, v)| bytes_len(k.as_bytes()) + v.encoded_len())
                    .sum::<usize>()
            }
        }
    }

    /// [`OwnedValue::encode`] into a fresh buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

impl From<&str> for OwnedValue {
    fn from(s: &str) -> Self {
        OwnedValue::str(s)
    }
}

impl From<String> for OwnedValue {
    fn from(s: String) -> Self {
        OwnedValue::Bytes(Cow::Owned(s.into_bytes()))
    }
}

impl From<Cow<'_, str>> for OwnedValue {
    fn from(s: Cow<'_, str>) -> Self {
        OwnedValue::Bytes(Cow::Owned(s.into_owned().into_bytes()))
    }
}

impl From<&[u8]> for OwnedValue {
    fn from(b: &[u8]) -> Self {
        OwnedValue::Bytes(Cow::Owned(b.to_vec()))
    }
}

impl From<Vec<u8>> for OwnedValue {
    fn from(b: Vec<u8>) -> Self {
        OwnedValue::Bytes(Cow::Owned(b))
    }
}

impl From<i64> for OwnedValue {
    fn from(i: i64) -> Self {
        OwnedValue::Int(i)
    }
}

impl From<i32> for OwnedValue {
    fn from(i: i32) -> Self {
        OwnedValue::Int(i64::from(i))
    }
}

impl From<u32> for OwnedValue {
    fn from(i: u32) -> Self {
        OwnedValue::Int(i64::from(i))
    }
}

impl From<u16> for OwnedValue {
    fn from(i: u16) -> Self {
        OwnedValue::Int(i64::from(i))
    }
}

impl From<Vec<OwnedValue>> for OwnedValue {
    fn from(items: Vec<OwnedValue>) -> Self {
        OwnedValue::List(items)
    }
}

impl From<Value<'_>> for OwnedValue {
    fn from(v: Value<'_>) -> Self {
        v.to_owned_value()
    }
}

/// Appends the decimal digits of `n` (no formatting machinery: every reply writes dozens).
fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    // Most numbers written are string lengths and small counters.
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100 {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
        return;
    }
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Byte by byte: a handful of digits, where a copy call costs more than the copy.
    out.reserve(digits.len() - i);
    for &d in &digits[i..] {
        out.push(d);
    }
}

/// How many bytes [`push_decimal`] writes for `n`.
fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

/// Writes bencode straight into a buffer: `dict`/`list` open a container, `end` closes it,
/// and inside a dictionary every `key` is followed by one value. The result is an
/// [`OwnedValue::Encoded`]; the caller keeps the nesting right (checked in debug builds).
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
    depth: usize,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        Writer {
            out: Vec::with_capacity(n),
            depth: 0,
        }
    }

    pub fn dict(&mut self) -> &mut Self {
        self.out.push(b'd');
        self.depth += 1;
        self
    }

    pub fn list(&mut self) -> &mut Self {
        self.out.push(b'l');
        self.depth += 1;
        self
    }

    pub fn end(&mut self) -> &mut Self {
        debug_assert!(
            self.depth > 0,
            "bencode writer: end without an open container"
        );
        self.depth = self.depth.saturating_sub(1);
        self.out.push(b'e');
        self
    }

    pub fn key(&mut self, k: &str) -> &mut Self {
        encode_bytes(k.as_bytes(), &mut self.out);
        self
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        encode_bytes(b, &mut self.out);
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// A string made by `Display` (an address, say), formatted on the stack when it is
    /// short, as addresses are.
    pub fn display(&mut self, v: impl std::fmt::Display) -> &mut Self {
        struct Stack {
            buf: [u8; 64],
            len: usize,
        }
        impl std::fmt::Write for Stack {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let end = self.len + s.len();
                let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }
        let mut st = Stack {
            buf: [0; 64],
            len: 0,
        };
        if std::fmt::write(&mut st, format_args!("{v}")).is_ok() {
            encode_bytes(&st.buf[..st.len], &mut self.out);
        } else {
            encode_bytes(v.to_string().as_bytes(), &mut self.out);
        }
        self
    }

    /// An IP address as text; IPv4 (the common case) without the formatting machinery.
    pub fn ip(&mut self, ip: std::net::IpAddr) -> &mut Self {
        match ip {
            std::net::IpAddr::V4(v4) => {
                let mut text = [0u8; 15];
                let mut n = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[n] = b'.';
                        n += 1;
                    }
                    if octet >= 100 {
                        text[n] = b'0' + octet / 100;
                        n += 1;
                    }
                    if octet >= 10 {
                        text[n] = b'0' + octet / 10 % 10;
                        n += 1;
                    }
                    text[n] = b'0' + octet % 10;
                    n += 1;
                }
                encode_bytes(&text[..n], &mut self.out);
                self
            }
            v6 => self.display(v6),
        }
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        encode_int(i, &mut self.out);
        self
    }

    /// An unsigned count, capped at `i64::MAX` as bencode integers are signed here.
    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.int(n.min(i64::MAX as u64) as i64)
    }

    pub fn finish(self) -> OwnedValue {
        debug_assert_eq!(self.depth, 0, "bencode writer: container left open");
        OwnedValue::Encoded(self.out)
    }
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    out.push(b'i');
    if i < 0 {
        out.push(b'-');
    }
    push_decimal(i.unsigned_abs(), out);
    out.push(b'e');
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    push_decimal(b.len() as u64, out);
    out.push(b':');
    out.extend_from_slice(b);
}

fn int_len(i: i64) -> usize {
    2 + usize::from(i < 0) + decimal_len(i.unsigned_abs())
}

fn bytes_len(b: &[u8]) -> usize {
    decimal_len(b.len() as u64) + 1 + b.len()
}

/// Decodes one bencode value that must span the whole input, with [`Limits::default`].
pub fn decode(input: &[u8]) -> Result<Value<'_>, BencodeError> {
    decode_with(input, &Limits::default())
}

/// A container being filled while decoding.
enum Frame<'a> {
    List(Vec<Value<'a>>),
    Dict {
        dict: Dict<'a>,
        /// The key read last, waiting for its value; with its offset for error reports.
        key: Option<(&'a [u8], usize)>,
    },
}

/// Decodes one bencode value that must span the whole input.
pub fn decode_with<'a>(input: &'a [u8], limits: &Limits) -> Result<Value<'a>, BencodeError> {
    let mut pos = 0usize;
    // Sized for an NG request (a dictionary of a dozen keys holding a few short lists and
    // dictionaries), so that decoding one allocates once per container instead of growing.
    let mut stack: Vec<Frame<'a>> = Vec::with_capacity(4);
    let mut items = 0usize;

    loop {
        let start = pos;
        let byte = *input.get(pos).ok_or(BencodeError::UnexpectedEof(pos))?;

        // Inside a dictionary with no pending key: expect a key or the end.
        let awaiting_key = matches!(stack.last(), Some(Frame::Dict { key: None, .. }));
        if awaiting_key && byte != b'e' {
            if !byte.is_ascii_digit() {
                return Err(BencodeError::KeyNotString(pos));
            }
            let key = parse_bytes(input, &mut pos, limits)?;
            count_item(&mut items, limits, start)?;
            if let Some(Frame::Dict { key: slot, .. }) = stack.last_mut() {
                *slot = Some((key, start));
            }
            continue;
        }

        let value = match byte {
            b'i' => Value::Int(parse_int(input, &mut pos)?),
            b'0'..=b'9' => Value::Bytes(parse_bytes(input, &mut pos, limits)?),
            b'l' | b'd' => {
                if stack.len() >= limits.max_depth {
                    return Err(BencodeError::TooDeep {
                        offset: pos,
                        limit: limits.max_depth,
                    });
                }
                count_item(&mut items, limits, start)?;
                pos += 1;
                stack.push(if byte == b'l' {
                    Frame::List(Vec::with_capacity(4))
                } else {
                    Frame::Dict {
                        dict: Dict::with_capacity(if stack.is_empty() { 16 } else { 4 }),
                        key: None,
                    }
                });
                continue;
            }
            b'e' => {
                pos += 1;
                match stack.pop() {
                    Some(Frame::List(list)) => Value::List(list),
                    Some(Frame::Dict { dict, key: None }) => Value::Dict(dict),
                    Some(Frame::Dict {
                        key: Some((_, key_pos)),
                        ..
                    }) => return Err(BencodeError::MissingValue(key_pos)),
                    None => {
                        return Err(BencodeError::UnexpectedByte {
                            offset: start,
                            byte,
                        })
                    }
                }
            }
            _ => {
                return Err(BencodeError::UnexpectedByte {
                    offset: start,
                    byte,
                })
            }
        };
        // Containers were counted when opened.
        if !matches!(value, Value::List(_) | Value::Dict(_)) {
            count_item(&mut items, limits, start)?;
        }

        match stack.last_mut() {
            None => {
                if pos != input.len() {
                    return Err(BencodeError::TrailingBytes(pos));
                }
                return Ok(value);
            }
            Some(Frame::List(list)) => list.push(value),
            Some(Frame::Dict { dict, key }) => match key.take() {
                Some((k, _)) => dict.push(k, value),
                // Unreachable: a dict without a pending key only accepts keys or 'e'.
                None => return Err(BencodeError::KeyNotString(start)),
            },
        }
    }
}

fn count_item(items: &mut usize, limits: &Limits, offset: usize) -> Result<(), BencodeError> {
    *items += 1;
    if *items > limits.max_items {
        return Err(BencodeError::TooManyItems {
            offset,
            limit: limits.max_items,
        });
    }
    Ok(())
}

/// Parses `i<digits>e` at `*pos`; canonical form only.
fn parse_int(input: &[u8], pos: &mut usize) -> Result<i64, BencodeError> {
    let start = *pos;
    let mut p = start + 1; // skip 'i'
    let negative = input.get(p) == Some(&b'-');
    if negative {
        p += 1;
    }
    let digits_start = p;
    // Accumulate towards the sign so that i64::MIN parses.
    let mut acc: i64 = 0;
    loop {
        match input.get(p) {
            Some(&d @ b'0'..=b'9') => {
                let digit = i64::from(d - b'0');
                acc = acc
                    .checked_mul(10)
                    .and_then(|a| {
                        if negative {
                            a.checked_sub(digit)
                        } else {
                            a.checked_add(digit)
                        }
                    })
                    .ok_or(BencodeError::IntegerOverflow(start))?;
                p += 1;
            }
            Some(b'e') => break,
            Some(_) => return Err(BencodeError::InvalidInteger(start)),
            None => return Err(BencodeError::UnexpectedEof(p)),
        }
    }
    let digits = &input[digits_start..p];
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') || (negative && digits == b"0")
    {
        return Err(BencodeError::InvalidInteger(start));
    }
    *pos = p + 1; // skip 'e'
    Ok(acc)
}

/// Parses `<len>:<bytes>` at `*pos`; canonical length only.
fn parse_bytes<'a>(
    input: &'a [u8],
    pos: &mut usize,
    limits: &Limits,
) -> Result<&'a [u8], BencodeError> {
    let start = *pos;
    let mut p = start;
    let mut len: usize = 0;
    loop {
        match input.get(p) {
            Some(&d @ b'0'..=b'9') => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(d - b'0')))
                    .ok_or(BencodeError::InvalidLength(start))?;
                p += 1;
            }
            Some(b':') => break,
            Some(_) => return Err(BencodeError::InvalidLength(start)),
            None => return Err(BencodeError::UnexpectedEof(p)),
        }
    }
    let digits = &input[start..p];
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return Err(BencodeError::InvalidLength(start));
    }
    let data_start = p + 1;
    let available = input.len() - data_start;
    if len > limits.max_string_len || len > available {
        return Err(BencodeError::StringTooLong { offset: start, len });
    }
    *pos = data_start + len;
    Ok(&input[data_start..data_start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn writer_matches_the_tree_it_replaces() {
        let tree = OwnedValue::dict()
            .with("n", OwnedValue::Int(-3))
            .with("big", OwnedValue::Int(i64::MAX))
            .with("addr", OwnedValue::str("2001:db8::1"))
            .with(
                "l",
                OwnedValue::List(vec![OwnedValue::lit("a"), OwnedValue::dict()]),
            );
        let mut w = Writer::default();
        w.dict()
            .key("n")
            .int(-3)
            .key("big")
            .uint(u64::MAX)
            .key("addr")
            .display("2001:db8::1".parse::<std::net::IpAddr>().unwrap())
            .key("l")
            .list()
            .str("a")
            .dict()
            .end()
            .end()
            .end();
        let written = w.finish();
        assert_eq!(written.to_bytes(), tree.to_bytes());
        assert_eq!(written.encoded_len(), tree.encoded_len());
        // Inside a tree, an encoded value is copied as it is.
        let outer = OwnedValue::dict().with("x", written);
        assert_eq!(
            outer.to_bytes(),
            [b"d1:x".as_slice(), &tree.to_bytes(), b"e"].concat()
        );
    }

    #[test]
    fn writer_writes_addresses_as_display_does() {
        for a in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "127.0.0.1",
            "192.168.10.99",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = a.parse().unwrap();
            let mut w = Writer::default();
            w.ip(ip);
            assert_eq!(w.finish().to_bytes(), OwnedValue::str(a).to_bytes(), "{a}");
        }
    }

    #[test]
    fn writer_formats_long_display_values_too() {
        let long = "x".repeat(100);
        let mut w = Writer::default();
        w.list().display(&long).display(7u8).end();
        let bytes = w.finish().to_bytes();
        assert_eq!(bytes, format!("l100:{long}1:7e").into_bytes());
        assert!(decode(&bytes).is_ok());
    }

    #[test]
    fn decodes_basic_values() {
        assert_eq!(decode(b"i42e"), Ok(Value::Int(42)));
        assert_eq!(decode(b"i-7e"), Ok(Value::Int(-7)));
        assert_eq!(decode(b"i0e"), Ok(Value::Int(0)));
        assert_eq!(decode(b"0:"), Ok(Value::Bytes(b"")));
        assert_eq!(decode(b"4:spam"), Ok(Value::Bytes(b"spam")));
        assert_eq!(
            decode(b"l4:spami1ee"),
            Ok(Value::List(vec![Value::Bytes(b"spam"), Value::Int(1)]))
        );
        assert_eq!(decode(b"le"), Ok(Value::List(vec![])));
        assert_eq!(decode(b"de"), Ok(Value::Dict(Dict::new())));
    }

    #[test]
    fn integer_extremes() {
        assert_eq!(decode(b"i9223372036854775807e"), Ok(Value::Int(i64::MAX)));
        assert_eq!(decode(b"i-9223372036854775808e"), Ok(Value::Int(i64::MIN)));
        assert_eq!(
            decode(b"i9223372036854775808e"),
            Err(BencodeError::IntegerOverflow(0))
        );
        assert_eq!(
            decode(b"i-9223372036854775809e"),
            Err(BencodeError::IntegerOverflow(0))
        );
    }

    #[test]
    fn dict_keeps_arrival_order_and_duplicates() {
        let input = b"d3:sdp1:x9:direction8:internal9:direction8:external7:command5:offere";
        let v = decode(input).unwrap();
        let d = v.as_dict().unwrap();
        let keys: Vec<&[u8]> = d.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            vec![&b"sdp"[..], b"direction", b"direction", b"command"]
        );
        let dirs: Vec<&str> = d.get_all("direction").filter_map(Value::as_str).collect();
        assert_eq!(dirs, ["internal", "external"]);
        assert_eq!(d.get_str("direction"), Some("internal"));
        assert_eq!(
            d.get_last("direction").and_then(Value::as_str),
            Some("external")
        );
        // Re-encoding gives back the same bytes (order and duplicates kept).
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(out, input);
    }

    #[test]
    fn key_lookup_treats_dash_underscore_space_alike() {
        let v = decode(b"d11:record call3:yes7:call_id1:ae").unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d.get_str("record-call"), Some("yes"));
        assert_eq!(d.get_str("record_call"), Some("yes"));
        assert_eq!(d.get_str("record call"), Some("yes"));
        assert_eq!(d.get_str("call-id"), Some("a"));
        // Case is exact.
        assert_eq!(d.get_str("Record-Call"), None);
        assert_eq!(d.get_str("call-i"), None);
        assert!(key_eq(b"a-b_c d", b"a_b c-d"));
        assert!(!key_eq(b"a-b", b"a.b"));
    }

    #[test]
    fn rejections() {
        use BencodeError::*;
        let cases: &[(&[u8], BencodeError)] = &[
            (b"", UnexpectedEof(0)),
            (b"i-0e", InvalidInteger(0)),
            (b"i03e", InvalidInteger(0)),
            (b"i-03e", InvalidInteger(0)),
            (b"ie", InvalidInteger(0)),
            (b"i-e", InvalidInteger(0)),
            (b"i1x", InvalidInteger(0)),
            (b"i12", UnexpectedEof(3)),
            (b"i+1e", InvalidInteger(0)),
            (b"04:spam", InvalidLength(0)),
            (b"00:", InvalidLength(0)),
            (b"5:spam", StringTooLong { offset: 0, len: 5 }),
            (b"99999999999999999999999999:x", InvalidLength(0)),
            (b"4spam", InvalidLength(0)),
            (b"4", UnexpectedEof(1)),
            (b"i1ei2e", TrailingBytes(3)),
            (b"de ", TrailingBytes(2)),
            (b"le\n", TrailingBytes(2)),
            (b"l", UnexpectedEof(1)),
            (b"d", UnexpectedEof(1)),
            (b"d1:a", UnexpectedEof(4)),
            (b"d1:ae", MissingValue(1)),
            (b"di1ei2ee", KeyNotString(1)),
            (b"dle1:ae", KeyNotString(1)),
            (
                b"e",
                UnexpectedByte {
                    offset: 0,
                    byte: b'e',
                },
            ),
            (
                b"x",
                UnexpectedByte {
                    offset: 0,
                    byte: b'x',
                },
            ),
            (
                b"lxe",
                UnexpectedByte {
                    offset: 1,
                    byte: b'x',
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                decode(input).as_ref().err(),
                Some(want),
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn depth_limit() {
        let limits = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        assert!(decode_with(b"llleee", &limits).is_ok());
        assert_eq!(
            decode_with(b"lllleeee", &limits),
            Err(BencodeError::TooDeep {
                offset: 3,
                limit: 3
            })
        );
        // A very deep hostile input is rejected by the default limit, without recursion.
        let deep = [b'l'; 1_000_000];
        assert!(matches!(decode(&deep), Err(BencodeError::TooDeep { .. })));
        let mut ok = vec![b'l'; 32];
        ok.extend(vec![b'e'; 32]);
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn item_and_string_limits() {
        let limits = Limits {
            max_items: 3,
            ..Limits::default()
        };
        assert!(decode_with(b"li1ei2ee", &limits).is_ok());
        assert_eq!(
            decode_with(b"li1ei2ei3ee", &limits),
            Err(BencodeError::TooManyItems {
                offset: 7,
                limit: 3
            })
        );
        let limits = Limits {
            max_string_len: 3,
            ..Limits::default()
        };
        assert!(decode_with(b"3:abc", &limits).is_ok());
        assert_eq!(
            decode_with(b"4:abcd", &limits),
            Err(BencodeError::StringTooLong { offset: 0, len: 4 })
        );
    }

    #[test]
    fn owned_value_builder_and_encoding() {
        let mut reply = OwnedValue::dict();
        assert!(reply.push("result", "ok"));
        assert!(reply.push("sdp", String::from("v=0\r\n")));
        let mut list = OwnedValue::list();
        assert!(list.push_item(1i64));
        assert!(list.push_item("x"));
        assert!(!list.push("k", "v"));
        reply.push("list", list);
        let reply = reply.with("created", 1_700_000_000i64);
        assert_eq!(
            reply.to_bytes(),
            b"d6:result2:ok3:sdp5:v=0\r\n4:listli1e1:xe7:createdi1700000000ee".to_vec()
        );
        assert_eq!(reply.get("result").and_then(OwnedValue::as_str), Some("ok"));
        assert_eq!(
            reply.get("created").and_then(OwnedValue::as_int),
            Some(1_700_000_000)
        );
        let mut not_dict = OwnedValue::int(1);
        assert!(!not_dict.push("a", "b"));
        assert!(!not_dict.push_item("b"));
    }

    #[test]
    fn to_owned_value_roundtrip() {
        let input = b"d1:bi-3e1:al1:xd1:ki0eeee";
        let v = decode(input).unwrap();
        let owned = v.to_owned_value();
        assert_eq!(owned.to_bytes(), input.to_vec());
        assert_eq!(
            owned,
            OwnedValue::Dict(vec![
                ("b".into(), OwnedValue::Int(-3)),
                (
                    "a".into(),
                    OwnedValue::List(vec![
                        OwnedValue::lit("x"),
                        OwnedValue::Dict(vec![("k".into(), OwnedValue::Int(0))])
                    ])
                ),
            ])
        );
    }

    #[test]
    fn accessors() {
        let v = decode(b"l2:\xff\xfei5eledee").unwrap();
        let l = v.as_list().unwrap();
        assert_eq!(l[0].as_bytes(), Some(&b"\xff\xfe"[..]));
        assert_eq!(l[0].as_str(), None);
        assert_eq!(l[1].as_int(), Some(5));
        assert_eq!(l[1].as_str(), None);
        assert!(l[2].as_list().is_some());
        assert!(l[3].as_dict().is_some());
        assert!(l[3].as_list().is_none());
    }

    #[test]
    fn integers_and_lengths_encode_exactly() {
        for (i, want) in [
            (0i64, &b"i0e"[..]),
            (9, b"i9e"),
            (10, b"i10e"),
            (99, b"i99e"),
            (100, b"i100e"),
            (-1, b"i-1e"),
            (-42, b"i-42e"),
            (i64::MAX, b"i9223372036854775807e"),
            (i64::MIN, b"i-9223372036854775808e"),
        ] {
            let v = OwnedValue::Int(i);
            assert_eq!(v.to_bytes(), want);
            assert_eq!(v.encoded_len(), want.len());
        }
        let long = OwnedValue::bytes(vec![b'x'; 1234]);
        let enc = long.to_bytes();
        assert!(enc.starts_with(b"1234:x"));
        assert_eq!(long.encoded_len(), enc.len());
    }

    // ---- property tests ----

    /// Mirror of a bencode value for the serde_bencode oracle.
    fn to_oracle(v: &OwnedValue) -> serde_bencode::value::Value {
        use serde_bencode::value::Value as S;
        match v {
            OwnedValue::Int(i) => S::Int(*i),
            OwnedValue::Bytes(b) => S::Bytes(b.to_vec()),
            OwnedValue::List(l) => S::List(l.iter().map(to_oracle).collect()),
            OwnedValue::Dict(d) => S::Dict(
                d.iter()
                    .map(|(k, v)| (k.as_bytes().to_vec(), to_oracle(v)))
                    .collect(),
            ),
            OwnedValue::Encoded(b) => {
                serde_bencode::from_bytes(b).expect("a writer's output is valid bencode")
            }
        }
    }

    fn owned_strategy() -> impl Strategy<Value = OwnedValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(OwnedValue::Int),
            proptest::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::bytes),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(OwnedValue::List),
                // Sorted, unique keys: the canonical form serde_bencode produces.
                proptest::collection::btree_map("[a-z_ -]{0,8}", inner, 0..6).prop_map(
                    |m: BTreeMap<String, OwnedValue>| OwnedValue::Dict(
                        m.into_iter().map(|(k, v)| (k.into(), v)).collect()
                    )
                ),
            ]
        })
    }

    fn arbitrary_order_strategy() -> impl Strategy<Value = OwnedValue> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(OwnedValue::Int),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(OwnedValue::bytes),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(OwnedValue::List),
                // Unsorted keys with duplicates.
                proptest::collection::vec(("[a-c]{1,2}", inner), 0..6).prop_map(|d| {
                    OwnedValue::Dict(
                        d.into_iter()
                            .map(|(k, v): (String, _)| (k.into(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_bencode(v in owned_strategy()) {
            let ours = v.to_bytes();
            let oracle = serde_bencode::to_bytes(&to_oracle(&v)).unwrap();
            prop_assert_eq!(&ours, &oracle);
            prop_assert_eq!(v.encoded_len(), ours.len());
            let decoded = decode(&ours).unwrap();
            prop_assert_eq!(decoded.to_owned_value(), v.clone());
            let theirs: serde_bencode::value::Value = serde_bencode::from_bytes(&ours).unwrap();
            prop_assert_eq!(theirs, to_oracle(&v));
        }

        #[test]
        fn roundtrips_in_arrival_order(v in arbitrary_order_strategy()) {
            let bytes = v.to_bytes();
            let decoded = decode(&bytes).unwrap();
            prop_assert_eq!(decoded.to_owned_value(), v);
            let mut again = Vec::new();
            decoded.encode(&mut again);
            prop_assert_eq!(again, bytes);
        }

        #[test]
        fn never_panics_and_reencodes_exactly(input in proptest::collection::vec(
            prop_oneof![Just(b'i'), Just(b'l'), Just(b'd'), Just(b'e'), Just(b':'),
                        Just(b'-'), Just(b'0'), Just(b'1'), Just(b'2'), any::<u8>()], 0..64)) {
            if let Ok(v) = decode(&input) {
                let mut out = Vec::new();
                v.encode(&mut out);
                prop_assert_eq!(out, input);
            }
        }

        #[test]
        fn serde_bencode_accepts_what_we_accept(input in proptest::collection::vec(
            prop_oneof![Just(b'i'), Just(b'l'), Just(b'e'), Just(b':'),
                        Just(b'-'), Just(b'0'), Just(b'1'), Just(b'3'), Just(b'a')], 0..32)) {
            // Lists, integers and strings only: serde_bencode sorts dict keys, which we don't.
            if let Ok(v) = decode(&input) {
                let theirs: Result<serde_bencode::value::Value, _> = serde_bencode::from_bytes(&input);
                prop_assert_eq!(theirs.ok(), Some(to_oracle(&v.to_owned_value())));
            }
        }
    }
}
