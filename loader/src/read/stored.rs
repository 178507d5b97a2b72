//! What the app tables (and origcomm) hold per message, read by message id, by the deposition
//! each row is filed under (`verify`), or by the info row's deposition (`export`).

use crate::sql::select_in;
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::{
    FileRefColumns, MessageColumns, MessageContent, OrigcommColumns, StatusColumns,
};
use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement};
use std::collections::{BTreeSet, HashMap};

/// The tables holding rows per message besides the info table: status, file references,
/// origcomm. Each has an index on `deposition_data_set_id` (migration `000009` adds origcomm's
/// on SQLite).
const PER_MESSAGE_TABLES: [&str; 3] = [
    "pdbx_deposition_message_status",
    "pdbx_deposition_message_file_reference",
    "pdbx_deposition_message_origcomm_reference",
];

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// The rows of these message ids, whoever stored them.
    MessageIds,
    /// The info rows whose own `deposition_data_set_id` is one of these (one indexed range per
    /// deposition, rows in the order they were inserted), then every status, file reference
    /// and origcomm row of the messages found, by message id: exact for those messages, wherever
    /// their rows are filed. Owners are not read (see [`owned_message_ids`]).
    InfoFiledUnder,
    /// Every row of the four tables whose own `deposition_data_set_id` is one of these: one
    /// indexed range per deposition and table, no lookup by message id. A row filed under
    /// another deposition than its message's info row is missed for its message, and reported
    /// as a stray where it is filed ([`Filed::strays`]). Owners are not read.
    FiledUnder,
}

impl Select {
    /// `FROM … WHERE <column>` for one app table aliased `t`; `select_in` appends `IN (…)`.
    fn source_clause(self, table: &str) -> String {
        let info = table == "pdbx_deposition_message_info";
        match self {
            Select::MessageIds if info => format!(
                "FROM {table} t LEFT JOIN msgmig_message_provenance p ON p.message_id = t.message_id WHERE t.message_id"
            ),
            Select::MessageIds => format!("FROM {table} t WHERE t.message_id"),
            // The owner column is NULL here: `p` is a one-row stand-in for provenance.
            Select::InfoFiledUnder | Select::FiledUnder if info => format!(
                "FROM {table} t LEFT JOIN (SELECT NULL AS deposition_id) p ON 1 = 1 WHERE t.deposition_data_set_id"
            ),
            Select::InfoFiledUnder => format!("FROM {table} t WHERE t.message_id"),
            Select::FiledUnder => format!("FROM {table} t WHERE t.deposition_data_set_id"),
        }
    }
}

/// What [`stored_messages_filed_under`] read for a run of depositions.
#[derive(Debug, Default)]
pub struct Filed {
    /// The messages whose info row is filed under the depositions, keyed by message id, with
    /// their status, file reference and origcomm rows filed under the same depositions.
    pub messages: HashMap<String, StoredMessage>,
    /// Sorted message ids of status, file reference and origcomm rows filed under the
    /// depositions whose message has no info row among `messages` (filed under another
    /// deposition, under another spelling, or none). Empty for a database msgmig wrote.
    pub strays: Vec<String>,
}

/// Reads the stored state of `ids` (missing ids are absent from the map).
pub async fn stored_messages<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    Ok(read_stored(conn, Select::MessageIds, ids).await?.messages)
}

/// Reads the messages whose info row is filed under `deposition_ids` (its
/// `deposition_data_set_id`), with all their status, file reference and origcomm rows wherever
/// those are filed (looked up by message id), keyed by message id, owners left unknown. Exact
/// for the messages found; a message filed under another deposition is not found here. For
/// `export`, and `verify` of a few named depositions; `verify` over the whole archive reads
/// [`stored_messages_filed_under`], cheaper, and looks the strays up afterwards.
pub async fn stored_messages_with_info_filed_under<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<HashMap<String, StoredMessage>, DbErr> {
    Ok(read_stored(conn, Select::InfoFiledUnder, deposition_ids)
        .await?
        .messages)
}

/// Reads every row of the four tables filed under `deposition_ids` (each row's own
/// `deposition_data_set_id`): one indexed range per deposition and table, the rows of a
/// deposition next to each other in insertion order, so a pass over the archive in deposition
/// order reads each table about once, where a lookup per message id visits a random page of a
/// UUID index for each. What it cannot see, a row filed under another deposition than its message's
/// info row, comes back as a stray where it is filed ([`Filed::strays`]) or from
/// [`rows_filed_outside`]; the caller looks those messages up by id.
pub async fn stored_messages_filed_under<C: ConnectionTrait>(
    conn: &C,
    deposition_ids: &[String],
) -> Result<Filed, DbErr> {
    read_stored(conn, Select::FiledUnder, deposition_ids).await
}

/// Message ids (sorted) of the status, file reference and origcomm rows filed under a
/// deposition not in `selected` (sorted) whose message's info row is filed under another
/// deposition: the strays a pass over `selected` with [`stored_messages_filed_under`] cannot
/// see. Reads each table's deposition index once, then the rows of the depositions outside `selected` joined with their info
/// rows: none when the database holds only the archive's depositions.
pub async fn rows_filed_outside<C: ConnectionTrait>(
    conn: &C,
    selected: &[String],
) -> Result<Vec<String>, DbErr> {
    const PAGE: usize = 50_000;
    let backend = conn.get_database_backend();
    let mut strays = BTreeSet::new();
    for table in PER_MESSAGE_TABLES {
        let mut outside = Vec::new();
        let mut after = String::new();
        loop {
            let sql = format!(
                "SELECT DISTINCT deposition_data_set_id FROM {table} WHERE deposition_data_set_id > ? \
                 ORDER BY deposition_data_set_id LIMIT {PAGE}"
            );
            let rows = conn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    sql,
                    [after.clone().into()],
                ))
                .await?;
            let page = rows.len();
            for r in rows {
                let dep: String = r.try_get_by_index(0)?;
                if selected.binary_search(&dep).is_err() {
                    outside.push(dep.clone());
                }
                after = dep;
            }
            if page < PAGE {
                break;
            }
        }
        let rows = select_in(
            conn,
            &format!(
                "SELECT t.message_id FROM {table} t JOIN pdbx_deposition_message_info i ON i.message_id = t.message_id \
                 WHERE i.deposition_data_set_id <> t.deposition_data_set_id AND t.deposition_data_set_id"
            ),
            &outside,
        )
        .await?;
        for r in rows {
            strays.insert(r.try_get_by_index::<String>(0)?);
        }
    }
    Ok(strays.into_iter().collect())
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

async fn read_stored<C: ConnectionTrait>(
    conn: &C,
    select: Select,
    keys: &[String],
) -> Result<Filed, DbErr> {
    let info = "pdbx_deposition_message_info";
    let rows = select_in(
        conn,
        &format!(
            "SELECT t.message_id, t.deposition_data_set_id, t.timestamp, t.sender, t.context_type, t.context_value, \
             t.parent_message_id, t.message_subject, t.message_text, t.message_type, t.send_status, t.content_type, p.deposition_id, t.ordinal_id {}",
            select.source_clause(info)
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
            file_ref_ordinals: Vec::new(),
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
    // Tables keyed per message: found by the message ids just read when only the info rows
    // are selected by deposition, by the keys themselves otherwise.
    let found: Vec<String>;
    let by_message: &[String] = if select == Select::InfoFiledUnder {
        found = out.keys().cloned().collect();
        &found
    } else {
        keys
    };
    let mut strays = BTreeSet::new();
    let mut per_message = PerMessage {
        select,
        keys: by_message,
        messages: &mut out,
        strays: &mut strays,
    };
    let rows = per_message
        .rows(
            conn,
            "pdbx_deposition_message_file_reference",
            "t.content_type, t.content_format, t.partition_number, t.version_id, t.storage_type, t.upload_file_name, t.ordinal_id",
        )
        .await?;
    per_message.attach(rows, |m, r| {
        m.file_refs.push(FileRefColumns {
            deposition_data_set_id: r.try_get_by_index(1)?,
            content_type: r.try_get_by_index(2)?,
            content_format: r.try_get_by_index(3)?,
            partition_number: r.try_get_by_index::<Option<i32>>(4)?.unwrap_or(1),
            version_id: r.try_get_by_index::<Option<i32>>(5)?.unwrap_or(1),
            storage_type: opt(r.try_get_by_index(6)?),
            upload_file_name: opt(r.try_get_by_index(7)?),
        });
        m.file_ref_ordinals.push(r.try_get_by_index(8)?);
        Ok(())
    })?;
    let rows = per_message
        .rows(
            conn,
            "pdbx_deposition_message_status",
            "t.read_status, t.action_reqd, t.for_release",
        )
        .await?;
    per_message.attach(rows, |m, r| {
        m.status = Some(StatusColumns {
            deposition_data_set_id: r.try_get_by_index(1)?,
            read_status: opt(r.try_get_by_index(2)?),
            action_reqd: opt(r.try_get_by_index(3)?),
            for_release: opt(r.try_get_by_index(4)?),
        });
        Ok(())
    })?;
    // `orig_timestamp` as text in either layout (a DATETIME in the upstream one), NULL as the
    // unknown marker the upstream layout stores it as.
    let rows = per_message
        .rows(
            conn,
            "pdbx_deposition_message_origcomm_reference",
            "t.orig_message_id, t.orig_deposition_data_set_id, COALESCE(CAST(t.orig_timestamp AS CHAR), '?'), \
             t.orig_sender, t.orig_recipient, t.orig_message_subject, t.orig_attachments",
        )
        .await?;
    per_message.attach(rows, |m, r| {
        m.origcomm.push(OrigcommColumns {
            deposition_data_set_id: r.try_get_by_index(1)?,
            orig_message_id: opt(r.try_get_by_index(2)?),
            orig_deposition_data_set_id: opt(r.try_get_by_index(3)?),
            orig_timestamp: opt(r.try_get_by_index(4)?),
            orig_sender: opt(r.try_get_by_index(5)?),
            orig_recipient: opt(r.try_get_by_index(6)?),
            orig_message_subject: opt(r.try_get_by_index(7)?),
            orig_attachments: opt(r.try_get_by_index(8)?),
        });
        Ok(())
    })?;
    Ok(Filed {
        messages: out,
        strays: strays.into_iter().collect(),
    })
}

/// The reads of the tables keyed per message (status, file references, origcomm) into the
/// messages the info table gave.
struct PerMessage<'a> {
    select: Select,
    /// What `select`'s column of each table is matched against.
    keys: &'a [String],
    messages: &'a mut HashMap<String, StoredMessage>,
    /// With [`Select::FiledUnder`]: ids of rows whose message is not in `messages`.
    strays: &'a mut BTreeSet<String>,
}

impl PerMessage<'_> {
    /// Reads `table`'s rows as `t.message_id, t.deposition_data_set_id, <columns>`, for
    /// [`PerMessage::attach`].
    async fn rows<C: ConnectionTrait>(
        &self,
        conn: &C,
        table: &str,
        columns: &str,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let sql = format!(
            "SELECT t.message_id, t.deposition_data_set_id, {columns} {}",
            self.select.source_clause(table)
        );
        select_in(conn, &sql, self.keys).await
    }

    /// Hands each of `rows` to `add` with its message's content. Not async: `add`'s
    /// higher-ranked type held across an await would make a loader task's future fail rustc's
    /// `Send` check ("not general enough").
    fn attach(
        &mut self,
        rows: Vec<QueryResult>,
        add: impl Fn(&mut MessageContent, &QueryResult) -> Result<(), DbErr>,
    ) -> Result<(), DbErr> {
        for r in rows {
            let id: String = r.try_get_by_index(0)?;
            match self.messages.get_mut(&id) {
                Some(m) => add(&mut m.content, &r)?,
                None if self.select == Select::FiledUnder => {
                    self.strays.insert(id);
                }
                None => {}
            }
        }
        Ok(())
    }
}
