//! Schema-drift checks run at the same time against one MariaDB database (`verify` from cron
//! beside a curator's `db status`, or two containers whose processes are both PID 1): each
//! builds its expected schema in a scratch database of its own, so none drops another's, and
//! none is left behind. MariaDB is required.

mod common;
use msgmig_loader::{database, drift::drift};

const CHECKS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drift_checks_at_the_same_time_each_use_their_own_scratch_database() {
    let (url, test_db) = common::MysqlDb::empty().await;
    let db = database::connect(&url).await.unwrap();
    database::init(&db).await.unwrap();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(CHECKS));
    let checks: Vec<_> = (0..CHECKS)
        .map(|_| {
            let (db, url, start) = (db.clone(), url.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                drift(&db, &url).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for check in checks {
        outcomes.push(check.await.unwrap());
    }
    let left = test_db.count_named_like("\\_msgmig\\_ref\\_%").await;
    test_db.drop_now().await;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(found) => assert!(found.is_empty(), "check {i} found drift: {found:?}"),
            Err(e) => panic!("check {i} of {CHECKS} failed: {e}"),
        }
    }
    assert_eq!(left, "0", "scratch databases left behind");
}
