//! The MySQL boundary in the loader, every test body on SQLite and on MariaDB (see
//! `common`): who owns a contested message id, ids the collation takes as one, and errors told
//! apart by code.

mod common;
use common::*;
use msgmig_loader::{database, Loader, LoaderConfig};
use msgmig_schemas::record::*;
use sea_orm::{ConnectionTrait, DatabaseConnection};

/// A message id claimed by two folders belongs to the folder its
/// `deposition_data_set_id` names, whichever was loaded first, in one batch or in two: the
/// tables (content, file references, status) and the recorded outcomes are the same.
async fn a_contested_id_goes_to_the_named_deposition_in_any_order(db: DatabaseConnection) {
    // D_0 holds a copy of D_5's message (its content says D_5), with one file reference and
    // no status: it loses to D_5 although its folder id is smaller.
    let copy = || {
        let mut r = record("D_0", "a", Some("a"), 10, "copy");
        r.message.deposition_data_set_id = "D_5".into();
        r.file_refs.truncate(1);
        r.status = None;
        r
    };
    let original = || msg(record("D_5", "a", Some("a"), 10, "original"));
    let orders: Vec<(&str, Vec<Vec<RecordsMessage>>)> = vec![
        (
            "copy first, two batches",
            vec![
                vec![msg(copy()), end("D_0", 10, 1)],
                vec![original(), end("D_5", 10, 1)],
            ],
        ),
        (
            "original first, two batches",
            vec![
                vec![original(), end("D_5", 10, 1)],
                vec![msg(copy()), end("D_0", 10, 1)],
            ],
        ),
        (
            "copy first, one batch",
            vec![vec![
                msg(copy()),
                end("D_0", 10, 1),
                original(),
                end("D_5", 10, 1),
            ]],
        ),
        (
            "copy's end after the take-over",
            vec![
                vec![msg(copy())],
                vec![original(), end("D_5", 10, 1)],
                vec![end("D_0", 10, 1)],
            ],
        ),
    ];
    let mut seen = Vec::new();
    for (name, batches) in orders {
        wipe(&db).await;
        // The counts a run's summary gives: the reports, with what a take-over recounts.
        let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
        let config = LoaderConfig {
            run_id: Some(format!("run-{name}")),
            ..LoaderConfig::default()
        };
        let mut loader = Loader::new(db.clone(), config).with_reports(tx);
        for batch in batches {
            loader.apply_batch(batch).await.unwrap();
        }
        drop(loader);
        let mut c = msgmig_loader::RowCounts::default();
        while let Some(report) = reports.recv().await {
            c.add(&report.counts);
            for recount in &report.recounts {
                c.recount(recount);
            }
        }
        let state = (
            (c.inserted, c.conflicts),
            scalar(&db, "SELECT CONCAT(deposition_data_set_id, ' ', message_subject) FROM pdbx_deposition_message_info").await,
            count(&db, "pdbx_deposition_message_file_reference").await,
            count(&db, "pdbx_deposition_message_status").await,
            scalar(&db, "SELECT deposition_id FROM msgmig_message_provenance").await,
            scalar(&db, "SELECT state FROM msgmig_depositions WHERE deposition_id = 'D_0'").await,
            scalar(&db, "SELECT state FROM msgmig_depositions WHERE deposition_id = 'D_5'").await,
            scalar(&db, "SELECT CONCAT(kind, ' ', message_id) FROM msgmig_quarantine WHERE deposition_id = 'D_0'").await,
        );
        seen.push((name, state));
    }
    let expected = (
        (1, 1),
        "D_5 original".to_owned(),
        "3".to_owned(),
        "1".to_owned(),
        "D_5".to_owned(),
        "conflicts".to_owned(),
        "loaded".to_owned(),
        "conflict a".to_owned(),
    );
    for (name, state) in seen {
        assert_eq!(state, expected, "{name}");
    }
}

/// Ids the `message_id` column's collation treats as one (case, accents,
/// trailing spaces) are one id in separate batches too: a conflict, one row, on both backends
/// (SQLite compares bytes: msgmig's collation key finds the stored spelling).
async fn ids_equal_for_the_collation_are_one_id(db: DatabaseConnection) {
    load(
        &db,
        vec![
            msg(record("D_1", "Abc-1", None, 10, "first")),
            end("D_1", 10, 1),
        ],
    )
    .await;
    for (dep, id) in [("D_2", "abc-1 "), ("D_3", "ABC-1"), ("D_4", "\u{c1}bc-1")] {
        let c = load(
            &db,
            vec![msg(record(dep, id, None, 10, "second")), end(dep, 10, 1)],
        )
        .await;
        assert_eq!((c.inserted, c.conflicts), (0, 1), "{id:?}");
        assert_eq!(
            scalar(
                &db,
                &format!("SELECT state FROM msgmig_depositions WHERE deposition_id = '{dep}'")
            )
            .await,
            "conflicts"
        );
    }
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "1");
    let again = load(
        &db,
        vec![
            msg(record("D_1", "Abc-1", None, 10, "first")),
            end("D_1", 10, 1),
        ],
    )
    .await;
    assert_eq!(again.unchanged, 1, "the owner itself is unchanged");
}

/// Errors are told apart by code. Each statement provokes a real error of the
/// backend; an error whose text says "Incorrect" but is about the schema (a bad table name) is
/// fatal, not a refused value.
async fn database_errors_are_classified_by_code(db: DatabaseConnection) {
    use msgmig_loader::faults::{classify, Fault};
    let mysql = db.get_database_backend() == sea_orm::DbBackend::MySql;
    db.execute_unprepared(
        "INSERT INTO pdbx_deposition_message_info (message_id, deposition_data_set_id, timestamp, sender, context_type, context_value, message_subject, message_text, message_type, send_status, content_type) \
         VALUES ('x', 'D_1', '2024-01-01 00:00:00', 's', '?', '?', 's', 't', 'text', 'N', 'messages-to-depositor')",
    )
    .await
    .unwrap();
    let mut cases = vec![
        (
            "a second row with the same message_id",
            "INSERT INTO pdbx_deposition_message_info (message_id, deposition_data_set_id, timestamp, sender, context_type, context_value, message_subject, message_text, message_type, send_status, content_type) \
             VALUES ('x', 'D_1', '2024-01-01 00:00:00', 's', '?', '?', 's', 't', 'text', 'N', 'messages-to-depositor')",
            Fault::Transient,
        ),
        (
            "a file reference without its message",
            "INSERT INTO pdbx_deposition_message_file_reference (message_id, deposition_data_set_id, content_type, content_format, partition_number, version_id, storage_type, upload_file_name) \
             VALUES ('nope', 'D_1', 'model', 'pdbx', 1, 1, 'archive', '?')",
            Fault::Content,
        ),
        (
            "a NULL where the column refuses it",
            "UPDATE pdbx_deposition_message_info SET sender = NULL WHERE message_id = 'x'",
            Fault::Content,
        ),
        ("a missing table", "SELECT * FROM no_such_table", Fault::Fatal),
    ];
    if mysql {
        cases.extend([
            (
                "a deposition id longer than its column",
                "UPDATE pdbx_deposition_message_info SET deposition_data_set_id = REPEAT('D', 51) WHERE message_id = 'x'",
                Fault::Content,
            ),
            (
                "a DATETIME that is no date",
                "UPDATE pdbx_deposition_message_info SET timestamp = '2024-02-30 00:00:00' WHERE message_id = 'x'",
                Fault::Content,
            ),
            (
                "an 'Incorrect table name' (1103): the schema, not a value",
                "CREATE TABLE `bad ` (a INT)",
                Fault::Fatal,
            ),
        ]);
    }
    for (what, sql, want) in cases {
        let e = db.execute_unprepared(sql).await.expect_err(what);
        assert_eq!(classify(&e), want, "{what}: {e}");
    }
    let gone = database::connect("mysql://root@127.0.0.1:1/none").await;
    if let Err(e) = gone {
        assert_eq!(
            classify(&e),
            Fault::Outage,
            "nothing listens on port 1: {e}"
        );
    }
}

on_both_backends!(
    a_contested_id_goes_to_the_named_deposition_in_any_order,
    ids_equal_for_the_collation_are_one_id,
    database_errors_are_classified_by_code,
);
