//! The largest row the database server takes, and what a message's row weighs against it
//! (issue 10 §2): a message that cannot fit in one packet is quarantined with its size and the
//! limit (`row_too_large`), never sent to be refused (MySQL error 1153, or a dropped connection
//! that would read as an outage and be retried forever).

use crate::columns::info_values;
use crate::sql::value_len;
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
