//! What a re-run needs to know of a deposition's last clean load to skip it, in
//! a few bytes per deposition: at 10^6 depositions the whole file ledger (2 × 10^6 paths) must
//! not sit in memory, a fingerprint of each deposition's files does.

use sha2::{Digest, Sha256};

/// One file's stamp in a [`LoadedFiles::fingerprint`]: the first 128 bits of SHA-256 over
/// path, version, size, mtime and ctime (ns). A ctime of 0 stands for "not recorded".
pub fn file_fingerprint(path: &str, version: u32, size: u64, mtime_ns: i64, ctime_ns: i64) -> u128 {
    let mut h = Sha256::new();
    h.update((path.len() as u64).to_le_bytes());
    h.update(path.as_bytes());
    h.update(version.to_le_bytes());
    h.update(size.to_le_bytes());
    h.update(mtime_ns.to_le_bytes());
    h.update(ctime_ns.to_le_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(first)
}

/// A deposition as its last clean load saw it (from the file ledger, written in the same
/// transaction as its rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadedFiles {
    /// Messages loaded from them.
    pub messages: u64,
    /// Latest files read then.
    pub files: u32,
    /// Wrapping sum of the files' [`file_fingerprint`]s: independent of the order the database
    /// returns them in.
    pub fingerprint: u128,
    /// Whether the ledger recorded ctimes (rows written before msgmig kept them have none: such a
    /// deposition is compared by path, version, size and mtime alone until it is loaded again).
    pub with_ctime: bool,
}

impl LoadedFiles {
    /// Adds one ledger row (`ctime_ns` 0 when the row has none).
    pub fn add(&mut self, path: &str, version: u32, size: u64, mtime_ns: i64, ctime_ns: i64) {
        if self.files == 0 {
            self.with_ctime = ctime_ns != 0;
        }
        self.files += 1;
        self.fingerprint = self
            .fingerprint
            .wrapping_add(file_fingerprint(path, version, size, mtime_ns, ctime_ns));
    }

    /// True when `files` (path, version, size, mtime, ctime) are exactly the ones loaded: none
    /// added, none gone, none changed. The ctime catches an edit whose size and mtime were put
    /// back, and a restore from a backup.
    pub fn matches<'a>(
        &self,
        files: impl ExactSizeIterator<Item = (&'a str, u32, u64, i64, i64)>,
    ) -> bool {
        if files.len() != self.files as usize {
            return false;
        }
        let sum = files.fold(0u128, |acc, (path, version, size, mtime, ctime)| {
            let ctime = if self.with_ctime { ctime } else { 0 };
            acc.wrapping_add(file_fingerprint(path, version, size, mtime, ctime))
        });
        sum == self.fingerprint
    }
}

/// Every loaded deposition's [`LoadedFiles`], sorted by deposition id for binary search.
///
/// About 100 bytes a deposition: at 10^6 depositions a `HashMap<String, LoadedFiles>` held about
/// 200 MB (its table doubles past 7/8 full, and each bucket holds a 24-byte `String`), which put
/// an unchanged re-run at a peak RSS of 375 MB.
#[derive(Debug, Default, Clone)]
pub struct LoadedStates(Vec<(Box<str>, LoadedFiles)>);

impl LoadedStates {
    /// The deposition's state as last loaded, if it was.
    pub fn get(&self, deposition_id: &str) -> Option<&LoadedFiles> {
        let i = self
            .0
            .binary_search_by(|(id, _)| id.as_ref().cmp(deposition_id))
            .ok()?;
        Some(&self.0[i].1)
    }

    /// Depositions held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` when no deposition is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(Box<str>, LoadedFiles)> for LoadedStates {
    /// Collects, sorts by id and keeps the last state given for an id.
    fn from_iter<I: IntoIterator<Item = (Box<str>, LoadedFiles)>>(iter: I) -> Self {
        let mut states: Vec<(Box<str>, LoadedFiles)> = iter.into_iter().collect();
        // Stable: of equal ids, the one given last ends last and survives the dedup below.
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        states.shrink_to_fit();
        LoadedStates(states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(files: &[(&str, u32, u64, i64, i64)]) -> LoadedFiles {
        let mut l = LoadedFiles::default();
        for f in files {
            l.add(f.0, f.1, f.2, f.3, f.4);
        }
        l
    }

    #[test]
    fn the_same_files_in_any_order_match_and_any_change_does_not() {
        let a = ("D_1/D_1_messages-to-depositor_P1.cif.V2", 2, 100, 5, 7);
        let b = ("D_1/D_1_notes-from-annotator_P1.cif.V1", 1, 40, 3, 3);
        let l = loaded(&[a, b]);
        assert!(l.matches([b, a].into_iter()));
        assert!(!l.matches([a].into_iter()), "a file gone");
        assert!(!l.matches([a, b, b].into_iter()), "a file added");
        assert!(
            !l.matches([(a.0, a.1, a.2, a.3, 8), b].into_iter()),
            "ctime moved"
        );
        assert!(
            !l.matches([(a.0, a.1, 101, a.3, a.4), b].into_iter()),
            "size"
        );
        assert!(
            !l.matches([(a.0, a.1, a.2, 6, a.4), b].into_iter()),
            "mtime"
        );
        assert!(
            !l.matches([("D_1/D_1_messages-to-depositor_P1.cif.V3", 3, 100, 5, 7), b].into_iter()),
            "new version"
        );
    }

    #[test]
    fn states_are_found_by_deposition_id_whatever_the_order_given() {
        let one = |messages| LoadedFiles {
            messages,
            ..LoadedFiles::default()
        };
        let states: LoadedStates = [("D_10", 10), ("D_2", 2), ("D_1", 1), ("D_2", 3)]
            .into_iter()
            .map(|(id, m)| (Box::from(id), one(m)))
            .collect();
        assert_eq!(states.len(), 3);
        assert_eq!(states.get("D_1"), Some(&one(1)));
        assert_eq!(states.get("D_10"), Some(&one(10)));
        assert_eq!(
            states.get("D_2"),
            Some(&one(3)),
            "the last state given wins"
        );
        assert_eq!(states.get("D_3"), None);
        assert!(LoadedStates::default().get("D_1").is_none());
    }

    #[test]
    fn a_ledger_without_ctimes_compares_without_them() {
        let l = loaded(&[("D_1/x", 1, 10, 5, 0)]);
        assert!(!l.with_ctime);
        assert!(l.matches([("D_1/x", 1, 10, 5, 99)].into_iter()));
        assert!(!l.matches([("D_1/x", 1, 10, 6, 99)].into_iter()));
    }
}
