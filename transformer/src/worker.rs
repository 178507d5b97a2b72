//! The transformer's bus loop.

use crate::build::{build_records, DepositionRecords};
use crate::read::{read_deposition, ReadError};
use crate::schedule::Schedule;
use crate::validate::{check_events, Refusal};
use msgmig_bus::{BusError, Envelope, Publisher, Receipt, Subscriber};
use msgmig_schemas::record::{
    DeadLetter, DeadLetterReason, DepositionEnd, DepositionOutcome, FileEvent, Quarantine,
    QuarantineKind, RecordsMessage, Stage, SCHEMA_VERSION,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Counters of the transformer (monotonically increasing).
#[derive(Debug, Default)]
pub struct TransformStats {
    pub depositions: AtomicU64,
    pub quarantined: AtomicU64,
    pub files: AtomicU64,
    pub empty_files: AtomicU64,
    pub records: AtomicU64,
    pub warnings: AtomicU64,
    /// File events refused as untrusted input (dead-lettered).
    pub refused_events: AtomicU64,
}

/// Transforms depositions named by file events into records.
#[derive(Debug)]
pub struct Transformer {
    root: PathBuf,
    parallelism: usize,
    /// Quiet period per deposition before it is transformed.
    debounce: std::time::Duration,
    /// The input holds each deposition's events back to back (a one-shot walk): a deposition
    /// is ready when an event of another one arrives or the input ends, never by a timer.
    grouped: bool,
    /// How often consumed events are acknowledged (after their records are durable).
    checkpoint_every: std::time::Duration,
    dead_letters: Option<msgmig_bus::delivery::DeliveryQueue<DeadLetter>>,
    stats: Arc<TransformStats>,
}

/// File events checked in one trip to a blocking thread, at most.
const CHECK_BATCH: usize = 512;

/// How long a deposition quarantined as unreadable waits before the transformer reads it again
/// in continuous mode (issue 10 §7: an NFS error that outlasts the read retries), unless
/// `MSGMIG_UNREADABLE_RETRY_SECS` says otherwise.
fn unreadable_retry() -> std::time::Duration {
    let secs = std::env::var("MSGMIG_UNREADABLE_RETRY_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(60.0);
    std::time::Duration::from_secs_f64(secs.max(0.1))
}

/// True when the deposition could not be read (an I/O error, not a content problem).
fn unreadable(r: &DepositionRecords) -> bool {
    r.quarantine
        .as_ref()
        .is_some_and(|q| q.kind == QuarantineKind::Unreadable)
}

/// Quarantines the whole deposition (nothing of it is published) when one of its records
/// encodes to more than `limit` bytes, the bus's largest payload: a record that cannot be
/// delivered must become a listed quarantine, never a worker failure (issue 13 §6).
fn withhold_oversized(r: &mut DepositionRecords, limit: usize) {
    if r.quarantine.is_some() {
        return;
    }
    let oversized = r.records.iter().find_map(|record| {
        let size = crate::size::encoded_len_if_over(record, limit)?;
        Some((record, size))
    });
    if let Some((record, size)) = oversized {
        r.quarantine = Some(Quarantine {
            kind: QuarantineKind::RecordTooLarge,
            path: Some(record.provenance.source_path.clone()),
            file_version: Some(record.provenance.file_version),
            line: None,
            column: None,
            message_id: Some(record.message.message_id.clone()),
            reason: format!(
                "the message's record is {size} bytes; the records topic takes at most {limit} bytes (max.message.bytes)"
            ),
        });
        r.records.clear();
    }
}

/// Reads and builds one deposition (blocking: run it off the async reactor).
pub fn transform_deposition(root: &std::path::Path, deposition_id: &str) -> DepositionRecords {
    match read_deposition(root, deposition_id) {
        Ok(files) => build_records(deposition_id, &files),
        Err((path, e, generation)) => DepositionRecords {
            deposition_id: deposition_id.to_owned(),
            generation,
            files: 0,
            file_states: Vec::new(),
            empty_files: 0,
            records: Vec::new(),
            warnings: Vec::new(),
            quarantine: Some(Quarantine {
                kind: match e {
                    ReadError::NotRegular(_) => QuarantineKind::NotRegularFile,
                    ReadError::Io(_) => QuarantineKind::Unreadable,
                },
                path,
                file_version: None,
                line: None,
                column: None,
                message_id: None,
                reason: e.to_string(),
            }),
        },
    }
}

impl Transformer {
    /// A transformer reading files under `root`, transforming up to `parallelism` depositions
    /// at once (CPU-bound parsing runs on blocking threads).
    pub fn new(root: impl Into<PathBuf>, parallelism: usize) -> Self {
        Transformer {
            root: root.into(),
            parallelism: parallelism.max(1),
            debounce: std::time::Duration::from_millis(20),
            grouped: false,
            checkpoint_every: std::time::Duration::from_secs(1),
            dead_letters: None,
            stats: Arc::default(),
        }
    }

    /// Sets the quiet period per deposition (default 20 ms: enough to merge the events of one
    /// scan of a folder; continuous mode uses more to merge a burst of writes).
    pub fn with_debounce(mut self, debounce: std::time::Duration) -> Self {
        self.debounce = debounce;
        self
    }

    /// For an input that holds each deposition's events back to back, as a one-shot walk
    /// publishes them (the scanner's `run_once` on the in-process bus): each deposition
    /// is then transformed exactly once, whatever the timing, so a one-shot run's summary
    /// counts every deposition and file once (issue 10 §9). A timer debounce could split a
    /// deposition whose second event arrives late (a full channel) into two transformations.
    pub fn with_grouped_input(mut self) -> Self {
        self.grouped = true;
        self
    }

    /// Sends a [`DeadLetter`] for every refused event and quarantined deposition (a bounded
    /// queue: a full one pauses the transformer). The events behind them are acknowledged only
    /// once the queue's deliverer says they are delivered.
    pub fn with_dead_letters(
        mut self,
        tx: msgmig_bus::delivery::DeliveryQueue<DeadLetter>,
    ) -> Self {
        self.dead_letters = Some(tx);
        self
    }

    async fn dead_letter(&self, letter: DeadLetter) {
        crate::metrics::DEAD_LETTERS
            .with_label_values(&[letter.reason.as_str()])
            .inc();
        if let Some(tx) = &self.dead_letters {
            if tx.send(letter).await.is_err() {
                tracing::error!(event = "dead_letter_channel_closed");
            }
        }
    }

    /// Waits until the dead letters sent so far are delivered. Errors: the deliverer stopped
    /// (the events behind them must stay unacknowledged).
    async fn dead_letters_delivered(&self) -> Result<(), BusError> {
        match &self.dead_letters {
            Some(tx) if !tx.delivered().await => Err(BusError::Closed),
            _ => Ok(()),
        }
    }

    pub fn stats(&self) -> Arc<TransformStats> {
        self.stats.clone()
    }

    /// Consumes file events until the input closes.
    ///
    /// Debounce: a deposition is transformed once no event for it arrived for `debounce` (a
    /// burst of writes becomes one transformation), or as soon as all the events the scanner
    /// published together for it arrived ([`FileEvent::group_len`]). An event for a deposition
    /// that is being transformed schedules it again (the files may have changed after they were
    /// read). Output order per deposition: records, then its marker; finished work is published
    /// as soon as it is ready. `input.next()` must be cancel-safe (bounded channels and rdkafka
    /// streams are).
    ///
    /// Acknowledgement: an event is acked (its offset may be committed) only after the records
    /// of its deposition were published *and* flushed, and every dead letter sent so far was
    /// delivered, at most every `checkpoint_every` (1 s): a crash re-delivers at most that much
    /// work, which transforms to the same records. Events that fail the event checks are
    /// dead-lettered, then acked the same way.
    pub async fn run<S, P>(&self, mut input: S, output: &P) -> Result<(), BusError>
    where
        S: Subscriber<FileEvent>,
        P: Publisher<RecordsMessage>,
    {
        use std::collections::{BTreeMap, HashMap, HashSet};
        use tokio::time::Instant;
        let mut pending: JoinSet<(u64, DepositionRecords)> = JoinSet::new();
        let mut done: BTreeMap<u64, DepositionRecords> = BTreeMap::new();
        let (mut next_seq, mut next_out) = (0u64, 0u64);
        let mut in_flight: HashSet<String> = HashSet::new();
        let mut schedule = Schedule::default();
        let mut input_open = true;
        // Grouped input: the deposition whose events are arriving, not yet queued.
        let mut open_group: Option<String> = None;
        // Receipts of the events behind each waiting deposition, each transformation (by
        // sequence number), and those whose records are published but not yet flushed.
        let mut receipts: HashMap<String, Vec<Receipt>> = HashMap::new();
        let mut receipts_of: HashMap<u64, Vec<Receipt>> = HashMap::new();
        let mut to_ack: Vec<Receipt> = Vec::new();
        let mut last_checkpoint = Instant::now();
        // Depositions quarantined as unreadable while the input is live (continuous mode): read
        // again after UNREADABLE_RETRY, since the scanner will not publish unchanged files again.
        let mut retries: Vec<(Instant, String)> = Vec::new();
        loop {
            let now = Instant::now();
            retries.retain(|(due, id)| {
                if *due > now || !input_open {
                    return *due > now && input_open;
                }
                if !schedule.contains(id) {
                    schedule.at_once(id.clone(), now);
                }
                false
            });
            // Start every deposition whose quiet period is over (or all, once input is done).
            while let Some(id) = schedule.pop_due(Instant::now(), !input_open) {
                if in_flight.contains(&id) {
                    // Still being transformed: try again after it finishes.
                    schedule.later(id, Instant::now() + self.debounce);
                    break;
                }
                // Bounded memory: finished depositions waiting for an earlier, slower one to be
                // published count against the limit too (a slow NFS read must not let the
                // others pile up).
                while pending.len() + done.len() >= self.parallelism * 4
                    || pending.len() >= self.parallelism
                {
                    let (seq, r) = pending
                        .join_next()
                        .await
                        .expect("non-empty")
                        .expect("transform task does not panic");
                    in_flight.remove(&r.deposition_id);
                    if input_open && unreadable(&r) {
                        retries
                            .push((Instant::now() + unreadable_retry(), r.deposition_id.clone()));
                    }
                    done.insert(seq, r);
                    for seq in self.flush(&mut done, &mut next_out, output).await? {
                        to_ack.extend(receipts_of.remove(&seq).unwrap_or_default());
                    }
                }
                let root = self.root.clone();
                let seq = next_seq;
                next_seq += 1;
                in_flight.insert(id.clone());
                receipts_of.insert(seq, receipts.remove(&id).unwrap_or_default());
                pending.spawn_blocking(move || (seq, transform_deposition(&root, &id)));
            }
            if !to_ack.is_empty()
                && (!input_open || last_checkpoint.elapsed() >= self.checkpoint_every)
            {
                output.flush().await?;
                // A refused event, a quarantined deposition: its dead letter is durable first.
                self.dead_letters_delivered().await?;
                msgmig_bus::crash_point!("transformer_before_ack");
                if let Err(e) = input.ack(&to_ack) {
                    tracing::error!(event = "ack_failed", error = %e, "file events stay unacknowledged: a restart re-transforms them (harmless)");
                }
                to_ack.clear();
                last_checkpoint = Instant::now();
            }
            if !input_open && schedule.is_empty() && pending.is_empty() {
                break;
            }
            let next_deadline = schedule
                .next_due()
                .into_iter()
                .chain(retries.iter().map(|(d, _)| *d))
                .min();
            let checkpoint_at = last_checkpoint + self.checkpoint_every;
            tokio::select! {
                finished = pending.join_next(), if !pending.is_empty() => {
                    let (seq, r) = finished.expect("non-empty").expect("transform task does not panic");
                    in_flight.remove(&r.deposition_id);
                    if input_open && unreadable(&r) {
                        retries.push((Instant::now() + unreadable_retry(), r.deposition_id.clone()));
                    }
                    done.insert(seq, r);
                    for seq in self.flush(&mut done, &mut next_out, output).await? {
                        to_ack.extend(receipts_of.remove(&seq).unwrap_or_default());
                    }
                }
                () = tokio::time::sleep_until(checkpoint_at), if !to_ack.is_empty() => {}
                () = tokio::time::sleep_until(next_deadline.unwrap_or_else(Instant::now)), if next_deadline.is_some() && input_open => {}
                event = input.next(), if input_open => {
                    let Some(first) = event else {
                        input_open = false;
                        if let Some(id) = open_group.take() {
                            schedule.at_once(id, Instant::now());
                        }
                        continue;
                    };
                    // The events already here are checked in one trip off the reactor (resolving
                    // symlinks touches the file system, NFS at the sites): one trip per event
                    // held this loop for 3.4 s of a 20,000-deposition backfill (issue 13 §5).
                    let mut events = vec![first];
                    while events.len() < CHECK_BATCH {
                        match input.try_next() {
                            Some(e) => events.push(e),
                            None => break,
                        }
                    }
                    let root = self.root.clone();
                    let (events, verdicts) = tokio::task::spawn_blocking(move || {
                        let verdicts = check_events(&root, events.iter().map(|e| &e.payload));
                        (events, verdicts)
                    })
                    .await
                    .expect("event check does not panic");
                    for (event, verdict) in events.into_iter().zip(verdicts) {
                        if let Err(refusal) = verdict {
                            self.refuse(&event, &refusal).await;
                            to_ack.extend(event.receipt);
                            continue;
                        }
                        let (id, group_len) = (event.payload.deposition_id, event.payload.group_len);
                        receipts.entry(id.clone()).or_default().extend(event.receipt);
                        if self.grouped {
                            if open_group.as_ref() != Some(&id) {
                                if let Some(done) = open_group.replace(id) {
                                    schedule.at_once(done, Instant::now());
                                }
                            }
                            continue;
                        }
                        schedule.after_event(id, group_len, Instant::now(), self.debounce);
                    }
                }
            }
        }
        self.flush(&mut done, &mut next_out, output).await?;
        output.flush().await
    }

    /// Dead-letters a refused event.
    async fn refuse(&self, event: &Envelope<FileEvent>, refusal: &Refusal) {
        self.stats.refused_events.fetch_add(1, Ordering::Relaxed);
        tracing::error!(event = "file_event_refused", file_path = %event.payload.path, reason = %refusal);
        let reason = match refusal {
            Refusal::SchemaVersion(_) => DeadLetterReason::BadPayload,
            Refusal::BadPath(_) => DeadLetterReason::BadPath,
        };
        let mut letter = DeadLetter::new(Stage::Transformer, reason, refusal.to_string());
        letter.path = Some(event.payload.path.clone());
        letter.file_version = Some(event.payload.version);
        if let Some(r) = &event.receipt {
            letter.source_topic = Some(r.topic.clone());
            letter.source_partition = Some(r.partition);
            letter.source_offset = Some(r.offset);
        }
        letter.payload = serde_json::to_string(&event.payload).ok();
        self.dead_letter(letter).await;
    }

    /// Publishes finished depositions in arrival order; returns their sequence numbers.
    async fn flush<P: Publisher<RecordsMessage>>(
        &self,
        done: &mut std::collections::BTreeMap<u64, DepositionRecords>,
        next_out: &mut u64,
        output: &P,
    ) -> Result<Vec<u64>, BusError> {
        let mut published = Vec::new();
        while let Some(result) = done.remove(next_out) {
            published.push(*next_out);
            *next_out += 1;
            self.publish(result, output).await?;
        }
        Ok(published)
    }

    async fn publish<P: Publisher<RecordsMessage>>(
        &self,
        mut r: DepositionRecords,
        output: &P,
    ) -> Result<(), BusError> {
        if let Some(limit) = output.max_payload_bytes() {
            withhold_oversized(&mut r, limit);
        }
        let s = &self.stats;
        s.depositions.fetch_add(1, Ordering::Relaxed);
        s.files.fetch_add(u64::from(r.files), Ordering::Relaxed);
        s.empty_files
            .fetch_add(u64::from(r.empty_files), Ordering::Relaxed);
        s.warnings
            .fetch_add(r.warnings.len() as u64, Ordering::Relaxed);
        for w in &r.warnings {
            tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = w.event, deposition_id = %r.deposition_id, message_id = w.message_id.as_deref().unwrap_or(""), file_path = %w.path, "{}", w.detail);
        }
        crate::metrics::FILES_READ.inc_by(u64::from(r.files));
        for w in &r.warnings {
            crate::metrics::WARNINGS.with_label_values(&[w.event]).inc();
        }
        crate::metrics::RECORDS.inc_by(r.records.len() as u64);
        match &r.quarantine {
            Some(q) => {
                crate::metrics::DEPOSITIONS
                    .with_label_values(&["quarantined"])
                    .inc();
                crate::metrics::QUARANTINED
                    .with_label_values(&[q.kind.as_str()])
                    .inc();
            }
            None => crate::metrics::DEPOSITIONS
                .with_label_values(&["transformed"])
                .inc(),
        }
        let outcome = match r.quarantine {
            Some(q) => {
                s.quarantined.fetch_add(1, Ordering::Relaxed);
                tracing::error!(target: msgmig_schemas::AUDIT_TARGET, event = "corrupted_file", deposition_id = %r.deposition_id, kind = q.kind.as_str(),
                    file_path = q.path.as_deref().unwrap_or(""), line = q.line, column = q.column, "{}", q.reason);
                let mut letter = DeadLetter::new(
                    Stage::Transformer,
                    DeadLetterReason::Quarantined,
                    format!("{}: {}", q.kind.as_str(), q.reason),
                );
                letter.deposition_id = Some(r.deposition_id.clone());
                letter.path = q.path.clone();
                letter.file_version = q.file_version;
                letter.line = q.line;
                letter.column = q.column;
                letter.message_id = q.message_id.clone();
                self.dead_letter(letter).await;
                DepositionOutcome::Quarantined(q)
            }
            None => DepositionOutcome::Transformed,
        };
        let messages = r.records.len() as u32;
        for record in r.records {
            s.records.fetch_add(1, Ordering::Relaxed);
            let envelope = Envelope::new(
                record.message.message_id.clone(),
                r.deposition_id.clone(),
                RecordsMessage::Message(Box::new(record)),
            );
            output.publish(envelope).await?;
        }
        let end = DepositionEnd {
            schema_version: SCHEMA_VERSION,
            deposition_id: r.deposition_id.clone(),
            generation: r.generation,
            file_states: r.file_states,
            files: r.files,
            messages,
            outcome,
        };
        output
            .publish(Envelope::new(
                r.deposition_id.clone(),
                r.deposition_id,
                RecordsMessage::DepositionEnd(end),
            ))
            .await
    }
}
