use msgmig_schemas::archive::{classify_entries, ctime_ns, mtime_ns, IgnoreReason, LatestFile};
use msgmig_schemas::record::{FileChange, FileEvent, SCHEMA_VERSION};
use std::io;
use std::path::Path;

/// One deposition folder after classification: its latest message files with their state.
#[derive(Debug, Clone, Default)]
pub struct DepositionListing {
    /// One event per latest message file, in content-type order.
    pub events: Vec<FileEvent>,
    /// Entries not read, with the reason (counted and logged at debug).
    pub ignored: Vec<(String, IgnoreReason)>,
}

/// Lists `root/<deposition_id>` (one directory read, one stat per latest file).
///
/// Errors: the folder cannot be read. A latest file that vanishes between listing and stat is
/// skipped (the next scan sees the new state).
pub fn list_deposition(root: &Path, deposition_id: &str) -> io::Result<DepositionListing> {
    let dir = root.join(deposition_id);
    let mut names = Vec::new();
    // Every entry, whatever its type: a latest version that is a symlink, FIFO or folder must
    // reach the transformer (which quarantines the deposition), not let an older version pass
    // for the latest (issue 10 §6).
    for entry in std::fs::read_dir(&dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let classified = classify_entries(deposition_id, names);
    let mut listing = DepositionListing {
        events: Vec::with_capacity(classified.latest.len()),
        ignored: classified.ignored,
    };
    for LatestFile { name, parsed } in classified.latest {
        let meta = match std::fs::symlink_metadata(dir.join(&name)) {
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
            ctime_ns: ctime_ns(&meta),
            change: FileChange::Present,
        });
    }
    Ok(listing)
}
