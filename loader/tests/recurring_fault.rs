//! A batch whose error looks like an outage but recurs while the server answers (a batch that
//! breaks its own connection) is not retried forever: after a few attempts it goes to
//! isolation, and the deposition that still fails is quarantined with the error, while the
//! others load. The fault is injected (failpoint `loader_staged_error`: the commit of a batch
//! that leaves a deposition open fails as a dropped connection would). MariaDB.

mod common;

use common::*;
use msgmig_loader::{Loader, LoaderConfig};

#[tokio::test]
async fn an_error_that_recurs_on_one_batch_quarantines_its_deposition_instead_of_looping() {
    let _scenario = fail::FailScenario::setup();
    let (db, guard) = mysql().await;
    fail::cfg("loader_staged_error", "return").unwrap();
    let mut loader = Loader::new(db.clone(), LoaderConfig::default());
    let batch = vec![
        msg(record("D_1", "a", None, 10, "whole")),
        end("D_1", 10, 1),
        // D_2's end marker is not in the batch: the batch keeps it open, and every attempt
        // (whole, then D_2's part alone) fails.
        msg(record("D_2", "b", None, 10, "open")),
    ];
    let applied = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        loader.apply_batch(batch),
    )
    .await
    .expect("the loader gives up on the batch instead of retrying it forever");
    applied.unwrap();
    fail::remove("loader_staged_error");
    assert_eq!(
        scalar(
            &db,
            "SELECT state FROM msgmig_depositions WHERE deposition_id = 'D_1'"
        )
        .await,
        "loaded",
        "the other deposition of the batch loads"
    );
    loader.apply_batch(vec![end("D_2", 10, 1)]).await.unwrap();
    assert_eq!(
        scalar(&db, "SELECT CONCAT(state, ' ', (SELECT kind FROM msgmig_quarantine WHERE deposition_id = 'D_2')) FROM msgmig_depositions WHERE deposition_id = 'D_2'").await,
        "quarantined bad_value",
        "its end marker records the refusal"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE message_id = 'b'"
        )
        .await,
        "0",
        "none of its rows"
    );
    let reason = scalar(
        &db,
        "SELECT reason FROM msgmig_quarantine WHERE deposition_id = 'D_2'",
    )
    .await;
    assert!(
        reason.contains("injected fault"),
        "the error is kept: {reason}"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM msgmig_dead_letters WHERE deposition_id = 'D_2'"
        )
        .await,
        "1",
        "and dead-lettered"
    );
    guard.drop_now().await;
}
