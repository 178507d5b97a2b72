//! The loader's bus loop: batches records, applies each batch in one transaction
//! ([`crate::apply`]), retries through outages, isolates poison records, and reports each
//! deposition's outcome at its end marker.

use crate::apply::Applied;
use crate::config::{LoaderConfig, BATCH_BYTES};
use crate::faults::{is_content_error, is_outage, is_transient, locate, no_answer, Outage};
use crate::offsets::{self, TopicPartition};
use crate::store::RowCounts;
use msgmig_bus::{Receipt, Seekable, Subscriber};
use msgmig_schemas::record::{
    DeadLetter, DeadLetterReason, Quarantine, RecordsMessage, Stage, SCHEMA_VERSION,
};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::mpsc;

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
    /// Message ids this deposition took over from another one that had loaded them first
    /// (the ownership rule of [`crate::plan::outranks`]): (message_id, displaced deposition).
    /// The displaced deposition is the one in conflict.
    pub displaced: Vec<(String, String)>,
    /// The marker was older than the stored state (a stale replay): nothing recorded.
    pub stale: bool,
    /// Newest file mtime (ns) of the deposition's state (freshness is measured from it).
    pub generation: i64,
}

/// What a deposition's records did so far (its end marker not yet applied).
#[derive(Debug, Clone, Default)]
pub(crate) struct OpenDeposition {
    pub counts: RowCounts,
    /// (message_id, owner) of ids it could not have.
    pub conflicts: Vec<(String, String)>,
    /// (message_id, displaced deposition) of ids it took over.
    pub displaced: Vec<(String, String)>,
}

/// One consumed payload and where it came from. `payload` is `None` for an input that was
/// dead-lettered before loading (its offset still counts as consumed).
#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub payload: Option<RecordsMessage>,
    pub receipt: Option<Receipt>,
}

/// Roughly what a record weighs in a batch, in bytes: its text columns plus a row's overhead.
fn weight(payload: &RecordsMessage) -> usize {
    match payload {
        RecordsMessage::Message(r) => {
            r.message.message_text.len() + r.message.message_subject.len() + 512
        }
        RecordsMessage::DepositionEnd(_) => 256,
    }
}

/// Loads records into the database.
#[derive(Debug)]
pub struct Loader {
    pub(crate) db: DatabaseConnection,
    pub(crate) config: LoaderConfig,
    /// Per deposition, what its records did, accumulated until its end marker.
    pub(crate) open: HashMap<String, OpenDeposition>,
    pub(crate) reports: Option<mpsc::UnboundedSender<DepositionReport>>,
    dead_letters: Option<mpsc::Sender<DeadLetter>>,
    /// Rows applied (or, in a dry run, that would be) since start, from committed batches only.
    pub(crate) totals: RowCounts,
    /// The next offsets this loader itself committed, per partition (to notice a rewind).
    pub(crate) committed_next: BTreeMap<TopicPartition, i64>,
    /// The server's largest packet (bytes), read at the first batch.
    pub(crate) packet_limit: Option<usize>,
    /// The layout of the origcomm table, read at the first batch.
    pub(crate) origcomm_layout: Option<msgmig_schemas::db::upstream_origcomm::OrigcommLayout>,
    /// Depositions withheld for a row too large for the server, until their end marker
    /// records them as quarantined.
    pub(crate) refused: HashMap<String, Quarantine>,
    /// The rows-per-second ceiling, when one is set.
    throttle: Option<crate::throttle::Throttle>,
    /// Whether the next batch is presumed to hold only new message ids.
    pub(crate) fresh: crate::fresh::FreshGuess,
}

/// How often an idle loader looks for rewound offsets.
const REWIND_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Longest pause between two attempts while the database is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(15);

impl Loader {
    pub fn new(db: DatabaseConnection, config: LoaderConfig) -> Self {
        LazyLock::force(&crate::metrics::STARTED_NS);
        let throttle = match (config.max_rows_per_second, config.adaptive_throttle) {
            (None, false) => None,
            (rate, adaptive) => {
                let t =
                    crate::throttle::Throttle::new(rate.unwrap_or(1e9), std::time::Instant::now());
                Some(if adaptive {
                    t.adaptive()
                        .with_threads_limit(config.adaptive_threads_running)
                } else {
                    t
                })
            }
        };
        Loader {
            db,
            config,
            open: HashMap::new(),
            reports: None,
            dead_letters: None,
            totals: RowCounts::default(),
            committed_next: BTreeMap::new(),
            packet_limit: None,
            origcomm_layout: None,
            refused: HashMap::new(),
            throttle,
            fresh: Default::default(),
        }
    }

    /// Reports a message withheld for its size (dead letter with size and limit).
    pub(crate) async fn refuse_row(
        &self,
        deposition_id: String,
        q: Quarantine,
        receipt: Option<&Receipt>,
    ) {
        let mut letter = DeadLetter::new(
            Stage::Loader,
            DeadLetterReason::DatabaseRejected,
            format!("{}: {}", q.kind.as_str(), q.reason),
        );
        letter.deposition_id = Some(deposition_id);
        letter.path = q.path;
        letter.file_version = q.file_version;
        letter.message_id = q.message_id;
        locate(&mut letter, receipt);
        self.dead_letter(letter).await;
    }

    /// Sends a [`DepositionReport`] for every finished deposition (progress, summaries).
    pub fn with_reports(mut self, tx: mpsc::UnboundedSender<DepositionReport>) -> Self {
        self.reports = Some(tx);
        self
    }

    /// Sends a [`DeadLetter`] for every record the database refuses (poison) or that has a
    /// payload version this build does not know. Without it, such a batch is an error.
    pub fn with_dead_letters(mut self, tx: mpsc::Sender<DeadLetter>) -> Self {
        self.dead_letters = Some(tx);
        self
    }

    /// Rows written by committed batches (file-reference reconciliation included).
    pub fn totals(&self) -> &RowCounts {
        &self.totals
    }

    /// How often this loader wrote a batch as all new, and how often that was refuted
    /// (see `fresh.rs`).
    pub fn fresh_stats(&self) -> crate::FreshStats {
        self.fresh.stats()
    }

    /// Consumes until the input closes; each batch is one transaction, acknowledged to the
    /// input after it committed.
    ///
    /// Errors: a database error that is neither an outage (those are retried until the database
    /// is back) nor a poison record (dead-lettered when a dead-letter channel is set), e.g. the
    /// schema is missing. The failed batch is not half-applied: its transaction rolled back.
    pub async fn run<S: Subscriber<RecordsMessage> + Seekable>(
        &mut self,
        mut input: S,
    ) -> Result<(), DbErr> {
        let mut tick = tokio::time::interval(REWIND_CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                next = input.next() => match next {
                    Some(first) => first,
                    None => break,
                },
                _ = tick.tick() => {
                    // Idle at the end of the topic: a replay must still be noticed.
                    let rewound = self.check_rewind().await;
                    if rewound.is_empty() {
                        self.store_idle_positions(&input).await;
                    }
                    self.seek_rewound(&mut input, &[], rewound)?;
                    continue;
                }
            };
            let mut bytes = weight(&first.payload);
            let mut batch = vec![self.item(first).await];
            let limit = self.throttle.as_ref().map_or(self.config.batch_size, |t| {
                t.batch_cap().min(self.config.batch_size)
            });
            while batch.len() < limit && bytes < BATCH_BYTES {
                match input.try_next() {
                    Some(e) => {
                        bytes += weight(&e.payload);
                        batch.push(self.item(e).await);
                    }
                    None => break,
                }
            }
            let receipts: Vec<Receipt> = batch.iter().filter_map(|i| i.receipt.clone()).collect();
            let before = self.totals.rows_written();
            let started = std::time::Instant::now();
            let applied = self.apply_items(batch).await?;
            if let Some(throttle) = &mut self.throttle {
                let rows = self.totals.rows_written().saturating_sub(before);
                let seconds = started.elapsed().as_secs_f64();
                let others = if self.config.adaptive_throttle {
                    crate::limits::others_running(&self.db).await
                } else {
                    None
                };
                throttle.observe(rows, seconds, others);
                crate::metrics::THROTTLE_RATE.set(throttle.rate());
                if let Some(n) = throttle.others_running() {
                    crate::metrics::SERVER_THREADS_RUNNING.set(n);
                }
                let wait = throttle.after(rows, std::time::Instant::now());
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            match applied {
                None => {
                    msgmig_bus::failpoint::hit("loader_after_commit");
                    if let Err(e) = input.ack(&receipts) {
                        // The database holds the offsets that count; Kafka's serve lag only.
                        tracing::warn!(event = "ack_failed", error = %e);
                    }
                }
                Some(rewound) => self.seek_rewound(&mut input, &receipts, rewound)?,
            }
        }
        // Input done: close the report channel so its reader sees the end.
        self.reports = None;
        Ok(())
    }

    /// Partitions whose stored offset is now below what this loader committed (`msgmig
    /// replay` or a restored backup while it runs). A database error is logged and ignored here:
    /// the next batch runs the same check inside its transaction.
    async fn check_rewind(&self) -> Vec<(TopicPartition, i64)> {
        let Some(group) = &self.config.consumer_group else {
            return Vec::new();
        };
        if self.committed_next.is_empty() {
            return Vec::new();
        }
        let partitions: Vec<TopicPartition> = self.committed_next.keys().cloned().collect();
        match offsets::stored(&self.db, group, &partitions).await {
            Ok(stored) => partitions
                .into_iter()
                .filter_map(|tp| {
                    let now = stored.get(&tp).copied().unwrap_or(0);
                    (now < self.committed_next[&tp]).then_some((tp, now))
                })
                .collect(),
            Err(e) => {
                tracing::debug!(event = "rewind_check_failed", error = %e);
                Vec::new()
            }
        }
    }

    /// Stores positions the input moved past without a batch (payloads it rejected itself), so
    /// they do not show as lag. Only raises offsets this loader owns: a stored value that is not
    /// the one it last wrote belongs to someone else (a rebalance, a replay) and is left alone.
    async fn store_idle_positions<S: Seekable>(&mut self, input: &S) {
        let Some(group) = self.config.consumer_group.clone() else {
            return;
        };
        let ahead: BTreeMap<TopicPartition, i64> = input
            .positions()
            .into_iter()
            .map(|r| ((r.topic, r.partition), r.offset))
            .filter(|(tp, next)| self.committed_next.get(tp).is_none_or(|mine| next > mine))
            .collect();
        if ahead.is_empty() {
            return;
        }
        let mine = self.committed_next.clone();
        // Only offsets this loader wrote last are its own to raise.
        let written = self
            .raise_stored(&group, &ahead, |tp, now| now == mine.get(tp).copied())
            .await;
        match written {
            Ok(raised) => self.committed_next.extend(raised),
            Err(e) => tracing::debug!(event = "idle_offsets_not_stored", error = %e),
        }
    }

    /// Resumes consumption after a rewind: rewound partitions from their stored offset, the
    /// other partitions of an unapplied batch (`receipts`) from their first item in it.
    fn seek_rewound<S: Seekable>(
        &mut self,
        input: &mut S,
        receipts: &[Receipt],
        rewound: Vec<(TopicPartition, i64)>,
    ) -> Result<(), DbErr> {
        let mut from: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for r in receipts {
            let e = from
                .entry((r.topic.clone(), r.partition))
                .or_insert(r.offset);
            *e = (*e).min(r.offset);
        }
        for (tp, offset) in rewound {
            tracing::warn!(event = "offsets_rewound", topic = %tp.0, partition = tp.1, offset,
                "stored offsets were lowered (replay or restored backup): re-applying from there");
            self.committed_next.remove(&tp);
            from.insert(tp, offset);
        }
        for ((topic, partition), offset) in from {
            input
                .seek(&topic, partition, offset)
                .map_err(|e| DbErr::Custom(format!("cannot rewind {topic}/{partition}: {e}")))?;
        }
        Ok(())
    }

    /// Turns an envelope into a batch item; a payload of a newer schema version is
    /// dead-lettered here (its offset still advances with the batch).
    async fn item(&self, envelope: msgmig_bus::Envelope<RecordsMessage>) -> Item {
        let version = match &envelope.payload {
            RecordsMessage::Message(r) => r.schema_version,
            RecordsMessage::DepositionEnd(e) => e.schema_version,
        };
        if version > SCHEMA_VERSION {
            let mut letter = DeadLetter::new(
                Stage::Loader,
                DeadLetterReason::BadPayload,
                format!("schema_version {version} is newer than this msgmig understands ({SCHEMA_VERSION}): upgrade msgmig"),
            );
            letter.deposition_id = Some(envelope.payload.deposition_id().to_owned());
            locate(&mut letter, envelope.receipt.as_ref());
            letter.payload = serde_json::to_string(&envelope.payload).ok();
            self.dead_letter(letter).await;
            return Item {
                payload: None,
                receipt: envelope.receipt,
            };
        }
        Item {
            payload: Some(envelope.payload),
            receipt: envelope.receipt,
        }
    }

    pub(crate) async fn dead_letter(&self, letter: DeadLetter) {
        tracing::error!(
            event = "dead_letter",
            stage = "loader",
            reason = letter.reason.as_str(),
            deposition_id = letter.deposition_id.as_deref().unwrap_or(""),
            "{}",
            letter.detail
        );
        crate::metrics::DEAD_LETTERS
            .with_label_values(&[letter.reason.as_str()])
            .inc();
        if let Some(tx) = &self.dead_letters {
            if tx.send(letter).await.is_err() {
                tracing::error!(event = "dead_letter_channel_closed");
            }
        }
    }

    /// Applies one batch (records and end markers in stream order), retrying transient errors:
    /// an unreachable database pauses the loader until it is back (never dead-letters);
    /// deadlocks and id races are replanned a few times. A batch the database refuses for its
    /// content is split per deposition (in every mode, embedded or Kafka), and the refused
    /// deposition is quarantined with the database's error (and dead-lettered over Kafka);
    /// the others load.
    ///
    /// Returns `Some(partitions)` when the stored offsets were rewound under this loader.
    pub(crate) async fn apply_items(
        &mut self,
        batch: Vec<Item>,
    ) -> Result<Option<Vec<(TopicPartition, i64)>>, DbErr> {
        match self.apply_with_retries(&batch, true).await {
            Ok(applied) => Ok(self.finish(applied)),
            Err(e) if is_content_error(&e) => {
                tracing::warn!(event = "batch_refused", error = %e, "the database refused a batch: applying it deposition by deposition");
                self.isolate(batch).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Applies records and end markers not read from a durable bus (no offsets), as
    /// [`Loader::run`] does with each batch.
    pub async fn apply_batch(&mut self, batch: Vec<RecordsMessage>) -> Result<(), DbErr> {
        let items = batch
            .into_iter()
            .map(|payload| Item {
                payload: Some(payload),
                receipt: None,
            })
            .collect();
        self.apply_items(items).await.map(|_| ())
    }

    pub(crate) fn finish(&mut self, applied: Applied) -> Option<Vec<(TopicPartition, i64)>> {
        match applied {
            Applied::Done(reports) => {
                for report in reports {
                    if let Some(tx) = &self.reports {
                        let _ = tx.send(report);
                    }
                }
                None
            }
            Applied::Rewound(r) => Some(r),
        }
    }

    pub(crate) async fn apply_with_retries(
        &mut self,
        batch: &[Item],
        offsets: bool,
    ) -> Result<Applied, DbErr> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 0;
        let mut outage = Outage::default();
        loop {
            attempt += 1;
            let applied = match self.config.give_up_after {
                None => self.try_apply(batch, offsets).await,
                Some(limit) => {
                    let bound = limit.max(Duration::from_secs(60));
                    tokio::time::timeout(bound, self.try_apply(batch, offsets))
                        .await
                        .unwrap_or_else(|_| Err(no_answer(bound)))
                }
            };
            match applied {
                Ok(applied) => {
                    crate::metrics::DB_UP.set(1);
                    return Ok(applied);
                }
                Err(e) if is_outage(&e) => {
                    crate::metrics::DB_RETRIES.inc();
                    crate::metrics::DB_UP.set(0);
                    tracing::warn!(event = "db_unavailable", attempt, retry_in_s = delay.as_secs_f64(), error = %e,
                        "database unreachable: pausing, the batch will be applied when it is back");
                    outage.wait(self.config.give_up_after, delay, e).await?;
                    delay = (delay * 2).min(MAX_BACKOFF);
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
}
