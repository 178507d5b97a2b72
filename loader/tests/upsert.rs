//! Loader behaviour against real databases: every test body runs on SQLite and on MariaDB
//! (`MSGMIG_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306`; a fresh database per test,
//! dropped afterwards). A missing MariaDB is a failure, not a skip.

use chrono::NaiveDateTime;
use msgmig_loader::database;
use msgmig_loader::{Loader, LoaderConfig, RowCounts};
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

fn record(
    dep: &str,
    id: &str,
    parent: Option<&str>,
    generation: i64,
    subject: &str,
) -> MessageRecord {
    MessageRecord {
        schema_version: SCHEMA_VERSION,
        deposition_id: dep.into(),
        message: MessageColumns {
            message_id: id.into(),
            deposition_data_set_id: dep.into(),
            timestamp: NaiveDateTime::parse_from_str("2023-07-03 14:30:21", "%Y-%m-%d %H:%M:%S")
                .unwrap(),
            sender: "CS".into(),
            context_type: "?".into(),
            context_value: "?".into(),
            parent_message_id: parent.map(Into::into),
            message_subject: subject.into(),
            message_text: "Dear Depositors,\n\tline with tab  \n&#197;ngstr&#246;m 🧬\n".into(),
            message_type: "text".into(),
            send_status: "N".into(),
            content_type: ContentType::MessagesToDepositor,
        },
        file_refs: vec![
            file_ref("model-annotate"),
            file_ref("model-annotate"),
            file_ref("validation-report-annotate"),
        ],
        status: Some(StatusColumns {
            deposition_data_set_id: dep.into(),
            read_status: "N".into(),
            action_reqd: "Y".into(),
            for_release: "N".into(),
        }),
        origcomm: vec![],
        provenance: Provenance {
            source_path: format!("{dep}/{dep}_messages-to-depositor_P1.cif.V1"),
            file_version: 1,
            file_size: 100,
            file_mtime_ns: generation,
            file_sha256: "0".repeat(64),
            generation,
            original_parent_message_id: None,
        },
    }
}

fn file_ref(content_type: &str) -> FileRefColumns {
    FileRefColumns {
        deposition_data_set_id: "D_1".into(),
        content_type: content_type.into(),
        content_format: "pdbx".into(),
        partition_number: 1,
        version_id: 1,
        storage_type: "archive".into(),
        upload_file_name: "?".into(),
    }
}

fn end(dep: &str, generation: i64, messages: u32) -> RecordsMessage {
    RecordsMessage::DepositionEnd(DepositionEnd {
        schema_version: SCHEMA_VERSION,
        deposition_id: dep.into(),
        generation,
        files: 1,
        file_states: vec![FileState {
            path: format!("{dep}/{dep}_messages-to-depositor_P1.cif.V1"),
            version: 1,
            size: 10,
            mtime_ns: generation,
        }],
        messages,
        outcome: DepositionOutcome::Transformed,
    })
}

fn msg(r: MessageRecord) -> RecordsMessage {
    RecordsMessage::Message(Box::new(r))
}

async fn load(db: &DatabaseConnection, batch: Vec<RecordsMessage>) -> RowCounts {
    let mut loader = Loader::new(db.clone(), LoaderConfig::default());
    loader.apply_batch(batch).await.unwrap();
    loader.totals().clone()
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<Option<String>>(0)
        .ok()
        .flatten()
        .or_else(|| row.try_get_by_index::<i64>(0).ok().map(|n| n.to_string()))
        .unwrap_or_default()
}

async fn count(db: &DatabaseConnection, table: &str) -> String {
    scalar(db, &format!("SELECT COUNT(*) FROM {table}")).await
}

// ---- test bodies, each run on both backends ----

async fn rerun_is_a_no_op(db: DatabaseConnection) {
    let batch = || {
        vec![
            msg(record("D_1", "a", Some("a"), 10, "Hello")),
            msg(record("D_1", "b", Some("a"), 10, "Re: Hello")),
            end("D_1", 10, 2),
        ]
    };
    let first = load(&db, batch()).await;
    assert_eq!(
        (
            first.inserted,
            first.file_refs_inserted,
            first.statuses_written
        ),
        (2, 6, 2)
    );
    let stamps = scalar(
        &db,
        "SELECT CAST(MAX(updated_at) AS CHAR) FROM pdbx_deposition_message_info",
    )
    .await;
    assert!(
        stamps.starts_with("20"),
        "updated_at is readable: {stamps:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = load(&db, batch()).await;
    assert_eq!(
        (
            second.inserted,
            second.updated,
            second.unchanged,
            second.file_refs_inserted
        ),
        (0, 0, 2, 0)
    );
    assert_eq!(
        count(&db, "pdbx_deposition_message_file_reference").await,
        "6",
        "no duplicated attachment"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(MAX(updated_at) AS CHAR) FROM pdbx_deposition_message_info"
        )
        .await,
        stamps,
        "no row touched"
    );
}

async fn newer_generation_updates_a_draft_in_place_and_older_is_stale(db: DatabaseConnection) {
    load(
        &db,
        vec![
            msg(record("D_1", "a", Some("a"), 10, "Draft")),
            end("D_1", 10, 1),
        ],
    )
    .await;
    let ordinal = scalar(
        &db,
        "SELECT ordinal_id FROM pdbx_deposition_message_info WHERE message_id = 'a'",
    )
    .await;
    let mut sent = record("D_1", "a", Some("a"), 20, "Final subject");
    sent.message.send_status = "Y".into();
    sent.file_refs.pop();
    let c = load(&db, vec![msg(sent), end("D_1", 20, 1)]).await;
    assert_eq!(
        (c.updated, c.file_refs_extra, c.file_refs_deleted),
        (1, 1, 0),
        "extra attachment reported, kept (D2)"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT send_status FROM pdbx_deposition_message_info WHERE message_id = 'a'"
        )
        .await,
        "Y"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT ordinal_id FROM pdbx_deposition_message_info WHERE message_id = 'a'"
        )
        .await,
        ordinal,
        "updated in place (D4)"
    );
    let c = load(
        &db,
        vec![
            msg(record("D_1", "a", Some("a"), 15, "Old replay")),
            end("D_1", 15, 1),
        ],
    )
    .await;
    assert_eq!((c.stale, c.updated), (1, 0));
    assert_eq!(
        scalar(
            &db,
            "SELECT message_subject FROM pdbx_deposition_message_info WHERE message_id = 'a'"
        )
        .await,
        "Final subject"
    );
}

async fn file_references_reconcile_when_asked(db: DatabaseConnection) {
    load(&db, vec![msg(record("D_1", "a", Some("a"), 10, "x"))]).await;
    let mut fewer = record("D_1", "a", Some("a"), 20, "y");
    fewer.file_refs = vec![file_ref("model-annotate"), file_ref("sf-annotate")];
    let mut loader = Loader::new(
        db.clone(),
        LoaderConfig {
            reconcile: true,
            ..LoaderConfig::default()
        },
    );
    loader.apply_batch(vec![msg(fewer)]).await.unwrap();
    let c = loader.totals();
    assert_eq!((c.file_refs_inserted, c.file_refs_deleted), (1, 2));
    assert_eq!(
        count(&db, "pdbx_deposition_message_file_reference").await,
        "2"
    );
}

async fn replies_and_statuses_insert_in_fk_order(db: DatabaseConnection) {
    // A reply listed after its parent but in one batch, and a parent in an earlier batch.
    let mut reply = record("D_1", "reply", Some("root"), 10, "Re");
    reply.message.content_type = ContentType::MessagesFromDepositor;
    load(
        &db,
        vec![
            msg(record("D_1", "root", Some("root"), 10, "Root")),
            msg(reply),
            end("D_1", 10, 2),
        ],
    )
    .await;
    load(
        &db,
        vec![msg(record("D_1", "late", Some("root"), 11, "Later reply"))],
    )
    .await;
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "3");
    assert_eq!(count(&db, "pdbx_deposition_message_status").await, "3");
    assert_eq!(
        scalar(
            &db,
            "SELECT parent_message_id FROM pdbx_deposition_message_info WHERE message_id = 'late'"
        )
        .await,
        "root"
    );
}

async fn another_depositions_id_is_a_conflict(db: DatabaseConnection) {
    let c = load(
        &db,
        vec![
            msg(record("D_1", "a", Some("a"), 10, "Mine")),
            end("D_1", 10, 1),
            msg(record("D_2", "a", Some("a"), 99, "Theirs")),
            end("D_2", 99, 1),
        ],
    )
    .await;
    assert_eq!((c.inserted, c.conflicts), (1, 1));
    assert_eq!(
        scalar(
            &db,
            "SELECT message_subject FROM pdbx_deposition_message_info WHERE message_id = 'a'"
        )
        .await,
        "Mine"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT state FROM msgmig_depositions WHERE deposition_id = 'D_2'"
        )
        .await,
        "conflicts"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT kind FROM msgmig_quarantine WHERE deposition_id = 'D_2'"
        )
        .await,
        "conflict"
    );
}

/// Empties every table (several scenarios in one test database).
async fn wipe(db: &DatabaseConnection) {
    for table in [
        "pdbx_deposition_message_file_reference",
        "pdbx_deposition_message_status",
        "pdbx_deposition_message_origcomm_reference",
        "pdbx_deposition_message_info",
        "msgmig_message_provenance",
        "msgmig_depositions",
        "msgmig_quarantine",
        "msgmig_file_ledger",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
}

/// Issue 10 §5: a message id claimed by two folders belongs to the folder its
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
        let mut loader = Loader::new(db.clone(), LoaderConfig::default());
        for batch in batches {
            loader.apply_batch(batch).await.unwrap();
        }
        let c = loader.totals().clone();
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

async fn two_passes_of_one_deposition_in_one_batch(db: DatabaseConnection) {
    // Found by the freshness bench: a deposition created and rewritten within one batch.
    let batch = vec![
        msg(record("D_1", "a", Some("a"), 10, "first")),
        end("D_1", 10, 1),
        msg(record("D_1", "a", Some("a"), 20, "edited")),
        end("D_1", 20, 1),
    ];
    let c = load(&db, batch).await;
    assert_eq!(c.inserted, 1);
    assert_eq!(
        scalar(
            &db,
            "SELECT message_subject FROM pdbx_deposition_message_info WHERE message_id = 'a'"
        )
        .await,
        "edited"
    );
    assert_eq!(count(&db, "msgmig_file_ledger").await, "1");
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(generation AS CHAR) FROM msgmig_depositions WHERE deposition_id = 'D_1'"
        )
        .await,
        "20"
    );
}

async fn dry_run_writes_nothing(db: DatabaseConnection) {
    let mut loader = Loader::new(
        db.clone(),
        LoaderConfig {
            dry_run: true,
            ..LoaderConfig::default()
        },
    );
    loader
        .apply_batch(vec![
            msg(record("D_1", "a", Some("a"), 10, "x")),
            end("D_1", 10, 1),
        ])
        .await
        .unwrap();
    assert_eq!(loader.totals().inserted, 1);
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "0");
    assert_eq!(count(&db, "msgmig_depositions").await, "0");
}

/// Issue 10 §4: ids the `message_id` column's collation treats as one (case, accents,
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

/// Issue 10 §8: errors are told apart by code. Each statement provokes a real error of the
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

/// A durable-bus stand-in: envelopes with receipts (topic `records`, partition 0, offsets in
/// order), all ready at once, then the end of input.
struct Replay(std::collections::VecDeque<msgmig_bus::Envelope<RecordsMessage>>);

impl Replay {
    fn new(payloads: Vec<RecordsMessage>) -> Self {
        Replay(
            payloads
                .into_iter()
                .enumerate()
                .map(|(offset, payload)| msgmig_bus::Envelope {
                    key: String::new(),
                    partition_key: payload.deposition_id().to_owned(),
                    payload,
                    receipt: Some(msgmig_bus::Receipt {
                        topic: "records".into(),
                        partition: 0,
                        offset: offset as i64,
                    }),
                })
                .collect(),
        )
    }
}

impl msgmig_bus::Subscriber<RecordsMessage> for Replay {
    async fn next(&mut self) -> Option<msgmig_bus::Envelope<RecordsMessage>> {
        self.0.pop_front()
    }
    fn try_next(&mut self) -> Option<msgmig_bus::Envelope<RecordsMessage>> {
        self.0.pop_front()
    }
}

impl msgmig_bus::Seekable for Replay {
    fn seek(&mut self, _: &str, _: i32, _: i64) -> Result<(), msgmig_bus::BusError> {
        panic!("nothing rewinds in this test")
    }
    fn positions(&self) -> Vec<msgmig_bus::Receipt> {
        Vec::new()
    }
}

/// Depositions interleaved on one partition in one batch that the database refuses because of
/// one of them (A B B A A C D D C, the poison in A's second message): B, C and D load, A is
/// quarantined whole, and the stored offset is past the whole batch. Before issue 10 §3 each
/// deposition's part stored its own highest offset + 1, so B (offsets 1–2, below A's 5) and D
/// (6–7, below C's 9) fell below the fence and were skipped silently.
async fn an_interleaved_refused_deposition_never_drops_another(db: DatabaseConnection) {
    // A parent that exists nowhere: the foreign key refuses it on both backends.
    let poison = record("D_A", "a2", Some("no-such-parent"), 10, "poison");
    let input = Replay::new(vec![
        msg(record("D_A", "a1", None, 10, "first")),
        msg(record("D_B", "b1", None, 10, "good")),
        end("D_B", 10, 1),
        msg(poison),
        end("D_A", 10, 2),
        msg(record("D_C", "c1", None, 10, "good")),
        msg(record("D_D", "d1", None, 10, "good")),
        end("D_D", 10, 1),
        end("D_C", 10, 1),
    ]);
    let config = LoaderConfig {
        consumer_group: Some("g".into()),
        ..LoaderConfig::default()
    };
    let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let mut loader = Loader::new(db.clone(), config).with_reports(tx);
    loader.run(input).await.unwrap();
    for (dep, rows) in [("D_A", "0"), ("D_B", "1"), ("D_C", "1"), ("D_D", "1")] {
        assert_eq!(
            scalar(&db, &format!("SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE deposition_data_set_id = '{dep}'")).await,
            rows,
            "{dep}: the refused deposition loads nothing, every other loads"
        );
    }
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM msgmig_quarantine WHERE deposition_id = 'D_A'"
        )
        .await,
        "1"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT next_offset FROM msgmig_consumer_offsets WHERE consumer_group = 'g'"
        )
        .await,
        "9",
        "the offset is past the whole batch"
    );
    let mut quarantined = Vec::new();
    while let Ok(r) = reports.try_recv() {
        if r.quarantine.is_some() {
            quarantined.push(r.deposition_id);
        }
    }
    assert_eq!(
        quarantined,
        ["D_A"],
        "the summary lists the refused deposition"
    );
}

// ---- backends ----

async fn sqlite() -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = database::connect(&url).await.unwrap();
    database::init(&db).await.unwrap();
    (db, dir)
}

/// A fresh MariaDB database for one test; dropped by [`MysqlDb::drop_now`].
struct MysqlDb {
    server: DatabaseConnection,
    name: String,
}

async fn mysql() -> (DatabaseConnection, MysqlDb) {
    let base = std::env::var("MSGMIG_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let server = database::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {base} is required for this test: {e}"));
    let name = format!("msgmig_test_{}", rand::random::<u32>());
    server
        .execute_unprepared(&format!(
            "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await
        .unwrap();
    let db = database::connect(&format!("{base}/{name}")).await.unwrap();
    database::init(&db).await.unwrap();
    (db, MysqlDb { server, name })
}

impl MysqlDb {
    async fn drop_now(self) {
        self.server
            .execute_unprepared(&format!("DROP DATABASE {}", self.name))
            .await
            .unwrap();
    }
}

macro_rules! on_both_backends {
    ($($body:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $body() { let (db, _dir) = super::sqlite().await; super::$body(db).await; })+
        }
        mod on_mariadb {
            $(#[tokio::test] async fn $body() { let (db, guard) = super::mysql().await; super::$body(db).await; guard.drop_now().await; })+
        }
    };
}

on_both_backends!(
    rerun_is_a_no_op,
    newer_generation_updates_a_draft_in_place_and_older_is_stale,
    file_references_reconcile_when_asked,
    replies_and_statuses_insert_in_fk_order,
    another_depositions_id_is_a_conflict,
    a_contested_id_goes_to_the_named_deposition_in_any_order,
    two_passes_of_one_deposition_in_one_batch,
    dry_run_writes_nothing,
    database_errors_are_classified_by_code,
    ids_equal_for_the_collation_are_one_id,
    an_interleaved_refused_deposition_never_drops_another,
);
