//! Loader behaviour against real databases, every test body on SQLite and on MariaDB (see
//! `common`): idempotent re-runs, updates, stale records, FK order, conflicts, isolation.

mod common;
use common::*;
use msgmig_loader::{Loader, LoaderConfig};
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

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
        "extra attachment reported, kept"
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
        "updated in place"
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
    load(
        &db,
        vec![
            msg(record("D_1", "a", Some("a"), 10, "x")),
            end("D_1", 10, 1),
        ],
    )
    .await;
    let mut fewer = record("D_1", "a", Some("a"), 20, "y");
    fewer.file_refs = vec![file_ref("model-annotate"), file_ref("sf-annotate")];
    let mut loader = Loader::new(
        db.clone(),
        LoaderConfig {
            reconcile: true,
            ..LoaderConfig::default()
        },
    );
    loader
        .apply_batch(vec![msg(fewer), end("D_1", 20, 1)])
        .await
        .unwrap();
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
        vec![
            msg(record("D_1", "late", Some("root"), 11, "Later reply")),
            end("D_1", 11, 1),
        ],
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

async fn a_batch_keeps_each_depositions_file_order_and_otherwise_goes_in_by_id(
    db: DatabaseConnection,
) {
    // File order within a deposition (a reply after its parent, and "a0" after "z9"); between
    // depositions the batch goes in by id, so the message-id indexes are walked in key order.
    let mut reply = record("D_2", "b1", Some("m3"), 10, "Re");
    reply.message.content_type = ContentType::MessagesFromDepositor;
    load(
        &db,
        vec![
            msg(record("D_2", "m3", Some("m3"), 10, "Root")),
            msg(reply),
            msg(record("D_1", "z9", Some("z9"), 10, "First")),
            msg(record("D_1", "a0", Some("a0"), 10, "Second")),
            msg(record("D_3", "c5", Some("c5"), 10, "Only")),
            end("D_2", 10, 2),
            end("D_1", 10, 2),
            end("D_3", 10, 1),
        ],
    )
    .await;
    let in_ordinal_order = |filter: &'static str| {
        let db = db.clone();
        async move {
            let sql = format!(
                "SELECT message_id FROM pdbx_deposition_message_info {filter} ORDER BY ordinal_id"
            );
            db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        in_ordinal_order("WHERE deposition_data_set_id = 'D_1'").await,
        ["z9", "a0"],
        "a deposition's messages keep their file order"
    );
    assert_eq!(
        in_ordinal_order("WHERE deposition_data_set_id = 'D_2'").await,
        ["m3", "b1"]
    );
    assert_eq!(
        in_ordinal_order("").await,
        ["c5", "m3", "b1", "z9", "a0"],
        "between depositions, the smallest id whose predecessors are in goes next"
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
/// quarantined whole, and the stored offset is past the whole batch. Once, each
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

on_both_backends!(
    rerun_is_a_no_op,
    newer_generation_updates_a_draft_in_place_and_older_is_stale,
    file_references_reconcile_when_asked,
    replies_and_statuses_insert_in_fk_order,
    a_batch_keeps_each_depositions_file_order_and_otherwise_goes_in_by_id,
    another_depositions_id_is_a_conflict,
    two_passes_of_one_deposition_in_one_batch,
    dry_run_writes_nothing,
    an_interleaved_refused_deposition_never_drops_another,
);
