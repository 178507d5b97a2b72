//! `msgmig export` and untrusted input: the ids and the output folder.

mod common;

use common::{msgmig, stdout};
use std::path::Path;

/// A `deposition_data_set_id` from the database is untrusted: one that is not a
/// deposition id is never used as a folder name (nothing written outside `--output-dir`); an
/// `--output-dir` that is or is inside an archive is refused; msgmig's own export folder takes
/// new versions again.
#[test]
fn untrusted_ids_never_leave_the_output_dir_and_archives_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    common::copy_dir(&common::example_archive(), &archive);
    let hostile = archive.join("D_1000000001/D_1000000001_messages-to-depositor_P1.cif.V4");
    let text = std::fs::read_to_string(
        archive.join("D_1000000001/D_1000000001_messages-to-depositor_P1.cif.V3"),
    )
    .unwrap()
    .replace("D_1000000001 ", "'../../../pwned' ");
    std::fs::write(&hostile, text).unwrap();
    let dir = archive.to_str().unwrap();
    let migrate = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--create-tables"],
    );
    assert!(
        stdout(&migrate).contains("depositions: 11"),
        "{}",
        stdout(&migrate)
    );
    let out = work.path().join("nested/out");
    let export = msgmig(
        work.path(),
        &["export", "--all", "--output-dir", out.to_str().unwrap()],
    );
    assert_eq!(
        export.status.code(),
        Some(1),
        "the hostile id fails, the rest export: {}",
        stdout(&export)
    );
    assert!(stdout(&export).contains("1 failed"), "{}", stdout(&export));
    assert!(String::from_utf8_lossy(&export.stderr).contains("is not a deposition id"));
    assert!(
        !work.path().join("pwned").exists()
            && !Path::new("/pwned").exists()
            && !work.path().join("nested/pwned").exists()
    );
    // The export folder itself takes new versions again.
    let again = msgmig(
        work.path(),
        &["export", "--all", "--output-dir", out.to_str().unwrap()],
    );
    assert_eq!(again.status.code(), Some(1), "{}", stdout(&again));
    for target in [
        archive.clone(),
        archive.join("D_1000000001"),
        archive.join("D_1000000001/sub"),
    ] {
        let refused = msgmig(
            work.path(),
            &["export", "--all", "--output-dir", target.to_str().unwrap()],
        );
        assert_eq!(
            refused.status.code(),
            Some(2),
            "{}: {}",
            target.display(),
            stdout(&refused)
        );
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("--into-archive"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    let versions = std::fs::read_dir(archive.join("D_1000000002"))
        .unwrap()
        .count();
    assert_eq!(versions, 7, "nothing was written into the archive");
}

/// A message's status and file reference rows filed under another deposition than its info row
/// (a database the old tools or a hand edit left so): `export` of the message's deposition still
/// writes them, as they are, on both backends. The export reads a chunk's other rows by message
/// id, not by where they are filed.
#[test]
fn rows_filed_under_another_deposition_are_exported_with_their_message() {
    const MESSAGE: &str = "343ad331-b9e3-4688-af26-a39b9f7e63cd";
    const ELSEWHERE: &str = "D_0000000999";
    let refile = [
        format!("UPDATE pdbx_deposition_message_status SET deposition_data_set_id = '{ELSEWHERE}' WHERE message_id = '{MESSAGE}'"),
        format!("UPDATE pdbx_deposition_message_file_reference SET deposition_data_set_id = '{ELSEWHERE}' WHERE message_id = '{MESSAGE}'"),
    ];
    let work = tempfile::tempdir().unwrap();
    let archive = common::example_archive();
    let dir = archive.to_str().unwrap();
    let sqlite_file = work.path().join("x.db");
    let sqlite_url = format!("sqlite://{}?mode=rwc", sqlite_file.display());
    let mariadb = common::MariaDb::create("msgmig_export_filed");
    for url in [sqlite_url.as_str(), mariadb.url.as_str()] {
        common::assert_exit(&common::migrate_into(work.path(), dir, url, &[]), 0);
        for sql in &refile {
            if url.starts_with("sqlite:") {
                common::sqlite(&sqlite_file, sql);
            } else {
                mariadb.query(sql);
            }
        }
        let out = work.path().join(format!("out-{}", &url[..5]));
        let export = msgmig(
            work.path(),
            &[
                "export",
                "--all",
                "--output-dir",
                out.to_str().unwrap(),
                "--database-url",
                url,
            ],
        );
        common::assert_exit(&export, 0);
        let file = out.join("D_1000000001/D_1000000001_messages-to-depositor_P1.cif.V1");
        let text = std::fs::read_to_string(&file).unwrap();
        let file_refs = text
            .lines()
            .filter(|l| l.contains(MESSAGE) && l.contains(ELSEWHERE))
            .count();
        assert_eq!(
            file_refs, 3,
            "{url}: the message's 3 file references:\n{text}"
        );
        assert!(
            text.contains(&format!(
                "_pdbx_deposition_message_status.deposition_data_set_id   {ELSEWHERE}"
            )),
            "{url}: its status row:\n{text}"
        );
        assert!(
            !out.join(ELSEWHERE).exists(),
            "{url}: no folder for a deposition without an info row"
        );
    }
}
