//! Legacy-layout CIF writer (docs/domain.md "Formatting observed in the samples").
//!
//! Output that the old application, our reader and gemmi all read back value for value:
//! `data_<name>`, `# ` before each category and at the end, key/value form for one-row
//! categories with tags padded to one column, `loop_` otherwise, multi-line values as text fields.
//! Unlike the old exporter every value is quoted by the CIF 1.1 rules, so empty strings,
//! values starting with `_ # $ ' " ; [ ]` and reserved words stay parseable.

use super::{Document, Table, Value, WriteError};

/// Serialises a document in the legacy layout.
///
/// Errors: a value that CIF 1.1 cannot carry unchanged ([`WriteError`]); nothing is altered
/// silently. Output is LF-only UTF-8 and ends with `# \n`.
pub fn write(doc: &Document) -> Result<String, WriteError> {
    let mut out = String::with_capacity(4096);
    out.push_str("data_");
    out.push_str(&doc.block_name);
    out.push('\n');
    for table in &doc.tables {
        out.push_str("# \n");
        if table.rows.len() == 1 && !table.is_loop {
            write_pairs(&mut out, table)?;
        } else {
            write_loop(&mut out, table)?;
        }
    }
    out.push_str("# \n");
    Ok(out)
}

fn tag_of(table: &Table, attribute: &str) -> String {
    format!("_{}.{}", table.category, attribute)
}

fn write_pairs(out: &mut String, table: &Table) -> Result<(), WriteError> {
    let width = table
        .attributes
        .iter()
        .map(|a| a.len() + table.category.len() + 2)
        .max()
        .unwrap_or(0)
        + 3;
    for (attribute, value) in table.attributes.iter().zip(&table.rows[0]) {
        let tag = tag_of(table, attribute);
        match format_value(value, &tag)? {
            Formatted::Inline(text) => {
                out.push_str(&format!("{tag:<width$}{text} \n"));
            }
            Formatted::TextField(text) => {
                out.push_str(&format!("{tag:<width$}\n;{text}\n;\n"));
            }
        }
    }
    Ok(())
}

fn write_loop(out: &mut String, table: &Table) -> Result<(), WriteError> {
    out.push_str("loop_\n");
    for attribute in &table.attributes {
        out.push_str(&tag_of(table, attribute));
        out.push_str(" \n");
    }
    for row in &table.rows {
        let mut line_open = false;
        for (attribute, value) in table.attributes.iter().zip(row) {
            match format_value(value, &tag_of(table, attribute))? {
                Formatted::Inline(text) => {
                    out.push_str(&text);
                    out.push(' ');
                    line_open = true;
                }
                Formatted::TextField(text) => {
                    if line_open {
                        out.push('\n');
                    }
                    out.push(';');
                    out.push_str(&text);
                    out.push_str("\n;\n");
                    line_open = false;
                }
            }
        }
        if line_open {
            out.push('\n');
        }
    }
    Ok(())
}

enum Formatted {
    /// A token for the current line (bare or quoted).
    Inline(String),
    /// The content of a `;` text field.
    TextField(String),
}

/// `true` when `s` can be written without quotes (CIF 1.1 §2.2.7.1 rules for unquoted strings).
fn can_be_bare(s: &str) -> bool {
    let Some(first) = s.bytes().next() else {
        return false;
    };
    if matches!(
        first,
        b'_' | b'#' | b'$' | b'\'' | b'"' | b';' | b'[' | b']'
    ) {
        return false;
    }
    // CIF 1.1 unquoted strings are printable ASCII only (gemmi rejects anything else bare).
    if s == "?" || s == "." || !s.chars().all(|c| c.is_ascii_graphic()) {
        return false;
    }
    // Reserved words are exact tokens in CIF 1.1, but gemmi also takes a word that merely starts
    // with one (`stop_#`) as the keyword: quote every value with a reserved prefix.
    let lower = s.to_ascii_lowercase();
    !["data_", "save_", "loop_", "global_", "stop_"]
        .iter()
        .any(|w| lower.starts_with(w))
}

/// `true` when `quote` + `s` + `quote` reads back as `s` in every reader: no quote char followed
/// by whitespace inside (CIF 1.1), nor by `#` (gemmi ends the value there), and `s` does not end
/// with the quote char.
fn can_quote_with(s: &str, quote: char) -> bool {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == quote {
            match chars.peek() {
                None => return false,
                Some(n) if n.is_whitespace() || *n == '#' => return false,
                _ => {}
            }
        }
    }
    true
}

fn format_value(value: &Value, tag: &str) -> Result<Formatted, WriteError> {
    let s = match value {
        Value::Unknown => return Ok(Formatted::Inline("?".into())),
        Value::Inapplicable => return Ok(Formatted::Inline(".".into())),
        Value::Text(s) => s,
    };
    if s.contains('\r') {
        return Err(WriteError::CarriageReturn { tag: tag.into() });
    }
    if s.contains('\n') {
        if s.contains("\n;") {
            return Err(WriteError::SemicolonLine { tag: tag.into() });
        }
        return Ok(Formatted::TextField(s.clone()));
    }
    if can_be_bare(s) {
        return Ok(Formatted::Inline(s.clone()));
    }
    for quote in ['\'', '"'] {
        if can_quote_with(s, quote) {
            return Ok(Formatted::Inline(format!("{quote}{s}{quote}")));
        }
    }
    // Neither quote works: a one-line text field carries anything (its first line may even
    // start with `;`, since the opening `;` is the delimiter).
    Ok(Formatted::TextField(s.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_values_exclude_cif_specials() {
        for s in [
            "", "?", ".", "_x", "#x", "$x", "'x", "\"x", ";x", "[x", "]x", "a b", "a\tb", "é",
            "x\u{7f}", "data_x", "LOOP_", "save_a", "stop_", "stop_#", "loop_x", "global_",
        ] {
            assert!(!can_be_bare(s), "{s:?} must be quoted");
        }
        for s in [
            "abc",
            "x_y",
            "a#b",
            "a'b",
            "D_000219",
            "2022-08-09",
            "xloop_",
        ] {
            assert!(can_be_bare(s), "{s:?} can stay bare");
        }
    }

    #[test]
    fn quotes_are_chosen_so_the_value_reads_back() {
        assert!(can_quote_with("it's", '\''));
        assert!(!can_quote_with("it' s", '\''));
        assert!(!can_quote_with("ends'", '\''));
        assert!(
            !can_quote_with("x'#y", '\''),
            "gemmi reads '#' after a quote as a comment"
        );
        assert!(can_quote_with("it' s", '"'));
    }
}
