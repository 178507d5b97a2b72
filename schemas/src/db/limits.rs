//! The widths of the app tables' text columns, as MySQL counts them: the one place the loader's
//! inputs are checked against. VARCHAR and CHAR hold characters, TEXT and
//! LONGTEXT hold bytes (MySQL 8.4 reference, "String Data Type Storage Requirements").
//!
//! The DDL in this module's migrations says the same; `loader/tests/schema_limits.rs` compares
//! this table with `information_schema.COLUMNS` of a MariaDB database the migrations created,
//! column by column, both ways.

/// How much a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// VARCHAR(n), CHAR(n): characters.
    Chars(usize),
    /// TEXT (65,535), LONGTEXT (4,294,967,295): bytes.
    Bytes(usize),
}

impl Limit {
    /// `Some(reason)` ("sender has 151 characters, the column holds 150") when `s` does not
    /// fit a column of this limit named `column`; `None` when it fits.
    pub fn refuses(self, column: &str, s: &str) -> Option<String> {
        match self {
            Limit::Chars(n) if s.chars().count() > n => Some(format!(
                "{column} has {} characters, the column holds {n}",
                s.chars().count()
            )),
            Limit::Bytes(n) if s.len() > n => Some(format!(
                "{column} has {} bytes, the column holds {n}",
                s.len()
            )),
            _ => None,
        }
    }
}

/// `pdbx_deposition_message_info`.
pub const INFO: &str = "pdbx_deposition_message_info";
/// `pdbx_deposition_message_file_reference`.
pub const FILE_REFERENCE: &str = "pdbx_deposition_message_file_reference";
/// `pdbx_deposition_message_status`.
pub const STATUS: &str = "pdbx_deposition_message_status";
/// `pdbx_deposition_message_origcomm_reference`.
pub const ORIGCOMM: &str = "pdbx_deposition_message_origcomm_reference";

const TEXT: Limit = Limit::Bytes(65_535);
const LONGTEXT: Limit = Limit::Bytes(4_294_967_295);

/// Every text column of the app tables: (table, column, limit). `content_type` of the info table
/// is an ENUM of the three content types, which the file name decides (never free text).
pub const COLUMNS: &[(&str, &str, Limit)] = &[
    (INFO, "message_id", Limit::Chars(64)),
    (INFO, "deposition_data_set_id", Limit::Chars(50)),
    (INFO, "sender", Limit::Chars(150)),
    (INFO, "context_type", Limit::Chars(50)),
    (INFO, "context_value", Limit::Chars(255)),
    (INFO, "parent_message_id", Limit::Chars(64)),
    (INFO, "message_subject", TEXT),
    (INFO, "message_text", LONGTEXT),
    (INFO, "message_type", Limit::Chars(20)),
    (INFO, "send_status", Limit::Chars(1)),
    (FILE_REFERENCE, "message_id", Limit::Chars(64)),
    (FILE_REFERENCE, "deposition_data_set_id", Limit::Chars(50)),
    (FILE_REFERENCE, "content_type", Limit::Chars(50)),
    (FILE_REFERENCE, "content_format", Limit::Chars(20)),
    (FILE_REFERENCE, "storage_type", Limit::Chars(20)),
    (FILE_REFERENCE, "upload_file_name", Limit::Chars(255)),
    (STATUS, "message_id", Limit::Chars(64)),
    (STATUS, "deposition_data_set_id", Limit::Chars(50)),
    (STATUS, "read_status", Limit::Chars(1)),
    (STATUS, "action_reqd", Limit::Chars(1)),
    (STATUS, "for_release", Limit::Chars(1)),
    (ORIGCOMM, "message_id", Limit::Chars(64)),
    (ORIGCOMM, "deposition_data_set_id", Limit::Chars(50)),
    (ORIGCOMM, "orig_message_id", Limit::Chars(255)),
    (ORIGCOMM, "orig_deposition_data_set_id", Limit::Chars(50)),
    (ORIGCOMM, "orig_timestamp", Limit::Chars(64)),
    (ORIGCOMM, "orig_sender", TEXT),
    (ORIGCOMM, "orig_recipient", TEXT),
    (ORIGCOMM, "orig_message_subject", TEXT),
    (ORIGCOMM, "orig_attachments", TEXT),
];

/// The limit of `table.column`. Panics on a column that is not in [`COLUMNS`] (a programming
/// error the transformer's tests catch).
pub fn of(table: &str, column: &str) -> Limit {
    COLUMNS
        .iter()
        .find(|(t, c, _)| *t == table && *c == column)
        .map(|(_, _, l)| *l)
        .unwrap_or_else(|| panic!("{table}.{column} is not a text column of the app tables"))
}

/// The longest folder id the bookkeeping tables and `deposition_data_set_id` hold.
pub const DEPOSITION_ID_CHARS: usize = 50;

/// MySQL's DATETIME range ('1000-01-01 00:00:00' to '9999-12-31 23:59:59', seconds 0–59):
/// MySQL 8.4 reference, "The DATE, DATETIME, and TIMESTAMP Types".
pub fn datetime_fits(t: &chrono::NaiveDateTime) -> bool {
    use chrono::{Datelike, Timelike};
    (1000..=9999).contains(&t.year()) && t.nanosecond() < 1_000_000_000 && t.second() <= 59
}
