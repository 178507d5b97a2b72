//! A re-run reads, parses and queries only the depositions whose latest files
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

/// Writes a new deposition folder `id` holding D_0000000102's files, renamed, with the
/// message id's first group replaced by `message_prefix` (so no id is shared).
fn new_deposition_like_102(archive: &std::path::Path, id: &str, message_prefix: &str) {
    let new = archive.join(id);
    std::fs::create_dir(&new).unwrap();
    for e in std::fs::read_dir(archive.join("D_0000000102")).unwrap() {
        let p = e.unwrap().path();
        let name = p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("D_0000000102", id);
        let body = std::fs::read_to_string(&p)
            .unwrap()
            .replace("D_0000000102", id)
            .replace("5f2e7d3c", message_prefix);
        std::fs::write(new.join(name), body).unwrap();
    }
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
    new_deposition_like_102(&archive, "D_0000000103", "6f2e7d3c");
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

/// Puts a file's bytes and mtime back as a backup restore (or `touch -r`) does.
fn write_with_mtime(path: &std::path::Path, text: &str, mtime: std::time::SystemTime) {
    std::fs::write(path, text).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(mtime).unwrap();
}

/// The change-detection rules of a re-run, one change at a time, each followed by a re-run
/// that must read exactly the deposition touched and leave the database equal to the files.
#[test]
fn each_kind_of_change_is_noticed_by_a_rerun() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    let dir = archive.to_str().unwrap();
    migrate(work.path(), dir, &[]);
    let rerun = |what: &str, read: &str, messages: &str| {
        let out = migrate(work.path(), dir, &[]);
        assert!(out.contains(read), "{what}: expected «{read}»: {out}");
        assert!(
            out.contains(messages),
            "{what}: expected «{messages}»: {out}"
        );
        assert!(out.contains(" 0 stale,"), "{what}: nothing is stale: {out}");
        let verify = msgmig(work.path(), &["verify", "--directory", dir]);
        assert_exit(&verify, 0);
    };
    let reply = archive.join("D_0000000102/D_0000000102_messages-from-depositor_P1.cif.V1");
    let original = std::fs::read_to_string(&reply).unwrap();
    let original_mtime = std::fs::metadata(&reply).unwrap().modified().unwrap();

    // Edited in place with the same size, then its mtime put back: only the ctime moved.
    let edited = original.replace("it's ready", "it's READY");
    assert_eq!(edited.len(), original.len());
    write_with_mtime(&reply, &edited, original_mtime);
    rerun(
        "same size, mtime restored",
        "files: 2 read",
        "0 inserted, 1 updated",
    );

    // Restored from a backup: the original bytes with their older mtime. A newer source state
    // (its ctime is now), not a stale replay of the old one.
    write_with_mtime(&reply, &original, original_mtime);
    rerun(
        "restored from a backup with older mtimes",
        "files: 2 read",
        "0 inserted, 1 updated",
    );

    // A new version beside the old one.
    let v2 = archive.join("D_0000000102/D_0000000102_messages-from-depositor_P1.cif.V2");
    std::fs::write(&v2, original.replace("it's ready", "it is ready now")).unwrap();
    rerun("a new version", "files: 2 read", "0 inserted, 1 updated");

    // A new deposition folder.
    new_deposition_like_102(&archive, "D_0000000104", "7f2e7d3c");
    let out = migrate(work.path(), dir, &[]);
    assert!(out.contains("files: 2 read"), "a new folder: {out}");
    assert!(out.contains("1 inserted, 0 updated"), "a new folder: {out}");
    assert!(
        out.contains(
            "unchanged since their last load (file ledger; --full reads them): 11 depositions"
        ),
        "{out}"
    );
    // Nothing changed: nothing read.
    let out = migrate(work.path(), dir, &[]);
    assert!(out.contains("files: 0 read"), "{out}");

    // The new version deleted again: V1 is the latest once more. Noticed and read; rows a
    // newer source state wrote are kept (a load never goes back to an older source state),
    // so the older version's content is reported as stale rather than written over them.
    std::fs::remove_file(&v2).unwrap();
    let out = migrate(work.path(), dir, &[]);
    assert!(out.contains("files: 2 read"), "a deleted file: {out}");
    assert!(
        out.contains("0 inserted, 0 updated"),
        "a deleted file: {out}"
    );
    assert!(out.contains(" 1 stale,"), "a deleted file: {out}");
    // It stays reported, run after run, until its files are newer than what is stored.
    let out = migrate(work.path(), dir, &[]);
    assert!(out.contains("files: 2 read"), "{out}");
    assert!(out.contains(" 1 stale,"), "{out}");
}
