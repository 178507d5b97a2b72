//! The largest row the database server takes, and what a message's row weighs against it:
//! a message that cannot fit in one packet is quarantined with its size and the
//! limit (`row_too_large`), never sent to be refused (MySQL error 1153, or a dropped connection
//! that would read as an outage and be retried forever).

use crate::columns::info_values;
use crate::sql::value_len;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::MessageRecord;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// SQLite's largest string or blob (`SQLITE_MAX_LENGTH`, its compiled-in default of 10^9
/// bytes: <https://www.sqlite.org/limits.html>).
pub const SQLITE_MAX_LENGTH: usize = 1_000_000_000;

/// Room in a packet beside the row's values: the statement id, flags, null bitmap and types of
/// COM_STMT_EXECUTE, and a length prefix per value (MySQL client/server protocol).
const PACKET_OVERHEAD: usize = 4096;

/// The largest packet the server accepts, in bytes: MySQL's `@@max_allowed_packet` (16 MiB on
/// MariaDB 10.11's default, 64 MiB on MySQL 8's), or [`SQLITE_MAX_LENGTH`] on SQLite.
pub async fn packet_limit<C: ConnectionTrait>(conn: &C) -> Result<usize, DbErr> {
    match conn.get_database_backend() {
        DbBackend::MySql => {
            let row = conn
                .query_one_raw(Statement::from_string(
                    DbBackend::MySql,
                    "SELECT CAST(@@max_allowed_packet AS SIGNED)",
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("no answer to SELECT @@max_allowed_packet".into()))?;
            let bytes: i64 = row.try_get_by_index(0)?;
            Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
        }
        _ => Ok(SQLITE_MAX_LENGTH),
    }
}

/// Bytes the message's info row takes in one insert or update packet (its values plus
/// protocol overhead). The other tables' rows are small (bounded VARCHARs).
pub fn row_bytes(record: &MessageRecord) -> usize {
    info_values(record).iter().map(value_len).sum::<usize>() + PACKET_OVERHEAD
}

/// The reason a record is refused when its row exceeds `limit`, or `None` when it fits.
pub fn too_large(record: &MessageRecord, limit: usize) -> Option<String> {
    let size = row_bytes(record);
    (size > limit).then(|| {
        format!(
            "message {} needs a {size}-byte packet; the database server takes at most {limit} bytes (max_allowed_packet)",
            record.message.message_id
        )
    })
}

/// The layout of the database's origcomm table: the upstream branch's when its `orig_timestamp`
/// is a DATETIME, msgmig's otherwise, and always msgmig's on SQLite.
pub async fn origcomm_layout<C: ConnectionTrait>(conn: &C) -> Result<OrigcommLayout, DbErr> {
    if conn.get_database_backend() != DbBackend::MySql {
        return Ok(OrigcommLayout::Msgmig);
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'pdbx_deposition_message_origcomm_reference' AND COLUMN_NAME = 'orig_timestamp'",
        ))
        .await?;
    let data_type: Option<String> = row.map(|r| r.try_get_by_index(0)).transpose()?;
    Ok(data_type.map_or(OrigcommLayout::Msgmig, |t| {
        OrigcommLayout::from_timestamp_type(&t)
    }))
}

/// The reason `record`'s origcomm rows cannot be stored exactly in a table of `layout`, or
/// `None`. msgmig's layout holds whatever the transformer passed; the upstream layout is
/// narrower ([`upstream_origcomm`]) and its DATETIME keeps only canonical timestamps (`?` is
/// stored as NULL). Checked here rather than left to the server: a server without strict
/// `sql_mode` would truncate or rewrite the value in silence.
///
/// [`upstream_origcomm`]: msgmig_schemas::db::upstream_origcomm
pub fn unfit_for_origcomm(record: &MessageRecord, layout: OrigcommLayout) -> Option<String> {
    use msgmig_schemas::db::upstream_origcomm::{datetime_round_trips, upstream_limit};
    if layout == OrigcommLayout::Msgmig {
        return None;
    }
    record.origcomm.iter().find_map(|o| {
        let texts = [
            ("deposition_data_set_id", &o.deposition_data_set_id),
            ("orig_message_id", &o.orig_message_id),
            ("orig_deposition_data_set_id", &o.orig_deposition_data_set_id),
            ("orig_sender", &o.orig_sender),
            ("orig_recipient", &o.orig_recipient),
            ("orig_message_subject", &o.orig_message_subject),
            ("orig_attachments", &o.orig_attachments),
        ];
        texts
            .iter()
            .find_map(|(column, value)| {
                upstream_limit(column).refuses(&format!("origcomm.{column}"), value)
            })
            .or_else(|| {
                let t = o.orig_timestamp.as_str();
                (t != "?" && !datetime_round_trips(t)).then(|| {
                    format!(
                        "origcomm.orig_timestamp {t:?} is not a YYYY-MM-DD HH:MM:SS timestamp a DATETIME keeps unchanged"
                    )
                })
            })
            .map(|reason| {
                format!(
                    "message {}: {reason} (the database's origcomm table has {})",
                    record.message.message_id,
                    layout.describe()
                )
            })
    })
}

/// Statements the server is running besides the one asking: MySQL's global `Threads_running`
/// − 1 (MariaDB/MySQL reference, "Server Status Variables"). `None` on SQLite, or when the
/// server does not say (the throttle then goes by commit latency alone).
pub async fn others_running<C: ConnectionTrait>(conn: &C) -> Option<f64> {
    if conn.get_database_backend() != DbBackend::MySql {
        return None;
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::MySql,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'THREADS_RUNNING'",
        ))
        .await
        .ok()??;
    let value: String = row.try_get_by_index(0).ok()?;
    let running: f64 = value.trim().parse().ok()?;
    Some((running - 1.0).max(0.0))
}
