//! A reader that stops early (`msgmig verify | head -1`, `| true`): the command's standard
//! output is closed before the summary is printed. msgmig exits 141 (128 + SIGPIPE, as a Unix
//! tool would), quietly: no panic, no backtrace.

mod common;
use std::process::{Command, Stdio};

#[test]
fn a_summary_printed_into_a_closed_pipe_exits_141_without_a_panic() {
    let work = tempfile::tempdir().unwrap();
    let archive = common::example_archive();
    let dir = archive.to_str().unwrap();
    common::assert_exit(
        &common::msgmig(
            work.path(),
            &["migrate", "--directory", dir, "--create-tables"],
        ),
        0,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(work.path())
        .args(["verify", "--directory", dir])
        .env_remove("MSGMIG_DATABASE_URL")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before verify has compared anything, let alone printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
