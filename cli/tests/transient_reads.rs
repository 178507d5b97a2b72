//! An I/O error while reading a deposition is retried with backoff; one that
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
        .env("FAILPOINTS", failpoint)
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
        "transformer_read_error=2*return",
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
    let out = migrate_with_failpoint(work.path(), dir, "transformer_read_error=1000*return");
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

/// Continuous mode: the scanner will not publish unchanged files again, so the transformer
/// reads an unreadable deposition again by itself (after `MSGMIG_UNREADABLE_RETRY_SECS`, 60 s by
/// default) until it loads.
#[test]
fn run_reads_an_unreadable_deposition_again() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    // One deposition, so all 5 failures (the first read and its 4 retries) hit the same file
    // and it is quarantined as unreadable first.
    copy_dir(
        &example_archive().join("D_1000000001"),
        &archive.join("D_1000000001"),
    );
    let dir = archive.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(work.path())
        .args([
            "run",
            "--directory",
            dir,
            "--create-tables",
            "--poll-interval",
            "3600",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env_remove("MSGMIG_DATABASE_URL")
        .env("FAILPOINTS", "transformer_read_error=5*return")
        .env("MSGMIG_UNREADABLE_RETRY_SECS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(work.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let verify = msgmig(work.path(), &["verify", "--directory", dir]);
        if verify.status.code() == Some(0)
            && stdout(&verify).contains("1 with parity, 0 quarantined")
        {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("never reached parity:\n{}", stdout(&verify));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let log = std::fs::read_to_string(work.path().join("run.log")).unwrap();
    assert!(
        log.contains("kind=\"unreadable\""),
        "it was quarantined first:\n{log}"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}
