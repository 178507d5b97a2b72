use msgmig_schemas::archive::{classify_entries, IgnoreReason, LatestFile};
use msgmig_schemas::record::{FileChange, FileEvent, SCHEMA_VERSION};
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// One deposition folder after classification: its latest message files with their state.
#[derive(Debug, Clone, Default)]
pub struct DepositionListing {
    /// One event per latest message file, in content-type order.
    pub events: Vec<FileEvent>,
    /// Entries not read, with the reason (counted and logged at debug).
    pub ignored: Vec<(String, IgnoreReason)>,
}

/// Modification time in ns since the Unix epoch (0 when the platform cannot say).
pub(crate) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Lists `root/<deposition_id>` (one directory read, one stat per latest file).
///
/// Errors: the folder cannot be read. A latest file that vanishes between listing and stat is
/// skipped (the next scan sees the new state).
pub fn list_deposition(root: &Path, deposition_id: &str) -> io::Result<DepositionListing> {
    let dir = root.join(deposition_id);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    let classified = classify_entries(deposition_id, names);
    let mut listing = DepositionListing {
        events: Vec::with_capacity(classified.latest.len()),
        ignored: classified.ignored,
    };
    for LatestFile { name, parsed } in classified.latest {
        let meta = match std::fs::metadata(dir.join(&name)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        listing.events.push(FileEvent {
            schema_version: SCHEMA_VERSION,
            path: format!("{deposition_id}/{name}"),
            deposition_id: deposition_id.to_owned(),
            content_type: parsed.content_type,
            version: parsed.version,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            change: FileChange::Present,
        });
    }
    Ok(listing)
}
