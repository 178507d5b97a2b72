//! The continuous scanner never loses a file event: with the broker down for three times the
//! producer's `message.timeout.ms` while new folders and a new version are written, every
//! change is loaded once the broker is back, without restarting `scan`; meanwhile `/readyz`
//! answers 503 and `msgmig_scanner_undelivered_events` counts what waits. Real Apache Kafka
//! (stopped and started on its data), real MariaDB, separate processes.

mod common;

use common::archive::{write_file, Msg};
use common::kafka::{http_get, Fixture};
use std::time::{Duration, Instant};

/// The producer gives a message up after this long (set low so the outage outlasts it).
const MESSAGE_TIMEOUT_MS: u64 = 5000;

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn file_events_written_during_a_broker_outage_are_all_loaded_once_it_is_back() {
    let fx = Fixture::new("scanner_outage", 6, 3);
    let dir = fx.archive.to_str().unwrap();
    let timeout = format!("message.timeout.ms={MESSAGE_TIMEOUT_MS}");
    let scanner = fx.cluster.spawn(
        "scan",
        &[
            "scan",
            "--directory",
            dir,
            "--poll-only",
            "--poll-interval",
            "1",
            "--kafka-config",
            &timeout,
        ],
        &[],
    );
    let _transformer = fx.cluster.spawn(
        "transform",
        &["transform", "--directory", dir, "--debounce-ms", "50"],
        &[],
    );
    let _loader = fx.cluster.spawn("load", &["load"], &[]);
    let loaded = |n: usize| {
        fx.db
            .try_query("SELECT COUNT(*) FROM msgmig_depositions")
            .and_then(|s| s.parse::<usize>().ok())
            .is_some_and(|got| got >= n)
    };
    wait_until("the first load", Duration::from_secs(120), || loaded(6));
    let ready = format!("{}/readyz", scanner.metrics_url());
    let metrics = format!("{}/metrics", scanner.metrics_url());

    let outage = fx.broker.stop_for_test();
    let started = Instant::now();
    for dep in ["D_7000000001", "D_7000000002"] {
        write_file(
            &fx.archive,
            dep,
            "messages-to-depositor",
            1,
            &[Msg::new(
                &format!("{dep}-new"),
                dep,
                "Written during the outage",
            )],
        );
    }
    let first = std::fs::read_dir(&fx.archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("D_1"))
        .min()
        .unwrap();
    write_file(
        &fx.archive,
        &first,
        "notes-from-annotator",
        9,
        &[Msg::new(
            &format!("{first}-late-note"),
            &first,
            "A new version",
        )],
    );
    // The outage lasts three message timeouts, and the producer gave deliveries up.
    wait_until(
        "an outage of three message timeouts with a failed delivery",
        Duration::from_secs(120),
        || {
            started.elapsed() >= Duration::from_millis(3 * MESSAGE_TIMEOUT_MS)
                && scanner.log().contains("file_events_undelivered")
        },
    );
    let (code, body) = http_get(&ready).expect("/readyz answers during the outage");
    assert_eq!(code, 503, "not ready while events wait: {body}");
    assert!(body.contains("not delivered"), "{body}");
    let (_, text) = http_get(&metrics).unwrap();
    let waiting: f64 = text
        .lines()
        .find(|l| l.starts_with("msgmig_scanner_undelivered_events "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("the undelivered gauge is exported");
    assert!(waiting >= 1.0, "events wait: {waiting}");

    outage.start_again();
    wait_until(
        "the changes made during the outage",
        Duration::from_secs(180),
        || {
            fx.db
                .try_query(&format!(
                    "SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE message_id IN \
                 ('D_7000000001-new', 'D_7000000002-new', '{first}-late-note')"
                ))
                .is_some_and(|n| n == "3")
        },
    );
    assert!(
        scanner
            .log()
            .lines()
            .all(|l| !l.contains("event=\"scan_failed\"")),
        "the scanner kept running"
    );
    wait_until("the scanner ready again", Duration::from_secs(60), || {
        http_get(&ready).is_some_and(|(code, _)| code == 200)
    });
    let (code, out) = fx.cluster.verify(&fx.archive);
    assert_eq!(code, 0, "parity after the outage:\n{out}");
}
