//! Crash points for tests: `MSGMIG_FAILPOINT=<name>:<n>` makes the process abort (like
//! `kill -9`: no destructors, no flush, no offset commit) the n-th time it reaches the point
//! named `<name>`. Unset (production), a point costs one relaxed atomic load.
//!
//! Error points (`*_error`) do not abort: the first n hits fail instead (a transient fault).
//!
//! Points: `transformer_read_error` (a file read fails with EIO), `loader_before_commit` (batch written, transaction open), `loader_after_commit`
//! (committed, Kafka offsets not yet stored), `transformer_before_ack` (records published and
//! flushed, file events not yet acknowledged).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

static ARMED: LazyLock<Option<(String, u64)>> = LazyLock::new(|| {
    let spec = std::env::var("MSGMIG_FAILPOINT").ok()?;
    let (name, n) = spec.split_once(':').unwrap_or((&spec, "1"));
    Some((name.to_owned(), n.parse().unwrap_or(1)))
});
static HITS: AtomicU64 = AtomicU64::new(0);

/// Aborts the process if `name` is the armed point and this is its n-th hit.
pub fn hit(name: &str) {
    if let Some((armed, n)) = ARMED.as_ref() {
        if armed == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            eprintln!("msgmig: failpoint {name} reached: aborting");
            std::process::abort();
        }
    }
}

/// True for the first n hits of the armed error point `name` (a name ending in `_error`): the
/// caller then fails as the real fault would.
pub fn fails(name: &str) -> bool {
    match ARMED.as_ref() {
        Some((armed, n)) if armed == name => HITS.fetch_add(1, Ordering::SeqCst) < *n,
        _ => false,
    }
}
