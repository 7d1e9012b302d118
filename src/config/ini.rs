//! Reader for rtpengine's config file: the glib "key file" ini dialect.
//!
//! Rules (those of glib's key files, which rtpengine uses, plus `;` comments):
//! - `[section]` headers; repeated sections are merged; a key repeated in a section: last wins.
//! - `key = value`; blanks around `=` and at both ends of the line are ignored. There are no
//!   inline comments: `a = x # y` has the value `x # y` (for integers glib ignores anything after
//!   a blank, so `table = 0 # kernel` reads as 0; [`parse_int`] does the same).
//! - Lines starting with `#` (or `;`, which glib itself rejects) are comments.
//! - Escapes in values: `\s` space, `\n`, `\t`, `\r`, `\\`, and `\;` inside lists.
//! - Lists are `a;b;c` (a trailing `;` is allowed).
//! - A key outside any section, or a line that is neither, is an error.

use std::fmt;

/// Upper bound on the size of a config file we accept.
pub(crate) const MAX_FILE_BYTES: usize = 1 << 20;
/// Upper bound on one line.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Upper bound on the number of elements of one list value.
pub(crate) const MAX_LIST_ITEMS: usize = 4096;

/// A syntax error, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IniError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// One `key = value` line; `value` is raw (escapes not yet processed) and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IniEntry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A parsed file: sections in order of first appearance, each with its entries in file order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct IniFile {
    sections: Vec<(String, Vec<IniEntry>)>,
}

impl IniFile {
    /// Parse the whole text of a file.
    pub(crate) fn parse(text: &str) -> Result<IniFile, IniError> {
        if text.len() > MAX_FILE_BYTES {
            return Err(IniError {
                line: 0,
                reason: format!("file is larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut file = IniFile::default();
        let mut current: Option<usize> = None;
        for (idx, raw) in text.lines().enumerate() {
            let line_no = idx + 1;
            let err = |reason: String| IniError {
                line: line_no,
                reason,
            };
            if raw.len() > MAX_LINE_BYTES {
                return Err(err(format!("line longer than {MAX_LINE_BYTES} bytes")));
            }
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .filter(|n| !n.is_empty() && !n.contains('[') && !n.contains(']'))
                    .ok_or_else(|| err(format!("malformed section header '{line}'")))?;
                current = Some(match file.sections.iter().position(|(n, _)| n == name) {
                    Some(pos) => pos,
                    None => {
                        file.sections.push((name.to_string(), Vec::new()));
                        file.sections.len() - 1
                    }
                });
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(err(format!(
                    "'{line}' is neither a key = value pair, a [section] nor a comment"
                )));
            };
            let key = key.trim_end();
            if key.is_empty() {
                return Err(err("missing key before '='".into()));
            }
            let Some(sec) = current else {
                return Err(err(format!(
                    "key '{key}' appears before the first [section] header"
                )));
            };
            let entries = &mut file.sections[sec].1;
            let entry = IniEntry {
                key: key.to_string(),
                value: value.trim().to_string(),
                line: line_no,
            };
            // Last one wins, but keep the position of the first occurrence.
            match entries.iter_mut().find(|e| e.key == entry.key) {
                Some(old) => *old = entry,
                None => entries.push(entry),
            }
        }
        Ok(file)
    }

    /// The entries of a section, or `None` when the file has no such section.
    pub(crate) fn section(&self, name: &str) -> Option<&[IniEntry]> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.as_slice())
    }
}

/// Process escapes in a single string value.
pub(crate) fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => return Err(format!("invalid escape sequence '\\{other}'")),
            None => return Err("value ends with a lone backslash".into()),
        }
    }
    Ok(out)
}

/// Split a list value on unescaped `;` and process escapes in each element. Elements are trimmed
/// and empty ones dropped (so `a; b;` is `["a", "b"]`).
pub(crate) fn split_list(raw: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = raw.chars();
    let push = |cur: &mut String, items: &mut Vec<String>| -> Result<(), String> {
        let item = unescape(cur.trim())?;
        cur.clear();
        if !item.is_empty() {
            if items.len() >= MAX_LIST_ITEMS {
                return Err(format!("more than {MAX_LIST_ITEMS} list elements"));
            }
            items.push(item);
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            ';' => push(&mut cur, &mut items)?,
            '\\' => match chars.next() {
                Some(';') => cur.push(';'),
                Some(other) => {
                    cur.push('\\');
                    cur.push(other);
                }
                None => cur.push('\\'),
            },
            _ => cur.push(c),
        }
    }
    push(&mut cur, &mut items)?;
    Ok(items)
}

/// A boolean value: glib accepts `true`/`false`/`1`/`0`; we also accept `yes`/`no`/`on`/`off`,
/// all case-insensitively.
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// An integer the way glib reads it from a key file: decimal, optional sign, and anything after
/// the number is ignored if it starts with a blank.
pub(crate) fn parse_int(raw: &str) -> Option<i64> {
    let s = raw.trim_start();
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '+' || c == '-'))))
        .map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(end);
    if !rest.is_empty() && !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    num.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str, section: &str) -> Vec<(String, String)> {
        IniFile::parse(text)
            .unwrap()
            .section(section)
            .unwrap()
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect()
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_sections_keys_comments() {
        let text = "\u{feff}# comment\n; also a comment\n\n[rtpengine]\n  table = 0  \n\
                    interface=a;b\nmysql-query = select # not a comment\n[other]\ntable = -1\r\n";
        assert_eq!(
            entries(text, "rtpengine"),
            kv(&[
                ("table", "0"),
                ("interface", "a;b"),
                ("mysql-query", "select # not a comment")
            ])
        );
        assert_eq!(entries(text, "other"), kv(&[("table", "-1")]));
        assert!(IniFile::parse(text).unwrap().section("nope").is_none());
    }

    #[test]
    fn repeated_keys_and_sections_merge_last_wins() {
        let text = "[a]\nx = 1\ny = 2\n[b]\nx = 9\n[a]\nx = 3\n";
        assert_eq!(entries(text, "a"), kv(&[("x", "3"), ("y", "2")]));
    }

    #[test]
    fn empty_value_and_empty_section() {
        assert_eq!(entries("[a]\nk =\n", "a"), kv(&[("k", "")]));
        assert_eq!(entries("[a]\n", "a"), kv(&[]));
    }

    #[test]
    fn syntax_errors_carry_line_numbers() {
        let cases: &[(&str, usize)] = &[
            ("table = 0\n[rtpengine]\n", 1),
            ("[rtpengine]\njunk line\n", 2),
            ("[rtpengine]\n= 3\n", 2),
            ("[rtpengine\n", 1),
            ("[]\n", 1),
            ("[a]\n[b]]\n", 2),
        ];
        for (text, line) in cases {
            let err = IniFile::parse(text).unwrap_err();
            assert_eq!(err.line, *line, "{text:?}: {err}");
        }
    }

    #[test]
    fn overlong_input_is_rejected() {
        let big = "#".repeat(MAX_FILE_BYTES + 1);
        assert!(IniFile::parse(&big).is_err());
        let long_line = format!("[a]\nk = {}\n", "x".repeat(MAX_LINE_BYTES + 1));
        assert_eq!(IniFile::parse(&long_line).unwrap_err().line, 2);
    }

    #[test]
    fn unescape_table() {
        let ok: &[(&str, &str)] = &[
            ("plain", "plain"),
            ("\\sx", " x"),
            ("a\\tb\\nc\\rd", "a\tb\nc\rd"),
            ("back\\\\slash", "back\\slash"),
        ];
        for (raw, want) in ok {
            assert_eq!(unescape(raw).as_deref(), Ok(*want), "{raw}");
        }
        assert!(unescape("a\\qb").is_err());
        assert!(unescape("a\\").is_err());
    }

    #[test]
    fn split_list_table() {
        let cases: &[(&str, &[&str])] = &[
            ("a", &["a"]),
            ("a;b", &["a", "b"]),
            (
                "internal/1.2.3.4; external/5.6.7.8;",
                &["internal/1.2.3.4", "external/5.6.7.8"],
            ),
            ("a\\;b;c", &["a;b", "c"]),
            (";;", &[]),
            ("", &[]),
            ("x\\sy", &["x y"]),
        ];
        for (raw, want) in cases {
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(split_list(raw), Ok(want), "{raw}");
        }
        assert!(split_list("a;b\\q").is_err());
        let too_many = "a;".repeat(MAX_LIST_ITEMS + 1);
        assert!(split_list(&too_many).is_err());
    }

    #[test]
    fn bool_and_int_table() {
        for (raw, want) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("1", Some(true)),
            ("yes", Some(true)),
            ("false", Some(false)),
            ("0", Some(false)),
            ("off", Some(false)),
            ("maybe", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(raw), want, "{raw}");
        }
        for (raw, want) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("+42", Some(42)),
            ("30000 # ports", Some(30000)),
            ("0x10", None),
            ("12abc", None),
            ("", None),
            ("-", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(parse_int(raw), want, "{raw}");
        }
    }
}
