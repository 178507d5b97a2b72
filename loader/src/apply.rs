//! One batch, one transaction: the rows of every deposition whose end marker is in the batch,
//! the records of depositions still open, the dead letters decided, and (over Kafka) the
//! consumed offsets, committed together.
//!
//! Deposition atomicity: a deposition's rows are written only when its end marker is applied,
//! in that one transaction, from its records in the batch plus those kept for it in the
//! database ([`crate::staging`]). A deposition that ends quarantined (refused by the
//! transformer, a record refused here, records missing) writes none: the tables keep what they
//! held before it (nothing for a new one, its previous load for a changed one). The same code
//! runs for `migrate`, `run` and the Kafka loader, so every path gives the same tables.

pub(crate) use crate::batch::{
    begin, injected_outage, refusal, refusal_letter, Applied, ServerFacts,
};
use crate::ends::{record_displaced, record_ends, stored_generations, Displaced};
use crate::item::{next_offsets, parts, Item, Part, TopicPartition};
use crate::plan::{plan, Action, Planned};
use crate::report::DepositionReport;
use crate::store::{apply, dry_run, fetch_current, planned_counts, RowCounts};
use crate::worker::Loader;
use msgmig_bus::Receipt;
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use msgmig_schemas::record::{
    DeadLetter, DepositionEnd, DepositionOutcome, MessageRecord, Quarantine, QuarantineKind,
};
use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use std::collections::{BTreeMap, HashMap};

/// The identity of a record borrowed from the batch or the staged set: its address (records
/// are not moved while a transaction runs).
fn addr(r: &MessageRecord) -> usize {
    r as *const MessageRecord as usize
}

/// A deposition whose end marker is in the batch, as it will be recorded.
#[derive(Debug)]
struct Ending<'a> {
    end: &'a DepositionEnd,
    quarantine: Option<Quarantine>,
    /// Its records to write (none when quarantined), staged ones first, each id once.
    records: Vec<&'a MessageRecord>,
    counts: RowCounts,
    conflicts: Vec<(String, String)>,
    displaced: Vec<(String, String)>,
    recounts: Vec<crate::plan::Counted>,
    /// Messages kept as the application changed them.
    kept: Vec<String>,
}

/// `records` with each message id (as the collation sees it) once, its last arrival kept, in
/// the order of those last arrivals: a state published twice (a transformer restarted
/// mid-deposition) is the same records twice.
fn once_each<'a>(records: impl IntoIterator<Item = &'a MessageRecord>) -> Vec<&'a MessageRecord> {
    let all: Vec<&MessageRecord> = records.into_iter().collect();
    let mut last: HashMap<String, usize> = HashMap::with_capacity(all.len());
    for (i, r) in all.iter().enumerate() {
        last.insert(message_key(&r.message.message_id), i);
    }
    all.iter()
        .enumerate()
        .filter(|(i, r)| last[&message_key(&r.message.message_id)] == *i)
        .map(|(_, r)| *r)
        .collect()
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
        let txn = begin(&self.db).await?;
        let dry_run = self.config.dry_run;
        let group = self
            .config
            .consumer_group
            .clone()
            .filter(|_| !dry_run && offsets);
        let next = next_offsets(batch);
        // The fence: items below the stored offset were applied by an earlier owner of the
        // partition (a rebalance, a crash after commit); they are skipped.
        let mut fence = BTreeMap::new();
        if let Some(group) = &group {
            let partitions: Vec<TopicPartition> = next.keys().cloned().collect();
            fence = crate::offsets::stored(&txn, group, &partitions).await?;
            let rewound = self.positions.rewound(&partitions, &fence);
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
        let facts = self.server_facts(&txn).await?;
        let receipts: HashMap<usize, &Receipt> = items
            .iter()
            .filter_map(|i| match (&i.payload, &i.receipt) {
                (Some(msgmig_schemas::record::RecordsMessage::Message(r)), Some(receipt)) => {
                    Some((addr(r), receipt))
                }
                _ => None,
            })
            .collect();
        let receipt_of = |r: &MessageRecord| receipts.get(&addr(r)).copied();
        let mut letters: Vec<DeadLetter> = items.iter().filter_map(|i| i.letter.clone()).collect();

        let parts: Vec<Part<'_>> = parts(items.iter().filter_map(|i| i.payload.as_ref()));
        // What the database keeps for these depositions between batches.
        let mut stored = if dry_run || parts.is_empty() {
            HashMap::new()
        } else {
            let deps: Vec<&str> = parts.iter().map(|p| p.deposition_id).collect();
            let ended: Vec<(&str, i64)> = parts
                .iter()
                .filter(|p| p.end.is_some())
                .map(|p| (p.deposition_id, p.generation))
                .collect();
            crate::staging::read(&txn, &deps, &ended).await?
        };
        // The staged records of each ending, owned here for the rest of the transaction.
        let staged_records: HashMap<(String, i64), Vec<MessageRecord>> = parts
            .iter()
            .filter(|p| p.end.is_some())
            .filter_map(|p| {
                let key = (p.deposition_id.to_owned(), p.generation);
                let records = std::mem::take(&mut stored.get_mut(&key)?.records);
                Some((key, records))
            })
            .collect();

        let mut endings: Vec<Ending<'_>> = Vec::new();
        let mut open: Vec<&Part<'_>> = Vec::new();
        for part in &parts {
            let Some(end) = part.end else {
                open.push(part);
                continue;
            };
            let key = (part.deposition_id.to_owned(), part.generation);
            let staged = staged_records.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let records = once_each(staged.iter().chain(part.records.iter().copied()));
            let quarantine = match &end.outcome {
                DepositionOutcome::Quarantined(q) => Some(q.clone()),
                DepositionOutcome::Transformed => {
                    let earlier = stored.get(&key).and_then(|s| s.refusal.clone());
                    let now = || {
                        part.records.iter().find_map(|r| {
                            let q = refusal(r, facts.packet_limit, facts.layout)?;
                            letters.push(refusal_letter(
                                part.deposition_id,
                                part.generation,
                                &q,
                                receipt_of(r),
                            ));
                            Some(q)
                        })
                    };
                    earlier.or_else(now).or_else(|| {
                        (records.len() < end.messages as usize).then(|| Quarantine {
                            kind: QuarantineKind::Incomplete,
                            path: None,
                            file_version: None,
                            line: None,
                            column: None,
                            message_id: None,
                            reason: format!(
                                "its end marker counts {} records, {} reached the loader (the records topic no longer holds the others): run `msgmig migrate --deposition {}` to load it from its files",
                                end.messages,
                                records.len(),
                                part.deposition_id
                            ),
                        })
                    })
                }
            };
            endings.push(Ending {
                end,
                records: if quarantine.is_some() {
                    Vec::new()
                } else {
                    records
                },
                quarantine,
                counts: RowCounts::default(),
                conflicts: Vec::new(),
                displaced: Vec::new(),
                recounts: Vec::new(),
                kept: Vec::new(),
            });
        }

        let to_write: Vec<&MessageRecord> = endings
            .iter()
            .flat_map(|e| e.records.iter().copied())
            .collect();
        let ending_of: HashMap<usize, usize> = endings
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.records.iter().map(move |r| (addr(r), i)))
            .collect();
        let (planned, counts) = self.plan_and_write(&txn, to_write, facts.layout).await?;
        let by_dep: HashMap<&str, usize> = endings
            .iter()
            .enumerate()
            .map(|(i, e)| (e.end.deposition_id.as_str(), i))
            .collect();
        // Take-overs whose displaced deposition already ended: its stored outcome is amended.
        let mut displaced_ended: Vec<Displaced> = Vec::new();
        for p in &planned {
            let Some(&i) = ending_of.get(&addr(p.record)) else {
                continue;
            };
            endings[i]
                .counts
                .add(&planned_counts(std::slice::from_ref(p)));
            let id = &p.record.message.message_id;
            match p.action {
                Action::Kept => endings[i].kept.push(id.clone()),
                Action::Conflict => {
                    let owner = p.owner.clone().unwrap_or_default();
                    tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "message_conflict", deposition_id = %p.record.deposition_id, message_id = %id, owner = %owner,
                        "message id already belongs to another deposition: not overwritten");
                    endings[i].conflicts.push((id.clone(), owner));
                }
                Action::TakeOver => {
                    let loser = p.owner.clone().unwrap_or_default();
                    let winner = p.record.deposition_id.clone();
                    if let Some((_, Some(counted))) = &p.displaced {
                        endings[i].recounts.push(*counted);
                    }
                    if loser == winner {
                        continue;
                    }
                    // The loser's conflict names the id as the loser spells it (its file's).
                    let theirs = p
                        .displaced
                        .as_ref()
                        .map_or_else(|| id.clone(), |(stored, _)| stored.clone());
                    tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "message_conflict", deposition_id = %loser, message_id = %theirs, owner = %winner,
                        "message id belongs to the deposition its deposition_data_set_id names (else the smaller folder id): taken over");
                    endings[i].displaced.push((theirs.clone(), loser.clone()));
                    // A loser that ends in this batch reports its own record of the id as a
                    // conflict (the plan made it one); one whose end was recorded before is
                    // amended.
                    if !by_dep.contains_key(loser.as_str()) {
                        displaced_ended.push(Displaced {
                            deposition_id: loser,
                            message_id: theirs,
                            owner: winner,
                        });
                    }
                }
                _ => {}
            }
        }
        let ends: Vec<&DepositionEnd> = endings.iter().map(|e| e.end).collect();
        let generations = if ends.is_empty() {
            HashMap::new()
        } else {
            stored_generations(&txn, &ends).await?
        };
        let reports: Vec<DepositionReport> = endings
            .iter()
            .map(|e| DepositionReport {
                deposition_id: e.end.deposition_id.clone(),
                files: e.end.files,
                counts: e.counts.clone(),
                quarantine: e.quarantine.clone(),
                conflicts: e.conflicts.clone(),
                displaced: e.displaced.clone(),
                recounts: e.recounts.clone(),
                kept: e.kept.clone(),
                stale: generations
                    .get(&e.end.deposition_id)
                    .is_some_and(|&g| g > e.end.generation),
                generation: e.end.generation,
            })
            .collect();
        if dry_run {
            txn.rollback().await?;
        } else {
            let fresh = to_record(&endings, &reports);
            record_ends(&txn, &fresh, &generations).await?;
            record_displaced(&txn, &displaced_ended).await?;
            // The ended states (and older ones of the same depositions) are no longer open.
            for e in &endings {
                let dep = e.end.deposition_id.as_str();
                let closes = stored
                    .keys()
                    .any(|(d, g)| d == dep && *g <= e.end.generation);
                if closes {
                    crate::staging::close(&txn, dep, e.end.generation).await?;
                    crate::metrics::OPEN_DEPOSITIONS
                        .with_label_values(&["completed"])
                        .inc();
                }
            }
            let refused_open = self
                .keep_open(&txn, &open, &stored, &facts, &receipt_of, &mut letters)
                .await?;
            let letters =
                crate::outbox::write(&txn, letters, self.config.publish_dead_letters).await?;
            if let Some(group) = &group {
                let advanced: BTreeMap<TopicPartition, i64> = next
                    .iter()
                    .filter(|(tp, &n)| fence.get(*tp).is_none_or(|&s| n > s))
                    .map(|(tp, n)| (tp.clone(), *n))
                    .collect();
                crate::offsets::write(&txn, group, &advanced).await?;
            }
            msgmig_bus::crash_point!("loader_before_commit");
            if (!open.is_empty() && msgmig_bus::failing!("loader_staged_error"))
                || (refused_open && msgmig_bus::failing!("loader_refused_error"))
            {
                return Err(injected_outage("the commit of a batch"));
            }
            txn.commit().await?;
            if group.is_some() {
                self.positions.committed(next);
            }
            if !letters.is_empty() {
                self.dead_letters_written(&letters);
            }
            if refused_open {
                msgmig_bus::crash_point!("loader_refused");
            }
            if !open.is_empty() {
                msgmig_bus::crash_point!("loader_staged");
            }
        }
        self.totals.add(&counts);
        if !dry_run {
            observe(&counts, &reports, planned.len(), started.elapsed());
        }
        Ok(Applied::Done(reports))
    }

    /// Keeps the records of depositions whose end marker is not in the batch, or records their
    /// refusal (then only the refusal is kept, and a dead letter is queued). Returns whether a
    /// refusal was recorded.
    async fn keep_open<'a>(
        &self,
        txn: &DatabaseTransaction,
        open: &[&Part<'a>],
        stored: &HashMap<(String, i64), crate::staging::Staged>,
        facts: &ServerFacts,
        receipt_of: &(dyn Fn(&MessageRecord) -> Option<&'a Receipt> + Sync),
        letters: &mut Vec<DeadLetter>,
    ) -> Result<bool, DbErr> {
        let mut refused_any = false;
        for part in open {
            let key = (part.deposition_id.to_owned(), part.generation);
            if stored.get(&key).is_some_and(|s| s.refusal.is_some()) {
                continue;
            }
            let refused = part.records.iter().find_map(|r| {
                refusal(r, facts.packet_limit, facts.layout).map(|q| (q, receipt_of(r)))
            });
            match refused {
                Some((q, receipt)) => {
                    crate::staging::refuse(txn, part.deposition_id, part.generation, &q).await?;
                    letters.push(refusal_letter(
                        part.deposition_id,
                        part.generation,
                        &q,
                        receipt,
                    ));
                    crate::metrics::OPEN_DEPOSITIONS
                        .with_label_values(&["refused"])
                        .inc();
                    refused_any = true;
                }
                None => {
                    crate::staging::append(txn, part.deposition_id, part.generation, &part.records)
                        .await?;
                    crate::metrics::OPEN_DEPOSITIONS
                        .with_label_values(&["staged"])
                        .inc();
                }
            }
        }
        Ok(refused_any)
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
        if records.is_empty() {
            return Ok((Vec::new(), RowCounts::default()));
        }
        if !self.config.dry_run && self.fresh.presume_new() {
            let planned = plan(records.clone(), HashMap::new());
            let savepoint = txn.begin().await?;
            let run = self.config.run_id.as_deref();
            match apply(&savepoint, &planned, self.config.reconcile, layout, run).await {
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
        let run = self.config.run_id.as_deref();
        let claims = crate::guard::claims(&records);
        let current = fetch_current(txn, &ids, run, claims).await?;
        self.fresh.planned(!current.is_empty());
        let planned = plan(records, current);
        let counts = if self.config.dry_run {
            dry_run(txn, &planned).await?
        } else {
            apply(txn, &planned, self.config.reconcile, layout, run).await?
        };
        Ok((planned, counts))
    }

    /// The server's packet limit and origcomm layout, read once per loader.
    async fn server_facts(&mut self, txn: &DatabaseTransaction) -> Result<ServerFacts, DbErr> {
        if let Some(facts) = self.facts {
            return Ok(facts);
        }
        let packet_limit = crate::limits::packet_limit(txn).await?;
        crate::sql::fit_statements_to_packet(packet_limit);
        let layout = crate::limits::origcomm_layout(txn).await?;
        if layout != OrigcommLayout::default() {
            tracing::info!(
                event = "origcomm_layout",
                layout = layout.describe(),
                "origcomm rows are written in the layout the database has"
            );
        }
        let facts = ServerFacts {
            packet_limit,
            layout,
        };
        self.facts = Some(facts);
        Ok(facts)
    }
}

/// The endings to record: those not older than what is stored (a stale replay records
/// nothing). A plain function: its closures stay out of the batch's future.
fn to_record<'a>(
    endings: &'a [Ending<'a>],
    reports: &'a [DepositionReport],
) -> Vec<crate::ends::Ending<'a>> {
    endings
        .iter()
        .zip(reports)
        .filter(|(_, r)| !r.stale)
        .map(|(e, r)| crate::ends::Ending {
            end: e.end,
            quarantine: r.quarantine.as_ref(),
            conflicts: &r.conflicts,
            kept: &r.kept,
        })
        .collect()
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
        // and counting their age would keep the freshness alert firing for weeks.
        if r.counts.inserted + r.counts.updated > 0 && r.generation > *STARTED_NS {
            FRESHNESS_SECONDS.observe(((now_ns - r.generation) as f64 / 1e9).max(0.0));
        }
    }
}
