//! The loader's bus loop: batches records, plans, applies each batch in one transaction, and
//! keeps per-deposition state (loaded, quarantined, conflicts) at each deposition's end marker.

use crate::plan::{plan, Action};
use crate::sql::{exec, insert_rows, select_in};
use crate::store::{apply, dry_run, fetch_current, planned_counts, RowCounts};
use msgmig_bus::Subscriber;
use msgmig_schemas::record::{
    DepositionEnd, DepositionOutcome, MessageRecord, Quarantine, QuarantineKind, RecordsMessage,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait, Value};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// Loader settings.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    /// Records per transaction (more = fewer commits; bounded by memory only).
    pub batch_size: usize,
    /// Plan and count, write nothing.
    pub dry_run: bool,
    /// Delete file references the files no longer have (D2: off by default, extras are reported).
    pub reconcile: bool,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 1000,
            dry_run: false,
            reconcile: false,
        }
    }
}

/// The final state of one deposition after its end marker was applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepositionReport {
    pub deposition_id: String,
    pub files: u32,
    pub counts: RowCounts,
    /// Set when the deposition was withheld.
    pub quarantine: Option<Quarantine>,
    /// Message ids owned by another deposition: (message_id, owner).
    pub conflicts: Vec<(String, String)>,
    /// The marker was older than the stored state (a stale replay): nothing recorded.
    pub stale: bool,
    /// Newest file mtime (ns) of the deposition's state (freshness is measured from it).
    pub generation: i64,
}

/// Loads records into the database.
#[derive(Debug)]
pub struct Loader {
    db: DatabaseConnection,
    config: LoaderConfig,
    /// Per deposition, counts and conflicts accumulated until its end marker.
    open: HashMap<String, (RowCounts, Vec<(String, String)>)>,
    reports: Option<mpsc::UnboundedSender<DepositionReport>>,
    /// Rows applied (or, in a dry run, that would be) since start, from committed batches only.
    totals: RowCounts,
}

impl Loader {
    pub fn new(db: DatabaseConnection, config: LoaderConfig) -> Self {
        Loader {
            db,
            config,
            open: HashMap::new(),
            reports: None,
            totals: RowCounts::default(),
        }
    }

    /// Sends a [`DepositionReport`] for every finished deposition (progress, summaries).
    pub fn with_reports(mut self, tx: mpsc::UnboundedSender<DepositionReport>) -> Self {
        self.reports = Some(tx);
        self
    }

    /// Rows written by committed batches (file-reference reconciliation included).
    pub fn totals(&self) -> &RowCounts {
        &self.totals
    }

    /// Consumes until the input closes; each batch is one transaction.
    ///
    /// Errors: a database error that survived the retries (the batch is not half-applied: its
    /// transaction rolled back).
    pub async fn run<S: Subscriber<RecordsMessage>>(&mut self, mut input: S) -> Result<(), DbErr> {
        while let Some(first) = input.next().await {
            let mut batch = vec![first.payload];
            while batch.len() < self.config.batch_size {
                match input.try_next() {
                    Some(e) => batch.push(e.payload),
                    None => break,
                }
            }
            self.apply_batch(batch).await?;
        }
        // Input done: close the report channel so its reader sees the end.
        self.reports = None;
        Ok(())
    }

    /// Applies one batch (records and end markers in stream order) with retries on transient
    /// errors (connection lost, deadlock): the whole batch is replanned and retried.
    pub async fn apply_batch(&mut self, batch: Vec<RecordsMessage>) -> Result<(), DbErr> {
        let mut delay = std::time::Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_apply(&batch).await {
                Ok(reports) => {
                    for report in reports {
                        if let Some(tx) = &self.reports {
                            let _ = tx.send(report);
                        }
                    }
                    return Ok(());
                }
                Err(e) if attempt < 5 && is_transient(&e) => {
                    crate::metrics::DB_RETRIES.inc();
                    tracing::warn!(event = "db_retry", attempt, error = %e, "database error, retrying the batch");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_apply(
        &mut self,
        batch: &[RecordsMessage],
    ) -> Result<Vec<DepositionReport>, DbErr> {
        let records: Vec<MessageRecord> = batch
            .iter()
            .filter_map(|m| match m {
                RecordsMessage::Message(r) => Some((**r).clone()),
                RecordsMessage::DepositionEnd(_) => None,
            })
            .collect();
        let ends: Vec<&DepositionEnd> = batch
            .iter()
            .filter_map(|m| match m {
                RecordsMessage::DepositionEnd(e) => Some(e),
                RecordsMessage::Message(_) => None,
            })
            .collect();
        let mut ids: Vec<String> = records
            .iter()
            .map(|r| r.message.message_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        let started = std::time::Instant::now();
        let txn = self.db.begin().await?;
        let current = fetch_current(&txn, &ids).await?;
        let planned = plan(records, current);
        // Per-deposition counts: planned per record, so they add up to the batch totals.
        let mut open = self.open.clone();
        for p in &planned {
            let entry = open.entry(p.record.deposition_id.clone()).or_default();
            let single = std::slice::from_ref(p);
            entry.0.add(&planned_counts(single));
            if p.action == Action::Conflict {
                let owner = p.owner.clone().unwrap_or_default();
                tracing::warn!(event = "message_conflict", deposition_id = %p.record.deposition_id, message_id = %p.record.message.message_id, owner = %owner,
                    "message id already belongs to another deposition: not overwritten");
                entry.1.push((p.record.message.message_id.clone(), owner));
            }
        }
        let counts = if self.config.dry_run {
            dry_run(&txn, &planned).await?
        } else {
            apply(&txn, &planned, self.config.reconcile).await?
        };
        let mut reports = Vec::new();
        let stored = if ends.is_empty() {
            HashMap::new()
        } else {
            stored_generations(&txn, &ends).await?
        };
        for end in ends.iter().copied() {
            let (counts, conflicts) = open.remove(&end.deposition_id).unwrap_or_default();
            let stale = stored
                .get(&end.deposition_id)
                .is_some_and(|&g| g > end.generation);
            let quarantine = match &end.outcome {
                DepositionOutcome::Quarantined(q) => Some(q.clone()),
                DepositionOutcome::Transformed => None,
            };
            reports.push(DepositionReport {
                deposition_id: end.deposition_id.clone(),
                files: end.files,
                counts,
                quarantine,
                conflicts,
                stale,
                generation: end.generation,
            });
        }
        if !self.config.dry_run {
            let fresh: Vec<_> = ends
                .iter()
                .zip(&reports)
                .filter(|(_, r)| !r.stale)
                .map(|(e, r)| (*e, r.quarantine.as_ref(), r.conflicts.as_slice()))
                .collect();
            record_ends(&txn, &fresh).await?;
        }
        if self.config.dry_run {
            txn.rollback().await?;
        } else {
            txn.commit().await?;
        }
        self.open = open;
        self.totals.add(&counts);
        if !self.config.dry_run {
            observe(&counts, &reports, planned.len(), started.elapsed());
        }
        Ok(reports)
    }
}

/// Updates the loader metrics after a committed batch.
fn observe(
    counts: &RowCounts,
    reports: &[DepositionReport],
    messages: usize,
    elapsed: std::time::Duration,
) {
    use crate::metrics::*;
    for (outcome, n) in [
        ("inserted", counts.inserted),
        ("updated", counts.updated),
        ("unchanged", counts.unchanged),
        ("stale", counts.stale),
        ("conflict", counts.conflicts),
    ] {
        MESSAGES.with_label_values(&[outcome]).inc_by(n);
    }
    for (table, n) in [
        (
            "pdbx_deposition_message_info",
            counts.inserted + counts.updated,
        ),
        (
            "pdbx_deposition_message_file_reference",
            counts.file_refs_inserted,
        ),
        ("pdbx_deposition_message_status", counts.statuses_written),
        (
            "pdbx_deposition_message_origcomm_reference",
            counts.origcomm_written,
        ),
    ] {
        ROWS.with_label_values(&[table]).inc_by(n);
    }
    BATCH_SECONDS.observe(elapsed.as_secs_f64());
    BATCH_MESSAGES.observe(messages as f64);
    let now_ns = msgmig_schemas::archive::unix_ns(std::time::SystemTime::now());
    for r in reports.iter().filter(|r| !r.stale) {
        let state = if r.quarantine.is_some() {
            "quarantined"
        } else if r.conflicts.is_empty() {
            "loaded"
        } else {
            "conflicts"
        };
        DEPOSITIONS.with_label_values(&[state]).inc();
        if r.counts.inserted + r.counts.updated > 0 && r.generation > 0 {
            FRESHNESS_SECONDS.observe(((now_ns - r.generation) as f64 / 1e9).max(0.0));
        }
    }
}

fn is_transient(e: &DbErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    matches!(e, DbErr::Conn(_) | DbErr::ConnectionAcquire(_))
        || [
            "deadlock",
            // Two partitions inserting one message id at once: replanning turns it into a conflict.
            "duplicate entry",
            "unique constraint",
            "lock wait timeout",
            "gone away",
            "lost connection",
            "broken pipe",
            "connection reset",
            "database is locked",
            "pool timed out",
        ]
        .iter()
        .any(|s| text.contains(s))
}

async fn stored_generations<C: ConnectionTrait>(
    conn: &C,
    ends: &[&DepositionEnd],
) -> Result<HashMap<String, i64>, DbErr> {
    let ids: Vec<String> = ends.iter().map(|e| e.deposition_id.clone()).collect();
    let rows = select_in(
        conn,
        "SELECT deposition_id, generation FROM msgmig_depositions WHERE deposition_id",
        &ids,
    )
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// A committed end marker with its outcome: (marker, quarantine, conflicts as (id, owner)).
type EndToRecord<'a> = (
    &'a DepositionEnd,
    Option<&'a Quarantine>,
    &'a [(String, String)],
);

/// Records the outcome of every deposition that ended in this batch, in three statements: their
/// quarantine/conflict rows replaced by the current ones (a clean load leaves quarantine), and
/// their state rows upserted.
async fn record_ends<C: ConnectionTrait>(conn: &C, ends: &[EndToRecord<'_>]) -> Result<(), DbErr> {
    // A deposition transformed twice within one batch has two end markers: the later one is
    // its state (rows for both would collide on the keys).
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, (end, _, _)) in ends.iter().enumerate() {
        last.insert(end.deposition_id.as_str(), i);
    }
    let ends: Vec<_> = ends
        .iter()
        .enumerate()
        .filter(|(i, (e, _, _))| last[e.deposition_id.as_str()] == *i)
        .map(|(_, e)| *e)
        .collect();
    let ends = ends.as_slice();
    if ends.is_empty() {
        return Ok(());
    }
    let ids: Vec<Value> = ends
        .iter()
        .map(|(e, _, _)| e.deposition_id.clone().into())
        .collect();
    for chunk in ids.chunks(crate::sql::MAX_ROWS) {
        let sql = format!(
            "DELETE FROM msgmig_quarantine WHERE deposition_id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        exec(conn, &sql, chunk.to_vec()).await?;
    }
    let mut quarantine_rows = Vec::new();
    let mut state_rows = Vec::new();
    for (end, quarantine, conflicts) in ends {
        let row = |kind: QuarantineKind,
                   message_id: Option<String>,
                   q: Option<&Quarantine>,
                   reason: String|
         -> Vec<Value> {
            vec![
                end.deposition_id.clone().into(),
                kind.as_str().to_owned().into(),
                message_id.into(),
                q.and_then(|q| q.path.clone()).into(),
                q.and_then(|q| q.file_version).map(i64::from).into(),
                q.and_then(|q| q.line).map(|l| l as i64).into(),
                q.and_then(|q| q.column).map(|c| c as i64).into(),
                reason.into(),
                end.generation.into(),
            ]
        };
        if let Some(q) = quarantine {
            quarantine_rows.push(row(q.kind, q.message_id.clone(), Some(q), q.reason.clone()));
        }
        for (id, owner) in conflicts.iter() {
            quarantine_rows.push(row(
                QuarantineKind::Conflict,
                Some(id.clone()),
                None,
                format!("message id already stored for deposition {owner}"),
            ));
        }
        let state = if quarantine.is_some() {
            "quarantined"
        } else if conflicts.is_empty() {
            "loaded"
        } else {
            "conflicts"
        };
        state_rows.push(vec![
            end.deposition_id.clone().into(),
            end.generation.into(),
            state.to_owned().into(),
            i64::from(end.files).into(),
            i64::from(end.messages).into(),
            (conflicts.len() as i64).into(),
        ]);
    }
    let columns = [
        "deposition_id",
        "kind",
        "message_id",
        "path",
        "file_version",
        "line_number",
        "column_number",
        "reason",
        "generation",
    ];
    insert_rows(conn, "msgmig_quarantine", &columns, quarantine_rows, "").await?;
    let updated = ["generation", "state", "files", "messages", "conflicts"];
    let suffix = crate::sql::upsert_suffix(conn.get_database_backend(), "deposition_id", &updated);
    let columns = [
        "deposition_id",
        "generation",
        "state",
        "files",
        "messages",
        "conflicts",
    ];
    insert_rows(conn, "msgmig_depositions", &columns, state_rows, &suffix).await?;
    // The file ledger: exactly the files read for this state of each deposition.
    for chunk in ids.chunks(crate::sql::MAX_ROWS) {
        let sql = format!(
            "DELETE FROM msgmig_file_ledger WHERE deposition_id IN ({})",
            vec!["?"; chunk.len()].join(", ")
        );
        exec(conn, &sql, chunk.to_vec()).await?;
    }
    let ledger_rows: Vec<Vec<Value>> = ends
        .iter()
        .flat_map(|(end, _, _)| {
            end.file_states.iter().map(|f| {
                vec![
                    f.path.clone().into(),
                    end.deposition_id.clone().into(),
                    i64::from(f.version).into(),
                    i64::try_from(f.size).unwrap_or(i64::MAX).into(),
                    f.mtime_ns.into(),
                ]
            })
        })
        .collect();
    let columns = ["path", "deposition_id", "version", "size", "mtime_ns"];
    insert_rows(conn, "msgmig_file_ledger", &columns, ledger_rows, "").await?;
    Ok(())
}
