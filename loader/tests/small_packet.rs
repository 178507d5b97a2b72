//! On a server whose `max_allowed_packet` is smaller than msgmig's statement size
//! (1 MiB here, the default of older MySQL servers), batches are split to stay under it: every
//! row loads, none is refused. Changes the server's global setting for the duration of the test
//! (restored afterwards), so it lives in a test binary of its own. MariaDB is required.

mod common;
use msgmig_loader::{database, Loader, LoaderConfig};
use msgmig_schemas::archive::ContentType;
use msgmig_schemas::record::*;
use sea_orm::{ConnectionTrait, Statement};

fn record(i: usize) -> MessageRecord {
    let dep = format!("D_{}", 1000 + i / 10);
    MessageRecord {
        schema_version: SCHEMA_VERSION,
        deposition_id: dep.clone(),
        message: MessageColumns {
            message_id: format!("m-{i:05}"),
            deposition_data_set_id: dep.clone(),
            timestamp: chrono::NaiveDateTime::parse_from_str(
                "2024-01-01 10:00:00",
                "%Y-%m-%d %H:%M:%S",
            )
            .unwrap(),
            sender: "CS".into(),
            context_type: "?".into(),
            context_value: "?".into(),
            parent_message_id: None,
            message_subject: "s".into(),
            message_text: "x".repeat(20_000),
            message_type: "text".into(),
            send_status: "Y".into(),
            content_type: ContentType::MessagesToDepositor,
        },
        file_refs: vec![],
        file_ref_positions: Vec::new(),
        status: None,
        origcomm: vec![],
        provenance: Provenance {
            source_path: format!("{dep}/{dep}_messages-to-depositor_P1.cif.V1"),
            file_version: 1,
            file_size: 1,
            file_mtime_ns: 1,
            file_sha256: "0".repeat(64),
            generation: 1,
            original_parent_message_id: None,
        },
    }
}

#[tokio::test]
async fn batches_split_under_a_small_max_allowed_packet() {
    let (server, base) = common::mariadb_server().await;
    let row = server
        .query_one_raw(Statement::from_string(
            server.get_database_backend(),
            "SELECT CAST(@@GLOBAL.max_allowed_packet AS SIGNED)",
        ))
        .await
        .unwrap()
        .unwrap();
    let original: i64 = row.try_get_by_index(0).unwrap();
    let name = format!("msgmig_packet_{}", std::process::id());
    server
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    server
        .execute_unprepared("SET GLOBAL max_allowed_packet = 1048576")
        .await
        .unwrap();
    // New connections see the new global value.
    let result = async {
        let db = database::connect(&format!("{base}/{name}")).await?;
        database::init(&db).await?;
        let mut loader = Loader::new(db.clone(), LoaderConfig::default());
        let mut batch: Vec<RecordsMessage> = Vec::new();
        for i in 0..300 {
            batch.push(RecordsMessage::Message(Box::new(record(i))));
            if i % 10 == 9 {
                batch.push(common::end(&format!("D_{}", 1000 + i / 10), 1, 10));
            }
        }
        loader.apply_batch(batch).await?;
        let n = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) FROM pdbx_deposition_message_info",
            ))
            .await?
            .unwrap()
            .try_get_by_index::<i64>(0)?;
        Ok::<i64, sea_orm::DbErr>(n)
    }
    .await;
    server
        .execute_unprepared(&format!("SET GLOBAL max_allowed_packet = {original}"))
        .await
        .unwrap();
    server
        .execute_unprepared(&format!("DROP DATABASE {name}"))
        .await
        .unwrap();
    assert_eq!(
        result.unwrap(),
        300,
        "6 MB of rows in one batch, in statements under 1 MiB"
    );
}
