use crate::stats::WatchStats;
use msgmig_schemas::archive::MessageFileName;
use msgmig_schemas::archive::{classify_entries, ctime_ns, mtime_ns, IgnoreReason, LatestFile};
use msgmig_schemas::record::{FileChange, FileEvent, SCHEMA_VERSION};
use rayon::prelude::*;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

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
    // for the latest.
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
            group_len: 0,
        });
    }
    Ok(listing)
}

/// Lists deposition folders in parallel (on [`crate::fs_pool::FS_POOL`]), with whether a fresh
/// `.lock` is beside their files; counts progress in `stats.pass_done`. Results keep the order
/// of `deps`.
#[allow(clippy::type_complexity)]
pub(crate) fn list_many(
    root: &Path,
    deps: Vec<String>,
    stale_after: Duration,
    stats: &WatchStats,
) -> Vec<(String, std::io::Result<(crate::DepositionListing, bool)>)> {
    crate::fs_pool::FS_POOL.install(|| {
        deps.into_par_iter()
            .map(|dep| {
                let listing = list_deposition(root, &dep).map(|l| {
                    let locked = fresh_lock(root, &dep, &l.ignored, stale_after);
                    (l, locked)
                });
                stats.pass_done.fetch_add(1, Ordering::Relaxed);
                (dep, listing)
            })
            .collect()
    })
}

/// `true` when two archive paths name the same deposition, content type and partition.
pub(crate) fn same_content_type(a: &str, b: &str) -> bool {
    let parse = |p: &str| MessageFileName::parse(p.rsplit('/').next().unwrap_or_default());
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.content_type == y.content_type && x.partition == y.partition,
        _ => false,
    }
}

/// `true` when a legacy `<message file>.lock` younger than `stale_after` is in the folder.
fn fresh_lock(
    root: &Path,
    dep: &str,
    ignored: &[(String, msgmig_schemas::archive::IgnoreReason)],
    stale_after: Duration,
) -> bool {
    ignored.iter().any(|(name, _)| {
        let Some(target) = name.strip_suffix(".lock") else { return false };
        if MessageFileName::parse(target).is_none() {
            return false;
        }
        let Ok(meta) = std::fs::metadata(root.join(dep).join(name)) else { return false };
        let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
        if age > stale_after {
            tracing::warn!(event = "stale_lock", deposition_id = %dep, filename = %name, age_seconds = age.as_secs(), "ignoring a stale .lock");
            return false;
        }
        true
    })
}
