//! # msgmig-scanner
//!
//! Finds message files in an archive and publishes one `FileEvent` per latest message file
//! (docs/domain.md). This scanner is one-shot: it walks the archive root (or the
//! chosen depositions) once, in sorted order, and closes its output.
//!
//! Delivery semantics: events of one deposition are published consecutively and in content-type
//! order; re-publishing is harmless because the transformer re-reads the folder and the loader is
//! idempotent. [`Watcher`] keeps scanning (watch + reconciliation, settle and lock aware).

mod fs_pool;
mod ledger;
mod listing;
pub mod metrics;
mod stats;
mod walk;
mod watch;

pub use fs_pool::{set_fs_in_flight, DEFAULT_FS_IN_FLIGHT, MAX_FS_IN_FLIGHT};
pub use listing::{list_deposition, DepositionListing};
pub use msgmig_schemas::record::{LoadedFiles, LoadedStates};
pub use walk::{ScanError, ScanStats, Scanner, Selection};
pub use watch::{WatchConfig, WatchStats, Watcher};
