//! Writing a planned set of records in the caller's transaction.

use crate::columns::*;
use crate::current::fetch_file_refs;
use crate::plan::{Action, Counted, Planned};
use crate::sql::{exec, insert_rows, select_in, upsert, OnKey};
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{FileRefColumns, MessageRecord};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Value};
use std::collections::{HashMap, HashSet};

pub use crate::current::fetch_current;

/// Row counts of applied (or, in a dry run, planned) work.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub stale: u64,
    pub conflicts: u64,
    /// Messages whose rows the application changed since msgmig wrote them: left as they are
    /// (the file's version not applied) and reported.
    pub kept: u64,
    pub file_refs_inserted: u64,
    /// File references in the DB that the file no longer has (kept unless reconciling).
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
        self.kept += o.kept;
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

    /// Moves what a run counted for one message (`counted`) to `conflicts`: its claimant lost
    /// the id later in the same run, and the summary counts it as if it had come second.
    pub fn recount(&mut self, counted: &Counted) {
        let take = |n: &mut u64, by: u64| *n = n.saturating_sub(by);
        match (counted.inserted, counted.unchanged) {
            (true, _) => take(&mut self.inserted, 1),
            (false, true) => take(&mut self.unchanged, 1),
            (false, false) => take(&mut self.updated, 1),
        }
        take(&mut self.file_refs_inserted, u64::from(counted.file_refs));
        take(&mut self.statuses_written, u64::from(counted.status));
        take(&mut self.origcomm_written, u64::from(counted.origcomm));
        self.conflicts += 1;
    }
}

/// What one planned record counts as in a run's summary, with the rows it writes (`refs`: the
/// file references it inserts). A take-over counts as inserted when the claimant it displaced
/// had inserted the id in this run (the id was new), else as updated.
fn counted(p: &Planned<'_>, refs: usize) -> Option<Counted> {
    let (inserted, unchanged) = match p.action {
        Action::Insert => (true, false),
        Action::Update => (false, false),
        Action::Unchanged { .. } => (false, true),
        Action::TakeOver => (
            p.displaced
                .as_ref()
                .and_then(|(_, c)| *c)
                .is_some_and(|c| c.inserted),
            false,
        ),
        Action::Stale | Action::Conflict | Action::Kept => return None,
    };
    let writes = !unchanged;
    Some(Counted {
        inserted,
        unchanged,
        file_refs: if writes { refs as u32 } else { 0 },
        status: writes && p.record.status.is_some(),
        origcomm: if writes {
            p.record.origcomm.len() as u32
        } else {
            0
        },
    })
}

/// Multiset difference `want - have` and `have - want` (per message, file order irrelevant).
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

/// Children of displaced rows, set aside while those rows are replaced: (child message id, the
/// parent id it names).
type Children = Vec<(String, String)>;

/// Deletes the rows that take-overs replace (cascading to their file references, statuses and
/// origcomm rows) and returns the other messages that named them as parent: the deletion
/// cleared their `parent_message_id` (ON DELETE SET NULL), [`restore_children`] puts it back.
async fn remove_displaced<C: ConnectionTrait>(
    conn: &C,
    planned: &[Planned<'_>],
) -> Result<Children, DbErr> {
    let displaced: Vec<String> = planned
        .iter()
        .filter_map(|p| p.displaced.as_ref().map(|(id, _)| id.clone()))
        .collect();
    if displaced.is_empty() {
        return Ok(Vec::new());
    }
    // Rows this batch writes set their own parent; the displaced rows themselves go.
    let written: HashSet<String> = planned
        .iter()
        .filter(|p| matches!(p.action, Action::Insert | Action::Update | Action::TakeOver))
        .map(|p| message_key(&p.record.message.message_id))
        .chain(displaced.iter().map(|id| message_key(id)))
        .collect();
    let mut children = Vec::new();
    for row in select_in(
        conn,
        &format!("SELECT message_id, parent_message_id FROM {INFO} WHERE parent_message_id"),
        &displaced,
    )
    .await?
    {
        let child: String = row.try_get_by_index(0)?;
        let parent: String = row.try_get_by_index(1)?;
        if !written.contains(&message_key(&child)) {
            children.push((child, parent));
        }
    }
    let ids: Vec<Value> = displaced.iter().map(|id| id.clone().into()).collect();
    crate::sql::delete_in(conn, PROVENANCE, "message_id", &ids).await?;
    crate::sql::delete_in(conn, INFO, "message_id", &ids).await?;
    Ok(children)
}

/// Gives the messages [`remove_displaced`] set aside their parent again. SQLite compares ids
/// byte for byte in its foreign keys: there a child naming another spelling of the id now
/// stored names the stored spelling.
async fn restore_children<C: ConnectionTrait>(
    conn: &C,
    children: Children,
    planned: &[Planned<'_>],
) -> Result<(), DbErr> {
    let sqlite = conn.get_database_backend() == DbBackend::Sqlite;
    let stored: HashMap<String, &str> = planned
        .iter()
        .filter(|p| p.action == Action::TakeOver)
        .map(|p| {
            (
                message_key(&p.record.message.message_id),
                p.record.message.message_id.as_str(),
            )
        })
        .collect();
    for (child, parent) in children {
        let parent = match stored.get(&message_key(&parent)) {
            Some(spelt) if sqlite => (*spelt).to_owned(),
            _ => parent,
        };
        exec(
            conn,
            &format!("UPDATE {INFO} SET parent_message_id = ? WHERE message_id = ?"),
            vec![parent.into(), child.into()],
        )
        .await?;
    }
    Ok(())
}

/// Info rows of `inserts` in insertion order, each with its parent only when that parent is
/// already in the table (stored before, inserted earlier in the order, or itself); the others
/// are returned as (message id, parent) to set once every row is in.
fn info_rows_with_parents_in_place(
    inserts: &[&MessageRecord],
) -> (Vec<Vec<Value>>, Vec<(String, String)>) {
    let position: HashMap<String, usize> = inserts
        .iter()
        .enumerate()
        .map(|(i, r)| (message_key(&r.message.message_id), i))
        .collect();
    let mut later = Vec::new();
    let rows = inserts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut values = info_values(r);
            if let Some(parent) = &r.message.parent_message_id {
                if position.get(&message_key(parent)).is_some_and(|&j| j > i) {
                    later.push((r.message.message_id.clone(), parent.clone()));
                    values[INFO_PARENT] = Value::String(None);
                }
            }
            values
        })
        .collect();
    (rows, later)
}

/// Where a file reference goes among the batch's: its deposition, then its place in the
/// deposition's files; references without a recorded place (records from before msgmig kept
/// it) after, by message id.
pub(crate) type RefPlace<'a> = (&'a str, u32, &'a str);

/// The [`RefPlace`] of `r.file_refs[i]`.
pub(crate) fn ref_place(r: &MessageRecord, i: usize) -> RefPlace<'_> {
    let position = r.file_ref_positions.get(i).copied().unwrap_or(u32::MAX);
    (&r.deposition_id, position, &r.message.message_id)
}

/// Writes a planned batch. Order keeps every foreign key satisfied: rows that take-overs
/// replace are removed, new info rows go in (each deposition in file order, otherwise by id:
/// `order.rs`; a parent not yet in place is set afterwards), then changed ones, then
/// everything that references info rows. Origcomm rows are written in the table's `layout`
/// (records that do not fit it were refused before: [`crate::limits::unfit_for_origcomm`]).
/// `run`: the one-shot run counting these records (written with their provenance).
pub async fn apply<C: ConnectionTrait>(
    conn: &C,
    planned: &[Planned<'_>],
    reconcile: bool,
    layout: OrigcommLayout,
    run: Option<&str>,
) -> Result<RowCounts, DbErr> {
    let backend = conn.get_database_backend();
    let mut counts = RowCounts::default();
    let children = remove_displaced(conn, planned).await?;
    let inserts: Vec<&MessageRecord> = planned
        .iter()
        .filter(|p| matches!(p.action, Action::Insert | Action::TakeOver))
        .map(|p| p.record)
        .collect();
    let inserts = crate::order::insert_order(&inserts);
    let updates: Vec<&MessageRecord> = planned
        .iter()
        .filter(|p| p.action == Action::Update)
        .map(|p| p.record)
        .collect();
    for p in planned {
        match p.action {
            Action::Insert => counts.inserted += 1,
            Action::Update => counts.updated += 1,
            Action::TakeOver => match counted(p, 0) {
                Some(c) if c.inserted => counts.inserted += 1,
                _ => counts.updated += 1,
            },
            Action::Unchanged { .. } => counts.unchanged += 1,
            Action::Stale => counts.stale += 1,
            Action::Conflict => counts.conflicts += 1,
            Action::Kept => counts.kept += 1,
        }
        if let Action::Unchanged { bump: true } = p.action {
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

    let (info_rows, later_parents) = info_rows_with_parents_in_place(&inserts);
    insert_rows(conn, INFO, &INFO_COLUMNS, info_rows, OnKey::Fail).await?;
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
    }
    for (id, parent) in later_parents {
        exec(
            conn,
            &format!("UPDATE {INFO} SET parent_message_id = ? WHERE message_id = ?"),
            vec![parent.into(), id.into()],
        )
        .await?;
    }
    restore_children(conn, children, planned).await?;

    // File references: all of a new message's; for a changed one, the multiset difference.
    // Each deposition's go in in file order (their `ordinal_id`s follow the files, as the
    // application lists them), depositions after one another.
    let mut refs_written: HashMap<&str, usize> = HashMap::new();
    let mut new_refs: Vec<(RefPlace<'_>, Vec<Value>)> = Vec::new();
    for r in &inserts {
        refs_written.insert(&r.message.message_id, r.file_refs.len());
        new_refs.extend(
            r.file_refs
                .iter()
                .enumerate()
                .map(|(i, f)| (ref_place(r, i), file_ref_values(&r.message.message_id, f))),
        );
    }
    if !updates.is_empty() {
        let ids: Vec<String> = updates
            .iter()
            .map(|r| r.message.message_id.clone())
            .collect();
        let mut have = fetch_file_refs(conn, &ids).await?;
        let mut to_delete = Vec::new();
        for r in &updates {
            let (missing, extra) = multiset_diff(
                &r.file_refs,
                have.remove(&r.message.message_id).unwrap_or_default(),
            );
            refs_written.insert(&r.message.message_id, missing.len());
            new_refs.extend(missing.iter().map(|f| {
                let i = r
                    .file_refs
                    .iter()
                    .position(|g| g == f)
                    .unwrap_or(usize::MAX);
                (ref_place(r, i), file_ref_values(&r.message.message_id, f))
            }));
            counts.file_refs_extra += extra.len() as u64;
            to_delete.extend(extra);
        }
        if !reconcile {
            to_delete.clear();
        }
        let ordinals: Vec<Value> = to_delete.iter().map(|&o| o.into()).collect();
        counts.file_refs_deleted +=
            crate::sql::delete_in(conn, FILE_REF, "ordinal_id", &ordinals).await?;
    }
    new_refs.sort_by(|a, b| a.0.cmp(&b.0));
    // Collected first: a closure over the borrowed places held across the inserts' awaits
    // trips rustc's "`Send` is not general enough" in the loader's task.
    let new_refs: Vec<Vec<Value>> = new_refs.into_iter().map(|(_, values)| values).collect();
    counts.file_refs_inserted =
        insert_rows(conn, FILE_REF, &FILE_REF_COLUMNS, new_refs, OnKey::Fail).await?;

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
    counts.statuses_written = statuses.len() as u64;
    crate::sql::sort_by_key(&mut statuses);
    let on_key = upsert(&["message_id"], &STATUS_COLUMNS[1..]);
    insert_rows(conn, STATUS, &STATUS_COLUMNS, statuses, on_key).await?;

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
    counts.origcomm_written = origcomm.len() as u64;
    crate::sql::sort_by_key(&mut origcomm);
    insert_rows(conn, ORIGCOMM, &ORIGCOMM_COLUMNS, origcomm, OnKey::Fail).await?;

    let keyed = backend == DbBackend::Sqlite;
    let counted_as = |p: &Planned<'_>| {
        let refs = refs_written
            .get(p.record.message.message_id.as_str())
            .copied()
            .unwrap_or(0);
        run.zip(counted(p, refs))
    };
    let mut provenance: Vec<Vec<Value>> = planned
        .iter()
        .filter(|p| matches!(p.action, Action::Insert | Action::Update | Action::TakeOver))
        .map(|p| provenance_values(p.record, &p.sha256, keyed, counted_as(p)))
        .collect();
    crate::sql::sort_by_key(&mut provenance);
    let on_key = upsert(&["message_id"], &PROVENANCE_COLUMNS[1..]);
    insert_rows(conn, PROVENANCE, &PROVENANCE_COLUMNS, provenance, on_key).await?;
    // A run also notes the messages it counted as unchanged: one taken over later in the run
    // moves from `unchanged` to `conflicts`.
    if let Some(run) = run {
        let unchanged: Vec<Value> = planned
            .iter()
            .filter(|p| matches!(p.action, Action::Unchanged { .. }))
            .map(|p| p.record.message.message_id.clone().into())
            .collect();
        let as_unchanged = Counted {
            unchanged: true,
            ..Counted::default()
        }
        .encode();
        for chunk in unchanged.chunks(crate::sql::MAX_ROWS) {
            let mut values: Vec<Value> = vec![run.into(), as_unchanged.clone().into()];
            values.extend(chunk.iter().cloned());
            exec(
                conn,
                &format!(
                    "UPDATE {PROVENANCE} SET counted_in = ?, counted_as = ? WHERE message_id IN ({})",
                    vec!["?"; chunk.len()].join(", ")
                ),
                values,
            )
            .await?;
        }
    }
    Ok(counts)
}

/// Counts what a plan does per record: rows of new messages, and one update per changed message
/// (file-reference differences of changed messages need the database: see [`dry_run`]).
pub fn planned_counts(planned: &[Planned<'_>]) -> RowCounts {
    let mut counts = RowCounts::default();
    for p in planned {
        match p.action {
            Action::Insert => counts.inserted += 1,
            Action::Update => counts.updated += 1,
            Action::TakeOver => match counted(p, 0) {
                Some(c) if c.inserted => counts.inserted += 1,
                _ => counts.updated += 1,
            },
            Action::Unchanged { .. } => counts.unchanged += 1,
            Action::Stale => counts.stale += 1,
            Action::Conflict => counts.conflicts += 1,
            Action::Kept => counts.kept += 1,
        }
        if matches!(p.action, Action::Insert | Action::TakeOver) {
            counts.file_refs_inserted += p.record.file_refs.len() as u64;
        }
        if matches!(p.action, Action::Insert | Action::Update | Action::TakeOver) {
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

    #[test]
    fn a_run_counts_a_lost_message_as_a_conflict_whichever_claimant_came_first() {
        // Winner first: its insert, then the loser's conflict.
        let mut first = RowCounts {
            inserted: 1,
            file_refs_inserted: 2,
            statuses_written: 1,
            ..RowCounts::default()
        };
        first.conflicts += 1;
        // Loser first: its insert (1 ref, no status), then the winner's take-over, which counts
        // as inserted (the loser had inserted the id in this run) and moves the loser's count.
        let mut second = RowCounts {
            inserted: 2,
            file_refs_inserted: 3,
            statuses_written: 1,
            ..RowCounts::default()
        };
        second.recount(&Counted {
            inserted: true,
            unchanged: false,
            file_refs: 1,
            status: false,
            origcomm: 0,
        });
        assert_eq!(first, second);
    }

    #[test]
    fn what_a_run_counted_reads_back() {
        for c in [
            Counted::default(),
            Counted {
                inserted: true,
                unchanged: false,
                file_refs: 7,
                status: true,
                origcomm: 2,
            },
            Counted {
                inserted: false,
                unchanged: true,
                ..Counted::default()
            },
        ] {
            assert_eq!(Counted::decode(&c.encode()), Some(c));
        }
        assert_eq!(Counted::decode("x:1:0:0"), None);
    }
}
