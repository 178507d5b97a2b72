use crate::listing::list_deposition;
pub use crate::stats::{ScanError, ScanStats};
use msgmig_bus::{Envelope, Publisher};
use msgmig_schemas::archive::is_deposition_id;
use msgmig_schemas::record::{FileEvent, LoadedFiles, LoadedStates};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Which depositions to scan.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every `D_…`/`G_…` folder directly under the archive root.
    All,
    /// These deposition folders only (a missing one is reported, not fatal).
    Depositions(Vec<String>),
}

/// One-shot archive scanner.
#[derive(Debug)]
pub struct Scanner {
    root: PathBuf,
    selection: Selection,
    stats: Arc<ScanStats>,
    /// Depositions as last loaded: skipped when their latest files still match.
    unchanged: Arc<LoadedStates>,
}

/// True when the listing's latest files are exactly the ones loaded (see
/// [`LoadedFiles::matches`]).
fn matches(events: &[FileEvent], loaded: &LoadedFiles) -> bool {
    loaded.matches(
        events
            .iter()
            .map(|e| (e.path.as_str(), e.version, e.size, e.mtime_ns, e.ctime_ns)),
    )
}

impl Scanner {
    /// A scanner of `root` (the folder holding the `D_…` deposition folders).
    pub fn new(root: impl Into<PathBuf>, selection: Selection) -> Self {
        Scanner {
            root: root.into(),
            selection,
            stats: Arc::default(),
            unchanged: Arc::default(),
        }
    }

    /// Skips depositions whose latest files match `loaded` (the last load's file ledger): a
    /// re-run then reads, parses and queries only what changed. New, changed,
    /// grown and shrunk depositions are published as before.
    pub fn with_unchanged(mut self, loaded: LoadedStates) -> Self {
        self.unchanged = Arc::new(loaded);
        self
    }

    /// Live counters (for progress bars and summaries).
    pub fn stats(&self) -> Arc<ScanStats> {
        self.stats.clone()
    }

    /// The deposition folders to scan, sorted (deterministic order: conflicts between twin
    /// depositions resolve the same way on every run).
    pub fn deposition_ids(&self) -> std::io::Result<Vec<String>> {
        match &self.selection {
            Selection::Depositions(ids) => Ok(ids.clone()),
            Selection::All => {
                let mut ids = Vec::new();
                for entry in walkdir::WalkDir::new(&self.root).min_depth(1).max_depth(1) {
                    let entry = entry.map_err(std::io::Error::other)?;
                    let name = entry.file_name().to_string_lossy();
                    if !entry.file_type().is_dir() || name.starts_with('.') {
                        continue;
                    }
                    if is_deposition_id(&name) {
                        ids.push(name.into_owned());
                    } else {
                        // Counted and listed with the reason, never silently skipped: `D_12a`,
                        // `d_1`, an id longer than the 50-character columns.
                        self.stats.ignored_folders.fetch_add(1, Ordering::Relaxed);
                        let why = msgmig_schemas::archive::why_not_a_deposition_id(&name)
                            .unwrap_or_default();
                        tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "folder_ignored", folder = %name, reason = %why,
                            "not a deposition folder: not read");
                        let mut listed = self
                            .stats
                            .ignored_folder_names
                            .lock()
                            .expect("not poisoned");
                        if listed.len() < 100 {
                            listed.push(format!("{name}: {why}"));
                        }
                    }
                }
                ids.sort();
                Ok(ids)
            }
        }
    }

    /// Walks once and publishes the latest message files of every selected deposition.
    ///
    /// Errors: the archive root cannot be listed, or the bus closed (shutdown).
    pub async fn run_once<P: Publisher<FileEvent>>(&self, publisher: &P) -> Result<(), ScanError> {
        let root = self.root.clone();
        if !root.is_dir() {
            return Err(ScanError::NoArchive(root));
        }
        // A selection's ids are listed where they are, not copied: at 10^6 depositions each
        // copy of the list is about 50 MB.
        let ids: std::borrow::Cow<'_, [String]> = match &self.selection {
            Selection::Depositions(ids) => ids.as_slice().into(),
            Selection::All => {
                let this = Scanner {
                    root: root.clone(),
                    selection: Selection::All,
                    stats: self.stats.clone(),
                    unchanged: Arc::default(),
                };
                let ids = tokio::task::spawn_blocking(move || this.deposition_ids())
                    .await
                    .expect("listing task does not panic")
                    .map_err(|e| ScanError::Io(root.clone(), e))?;
                ids.into()
            }
        };
        // Folders are listed in chunks on blocking threads, fs_in_flight() chunks at once: one
        // thread hand-off per folder cost more than the listing itself at 10^5 folders (an
        // unchanged re-run is mostly this walk), and a folder whose inodes are not cached (NFS,
        // or a cold page cache) waits for the storage, so several chunks keep it busy.
        let mut chunks = ids.chunks(LIST_CHUNK);
        let mut in_flight: std::collections::VecDeque<tokio::task::JoinHandle<_>> =
            Default::default();
        loop {
            while in_flight.len() < crate::fs_pool::fs_in_flight() {
                let Some(chunk) = chunks.next().map(<[String]>::to_vec) else {
                    break;
                };
                let r = root.clone();
                in_flight.push_back(tokio::task::spawn_blocking(move || {
                    chunk
                        .into_iter()
                        .map(|id| {
                            let listing = list_deposition(&r, &id);
                            (id, listing)
                        })
                        .collect::<Vec<_>>()
                }));
            }
            let Some(next) = in_flight.pop_front() else {
                break;
            };
            let chunk = next.await.expect("listing task does not panic");
            for (id, listing) in chunk {
                self.publish_listing(publisher, id, listing).await?;
            }
        }
        Ok(())
    }

    /// Counts one listed deposition and publishes its latest files, unless they match the
    /// last load's ledger.
    async fn publish_listing<P: Publisher<FileEvent>>(
        &self,
        publisher: &P,
        id: String,
        listing: std::io::Result<crate::listing::DepositionListing>,
    ) -> Result<(), ScanError> {
        let listing = match listing {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.stats.missing.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = "deposition_missing", deposition_id = %id, "no such deposition folder");
                return Ok(());
            }
            Err(e) => {
                self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
                tracing::error!(event = "deposition_unreadable", deposition_id = %id, error = %e, "cannot list deposition folder");
                return Ok(());
            }
        };
        self.stats.depositions.fetch_add(1, Ordering::Relaxed);
        crate::metrics::FILES_IGNORED.inc_by(listing.ignored.len() as u64);
        self.stats
            .ignored
            .fetch_add(listing.ignored.len() as u64, Ordering::Relaxed);
        for (name, reason) in &listing.ignored {
            tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "file_ignored", deposition_id = %id, filename = %name, reason = ?reason);
        }
        if let Some(loaded) = self.unchanged.get(&id) {
            if matches(&listing.events, loaded) {
                let s = &self.stats;
                s.unchanged_depositions.fetch_add(1, Ordering::Relaxed);
                s.unchanged_files
                    .fetch_add(listing.events.len() as u64, Ordering::Relaxed);
                s.unchanged_messages
                    .fetch_add(loaded.messages, Ordering::Relaxed);
                return Ok(());
            }
        }
        let group_len = listing.events.len() as u32;
        for mut event in listing.events {
            event.group_len = group_len;
            self.stats.files.fetch_add(1, Ordering::Relaxed);
            crate::metrics::FILES_PUBLISHED
                .with_label_values(&["present"])
                .inc();
            let envelope = Envelope::new(event.path.clone(), event.deposition_id.clone(), event);
            publisher.publish(envelope).await?;
        }
        Ok(())
    }
}

/// Deposition folders listed per blocking task.
const LIST_CHUNK: usize = 256;
