//! `verify` reads the database by deposition (issue 12 §4) and must stay exact: rows filed
//! under another deposition than their message (the example archive's D_0000000102 holds a
//! message of D_9000000102), an extra file reference or a status filed elsewhere are found, on
//! MariaDB, whose collation and indexes the fast path relies on.

mod common;

use common::{assert_exit, example_archive, msgmig, stdout, MariaDb};

#[test]
fn verify_finds_rows_filed_under_another_deposition() {
    let db = MariaDb::create("msgmig_verify_reads");
    let work = tempfile::tempdir().unwrap();
    let dir = example_archive();
    let dir = dir.to_str().unwrap();
    let url = db.url.clone();
    let verify = || {
        msgmig(
            work.path(),
            &["verify", "--directory", dir, "--database-url", &url],
        )
    };
    let out = msgmig(
        work.path(),
        &[
            "migrate",
            "--directory",
            dir,
            "--create-tables",
            "--database-url",
            &url,
        ],
    );
    assert_exit(&out, 0);
    let parity = verify();
    assert_exit(&parity, 0);
    assert!(
        stdout(&parity).contains("11 with parity"),
        "{}",
        stdout(&parity)
    );

    let id = db.query(
        "SELECT message_id FROM pdbx_deposition_message_info WHERE deposition_data_set_id = 'D_1000000001' ORDER BY ordinal_id LIMIT 1",
    );
    // An extra file reference of the message, filed under a deposition verify does not read.
    db.query(&format!(
        "INSERT INTO pdbx_deposition_message_file_reference (message_id, deposition_data_set_id, content_type, content_format) \
         VALUES ('{id}', 'D_7777777777', 'model-annotate', 'pdbx')"
    ));
    let extra = verify();
    assert_exit(&extra, 1);
    assert!(
        stdout(&extra).contains(&format!(
            "DIFF D_1000000001 {id} pdbx_deposition_message_file_reference"
        )),
        "{}",
        stdout(&extra)
    );
    db.query("DELETE FROM pdbx_deposition_message_file_reference WHERE deposition_data_set_id = 'D_7777777777'");
    assert_exit(&verify(), 0);

    // The message's status filed under another deposition.
    db.query(&format!(
        "UPDATE pdbx_deposition_message_status SET deposition_data_set_id = 'D_7777777777' WHERE message_id = '{id}'"
    ));
    let moved = verify();
    assert_exit(&moved, 1);
    assert!(
        stdout(&moved).contains(&format!(
            "DIFF D_1000000001 {id} pdbx_deposition_message_status"
        )),
        "{}",
        stdout(&moved)
    );
}
