//! How text is stored, following the OneDep application (the reference for values):
//!
//! - **Non-ASCII in a file is stored as the application's file reader gives it**: the reader
//!   (`mmcif_utils.message.PdbxMessageIo` on the C++ `mmcif` parser) re-encodes a file to ASCII
//!   before parsing, every non-ASCII code point becoming a decimal character reference
//!   (`Å` → `&#197;`, an astral character as one reference: `🧬` → `&#129516;`). The legacy files
//!   carry non-ASCII that way already, and the application decodes references on display.
//!   [`to_character_references`].
//! - **`\uXXXX` escapes are decoded where the application's own migrator decodes them**: its
//!   database dump (`dump_db_to_cif.py`) writes non-ASCII of subjects and texts as `\uXXXX` (UTF-16
//!   units, an astral character as a surrogate pair), and its migrator
//!   (`scripts/migrate_cif_to_db.py`, `unescape_non_ascii`) decodes them back, in subjects and
//!   texts only. The dump writes no marker, but it writes with gemmi, whose files have no `#`
//!   line, while the legacy application's files always do: [`written_by_the_app_dump`]. The
//!   decoded characters are stored as they are (the database held them so before the dump).
//!   The dump does not escape a backslash, so a genuine `\u0041` in a dumped text cannot be told
//!   from an escape: it is decoded, as the application's migrator does. In any other file a
//!   backslash-u is text. [`decode_unicode_escapes`].

use std::borrow::Cow;

/// `s` with every non-ASCII character as a decimal character reference (`&#NNN;`), as the
/// application's file reader gives it. ASCII (including `&`) is unchanged.
pub fn to_character_references(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("&#{};", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Whether a message file was written by the application's database dump rather than by the
/// legacy application: it has no comment line (a line starting with `#` outside a text field;
/// gemmi writes none, the legacy writer starts every category and ends every file with one).
/// An empty file is neither.
pub fn written_by_the_app_dump(bytes: &[u8]) -> bool {
    let mut in_text_field = false;
    for line in bytes.split(|&b| b == b'\n') {
        match line.first() {
            // A text field opens and closes with a line starting with `;` (CIF 1.1).
            Some(b';') => in_text_field = !in_text_field,
            Some(b'#') if !in_text_field => return false,
            _ => {}
        }
    }
    !bytes.is_empty()
}

/// What to do with `\uXXXX` escapes in subjects and texts (`--unicode-escapes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnicodeEscapes {
    /// Decode them in files the application's dump wrote ([`written_by_the_app_dump`]).
    #[default]
    Auto,
    /// Decode them in every file.
    Decode,
    /// Keep them as text everywhere.
    Keep,
}

impl UnicodeEscapes {
    /// Whether escapes in a file with these bytes are decoded.
    pub fn decodes(self, bytes: &[u8]) -> bool {
        match self {
            UnicodeEscapes::Auto => written_by_the_app_dump(bytes),
            UnicodeEscapes::Decode => true,
            UnicodeEscapes::Keep => false,
        }
    }
}

impl std::str::FromStr for UnicodeEscapes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(UnicodeEscapes::Auto),
            "decode" => Ok(UnicodeEscapes::Decode),
            "keep" => Ok(UnicodeEscapes::Keep),
            other => Err(format!("{other:?}: expected auto, decode or keep")),
        }
    }
}

/// `s` with each `\u` + 4 hex digits replaced by that UTF-16 unit, surrogate pairs joined, as the
/// application's migrator decodes its dump. Anything else (`\x…`, a backslash not followed by
/// `u` and 4 hex digits) stays as written.
///
/// Errors: a lone surrogate (a high one not followed by a low one, or a low one alone): it has
/// no character, and the database would refuse it; the caller quarantines the deposition.
pub fn decode_unicode_escapes(s: &str) -> Result<Cow<'_, str>, String> {
    if !s.contains("\\u") {
        return Ok(Cow::Borrowed(s));
    }
    let bytes = s.as_bytes();
    let unit_at = |i: usize| -> Option<u16> {
        if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') {
            let hex = s.get(i + 2..i + 6)?;
            if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return u16::from_str_radix(hex, 16).ok();
            }
        }
        None
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let Some(unit) = unit_at(i) else {
            let c = s[i..].chars().next().expect("i is on a char boundary");
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        match unit {
            0xD800..=0xDBFF => match unit_at(i + 6) {
                Some(low @ 0xDC00..=0xDFFF) => {
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    out.push(char::from_u32(code).expect("a surrogate pair is a character"));
                    i += 12;
                }
                _ => {
                    return Err(format!(
                        "\\u{unit:04x} at byte {i} is half of a surrogate pair"
                    ))
                }
            },
            0xDC00..=0xDFFF => {
                return Err(format!(
                    "\\u{unit:04x} at byte {i} is half of a surrogate pair"
                ))
            }
            _ => {
                out.push(char::from_u32(u32::from(unit)).expect("not a surrogate"));
                i += 6;
            }
        }
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_becomes_decimal_references_as_the_app_reader_gives_it() {
        assert_eq!(
            to_character_references("Ångström café 🧬"),
            "&#197;ngstr&#246;m caf&#233; &#129516;"
        );
        assert_eq!(
            to_character_references("plain &#197; & text"),
            "plain &#197; & text"
        );
    }

    #[test]
    fn the_dump_escapes_decode_as_the_app_migrator_decodes_them() {
        let d = |s: &str| decode_unicode_escapes(s).map(|c| c.into_owned());
        assert_eq!(d("caf\\u00e9").unwrap(), "café");
        assert_eq!(
            d("\\ud83e\\uddec").unwrap(),
            "🧬",
            "a surrogate pair is one character"
        );
        assert_eq!(
            d("\\\\u00e9").unwrap(),
            "\\é",
            "the dump does not escape backslashes"
        );
        assert_eq!(
            d("\\xe9 \\U0001f9ec \\u00zz").unwrap(),
            "\\xe9 \\U0001f9ec \\u00zz",
            "only \\u + 4 hex digits"
        );
        assert!(d("\\ud83e alone").is_err(), "a lone high surrogate");
        assert!(d("\\udc00").is_err(), "a lone low surrogate");
    }

    #[test]
    fn a_file_without_comment_lines_is_the_dump() {
        assert!(written_by_the_app_dump(
            b"data_messages\n\n_pdbx_deposition_message_info.message_id x\n"
        ));
        assert!(!written_by_the_app_dump(
            b"data_messages\n# \n_pdbx_deposition_message_info.message_id x\n# \n"
        ));
        assert!(!written_by_the_app_dump(b""));
        assert!(
            written_by_the_app_dump(b"data_messages\n_x.t\n;# a heading in a text\n;\n"),
            "a `#` inside a text field is text"
        );
    }
}

/// A `\uXXXX` escape that decodes to no character (see [`decode_unicode_escapes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadEscape {
    /// 1-based line of the row holding the value.
    pub line: usize,
    /// `category.attribute`.
    pub item: String,
    pub reason: String,
}

/// Applies the application's text rules to every value of a parsed message file, in place:
/// non-ASCII as character references ([`to_character_references`]); then, with `decode`, the
/// `\uXXXX` escapes of message subjects and texts ([`decode_unicode_escapes`]).
///
/// Errors: the first escape that decodes to no character.
pub fn apply_app_text_rules(doc: &mut crate::cif::Document, decode: bool) -> Result<(), BadEscape> {
    use crate::cif::Value;
    for table in &mut doc.tables {
        let escaped: Vec<bool> = table
            .attributes
            .iter()
            .map(|a| {
                decode
                    && table.category == "pdbx_deposition_message_info"
                    && (a == "message_subject" || a == "message_text")
            })
            .collect();
        for (row, line) in table.rows.iter_mut().zip(&table.row_lines) {
            for (i, value) in row.iter_mut().enumerate() {
                let Value::Text(s) = value else { continue };
                if let Cow::Owned(referenced) = to_character_references(s) {
                    *s = referenced;
                }
                if escaped[i] {
                    match decode_unicode_escapes(s) {
                        Ok(Cow::Owned(decoded)) => *s = decoded,
                        Ok(Cow::Borrowed(_)) => {}
                        Err(reason) => {
                            return Err(BadEscape {
                                line: *line,
                                item: format!("{}.{}", table.category, table.attributes[i]),
                                reason,
                            })
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
