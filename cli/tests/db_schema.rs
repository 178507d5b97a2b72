//! Issue 11 §1–2: `db init` as a drop-in for the old init script (creates the database, adopts
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
/// `pdbx_deposition_message_origcomm_reference` with its other column types: `db init` adopts
/// it (creates msgmig's own tables), reports the origcomm table's drift, and `verify` reports
/// the drift instead of crashing while decoding.
#[test]
fn a_database_of_the_old_script_and_the_upstream_origcomm_layout() {
    let work = tempfile::tempdir().unwrap();
    let db = MariaDb::create("msgmig_upstream");
    // The old script's three tables: msgmig's first migration is their DDL.
    assert_exit(&db_cmd(work.path(), &db.url, &["init"]), 0);
    db.query("DROP TABLE pdbx_deposition_message_origcomm_reference, msgmig_message_provenance, msgmig_depositions, msgmig_quarantine, msgmig_consumer_offsets, msgmig_file_ledger, msgmig_schema_migrations");
    db.query(
        "CREATE TABLE pdbx_deposition_message_origcomm_reference (
            ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            message_id VARCHAR(64) NOT NULL,
            deposition_data_set_id VARCHAR(50) NOT NULL,
            orig_message_id VARCHAR(64) NULL,
            orig_deposition_data_set_id VARCHAR(50) NULL,
            orig_timestamp DATETIME NULL,
            orig_sender VARCHAR(255) NULL,
            orig_recipient VARCHAR(500) NULL,
            orig_message_subject TEXT NULL,
            orig_attachments TEXT NULL,
            INDEX idx_message_id (message_id),
            FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
        ) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    );
    let init = db_cmd(work.path(), &db.url, &["init"]);
    assert_exit(&init, 0);
    assert_eq!(db.query("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'msgmig_file_ledger'"), "1", "adopted: msgmig's tables added");
    let status = db_cmd(work.path(), &db.url, &["status"]);
    assert_exit(&status, 1);
    let s = stdout(&status);
    assert!(s.contains("DRIFT pdbx_deposition_message_origcomm_reference column orig_timestamp: expected varchar(64)"), "{s}");
    assert!(s.contains("found datetime"), "{s}");
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
    assert!(
        stdout(&verify)
            .contains("DRIFT pdbx_deposition_message_origcomm_reference column orig_timestamp"),
        "{}",
        stdout(&verify)
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
    let out = std::process::Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP INDEX idx_msgmig_ledger_deposition'); c.commit()", work.path().join("s.db").to_str().unwrap()])
        .status()
        .unwrap();
    assert!(out.success());
    let drifted = db_cmd(work.path(), &url, &["init", "--verify-only"]);
    assert_exit(&drifted, 1);
    assert!(
        stdout(&drifted).contains("DRIFT msgmig_file_ledger index idx_msgmig_ledger_deposition"),
        "{}",
        stdout(&drifted)
    );
}
