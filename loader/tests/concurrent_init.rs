//! Several processes creating the tables of one empty database at once: the loaders of one
//! consumer group started together (CI caught two `msgmig load --create-tables` racing on
//! MariaDB: "1060 Duplicate column name 'id'"). Every one must succeed and the schema must come
//! out complete, on both backends. MariaDB is required.

mod common;
use msgmig_loader::database;

/// Processes per database, and databases per test: a race that one round misses is caught by
/// the next.
const PROCESSES: usize = 4;
const ROUNDS: usize = 16;

/// The gap between the processes' starts in `round`, from 0 to about the time one process takes
/// for all the migrations here (MariaDB ~300 ms, SQLite a few ms), in `step`s.
fn stagger(round: usize, step: std::time::Duration) -> std::time::Duration {
    step * round as u32
}

/// Opens `url` `PROCESSES` times (each its own pool, as separate processes have) and runs the
/// migrations on all of them, process `i` starting `i × stagger` after the first, so that
/// across rounds a process starts in the middle of another's migrations; then checks the schema
/// is complete.
async fn init_at_once(url: &str, stagger: std::time::Duration) {
    let mut pools = Vec::new();
    for _ in 0..PROCESSES {
        pools.push(database::connect(url).await.unwrap());
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(PROCESSES));
    let tasks: Vec<_> = pools
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, db)| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                tokio::time::sleep(stagger * i as u32).await;
                database::init(&db).await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        if let Err(e) = task.await.unwrap() {
            panic!("process {i} of {PROCESSES} failed to create the tables of {url}: {e}");
        }
    }
    let db = &pools[0];
    assert_eq!(
        database::missing_tables(db).await.unwrap(),
        Vec::<&str>::new()
    );
    let pending: Vec<String> = database::migration_status(db)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, applied)| !applied)
        .map(|(name, _)| name)
        .collect();
    assert!(pending.is_empty(), "migrations left pending: {pending:?}");
    for db in pools {
        db.close().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loaders_started_together_on_an_empty_mariadb_database_all_create_its_tables() {
    for round in 0..ROUNDS {
        let (url, test_db) = common::MysqlDb::empty().await;
        init_at_once(&url, stagger(round, std::time::Duration::from_millis(20))).await;
        test_db.drop_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loaders_started_together_on_a_new_sqlite_file_all_create_its_tables() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        init_at_once(&url, stagger(round, std::time::Duration::from_micros(500))).await;
    }
}
