//! `msgmig export` and untrusted input (issue 10 §10): the ids and the output folder.

mod common;

use common::{msgmig, stdout};
use std::path::Path;

/// Issue 10 §10: a `deposition_data_set_id` from the database is untrusted: one that is not a
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
