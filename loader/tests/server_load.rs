//! The adaptive throttle sees a busy server as the server reports it. While other
//! clients run statements, `others_running` counts them (MariaDB's `Threads_running` − 1, the
//! asking statement left out); SQLite has no such figure. MariaDB is required.

mod common;
use msgmig_loader::database;
use msgmig_loader::limits::others_running;
use sea_orm::ConnectionTrait;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_of_other_clients_are_counted_as_the_server_reports_them() {
    let (server, base) = common::mariadb_server().await;
    let marker = format!("msgmig_busy_{}", rand::random::<u32>());
    let mut sleepers = Vec::new();
    for _ in 0..3 {
        let conn = database::connect(&base).await.unwrap();
        let sql = format!("SELECT SLEEP(60) AS {marker}");
        sleepers.push(tokio::spawn(async move {
            let _ = conn.execute_unprepared(&sql).await;
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = others_running(&server)
            .await
            .expect("MariaDB reports Threads_running");
        if n >= 3.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "3 sleeping statements never counted: {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Ended: they are no longer counted.
    for row in server
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::MySql,
            format!("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker}%' AND INFO NOT LIKE '%PROCESSLIST%'"),
        ))
        .await
        .unwrap()
    {
        let id: i64 = row.try_get_by_index(0).unwrap();
        server
            .execute_unprepared(&format!("KILL QUERY {id}"))
            .await
            .unwrap();
    }
    for s in sleepers {
        s.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while others_running(&server).await.unwrap() >= 3.0 {
        assert!(Instant::now() < deadline, "killed statements still counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (sqlite, _dir) = common::sqlite().await;
    assert_eq!(others_running(&sqlite).await, None);
}
