//! The threads that stat and list the archive. Almost all of a walk or a poll pass is waiting
//! for the storage when the inodes are not cached (a cold page cache; NFS, where every call is
//! a round trip), so the work is spread over more threads than cores: [`FS_IN_FLIGHT`] calls
//! in flight instead of one per core.

use std::sync::LazyLock;

/// Archive listings or stats in flight at once: chunks of folders in a one-shot walk, threads
/// of a poll pass. Measured on an unchanged re-run of 10^5 folders with a cold cache: 10.1–13.1
/// s with 2, 6.5–6.6 s with 16 (README, performance).
pub(crate) const FS_IN_FLIGHT: usize = 16;

/// A rayon pool of [`FS_IN_FLIGHT`] threads for the poll passes' parallel stats and listings
/// (rayon's global pool has one thread per core).
pub(crate) static FS_POOL: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .num_threads(FS_IN_FLIGHT)
        .thread_name(|i| format!("msgmig-fs-{i}"))
        .build()
        .expect("a thread pool can be built")
});
