//! Isolating a batch the database refused (or that kept failing while the server answered):
//! each deposition's part is applied on its own; the part that still fails is quarantined with
//! the database's error and dead-lettered, in one transaction; the others load. Parts commit
//! without offsets, so a part with lower offsets than an earlier one (depositions interleaved
//! on a partition, A B A) never falls below a fence the earlier part raised; the batch's offsets
//! are stored once, after every part, and only where no one (a replay) moved them meanwhile.

use crate::batch::{begin, locate, refusal_letter};
use crate::ends::{record_ends, stored_generations};
use crate::item::{next_offsets, parts, split_by_deposition, Item, TopicPartition};
use crate::offsets;
use crate::report::DepositionReport;
use crate::retry::{Attempts, Next};
use crate::store::RowCounts;
use crate::worker::Loader;
use msgmig_schemas::record::{
    DeadLetter, DepositionEnd, DepositionOutcome, Quarantine, QuarantineKind,
};
use sea_orm::DbErr;
use std::collections::BTreeMap;

impl Loader {
    /// Applies a refused batch deposition by deposition, then stores its offsets.
    pub(crate) async fn isolate(&mut self, batch: Vec<Item>) -> Result<(), DbErr> {
        let next = next_offsets(&batch);
        // Items an earlier owner of the partition applied are skipped, as a batch would.
        let fence = self.read_fence(&next).await?;
        let batch: Vec<Item> = batch
            .into_iter()
            .filter(|i| match &i.receipt {
                Some(r) => fence
                    .get(&(r.topic.clone(), r.partition))
                    .is_none_or(|&stored| r.offset >= stored),
                None => true,
            })
            .collect();
        for part in split_by_deposition(batch) {
            match self.apply_with_retries(&part, false).await? {
                Ok(applied) => {
                    self.finish(applied);
                }
                Err(e) => self.poisoned(&part, &e).await?,
            }
        }
        self.store_offsets(next, fence).await
    }

    /// The stored offsets of the batch's partitions (an outage is waited out).
    async fn read_fence(
        &self,
        next: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, i64>, DbErr> {
        let Some(group) = self.config.consumer_group.clone() else {
            return Ok(BTreeMap::new());
        };
        if self.config.dry_run || next.is_empty() {
            return Ok(BTreeMap::new());
        }
        let partitions: Vec<TopicPartition> = next.keys().cloned().collect();
        let mut attempts = Attempts::new(self.config.give_up_after);
        loop {
            match offsets::stored(&self.db, &group, &partitions).await {
                Ok(stored) => return Ok(stored),
                Err(e) => match attempts.after(&self.db, e).await? {
                    Next::Retry => {}
                    Next::Isolate(e) => return Err(e),
                },
            }
        }
    }

    /// In one transaction, raises the stored offset of each partition in `candidates` whose
    /// stored value is below the candidate and passes `keep(partition, stored)`; returns what
    /// was written.
    pub(crate) async fn raise_stored(
        &self,
        group: &str,
        candidates: &BTreeMap<TopicPartition, i64>,
        keep: impl Fn(&TopicPartition, Option<i64>) -> bool,
    ) -> Result<BTreeMap<TopicPartition, i64>, DbErr> {
        let txn = begin(&self.db).await?;
        let keys: Vec<TopicPartition> = candidates.keys().cloned().collect();
        let stored = offsets::stored(&txn, group, &keys).await?;
        let raise: BTreeMap<TopicPartition, i64> = candidates
            .iter()
            .filter(|(tp, &next)| {
                let now = stored.get(*tp).copied();
                now.is_none_or(|s| s < next) && keep(tp, now)
            })
            .map(|(tp, &next)| (tp.clone(), next))
            .collect();
        offsets::write(&txn, group, &raise).await?;
        txn.commit().await?;
        Ok(raise)
    }

    /// Stores the consumed offsets of an isolated batch where they are still what the batch
    /// started from (`fence`) or what this loader last stored: a replay that rewound a
    /// partition meanwhile keeps its rewind. Waits out an outage.
    async fn store_offsets(
        &mut self,
        next: BTreeMap<TopicPartition, i64>,
        fence: BTreeMap<TopicPartition, i64>,
    ) -> Result<(), DbErr> {
        let Some(group) = self.config.consumer_group.clone() else {
            return Ok(());
        };
        if self.config.dry_run || next.is_empty() {
            return Ok(());
        }
        let mine = self.positions.clone();
        let mut attempts = Attempts::new(self.config.give_up_after);
        loop {
            let written = self
                .raise_stored(&group, &next, |tp, now| {
                    now == fence.get(tp).copied() || (now.is_some() && now == mine.get(tp))
                })
                .await;
            match written {
                Ok(raised) => {
                    self.positions.committed(raised);
                    return Ok(());
                }
                Err(e) => match attempts.after(&self.db, e).await? {
                    Next::Retry => {}
                    Next::Isolate(e) => return Err(e),
                },
            }
        }
    }

    /// Quarantines one deposition's items the database refused, in one transaction: an ended
    /// state is recorded as quarantined (none of its rows written), an open one keeps only its
    /// refusal (its end marker will record it), and a dead letter says why.
    async fn poisoned(&mut self, part: &[Item], error: &DbErr) -> Result<(), DbErr> {
        let payloads: Vec<_> = part.iter().filter_map(|i| i.payload.as_ref()).collect();
        let states = parts(payloads.iter().copied());
        if states.is_empty() {
            return Ok(());
        }
        let receipt = part.iter().find_map(|i| i.receipt.as_ref());
        let quarantine = Quarantine {
            kind: QuarantineKind::BadValue,
            path: None,
            file_version: None,
            line: None,
            column: None,
            message_id: None,
            reason: format!("the database refused the deposition's records: {error}"),
        };
        let mut attempts = Attempts::new(self.config.give_up_after);
        let letters = loop {
            let written = async {
                let txn = begin(&self.db).await?;
                let mut letters: Vec<DeadLetter> =
                    part.iter().filter_map(|i| i.letter.clone()).collect();
                for state in &states {
                    let mut letter =
                        refusal_letter(state.deposition_id, state.generation, &quarantine, receipt);
                    locate(&mut letter, receipt);
                    letter.payload = serde_json::to_string(&payloads).ok().map(|mut s| {
                        s.truncate(s.floor_char_boundary(64 * 1024));
                        s
                    });
                    letters.push(letter);
                    match state.end {
                        Some(end) => {
                            let end = quarantined_end(end, &quarantine);
                            let known = stored_generations(&txn, &[&end]).await?;
                            if known
                                .get(&end.deposition_id)
                                .is_none_or(|&g| g <= end.generation)
                            {
                                let ending = crate::ends::Ending {
                                    end: &end,
                                    quarantine: Some(&quarantine),
                                    conflicts: &[],
                                    kept: &[],
                                };
                                record_ends(&txn, &[ending], &known).await?;
                            }
                            crate::staging::close(&txn, state.deposition_id, state.generation)
                                .await?;
                        }
                        None => {
                            crate::staging::refuse(
                                &txn,
                                state.deposition_id,
                                state.generation,
                                &quarantine,
                            )
                            .await?
                        }
                    }
                }
                let letters =
                    crate::outbox::write(&txn, letters, self.config.publish_dead_letters).await?;
                txn.commit().await?;
                Ok::<_, DbErr>(letters)
            }
            .await;
            match written {
                Ok(letters) => break letters,
                Err(e) => match attempts.after(&self.db, e).await? {
                    Next::Retry => {}
                    // Recording the quarantine itself is refused: nothing sensible is left.
                    Next::Isolate(e) => return Err(e),
                },
            }
        };
        self.dead_letters_written(&letters);
        // The summary lists it like any quarantined deposition.
        for state in states.iter().filter(|s| s.end.is_some()) {
            if let Some(tx) = &self.reports {
                let _ = tx.send(DepositionReport {
                    deposition_id: state.deposition_id.to_owned(),
                    files: state.end.map_or(0, |e| e.files),
                    counts: RowCounts::default(),
                    quarantine: Some(quarantine.clone()),
                    conflicts: Vec::new(),
                    displaced: Vec::new(),
                    recounts: Vec::new(),
                    kept: Vec::new(),
                    stale: false,
                    generation: state.generation,
                });
            }
        }
        Ok(())
    }
}

/// `end` as recorded when the database refused its deposition.
fn quarantined_end(end: &DepositionEnd, quarantine: &Quarantine) -> DepositionEnd {
    let mut end = end.clone();
    end.outcome = DepositionOutcome::Quarantined(quarantine.clone());
    end
}
