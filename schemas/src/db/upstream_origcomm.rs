//! The other layout of `pdbx_deposition_message_origcomm_reference`: the one the upstream
//! branch's init script creates (DAOTHER-10246, unmerged). The table name is
//! theirs, so a site database may already hold it with their column types; msgmig then writes
//! to it as it is instead of reporting drift.
//!
//! What differs from msgmig's own layout ([`super::limits`]): `orig_timestamp` is a DATETIME
//! (msgmig keeps the archived e-mail's text), `orig_message_id` holds 64 characters (255),
//! `orig_sender` 255 and `orig_recipient` 500 characters (TEXT), and there are indexes on
//! `orig_timestamp` and `ordinal_id`. A value the upstream layout cannot hold exactly (a longer
//! text, a timestamp that a DATETIME would store differently) is refused before it is written,
//! whatever the server's `sql_mode`: non-strict servers truncate in silence.

use super::limits::{Limit, ORIGCOMM};

/// The upstream branch's DDL (MySQL/MariaDB), column for column as docs/domain.md gives it. Index
/// names are not known from upstream: schema comparison matches this table's indexes by their
/// columns, not their names.
pub const DDL: &str = "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_origcomm_reference (
    ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(64) NOT NULL,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    orig_message_id VARCHAR(64) NULL,
    orig_deposition_data_set_id VARCHAR(50) NULL,
    orig_timestamp DATETIME NULL,
    orig_sender VARCHAR(255) NULL,
    orig_recipient VARCHAR(500) NULL,
    orig_message_subject TEXT NULL,
    orig_attachments TEXT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_origcomm_message_id (message_id),
    INDEX idx_origcomm_deposition_id (deposition_data_set_id),
    INDEX idx_origcomm_orig_timestamp (orig_timestamp),
    INDEX idx_origcomm_ordinal_id (ordinal_id),
    FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci";

/// The table's name (the same in both layouts).
pub const TABLE: &str = ORIGCOMM;

/// Which layout a database's origcomm table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrigcommLayout {
    /// msgmig's migration: every value kept as the file's text.
    #[default]
    Msgmig,
    /// The upstream branch's: `orig_timestamp` DATETIME and narrower VARCHARs ([`DDL`]).
    Upstream,
}

impl OrigcommLayout {
    /// Decided by the type of `orig_timestamp` as the server's catalogue reports it
    /// (`information_schema.COLUMNS.DATA_TYPE`): `datetime` is the upstream layout.
    pub fn from_timestamp_type(data_type: &str) -> Self {
        if data_type.eq_ignore_ascii_case("datetime") {
            OrigcommLayout::Upstream
        } else {
            OrigcommLayout::Msgmig
        }
    }

    /// How the layout is named to people (`db status`, logs).
    pub fn describe(self) -> &'static str {
        match self {
            OrigcommLayout::Msgmig => "msgmig's layout",
            OrigcommLayout::Upstream => {
                "the upstream branch's layout (DAOTHER-10246: orig_timestamp DATETIME)"
            }
        }
    }
}

/// The widths of the upstream layout's text columns (characters), by column name.
const UPSTREAM_CHARS: &[(&str, usize)] = &[
    ("deposition_data_set_id", 50),
    ("orig_message_id", 64),
    ("orig_deposition_data_set_id", 50),
    ("orig_sender", 255),
    ("orig_recipient", 500),
];

/// The limit of `column` in the upstream layout (the columns it shares with msgmig's layout
/// keep msgmig's limit). Panics on a column that is not an origcomm text column.
pub fn upstream_limit(column: &str) -> Limit {
    UPSTREAM_CHARS
        .iter()
        .find(|(c, _)| *c == column)
        .map(|(_, n)| Limit::Chars(*n))
        .unwrap_or_else(|| super::limits::of(ORIGCOMM, column))
}

/// Whether `text` is a timestamp a DATETIME column stores and gives back unchanged: exactly
/// `YYYY-MM-DD HH:MM:SS` (zero-padded, no fraction, no zone), a real date, inside MySQL's
/// DATETIME range. Anything else ("2022-8-8 17:50:03", an RFC 2822 date) would be rewritten or
/// refused by the server.
pub fn datetime_round_trips(text: &str) -> bool {
    const FORMAT: &str = "%Y-%m-%d %H:%M:%S";
    chrono::NaiveDateTime::parse_from_str(text, FORMAT)
        .is_ok_and(|t| super::limits::datetime_fits(&t) && t.format(FORMAT).to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_timestamps_round_trip_through_datetime() {
        assert!(datetime_round_trips("2022-08-08 17:50:03"));
        assert!(datetime_round_trips("1000-01-01 00:00:00"));
        for refused in [
            "2022-8-8 17:50:03",
            "2022-08-08T17:50:03",
            "2022-08-08 17:50:03.5",
            "2022-08-08 17:50",
            "2022-02-30 10:00:00",
            "0999-12-31 23:59:59",
            "Mon, 08 Aug 2022 17:50:03 +0000",
            " 2022-08-08 17:50:03",
            "",
        ] {
            assert!(!datetime_round_trips(refused), "{refused:?}");
        }
    }

    #[test]
    fn layout_follows_the_timestamp_type() {
        assert_eq!(
            OrigcommLayout::from_timestamp_type("DATETIME"),
            OrigcommLayout::Upstream
        );
        assert_eq!(
            OrigcommLayout::from_timestamp_type("varchar"),
            OrigcommLayout::Msgmig
        );
        assert_eq!(upstream_limit("orig_sender"), Limit::Chars(255));
        assert_eq!(upstream_limit("orig_attachments"), Limit::Bytes(65_535));
    }
}
