//! Isolating a batch the database refused for its content (architecture.md §3, "nothing
//! lost"; issue 10 §3): each deposition's part is applied on its own, the refused one is
//! quarantined with the database's error (and dead-lettered over Kafka), the others load, in
//! every mode. Parts commit without offsets, so a part with lower offsets than an earlier one
//! (depositions interleaved on a partition, A B A) never falls below a fence the earlier part
//! raised; the batch's offsets are stored once, after every part.

use crate::ends::{record_ends, stored_generations};
use crate::faults::{is_content_error, is_outage, is_transient, locate, split_by_deposition};
use crate::offsets::{self, TopicPartition};
use crate::store::RowCounts;
use crate::worker::{DepositionReport, Item, Loader};
use msgmig_schemas::record::{
    DeadLetter, DeadLetterReason, DepositionEnd, DepositionOutcome, Quarantine, QuarantineKind,
    RecordsMessage, Stage, SCHEMA_VERSION,
};
use sea_orm::{DbErr, TransactionTrait};
use std::collections::BTreeMap;
use std::time::Duration;

impl Loader {
    /// Applies a refused batch deposition by deposition, then stores its offsets.
    pub(crate) async fn isolate(&mut self, batch: Vec<Item>) -> Result<(), DbErr> {
        let next = crate::apply::next_offsets(&batch);
        for part in split_by_deposition(batch) {
            match self.apply_with_retries(&part, false).await {
                Ok(applied) => {
                    self.finish(applied);
                }
                Err(e) if is_content_error(&e) => self.poisoned(&part, &e).await?,
                Err(e) => return Err(e),
            }
        }
        self.store_offsets(next).await
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
        let txn = self.db.begin().await?;
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

    /// Stores the consumed offsets of an isolated batch (only raising what is stored), retrying
    /// through an outage.
    async fn store_offsets(&mut self, next: BTreeMap<TopicPartition, i64>) -> Result<(), DbErr> {
        let Some(group) = self.config.consumer_group.clone() else {
            return Ok(());
        };
        if self.config.dry_run || next.is_empty() {
            return Ok(());
        }
        let mut outage = crate::faults::Outage::default();
        loop {
            let written = self.raise_stored(&group, &next, |_, _| true).await;
            match written {
                Ok(raised) => {
                    self.committed_next.extend(raised);
                    return Ok(());
                }
                Err(e) if is_outage(&e) => {
                    outage
                        .wait(self.config.give_up_after, Duration::from_secs(1), e)
                        .await?
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Dead-letters one deposition's items the database refused, and records it as quarantined
    /// (with the consumed offsets) so it is visible in `verify`/`status` and not retried forever.
    async fn poisoned(&mut self, part: &[Item], error: &DbErr) -> Result<(), DbErr> {
        let Some(first) = part.iter().find_map(|i| i.payload.as_ref()) else {
            return Ok(());
        };
        let deposition_id = first.deposition_id().to_owned();
        let detail = format!("the database refused the deposition's records: {error}");
        let mut letter =
            DeadLetter::new(Stage::Loader, DeadLetterReason::DatabaseRejected, &detail);
        letter.deposition_id = Some(deposition_id.clone());
        locate(&mut letter, part.iter().find_map(|i| i.receipt.as_ref()));
        let payloads: Vec<&RecordsMessage> =
            part.iter().filter_map(|i| i.payload.as_ref()).collect();
        letter.payload = serde_json::to_string(&payloads).ok().map(|mut s| {
            s.truncate(s.floor_char_boundary(64 * 1024));
            s
        });
        self.dead_letter(letter).await;
        let generation = part
            .iter()
            .filter_map(|i| match &i.payload {
                Some(RecordsMessage::Message(r)) => Some(r.provenance.generation),
                Some(RecordsMessage::DepositionEnd(e)) => Some(e.generation),
                None => None,
            })
            .max()
            .unwrap_or(0);
        let quarantine = Quarantine {
            kind: QuarantineKind::BadValue,
            path: None,
            file_version: None,
            line: None,
            column: None,
            message_id: None,
            reason: detail,
        };
        let end = DepositionEnd {
            schema_version: SCHEMA_VERSION,
            deposition_id: deposition_id.clone(),
            generation,
            files: 0,
            file_states: Vec::new(),
            messages: 0,
            outcome: DepositionOutcome::Quarantined(quarantine.clone()),
        };
        self.open.remove(&deposition_id);
        let mut outage = crate::faults::Outage::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let txn = self.db.begin().await?;
            let written = async {
                let known = stored_generations(&txn, &[&end]).await?;
                record_ends(&txn, &[(&end, Some(&quarantine), &[])], &known).await?;
                txn.commit().await
            }
            .await;
            match written {
                Ok(()) => break,
                Err(e) if is_outage(&e) => {
                    outage
                        .wait(self.config.give_up_after, Duration::from_secs(1), e)
                        .await?
                }
                // Another loader's bookkeeping of other depositions can deadlock with this
                // one (seen with two loaders on MariaDB): retried like a batch.
                Err(e) if attempt < 5 && is_transient(&e) => {
                    crate::metrics::DB_RETRIES.inc();
                    tracing::warn!(event = "db_retry", attempt, error = %e, "database error, retrying the quarantine record");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
        // The summary lists it like any quarantined deposition.
        if let Some(tx) = &self.reports {
            let _ = tx.send(DepositionReport {
                deposition_id,
                files: 0,
                counts: RowCounts::default(),
                quarantine: Some(quarantine),
                conflicts: Vec::new(),
                displaced: Vec::new(),
                stale: false,
                generation,
            });
        }
        Ok(())
    }
}
