//! What the scanners count and why a scan stops: shared by the walk, the watcher and the
//! folder listing (a leaf module).

use msgmig_bus::BusError;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

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

/// Counters of the continuous scanner (monotonically increasing).
#[derive(Debug, Default)]
pub struct WatchStats {
    /// File events published (present and removed).
    pub published: AtomicU64,
    /// Reconciliation passes done.
    pub passes: AtomicU64,
    /// Times a deposition waited for a fresh `.lock`.
    pub lock_waits: AtomicU64,
    /// Message files that disappeared (reported; never deletes rows).
    pub removed: AtomicU64,
    /// Deposition folders to look at in the current pass (progress of the initial walk).
    pub pass_total: AtomicU64,
    /// Deposition folders looked at so far in the current pass.
    pub pass_done: AtomicU64,
    /// Milliseconds the initial full pass took (0 until it is done).
    pub initial_pass_ms: AtomicU64,
    /// File system calls of reconciliation passes: a stat per folder and, polling, per latest
    /// file; a directory read per folder listed.
    pub stat_calls: AtomicU64,
    /// Milliseconds the last reconciliation pass took.
    pub last_pass_ms: AtomicU64,
    /// File events whose delivery failed and that wait to be published again (0 while the
    /// bus takes everything).
    pub undelivered: AtomicU64,
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
