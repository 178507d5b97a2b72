//! The bulk load's crash marker (`msgmig_bulk_loads`) and what a run does when it finds one.

use crate::columns::{FILE_REF, INFO, ORIGCOMM, PROVENANCE, STATUS};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

/// The tables a bulk load writes, children before parents: the bulk path is taken only when
/// all are empty, and a stopped bulk run's rows are removed from them.
const WRITTEN: [&str; 11] = [
    ORIGCOMM,
    STATUS,
    FILE_REF,
    INFO,
    PROVENANCE,
    "msgmig_depositions",
    "msgmig_quarantine",
    "msgmig_file_ledger",
    "msgmig_open_depositions",
    "msgmig_staged_records",
    "msgmig_dead_letters",
];

/// The first table among those a bulk load writes that holds a row, or `None` when every one
/// is empty (a first backfill may load table by table).
pub async fn first_non_empty(db: &DatabaseConnection) -> Result<Option<&'static str>, DbErr> {
    for table in WRITTEN {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT 1 FROM {table} LIMIT 1"),
            ))
            .await?;
        if row.is_some() {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

/// Marks a bulk run as under way (before its first row).
pub async fn begin(db: &DatabaseConnection, run: &str) -> Result<(), DbErr> {
    crate::sql::exec(
        db,
        "INSERT INTO msgmig_bulk_loads (run_id) VALUES (?)",
        vec![run.into()],
    )
    .await
    .map(drop)
}

/// Marks a bulk run as done (after its last row, residual depositions included).
pub async fn finish(db: &DatabaseConnection, run: &str) -> Result<(), DbErr> {
    crate::sql::exec(
        db,
        "DELETE FROM msgmig_bulk_loads WHERE run_id = ?",
        vec![run.into()],
    )
    .await
    .map(drop)
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The stopped bulk runs.
    pub runs: Vec<String>,
    /// Whether the application had written rows since (kept; only msgmig's were removed).
    pub kept_others: bool,
}

/// Removes what a stopped bulk run wrote, if one stopped: called before any run loads.
///
/// Every table the run wrote was empty when it began ([`first_non_empty`]), so its rows are
/// everything msgmig holds in them: each message's rows beside a provenance row, and msgmig's
/// bookkeeping. When no app row lacks provenance (nobody else wrote since, the usual case), the
/// tables are emptied whole; otherwise only the rows of messages with provenance go, and the
/// others stay. Then the marker goes. `Ok(None)`: no bulk run had stopped.
pub async fn recover(db: &DatabaseConnection) -> Result<Option<Recovered>, DbErr> {
    let backend = db.get_database_backend();
    let runs: Vec<String> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT run_id FROM msgmig_bulk_loads ORDER BY run_id",
        ))
        .await?
        .into_iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    if runs.is_empty() {
        return Ok(None);
    }
    tracing::warn!(event = "bulk_load_recovery", runs = ?runs,
        "a bulk load stopped before it finished: removing what it wrote, then loading again");
    let others = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT 1 FROM {INFO} i LEFT JOIN {PROVENANCE} p ON p.message_id = i.message_id \
                 WHERE p.message_id IS NULL LIMIT 1"
            ),
        ))
        .await?
        .is_some();
    let txn = db.begin().await?;
    if backend == DbBackend::MySql {
        txn.execute_unprepared("SET SESSION foreign_key_checks = 0")
            .await?;
    }
    for table in WRITTEN {
        let app_table = [ORIGCOMM, STATUS, FILE_REF, INFO].contains(&table);
        let sql = match (others && app_table, backend) {
            (true, _) => format!(
                "DELETE FROM {table} WHERE message_id IN (SELECT message_id FROM {PROVENANCE})"
            ),
            // TRUNCATE commits by itself on MySQL; with the session's foreign key checks off
            // it may empty a table other tables refer to.
            (false, DbBackend::MySql) => format!("TRUNCATE TABLE {table}"),
            (false, _) => format!("DELETE FROM {table}"),
        };
        txn.execute_unprepared(&sql).await?;
    }
    txn.execute_unprepared("DELETE FROM msgmig_bulk_loads")
        .await?;
    if backend == DbBackend::MySql {
        txn.execute_unprepared("SET SESSION foreign_key_checks = 1")
            .await?;
    }
    txn.commit().await?;
    Ok(Some(Recovered {
        runs,
        kept_others: others,
    }))
}
