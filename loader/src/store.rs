//! Applying a planned batch to the database in one transaction.

use crate::columns::*;
use crate::plan::{Action, Current, CurrentProvenance, Planned};
use crate::sql::{exec, insert_rows, select_in, upsert_suffix};
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{FileRefColumns, MessageRecord};
use sea_orm::{ConnectionTrait, DbErr, Value};
use std::collections::HashMap;

/// Row counts of applied (or, in a dry run, planned) work.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub stale: u64,
    pub conflicts: u64,
    pub file_refs_inserted: u64,
    /// File references in the DB that the file no longer has (kept unless reconciling, D2).
    pub file_refs_extra: u64,
    pub file_refs_deleted: u64,
    pub statuses_written: u64,
    pub origcomm_written: u64,
}

impl RowCounts {
    pub fn add(&mut self, o: &RowCounts) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.stale += o.stale;
        self.conflicts += o.conflicts;
        self.file_refs_inserted += o.file_refs_inserted;
        self.file_refs_extra += o.file_refs_extra;
        self.file_refs_deleted += o.file_refs_deleted;
        self.statuses_written += o.statuses_written;
        self.origcomm_written += o.origcomm_written;
    }

    /// App-table rows written (info + file references + statuses + origcomm).
    pub fn rows_written(&self) -> u64 {
        self.inserted
            + self.updated
            + self.file_refs_inserted
            + self.statuses_written
            + self.origcomm_written
    }
}

/// Reads what the database holds for `ids` (info row + msgmig provenance), keyed by
/// [`message_key`](msgmig_schemas::db::collation::message_key): one entry per id as the
/// `message_id` column's collation sees it.
pub async fn fetch_current<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Current>, DbErr> {
    use msgmig_schemas::db::collation::message_key;
    // MySQL compares ids by the column's collation: `IN` finds `ABC` for `abc`. SQLite compares
    // bytes: the stored ids whose collation key matches are looked up first (issue 10 §4).
    let mut wanted: Vec<String> = ids.to_vec();
    if conn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        let keys: Vec<String> = ids.iter().map(|id| message_key(id)).collect();
        let rows = select_in(
            conn,
            &format!("SELECT message_id FROM {PROVENANCE} WHERE message_key"),
            &keys,
        )
        .await?;
        for row in rows {
            wanted.push(row.try_get_by_index(0)?);
        }
        wanted.sort();
        wanted.dedup();
    }
    let rows = select_in(
        conn,
        "SELECT i.message_id, i.deposition_data_set_id, p.deposition_id, p.generation, p.record_sha256 \
         FROM pdbx_deposition_message_info i LEFT JOIN msgmig_message_provenance p ON p.message_id = i.message_id \
         WHERE i.message_id",
        &wanted,
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get_by_index(0)?;
        let owner: Option<String> = row.try_get_by_index(2)?;
        let provenance = match owner {
            Some(owner) => Some(CurrentProvenance {
                owner,
                generation: row.try_get_by_index(3)?,
                record_sha256: row.try_get_by_index(4)?,
            }),
            None => None,
        };
        out.insert(
            message_key(&id),
            Current {
                message_id: id,
                info_deposition: row.try_get_by_index(1)?,
                provenance,
            },
        );
    }
    Ok(out)
}

/// Multiset difference `want - have` and `have - want` (D2: per message, file order irrelevant).
fn multiset_diff(
    want: &[FileRefColumns],
    have: Vec<(i64, FileRefColumns)>,
) -> (Vec<FileRefColumns>, Vec<i64>) {
    let mut pool: HashMap<&FileRefColumns, usize> = HashMap::new();
    for w in want {
        *pool.entry(w).or_default() += 1;
    }
    let mut extra = Vec::new();
    for (ordinal, h) in &have {
        match pool.get_mut(h) {
            Some(n) if *n > 0 => *n -= 1,
            _ => extra.push(*ordinal),
        }
    }
    let mut missing = Vec::new();
    for w in want {
        if let Some(n) = pool.get_mut(w) {
            if *n > 0 {
                *n -= 1;
                missing.push(w.clone());
            }
        }
    }
    (missing, extra)
}

async fn fetch_file_refs<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<(i64, FileRefColumns)>>, DbErr> {
    let rows = select_in(
        conn,
        "SELECT ordinal_id, message_id, deposition_data_set_id, content_type, content_format, partition_number, \
         version_id, storage_type, upload_file_name FROM pdbx_deposition_message_file_reference WHERE message_id",
        ids,
    )
    .await?;
    let mut out: HashMap<String, Vec<(i64, FileRefColumns)>> = HashMap::new();
    for row in rows {
        let refs = FileRefColumns {
            deposition_data_set_id: row.try_get_by_index(2)?,
            content_type: row.try_get_by_index(3)?,
            content_format: row.try_get_by_index(4)?,
            partition_number: row.try_get_by_index::<Option<i32>>(5)?.unwrap_or(1),
            version_id: row.try_get_by_index::<Option<i32>>(6)?.unwrap_or(1),
            storage_type: row
                .try_get_by_index::<Option<String>>(7)?
                .unwrap_or_default(),
            upload_file_name: row
                .try_get_by_index::<Option<String>>(8)?
                .unwrap_or_default(),
        };
        out.entry(row.try_get_by_index(1)?)
            .or_default()
            .push((row.try_get_by_index(0)?, refs));
    }
    Ok(out)
}

/// Writes a planned batch. Order keeps every foreign key satisfied: new info rows (parents
/// first, each deposition in file order, otherwise by id: see `order.rs`), then changed ones,
/// then everything that references info rows.
/// Origcomm rows are written in the table's `layout` (records that do not fit it were refused
/// before: [`crate::limits::unfit_for_origcomm`]).
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    planned: &[Planned<'_>],
    reconcile: bool,
    layout: OrigcommLayout,
) -> Result<RowCounts, DbErr> {
    let backend = conn.get_database_backend();
    let mut counts = RowCounts::default();
    let of = |a: fn(&Action) -> bool| {
        planned
            .iter()
            .filter(move |p| a(&p.action))
            .map(|p| p.record)
    };
    let inserts: Vec<&MessageRecord> = of(|a| *a == Action::Insert).collect();
    let inserts = crate::order::insert_order(&inserts);
    // A take-over rewrites the rows like an update, but exactly: nothing of the displaced
    // deposition's file references or status may remain (the tables must not depend on which
    // claimant came first).
    let updates: Vec<&MessageRecord> =
        of(|a| matches!(a, Action::Update | Action::TakeOver)).collect();
    let taken: std::collections::HashSet<&str> = planned
        .iter()
        .filter(|p| p.action == Action::TakeOver)
        .map(|p| p.record.message.message_id.as_str())
        .collect();
    for p in planned {
        match p.action {
            Action::Unchanged { bump } => {
                counts.unchanged += 1;
                if bump {
                    exec(
                        conn,
                        &format!("UPDATE {PROVENANCE} SET generation = ? WHERE message_id = ?"),
                        vec![
                            p.record.provenance.generation.into(),
                            p.record.message.message_id.clone().into(),
                        ],
                    )
                    .await?;
                }
            }
            Action::Stale => counts.stale += 1,
            Action::Conflict | Action::TakeOver => counts.conflicts += 1,
            _ => {}
        }
    }

    counts.inserted = insert_rows(
        conn,
        INFO,
        &INFO_COLUMNS,
        // Built a statement at a time: the batch's message text is not copied whole. (Boxed:
        // a closure type held across the awaits trips rustc's "Send is not general enough".)
        Box::new(inserts.iter().map(|r| info_values(r)))
            as Box<dyn Iterator<Item = Vec<Value>> + Send + '_>,
        "",
    )
    .await?;
    for r in &updates {
        let mut values = info_values(r);
        let id = values.remove(0);
        values.push(id);
        let sets: Vec<String> = INFO_COLUMNS[1..]
            .iter()
            .map(|c| format!("{c} = ?"))
            .collect();
        exec(
            conn,
            &format!("UPDATE {INFO} SET {} WHERE message_id = ?", sets.join(", ")),
            values,
        )
        .await?;
        if !taken.contains(r.message.message_id.as_str()) {
            counts.updated += 1;
        }
    }

    // Rows written for take-overs are not counted: which claimant came first (and so whether a
    // take-over happens at all) depends on timing, the summary must not (issue 10 §5, §9).
    let mut taken_refs = 0u64;
    // File references: all of a new message's; for a changed one, the multiset difference.
    let mut new_refs: Vec<Vec<Value>> = Vec::new();
    for r in &inserts {
        new_refs.extend(
            r.file_refs
                .iter()
                .map(|f| file_ref_values(&r.message.message_id, f)),
        );
    }
    if !updates.is_empty() {
        let ids: Vec<String> = updates
            .iter()
            .map(|r| r.message.message_id.clone())
            .collect();
        let mut have = fetch_file_refs(conn, &ids).await?;
        let mut to_delete = Vec::new();
        let mut taken_extra = Vec::new();
        for r in &updates {
            let (missing, extra) = multiset_diff(
                &r.file_refs,
                have.remove(&r.message.message_id).unwrap_or_default(),
            );
            new_refs.extend(
                missing
                    .iter()
                    .map(|f| file_ref_values(&r.message.message_id, f)),
            );
            if taken.contains(r.message.message_id.as_str()) {
                taken_extra.extend(extra);
                taken_refs += missing.len() as u64;
            } else {
                counts.file_refs_extra += extra.len() as u64;
                to_delete.extend(extra);
            }
        }
        if !reconcile {
            to_delete.clear();
        }
        to_delete.append(&mut taken_extra);
        let ordinals: Vec<Value> = to_delete.iter().map(|&o| o.into()).collect();
        counts.file_refs_deleted +=
            crate::sql::delete_in(conn, FILE_REF, "ordinal_id", &ordinals).await?;
    }
    crate::sql::sort_by_key(&mut new_refs);
    counts.file_refs_inserted =
        insert_rows(conn, FILE_REF, &FILE_REF_COLUMNS, new_refs, "").await? - taken_refs;
    let is_taken = |r: &MessageRecord| taken.contains(r.message.message_id.as_str());

    // Statuses: upsert (a status can exist for a changed message, or not).
    let written: Vec<&MessageRecord> = inserts.iter().chain(updates.iter()).copied().collect();
    let mut statuses: Vec<Vec<Value>> = written
        .iter()
        .filter_map(|r| {
            r.status
                .as_ref()
                .map(|s| status_values(&r.message.message_id, s))
        })
        .collect();
    counts.statuses_written = written
        .iter()
        .filter(|r| r.status.is_some() && !is_taken(r))
        .count() as u64;
    crate::sql::sort_by_key(&mut statuses);
    let suffix = upsert_suffix(backend, "message_id", &STATUS_COLUMNS[1..]);
    insert_rows(conn, STATUS, &STATUS_COLUMNS, statuses, &suffix).await?;
    let statusless: Vec<Value> = updates
        .iter()
        .filter(|r| r.status.is_none() && taken.contains(r.message.message_id.as_str()))
        .map(|r| r.message.message_id.clone().into())
        .collect();
    crate::sql::delete_in(conn, STATUS, "message_id", &statusless).await?;

    // Origcomm (msgmig's own table): replaced whole for changed messages.
    if !updates.is_empty() {
        let ids: Vec<Value> = updates
            .iter()
            .map(|r| r.message.message_id.clone().into())
            .collect();
        crate::sql::delete_in(conn, ORIGCOMM, "message_id", &ids).await?;
    }
    let mut origcomm: Vec<Vec<Value>> = written
        .iter()
        .flat_map(|r| {
            r.origcomm
                .iter()
                .map(|o| origcomm_values(&r.message.message_id, o, layout))
        })
        .collect();
    crate::sql::sort_by_key(&mut origcomm);
    insert_rows(conn, ORIGCOMM, &ORIGCOMM_COLUMNS, origcomm, "").await?;
    counts.origcomm_written = written
        .iter()
        .filter(|r| !is_taken(r))
        .map(|r| r.origcomm.len() as u64)
        .sum();

    let mut provenance: Vec<Vec<Value>> = planned
        .iter()
        .filter(|p| matches!(p.action, Action::Insert | Action::Update | Action::TakeOver))
        .map(|p| provenance_values(p.record, &p.sha256, backend == sea_orm::DbBackend::Sqlite))
        .collect();
    crate::sql::sort_by_key(&mut provenance);
    let suffix = upsert_suffix(backend, "message_id", &PROVENANCE_COLUMNS[1..]);
    insert_rows(conn, PROVENANCE, &PROVENANCE_COLUMNS, provenance, &suffix).await?;
    Ok(counts)
}

/// Counts what a plan does per record: rows of new messages, and one update per changed message
/// (file-reference differences of changed messages need the database: see [`dry_run`]).
pub fn planned_counts(planned: &[Planned<'_>]) -> RowCounts {
    let mut counts = RowCounts::default();
    for p in planned {
        match p.action {
            Action::Insert => {
                counts.inserted += 1;
                counts.file_refs_inserted += p.record.file_refs.len() as u64;
            }
            Action::Update => counts.updated += 1,
            Action::Unchanged { .. } => counts.unchanged += 1,
            Action::Stale => counts.stale += 1,
            Action::Conflict | Action::TakeOver => counts.conflicts += 1,
        }
        if matches!(p.action, Action::Insert | Action::Update) {
            counts.statuses_written += u64::from(p.record.status.is_some());
            counts.origcomm_written += p.record.origcomm.len() as u64;
        }
    }
    counts
}

/// Counts what [`apply`] would do, without writing (dry run). File-reference differences of
/// changed messages are computed against the database.
pub async fn dry_run<C: ConnectionTrait>(
    conn: &C,
    planned: &[Planned<'_>],
) -> Result<RowCounts, DbErr> {
    let mut counts = planned_counts(planned);
    let update_ids: Vec<String> = planned
        .iter()
        .filter(|p| p.action == Action::Update)
        .map(|p| p.record.message.message_id.clone())
        .collect();
    let mut have = fetch_file_refs(conn, &update_ids).await?;
    for p in planned.iter().filter(|p| p.action == Action::Update) {
        let (missing, extra) = multiset_diff(
            &p.record.file_refs,
            have.remove(&p.record.message.message_id)
                .unwrap_or_default(),
        );
        counts.file_refs_inserted += missing.len() as u64;
        counts.file_refs_extra += extra.len() as u64;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str) -> FileRefColumns {
        FileRefColumns {
            deposition_data_set_id: "D_1".into(),
            content_type: t.into(),
            content_format: "pdbx".into(),
            partition_number: 1,
            version_id: 1,
            storage_type: "archive".into(),
            upload_file_name: "?".into(),
        }
    }

    #[test]
    fn file_references_reconcile_as_a_multiset() {
        let want = vec![r("a"), r("a"), r("b")];
        let (missing, extra) = multiset_diff(&want, vec![(1, r("a")), (2, r("c")), (3, r("b"))]);
        assert_eq!(
            missing,
            vec![r("a")],
            "one exact duplicate is still missing"
        );
        assert_eq!(extra, vec![2]);
        let (missing, extra) = multiset_diff(&want, vec![(1, r("b")), (2, r("a")), (3, r("a"))]);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "order does not matter"
        );
    }
}
