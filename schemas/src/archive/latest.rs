use super::{ContentType, MessageFileName};
use std::collections::BTreeMap;

/// The authoritative file of one (content type, partition) of a deposition: its latest version
/// (numeric maximum; older versions are historical snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestFile {
    /// File name inside the deposition folder.
    pub name: String,
    /// Parsed name.
    pub parsed: MessageFileName,
}

/// Why a directory entry is not read (counted, logged at debug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IgnoreReason {
    /// Not a message file name (other content types, backups, locks, temp files, …).
    NotAMessageFile,
    /// A message file of another deposition than the folder it sits in.
    OtherDeposition,
    /// A message file whose version is not the latest.
    OlderVersion,
    /// A second name for the same version (`V2` and `V02`): the unpadded one wins.
    DuplicateVersion,
}

/// The result of classifying one deposition folder's entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryListing {
    /// Latest files, ordered by content type (from-depositor, to-depositor, notes) then partition.
    pub latest: Vec<LatestFile>,
    /// Every other entry with the reason it is not read.
    pub ignored: Vec<(String, IgnoreReason)>,
}

/// Picks the latest version per (content type, partition) among `names` (the entries of the
/// folder of deposition `folder_id`). Pure: the caller lists the directory.
pub fn classify_entries<I, S>(folder_id: &str, names: I) -> DirectoryListing
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut best: BTreeMap<(ContentType, u32), LatestFile> = BTreeMap::new();
    let mut listing = DirectoryListing::default();
    for name in names {
        let name = name.into();
        let Some(parsed) = MessageFileName::parse(&name) else {
            listing.ignored.push((name, IgnoreReason::NotAMessageFile));
            continue;
        };
        if parsed.deposition_id != folder_id {
            listing.ignored.push((name, IgnoreReason::OtherDeposition));
            continue;
        }
        let key = (parsed.content_type, parsed.partition);
        let candidate = LatestFile { name, parsed };
        match best.get(&key) {
            None => {
                best.insert(key, candidate);
            }
            Some(current) => {
                let (cur_v, new_v) = (current.parsed.version, candidate.parsed.version);
                let replace = new_v > cur_v
                    || (new_v == cur_v
                        && current.parsed.zero_padded
                        && !candidate.parsed.zero_padded);
                let reason = if new_v == cur_v {
                    IgnoreReason::DuplicateVersion
                } else {
                    IgnoreReason::OlderVersion
                };
                if replace {
                    let old = best.insert(key, candidate).expect("present");
                    listing.ignored.push((old.name, reason));
                } else {
                    listing.ignored.push((candidate.name, reason));
                }
            }
        }
    }
    listing.latest = best.into_values().collect();
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_latest_version_wins() {
        let l = classify_entries(
            "D_1",
            [
                "D_1_messages-to-depositor_P1.cif.V9",
                "D_1_messages-to-depositor_P1.cif.V10",
                "D_1_messages-to-depositor_P1.cif.V10.PREV0",
                "D_1_messages-to-depositor_P1.cif.V10.lock",
                "D_1_notes-from-annotator_P1.cif.V1",
                "D_1_model_P1.cif.V1",
                "D_2_messages-from-depositor_P1.cif.V1",
            ],
        );
        let names: Vec<_> = l.latest.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "D_1_messages-to-depositor_P1.cif.V10",
                "D_1_notes-from-annotator_P1.cif.V1"
            ]
        );
        assert_eq!(l.ignored.len(), 5);
        assert!(l.ignored.contains(&(
            "D_1_messages-to-depositor_P1.cif.V9".into(),
            IgnoreReason::OlderVersion
        )));
        assert!(l.ignored.contains(&(
            "D_2_messages-from-depositor_P1.cif.V1".into(),
            IgnoreReason::OtherDeposition
        )));
    }

    #[test]
    fn unpadded_name_wins_over_padded_duplicate() {
        let l = classify_entries(
            "D_1",
            [
                "D_1_messages-to-depositor_P1.cif.V02",
                "D_1_messages-to-depositor_P1.cif.V2",
            ],
        );
        assert_eq!(l.latest[0].name, "D_1_messages-to-depositor_P1.cif.V2");
        assert_eq!(
            l.ignored,
            vec![(
                "D_1_messages-to-depositor_P1.cif.V02".into(),
                IgnoreReason::DuplicateVersion
            )]
        );
    }
}
