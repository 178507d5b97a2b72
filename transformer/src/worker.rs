//! The transformer: file events in, message records and end markers out. A facade over its
//! settings, its output side (`publish`) and its loop (`run_loop`).

pub use crate::build::transform_deposition;
use crate::publish::Outlet;
pub use crate::publish::TransformStats;
use crate::run_loop::{Run, Settings};
use msgmig_bus::{BusError, Publisher, Subscriber};
use msgmig_schemas::record::{DeadLetter, FileEvent, RecordsMessage};
use std::path::PathBuf;
use std::sync::Arc;

/// Transforms depositions named by file events into records.
#[derive(Debug)]
pub struct Transformer {
    settings: Settings,
    outlet: Outlet,
}

impl Transformer {
    /// A transformer reading files under `root`, transforming up to `parallelism` depositions
    /// at once (CPU-bound parsing runs on blocking threads).
    pub fn new(root: impl Into<PathBuf>, parallelism: usize) -> Self {
        Transformer {
            settings: Settings {
                root: root.into(),
                parallelism: parallelism.max(1),
                debounce: std::time::Duration::from_millis(20),
                grouped: false,
                checkpoint_every: std::time::Duration::from_secs(1),
            },
            outlet: Outlet::default(),
        }
    }

    /// Sets the quiet period per deposition (default 20 ms: enough to merge the events of one
    /// scan of a folder; continuous mode uses more to merge a burst of writes).
    pub fn with_debounce(mut self, debounce: std::time::Duration) -> Self {
        self.settings.debounce = debounce;
        self
    }

    /// For an input that holds each deposition's events back to back, as a one-shot walk
    /// publishes them (the scanner's `run_once` on the in-process bus): each deposition
    /// is then transformed exactly once, whatever the timing, so a one-shot run's summary
    /// counts every deposition and file once. A timer debounce could split a
    /// deposition whose second event arrives late (a full channel) into two transformations.
    pub fn with_grouped_input(mut self) -> Self {
        self.settings.grouped = true;
        self
    }

    /// Sends a [`DeadLetter`] for every refused event and quarantined deposition (a bounded
    /// queue: a full one pauses the transformer). The events behind them are acknowledged only
    /// once the queue's deliverer says they are delivered.
    pub fn with_dead_letters(
        mut self,
        tx: msgmig_bus::delivery::DeliveryQueue<DeadLetter>,
    ) -> Self {
        self.outlet.dead_letters = Some(tx);
        self
    }

    /// The transformer's counters (shared: they keep counting while it runs).
    pub fn stats(&self) -> Arc<TransformStats> {
        self.outlet.stats.clone()
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
    /// delivered, at most every second: a crash re-delivers at most that much work, which
    /// transforms to the same records. Events that fail the event checks are dead-lettered,
    /// then acked the same way.
    ///
    /// Errors: the output (or the dead-letter deliverer) is closed or fails.
    pub async fn run<S, P>(&self, input: S, output: &P) -> Result<(), BusError>
    where
        S: Subscriber<FileEvent>,
        P: Publisher<RecordsMessage>,
    {
        Run::new(&self.settings, &self.outlet, input, output)
            .run()
            .await
    }
}
