//! The last full pass over each archive root (`msgmig_scan_passes`): how many deposition
//! folders it found, so "discovered" and the ETA are known to every process that has the
//! database, after the scanner that counted them has exited.

use crate::sql::{insert_rows, upsert};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

const TABLE: &str = "msgmig_scan_passes";
const COLUMNS: [&str; 5] = [
    "directory",
    "depositions",
    "files",
    "finished_at_ms",
    "recorded_by",
];

/// One recorded pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanPass {
    /// The archive root as the walker named it (`--directory`).
    pub directory: String,
    /// Deposition folders found.
    pub depositions: i64,
    /// Message files found, when the walker counted them.
    pub files: Option<i64>,
    /// When the pass ended, Unix milliseconds.
    pub finished_at_ms: i64,
    /// The command that walked: `scan`, `run`, `migrate`.
    pub recorded_by: String,
}

/// Records `pass` as the last full pass over its directory (replacing the previous one).
pub async fn record<C: ConnectionTrait>(conn: &C, pass: &ScanPass) -> Result<(), DbErr> {
    let row: Vec<Value> = vec![
        pass.directory.clone().into(),
        pass.depositions.into(),
        pass.files.into(),
        pass.finished_at_ms.into(),
        pass.recorded_by.clone().into(),
    ];
    let on_key = upsert(&["directory"], &COLUMNS[1..]);
    insert_rows(conn, TABLE, &COLUMNS, vec![row], on_key).await?;
    Ok(())
}

/// The most recent pass over any archive root, or `None` when none was recorded.
pub async fn latest<C: ConnectionTrait>(conn: &C) -> Result<Option<ScanPass>, DbErr> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT {} FROM {TABLE} ORDER BY finished_at_ms DESC LIMIT 1",
                COLUMNS.join(", ")
            ),
        ))
        .await?;
    row.map(|r| {
        Ok(ScanPass {
            directory: r.try_get_by_index(0)?,
            depositions: r.try_get_by_index(1)?,
            files: r.try_get_by_index(2)?,
            finished_at_ms: r.try_get_by_index(3)?,
            recorded_by: r.try_get_by_index(4)?,
        })
    })
    .transpose()
}
