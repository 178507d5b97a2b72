//! `db init` as a drop-in for the old init script (creates the database, adopts
//! a database the old script made), schema drift reported the way a schema tool does, and
//! commands that read the tables never crash on a layout they did not create.

mod common;
use common::*;

fn db_cmd(work: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["db"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", url]);
    msgmig(work, &all)
}

#[test]
fn db_init_creates_the_database_and_drift_is_listed() {
    let work = tempfile::tempdir().unwrap();
    let db = MariaDb::create("msgmig_schema");
    db.query(&format!(
        "DROP DATABASE {}",
        db.url.rsplit('/').next().unwrap()
    ));
    let init = db_cmd(work.path(), &db.url, &["init"]);
    assert_exit(&init, 0);
    assert_eq!(
        db.query("SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"),
        "utf8mb4_unicode_ci",
        "created as the old init script creates it"
    );
    let clean = db_cmd(work.path(), &db.url, &["init", "--verify-only"]);
    assert_exit(&clean, 0);
    assert!(
        stdout(&clean).contains("schema matches"),
        "{}",
        stdout(&clean)
    );
    db.query("ALTER TABLE pdbx_deposition_message_info DROP COLUMN context_value");
    db.query("ALTER TABLE pdbx_deposition_message_status MODIFY read_status CHAR(2) DEFAULT 'N'");
    let drifted = db_cmd(work.path(), &db.url, &["init", "--verify-only"]);
    assert_exit(&drifted, 1);
    let s = stdout(&drifted);
    assert!(
        s.contains(
            "DRIFT pdbx_deposition_message_info column context_value: expected varchar(255) NULL"
        ),
        "{s}"
    );
    assert!(s.contains("found absent"), "{s}");
    assert!(
        s.contains("DRIFT pdbx_deposition_message_status column read_status: expected char(1)"),
        "{s}"
    );
    let status = db_cmd(work.path(), &db.url, &["status"]);
    assert_exit(&status, 1);
    assert!(
        stdout(&status).contains("present pdbx_deposition_message_info"),
        "{}",
        stdout(&status)
    );
    // Reading through the drifted table is refused with the drift, never a decoding crash.
    let verify = msgmig(
        work.path(),
        &[
            "verify",
            "--directory",
            example_archive().to_str().unwrap(),
            "--database-url",
            &db.url,
        ],
    );
    assert_exit(&verify, 2);
    assert!(stdout(&verify).contains("DRIFT"), "{}", stdout(&verify));
    // Destroying data takes a confirmation.
    let drop = db_cmd(work.path(), &db.url, &["init", "--drop-and-recreate"]);
    assert_exit(&drop, 2);
    assert!(String::from_utf8_lossy(&drop.stderr).contains("--yes"));
    assert_exit(
        &db_cmd(
            work.path(),
            &db.url,
            &["init", "--drop-and-recreate", "--yes"],
        ),
        0,
    );
    assert_exit(&db_cmd(work.path(), &db.url, &["init", "--verify-only"]), 0);
}

/// A database made by the old init script (the three app tables) plus the upstream branch's
/// `pdbx_deposition_message_origcomm_reference` (DAOTHER-10246: `orig_timestamp DATETIME`,
/// narrower VARCHARs; its own index names): `db init` adopts it and says so, `db status` finds no
/// drift, `migrate` writes the origcomm rows into it (timestamps as DATETIMEs, `?` as NULL),
/// `verify` reads them back equal to the files, and a value the layout cannot hold exactly (a
/// timestamp a DATETIME would rewrite, a sender longer than its 255 characters) quarantines its
/// deposition instead of being truncated or rewritten.
#[test]
fn a_database_of_the_old_script_and_the_upstream_origcomm_layout() {
    let work = tempfile::tempdir().unwrap();
    let db = MariaDb::create("msgmig_upstream");
    // The old script's three tables: msgmig's first migration is their DDL.
    assert_exit(&db_cmd(work.path(), &db.url, &["init"]), 0);
    db.query("DROP TABLE pdbx_deposition_message_origcomm_reference, msgmig_message_provenance, msgmig_depositions, msgmig_quarantine, msgmig_consumer_offsets, msgmig_file_ledger, msgmig_schema_migrations");
    // As docs/domain.md describes the branch's init script (index names are ours to guess).
    db.query(common::UPSTREAM_ORIGCOMM_DDL);
    let init = db_cmd(work.path(), &db.url, &["init"]);
    assert_exit(&init, 0);
    assert!(
        stdout(&init).contains("the upstream branch's layout"),
        "{}",
        stdout(&init)
    );
    assert_eq!(db.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'msgmig_file_ledger'"), "1", "adopted: msgmig's tables added");
    let status = db_cmd(work.path(), &db.url, &["status"]);
    assert_exit(&status, 0);
    assert!(!stdout(&status).contains("DRIFT"), "{}", stdout(&status));

    let archive = work.path().join("archive");
    copy_dir(&example_archive(), &archive);
    let run = |cmd: &str| {
        msgmig(
            work.path(),
            &[
                cmd,
                "--directory",
                archive.to_str().unwrap(),
                "--database-url",
                &db.url,
            ],
        )
    };
    assert_exit(&run("migrate"), 0);
    assert_eq!(
        db.query("SELECT orig_timestamp FROM pdbx_deposition_message_origcomm_reference WHERE deposition_data_set_id = 'D_1000000002'"),
        "2023-11-12 14:53:21"
    );
    let rows: usize = db
        .query("SELECT COUNT(*) FROM pdbx_deposition_message_origcomm_reference")
        .parse()
        .unwrap();
    assert!(
        rows >= 4,
        "every notes file's origcomm row is stored: {rows}"
    );
    assert_exit(&run("verify"), 0);

    // A new version of two notes files with values the upstream layout cannot hold exactly.
    let notes = |id: &str| {
        archive
            .join(id)
            .join(format!("{id}_notes-from-annotator_P1.cif.V1"))
    };
    let bump = |id: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(notes(id)).unwrap();
        assert!(text.contains(from), "{id} holds {from}");
        std::fs::write(notes(id).with_extension("V2"), text.replace(from, to)).unwrap();
    };
    bump(
        "D_1000000002",
        "'2023-11-12 14:53:21'",
        "'Sun, 12 Nov 2023 14:53:21 +0000'",
    );
    let long_sender = format!("{}@example.org", "s".repeat(300));
    bump(
        "D_1000000005",
        "orig_sender                   depositor@example.org",
        &format!("orig_sender                   {long_sender}"),
    );
    let rerun = run("migrate");
    assert_exit(&rerun, 1);
    let quarantined = db.query(
        "SELECT GROUP_CONCAT(CONCAT(deposition_id, ': ', reason) ORDER BY deposition_id SEPARATOR '\n') FROM msgmig_quarantine",
    );
    assert!(
        quarantined.contains("D_1000000002")
            && quarantined.contains("orig_timestamp \"Sun, 12 Nov 2023")
            && quarantined.contains("upstream branch's layout"),
        "{quarantined}"
    );
    assert!(
        quarantined.contains("D_1000000005")
            && quarantined
                .contains("origcomm.orig_sender has 312 characters, the column holds 255"),
        "{quarantined}"
    );
    assert_eq!(
        db.query("SELECT COUNT(*) FROM pdbx_deposition_message_origcomm_reference WHERE orig_sender LIKE 'sss%' OR orig_timestamp IS NULL AND deposition_data_set_id = 'D_1000000002'"),
        "0",
        "nothing truncated or rewritten"
    );
}

/// SQLite, the embedded default: the same comparison against an in-memory reference.
#[test]
fn sqlite_schema_matches_and_drift_is_listed() {
    let work = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", work.path().join("s.db").display());
    assert_exit(&db_cmd(work.path(), &url, &["init"]), 0);
    assert_exit(&db_cmd(work.path(), &url, &["init", "--verify-only"]), 0);
    let status = db_cmd(work.path(), &url, &["status"]);
    assert_exit(&status, 0);
    sqlite(
        &work.path().join("s.db"),
        "DROP INDEX idx_msgmig_ledger_deposition",
    );
    let drifted = db_cmd(work.path(), &url, &["init", "--verify-only"]);
    assert_exit(&drifted, 1);
    assert!(
        stdout(&drifted).contains("DRIFT msgmig_file_ledger index idx_msgmig_ledger_deposition"),
        "{}",
        stdout(&drifted)
    );
}

/// A database an older msgmig set up (its last migrations not applied): `verify` says to run
/// `msgmig db init` instead of listing what those migrations add as drift, and after `db init`
/// it runs.
#[test]
fn a_database_from_an_older_msgmig_is_told_to_run_db_init() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("old.db");
    let url = format!("sqlite://{}", file.display());
    let dir = example_archive();
    let dir = dir.to_str().unwrap();
    let migrate = migrate_into(work.path(), dir, &url, &[]);
    assert_exit(&migrate, 0);
    // What the msgmig before migration 000009 left: no origcomm deposition index, and no
    // record of the migration.
    sqlite(&file, "DROP INDEX idx_origcomm_deposition_id");
    sqlite(
        &file,
        "DELETE FROM msgmig_schema_migrations WHERE version = 'm20261201_000009_origcomm_deposition_index'",
    );
    let verify = || {
        msgmig(
            work.path(),
            &["verify", "--directory", dir, "--database-url", &url],
        )
    };
    let old = verify();
    assert_exit(&old, 2);
    let err = String::from_utf8_lossy(&old.stderr).into_owned();
    assert!(
        err.contains("m20261201_000009_origcomm_deposition_index")
            && err.contains("run `msgmig db init`"),
        "{err}"
    );
    assert!(!stdout(&old).contains("DRIFT"), "{}", stdout(&old));
    assert_exit(&db_cmd(work.path(), &url, &["init"]), 0);
    assert_exit(&verify(), 0);
}
