//! The threads that stat and list the archive. Almost all of a walk or a poll pass is waiting
//! for the storage when the inodes are not cached (a cold page cache; NFS, where every call is
//! a round trip), so the work is spread over more threads than cores: [`fs_in_flight`] calls
//! in flight instead of one per core.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

/// Archive listings or stats in flight at once unless [`set_fs_in_flight`] says otherwise:
/// chunks of folders in a one-shot walk, threads of a poll pass. On storage that answers
/// slowly (a cold cache, NFS) more calls in flight hide the wait (docs/benchmarks.md).
pub const DEFAULT_FS_IN_FLIGHT: usize = 16;

/// The most [`set_fs_in_flight`] takes: each is a thread while the archive is read.
pub const MAX_FS_IN_FLIGHT: usize = 256;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(DEFAULT_FS_IN_FLIGHT);

/// Sets how many archive listings or stats are in flight at once (`msgmig --fs-in-flight`),
/// clamped to 1..=[`MAX_FS_IN_FLIGHT`]. Call it before the first walk or poll pass: the poll
/// passes' thread pool is built once, at its first use, with the depth set then.
pub fn set_fs_in_flight(n: usize) {
    IN_FLIGHT.store(clamped(n), Ordering::Relaxed);
}

fn clamped(n: usize) -> usize {
    n.clamp(1, MAX_FS_IN_FLIGHT)
}

/// The depth in force (see [`set_fs_in_flight`]).
pub(crate) fn fs_in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Relaxed)
}

/// A rayon pool of [`fs_in_flight`] threads for the poll passes' parallel stats and listings
/// (rayon's global pool has one thread per core).
pub(crate) static FS_POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(fs_in_flight())
        .thread_name(|i| format!("msgmig-fs-{i}"))
        .build()
        .expect("a thread pool can be built")
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_depth_is_clamped_to_what_a_walk_can_use() {
        assert_eq!(clamped(0), 1, "0 would stall every walk");
        assert_eq!(clamped(100_000), MAX_FS_IN_FLIGHT);
        assert_eq!(clamped(DEFAULT_FS_IN_FLIGHT), DEFAULT_FS_IN_FLIGHT);
    }
}
