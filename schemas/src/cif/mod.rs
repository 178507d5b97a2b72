//! The CIF message codec: a strict reader and a legacy-layout writer for the mmCIF subset of
//! OneDep message files. Pure and synchronous: bytes in, values out.

mod document;
mod error;
mod reader;
mod value;
mod writer;

pub use document::{Document, Table};
pub use error::{ParseError, ParseErrorKind, Position, WriteError};
pub use reader::parse;
pub use value::Value;
pub use writer::write;
