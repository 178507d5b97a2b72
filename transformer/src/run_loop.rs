//! The transformer's bus loop: file events in, depositions scheduled, transformed on blocking
//! threads, published in arrival order, and the events acknowledged once their effect is
//! durable.

use crate::build::DepositionRecords;
use crate::publish::Outlet;
use crate::schedule::Schedule;
use crate::validate::check_events;
use msgmig_bus::{BusError, Envelope, Publisher, Receipt, Subscriber};
use msgmig_schemas::record::{FileEvent, QuarantineKind, RecordsMessage};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How a transformer works: where the archive is and how it paces itself.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub root: PathBuf,
    /// Depositions transformed at once.
    pub parallelism: usize,
    /// Quiet period per deposition before it is transformed.
    pub debounce: Duration,
    /// The input holds each deposition's events back to back (a one-shot walk): a deposition
    /// is ready when an event of another one arrives or the input ends, never by a timer.
    pub grouped: bool,
    /// How often consumed events are acknowledged (after their records are durable).
    pub checkpoint_every: Duration,
}

/// File events checked in one trip to a blocking thread, at most.
const CHECK_BATCH: usize = 512;

/// How long a deposition quarantined as unreadable waits before the transformer reads it again
/// in continuous mode (an NFS error that outlasts the read retries), unless
/// `MSGMIG_UNREADABLE_RETRY_SECS` says otherwise.
fn unreadable_retry() -> Duration {
    let secs = std::env::var("MSGMIG_UNREADABLE_RETRY_SECS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(60.0);
    Duration::from_secs_f64(secs.max(0.1))
}

/// True when the deposition could not be read (an I/O error, not a content problem).
fn unreadable(r: &DepositionRecords) -> bool {
    r.quarantine
        .as_ref()
        .is_some_and(|q| q.kind == QuarantineKind::Unreadable)
}

/// One run of the loop over an input, until it closes and every deposition is published.
pub(crate) struct Run<'a, S, P> {
    settings: &'a Settings,
    outlet: &'a Outlet,
    input: S,
    output: &'a P,
    input_open: bool,
    schedule: Schedule,
    /// Transformations running, by sequence number.
    pending: JoinSet<(u64, DepositionRecords)>,
    /// Finished transformations waiting for an earlier one to be published.
    done: BTreeMap<u64, DepositionRecords>,
    next_seq: u64,
    next_out: u64,
    in_flight: HashSet<String>,
    /// Grouped input: the deposition whose events are arriving, not yet scheduled.
    open_group: Option<String>,
    /// Receipts of the events behind each waiting deposition, behind each transformation (by
    /// sequence number), and of those whose records are published but not yet flushed.
    receipts: HashMap<String, Vec<Receipt>>,
    receipts_of: HashMap<u64, Vec<Receipt>>,
    to_ack: Vec<Receipt>,
    last_checkpoint: Instant,
    /// Depositions quarantined as unreadable while the input is live (continuous mode): read
    /// again when due, since the scanner will not publish unchanged files again.
    retries: Vec<(Instant, String)>,
}

impl<'a, S, P> Run<'a, S, P>
where
    S: Subscriber<FileEvent>,
    P: Publisher<RecordsMessage>,
{
    pub(crate) fn new(settings: &'a Settings, outlet: &'a Outlet, input: S, output: &'a P) -> Self {
        Run {
            settings,
            outlet,
            input,
            output,
            input_open: true,
            schedule: Schedule::default(),
            pending: JoinSet::new(),
            done: BTreeMap::new(),
            next_seq: 0,
            next_out: 0,
            in_flight: HashSet::new(),
            open_group: None,
            receipts: HashMap::new(),
            receipts_of: HashMap::new(),
            to_ack: Vec::new(),
            last_checkpoint: Instant::now(),
            retries: Vec::new(),
        }
    }

    /// Runs until the input closes and everything is published and flushed.
    pub(crate) async fn run(mut self) -> Result<(), BusError> {
        loop {
            self.schedule_retries();
            self.start_due().await?;
            self.checkpoint().await?;
            if !self.input_open && self.schedule.is_empty() && self.pending.is_empty() {
                break;
            }
            self.wait().await?;
        }
        self.publish_ready().await?;
        self.output.flush().await
    }

    /// Unreadable depositions whose retry is due are scheduled (none once the input closed).
    fn schedule_retries(&mut self) {
        let now = Instant::now();
        let (input_open, schedule) = (self.input_open, &mut self.schedule);
        self.retries.retain(|(due, id)| {
            if *due > now || !input_open {
                return *due > now && input_open;
            }
            if !schedule.contains(id) {
                schedule.at_once(id.clone(), now);
            }
            false
        });
    }

    /// Starts every deposition whose quiet period is over (all, once the input is done),
    /// within the bounds on work in flight.
    async fn start_due(&mut self) -> Result<(), BusError> {
        while let Some(id) = self.schedule.pop_due(Instant::now(), !self.input_open) {
            if self.in_flight.contains(&id) {
                // Still being transformed: try again after it finishes.
                self.schedule
                    .later(id, Instant::now() + self.settings.debounce);
                break;
            }
            // Bounded memory: finished depositions waiting for an earlier, slower one to be
            // published count against the limit too (a slow NFS read must not let the others
            // pile up).
            let parallelism = self.settings.parallelism;
            while self.pending.len() + self.done.len() >= parallelism * 4
                || self.pending.len() >= parallelism
            {
                let finished = self.pending.join_next().await.expect("non-empty");
                self.finished(finished.expect("transform task does not panic"))
                    .await?;
            }
            let root = self.settings.root.clone();
            let seq = self.next_seq;
            self.next_seq += 1;
            self.in_flight.insert(id.clone());
            let receipts = self.receipts.remove(&id).unwrap_or_default();
            self.receipts_of.insert(seq, receipts);
            self.pending
                .spawn_blocking(move || (seq, crate::build::transform_deposition(&root, &id)));
        }
        Ok(())
    }

    /// A transformation finished: published once every earlier one is, its events then due
    /// for acknowledgement; an unreadable deposition is tried again later.
    async fn finished(&mut self, (seq, r): (u64, DepositionRecords)) -> Result<(), BusError> {
        self.in_flight.remove(&r.deposition_id);
        if self.input_open && unreadable(&r) {
            self.retries
                .push((Instant::now() + unreadable_retry(), r.deposition_id.clone()));
        }
        self.done.insert(seq, r);
        self.publish_ready().await
    }

    /// Publishes finished depositions in arrival order.
    async fn publish_ready(&mut self) -> Result<(), BusError> {
        for seq in self
            .outlet
            .flush(&mut self.done, &mut self.next_out, self.output)
            .await?
        {
            self.to_ack
                .extend(self.receipts_of.remove(&seq).unwrap_or_default());
        }
        Ok(())
    }

    /// Acknowledges the events whose records are published, once the output is flushed and
    /// every dead letter sent so far is delivered: at most every `checkpoint_every`, and at
    /// the end.
    async fn checkpoint(&mut self) -> Result<(), BusError> {
        if self.to_ack.is_empty()
            || (self.input_open && self.last_checkpoint.elapsed() < self.settings.checkpoint_every)
        {
            return Ok(());
        }
        self.output.flush().await?;
        // A refused event, a quarantined deposition: its dead letter is durable first.
        self.outlet.dead_letters_delivered().await?;
        msgmig_bus::crash_point!("transformer_before_ack");
        if let Err(e) = self.input.ack(&self.to_ack) {
            tracing::error!(event = "ack_failed", error = %e, "file events stay unacknowledged: a restart re-transforms them (harmless)");
        }
        self.to_ack.clear();
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Waits for the next thing to do: a transformation finishing, a checkpoint or a
    /// deposition falling due, or file events.
    async fn wait(&mut self) -> Result<(), BusError> {
        let next_deadline = self
            .schedule
            .next_due()
            .into_iter()
            .chain(self.retries.iter().map(|(d, _)| *d))
            .min();
        let checkpoint_at = self.last_checkpoint + self.settings.checkpoint_every;
        let (input_open, acks_waiting) = (self.input_open, !self.to_ack.is_empty());
        tokio::select! {
            finished = self.pending.join_next(), if !self.pending.is_empty() => {
                let finished = finished.expect("non-empty").expect("transform task does not panic");
                self.finished(finished).await?;
            }
            () = tokio::time::sleep_until(checkpoint_at), if acks_waiting => {}
            () = tokio::time::sleep_until(next_deadline.unwrap_or_else(Instant::now)), if next_deadline.is_some() && input_open => {}
            event = self.input.next(), if input_open => match event {
                Some(first) => self.events(first).await,
                None => {
                    self.input_open = false;
                    if let Some(id) = self.open_group.take() {
                        self.schedule.at_once(id, Instant::now());
                    }
                }
            },
        }
        Ok(())
    }

    /// Takes `first` and the events already waiting behind it: refused ones are dead-lettered,
    /// the others schedule their deposition.
    async fn events(&mut self, first: Envelope<FileEvent>) {
        // The events already here are checked in one trip off the reactor (resolving symlinks
        // touches the file system, NFS at the sites): one trip per event held this loop for
        // seconds of a large backfill.
        let mut events = vec![first];
        while events.len() < CHECK_BATCH {
            match self.input.try_next() {
                Some(e) => events.push(e),
                None => break,
            }
        }
        let root = self.settings.root.clone();
        let (events, verdicts) = tokio::task::spawn_blocking(move || {
            let verdicts = check_events(&root, events.iter().map(|e| &e.payload));
            (events, verdicts)
        })
        .await
        .expect("event check does not panic");
        for (event, verdict) in events.into_iter().zip(verdicts) {
            if let Err(refusal) = verdict {
                self.outlet.refuse(&event, &refusal).await;
                self.to_ack.extend(event.receipt);
                continue;
            }
            let (id, group_len) = (event.payload.deposition_id, event.payload.group_len);
            self.receipts
                .entry(id.clone())
                .or_default()
                .extend(event.receipt);
            if self.settings.grouped {
                if self.open_group.as_ref() != Some(&id) {
                    if let Some(done) = self.open_group.replace(id) {
                        self.schedule.at_once(done, Instant::now());
                    }
                }
                continue;
            }
            self.schedule
                .after_event(id, group_len, Instant::now(), self.settings.debounce);
        }
    }
}
