//! File names derived from Call-IDs, which are untrusted input.
//!
//! rtpengine URI-escapes the Call-ID (every byte outside `A-Z a-z 0-9 - . _ ~` becomes `%XX`,
//! so `@` is `%40`) and appends `-` and 16 random hex digits. We do the same, which escapes
//! path separators, NUL, newlines and every other control or non-ASCII byte; the random
//! suffix means the result can never be `.` or `..`. On top of rtpengine we cap the escaped
//! part so that the longest name we build stays well under the 255-byte `NAME_MAX`.

use std::fmt::Write;

/// Longest escaped Call-ID kept in a file name, in bytes. The longest name built from it is
/// the metadata file: `rtpengine-meta-` + this + `-` + 16 hex + `.tmp` = 236 bytes.
pub const MAX_ESCAPED_CALL_ID: usize = 200;

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-escapes `call_id` like rtpengine (uppercase hex), truncated to at most
/// [`MAX_ESCAPED_CALL_ID`] bytes without splitting an escape.
pub fn escape_call_id(call_id: &str) -> String {
    let mut out = String::with_capacity(call_id.len().min(MAX_ESCAPED_CALL_ID));
    for &b in call_id.as_bytes() {
        let need = if unreserved(b) { 1 } else { 3 };
        if out.len() + need > MAX_ESCAPED_CALL_ID {
            break;
        }
        if unreserved(b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `<escaped call-id>-<16 hex digits>`: the common stem of a call's pcap and metadata files.
pub fn file_prefix(call_id: &str, random: u64) -> String {
    format!("{}-{random:016x}", escape_call_id(call_id))
}

/// Text for one line of the metadata file: control characters and `%` are percent-escaped
/// so a hostile tag, label or Call-ID cannot start a line of its own. Capped at `max` bytes.
pub fn escape_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars() {
        let need = if c.is_control() || c == '%' {
            3 * c.len_utf8()
        } else {
            c.len_utf8()
        };
        if out.len() + need > max {
            break;
        }
        if c.is_control() || c == '%' {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                let _ = write!(out, "%{byte:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_rtpengine() {
        // The captured rtpengine reply: 1-27010@127.0.0.2 -> 1-27010%40127.0.0.2
        assert_eq!(escape_call_id("1-27010@127.0.0.2"), "1-27010%40127.0.0.2");
        assert_eq!(escape_call_id("a~b_c.d-e"), "a~b_c.d-e");
        assert_eq!(escape_call_id("a b/c"), "a%20b%2Fc");
        assert_eq!(escape_call_id("é"), "%C3%A9");
    }

    #[test]
    fn hostile_call_ids_stay_one_safe_component() {
        let long = "x".repeat(5000);
        let cases = [
            "../../etc/x",
            "..",
            ".",
            "",
            "a\0b\nc\r",
            "/abs/path",
            "\\win\\path",
            long.as_str(),
        ];
        for id in cases {
            let p = file_prefix(id, 0x0123_4567_89ab_cdef);
            assert!(!p.contains('/') && !p.contains('\\'), "{p}");
            assert!(!p.bytes().any(|b| b.is_ascii_control()), "{p:?}");
            assert!(p != "." && p != "..");
            assert!(p.ends_with("-0123456789abcdef"), "{p}");
            let meta = format!("rtpengine-meta-{p}.tmp");
            assert!(meta.len() <= 255, "{} bytes", meta.len());
        }
        assert_eq!(
            file_prefix("../../etc/x", 1),
            "..%2F..%2Fetc%2Fx-0000000000000001"
        );
    }

    #[test]
    fn truncation_never_splits_an_escape() {
        for n in 0..10 {
            let id = format!("{}{}", "a".repeat(195 + n), "@@@@");
            let e = escape_call_id(&id);
            assert!(e.len() <= MAX_ESCAPED_CALL_ID);
            // Every '%' is followed by two hex digits.
            let b = e.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                if c == b'%' {
                    assert!(i + 2 < b.len() && b[i + 1].is_ascii_hexdigit());
                }
            }
        }
    }

    #[test]
    fn text_escape_removes_line_breaks() {
        assert_eq!(escape_text("a\nb%c\0", 100), "a%0Ab%25c%00");
        assert_eq!(escape_text("tag@host", 100), "tag@host");
        assert_eq!(escape_text(&"y".repeat(50), 10), "y".repeat(10));
    }
}
