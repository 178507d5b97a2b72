//! A loader whose batches found only new message ids writes the next batch without reading the
//! stored rows first (`loader/src/fresh.rs`, the backfill's shortcut). These tests make that
//! presumption wrong on purpose, on SQLite and on MariaDB: the outcome must be what a loader
//! that read the stored rows gets, row for row.

mod common;
use common::*;
use msgmig_loader::{FreshStats, Loader, LoaderConfig};
use msgmig_schemas::record::*;
use sea_orm::DatabaseConnection;

/// Applies a batch of one deposition holding one message.
async fn load_one(loader: &mut Loader, dep: &str, id: &str, subject: &str) {
    loader
        .apply_batch(vec![
            msg(record(dep, id, None, 10, subject)),
            end(dep, 10, 1),
        ])
        .await
        .unwrap();
}

/// A loader that has written one planned batch (found nothing stored) and one batch presumed
/// new, so its next batch is presumed new too. The stored ids, `zz-d_1` and `zz-d_2`, sort
/// after the tests' new ones.
async fn loader_presuming_new(db: &DatabaseConnection) -> Loader {
    let mut loader = Loader::new(db.clone(), LoaderConfig::default());
    for dep in ["D_1", "D_2"] {
        load_one(
            &mut loader,
            dep,
            &format!("zz-{}", dep.to_lowercase()),
            "Mine",
        )
        .await;
    }
    assert_eq!(
        loader.fresh_stats(),
        FreshStats {
            written_as_new: 1,
            refuted: 0
        },
        "the second batch was written as all new"
    );
    loader
}

async fn a_stored_id_in_a_batch_presumed_new_is_a_conflict_and_the_rest_is_written_once(
    db: DatabaseConnection,
) {
    let mut loader = loader_presuming_new(&db).await;
    // More new messages than one statement carries (400 rows), the stored id last in file
    // order: the first statement succeeds before the second fails, and must be undone.
    let mut batch: Vec<RecordsMessage> = (0..450)
        .map(|i| msg(record("D_3", &format!("d_3-new-{i:03}"), None, 10, "New")))
        .collect();
    batch.push(msg(record("D_3", "zz-d_1", None, 10, "Theirs")));
    batch.push(end("D_3", 10, 451));
    loader.apply_batch(batch).await.unwrap();
    assert_eq!(loader.fresh_stats().refuted, 1, "the presumption was wrong");
    let t = loader.totals();
    assert_eq!((t.inserted, t.conflicts), (452, 1));
    assert_eq!(
        scalar(
            &db,
            "SELECT message_subject FROM pdbx_deposition_message_info WHERE message_id = 'zz-d_1'"
        )
        .await,
        "Mine",
        "the stored row is not overwritten"
    );
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "452");
    assert_eq!(
        count(&db, "pdbx_deposition_message_file_reference").await,
        "1356",
        "three file references per message, none written twice"
    );
    assert_eq!(count(&db, "msgmig_message_provenance").await, "452");
    assert_eq!(
        scalar(
            &db,
            "SELECT state FROM msgmig_depositions WHERE deposition_id = 'D_3'"
        )
        .await,
        "conflicts"
    );
}

async fn an_id_stored_in_another_spelling_is_found_after_a_batch_presumed_new(
    db: DatabaseConnection,
) {
    let mut loader = loader_presuming_new(&db).await;
    // The same id for utf8mb4_unicode_ci: MariaDB's unique key refuses it; SQLite's info
    // table takes it (it compares bytes), and the provenance key refuses it last in the
    // batch's writes, so the info, file-reference and status rows must be undone.
    loader
        .apply_batch(vec![
            msg(record("D_3", "ZZ-D_1", None, 10, "Theirs")),
            end("D_3", 10, 1),
        ])
        .await
        .unwrap();
    assert_eq!(loader.fresh_stats().refuted, 1);
    assert_eq!(loader.totals().conflicts, 1);
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "2");
    assert_eq!(count(&db, "msgmig_message_provenance").await, "2");
}

async fn a_rerun_of_stored_messages_after_a_batch_presumed_new_touches_nothing(
    db: DatabaseConnection,
) {
    let mut loader = loader_presuming_new(&db).await;
    let before = loader.totals().clone();
    loader
        .apply_batch(vec![
            msg(record("D_1", "zz-d_1", None, 10, "Mine")),
            end("D_1", 10, 1),
            msg(record("D_4", "d_4-new", None, 10, "New")),
            end("D_4", 10, 1),
        ])
        .await
        .unwrap();
    let t = loader.totals();
    assert_eq!(
        (
            t.inserted - before.inserted,
            t.unchanged - before.unchanged,
            t.file_refs_inserted - before.file_refs_inserted
        ),
        (1, 1, 3),
        "the stored message is unchanged, only the new one is written"
    );
    assert_eq!(
        count(&db, "pdbx_deposition_message_file_reference").await,
        "9"
    );
    // The stored ids found again: the next batch is planned, and after two planned batches
    // that find nothing (the refutation doubled the streak asked for) it is presumed new again.
    for dep in ["D_5", "D_6", "D_7"] {
        load_one(
            &mut loader,
            dep,
            &format!("{}-new", dep.to_lowercase()),
            "New",
        )
        .await;
    }
    assert_eq!(
        loader.fresh_stats(),
        FreshStats {
            written_as_new: 2,
            refuted: 1
        }
    );
    assert_eq!(count(&db, "pdbx_deposition_message_info").await, "6");
}

on_both_backends!(
    a_stored_id_in_a_batch_presumed_new_is_a_conflict_and_the_rest_is_written_once,
    an_id_stored_in_another_spelling_is_found_after_a_batch_presumed_new,
    a_rerun_of_stored_messages_after_a_batch_presumed_new_touches_nothing,
);
