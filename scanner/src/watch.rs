//! Continuous scanning: `notify` watching where the file system supports it, plus a
//! reconciliation pass every `poll_interval` that finds whatever the watcher missed (NFS/GPFS:
//! `poll_only`). Folders whose mtime has not changed since the last pass are not listed, except on
//! every `full_pass_every`-th pass; when polling (no watch events), their latest files are still
//! stat'ed against the ledger, so an in-place edit (which leaves the folder's mtime alone) is seen
//! by the next pass: one stat per folder and per latest file.
//!
//! A deposition's changed files are published only after a quiet period (`settle`: sizes and
//! mtimes unchanged across it) and while no fresh legacy `.lock` sits beside them; a lock older
//! than `stale_lock_after` is logged and ignored. The ledger (path → version, size, mtime) starts
//! from what the database says was loaded, so a restart publishes exactly what changed meanwhile.

use crate::ledger::{state_of, Ledger};
use crate::listing::{list_many, same_content_type};
use crate::stats::ScanError;
pub use crate::stats::WatchStats;
use msgmig_bus::{Envelope, Publisher};
use msgmig_schemas::archive::mtime_ns;
use msgmig_schemas::archive::{is_deposition_id, MessageFileName};
use msgmig_schemas::record::{FileChange, FileEvent, FileState, SCHEMA_VERSION};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Deposition folders listed at once by a reconciliation pass.
const LIST_CHUNK: usize = 512;

/// Depositions in their quiet period above which a pass stops listing and publishes first.
const MAX_SETTLING: usize = 2048;

/// How often depositions whose quiet period is over are published.
const SETTLE_TICK: Duration = Duration::from_millis(50);

/// Settings of the continuous scanner.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Reconciliation pass period (default 5 min).
    pub poll_interval: Duration,
    /// No `notify` watch: polling only (NFS/GPFS, where inotify sees nothing).
    pub poll_only: bool,
    /// Quiet period a changed file must stay unchanged before it is published.
    pub settle: Duration,
    /// Age after which a legacy `.lock` is stale and ignored (the legacy timeout is 15 s).
    pub stale_lock_after: Duration,
    /// Every n-th reconciliation pass lists every folder, not only those whose mtime changed.
    pub full_pass_every: u32,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            poll_interval: Duration::from_secs(300),
            poll_only: false,
            settle: Duration::from_millis(300),
            stale_lock_after: Duration::from_secs(120),
            full_pass_every: 12,
        }
    }
}

/// A deposition waiting for its quiet period.
#[derive(Debug)]
struct Settling {
    deadline: Instant,
    snapshot: Vec<FileEvent>,
}

/// The continuous scanner.
#[derive(Debug)]
pub struct Watcher {
    root: PathBuf,
    config: WatchConfig,
    ledger: Ledger,
    dir_mtimes: HashMap<String, i64>,
    settling: HashMap<String, Settling>,
    stats: Arc<WatchStats>,
    /// No watch events arrive (`poll_only`, or watching unavailable): every pass also stats the
    /// latest files, since an in-place edit leaves the folder's mtime alone.
    polling: bool,
    /// Ledger changes of events published but not yet confirmed delivered: the ledger takes
    /// them only once the publisher's flush succeeded.
    unconfirmed: Vec<(String, LedgerChange)>,
    /// Pause before depositions whose events were not delivered are published again.
    redelivery: backon::ExponentialBackoff,
    shutdown: CancellationToken,
}

/// A change to the ledger, made once its event is delivered.
#[derive(Debug)]
enum LedgerChange {
    Insert(FileState),
    Remove(String),
}

/// The pauses between attempts to publish undelivered events again: 1 s doubling to 30 s,
/// without end (an outage of the bus lasts what it lasts).
fn redelivery_backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .without_max_times()
        .build()
}

/// The deposition folder of a path under `root` (its first component), if it names one.
fn deposition_of(root: &Path, path: &Path) -> Option<String> {
    let first = path.strip_prefix(root).ok()?.components().next()?;
    let name = first.as_os_str().to_str()?;
    is_deposition_id(name).then(|| name.to_owned())
}

impl Watcher {
    /// A watcher of `root`, starting from `ledger` (the files as last loaded).
    pub fn new(root: impl Into<PathBuf>, config: WatchConfig, ledger: Vec<FileState>) -> Self {
        Watcher {
            root: root.into(),
            config,
            ledger: Ledger::new(ledger),
            dir_mtimes: HashMap::new(),
            settling: HashMap::new(),
            stats: Arc::default(),
            polling: false,
            unconfirmed: Vec::new(),
            redelivery: redelivery_backoff(),
            shutdown: CancellationToken::new(),
        }
    }

    pub fn stats(&self) -> Arc<WatchStats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` is cancelled: an initial full pass, then watch events and
    /// reconciliation passes. Errors: the root is not a folder, or the bus closed.
    ///
    /// Delivery: a file enters the ledger only once its event is delivered (the publisher's
    /// `flush` after each round of publishing succeeded). When a delivery fails (a broker
    /// outage longer than `message.timeout.ms`), the depositions of that round are published
    /// again after a pause, for as long as it takes; [`WatchStats::undelivered`] (and
    /// `msgmig_scanner_undelivered_events`) counts their events meanwhile.
    pub async fn run<P: Publisher<FileEvent>>(
        mut self,
        publisher: &P,
        shutdown: CancellationToken,
    ) -> Result<(), ScanError> {
        self.shutdown = shutdown.clone();
        if !self.root.is_dir() {
            return Err(ScanError::NoArchive(self.root.clone()));
        }
        // Watch events carry absolute paths: compare them with an absolute root.
        if let Ok(canonical) = std::fs::canonicalize(&self.root) {
            self.root = canonical;
        }
        let (tx, mut rx) = mpsc::channel::<String>(65_536);
        let overflow = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _watcher = if self.config.poll_only {
            None
        } else {
            self.start_watch(tx, overflow.clone())
        };
        self.polling = _watcher.is_none();
        self.pass(true, publisher).await?;
        let mut poll = tokio::time::interval(self.config.poll_interval);
        // A pass slower than the interval must not trigger back-to-back passes.
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        let mut tick = tokio::time::interval(SETTLE_TICK);
        let mut passes = 0u32;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                Some(dep) = rx.recv() => self.mark(dep),
                _ = poll.tick() => {
                    passes += 1;
                    let full = overflow.swap(false, Ordering::Relaxed) || passes.is_multiple_of(self.config.full_pass_every.max(1));
                    self.pass(full, publisher).await?;
                }
                _ = tick.tick() => self.settle(publisher).await?,
            }
        }
    }

    fn start_watch(
        &self,
        tx: mpsc::Sender<String>,
        overflow: Arc<std::sync::atomic::AtomicBool>,
    ) -> Option<notify::RecommendedWatcher> {
        use notify::{RecursiveMode, Watcher as _};
        let root = self.root.clone();
        let handler = move |res: notify::Result<notify::Event>| match res {
            Ok(event) => {
                for path in &event.paths {
                    if let Some(dep) = deposition_of(&root, path) {
                        if tx.try_send(dep).is_err() {
                            overflow.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            Err(_) => overflow.store(true, Ordering::Relaxed),
        };
        match notify::recommended_watcher(handler)
            .and_then(|mut w| w.watch(&self.root, RecursiveMode::Recursive).map(|()| w))
        {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(event = "watch_unavailable", error = %e, "file watching unavailable: polling only");
                None
            }
        }
    }

    /// Something happened in a deposition folder: snapshot it at once, publish once a second
    /// look one quiet period later sees the same files.
    fn mark(&mut self, dep: String) {
        let later = Instant::now() + self.config.settle;
        self.settling
            .entry(dep)
            .and_modify(|s| s.deadline = later)
            .or_insert(Settling {
                deadline: Instant::now(),
                snapshot: Vec::new(),
            });
    }

    /// A reconciliation pass: every deposition folder (`full`), or those whose mtime changed.
    /// Folders are stat'ed in parallel and compared with the ledger here. Those to look into
    /// are listed [`LIST_CHUNK`] at a time, and the pass waits while more than
    /// [`MAX_SETTLING`] depositions are in their quiet period, publishing them: memory holds a
    /// few thousand listings, never the archive's (the initial pass over 10^5
    /// folders held every file event at once).
    async fn pass<P: Publisher<FileEvent>>(
        &mut self,
        full: bool,
        publisher: &P,
    ) -> Result<(), ScanError> {
        let started = std::time::Instant::now();
        self.stats.passes.fetch_add(1, Ordering::Relaxed);
        let root = self.root.clone();
        let known = self.dir_mtimes.clone();
        // Polling: the ledger's files per folder, to stat in a pruned pass (an in-place edit
        // changes the file's size or mtime, not the folder's mtime).
        let files: HashMap<String, Vec<(String, u64, i64)>> = if self.polling && !full {
            let mut by_dep: HashMap<String, Vec<(String, u64, i64)>> = HashMap::new();
            for f in self.ledger.all() {
                if let Some((dep, _)) = f.path.split_once('/') {
                    by_dep.entry(dep.to_owned()).or_default().push((
                        f.path.clone(),
                        f.size,
                        f.mtime_ns,
                    ));
                }
            }
            by_dep
        } else {
            HashMap::new()
        };
        let stat_calls = Arc::new(AtomicU64::new(0));
        let calls = stat_calls.clone();
        let (discovered, changed) = tokio::task::spawn_blocking(move || {
            let mut folders = Vec::new();
            for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_deposition_id(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    folders.push(name);
                }
            }
            let discovered = folders.len();
            let changed: Vec<(String, i64)> = crate::fs_pool::FS_POOL.install(|| {
                folders
                    .into_par_iter()
                    .filter_map(|name| {
                        calls.fetch_add(1, Ordering::Relaxed);
                        let m = mtime_ns(&std::fs::metadata(root.join(&name)).ok()?);
                        if full || known.get(&name) != Some(&m) {
                            return Some((name, m));
                        }
                        let edited = files.get(&name).is_some_and(|fs| {
                            fs.iter().any(|(path, size, mtime)| {
                                calls.fetch_add(1, Ordering::Relaxed);
                                std::fs::symlink_metadata(root.join(path)).map_or(true, |meta| {
                                    meta.len() != *size || mtime_ns(&meta) != *mtime
                                })
                            })
                        });
                        edited.then_some((name, m))
                    })
                    .collect()
            });
            (discovered, changed)
        })
        .await
        .expect("listing task does not panic");
        self.stats
            .pass_total
            .store(changed.len() as u64, Ordering::Relaxed);
        self.stats.pass_done.store(0, Ordering::Relaxed);
        let listed = changed.len() as u64;
        for chunk in changed.chunks(LIST_CHUNK) {
            let (root, stats, stale_after) = (
                self.root.clone(),
                self.stats.clone(),
                self.config.stale_lock_after,
            );
            let deps: Vec<String> = chunk.iter().map(|(d, _)| d.clone()).collect();
            let listings =
                tokio::task::spawn_blocking(move || list_many(&root, deps, stale_after, &stats))
                    .await
                    .expect("listing task does not panic");
            for ((dep, m), (_, listing)) in chunk.iter().zip(listings) {
                self.dir_mtimes.insert(dep.clone(), *m);
                // A reconciliation finding only starts a quiet period; it never extends a
                // running one (only real activity, a watch event, does), so slow passes cannot
                // starve it.
                match listing {
                    Ok((listing, _)) => {
                        if !self.settling.contains_key(dep)
                            && self.ledger.differs(dep, &listing.events)
                        {
                            self.mark(dep.clone());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // Never dropped in silence: the quiet period lists it again.
                    Err(e) => {
                        tracing::warn!(event = "deposition_unreadable", deposition_id = %dep, error = %e,
                            "cannot list deposition folder: trying again after the quiet period");
                        self.mark(dep.clone());
                    }
                }
            }
            while self.settling.len() > MAX_SETTLING {
                self.settle(publisher).await?;
                tokio::time::sleep(SETTLE_TICK).await;
            }
        }
        let calls = stat_calls.load(Ordering::Relaxed) + listed;
        let elapsed = started.elapsed();
        self.stats.stat_calls.fetch_add(calls, Ordering::Relaxed);
        crate::metrics::PASS_FS_CALLS.inc_by(calls);
        crate::metrics::LAST_PASS_MS.set(elapsed.as_millis() as i64);
        self.stats
            .last_pass_ms
            .store(elapsed.as_millis() as u64, Ordering::Relaxed);
        tracing::debug!(
            event = "pass_complete",
            full,
            depositions = discovered,
            listed,
            stat_calls = calls,
            seconds = elapsed.as_secs_f64()
        );
        if full {
            crate::metrics::DEPOSITIONS_DISCOVERED.set(discovered as i64);
        }
        // Counted once listed: a full pass counted has its "discovered" set.
        crate::metrics::PASSES
            .with_label_values(&[if full { "full" } else { "pruned" }])
            .inc();
        if self.stats.initial_pass_ms.load(Ordering::Relaxed) == 0 {
            let ms = started.elapsed().as_millis().max(1) as u64;
            self.stats.initial_pass_ms.store(ms, Ordering::Relaxed);
            tracing::info!(
                event = "initial_pass_complete",
                depositions = discovered,
                seconds = ms as f64 / 1000.0,
                "initial walk done"
            );
        }
        Ok(())
    }

    /// Publishes the depositions whose quiet period is over, unchanged and unlocked.
    async fn settle<P: Publisher<FileEvent>>(&mut self, publisher: &P) -> Result<(), ScanError> {
        let now = Instant::now();
        let due: Vec<String> = self
            .settling
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(d, _)| d.clone())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let (root, stats, stale_after) = (
            self.root.clone(),
            self.stats.clone(),
            self.config.stale_lock_after,
        );
        let listed =
            tokio::task::spawn_blocking(move || list_many(&root, due, stale_after, &stats))
                .await
                .expect("listing task does not panic");
        for (dep, listing) in listed {
            let (listing, locked) = match listing {
                Ok(l) => l,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.settling.remove(&dep);
                    continue;
                }
                // Kept settling, never dropped in silence: listed again one quiet period later.
                Err(e) => {
                    tracing::warn!(event = "deposition_unreadable", deposition_id = %dep, error = %e,
                        "cannot list deposition folder: trying again after the quiet period");
                    if let Some(s) = self.settling.get_mut(&dep) {
                        s.deadline = now + self.config.settle;
                    }
                    continue;
                }
            };
            let settling = self.settling.get_mut(&dep).expect("due");
            let same = settling.snapshot.len() == listing.events.len()
                && settling
                    .snapshot
                    .iter()
                    .zip(&listing.events)
                    .all(|(a, b)| a.path == b.path && state_of(a) == state_of(b));
            if !same || locked {
                if locked {
                    self.stats.lock_waits.fetch_add(1, Ordering::Relaxed);
                    crate::metrics::LOCK_WAITS.inc();
                    tracing::debug!(event = "lock_wait", deposition_id = %dep, "a fresh .lock is beside the files: waiting");
                }
                settling.snapshot = listing.events;
                settling.deadline = now + self.config.settle;
                continue;
            }
            self.settling.remove(&dep);
            self.publish(&dep, listing.events, publisher).await?;
        }
        self.confirm(publisher).await;
        Ok(())
    }

    /// Waits until the events published since the last confirmation are delivered, then
    /// records their files in the ledger. When a delivery failed, their depositions settle
    /// again after a pause and are published anew (the ledger still says they changed).
    /// Returns early at shutdown (nothing recorded: the next start publishes them again).
    async fn confirm<P: Publisher<FileEvent>>(&mut self, publisher: &P) {
        if self.unconfirmed.is_empty() {
            return;
        }
        let waiting = self.unconfirmed.len() as u64;
        msgmig_bus::crash_point!("scanner_after_publish");
        let flushed = tokio::select! {
            flushed = publisher.flush() => flushed,
            () = self.shutdown.cancelled() => return,
        };
        let flushed = if msgmig_bus::failing!("scanner_flush_error") {
            Err(msgmig_bus::BusError::Kafka(
                msgmig_bus::failpoint::injected("the delivery of file events"),
            ))
        } else {
            flushed
        };
        match flushed {
            Ok(()) => {
                for (_, change) in self.unconfirmed.drain(..) {
                    match change {
                        LedgerChange::Insert(state) => self.ledger.insert(state),
                        LedgerChange::Remove(path) => self.ledger.remove(&path),
                    }
                }
                self.redelivery = redelivery_backoff();
                self.stats.undelivered.store(0, Ordering::Relaxed);
                crate::metrics::UNDELIVERED.set(0);
            }
            Err(e) => {
                let retry_in = self.redelivery.next().unwrap_or(Duration::from_secs(30));
                let deps: HashSet<String> =
                    self.unconfirmed.drain(..).map(|(dep, _)| dep).collect();
                tracing::warn!(event = "file_events_undelivered", depositions = deps.len(), events = waiting,
                    retry_in_s = retry_in.as_secs_f64(), error = %e,
                    "file events were not delivered: publishing them again once the bus takes them");
                self.stats.undelivered.store(waiting, Ordering::Relaxed);
                crate::metrics::UNDELIVERED.set(waiting as i64);
                let at = Instant::now() + retry_in;
                for dep in deps {
                    self.settling.insert(
                        dep,
                        Settling {
                            deadline: at,
                            snapshot: Vec::new(),
                        },
                    );
                }
            }
        }
    }

    async fn publish<P: Publisher<FileEvent>>(
        &mut self,
        dep: &str,
        events: Vec<FileEvent>,
        publisher: &P,
    ) -> Result<(), ScanError> {
        let present: HashSet<String> = events.iter().map(|e| e.path.clone()).collect();
        let mut out: Vec<FileEvent> = events
            .into_iter()
            .filter(|e| self.ledger.changed(e))
            .collect();
        let gone: Vec<FileState> = self
            .ledger
            .of_deposition(dep)
            .filter(|l| !present.contains(&l.path))
            .cloned()
            .collect();
        for g in gone {
            self.unconfirmed
                .push((dep.to_owned(), LedgerChange::Remove(g.path.clone())));
            let superseded = out.iter().any(|e| same_content_type(&e.path, &g.path));
            if !superseded {
                self.stats.removed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = "file_disappeared", deposition_id = %dep, file_path = %g.path, "message file disappeared: database rows are kept");
                let name = g.path.rsplit('/').next().unwrap_or_default();
                if let Some(parsed) = MessageFileName::parse(name) {
                    out.push(FileEvent {
                        schema_version: SCHEMA_VERSION,
                        path: g.path.clone(),
                        deposition_id: dep.to_owned(),
                        content_type: parsed.content_type,
                        version: g.version,
                        size: g.size,
                        mtime_ns: g.mtime_ns,
                        ctime_ns: g.ctime_ns,
                        change: FileChange::Removed,
                        group_len: 0,
                    });
                }
            }
        }
        // One group: the transformer need not wait out its debounce once it has them all.
        let group_len = out.len() as u32;
        for mut e in out {
            e.group_len = group_len;
            if e.change == FileChange::Present {
                self.unconfirmed.push((
                    dep.to_owned(),
                    LedgerChange::Insert(FileState {
                        path: e.path.clone(),
                        version: e.version,
                        size: e.size,
                        mtime_ns: e.mtime_ns,
                        ctime_ns: e.ctime_ns,
                    }),
                ));
            }
            self.stats.published.fetch_add(1, Ordering::Relaxed);
            crate::metrics::FILES_PUBLISHED
                .with_label_values(&[if e.change == FileChange::Present {
                    "present"
                } else {
                    "removed"
                }])
                .inc();
            tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "file_published", deposition_id = %dep, file_path = %e.path, change = ?e.change);
            let envelope = Envelope::new(e.path.clone(), dep.to_owned(), e);
            publisher.publish(envelope).await?;
        }
        Ok(())
    }
}
