//! The four mmCIF categories of a message file, as typed rows of raw CIF values.
//! Conversion to database values (null rules, timestamps, content type) is the transformer's job;
//! this layer only names the columns and maps them to and from a [`Document`].

mod categories;
pub mod encoding;
mod file;

pub use categories::{FileRefRow, InfoRow, OrigcommRow, StatusRow};
pub use file::{MessageFile, UnknownContent};

#[doc(hidden)]
pub use crate::cif::{Document, Table, Value};
