//! The end-of-run summary of `migrate`: what it holds, how the finished depositions add up to
//! it, and how it is printed.

use msgmig_loader::{DepositionReport, RowCounts};
use serde::Serialize;

/// The end-of-run summary (also written to the JSON log as `migration_complete`).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// How the rows were written: `"per_deposition"`, or `"bulk"` for a first backfill loaded
    /// table by table (its contested and quarantined depositions per deposition).
    pub load_path: &'static str,
    pub depositions: u64,
    pub depositions_loaded: u64,
    pub depositions_quarantined: u64,
    pub depositions_with_conflicts: u64,
    pub files: u64,
    pub empty_files: u64,
    pub files_ignored: u64,
    /// Depositions skipped because their files match their last clean load (not with --full).
    pub depositions_unchanged: u64,
    /// Their files (not read).
    pub files_unchanged: u64,
    /// Folders under the archive root that are not deposition folders (`D_12a`, `d_1`, …).
    pub folders_ignored: u64,
    pub folders_ignored_names: Vec<String>,
    pub rows: RowCounts,
    pub warnings: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub rows_per_second: f64,
    pub quarantined: Vec<DepositionReport>,
    pub conflicts: Vec<(String, String, String)>,
    /// (deposition, message id) of messages the application changed in the database since
    /// msgmig wrote them, left as they are.
    pub kept: Vec<(String, String)>,
}

impl Summary {
    /// Messages and rows per second over `seconds` (of the whole run, or of the part done
    /// when interrupted).
    pub(super) fn set_rates(&mut self) {
        let messages = self.rows.inserted + self.rows.updated + self.rows.unchanged;
        self.messages_per_second = messages as f64 / self.seconds.max(1e-9);
        self.rows_per_second = self.rows.rows_written() as f64 / self.seconds.max(1e-9);
    }
}

/// The finished depositions of a run, as the summary needs them.
#[derive(Default)]
pub(super) struct Finished {
    /// Every deposition reported.
    pub ids: DepositionSet,
    /// The reports of quarantined depositions, by id.
    pub quarantined: std::collections::BTreeMap<String, DepositionReport>,
    /// Rows and files of every report (an interrupted run's summary adds them up).
    pub rows: msgmig_loader::RowCounts,
    pub files: u64,
    /// Counts of messages whose claimant lost them later in the run, to move to conflicts.
    pub recounts: Vec<msgmig_loader::plan::Counted>,
}

impl Finished {
    pub(super) fn add(&mut self, report: DepositionReport) {
        self.rows.add(&report.counts);
        for c in &report.recounts {
            self.rows.recount(c);
        }
        self.recounts.extend(report.recounts.iter().copied());
        self.files += u64::from(report.files);
        self.ids.insert(&report.deposition_id);
        if report.quarantine.is_some() {
            self.quarantined
                .insert(report.deposition_id.clone(), report);
        } else {
            self.quarantined.remove(&report.deposition_id);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }
}

pub(super) fn print_summary(s: &Summary, dry_run: bool) {
    let r = &s.rows;
    println!(
        "{}",
        if dry_run {
            "Migration Summary (dry run: nothing written)"
        } else {
            "Migration Summary"
        }
    );
    println!(
        "  depositions: {} ({} loaded, {} with conflicts, {} quarantined)",
        s.depositions,
        s.depositions_loaded,
        s.depositions_with_conflicts,
        s.depositions_quarantined
    );
    if s.load_path == "bulk" {
        println!("  loaded table by table (a first backfill into empty tables)");
    }
    println!(
        "  files: {} read ({} empty), {} ignored",
        s.files, s.empty_files, s.files_ignored
    );
    if s.depositions_unchanged > 0 {
        println!(
            "  unchanged since their last load (file ledger; --full reads them): {} depositions, {} files not read",
            s.depositions_unchanged, s.files_unchanged
        );
    }
    println!(
        "  messages: {} inserted, {} updated, {} unchanged, {} stale, {} conflicts{}",
        r.inserted,
        r.updated,
        r.unchanged,
        r.stale,
        r.conflicts,
        if r.kept > 0 {
            format!(", {} kept as the application changed them", r.kept)
        } else {
            String::new()
        }
    );
    println!(
        "  file references: {} inserted, {} extra in DB ({} deleted)",
        r.file_refs_inserted, r.file_refs_extra, r.file_refs_deleted
    );
    println!(
        "  statuses: {} written; origcomm: {} written",
        r.statuses_written, r.origcomm_written
    );
    if s.folders_ignored > 0 {
        println!(
            "  folders ignored (not deposition folders): {} ({}{})",
            s.folders_ignored,
            s.folders_ignored_names.join("; "),
            if s.folders_ignored as usize > s.folders_ignored_names.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    println!("  warnings: {} (see the log)", s.warnings);
    println!(
        "  time: {:.2} s ({:.0} messages/s, {:.0} rows/s)",
        s.seconds, s.messages_per_second, s.rows_per_second
    );
    for q in &s.quarantined {
        if let Some(q2) = &q.quarantine {
            let at = match (q2.line, q2.column) {
                (Some(l), Some(c)) => format!(" line {l}, column {c}"),
                (Some(l), None) => format!(" line {l}"),
                _ => String::new(),
            };
            println!(
                "  QUARANTINED {} [{}] {}{}: {}",
                q.deposition_id,
                q2.kind.as_str(),
                q2.path.as_deref().unwrap_or("-"),
                at,
                q2.reason
            );
        }
    }
    for (dep, id, owner) in &s.conflicts {
        println!("  CONFLICT {dep}: message {id} already belongs to {owner}");
    }
    for (dep, id) in &s.kept {
        println!(
            "  KEPT {dep}: message {id} was changed in the database (by the application) since msgmig loaded it; the file's version is not applied"
        );
    }
}

/// A set of deposition folder ids, 8 bytes per id of the usual shape (`D_`/`G_` and up to 17
/// digits, packed exactly: prefix, digit count and value), a string only for any other: what a
/// one-shot run keeps per deposition it finished is sized to the selection, not to its names.
#[derive(Debug, Default)]
pub(super) struct DepositionSet {
    packed: std::collections::HashSet<u64>,
    other: std::collections::HashSet<Box<str>>,
}

impl DepositionSet {
    /// The exact packed form of `id`, when it has the usual shape.
    fn pack(id: &str) -> Option<u64> {
        let (prefix, digits) = (id.get(..2)?, id.get(2..)?);
        let kind = match prefix {
            "D_" => 0u64,
            "G_" => 1,
            _ => return None,
        };
        if digits.is_empty() || digits.len() > 17 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // 17 digits < 2^57; the digit count (5 bits) keeps `D_01` apart from `D_1`.
        let value: u64 = digits.parse().ok()?;
        Some(kind << 63 | (digits.len() as u64) << 57 | value)
    }

    pub(super) fn insert(&mut self, id: &str) {
        match Self::pack(id) {
            Some(p) => {
                self.packed.insert(p);
            }
            None => {
                self.other.insert(id.into());
            }
        }
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        match Self::pack(id) {
            Some(p) => self.packed.contains(&p),
            None => self.other.contains(id),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.packed.len() + self.other.len()
    }
}

#[cfg(test)]
mod tests {
    use super::DepositionSet;

    #[test]
    fn ids_that_differ_only_in_leading_zeros_or_prefix_stay_apart() {
        const IDS: [&str; 6] = [
            "D_1",
            "D_01",
            "G_1",
            "D_99999999999999999",
            "D_123456789012345678",
            "D_x",
        ];
        let mut set = DepositionSet::default();
        for id in IDS {
            set.insert(id);
        }
        set.insert("D_01");
        assert_eq!(set.len(), 6);
        for id in IDS {
            assert!(set.contains(id), "{id}");
        }
        for id in ["D_001", "G_01", "D_2", "D_y"] {
            assert!(!set.contains(id), "{id}");
        }
    }
}
