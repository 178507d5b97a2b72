//! Issue 10 §7: an I/O error while reading a deposition is retried with backoff; one that
//! persists quarantines the deposition as unreadable without recording it as loaded, and the
//! next run loads it.

mod common;
use common::*;
use std::process::Command;

fn migrate_with_failpoint(
    cwd: &std::path::Path,
    archive: &str,
    failpoint: &str,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(cwd)
        .args([
            "migrate",
            "--directory",
            archive,
            "--create-tables",
            "--deposition",
            "D_1000000001",
        ])
        .env_remove("MSGMIG_DATABASE_URL")
        .env("MSGMIG_FAILPOINT", failpoint)
        .output()
        .unwrap()
}

#[test]
fn a_read_error_that_clears_is_retried() {
    let work = tempfile::tempdir().unwrap();
    let archive = example_archive();
    let out = migrate_with_failpoint(
        work.path(),
        archive.to_str().unwrap(),
        "transformer_read_error:2",
    );
    assert_exit(&out, 0);
    let s = stdout(&out);
    assert!(s.contains("depositions: 1 (1 loaded"), "{s}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("event=\"read_retry\"").count(), 2, "{log}");
}

#[test]
fn a_read_error_that_persists_quarantines_until_the_next_run() {
    let work = tempfile::tempdir().unwrap();
    let archive = example_archive();
    let dir = archive.to_str().unwrap();
    let out = migrate_with_failpoint(work.path(), dir, "transformer_read_error:1000");
    assert_exit(&out, 1);
    let s = stdout(&out);
    assert!(s.contains("QUARANTINED D_1000000001 [unreadable]"), "{s}");
    assert!(s.contains("Input/output error"), "the cause is named: {s}");
    let again = msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            dir,
            "--deposition",
            "D_1000000001",
        ],
    );
    assert_exit(&again, 0);
    assert!(
        stdout(&again).contains("depositions: 1 (1 loaded"),
        "{}",
        stdout(&again)
    );
    assert!(
        !stdout(&again).contains("0 inserted"),
        "the next run loads it: {}",
        stdout(&again)
    );
}
