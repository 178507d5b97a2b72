//! One batch, one transaction: plan against the stored rows, write, record the deposition ends
//! and (over Kafka) the consumed offsets, then commit (architecture.md §3).

use crate::ends::{record_displaced, record_ends, stored_generations, Displaced};
use crate::offsets::{self, TopicPartition};
use crate::plan::{plan, Action, Planned};
use crate::store::{apply, dry_run, fetch_current, planned_counts, RowCounts};
use crate::worker::{DepositionReport, Item, Loader, OpenDeposition};
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{
    DepositionEnd, DepositionOutcome, MessageRecord, Quarantine, QuarantineKind, RecordsMessage,
};
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use std::collections::{BTreeMap, HashMap};

/// What a batch transaction did.
#[derive(Debug)]
pub(crate) enum Applied {
    /// Committed (or, in a dry run, planned): the finished depositions.
    Done(Vec<DepositionReport>),
    /// Someone lowered the stored offsets of these partitions since this loader last wrote them
    /// (`msgmig replay`, a restored backup): nothing was written; resume from these offsets.
    Rewound(Vec<(TopicPartition, i64)>),
}

/// Per partition, the offset after the highest consumed item of the batch.
pub(crate) fn next_offsets(batch: &[Item]) -> BTreeMap<TopicPartition, i64> {
    let mut next = BTreeMap::new();
    for r in batch.iter().filter_map(|i| i.receipt.as_ref()) {
        let e = next.entry((r.topic.clone(), r.partition)).or_insert(0);
        *e = (*e).max(r.offset + 1);
    }
    next
}

impl Loader {
    /// Applies `batch` in one transaction. With `offsets`, the consumed offsets are fenced
    /// (items an earlier owner applied are skipped, a rewind is noticed) and stored with the
    /// rows; without (one deposition's part while isolating a refused batch), neither: the
    /// caller stores the whole batch's offsets once every part is done.
    pub(crate) async fn try_apply(
        &mut self,
        batch: &[Item],
        offsets: bool,
    ) -> Result<Applied, DbErr> {
        let started = std::time::Instant::now();
        let txn = self.db.begin().await?;
        let group = self
            .config
            .consumer_group
            .clone()
            .filter(|_| !self.config.dry_run && offsets);
        let next = next_offsets(batch);
        // The fence: items below the stored offset were applied by an earlier owner of the
        // partition (a rebalance, a crash after commit); they are skipped.
        let mut fence = BTreeMap::new();
        if let Some(group) = &group {
            let partitions: Vec<TopicPartition> = next.keys().cloned().collect();
            fence = offsets::stored(&txn, group, &partitions).await?;
            let rewound: Vec<(TopicPartition, i64)> = partitions
                .iter()
                .filter_map(|tp| {
                    let mine = *self.committed_next.get(tp)?;
                    let stored = fence.get(tp).copied().unwrap_or(0);
                    (stored < mine).then(|| (tp.clone(), stored))
                })
                .collect();
            if !rewound.is_empty() {
                txn.rollback().await?;
                return Ok(Applied::Rewound(rewound));
            }
        }
        let live = |i: &&Item| match &i.receipt {
            Some(r) => fence
                .get(&(r.topic.clone(), r.partition))
                .is_none_or(|&stored| r.offset >= stored),
            None => true,
        };
        let items: Vec<&Item> = batch.iter().filter(live).collect();
        // Rows the server cannot take in one packet withhold their whole deposition, until its
        // end marker records it as quarantined (issue 10 §2).
        let limit = match self.packet_limit {
            Some(limit) => limit,
            None => {
                let limit = crate::limits::packet_limit(&txn).await?;
                crate::sql::fit_statements_to_packet(limit);
                self.packet_limit = Some(limit);
                limit
            }
        };
        let layout = match self.origcomm_layout {
            Some(layout) => layout,
            None => {
                let layout = crate::limits::origcomm_layout(&txn).await?;
                if layout != Default::default() {
                    tracing::info!(
                        event = "origcomm_layout",
                        layout = layout.describe(),
                        "origcomm rows are written in the layout the database has"
                    );
                }
                self.origcomm_layout = Some(layout);
                layout
            }
        };
        let mut refused = self.refused.clone();
        let mut new_refusals: Vec<(String, Quarantine, Option<msgmig_bus::Receipt>)> = Vec::new();
        for item in &items {
            let Some(RecordsMessage::Message(r)) = &item.payload else {
                continue;
            };
            if refused.contains_key(&r.deposition_id) {
                continue;
            }
            let refusal = crate::limits::too_large(r, limit)
                .map(|reason| (QuarantineKind::RowTooLarge, reason))
                .or_else(|| {
                    crate::limits::unfit_for_origcomm(r, layout)
                        .map(|reason| (QuarantineKind::BadValue, reason))
                });
            if let Some((kind, reason)) = refusal {
                let q = Quarantine {
                    kind,
                    path: Some(r.provenance.source_path.clone()),
                    file_version: Some(r.provenance.file_version),
                    line: None,
                    column: None,
                    message_id: Some(r.message.message_id.clone()),
                    reason,
                };
                refused.insert(r.deposition_id.clone(), q.clone());
                new_refusals.push((r.deposition_id.clone(), q, item.receipt.clone()));
            }
        }
        let records: Vec<&MessageRecord> = items
            .iter()
            .filter_map(|i| match &i.payload {
                Some(RecordsMessage::Message(r)) if !refused.contains_key(&r.deposition_id) => {
                    Some(&**r)
                }
                _ => None,
            })
            .collect();
        let ends: Vec<DepositionEnd> = items
            .iter()
            .filter_map(|i| match &i.payload {
                Some(RecordsMessage::DepositionEnd(e)) => {
                    let mut end = e.clone();
                    if let Some(q) = refused.remove(&e.deposition_id) {
                        end.outcome = DepositionOutcome::Quarantined(q);
                    }
                    Some(end)
                }
                _ => None,
            })
            .collect();
        let ends: Vec<&DepositionEnd> = ends.iter().collect();
        let (planned, counts) = self.plan_and_write(&txn, records, layout).await?;
        // Per-deposition counts: planned per record, so they add up to the batch totals.
        let mut open = self.open.clone();
        // Take-overs whose displaced deposition already ended: its stored outcome is amended.
        let mut displaced_ended: Vec<Displaced> = Vec::new();
        for p in &planned {
            let entry = open.entry(p.record.deposition_id.clone()).or_default();
            entry.counts.add(&planned_counts(std::slice::from_ref(p)));
            let id = &p.record.message.message_id;
            match p.action {
                Action::Conflict => {
                    let owner = p.owner.clone().unwrap_or_default();
                    tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "message_conflict", deposition_id = %p.record.deposition_id, message_id = %id, owner = %owner,
                        "message id already belongs to another deposition: not overwritten");
                    entry.conflicts.push((id.clone(), owner));
                }
                Action::TakeOver => {
                    let loser = p.owner.clone().unwrap_or_default();
                    let winner = p.record.deposition_id.clone();
                    tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "message_conflict", deposition_id = %loser, message_id = %id, owner = %winner,
                        "message id belongs to the deposition its deposition_data_set_id names (else the smaller folder id): taken over");
                    entry.displaced.push((id.clone(), loser.clone()));
                    match open.get_mut(&loser) {
                        Some(still_open) => still_open.conflicts.push((id.clone(), winner)),
                        None => displaced_ended.push(Displaced {
                            deposition_id: loser,
                            message_id: id.clone(),
                            owner: winner,
                        }),
                    }
                }
                _ => {}
            }
        }
        let stored = if ends.is_empty() {
            HashMap::new()
        } else {
            stored_generations(&txn, &ends).await?
        };
        let mut reports = Vec::new();
        for end in ends.iter().copied() {
            let OpenDeposition {
                counts,
                conflicts,
                displaced,
            } = open.remove(&end.deposition_id).unwrap_or_default();
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
                displaced,
                stale,
                generation: end.generation,
            });
        }
        if self.config.dry_run {
            txn.rollback().await?;
        } else {
            let fresh: Vec<_> = ends
                .iter()
                .zip(&reports)
                .filter(|(_, r)| !r.stale)
                .map(|(e, r)| (*e, r.quarantine.as_ref(), r.conflicts.as_slice()))
                .collect();
            record_ends(&txn, &fresh, &stored).await?;
            record_displaced(&txn, &displaced_ended).await?;
            if let Some(group) = &group {
                let advanced: BTreeMap<TopicPartition, i64> = next
                    .iter()
                    .filter(|(tp, &n)| fence.get(*tp).is_none_or(|&s| n > s))
                    .map(|(tp, n)| (tp.clone(), *n))
                    .collect();
                offsets::write(&txn, group, &advanced).await?;
            }
            msgmig_bus::failpoint::hit("loader_before_commit");
            txn.commit().await?;
            if group.is_some() {
                self.committed_next.extend(next);
            }
        }
        self.open = open;
        self.refused = refused;
        for (deposition_id, q, receipt) in new_refusals {
            self.refuse_row(deposition_id, q, receipt.as_ref()).await;
        }
        self.totals.add(&counts);
        if !self.config.dry_run {
            observe(&counts, &reports, planned.len(), started.elapsed());
        }
        Ok(Applied::Done(reports))
    }

    /// Plans `records` against the stored rows and writes them (in a dry run, only counts).
    ///
    /// While this loader's recent batches found none of their ids stored (a backfill:
    /// [`crate::fresh`]), the batch is first written as all new without reading the stored
    /// rows, under a savepoint. Any error rolls back to the savepoint and the batch is planned
    /// as always; if even the rollback fails (a deadlock or a lost connection ended the
    /// transaction), the first error is returned for the caller's retry.
    async fn plan_and_write<'r>(
        &mut self,
        txn: &DatabaseTransaction,
        records: Vec<&'r MessageRecord>,
        layout: OrigcommLayout,
    ) -> Result<(Vec<Planned<'r>>, RowCounts), DbErr> {
        if !self.config.dry_run && !records.is_empty() && self.fresh.presume_new() {
            let planned = plan(records.clone(), HashMap::new());
            let savepoint = txn.begin().await?;
            match apply(&savepoint, &planned, self.config.reconcile, layout).await {
                Ok(counts) => {
                    savepoint.commit().await?;
                    self.fresh.confirmed();
                    return Ok((planned, counts));
                }
                Err(e) => {
                    if savepoint.rollback().await.is_err() {
                        return Err(e);
                    }
                    self.fresh.refuted();
                    crate::metrics::PRESUMED_NEW_REFUTED.inc();
                    tracing::debug!(event = "presumed_new_refuted", error = %e,
                        "a batch written as all new failed: planning it against the stored rows");
                }
            }
        }
        let mut ids: Vec<String> = records
            .iter()
            .map(|r| r.message.message_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        let current = fetch_current(txn, &ids).await?;
        self.fresh.planned(!current.is_empty());
        let planned = plan(records, current);
        let counts = if self.config.dry_run {
            dry_run(txn, &planned).await?
        } else {
            apply(txn, &planned, self.config.reconcile, layout).await?
        };
        Ok((planned, counts))
    }
}

/// Updates the loader metrics after a committed batch.
pub(crate) fn observe(
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
        // Only files written since this process started: a backfill's old files are not late,
        // and counting their age would keep the freshness alert firing for weeks (issue 11 §4).
        if r.counts.inserted + r.counts.updated > 0 && r.generation > *STARTED_NS {
            FRESHNESS_SECONDS.observe(((now_ns - r.generation) as f64 / 1e9).max(0.0));
        }
    }
}
