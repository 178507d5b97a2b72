//! The same archive gives the same tables and the same summary on every
//! run, whatever `--loaders` and `--batch-size`; the summary's figures are the database's.

mod common;
use common::*;
use std::path::Path;

/// Copies the deposition folder `from` to a twin folder `to` (files renamed, content
/// unchanged: the twin's messages keep the original's ids and `deposition_data_set_id`).
fn twin(archive: &Path, from: &str, to: &str) {
    let dir = archive.join(to);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(archive.join(from)).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().replace(from, to);
        std::fs::copy(e.path(), dir.join(name)).unwrap();
    }
}

/// The summary without its timing line.
fn summary(out: &std::process::Output) -> String {
    stdout(out)
        .lines()
        .filter(|l| !l.trim_start().starts_with("time:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Ten fresh MariaDB migrations with four parallel loaders and tiny batches of an archive in
/// which twin folders claim the same message ids (one twin sorts before its original, one
/// after): identical app tables, owners and summaries; the owner is always the folder the
/// messages' `deposition_data_set_id` names. (Not compared: `msgmig_depositions.state` of a
/// loser whose end marker commits in another loader while its id is being taken over can stay
/// `loaded`; a known limitation, listed in the README.)
#[test]
fn contested_ids_give_identical_tables_on_every_run() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    twin(&archive, "D_1000000001", "D_0000000001");
    twin(&archive, "D_1000000002", "D_2000000002");
    let dir = archive.to_str().unwrap();
    let mut seen: Vec<(String, String)> = Vec::new();
    for run in 0..10 {
        let db = MariaDb::create(&format!("msgmig_determinism_{run}"));
        let batch = ["1", "2", "3", "1000"][run % 4];
        let out = migrate_into(
            work.path(),
            dir,
            &db.url,
            &["--loaders", "4", "--batch-size", batch],
        );
        assert_exit(&out, 1);
        let owners = db.query(
            "SELECT GROUP_CONCAT(CONCAT(message_id, '=', deposition_id) ORDER BY message_id) \
             FROM msgmig_message_provenance WHERE deposition_id IN ('D_0000000001', 'D_1000000001', 'D_1000000002', 'D_2000000002')",
        );
        assert!(
            !owners.contains("D_0000000001") && !owners.contains("D_2000000002"),
            "the folders the messages name own them: {owners}"
        );
        seen.push((db.content_checksum() + &owners, summary(&out)));
    }
    let first = &seen[0];
    assert!(
        first.1.contains("CONFLICT D_0000000001") && first.1.contains("CONFLICT D_2000000002"),
        "{}",
        first.1
    );
    for (run, s) in seen.iter().enumerate() {
        assert_eq!(s, first, "run {run} differs from run 0");
    }
}

/// With batches smaller than one deposition and parallel loaders, the summary counts every
/// folder, file and message once, and says what the database holds.
#[test]
fn the_summary_is_the_databases_count() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("generated");
    let gen = msgmig(
        work.path(),
        &[
            "generate",
            "--depositions",
            "300",
            "--seed",
            "11",
            "--output",
            archive.to_str().unwrap(),
        ],
    );
    assert_exit(&gen, 0);
    let folders = std::fs::read_dir(&archive)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir())
        .count();
    let db = MariaDb::create("msgmig_summary");
    let mut first_summary = None;
    for (loaders, batch) in [("4", "1"), ("1", "7")] {
        db.recreate();
        let out = msgmig(
            work.path(),
            &[
                "migrate",
                "--directory",
                archive.to_str().unwrap(),
                "--create-tables",
                "--database-url",
                &db.url,
                "--loaders",
                loaders,
                "--batch-size",
                batch,
            ],
        );
        assert_exit(&out, 0);
        let s = summary(&out);
        let messages = db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info");
        let files = db.query("SELECT COUNT(*) FROM msgmig_file_ledger");
        let refs = db.query("SELECT COUNT(*) FROM pdbx_deposition_message_file_reference");
        assert!(
            s.contains(&format!("depositions: {folders} ({folders} loaded")),
            "{s}"
        );
        assert!(s.contains(&format!("files: {files} read")), "{s}");
        assert!(
            s.contains(&format!(
                "messages: {messages} inserted, 0 updated, 0 unchanged, 0 stale, 0 conflicts"
            )),
            "{s}"
        );
        assert!(
            s.contains(&format!("file references: {refs} inserted")),
            "{s}"
        );
        match &first_summary {
            None => first_summary = Some(s),
            Some(first) => assert_eq!(&s, first, "--loaders/--batch-size change the summary"),
        }
    }
}
