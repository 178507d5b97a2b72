use std::time::{SystemTime, UNIX_EPOCH};

/// A time as the ledger, file events and generations store it: ns since the Unix epoch
/// (0 before the epoch or when unknown, saturating past year 2262). Every crate uses this one
/// rule, so a file's state read by the scanner equals the one the transformer recorded.
pub fn unix_ns(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A file's modification time by [`unix_ns`] (0 when the platform cannot say).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified().map_or(0, unix_ns)
}

/// A file's status-change time (POSIX `st_ctime`) by [`unix_ns`]: set by the kernel to "now"
/// on every write, rename, chmod and `utimensat`, and never settable to another value from
/// user space. So an edit whose mtime was put back (`touch -r`, `cp -p`), or a restore from a
/// backup with older mtimes, still moves it.
pub fn ctime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.ctime()
        .checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(meta.ctime_nsec()))
        .map_or(0, |ns| ns.max(0))
}

/// When a file last changed as far as msgmig trusts it: the later of its mtime and its
/// ctime. Generations are built from this, so a file restored from a backup with an older
/// mtime is a newer source state than the one loaded, not a stale replay; while a record read
/// before a later write still loses to it (the write moved both times).
pub fn changed_ns(meta: &std::fs::Metadata) -> i64 {
    mtime_ns(meta).max(ctime_ns(meta))
}
