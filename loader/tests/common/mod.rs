//! Helpers of the loader's database tests: records and markers to load, queries to check, and
//! the two backends every test body runs on (SQLite, and MariaDB at `MSGMIG_TEST_MYSQL_URL`,
//! default `mysql://root@127.0.0.1:3306`; a fresh database per test, dropped afterwards; a
//! missing MariaDB is a failure, not a skip).
#![allow(dead_code)]

use chrono::NaiveDateTime;
use msgmig_loader::database;
use msgmig_loader::{Loader, LoaderConfig, RowCounts};
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

pub fn record(
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
        file_ref_positions: Vec::new(),
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

pub fn file_ref(content_type: &str) -> FileRefColumns {
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

pub fn end(dep: &str, generation: i64, messages: u32) -> RecordsMessage {
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
            ctime_ns: generation,
        }],
        messages,
        outcome: DepositionOutcome::Transformed,
    })
}

pub fn msg(r: MessageRecord) -> RecordsMessage {
    RecordsMessage::Message(Box::new(r))
}

pub async fn load(db: &DatabaseConnection, batch: Vec<RecordsMessage>) -> RowCounts {
    let mut loader = Loader::new(db.clone(), LoaderConfig::default());
    loader.apply_batch(batch).await.unwrap();
    loader.totals().clone()
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
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

/// The first column of every row of `sql`, as text.
pub async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            row.try_get_by_index::<Option<String>>(0)
                .ok()
                .flatten()
                .unwrap_or_default()
        })
        .collect()
}

pub async fn count(db: &DatabaseConnection, table: &str) -> String {
    scalar(db, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// Empties every table (several scenarios in one test database).
pub async fn wipe(db: &DatabaseConnection) {
    for table in [
        "pdbx_deposition_message_file_reference",
        "pdbx_deposition_message_status",
        "pdbx_deposition_message_origcomm_reference",
        "pdbx_deposition_message_info",
        "msgmig_message_provenance",
        "msgmig_depositions",
        "msgmig_quarantine",
        "msgmig_file_ledger",
        "msgmig_open_depositions",
        "msgmig_staged_records",
        "msgmig_dead_letters",
    ] {
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
}

pub async fn sqlite() -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let db = database::connect(&url).await.unwrap();
    database::init(&db).await.unwrap();
    (db, dir)
}

/// A fresh MariaDB database for one test; dropped by [`MysqlDb::drop_now`].
pub struct MysqlDb {
    server: DatabaseConnection,
    name: String,
}

/// A connection to the MariaDB server of the tests (no database selected) and its URL.
/// A missing MariaDB is a failure, not a skip.
pub async fn mariadb_server() -> (DatabaseConnection, String) {
    let base = std::env::var("MSGMIG_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into());
    let server = database::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {base} is required for this test: {e}"));
    (server, base)
}

pub async fn mysql() -> (DatabaseConnection, MysqlDb) {
    let (url, test_db) = MysqlDb::empty().await;
    let db = database::connect(&url).await.unwrap();
    database::init(&db).await.unwrap();
    (db, test_db)
}

impl MysqlDb {
    /// A new, empty MariaDB database (no tables), created as the old init script creates one,
    /// and its URL.
    pub async fn empty() -> (String, MysqlDb) {
        let (server, base) = mariadb_server().await;
        let name = format!("msgmig_test_{}", rand::random::<u32>());
        server
            .execute_unprepared(&format!(
                "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await
            .unwrap();
        (format!("{base}/{name}"), MysqlDb { server, name })
    }

    /// How many databases on the server are named `<this database's name><suffix>`
    /// (`suffix` a LIKE pattern).
    pub async fn count_named_like(&self, suffix: &str) -> String {
        scalar(
            &self.server,
            &format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '{}{suffix}'",
                self.name.replace('_', "\\_")
            ),
        )
        .await
    }

    pub async fn drop_now(self) {
        self.server
            .execute_unprepared(&format!("DROP DATABASE {}", self.name))
            .await
            .unwrap();
    }
}

#[macro_export]
macro_rules! on_both_backends {
    ($($body:ident),+ $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test] async fn $body() { let (db, _dir) = $crate::common::sqlite().await; super::$body(db).await; })+
        }
        mod on_mariadb {
            $(#[tokio::test] async fn $body() { let (db, guard) = $crate::common::mysql().await; super::$body(db).await; guard.drop_now().await; })+
        }
    };
}
