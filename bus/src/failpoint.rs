//! Fault injection for tests, with the [`fail`] crate: points compiled in only with the
//! `failpoints` cargo feature (the test builds enable it; a release build has none, and a
//! point then costs nothing).
//!
//! A process configures its points at start from the `FAILPOINTS` environment variable
//! (`fail`'s syntax: `name=action;name2=action`, e.g. `loader_after_commit=2*off->return`:
//! pass twice, then act), through [`setup`]. Two kinds of point:
//! - [`crash_point!`]: `return` ends the process at once with `abort()`, like `kill -9` (no
//!   destructors, no flush, no offset commit);
//! - [`error_point!`]: `return` makes the enclosing function return the given error, as the
//!   real fault would (a transient fault when limited to its first n hits: `3*return`).
//!
//! The points, by window: `loader_before_commit` (batch written, transaction open),
//! `loader_after_commit` (committed, Kafka offsets not yet stored), `loader_end_error`
//! (an error while writing a batch that holds an end marker), `loader_staged`
//! (committed a batch that left a deposition open), `loader_refused` (committed a batch that
//! refused a record), `outbox_after_publish` (dead letters acknowledged by the broker, not yet
//! marked sent), `transformer_before_ack` (records published and flushed, file events not
//! yet acknowledged), `transformer_read_error` (a file read fails with EIO),
//! `scanner_after_publish` (file events handed to the producer, delivery not yet confirmed),
//! `rebalance_assign` (a partition assignment received, start offsets not read yet).

pub use fail;

/// Reads `FAILPOINTS` and arms the points it names; keep the guard for the process's life.
/// Without the `failpoints` feature it does nothing.
pub fn setup() -> fail::FailScenario<'static> {
    fail::FailScenario::setup()
}

/// Whether failpoints are compiled into this build (`failpoints` feature).
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// A point where the process may die as under `kill -9` (action `return`).
#[macro_export]
macro_rules! crash_point {
    ($name:literal) => {
        $crate::failpoint::fail::fail_point!($name, |_| {
            eprintln!("msgmig: failpoint {} reached: aborting", $name);
            std::process::abort()
        })
    };
}

/// A point where the enclosing function may return `$error` (action `return`).
#[macro_export]
macro_rules! error_point {
    ($name:literal, $error:expr) => {
        $crate::failpoint::fail::fail_point!($name, |_| {
            eprintln!("msgmig: failpoint {} reached: failing", $name);
            $error
        })
    };
}
