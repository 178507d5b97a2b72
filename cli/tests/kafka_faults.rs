//! Faults of the distributed pipeline: a database outage mid-load, stale and poison
//! records, untrusted file events. Real broker (Apache Kafka), real MariaDB, separate processes.

mod common;

use common::kafka::{http_get, Broker, Cluster, Fixture, Worker};
use common::{MariaDb, Proxy};
use msgmig_bus::kafka::{KafkaConfig, KafkaPublisher, KafkaSubscriber, SubscriberOptions, Topic};
use msgmig_bus::{Envelope, Publisher, Subscriber};
use msgmig_schemas::record::{DeadLetter, FileEvent, RecordsMessage};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

struct Setup {
    dir: tempfile::TempDir,
    _broker: Broker,
    db: MariaDb,
    cluster: Cluster,
    archive: PathBuf,
}

fn setup(name: &str, depositions: u32) -> Setup {
    let Fixture {
        dir,
        archive,
        broker,
        db,
        cluster,
        ..
    } = Fixture::new(&format!("faults_{name}"), depositions, 5);
    Setup {
        dir,
        _broker: broker,
        db,
        cluster,
        archive,
    }
}

impl Setup {
    fn start(&self, loader_url: Option<&str>) -> (Worker, Worker) {
        let dir = self.archive.to_str().unwrap();
        self.cluster.scan_once(&self.archive);
        let t = self.cluster.spawn(
            "transformer",
            &["transform", "--directory", dir, "--debounce-ms", "50"],
            &[],
        );
        let mut args = vec!["load", "--batch-size", "20"];
        if let Some(url) = loader_url {
            args.extend(["--database-url", url]);
        }
        let l = self.cluster.spawn("loader", &args, &[]);
        (t, l)
    }

    fn kafka(&self) -> KafkaConfig {
        KafkaConfig {
            brokers: self.cluster.brokers.clone(),
            topic_prefix: self.cluster.prefix.clone(),
            partitions: 6,
            replication_factor: 1,
            properties: Vec::new(),
        }
    }

    fn assert_parity(&self) {
        let (code, out) = self.cluster.verify(&self.archive);
        assert_eq!(code, 0, "verify must report parity:\n{out}");
    }
}

#[test]
fn a_database_outage_mid_load_pauses_the_loader_which_resumes_without_loss() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("outage", 200);
    let proxy = Proxy::start("127.0.0.1:3306");
    let url = format!(
        "mysql://root@127.0.0.1:{}/{}",
        proxy.port,
        s.db.url.rsplit('/').next().unwrap()
    );
    let (_t, mut loader) = s.start(Some(&url));
    let ready = format!("{}/readyz", loader.metrics_url());
    // Cut as soon as rows arrive: mid-load.
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.db.query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'pdbx_deposition_message_info'") != "1"
        || s.db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info") == "0"
    {
        assert!(Instant::now() < deadline, "nothing loaded:\n{}", loader.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    proxy.cut();
    let during =
        s.db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info");
    std::thread::sleep(Duration::from_secs(5));
    let (code, body) = http_get(&ready).expect("the loader serves /readyz during the outage");
    assert_eq!(code, 503, "not ready while the database is away: {body}");
    assert!(body.contains("database"), "{body}");
    std::thread::sleep(Duration::from_secs(15));
    assert!(
        loader.wait(Duration::from_millis(10)).is_none(),
        "the loader waits, it does not exit:\n{}",
        loader.log()
    );
    proxy.restore();
    s.cluster.wait_caught_up(1, Duration::from_secs(180));
    s.assert_parity();
    let log = loader.log();
    assert!(
        log.contains("db_unavailable"),
        "the pause is logged:\n{log}"
    );
    assert!(
        !log.contains("dead_letter"),
        "an outage is never dead-lettered:\n{log}"
    );
    let after =
        s.db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info");
    assert!(
        after.parse::<u64>().unwrap() > during.parse::<u64>().unwrap(),
        "loading went on after the outage"
    );
    let (code, _) = http_get(&ready).unwrap();
    assert_eq!(code, 200, "ready again");
}

#[test]
fn stale_poison_and_untrusted_inputs_change_nothing_and_are_dead_lettered() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("poison", 20);
    let (_t, _l) = s.start(None);
    let first = s.cluster.wait_caught_up(1, Duration::from_secs(120));
    let checksum = s.db.content_checksum();
    let kafka = s.kafka();
    let records_topic = kafka.topic(Topic::Records);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let records: KafkaPublisher<RecordsMessage> =
            KafkaPublisher::new(&kafka, records_topic.clone(), 6).unwrap();
        // An older state of a loaded message, with other content: a stale replay.
        let deposition = std::fs::read_dir(&s.archive)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .min()
            .unwrap();
        let built = msgmig_transformer::transform_deposition(&s.archive, &deposition);
        let mut stale = built.records[0].clone();
        stale.provenance.generation -= 1_000_000_000;
        stale.message.sender = "STALE REPLAY".into();
        records
            .publish(Envelope::new(
                stale.message.message_id.clone(),
                deposition.clone(),
                RecordsMessage::Message(Box::new(stale)),
            ))
            .await
            .unwrap();
        // A poison record: a sender longer than its column, in a deposition of its own.
        let mut poison = built.records[0].clone();
        poison.deposition_id = "D_990000001".into();
        poison.message.deposition_data_set_id = "D_990000001".into();
        poison.message.message_id = "poison-message-0001".into();
        poison.message.sender = "x".repeat(400);
        for payload in RecordsMessage::with_end_markers([poison]) {
            let key = match &payload {
                RecordsMessage::Message(r) => r.message.message_id.clone(),
                RecordsMessage::DepositionEnd(e) => e.deposition_id.clone(),
            };
            records
                .publish(Envelope::new(key, "D_990000001", payload))
                .await
                .unwrap();
        }
        // Not JSON at all.
        records
            .publish_bytes("garbage", "D_990000002", b"\x00not json{")
            .await
            .unwrap();
        records.flush().await.unwrap();
        // A file event that points outside the archive.
        let events: KafkaPublisher<FileEvent> =
            KafkaPublisher::new(&kafka, kafka.topic(Topic::FileEvents), 6).unwrap();
        let mut evil = FileEvent {
            schema_version: 1,
            path: "../../etc/D_1_messages-to-depositor_P1.cif.V1".into(),
            deposition_id: "D_1".into(),
            content_type: msgmig_schemas::archive::ContentType::MessagesToDepositor,
            version: 1,
            size: 1,
            mtime_ns: 1,
            ctime_ns: 1,
            change: msgmig_schemas::record::FileChange::Present,
            group_len: 0,
        };
        events
            .publish(Envelope::new(evil.path.clone(), "D_1", evil.clone()))
            .await
            .unwrap();
        evil.path = "D_1/passwd".into();
        events
            .publish(Envelope::new(evil.path.clone(), "D_1", evil))
            .await
            .unwrap();
        events.flush().await.unwrap();
    });
    let published = first["records_published"].as_i64().unwrap();
    s.cluster
        .wait_caught_up(published + 4, Duration::from_secs(120));
    assert_eq!(
        s.db.content_checksum(),
        checksum,
        "a stale record changes nothing; the poison is not loaded"
    );
    assert_eq!(
        s.db.query(
            "SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE sender = 'STALE REPLAY'"
        ),
        "0"
    );
    assert_eq!(
        s.db.query("SELECT kind FROM msgmig_quarantine WHERE deposition_id = 'D_990000001'"),
        "bad_value",
        "the refused deposition is visible as quarantined"
    );
    s.assert_parity();

    // The dead-letter topic holds one letter per rejected input, each with its reason.
    let letters = runtime.block_on(async {
        let mut sub: KafkaSubscriber<DeadLetter> = KafkaSubscriber::new(
            &kafka,
            kafka.topic(Topic::DeadLetter),
            "test-reader",
            SubscriberOptions::default(),
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got.len() < 4 {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(e)) => got.push(e.payload),
                _ => break,
            }
        }
        got
    });
    let mut reasons: Vec<(String, String)> = letters
        .iter()
        .map(|l| (l.stage.as_str().to_owned(), l.reason.as_str().to_owned()))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            ("loader".to_owned(), "bad_payload".to_owned()),
            ("loader".to_owned(), "database_rejected".to_owned()),
            ("transformer".to_owned(), "bad_path".to_owned()),
            ("transformer".to_owned(), "bad_path".to_owned()),
        ],
        "{letters:#?}"
    );
    let rejected = letters
        .iter()
        .find(|l| l.reason.as_str() == "database_rejected")
        .unwrap();
    assert!(
        rejected.detail.to_lowercase().contains("too long"),
        "the DB error is kept: {}",
        rejected.detail
    );
    assert!(rejected.source_offset.is_some(), "with its position");
    let _ = &s.dir;
}
