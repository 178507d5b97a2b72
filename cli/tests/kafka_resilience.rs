//! What a real Apache Kafka broker shows that a toy broker could not: the broker
//! killed with `kill -9` mid-load, log compaction of the records topic rebuilding a database,
//! and a group whose members join and leave while the load runs. Each test has its own broker
//! and MariaDB database; workers are separate processes.

mod common;

use common::kafka::{Fixture, Worker};
use msgmig_bus::kafka::{alter_topic_config, count_records, partition_offsets, KafkaConfig, Topic};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Many processes per test: one test at a time on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn transformer(fx: &Fixture, name: &str) -> Worker {
    fx.cluster.spawn(
        name,
        &[
            "transform",
            "--directory",
            fx.archive.to_str().unwrap(),
            "--debounce-ms",
            "50",
        ],
        &[],
    )
}

fn loader(fx: &Fixture, name: &str) -> Worker {
    fx.cluster.spawn(name, &["load", "--batch-size", "50"], &[])
}

fn kafka(fx: &Fixture) -> KafkaConfig {
    KafkaConfig {
        brokers: fx.cluster.brokers.clone(),
        topic_prefix: fx.cluster.prefix.clone(),
        partitions: 6,
        replication_factor: 1,
        properties: Vec::new(),
    }
}

/// Waits until the database holds at least `rows` info rows (a load is under way).
fn wait_rows(fx: &Fixture, rows: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n: u64 = fx
            .db
            .try_query("SELECT COUNT(*) FROM pdbx_deposition_message_info")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n >= rows {
            return;
        }
        assert!(Instant::now() < deadline, "no load under way");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Parity (verify exit 0) and every generated row stored exactly once.
fn assert_parity_and_exact_rows(fx: &Fixture) {
    let (code, out) = fx.cluster.verify(&fx.archive);
    assert_eq!(code, 0, "verify must report parity:\n{out}");
    let messages = fx.generated_count("messages");
    for (table, expected) in [
        ("pdbx_deposition_message_info", &messages),
        (
            "pdbx_deposition_message_file_reference",
            &fx.generated_count("file references"),
        ),
        ("pdbx_deposition_message_status", &messages),
    ] {
        assert_eq!(
            &fx.db.query(&format!("SELECT COUNT(*) FROM {table}")),
            expected,
            "{table}"
        );
    }
}

#[test]
fn the_broker_killed_mid_load_and_restarted_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fx = Fixture::new("resil_brokerkill", 200, 21);
    fx.cluster.scan_once(&fx.archive);
    let _t = transformer(&fx, "transformer");
    let _l = loader(&fx, "loader");
    wait_rows(&fx, 20);
    fx.broker.kill9_and_restart();
    let status = fx.cluster.wait_caught_up(1, Duration::from_secs(240));
    assert_parity_and_exact_rows(&fx);
    assert_eq!(
        status["dead_letters"].as_i64(),
        Some(0),
        "an outage is never dead-lettered: {status:#}"
    );
}

#[test]
fn the_records_topic_is_compacted_and_a_database_rebuilt_from_it_reaches_parity() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fx = Fixture::new("resil_compact", 40, 22);
    // Topics as msgmig creates them, then segments that roll every second and a cleaner that
    // takes any dirty log: compaction runs within seconds instead of days.
    fx.cluster.status();
    let config = kafka(&fx);
    let records = config.topic(Topic::Records);
    let mut settings: Vec<(&str, &str)> = Topic::Records.settings().to_vec();
    settings.extend([
        ("segment.ms", "1000"),
        ("min.cleanable.dirty.ratio", "0.01"),
        ("min.compaction.lag.ms", "0"),
        ("delete.retention.ms", "1000"),
    ]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(alter_topic_config(&config, &records, &settings))
        .unwrap();

    let _t = transformer(&fx, "transformer");
    let mut first_loader = loader(&fx, "loader");
    // Every pass re-publishes every deposition's records under the same keys.
    let mut published = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let compacted = loop {
        fx.cluster.scan_once(&fx.archive);
        let status = fx
            .cluster
            .wait_caught_up(published + 1, Duration::from_secs(120));
        published = status["records_published"].as_i64().unwrap();
        let in_log = count_records(&config, &records).unwrap();
        if in_log < published {
            break in_log;
        }
        assert!(
            Instant::now() < deadline,
            "the records topic was never compacted: {in_log} records for {published} published\n{}",
            std::fs::read_to_string(fx.broker.dir().join("broker.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let ends: i64 = partition_offsets(&config, &records, None)
        .unwrap()
        .iter()
        .map(|p| p.high)
        .sum();
    assert!(compacted < ends, "compaction removed superseded records");
    assert_parity_and_exact_rows(&fx);
    let before = fx.db.content_checksum();

    // The database is lost: a new loader rebuilds it from what compaction kept.
    assert!(first_loader.stop().success(), "{}", first_loader.log());
    fx.db.recreate();
    let _rebuild = loader(&fx, "rebuild");
    fx.cluster.wait_caught_up(1, Duration::from_secs(180));
    assert_eq!(fx.db.content_checksum(), before, "rebuilt identically");
    assert_parity_and_exact_rows(&fx);
}

#[test]
fn two_transformers_and_three_loaders_join_and_leave_mid_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let fx = Fixture::new("resil_members", 300, 23);
    fx.cluster.status();
    let mut t1 = transformer(&fx, "transformer1");
    let mut l1 = loader(&fx, "loader1");
    fx.cluster.scan_once(&fx.archive);
    wait_rows(&fx, 50);
    // Members join mid-load: the group rebalances and shares the partitions.
    let t2 = transformer(&fx, "transformer2");
    let l2 = loader(&fx, "loader2");
    let l3 = loader(&fx, "loader3");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !(t2.was_assigned() && l2.was_assigned() && l3.was_assigned()) {
        assert!(
            Instant::now() < deadline,
            "new members never got partitions:\n{}\n{}\n{}",
            t2.log(),
            l2.log(),
            l3.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // And leave mid-load: one gracefully, one killed (expired by its session timeout).
    assert!(l1.stop().success(), "{}", l1.log());
    t1.kill9();
    let status = fx.cluster.wait_caught_up(1, Duration::from_secs(240));
    assert_parity_and_exact_rows(&fx);
    assert_eq!(status["dead_letters"].as_i64(), Some(0), "{status:#}");
    // The group settles after the work is done: a stopped member leaves at once, a killed one
    // only when its session times out. Wait for the final assignments.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let held: usize = [&l2, &l3].iter().map(|w| w.last_assignment().len()).sum();
        let transformer_held = t2.last_assignment().len();
        if held == 6 && transformer_held == 6 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the remaining loaders hold {held} of 6 partitions, the remaining transformer {transformer_held}:\n{}\n{}\n{}",
            l2.log(),
            l3.log(),
            t2.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
