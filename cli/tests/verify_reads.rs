//! `verify` reads the database by deposition and must stay exact: rows filed
//! under another deposition than their message (the example archive's D_0000000102 holds a
//! message of D_9000000102), an extra file reference or origcomm row filed under another
//! deposition of the archive or under one outside it, a status filed elsewhere, all are found,
//! over the whole archive (read by filing, strays compared again) and for a named deposition
//! (read by message id). On MariaDB, whose collation and indexes the fast path relies on, and
//! on SQLite.

mod common;

use common::{assert_exit, example_archive, migrate_into, msgmig, sqlite, stdout, MariaDb};

/// The whole scenario against one database: `url` reached by `msgmig`, `sql` run in it.
fn rows_filed_elsewhere_are_found(url: &str, sql: &dyn Fn(&str) -> String) {
    let work = tempfile::tempdir().unwrap();
    let dir = example_archive();
    let dir = dir.to_str().unwrap();
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", "--directory", dir, "--database-url", url];
        args.extend_from_slice(extra);
        msgmig(work.path(), &args)
    };
    let out = migrate_into(work.path(), dir, url, &[]);
    assert_exit(&out, 0);
    let parity = verify(&[]);
    assert_exit(&parity, 0);
    let text = stdout(&parity);
    assert!(text.contains("11 with parity"), "{text}");
    assert!(!text.contains("filed under another deposition"), "{text}");

    let id = sql(
        "SELECT message_id FROM pdbx_deposition_message_info WHERE deposition_data_set_id = 'D_1000000001' ORDER BY ordinal_id LIMIT 1",
    );
    assert!(!id.is_empty());
    let expect_diff = |out: &std::process::Output, table: &str| {
        assert_exit(out, 1);
        let text = stdout(out);
        assert!(
            text.contains(&format!("DIFF D_1000000001 {id} {table}")),
            "{text}"
        );
        // Only the message's deposition lost parity.
        assert!(
            text.contains("depositions: 11 (10 with parity")
                || text.contains("depositions: 1 (0 with parity"),
            "{text}"
        );
    };

    // An extra file reference of the message, filed under a deposition verify does not read:
    // over the whole archive (the pass over the tables' depositions finds it) and named.
    sql(&format!(
        "INSERT INTO pdbx_deposition_message_file_reference (message_id, deposition_data_set_id, content_type, content_format) \
         VALUES ('{id}', 'D_7777777777', 'model-annotate', 'pdbx')"
    ));
    let whole = verify(&[]);
    expect_diff(&whole, "pdbx_deposition_message_file_reference");
    assert!(
        stdout(&whole).contains(
            "messages with rows filed under another deposition than their info row: 1 (1 depositions compared again by message id)"
        ),
        "{}",
        stdout(&whole)
    );
    let named = verify(&["--depositions", "D_1000000001", "D_1000000002"]);
    assert_exit(&named, 1);
    assert!(
        stdout(&named).contains(&format!(
            "DIFF D_1000000001 {id} pdbx_deposition_message_file_reference"
        )),
        "{}",
        stdout(&named)
    );
    sql("DELETE FROM pdbx_deposition_message_file_reference WHERE deposition_data_set_id = 'D_7777777777'");
    assert_exit(&verify(&[]), 0);

    // An extra file reference filed under a deposition of the archive that comes later in the
    // pass, and an origcomm row filed under one that comes earlier: the message's own
    // deposition was compared without them, and is compared again once they turn up.
    sql(&format!(
        "INSERT INTO pdbx_deposition_message_file_reference (message_id, deposition_data_set_id, content_type, content_format) \
         VALUES ('{id}', 'D_1000000008', 'stray-test', 'pdbx')"
    ));
    expect_diff(&verify(&[]), "pdbx_deposition_message_file_reference");
    sql("DELETE FROM pdbx_deposition_message_file_reference WHERE deposition_data_set_id = 'D_1000000008' AND content_type = 'stray-test'");
    sql(&format!(
        "INSERT INTO pdbx_deposition_message_origcomm_reference (message_id, deposition_data_set_id) VALUES ('{id}', 'D_0000000101')"
    ));
    expect_diff(&verify(&[]), "pdbx_deposition_message_origcomm_reference");
    expect_diff(
        &verify(&["--deposition", "D_1000000001"]),
        "pdbx_deposition_message_origcomm_reference",
    );
    sql(&format!(
        "DELETE FROM pdbx_deposition_message_origcomm_reference WHERE message_id = '{id}' AND deposition_data_set_id = 'D_0000000101'"
    ));
    assert_exit(&verify(&[]), 0);

    // The message's status filed under another deposition.
    sql(&format!(
        "UPDATE pdbx_deposition_message_status SET deposition_data_set_id = 'D_7777777777' WHERE message_id = '{id}'"
    ));
    expect_diff(&verify(&[]), "pdbx_deposition_message_status");
}

#[test]
fn verify_finds_rows_filed_under_another_deposition_on_mariadb() {
    let db = MariaDb::create("msgmig_verify_reads");
    rows_filed_elsewhere_are_found(&db.url.clone(), &|q| db.query(q));
}

#[test]
fn verify_finds_rows_filed_under_another_deposition_on_sqlite() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("msgmig.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    rows_filed_elsewhere_are_found(&url, &|q| sqlite(&file, q));
}
