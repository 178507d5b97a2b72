use crate::listing::list_deposition;
use msgmig_bus::{BusError, Envelope, Publisher};
use msgmig_schemas::archive::is_deposition_id;
use msgmig_schemas::record::{FileEvent, FileState};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which depositions to scan.
#[derive(Debug, Clone)]
pub enum Selection {
    /// Every `D_…`/`G_…` folder directly under the archive root.
    All,
    /// These deposition folders only (a missing one is reported, not fatal).
    Depositions(Vec<String>),
}

/// Counters of one scan, shared with progress reporting (all monotonically increasing).
#[derive(Debug, Default)]
pub struct ScanStats {
    /// Deposition folders found.
    pub depositions: AtomicU64,
    /// Latest message files published.
    pub files: AtomicU64,
    /// Entries not read (older versions, decoys, other content types).
    pub ignored: AtomicU64,
    /// Folders that could not be read (reported with their error).
    pub unreadable: AtomicU64,
    /// Requested depositions that do not exist.
    pub missing: AtomicU64,
    /// Folders under the root that are not deposition folders (hidden ones aside).
    pub ignored_folders: AtomicU64,
    /// The first 100 of them, for the summary.
    pub ignored_folder_names: std::sync::Mutex<Vec<String>>,
    /// Depositions not published because their latest files match the last load's ledger.
    pub unchanged_depositions: AtomicU64,
    /// Their message files.
    pub unchanged_files: AtomicU64,
    /// Their messages (as the last load recorded them).
    pub unchanged_messages: AtomicU64,
}

/// One-shot archive scanner.
#[derive(Debug)]
pub struct Scanner {
    root: PathBuf,
    selection: Selection,
    stats: Arc<ScanStats>,
    /// Depositions as last loaded: skipped when their latest files still match.
    unchanged: Arc<HashMap<String, LoadedFiles>>,
}

/// A deposition as the last load saw it (the loader's file ledger).
#[derive(Debug, Clone, Default)]
pub struct LoadedFiles {
    /// Messages loaded from them.
    pub messages: u64,
    /// The latest files, as read then.
    pub files: Vec<FileState>,
}

/// True when the listing's latest files are exactly the ones loaded: same paths, versions,
/// sizes, mtimes and ctimes (nanoseconds), none added, none gone. The ctime catches an edit
/// whose size and mtime were put back, and a restore from a backup (issue 12 §1); a ledger row
/// without one (0: written before msgmig recorded it) is compared without it.
fn matches(events: &[FileEvent], loaded: &LoadedFiles) -> bool {
    events.len() == loaded.files.len()
        && events.iter().all(|e| {
            loaded.files.iter().any(|f| {
                f.path == e.path
                    && f.version == e.version
                    && f.size == e.size
                    && f.mtime_ns == e.mtime_ns
                    && (f.ctime_ns == 0 || f.ctime_ns == e.ctime_ns)
            })
        })
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
    /// re-run then reads, parses and queries only what changed (issue 12 §1). New, changed,
    /// grown and shrunk depositions are published as before.
    pub fn with_unchanged(mut self, loaded: HashMap<String, LoadedFiles>) -> Self {
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
                        // Counted and listed, never silently skipped (issue 10 §6): `D_12a`,
                        // `d_1`, an id longer than the 50-character columns.
                        self.stats.ignored_folders.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(target: msgmig_schemas::AUDIT_TARGET, event = "folder_ignored", folder = %name,
                            "not a deposition folder (D_<digits> or G_<digits>, at most 50 characters): not read");
                        let mut listed = self
                            .stats
                            .ignored_folder_names
                            .lock()
                            .expect("not poisoned");
                        if listed.len() < 100 {
                            listed.push(name.into_owned());
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
        let ids = {
            let this = Scanner {
                root: root.clone(),
                selection: self.selection.clone(),
                stats: self.stats.clone(),
                unchanged: Arc::default(),
            };
            tokio::task::spawn_blocking(move || this.deposition_ids())
                .await
                .expect("listing task does not panic")
                .map_err(|e| ScanError::Io(root.clone(), e))?
        };
        for id in ids {
            let (r, dep) = (root.clone(), id.clone());
            let listing = tokio::task::spawn_blocking(move || list_deposition(&r, &dep))
                .await
                .expect("listing task does not panic");
            let listing = match listing {
                Ok(l) => l,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.stats.missing.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(event = "deposition_missing", deposition_id = %id, "no such deposition folder");
                    continue;
                }
                Err(e) => {
                    self.stats.unreadable.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(event = "deposition_unreadable", deposition_id = %id, error = %e, "cannot list deposition folder");
                    continue;
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
                    continue;
                }
            }
            for event in listing.events {
                self.stats.files.fetch_add(1, Ordering::Relaxed);
                crate::metrics::FILES_PUBLISHED
                    .with_label_values(&["present"])
                    .inc();
                let envelope =
                    Envelope::new(event.path.clone(), event.deposition_id.clone(), event);
                publisher.publish(envelope).await?;
            }
        }
        Ok(())
    }
}

/// Why a scan stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The archive root does not exist or is not a folder.
    #[error("archive folder {0} does not exist or is not a folder")]
    NoArchive(PathBuf),
    /// The archive root could not be listed.
    #[error("cannot list {0}: {1}")]
    Io(PathBuf, #[source] std::io::Error),
    /// The downstream side closed.
    #[error(transparent)]
    Bus(#[from] BusError),
}
