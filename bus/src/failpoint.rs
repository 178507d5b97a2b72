//! Fault injection for tests, with the [`fail`] crate: points compiled in only with the
//! `failpoints` cargo feature (the test builds enable it; a release build has none, and a
//! point then costs nothing).
//!
//! A process configures its points at start from the `FAILPOINTS` environment variable
//! (`fail`'s syntax: `name=action;name2=action`, e.g. `loader_after_commit=2*off->return`:
//! pass twice, then act), through [`setup`]. Two kinds of point:
//! - [`crash_point!`](crate::crash_point): `return` ends the process at once with `abort()`, like `kill -9` (no
//!   destructors, no flush, no offset commit);
//! - [`error_point!`](crate::error_point): `return` makes the enclosing function return the given error, as the
//!   real fault would (a transient fault when limited to its first n hits: `3*return`).
//!
//! - [`failing!`](crate::failing): `return` makes the macro `true` once, for faults that are not a return.
//!
//! The points, by window (crash points, then their error twins):
//! - `loader_before_commit`: batch written, transaction open;
//! - `loader_after_commit`: committed, Kafka offsets not yet stored;
//! - `loader_staged` / `loader_staged_error`: a batch that leaves a deposition open (its end
//!   marker in a later batch) committed / fails before its commit;
//! - `loader_refused` / `loader_refused_error`: a batch that refused a record of a deposition
//!   it keeps open committed / fails before its commit;
//! - `outbox_after_publish` / `outbox_publish_error`: dead letters acknowledged by the broker,
//!   not yet marked sent / their publishing fails;
//! - `dead_letter_before_delivery` / `dead_letter_publish_error`: a worker's dead letter handed
//!   to the producer, not yet acknowledged / its delivery fails;
//! - `transformer_before_ack`: records published and flushed, file events not yet
//!   acknowledged; `transformer_read_error`: a file read fails with EIO;
//! - `scanner_after_publish` / `scanner_flush_error`: file events handed to the producer,
//!   delivery not yet confirmed / the delivery fails;
//! - `rebalance_assign` / `rebalance_offsets_error`: a partition assignment received, start
//!   offsets not read yet / reading them fails.

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

/// Whether the point `name` fires now (action `return`), for a fault that is not a function
/// return: the caller then fails as the real fault would. Always `false` in a build without
/// failpoints.
#[cfg(feature = "failpoints")]
#[macro_export]
macro_rules! failing {
    ($name:literal) => {
        $crate::failpoint::fail::eval($name, |_| {
            eprintln!("msgmig: failpoint {} reached: failing", $name);
        })
        .is_some()
    };
}

/// Whether the point `name` fires now: never, in a build without failpoints.
#[cfg(not(feature = "failpoints"))]
#[macro_export]
macro_rules! failing {
    ($name:literal) => {
        false
    };
}

/// The error an injected database fault returns: a dropped connection (the loader's retry
/// policy treats it as it treats a real one).
pub fn injected(what: &str) -> String {
    format!("injected fault at {what}")
}
