//! Errors of the CIF reader and writer, with the position a curator needs to find the problem.

use std::fmt;

/// A position in a CIF file: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    /// 1-based line number (a CRLF counts as one line break).
    pub line: usize,
    /// 1-based column, in Unicode scalar values from the start of the line.
    pub column: usize,
}

impl Position {
    /// Computes the position of byte `offset` in `text` (slow path: only used to report errors).
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a file is not valid input for msgmig (docs/domain.md "Corrupt input": every class is strict).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ParseErrorKind {
    /// The bytes are not UTF-8 (the legacy C++ reader silently dropped such bytes).
    #[error("invalid UTF-8 byte 0x{0:02x}")]
    InvalidUtf8(u8),
    /// No `data_` block header before the first item (includes whitespace/comment-only files).
    #[error("no data block: expected `data_<name>` before any item")]
    NoDataBlock,
    /// A second `data_` block: the legacy readers silently ignored it.
    #[error("second data block `{0}`: a message file holds exactly one")]
    MultipleDataBlocks(String),
    /// A text field opened with `;` at line start was never closed.
    #[error("unterminated text field (no closing `;` at the start of a later line)")]
    UnterminatedTextField,
    /// A quoted value reached the end of its line without a closing quote.
    #[error("unterminated {0}-quoted value")]
    UnterminatedQuote(char),
    /// A loop whose value count is not a multiple of its tag count.
    #[error("loop of {tags} tags has {values} values, not a multiple of {tags}")]
    LoopValueCount { tags: usize, values: usize },
    /// A `loop_` without any tag after it.
    #[error("loop_ without tags")]
    EmptyLoop,
    /// A tag appears twice in the block (legacy readers kept the first or the last, silently).
    #[error("duplicate tag {0}")]
    DuplicateTag(String),
    /// A key/value tag not followed by a value.
    #[error("tag {0} has no value")]
    MissingValue(String),
    /// A value where a tag, `loop_` or block header was expected.
    #[error("value `{0}` without a tag")]
    ValueWithoutTag(String),
    /// `save_`, `global_`, `stop_` or another construct outside the message subset.
    #[error("unsupported reserved word `{0}`")]
    ReservedWord(String),
    /// A tag without the `_category.attribute` shape of mmCIF.
    #[error("malformed tag `{0}`: expected _category.attribute")]
    MalformedTag(String),
    /// An unquoted value starting with a character CIF reserves (`$`, `[`, `]`).
    #[error("unquoted value `{0}` starts with a reserved character")]
    ReservedCharacter(String),
    /// A category written both as key/value pairs and as a loop.
    #[error("category {0} appears both as key/value pairs and as a loop")]
    MixedCategoryForms(String),
}

/// A parse failure with its position ("report (file, line, column, reason)").
/// The file path is added by the caller, which knows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{position}: {kind}")]
pub struct ParseError {
    /// Where the problem starts (for unterminated constructs: where they were opened).
    pub position: Position,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// A value the writer cannot represent in CIF 1.1 without altering it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A multi-line value with a line that starts with `;` (it would close the text field).
    /// The legacy application rewrites such lines to start with ` ;`; callers that
    /// want that must do it explicitly and report it.
    #[error("value of {tag} has a line starting with `;`, which CIF text fields cannot hold")]
    SemicolonLine { tag: String },
    /// A carriage return inside a value: the reader normalises CRLF to LF, so it would not round-trip.
    #[error("value of {tag} contains a carriage return")]
    CarriageReturn { tag: String },
}
