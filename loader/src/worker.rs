//! The loader's bus loop: forms batches that end between depositions where it can, applies
//! each in one transaction (`crate::apply`) under the retry policy (`crate::retry`), sends
//! a batch the database refuses to isolation (`crate::isolate`), and follows rewinds of its
//! stored offsets.

use crate::batch::{locate, Applied, ServerFacts};
use crate::config::{LoaderConfig, BATCH_BYTES};
use crate::item::{weight, Item, TopicPartition};
use crate::offsets::{self, Positions};
use crate::report::DepositionReport;
use crate::retry::{Attempts, Next};
use crate::store::RowCounts;
use msgmig_bus::{Envelope, Receipt, Seekable, Subscriber};
use msgmig_schemas::record::{DeadLetter, DeadLetterReason, RecordsMessage, Stage, SCHEMA_VERSION};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Loads records into the database.
#[derive(Debug)]
pub struct Loader {
    pub(crate) db: DatabaseConnection,
    pub(crate) config: LoaderConfig,
    pub(crate) reports: Option<mpsc::UnboundedSender<DepositionReport>>,
    /// Rows applied (or, in a dry run, that would be) since start, from committed batches only.
    pub(crate) totals: RowCounts,
    /// The offsets this loader stored (to notice a rewind, and to know which are its own).
    pub(crate) positions: Positions,
    /// Read at the first batch.
    pub(crate) facts: Option<ServerFacts>,
    /// The rows-per-second ceiling, when one is set.
    throttle: Option<crate::throttle::Throttle>,
    /// Whether the next batch is presumed to hold only new message ids.
    pub(crate) fresh: crate::fresh::FreshGuess,
    /// Woken after a commit that stored dead letters (the forwarder publishes them).
    outbox_wake: Option<Arc<tokio::sync::Notify>>,
}

/// How long an idle loader waits for input before it looks for rewound offsets and revoked
/// partitions.
const IDLE_CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long a batch that ends inside a deposition waits for the rest of it (the transformer
/// publishes a deposition's records together, then its end marker).
const COMPLETE_WAIT: Duration = Duration::from_millis(200);

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
            reports: None,
            totals: RowCounts::default(),
            positions: Positions::default(),
            facts: None,
            throttle,
            fresh: Default::default(),
            outbox_wake: None,
        }
    }

    /// Sends a [`DepositionReport`] for every finished deposition (progress, summaries).
    pub fn with_reports(mut self, tx: mpsc::UnboundedSender<DepositionReport>) -> Self {
        self.reports = Some(tx);
        self
    }

    /// Wakes `wake` after each commit that stored dead letters, so a forwarder
    /// ([`crate::outbox::forward`]) publishes them without waiting for its next poll.
    pub fn with_outbox_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.outbox_wake = Some(wake);
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
    /// `input.next()` must be cancel-safe: it is awaited under a timeout (idle checks, and the
    /// wait for the rest of a deposition). The in-process and Kafka subscribers are.
    ///
    /// Errors: a database error that is neither an outage (those are waited out) nor a refusal
    /// of the data (isolated and quarantined), e.g. the schema is missing; or an outage longer
    /// than `give_up_after`. The failed batch is not half-applied: its transaction rolled back.
    pub async fn run<S: Subscriber<RecordsMessage> + Seekable>(
        &mut self,
        mut input: S,
    ) -> Result<(), DbErr> {
        loop {
            let first = match tokio::time::timeout(IDLE_CHECK_EVERY, input.next()).await {
                Ok(Some(first)) => first,
                Ok(None) => break,
                Err(_) => {
                    self.idle(&mut input).await?;
                    continue;
                }
            };
            let batch = self.next_batch(&mut input, first).await;
            let receipts: Vec<Receipt> = batch.iter().filter_map(|i| i.receipt.clone()).collect();
            let before = self.totals.rows_written();
            let started = std::time::Instant::now();
            let applied = self.apply_items(batch).await?;
            self.pace(before, started).await;
            match applied {
                None => {
                    msgmig_bus::crash_point!("loader_after_commit");
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

    /// A batch starting with `first`: what is ready now, up to the batch size and
    /// [`BATCH_BYTES`], then, while some deposition in it has not reached its end marker, what
    /// arrives within [`COMPLETE_WAIT`] (up to as much again), so most batches end between
    /// depositions and few records need keeping in the database until their end marker. A
    /// dry run, which keeps nothing, waits for every end marker.
    async fn next_batch<S: Subscriber<RecordsMessage>>(
        &self,
        input: &mut S,
        first: Envelope<RecordsMessage>,
    ) -> Vec<Item> {
        let limit = self.throttle.as_ref().map_or(self.config.batch_size, |t| {
            t.batch_cap().min(self.config.batch_size)
        });
        let mut open: HashSet<(String, i64)> = HashSet::new();
        let mut bytes = 0;
        let mut batch = Vec::new();
        let mut add = |e: Envelope<RecordsMessage>, batch: &mut Vec<Item>, bytes: &mut usize| {
            *bytes += weight(&e.payload);
            match &e.payload {
                RecordsMessage::Message(r) => {
                    open.insert((r.deposition_id.clone(), r.provenance.generation));
                }
                RecordsMessage::DepositionEnd(end) => {
                    open.remove(&(end.deposition_id.clone(), end.generation));
                }
            }
            batch.push(self.item(e));
            !open.is_empty()
        };
        let mut unfinished = add(first, &mut batch, &mut bytes);
        while batch.len() < limit && bytes < BATCH_BYTES {
            match input.try_next() {
                Some(e) => unfinished = add(e, &mut batch, &mut bytes),
                None => break,
            }
        }
        let (cap, cap_bytes) = (2 * limit, 2 * BATCH_BYTES);
        while unfinished && (self.config.dry_run || (batch.len() < cap && bytes < cap_bytes)) {
            let next = match input.try_next() {
                Some(e) => Some(e),
                None if self.config.dry_run => input.next().await,
                None => tokio::time::timeout(COMPLETE_WAIT, input.next())
                    .await
                    .ok()
                    .flatten(),
            };
            match next {
                Some(e) => unfinished = add(e, &mut batch, &mut bytes),
                None => break,
            }
        }
        batch
    }

    /// Waits as the throttle says after a batch.
    async fn pace(&mut self, before: u64, started: std::time::Instant) {
        let Some(throttle) = &mut self.throttle else {
            return;
        };
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

    /// What an idle loader does: forgets revoked partitions, follows a rewind of its stored
    /// offsets, and stores positions the input moved past without a batch.
    async fn idle<S: Seekable>(&mut self, input: &mut S) -> Result<(), DbErr> {
        if let Some(assigned) = input.assignment() {
            self.positions.retain_assigned(&assigned);
        }
        let rewound = self.check_rewind().await;
        if rewound.is_empty() {
            self.store_idle_positions(input).await;
        }
        self.seek_rewound(input, &[], rewound)
    }

    /// Partitions whose stored offset is now below what this loader committed (`msgmig
    /// replay` or a restored backup while it runs). A database error is logged and ignored here:
    /// the next batch runs the same check inside its transaction.
    async fn check_rewind(&self) -> Vec<(TopicPartition, i64)> {
        let Some(group) = &self.config.consumer_group else {
            return Vec::new();
        };
        let partitions = self.positions.partitions();
        if partitions.is_empty() {
            return Vec::new();
        }
        match offsets::stored(&self.db, group, &partitions).await {
            Ok(stored) => self.positions.rewound(&partitions, &stored),
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
            .filter(|(tp, next)| self.positions.get(tp).is_none_or(|mine| *next > mine))
            .collect();
        if ahead.is_empty() {
            return;
        }
        let mine = self.positions.clone();
        let written = self
            .raise_stored(&group, &ahead, |tp, now| now == mine.get(tp))
            .await;
        match written {
            Ok(raised) => self.positions.committed(raised),
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
            self.positions.forget(&tp);
            from.insert(tp, offset);
        }
        for ((topic, partition), offset) in from {
            input
                .seek(&topic, partition, offset)
                .map_err(|e| DbErr::Custom(format!("cannot rewind {topic}/{partition}: {e}")))?;
        }
        Ok(())
    }

    /// Turns an envelope into a batch item; a payload of a newer schema version is refused
    /// here with a dead letter (written with the batch; its offset still advances).
    fn item(&self, envelope: Envelope<RecordsMessage>) -> Item {
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
            locate(&mut letter, envelope.receipt.as_ref());
            letter.payload = serde_json::to_string(&envelope.payload).ok();
            return Item {
                payload: None,
                receipt: envelope.receipt,
                letter: Some(letter),
            };
        }
        Item {
            payload: Some(envelope.payload),
            receipt: envelope.receipt,
            letter: None,
        }
    }

    /// Logs and counts dead letters a committed transaction stored, and wakes the forwarder.
    pub(crate) fn dead_letters_written(&self, letters: &[DeadLetter]) {
        for letter in letters {
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
        }
        if let Some(wake) = &self.outbox_wake {
            wake.notify_one();
        }
    }

    /// Applies one batch (records and end markers in stream order) under the retry policy;
    /// a batch the database refuses, or that keeps failing while the server answers, is
    /// isolated: applied deposition by deposition, and the one that still fails is
    /// quarantined with the database's error (and dead-lettered); the others load.
    ///
    /// Returns `Some(partitions)` when the stored offsets were rewound under this loader.
    pub(crate) async fn apply_items(
        &mut self,
        batch: Vec<Item>,
    ) -> Result<Option<Vec<(TopicPartition, i64)>>, DbErr> {
        match self.apply_with_retries(&batch, true).await? {
            Ok(applied) => Ok(self.finish(applied)),
            Err(e) => {
                tracing::warn!(event = "batch_refused", error = %e, "the database refused a batch: applying it deposition by deposition");
                self.isolate(batch).await?;
                Ok(None)
            }
        }
    }

    /// Applies records and end markers not read from a durable bus (no offsets), as
    /// [`Loader::run`] does with each batch.
    pub async fn apply_batch(&mut self, batch: Vec<RecordsMessage>) -> Result<(), DbErr> {
        let items = batch.into_iter().map(Item::unbound).collect();
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

    /// Applies `batch` until it commits (`Ok(Ok(_))`), or the policy sends it to isolation
    /// (`Ok(Err(error))`). Errors: see [`Attempts::after`].
    pub(crate) async fn apply_with_retries(
        &mut self,
        batch: &[Item],
        offsets: bool,
    ) -> Result<Result<Applied, DbErr>, DbErr> {
        let mut attempts = Attempts::new(self.config.give_up_after);
        loop {
            let applied = match self.config.give_up_after {
                None => self.try_apply(batch, offsets).await,
                Some(limit) => {
                    let bound = limit.max(Duration::from_secs(60));
                    tokio::time::timeout(bound, self.try_apply(batch, offsets))
                        .await
                        .unwrap_or_else(|_| Err(crate::faults::no_answer(bound)))
                }
            };
            match applied {
                Ok(applied) => {
                    crate::metrics::DB_UP.set(1);
                    return Ok(Ok(applied));
                }
                Err(e) => match attempts.after(&self.db, e).await? {
                    Next::Retry => {}
                    Next::Isolate(e) => return Ok(Err(e)),
                },
            }
        }
    }
}
