//! Strict CIF 1.1 reader for the message-file subset.
//!
//! Value rules (docs/domain.md "Exact value semantics", fixtures/cif-values): text fields keep
//! trailing spaces and tabs and lose only the line break before the closing `;`; CRLF becomes LF;
//! a quote closes a quoted value only when followed by whitespace or end of line; unquoted `?` and
//! `.` are null markers. Every malformed construct is an error with a position, never a partial
//! result (the old tools' readers padded or dropped values instead).

use super::{Document, ParseError, ParseErrorKind, Position, Table, Value};
use std::borrow::Cow;
use std::collections::HashSet;

/// Parses one message file.
///
/// Input: the raw bytes of the file (any size; a 0-byte file is "no messages yet" and should be
/// handled before calling this, as it has no data block).
/// Errors: the first problem found, with its line and column (see [`ParseErrorKind`]).
pub fn parse(bytes: &[u8]) -> Result<Document, ParseError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = e.valid_up_to();
            let prefix = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
            return Err(ParseError {
                position: Position::of_offset(prefix, good),
                kind: ParseErrorKind::InvalidUtf8(bytes[good]),
            });
        }
    };
    // CRLF → LF up front keeps every later rule single-terminator; line numbers are unchanged.
    let text: Cow<'_, str> = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    };
    Parser::new(&text).document()
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    DataBlock(&'a str),
    Loop,
    Tag(&'a str),
    Value(Value),
    Eof,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Lexer<'a> {
    fn error(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            position: Position::of_offset(self.text, offset),
            kind,
        }
    }

    fn at_line_start(&self, offset: usize) -> bool {
        offset == 0 || self.bytes[offset - 1] == b'\n'
    }

    /// Skips whitespace and comments; returns the offset of the next token.
    fn skip_blank(&mut self) {
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if is_ws(b) {
                self.pos += 1;
            } else if b == b'#' {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn next(&mut self) -> Result<(usize, Token<'a>), ParseError> {
        self.skip_blank();
        let start = self.pos;
        if start >= self.bytes.len() {
            return Ok((start, Token::Eof));
        }
        let b = self.bytes[start];
        if b == b';' && self.at_line_start(start) {
            return self.text_field(start).map(|v| (start, Token::Value(v)));
        }
        if b == b'\'' || b == b'"' {
            return self.quoted(start, b).map(|v| (start, Token::Value(v)));
        }
        let mut end = start;
        while end < self.bytes.len() && !is_ws(self.bytes[end]) {
            end += 1;
        }
        self.pos = end;
        let word = &self.text[start..end];
        if b == b'_' {
            return Ok((start, Token::Tag(word)));
        }
        let lower_prefix = |p: &str| {
            word.get(..p.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(p))
        };
        if lower_prefix("data_") {
            return Ok((start, Token::DataBlock(&word[5..])));
        }
        if word.eq_ignore_ascii_case("loop_") {
            return Ok((start, Token::Loop));
        }
        if lower_prefix("save_")
            || word.eq_ignore_ascii_case("global_")
            || word.eq_ignore_ascii_case("stop_")
        {
            return Err(self.error(start, ParseErrorKind::ReservedWord(word.to_owned())));
        }
        if matches!(b, b'$' | b'[' | b']') {
            return Err(self.error(start, ParseErrorKind::ReservedCharacter(word.to_owned())));
        }
        let value = match word {
            "?" => Value::Unknown,
            "." => Value::Inapplicable,
            _ => Value::Text(word.to_owned()),
        };
        Ok((start, Token::Value(value)))
    }

    /// `'…'` / `"…"`: closed by the quote character followed by whitespace or end of input (CIF 1.1).
    fn quoted(&mut self, start: usize, quote: u8) -> Result<Value, ParseError> {
        let mut i = start + 1;
        loop {
            match self.bytes.get(i) {
                None | Some(b'\n') => {
                    return Err(self.error(start, ParseErrorKind::UnterminatedQuote(quote as char)));
                }
                Some(&c) if c == quote && self.bytes.get(i + 1).is_none_or(|&n| is_ws(n)) => {
                    self.pos = i + 1;
                    return Ok(Value::Text(self.text[start + 1..i].to_owned()));
                }
                Some(_) => i += 1,
            }
        }
    }

    /// `;` at line start … next line starting with `;`. The value excludes the final line break.
    fn text_field(&mut self, start: usize) -> Result<Value, ParseError> {
        let body = start + 1;
        match memchr::memmem::find(&self.bytes[body..], b"\n;") {
            Some(rel) => {
                let end = body + rel;
                self.pos = end + 2;
                Ok(Value::Text(self.text[body..end].to_owned()))
            }
            None => Err(self.error(start, ParseErrorKind::UnterminatedTextField)),
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<(usize, Token<'a>)>,
    /// Line-counting cursor: (byte offset, line at that offset); offsets asked for only grow.
    line_cursor: (usize, usize),
}

/// A tag's name lower-cased without the leading `_`, and the index of the dot that splits it
/// into category and attribute (both non-empty).
struct TagName {
    name: String,
    dot: usize,
}

impl TagName {
    fn parse(tag: &str) -> Option<Self> {
        let body = tag.strip_prefix('_')?;
        let dot = body.find('.')?;
        if dot == 0 || dot + 1 == body.len() {
            return None;
        }
        // ASCII lower-casing keeps every byte offset, so `dot` still splits the lowered name.
        Some(TagName {
            name: body.to_ascii_lowercase(),
            dot,
        })
    }

    fn category(&self) -> &str {
        &self.name[..self.dot]
    }

    fn attribute(&self) -> &str {
        &self.name[self.dot + 1..]
    }
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            lexer: Lexer {
                text,
                bytes: text.as_bytes(),
                pos: 0,
            },
            peeked: None,
            line_cursor: (0, 1),
        }
    }

    fn next(&mut self) -> Result<(usize, Token<'a>), ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next(),
        }
    }

    fn peek(&mut self) -> Result<&Token<'a>, ParseError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(&self.peeked.as_ref().expect("just filled").1)
    }

    fn line_of(&mut self, offset: usize) -> usize {
        let (at, line) = self.line_cursor;
        if offset < at {
            return Position::of_offset(self.lexer.text, offset).line;
        }
        let line = line
            + self.lexer.bytes[at..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
        self.line_cursor = (offset, line);
        line
    }

    fn document(mut self) -> Result<Document, ParseError> {
        let (start, first) = self.next()?;
        let block_name = match first {
            Token::DataBlock(name) => name.to_owned(),
            _ => return Err(self.lexer.error(start, ParseErrorKind::NoDataBlock)),
        };
        let mut doc = Document {
            block_name,
            tables: Vec::new(),
        };
        let mut seen_tags: HashSet<String> = HashSet::new();
        loop {
            let (offset, token) = self.next()?;
            match token {
                Token::Eof => return Ok(doc),
                Token::DataBlock(name) => {
                    return Err(self.lexer.error(
                        offset,
                        ParseErrorKind::MultipleDataBlocks(format!("data_{name}")),
                    ));
                }
                Token::Value(v) => {
                    let shown = v.as_literal().chars().take(40).collect();
                    return Err(self
                        .lexer
                        .error(offset, ParseErrorKind::ValueWithoutTag(shown)));
                }
                Token::Tag(tag) => self.pair(&mut doc, &mut seen_tags, offset, tag)?,
                Token::Loop => self.loop_(&mut doc, &mut seen_tags, offset)?,
            }
        }
    }

    /// The tag's parts, refused when malformed or already in `seen`; the caller records it in
    /// `seen` once taken.
    fn check_tag(
        &self,
        seen: &HashSet<String>,
        offset: usize,
        tag: &str,
    ) -> Result<TagName, ParseError> {
        let parts = TagName::parse(tag).ok_or_else(|| {
            self.lexer
                .error(offset, ParseErrorKind::MalformedTag(tag.to_owned()))
        })?;
        if seen.contains(&parts.name) {
            return Err(self
                .lexer
                .error(offset, ParseErrorKind::DuplicateTag(tag.to_owned())));
        }
        Ok(parts)
    }

    fn pair(
        &mut self,
        doc: &mut Document,
        seen: &mut HashSet<String>,
        offset: usize,
        tag: &str,
    ) -> Result<(), ParseError> {
        let tag_name = self.check_tag(seen, offset, tag)?;
        let category = tag_name.category();
        let (value_offset, token) = self.next()?;
        let value = match token {
            Token::Value(v) => v,
            _ => {
                return Err(self
                    .lexer
                    .error(offset, ParseErrorKind::MissingValue(tag.to_owned())))
            }
        };
        let line = self.line_of(value_offset);
        let table = match doc.tables.iter_mut().position(|t| t.category == category) {
            Some(i) => &mut doc.tables[i],
            None => {
                doc.tables.push(Table {
                    category: category.to_owned(),
                    rows: vec![Vec::new()],
                    row_lines: vec![line],
                    ..Table::default()
                });
                doc.tables.last_mut().expect("just pushed")
            }
        };
        if table.is_loop {
            return Err(self.lexer.error(
                offset,
                ParseErrorKind::MixedCategoryForms(category.to_owned()),
            ));
        }
        table.attributes.push(tag_name.attribute().to_owned());
        table.rows[0].push(value);
        seen.insert(tag_name.name);
        Ok(())
    }

    fn loop_(
        &mut self,
        doc: &mut Document,
        seen: &mut HashSet<String>,
        loop_offset: usize,
    ) -> Result<(), ParseError> {
        let mut category: Option<String> = None;
        let mut attributes = Vec::new();
        while let Token::Tag(_) = self.peek()? {
            let (offset, Token::Tag(tag)) = self.next()? else {
                unreachable!("peeked a tag")
            };
            let tag_name = self.check_tag(seen, offset, tag)?;
            let cat = tag_name.category();
            match &category {
                None => category = Some(cat.to_owned()),
                // One loop holds one category in mmCIF; a second one is a malformed file.
                Some(c) if *c != cat => {
                    return Err(self
                        .lexer
                        .error(offset, ParseErrorKind::MalformedTag(tag.to_owned())));
                }
                Some(_) => {}
            }
            attributes.push(tag_name.attribute().to_owned());
            seen.insert(tag_name.name);
        }
        let Some(category) = category else {
            return Err(self.lexer.error(loop_offset, ParseErrorKind::EmptyLoop));
        };
        if doc.tables.iter().any(|t| t.category == category) {
            return Err(self
                .lexer
                .error(loop_offset, ParseErrorKind::MixedCategoryForms(category)));
        }
        let width = attributes.len();
        let mut values = Vec::new();
        let mut value_offsets = Vec::new();
        while let Token::Value(_) = self.peek()? {
            let (offset, Token::Value(v)) = self.next()? else {
                unreachable!("peeked a value")
            };
            values.push(v);
            value_offsets.push(offset);
        }
        if values.len() % width != 0 {
            return Err(self.lexer.error(
                loop_offset,
                ParseErrorKind::LoopValueCount {
                    tags: width,
                    values: values.len(),
                },
            ));
        }
        let row_lines = value_offsets
            .iter()
            .step_by(width)
            .map(|&o| self.line_of(o))
            .collect::<Vec<_>>();
        let mut rows = Vec::with_capacity(values.len() / width);
        let mut iter = values.into_iter();
        loop {
            let row: Vec<Value> = iter.by_ref().take(width).collect();
            if row.is_empty() {
                break;
            }
            rows.push(row);
        }
        doc.tables.push(Table {
            category,
            attributes,
            rows,
            row_lines,
            is_loop: true,
        });
        Ok(())
    }
}
