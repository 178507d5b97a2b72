//! Read-only queries for `verify` (and later `export`): what the database holds per message.

use crate::sql::select_in;
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::{
    FileRefColumns, MessageColumns, MessageContent, OrigcommColumns, StatusColumns,
};
use sea_orm::{ConnectionTrait, DbErr, Statement};
use std::collections::HashMap;

/// Everything the app tables (and origcomm) hold for one message, and who owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub content: MessageContent,
    /// Owning deposition folder from msgmig's provenance (None: not written by msgmig).
    pub owner: Option<String>,
    /// The table's `ordinal_id` (insertion order; ties of equal timestamps keep it on export).
    pub ordinal_id: i64,
}

fn opt(v: Option<String>) -> String {
    v.unwrap_or_default()
}

/// The stored message ids the `message_id` column's collation takes for one of `ids` (issue
/// 10 §4): `ABC` for `abc`. MySQL compares by the collation itself, so the info table's own
/// index finds them (rows of the old tools too); SQLite compares bytes, so the collation keys
/// ([`message_key`]) msgmig keeps in its provenance table find them (rows written before the
/// key existed are found only under their own spelling).
///
/// [`message_key`]: msgmig_schemas::db::collation::message_key
pub async fn same_ids_for_the_collation<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<Vec<String>, DbErr> {
    let rows = if conn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let keys: Vec<String> = ids
            .iter()
            .map(|id| msgmig_schemas::db::collation::message_key(id))
            .collect();
        select_in(
            conn,
            "SELECT message_id FROM msgmig_message_provenance WHERE message_key",
            &keys,
        )
        .await?
    } else {
        select_in(
            conn,
            "SELECT message_id FROM pdbx_deposition_message_info WHERE message_id",
            ids,
        )
        .await?
    };
    rows.into_iter().map(|r| r.try_get_by_index(0)).collect()
}

/// Which rows a [`stored_messages`]-style read selects.
#[derive(Debug, Clone, Copy)]
enum Select {
    /// The rows of these message ids, whoever stored them.
    MessageIds,
    /// The info and status rows whose own `deposition_data_set_id` is one of these (one
    /// indexed range per table and deposition, rows in the order they were inserted; both
    /// tables hold at most one row per message), then every file reference and origcomm row of
    /// the messages found, by message id (those tables may hold several rows per message, and
    /// one filed under another deposition must not be missed). Owners are not read (see
    /// [`owned_message_ids`]).
    OwnDataSet,
    /// The messages whose `deposition_data_set_id` (the app's deposition) is one of these.
    DataSets,
}

impl Select {
    /// `FROM … WHERE <column>` for one app table aliased `t`; `select_in` appends `IN (…)`.
    fn from_where(self, table: &str) -> String {
        match self {
            Select::MessageIds if table == "pdbx_deposition_message_info" => format!(
                "FROM {table} t LEFT JOIN msgmig_message_provenance p ON p.message_id = t.message_id WHERE t.message_id"
            ),
            Select::MessageIds => format!("FROM {table} t WHERE t.message_id"),
            // The owner column is NULL here: `p` is a one-row stand-in for provenance.
            Select::OwnDataSet if table == "pdbx_deposition_message_info" => format!(
                "FROM {table} t LEFT JOIN (SELECT NULL AS deposition_id) p ON 1 = 1 WHERE t.deposition_data_set_id"
            ),
            Select::OwnDataSet if table == "pdbx_deposition_message_status" => {
                format!("FROM {table} t WHERE t.deposition_data_set_id")
            }
            Select::OwnDataSet => format!("FROM {table} t WHERE t.message_id"),
            Select::DataSets if table == "pdbx_deposition_message_info" => format!(
                "FROM {table} t LEFT JOIN msgmig_message_provenance p ON p.message_id = t.message_id WHERE t.deposition_data_set_id"
            ),
            Select::DataSets => format!(
                "FROM pdbx_deposition_message_info i JOIN {table} t ON t.message_id = i.message_id WHERE i.deposition_data_set_id"
            ),
        }
    }
}

/// Reads the stored state of `ids` (missing ids are absent from the map).
pub async fn stored_messages<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    read_stored(conn, Select::MessageIds, ids).await
}

/// Reads the messages whose info row is filed under `deposition_ids` (its
/// `deposition_data_set_id`), with their status filed under the same depositions and all their
/// file references and origcomm rows, keyed by message id, owners left unknown. Info and status
/// come by one indexed range per deposition instead of a lookup per message id, which is what
/// lets `verify` stream the archive in deposition order (issue 12 §4). A message or status
/// filed under another deposition is not found here: callers look up by id
/// ([`stored_messages`]) what does not match.
pub async fn stored_messages_filed_under<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    read_stored(conn, Select::OwnDataSet, deposition_ids).await
}

/// (owning folder, message id) of every message msgmig's provenance gives to `deposition_ids`.
pub async fn owned_message_ids<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = select_in(
        conn,
        "SELECT deposition_id, message_id FROM msgmig_message_provenance WHERE deposition_id",
        deposition_ids,
    )
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Reads every message whose `deposition_data_set_id` is one of `deposition_ids`, with all
/// four tables, keyed by message id (`export`: one indexed range per deposition and table).
pub async fn stored_messages_of_data_sets<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    read_stored(conn, Select::DataSets, deposition_ids).await
}

async fn read_stored<C: ConnectionTrait>(
    conn: &C,
    select: Select,
    keys: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    let info = "pdbx_deposition_message_info";
    let rows = select_in(
        conn,
        &format!(
            "SELECT t.message_id, t.deposition_data_set_id, t.timestamp, t.sender, t.context_type, t.context_value, \
             t.parent_message_id, t.message_subject, t.message_text, t.message_type, t.send_status, t.content_type, p.deposition_id, t.ordinal_id {}",
            select.from_where(info)
        ),
        keys,
    )
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let content_type: String = r.try_get_by_index(11)?;
        let message = MessageColumns {
            message_id: r.try_get_by_index(0)?,
            deposition_data_set_id: r.try_get_by_index(1)?,
            timestamp: r.try_get_by_index(2)?,
            sender: r.try_get_by_index(3)?,
            context_type: opt(r.try_get_by_index(4)?),
            context_value: opt(r.try_get_by_index(5)?),
            parent_message_id: r.try_get_by_index(6)?,
            message_subject: r.try_get_by_index(7)?,
            message_text: r.try_get_by_index(8)?,
            message_type: opt(r.try_get_by_index(9)?),
            send_status: opt(r.try_get_by_index(10)?),
            content_type: ContentType::from_acronym(&content_type)
                .ok_or_else(|| DbErr::Type(format!("unknown content_type {content_type}")))?,
        };
        let owner = r.try_get_by_index(12)?;
        let ordinal_id = r.try_get_by_index(13)?;
        let content = MessageContent {
            message,
            file_refs: Vec::new(),
            status: None,
            origcomm: Vec::new(),
        };
        out.insert(
            content.message.message_id.clone(),
            StoredMessage {
                content,
                owner,
                ordinal_id,
            },
        );
    }
    // Tables keyed per message: found by the message ids just read when the selection is by
    // deposition, by the keys themselves otherwise.
    let found: Vec<String> = match select {
        Select::OwnDataSet => out.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let by_message: &[String] = match select {
        Select::OwnDataSet => &found,
        _ => keys,
    };
    let refs = select_in(
        conn,
        &format!(
            "SELECT t.message_id, t.deposition_data_set_id, t.content_type, t.content_format, t.partition_number, t.version_id, t.storage_type, t.upload_file_name {}",
            select.from_where("pdbx_deposition_message_file_reference")
        ),
        by_message,
    )
    .await?;
    for r in refs {
        let id: String = r.try_get_by_index(0)?;
        if let Some(m) = out.get_mut(&id) {
            m.content.file_refs.push(FileRefColumns {
                deposition_data_set_id: r.try_get_by_index(1)?,
                content_type: r.try_get_by_index(2)?,
                content_format: r.try_get_by_index(3)?,
                partition_number: r.try_get_by_index::<Option<i32>>(4)?.unwrap_or(1),
                version_id: r.try_get_by_index::<Option<i32>>(5)?.unwrap_or(1),
                storage_type: opt(r.try_get_by_index(6)?),
                upload_file_name: opt(r.try_get_by_index(7)?),
            });
        }
    }
    let statuses = select_in(
        conn,
        &format!(
            "SELECT t.message_id, t.deposition_data_set_id, t.read_status, t.action_reqd, t.for_release {}",
            select.from_where("pdbx_deposition_message_status")
        ),
        keys,
    )
    .await?;
    for r in statuses {
        let id: String = r.try_get_by_index(0)?;
        if let Some(m) = out.get_mut(&id) {
            m.content.status = Some(StatusColumns {
                deposition_data_set_id: r.try_get_by_index(1)?,
                read_status: opt(r.try_get_by_index(2)?),
                action_reqd: opt(r.try_get_by_index(3)?),
                for_release: opt(r.try_get_by_index(4)?),
            });
        }
    }
    let origcomm = select_in(
        conn,
        &format!(
            "SELECT t.message_id, t.deposition_data_set_id, t.orig_message_id, t.orig_deposition_data_set_id, COALESCE(CAST(t.orig_timestamp AS CHAR), '?'), t.orig_sender, \
             t.orig_recipient, t.orig_message_subject, t.orig_attachments {}",
            select.from_where("pdbx_deposition_message_origcomm_reference")
        ),
        by_message,
    )
    .await?;
    // `orig_timestamp` as text in either layout (a DATETIME in the upstream one), NULL as the
    // unknown marker the upstream layout stores it as.
    for r in origcomm {
        let id: String = r.try_get_by_index(0)?;
        if let Some(m) = out.get_mut(&id) {
            m.content.origcomm.push(OrigcommColumns {
                deposition_data_set_id: r.try_get_by_index(1)?,
                orig_message_id: opt(r.try_get_by_index(2)?),
                orig_deposition_data_set_id: opt(r.try_get_by_index(3)?),
                orig_timestamp: opt(r.try_get_by_index(4)?),
                orig_sender: opt(r.try_get_by_index(5)?),
                orig_recipient: opt(r.try_get_by_index(6)?),
                orig_message_subject: opt(r.try_get_by_index(7)?),
                orig_attachments: opt(r.try_get_by_index(8)?),
            });
        }
    }
    Ok(out)
}

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
/// quarantine, no conflict): what a re-run may skip when its files still match (issue 12 §1).
/// Read in pages of the ledger in path order (paths start with the deposition folder, so a
/// deposition's rows are contiguous) and kept as a fingerprint: about 100 bytes a deposition
/// whatever its files, so 10^6 depositions fit in about 100 MB.
pub async fn loaded_states<C: ConnectionTrait>(
    conn: &C,
) -> Result<HashMap<String, msgmig_schemas::record::LoadedFiles>, DbErr> {
    let backend = conn.get_database_backend();
    let sql = format!(
        "SELECT l.deposition_id, l.path, l.version, l.size, l.mtime_ns, d.messages, l.ctime_ns \
         FROM msgmig_file_ledger l JOIN msgmig_depositions d ON d.deposition_id = l.deposition_id \
         WHERE d.state = 'loaded' AND l.path > ? ORDER BY l.path LIMIT {LEDGER_PAGE}"
    );
    let mut out: HashMap<String, msgmig_schemas::record::LoadedFiles> = HashMap::new();
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
            let entry = out.entry(dep).or_default();
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
            return Ok(out);
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
