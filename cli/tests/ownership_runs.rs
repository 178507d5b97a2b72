//! Contested message ids through the `msgmig migrate` command: the tables, owners, states and
//! the printed summary are the same with 1, 2 or 4 loaders and any batch size, on a fresh
//! database and for the incremental case (a message id copied into another folder while its
//! own folder changed it). MariaDB.

mod common;

use common::archive::{write_contested, write_file, Msg};
use common::snapshot::differences;
use common::{copy_dir, example_archive, migrate_into, stdout, MariaDb};
use std::path::Path;

/// The summary without its timing line.
fn summary(out: &std::process::Output) -> String {
    stdout(out)
        .lines()
        .filter(|l| !l.trim_start().starts_with("time:"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn migrate(work: &Path, archive: &Path, db: &MariaDb, extra: &[&str]) -> String {
    let out = migrate_into(work, archive.to_str().unwrap(), &db.url, extra);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    summary(&out)
}

#[test]
fn a_fresh_load_of_contested_ids_is_the_same_with_any_loaders_and_batches() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    write_contested(&archive, 200);
    let mut first: Option<(String, String, common::snapshot::Snapshot)> = None;
    for (loaders, batch) in [("1", "10000"), ("2", "7"), ("4", "20"), ("2", "10000")] {
        let db = MariaDb::create("msgmig_own_fresh");
        let printed = migrate(
            work.path(),
            &archive,
            &db,
            &["--loaders", loaders, "--batch-size", batch],
        );
        let snapshot = db.snapshot();
        let label = format!("--loaders {loaders} --batch-size {batch}");
        match &first {
            None => first = Some((label, printed, snapshot)),
            Some((first_label, want_printed, want)) => {
                assert_eq!(&printed, want_printed, "{label} against {first_label}");
                assert!(
                    &snapshot == want,
                    "{label} against {first_label}:\n{}",
                    differences(want, &snapshot)
                );
            }
        }
    }
    let (_, printed, _) = first.unwrap();
    for line in [
        "CONFLICT D_5000000004: message contested-0001 already belongs to D_5000000003",
        "CONFLICT D_5000000006: message shared-case-id  already belongs to D_5000000005",
        "CONFLICT D_5000000007: message named-0001 already belongs to D_5000000008",
    ] {
        assert!(printed.contains(line), "{line}\n{printed}");
    }
}

#[test]
fn a_message_copied_while_its_folder_changed_it_goes_to_the_rule_owner_every_time() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    let (d2, d3) = ("D_1000000002", "D_1000000003");
    write_file(
        &archive,
        d3,
        "messages-to-depositor",
        9,
        &[Msg::new("inc-0001", d3, "Original subject")],
    );
    let changed = |archive: &Path| {
        write_file(
            archive,
            d3,
            "messages-to-depositor",
            10,
            &[Msg::new("inc-0001", d3, "Subject changed")],
        );
        write_file(
            archive,
            d2,
            "messages-to-depositor",
            10,
            &[Msg::new("inc-0001", d2, "The copy")],
        );
    };
    // The same two archive states every round (same files, same mtimes): before and after.
    let after = work.path().join("after");
    copy_dir(&archive, &after);
    changed(&after);
    let mut first: Option<(String, common::snapshot::Snapshot)> = None;
    for round in 0..10 {
        let db = MariaDb::create("msgmig_own_incremental");
        migrate(work.path(), &archive, &db, &[]);
        let printed = migrate(work.path(), &after, &db, &["--loaders", "2"]);
        let snapshot = db.snapshot();
        assert_eq!(
            db.query("SELECT CONCAT(p.deposition_id, ' ', i.message_subject) FROM msgmig_message_provenance p JOIN pdbx_deposition_message_info i ON i.message_id = p.message_id WHERE p.message_id = 'inc-0001'"),
            "D_1000000002 The copy",
            "round {round}: both folders name themselves: the smaller owns it\n{printed}"
        );
        match &first {
            None => first = Some((printed, snapshot)),
            Some((want_printed, want)) => {
                assert_eq!(&printed, want_printed, "round {round}");
                assert!(
                    &snapshot == want,
                    "round {round}:\n{}",
                    differences(want, &snapshot)
                );
            }
        }
    }
}
