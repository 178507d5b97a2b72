//! Issue 12 §1: a re-run reads, parses and queries only the depositions whose latest files
//! changed since their last clean load (the file ledger), still notices new and changed ones,
//! and `--full` compares everything.

mod common;
use common::*;

fn migrate(work: &std::path::Path, dir: &str, extra: &[&str]) -> String {
    let mut args = vec!["migrate", "--directory", dir, "--create-tables"];
    args.extend_from_slice(extra);
    let out = msgmig(work, &args);
    assert_exit(&out, 0);
    stdout(&out)
}

#[test]
fn a_rerun_reads_only_what_changed() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    let dir = archive.to_str().unwrap();
    let first = migrate(work.path(), dir, &[]);
    assert!(first.contains("files: 23 read"), "{first}");
    let again = migrate(work.path(), dir, &[]);
    assert!(again.contains("depositions: 11 (11 loaded"), "{again}");
    assert!(again.contains("files: 0 read"), "nothing read: {again}");
    assert!(again.contains("unchanged since their last load (file ledger; --full reads them): 11 depositions, 23 files not read"), "{again}");
    assert!(
        again.contains("messages: 0 inserted, 0 updated, 33 unchanged"),
        "{again}"
    );
    // An in-place edit (same name and version) and a new deposition: exactly those are read.
    let g = archive.join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1");
    let text = std::fs::read_to_string(&g).unwrap();
    std::fs::write(
        &g,
        text.replace("send_status              N", "send_status              Y"),
    )
    .unwrap();
    copy_dir(&archive.join("D_0000000102"), &archive.join("D_0000000103"));
    for e in std::fs::read_dir(archive.join("D_0000000103")).unwrap() {
        let p = e.unwrap().path();
        let name = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("D_0000000102", "D_0000000103");
        let body = std::fs::read_to_string(&p)
            .unwrap()
            .replace("D_0000000102", "D_0000000103")
            .replace("5f2e7d3c", "6f2e7d3c");
        std::fs::remove_file(&p).unwrap();
        std::fs::write(archive.join("D_0000000103").join(name), body).unwrap();
    }
    let changed = migrate(work.path(), dir, &[]);
    assert!(changed.contains("depositions: 12 (12 loaded"), "{changed}");
    assert!(
        changed.contains(
            "unchanged since their last load (file ledger; --full reads them): 10 depositions"
        ),
        "{changed}"
    );
    assert!(
        changed.contains("1 updated"),
        "the in-place edit: {changed}"
    );
    let full = migrate(work.path(), dir, &["--full"]);
    assert!(!full.contains("unchanged since their last load"), "{full}");
    assert!(full.contains("0 inserted, 0 updated"), "{full}");
    let verify = msgmig(work.path(), &["verify", "--directory", dir]);
    assert_exit(&verify, 0);
}
