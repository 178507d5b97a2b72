//! Messages of megabytes (a pasted validation report) through every path: the embedded pipeline into MariaDB and SQLite, and the three Kafka workers into MariaDB.
//! A message the database can hold is loaded byte for byte; one larger than the server's
//! `max_allowed_packet` quarantines its deposition with the size and the limit. No message,
//! however large, stops a worker or aborts a run.

mod common;

use common::kafka::Fixture;
use common::{assert_exit, migrate_into, msgmig, MariaDb};
use std::path::Path;
use std::time::Duration;

const SMALL_ID: &str = "D_9000000001";
const BIG_ID: &str = "D_9000000002";
const MIB: usize = 1 << 20;

/// A to-depositor file with one message whose text is `text_bytes` of ASCII lines.
fn write_big_message(archive: &Path, dep: &str, message_id: &str, text_bytes: usize) {
    let line = format!("{}\n", "x".repeat(99));
    let text = line.repeat(text_bytes / line.len());
    let dir = archive.join(dep);
    std::fs::create_dir_all(&dir).unwrap();
    let body = format!(
        "data_messages\n#\n\
         _pdbx_deposition_message_info.ordinal_id 1\n\
         _pdbx_deposition_message_info.message_id {message_id}\n\
         _pdbx_deposition_message_info.deposition_data_set_id {dep}\n\
         _pdbx_deposition_message_info.timestamp '2024-02-02 12:00:00'\n\
         _pdbx_deposition_message_info.sender CS\n\
         _pdbx_deposition_message_info.context_type ?\n\
         _pdbx_deposition_message_info.context_value ?\n\
         _pdbx_deposition_message_info.parent_message_id {message_id}\n\
         _pdbx_deposition_message_info.message_subject 'Validation report'\n\
         _pdbx_deposition_message_info.message_text\n;{text};\n\
         _pdbx_deposition_message_info.message_type text\n\
         _pdbx_deposition_message_info.send_status Y\n#\n"
    );
    std::fs::write(
        dir.join(format!("{dep}_messages-to-depositor_P1.cif.V1")),
        body,
    )
    .unwrap();
}

/// Writes the 2 MiB and the 20 MiB message; returns the exact text length of each.
fn write_both(archive: &Path) -> (usize, usize) {
    write_big_message(archive, SMALL_ID, "big-message-2mib", 2 * MIB);
    write_big_message(archive, BIG_ID, "big-message-20mib", 20 * MIB);
    let len = |n: usize| (n / 100) * 100 - 1; // the last newline is part of the field's end
    (len(2 * MIB), len(20 * MIB))
}

fn max_allowed_packet(db: &MariaDb) -> usize {
    db.query("SELECT @@max_allowed_packet").parse().unwrap()
}

/// What MariaDB holds after a run: the 2 MiB text whole, and the 20 MiB one either whole (a
/// server whose packet takes it) or quarantined as `row_too_large` with size and limit.
fn assert_mariadb_outcome(db: &MariaDb, small: usize, big: usize) {
    assert_eq!(
        db.query("SELECT LENGTH(message_text) FROM pdbx_deposition_message_info WHERE message_id = 'big-message-2mib'"),
        small.to_string()
    );
    if big + 4096 > max_allowed_packet(db) {
        let q = db.query(&format!(
            "SELECT kind, reason FROM msgmig_quarantine WHERE deposition_id = '{BIG_ID}'"
        ));
        assert!(q.starts_with("row_too_large"), "quarantined: {q}");
        assert!(
            q.contains(&max_allowed_packet(db).to_string()) && q.contains("max_allowed_packet"),
            "the reason gives the limit: {q}"
        );
        assert_eq!(
            db.query(&format!(
                "SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE deposition_data_set_id = '{BIG_ID}'"
            )),
            "0",
            "nothing of a quarantined deposition is loaded"
        );
    } else {
        assert_eq!(
            db.query("SELECT LENGTH(message_text) FROM pdbx_deposition_message_info WHERE message_id = 'big-message-20mib'"),
            big.to_string()
        );
    }
}

#[test]
fn migrate_loads_what_the_database_holds_and_quarantines_a_row_too_large_for_its_packet() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("archive");
    let (small, big) = write_both(&archive);
    let dir = archive.to_str().unwrap();

    let db = MariaDb::create("msgmig_large");
    let out = migrate_into(work.path(), dir, &db.url, &[]);
    let quarantined = big + 4096 > max_allowed_packet(&db);
    assert_exit(&out, i32::from(quarantined));
    assert_mariadb_outcome(&db, small, big);

    // SQLite holds strings up to 10^9 bytes: both load, byte for byte.
    let out = msgmig(
        work.path(),
        &["migrate", "--directory", dir, "--create-tables"],
    );
    assert_exit(&out, 0);
    assert_exit(&msgmig(work.path(), &["verify", "--directory", dir]), 0);
}

#[test]
fn two_and_twenty_mib_messages_flow_through_kafka_and_no_worker_stops() {
    let fx = Fixture::new("kafka_large", 5, 3);
    let (small, big) = write_both(&fx.archive);
    let dir = fx.archive.to_str().unwrap();
    fx.cluster.scan_once(&fx.archive);
    let mut transformer = fx
        .cluster
        .spawn("transformer", &["transform", "--directory", dir], &[]);
    let mut loader = fx.cluster.spawn("loader", &["load"], &[]);
    fx.cluster.wait_caught_up(1, Duration::from_secs(180));
    assert!(
        transformer.wait(Duration::from_millis(1)).is_none(),
        "the transformer keeps running:\n{}",
        transformer.log()
    );
    assert!(
        loader.wait(Duration::from_millis(1)).is_none(),
        "the loader keeps running:\n{}",
        loader.log()
    );
    // Every deposition's end marker was applied: the 2 MiB message is stored whole, the
    // 20 MiB one as the server allows.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while fx.db.query("SELECT COUNT(*) FROM msgmig_depositions") != "7" {
        assert!(std::time::Instant::now() < deadline, "{}", loader.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_mariadb_outcome(&fx.db, small, big);
    let status = fx.cluster.status();
    if big + 4096 > max_allowed_packet(&fx.db) {
        assert!(
            status["dead_letters"].as_i64().unwrap_or(0) >= 1,
            "the refused message is dead-lettered: {status:#}"
        );
    }
    assert!(transformer.stop().success(), "{}", transformer.log());
    assert!(loader.stop().success(), "{}", loader.log());
}
