//! `msgmig migrate` + `msgmig verify` through the real binary, on archives on disk.

mod common;

use common::{copy_dir, example_archive, migrate_into, msgmig, stdout, MariaDb};

use std::path::Path;

#[test]
fn example_archive_loads_with_parity_and_reruns_change_nothing() {
    let work = tempfile::tempdir().unwrap();
    let dir = example_archive();
    let dir = dir.to_str().unwrap();
    let first = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--create-tables"],
    );
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        stdout(&first),
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout(&first).contains("33 inserted"), "{}", stdout(&first));
    let verify = msgmig(work.path(), &["verify", "--directory", dir]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    assert!(
        stdout(&verify).contains("11 with parity"),
        "{}",
        stdout(&verify)
    );
    let again = msgmig(work.path(), &["migrate", "--directory", dir]);
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).contains("0 inserted, 0 updated, 33 unchanged"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn a_broken_file_quarantines_its_deposition_whole_and_a_fix_loads_it() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(
        &example_archive().join("D_0000000101"),
        &archive.join("D_0000000101"),
    );
    let good = archive.join("D_0000000101/D_0000000101_messages-from-depositor_P1.cif.V10");
    let text = std::fs::read_to_string(&good).unwrap();
    // Truncate inside the first text field: a torn write, as a crash of the legacy app leaves it.
    let cut = text.find("We found").unwrap();
    std::fs::write(&good, &text[..cut]).unwrap();
    let dir = archive.to_str().unwrap();
    let out = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--create-tables"],
    );
    assert_eq!(out.status.code(), Some(1), "quarantine is exit 1");
    let s = stdout(&out);
    assert!(
        s.contains("0 inserted"),
        "nothing of the deposition is loaded: {s}"
    );
    assert!(s.contains("QUARANTINED D_0000000101 [parse_error] D_0000000101/D_0000000101_messages-from-depositor_P1.cif.V10 line 17, column 1: unterminated text field"), "{s}");
    let verify = msgmig(work.path(), &["verify", "--directory", dir]);
    assert!(
        stdout(&verify).contains("1 quarantined"),
        "{}",
        stdout(&verify)
    );
    std::fs::write(&good, &text).unwrap();
    let fixed = msgmig(work.path(), &["migrate", "--directory", dir]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
    assert!(stdout(&fixed).contains("3 inserted"), "{}", stdout(&fixed));
}

#[test]
fn a_bad_timestamp_quarantines_and_dry_run_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(
        &example_archive().join("D_0000000102"),
        &archive.join("D_0000000102"),
    );
    let dir = archive.to_str().unwrap();
    let dry = msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            dir,
            "--create-tables",
            "--dry-run",
        ],
    );
    assert_eq!(
        dry.status.code(),
        Some(2),
        "dry run never creates tables: {}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(String::from_utf8_lossy(&dry.stderr).contains("msgmig db init"));
    assert_eq!(msgmig(work.path(), &["db", "init"]).status.code(), Some(0));
    let dry = msgmig(work.path(), &["migrate", "--directory", dir, "--dry-run"]);
    assert!(
        stdout(&dry).contains("D_0000000102: would insert 1"),
        "{}",
        stdout(&dry)
    );
    let verify = msgmig(work.path(), &["verify", "--directory", dir]);
    assert_eq!(
        verify.status.code(),
        Some(1),
        "dry run wrote nothing, so verify finds the message missing"
    );
    let file = archive.join("D_0000000102/D_0000000102_messages-from-depositor_P1.cif.V1");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("2024-03-01", "2024-13-01");
    std::fs::write(&file, text).unwrap();
    let out = msgmig(work.path(), &["migrate", "--directory", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("[bad_timestamp]"), "{}", stdout(&out));
}

#[test]
fn usage_errors_exit_2_and_never_print_passwords() {
    let work = tempfile::tempdir().unwrap();
    let dir = example_archive();
    let out = msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            dir.to_str().unwrap(),
            "--database-url",
            "mysql://root:hunter2@127.0.0.1:1/x",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.contains("***") && !err.contains("hunter2"),
        "{err}"
    );
    let out = msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            dir.to_str().unwrap(),
            "--deposition",
            "X_123",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// The shared wwPDB samples (switched on by `MSGMIG_SHARED_FIXTURES`): every loadable message
/// loads, the twin depositions are reported as conflicts, verify agrees.
#[test]
fn shared_sample_archive_loads_and_reports_twin_conflicts() {
    let Ok(fixtures) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES not set: sample archive not migrated");
        return;
    };
    let archive = Path::new(&fixtures).join("wwpdb-archive");
    assert!(archive.is_dir(), "{} is missing", archive.display());
    let work = tempfile::tempdir().unwrap();
    let dir = archive.to_str().unwrap();
    let out = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--create-tables"],
    );
    let s = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "conflicts give exit 1: {s}");
    assert!(
        s.contains("messages: 17 inserted"),
        "17 distinct messages: {s}"
    );
    assert!(s.contains("17 conflicts"), "{s}");
    assert!(s.contains("file references: 74 inserted"), "{s}");
    // Rows rewritten when D_9000265933 takes 3 ids over from D_0000265933 (their content names
    // it: the ownership rule) are not counted: the figures do not depend on arrival order.
    assert!(
        s.contains("statuses: 12 written; origcomm: 1 written"),
        "{s}"
    );
    assert!(
        s.contains("depositions: 6 (1 loaded, 5 with conflicts, 0 quarantined)"),
        "{s}"
    );
    let verify = msgmig(work.path(), &["verify", "--directory", dir]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("conflicts (message stored for another deposition): 17"));
}

/// The same pipeline into MariaDB (a fresh database, dropped afterwards).
#[test]
fn example_archive_into_mariadb() {
    let db = MariaDb::create("msgmig_e2e");
    let url = db.url.clone();
    let work = tempfile::tempdir().unwrap();
    let dir = example_archive();
    let dir = dir.to_str().unwrap();
    let out = migrate_into(work.path(), dir, &url, &[]);
    let verify = msgmig(
        work.path(),
        &["verify", "--directory", dir, "--database-url", &url],
    );
    let again = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--database-url", &url],
    );
    drop(db);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    assert!(
        stdout(&again).contains("33 unchanged"),
        "{}",
        stdout(&again)
    );
}

/// Twin depositions racing in parallel loader partitions on MariaDB: the duplicate-key race is
/// replanned into a reported conflict, never a crash or a half-loaded deposition.
#[test]
fn shared_samples_into_mariadb_with_parallel_loaders() {
    let Ok(fixtures) = std::env::var("MSGMIG_SHARED_FIXTURES") else {
        eprintln!("MSGMIG_SHARED_FIXTURES not set: sample archive not migrated into MariaDB");
        return;
    };
    let archive = Path::new(&fixtures).join("wwpdb-archive");
    let db = MariaDb::create("msgmig_e2e_twins");
    let url = db.url.clone();
    let work = tempfile::tempdir().unwrap();
    let dir = archive.to_str().unwrap();
    let out = migrate_into(work.path(), dir, &url, &["--loaders", "3"]);
    let verify = msgmig(
        work.path(),
        &["verify", "--directory", dir, "--database-url", &url],
    );
    drop(db);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("messages: 17 inserted"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("17 conflicts"), "{}", stdout(&out));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}
