//! Open depositions: what the loader knows about a deposition whose end marker has not arrived
//! yet, kept in the database (`msgmig_open_depositions`, `msgmig_staged_records`) and written in
//! the same transaction as the batch and its consumed offsets.
//!
//! The contract: whichever loader applies a deposition's end marker (the one that read its first
//! records, or the next owner of the partition after a crash or a rebalance) reads the same
//! state here, so the end marker decides from stored state, never from memory. A deposition's
//! rows are written only when its end marker is applied, all in that one transaction; until
//! then its records wait here, or only its refusal does once one record was refused.

use crate::sql::{exec, insert_rows, select_in, upsert, OnKey};
use msgmig_schemas::record::{MessageRecord, Quarantine};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use std::collections::HashMap;

const OPEN: &str = "msgmig_open_depositions";
const STAGED: &str = "msgmig_staged_records";

/// A staged record is written in parts of at most this many bytes of JSON, far below any
/// server's packet limit (MySQL's `max_allowed_packet` is at least 1 MiB), so a record whose
/// row fits the server always stages.
pub(crate) const PART_BYTES: usize = 256 << 10;

/// What the database holds for one open (deposition folder, generation).
#[derive(Debug, Default)]
pub(crate) struct Staged {
    /// Its records in arrival order (only when asked for).
    pub records: Vec<MessageRecord>,
    /// Set once one of its records was refused: the deposition ends quarantined.
    pub refusal: Option<Quarantine>,
}

/// Every open state of the deposition folders `deps`, keyed by (deposition, generation).
/// Records are read only for the keys in `with_records` (those whose end marker is in the
/// batch) that were not refused.
pub(crate) async fn read<C: ConnectionTrait>(
    conn: &C,
    deps: &[&str],
    with_records: &[(&str, i64)],
) -> Result<HashMap<(String, i64), Staged>, DbErr> {
    let mut deps: Vec<String> = deps.iter().map(|d| (*d).to_owned()).collect();
    deps.sort();
    deps.dedup();
    let rows = select_in(
        conn,
        &format!("SELECT deposition_id, generation, refusal FROM {OPEN} WHERE deposition_id"),
        &deps,
    )
    .await?;
    let mut out: HashMap<(String, i64), Staged> = HashMap::new();
    for row in rows {
        let key: (String, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        let refusal: Option<String> = row.try_get_by_index(2)?;
        let refusal = match refusal {
            Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
                DbErr::Custom(format!(
                    "{OPEN}: refusal of {} is not a quarantine: {e}",
                    key.0
                ))
            })?),
            None => None,
        };
        out.insert(
            key,
            Staged {
                records: Vec::new(),
                refusal,
            },
        );
    }
    let backend = conn.get_database_backend();
    for (dep, generation) in with_records {
        let Some(staged) = out.get_mut(&((*dep).to_owned(), *generation)) else {
            continue;
        };
        if staged.refusal.is_some() {
            continue;
        }
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT part, parts, payload FROM {STAGED} WHERE deposition_id = ? AND generation = ? ORDER BY id"
                ),
                [(*dep).into(), (*generation).into()],
            ))
            .await?;
        let mut buffer: Vec<u8> = Vec::new();
        for row in rows {
            let part: i32 = row.try_get_by_index(0)?;
            let parts: i32 = row.try_get_by_index(1)?;
            let payload: Vec<u8> = row.try_get_by_index(2)?;
            if part == 0 {
                buffer.clear();
            }
            buffer.extend_from_slice(&payload);
            if part + 1 == parts {
                let record: MessageRecord = serde_json::from_slice(&buffer).map_err(|e| {
                    DbErr::Custom(format!("{STAGED}: a record of {dep} does not decode: {e}"))
                })?;
                staged.records.push(record);
                buffer.clear();
            }
        }
    }
    Ok(out)
}

/// Makes sure (deposition, generation) has its open row.
async fn open<C: ConnectionTrait>(conn: &C, dep: &str, generation: i64) -> Result<(), DbErr> {
    let key = ["deposition_id", "generation"];
    insert_rows(
        conn,
        OPEN,
        &key,
        [vec![dep.into(), generation.into()]],
        OnKey::Keep { key: &key },
    )
    .await?;
    Ok(())
}

/// Keeps `records` of the open (deposition, generation) until its end marker.
pub(crate) async fn append<C: ConnectionTrait>(
    conn: &C,
    dep: &str,
    generation: i64,
    records: &[&MessageRecord],
) -> Result<(), DbErr> {
    open(conn, dep, generation).await?;
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for record in records {
        let json = serde_json::to_vec(record)
            .map_err(|e| DbErr::Custom(format!("cannot encode a staged record: {e}")))?;
        let chunks: Vec<&[u8]> = json.chunks(PART_BYTES).collect();
        let parts = chunks.len() as i32;
        for (part, chunk) in chunks.into_iter().enumerate() {
            rows.push(vec![
                dep.into(),
                generation.into(),
                (part as i32).into(),
                parts.into(),
                Value::Bytes(Some(chunk.to_vec())),
            ]);
        }
    }
    insert_rows(
        conn,
        STAGED,
        &["deposition_id", "generation", "part", "parts", "payload"],
        rows,
        OnKey::Fail,
    )
    .await?;
    Ok(())
}

/// Records that the open (deposition, generation) was refused; its staged records are no
/// longer needed (the end marker writes none of its rows).
pub(crate) async fn refuse<C: ConnectionTrait>(
    conn: &C,
    dep: &str,
    generation: i64,
    refusal: &Quarantine,
) -> Result<(), DbErr> {
    let json = serde_json::to_string(refusal)
        .map_err(|e| DbErr::Custom(format!("cannot encode a refusal: {e}")))?;
    let on_key = upsert(&["deposition_id", "generation"], &["refusal"]);
    insert_rows(
        conn,
        OPEN,
        &["deposition_id", "generation", "refusal"],
        [vec![dep.into(), generation.into(), json.into()]],
        on_key,
    )
    .await?;
    exec(
        conn,
        &format!("DELETE FROM {STAGED} WHERE deposition_id = ? AND generation = ?"),
        vec![dep.into(), generation.into()],
    )
    .await?;
    Ok(())
}

/// Forgets every open state of `dep` up to `generation` (its end marker was applied: those
/// states are finished or superseded).
pub(crate) async fn close<C: ConnectionTrait>(
    conn: &C,
    dep: &str,
    generation: i64,
) -> Result<(), DbErr> {
    for table in [STAGED, OPEN] {
        exec(
            conn,
            &format!("DELETE FROM {table} WHERE deposition_id = ? AND generation <= ?"),
            vec![dep.into(), generation.into()],
        )
        .await?;
    }
    Ok(())
}

/// Open depositions (those with records or a refusal waiting for their end marker).
pub async fn open_count<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) FROM {OPEN}"),
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0))
}
