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
