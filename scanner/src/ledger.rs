//! The watcher's file ledger: path → state of every message file as last published (or, at
//! start, as the database says it was loaded). Ordered by path, so one deposition's files are
//! one range (`D_…/` prefix): looking them up costs the deposition's files, not the archive's.
//! An unordered map made every folder's check a walk over the whole ledger: O(depositions ×
//! files), hours for a restart over 10^5 unchanged depositions.

use msgmig_schemas::record::{FileEvent, FileState};
use std::collections::{BTreeMap, HashSet};

/// Version, size and mtime: what tells a file's state apart.
pub(crate) fn state_of(e: &FileEvent) -> (u32, u64, i64) {
    (e.version, e.size, e.mtime_ns)
}

/// Path → [`FileState`], ordered by path.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    files: BTreeMap<String, FileState>,
}

impl Ledger {
    pub(crate) fn new(files: Vec<FileState>) -> Self {
        Ledger {
            files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
        }
    }

    /// The files recorded under the deposition folder `dep`, in path order.
    pub(crate) fn of_deposition<'a>(&'a self, dep: &str) -> impl Iterator<Item = &'a FileState> {
        let prefix = format!("{dep}/");
        self.files
            .range(prefix.clone()..)
            .take_while(move |(path, _)| path.starts_with(&prefix))
            .map(|(_, f)| f)
    }

    /// `true` when a file of `events` is new or changed against the ledger.
    pub(crate) fn changed(&self, e: &FileEvent) -> bool {
        self.files
            .get(&e.path)
            .is_none_or(|l| (l.version, l.size, l.mtime_ns) != state_of(e))
    }

    /// `true` when a deposition's latest files (`events`) differ from the ledger: one is new or
    /// changed, or a recorded one is gone.
    pub(crate) fn differs(&self, dep: &str, events: &[FileEvent]) -> bool {
        let current: HashSet<&str> = events.iter().map(|e| e.path.as_str()).collect();
        events.iter().any(|e| self.changed(e))
            || self
                .of_deposition(dep)
                .any(|f| !current.contains(f.path.as_str()))
    }

    pub(crate) fn insert(&mut self, state: FileState) {
        self.files.insert(state.path.clone(), state);
    }

    pub(crate) fn remove(&mut self, path: &str) {
        self.files.remove(path);
    }

    /// Every recorded file, in path order.
    pub(crate) fn all(&self) -> impl Iterator<Item = &FileState> {
        self.files.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(path: &str) -> FileState {
        FileState {
            path: path.into(),
            version: 1,
            size: 10,
            mtime_ns: 5,
            ctime_ns: 5,
        }
    }

    #[test]
    fn a_deposition_is_its_own_prefix_not_a_longer_id() {
        let ledger = Ledger::new(vec![
            state("D_1/D_1_messages-to-depositor_P1.cif.V1"),
            state("D_10/D_10_messages-to-depositor_P1.cif.V1"),
            state("D_1/D_1_notes-from-annotator_P1.cif.V2"),
            state("D_0/D_0_messages-to-depositor_P1.cif.V1"),
        ]);
        let paths: Vec<&str> = ledger
            .of_deposition("D_1")
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "D_1/D_1_messages-to-depositor_P1.cif.V1",
                "D_1/D_1_notes-from-annotator_P1.cif.V2"
            ]
        );
        assert_eq!(ledger.of_deposition("D_2").count(), 0);
    }
}
