//! Where the transformer's output goes: records and end markers published in arrival order,
//! dead letters handed to their deliverer, and the counters of both.

use crate::build::DepositionRecords;
use crate::validate::Refusal;
use msgmig_bus::{BusError, Envelope, Publisher};
use msgmig_schemas::record::{
    DeadLetter, DeadLetterReason, DepositionEnd, DepositionOutcome, FileEvent, Quarantine,
    QuarantineKind, RecordsMessage, Stage, SCHEMA_VERSION,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// The transformer's output side: its dead-letter queue (none: letters are only counted and
/// logged) and its counters.
#[derive(Debug, Default)]
pub(crate) struct Outlet {
    pub dead_letters: Option<msgmig_bus::delivery::DeliveryQueue<DeadLetter>>,
    pub stats: Arc<TransformStats>,
}

/// Quarantines the whole deposition (nothing of it is published) when one of its records
/// encodes to more than `limit` bytes, the bus's largest payload: a record that cannot be
/// delivered must become a listed quarantine, never a worker failure.
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

impl Outlet {
    /// Counts `letter` and hands it to the deliverer (when there is one).
    pub(crate) async fn dead_letter(&self, letter: DeadLetter) {
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
    pub(crate) async fn dead_letters_delivered(&self) -> Result<(), BusError> {
        match &self.dead_letters {
            Some(tx) if !tx.delivered().await => Err(BusError::Closed),
            _ => Ok(()),
        }
    }

    /// Dead-letters a refused event.
    pub(crate) async fn refuse(&self, event: &Envelope<FileEvent>, refusal: &Refusal) {
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
    pub(crate) async fn flush<P: Publisher<RecordsMessage>>(
        &self,
        done: &mut BTreeMap<u64, DepositionRecords>,
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
