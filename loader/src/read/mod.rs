//! Read-only queries: what the database holds per message (`stored`: `verify`, `export`), the
//! loader's bookkeeping per deposition and file (re-runs, the cut-over gate), and progress.

use crate::sql::select_in;
use sea_orm::{ConnectionTrait, DbErr, Statement};
use std::collections::HashMap;

mod stored;
pub use stored::{
    owned_message_ids, rows_filed_outside, same_ids_for_the_collation, stored_messages,
    stored_messages_filed_under, stored_messages_with_info_filed_under, Filed, StoredMessage,
};

/// Every `deposition_data_set_id` in the info table, sorted.
pub async fn all_depositions<C: ConnectionTrait>(conn: &C) -> Result<Vec<String>, DbErr> {
    let backend = conn.get_database_backend();
    let sql = "SELECT DISTINCT deposition_data_set_id FROM pdbx_deposition_message_info ORDER BY deposition_data_set_id";
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await?;
    rows.into_iter().map(|r| r.try_get_by_index(0)).collect()
}

/// The loader's last recorded outcome per deposition folder: (generation, state).
pub async fn deposition_states<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<HashMap<String, (i64, String)>, DbErr> {
    let rows = select_in(
        conn,
        "SELECT deposition_id, generation, state FROM msgmig_depositions WHERE deposition_id",
        deposition_ids,
    )
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get_by_index(0)?,
                (r.try_get_by_index(1)?, r.try_get_by_index(2)?),
            ))
        })
        .collect()
}

/// Open quarantine rows (kinds other than conflicts) per deposition folder.
pub async fn quarantine_counts<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<HashMap<String, i64>, DbErr> {
    let rows = select_in(
        conn,
        "SELECT deposition_id FROM msgmig_quarantine WHERE deposition_id",
        deposition_ids,
    )
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        *out.entry(r.try_get_by_index::<String>(0)?).or_insert(0) += 1;
    }
    Ok(out)
}

/// The file ledger: every latest message file as last loaded.
pub async fn file_ledger<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<msgmig_schemas::record::FileState>, DbErr> {
    let backend = conn.get_database_backend();
    let sql = "SELECT path, version, size, mtime_ns, ctime_ns FROM msgmig_file_ledger";
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(msgmig_schemas::record::FileState {
                path: r.try_get_by_index(0)?,
                version: u32::try_from(r.try_get_by_index::<i32>(1)?).unwrap_or(0),
                size: u64::try_from(r.try_get_by_index::<i64>(2)?).unwrap_or(0),
                mtime_ns: r.try_get_by_index(3)?,
                ctime_ns: r.try_get_by_index::<Option<i64>>(4)?.unwrap_or(0),
            })
        })
        .collect()
}

/// Ledger rows read per query by [`loaded_states`].
const LEDGER_PAGE: u64 = 50_000;

/// What the last clean load recorded of every deposition whose state is `loaded` (no
/// quarantine, no conflict): what a re-run may skip when its files still match.
/// Read in pages of the ledger in path order (paths start with the deposition folder, so a
/// deposition's rows are contiguous) and kept as a fingerprint in a [`LoadedStates`]: about
/// 100 bytes a deposition whatever its files.
///
/// [`LoadedStates`]: msgmig_schemas::record::LoadedStates
pub async fn loaded_states<C: ConnectionTrait>(
    conn: &C,
) -> Result<msgmig_schemas::record::LoadedStates, DbErr> {
    use msgmig_schemas::record::LoadedFiles;
    let backend = conn.get_database_backend();
    let sql = format!(
        "SELECT l.deposition_id, l.path, l.version, l.size, l.mtime_ns, d.messages, l.ctime_ns \
         FROM msgmig_file_ledger l JOIN msgmig_depositions d ON d.deposition_id = l.deposition_id \
         WHERE d.state = 'loaded' AND l.path > ? ORDER BY l.path LIMIT {LEDGER_PAGE}"
    );
    let mut out: Vec<(Box<str>, LoadedFiles)> = Vec::new();
    let mut after = String::new();
    loop {
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql.clone(),
                [after.clone().into()],
            ))
            .await?;
        let page = rows.len() as u64;
        for r in rows {
            let dep: String = r.try_get_by_index(0)?;
            let path: String = r.try_get_by_index(1)?;
            if out.last().is_none_or(|(id, _)| **id != *dep) {
                out.push((dep.into_boxed_str(), LoadedFiles::default()));
            }
            let entry = &mut out.last_mut().expect("pushed above").1;
            entry.messages = u64::try_from(r.try_get_by_index::<i64>(5)?).unwrap_or(0);
            entry.add(
                &path,
                u32::try_from(r.try_get_by_index::<i32>(2)?).unwrap_or(0),
                u64::try_from(r.try_get_by_index::<i64>(3)?).unwrap_or(0),
                r.try_get_by_index(4)?,
                r.try_get_by_index::<Option<i64>>(6)?.unwrap_or(0),
            );
            after = path;
        }
        if page < LEDGER_PAGE {
            return Ok(out.into_iter().collect());
        }
    }
}

/// The database's side of the progress picture (`msgmig status`, metrics gauges).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Progress {
    /// Depositions by last recorded state (loaded, conflicts, quarantined).
    pub depositions: std::collections::BTreeMap<String, i64>,
    /// Messages msgmig has loaded (rows of `msgmig_message_provenance`).
    pub messages: i64,
    /// Open quarantine rows (problems, conflicts included).
    pub quarantine_rows: i64,
    /// The last full pass over the archive ("discovered"), when one was recorded.
    pub last_scan: Option<crate::scan_passes::ScanPass>,
}

/// Reads [`Progress`] with three aggregate queries and the last recorded scan pass.
pub async fn progress<C: ConnectionTrait>(conn: &C) -> Result<Progress, DbErr> {
    let backend = conn.get_database_backend();
    let query = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let mut out = Progress::default();
    for r in conn
        .query_all_raw(query(
            "SELECT state, COUNT(*) FROM msgmig_depositions GROUP BY state",
        ))
        .await?
    {
        out.depositions
            .insert(r.try_get_by_index(0)?, r.try_get_by_index(1)?);
    }
    let count = |r: Option<sea_orm::QueryResult>| -> Result<i64, DbErr> {
        r.map_or(Ok(0), |r| r.try_get_by_index(0))
    };
    out.messages = count(
        conn.query_one_raw(query("SELECT COUNT(*) FROM msgmig_message_provenance"))
            .await?,
    )?;
    out.quarantine_rows = count(
        conn.query_one_raw(query("SELECT COUNT(*) FROM msgmig_quarantine"))
            .await?,
    )?;
    out.last_scan = crate::scan_passes::latest(conn).await?;
    Ok(out)
}
