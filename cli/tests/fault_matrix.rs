//! Exactly once under faults: a fault at each window where state lives between batches or
//! processes, as `kill -9` (the process aborts at the point) and as an injected error, then a
//! restart. After each, the Kafka pipeline's database must equal a clean embedded `migrate` of
//! the same archive, table by table (the app's four tables, owners, deposition states,
//! quarantine and conflicts, dead letters), and the dead-letter topic must hold each letter.
//!
//! The archive holds a refused row (the server's `max_allowed_packet` is lowered to 1 MiB for
//! this binary, restored afterwards), contested ids (byte-equal, collation-equal, named), a
//! deposition larger than a batch and a malformed file. Real Apache Kafka, real MariaDB.

mod common;

use common::archive::write_contested;
use common::kafka::{Broker, Cluster, Worker};
use common::snapshot::{differences, Snapshot};
use common::MariaDb;
use msgmig_bus::kafka::{KafkaConfig, KafkaSubscriber, SubscriberOptions, Topic};
use msgmig_bus::Subscriber;
use msgmig_schemas::record::DeadLetter;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The server's `max_allowed_packet` while this binary runs (the refused row is larger).
const PACKET: usize = 1 << 20;

/// Lowers the server's `max_allowed_packet` and puts the original back on drop.
struct SmallPacket(String);

fn root_sql(q: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-uroot", "-h127.0.0.1", "-N", "-B", "-e", q])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{q}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl SmallPacket {
    fn set() -> Self {
        let original = root_sql("SELECT @@GLOBAL.max_allowed_packet");
        root_sql(&format!("SET GLOBAL max_allowed_packet = {PACKET}"));
        SmallPacket(original)
    }
}

impl Drop for SmallPacket {
    fn drop(&mut self) {
        root_sql(&format!("SET GLOBAL max_allowed_packet = {}", self.0));
    }
}

/// One fault: the process it hits, the failpoint, and whether it aborts the process.
#[derive(Debug, Clone, Copy)]
struct Fault {
    window: &'static str,
    process: Process,
    failpoint: &'static str,
    kills: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Process {
    Scanner,
    Transformer,
    Loader,
}

const FAULTS: &[Fault] = &[
    Fault {
        window: "after a batch commits, before its deposition's end marker",
        process: Process::Loader,
        failpoint: "loader_staged=return",
        kills: true,
    },
    Fault {
        window: "after a batch commits, before its deposition's end marker",
        process: Process::Loader,
        failpoint: "loader_staged_error=1*return",
        kills: false,
    },
    Fault {
        window: "between a refusal and the end marker",
        process: Process::Loader,
        failpoint: "loader_refused=return",
        kills: true,
    },
    Fault {
        window: "between a refusal and the end marker",
        process: Process::Loader,
        failpoint: "loader_refused_error=1*return",
        kills: false,
    },
    Fault {
        window: "after a dead letter is sent, before its delivery (loader)",
        process: Process::Loader,
        failpoint: "outbox_after_publish=return",
        kills: true,
    },
    Fault {
        window: "after a dead letter is sent, before its delivery (loader)",
        process: Process::Loader,
        failpoint: "outbox_publish_error=1*return",
        kills: false,
    },
    Fault {
        window: "after a dead letter is sent, before its delivery (transformer)",
        process: Process::Transformer,
        failpoint: "dead_letter_before_delivery=return",
        kills: true,
    },
    Fault {
        window: "after a dead letter is sent, before its delivery (transformer)",
        process: Process::Transformer,
        failpoint: "dead_letter_publish_error=1*return",
        kills: false,
    },
    Fault {
        window: "after a scanner ledger write, before delivery",
        process: Process::Scanner,
        failpoint: "scanner_after_publish=return",
        kills: true,
    },
    Fault {
        window: "after a scanner ledger write, before delivery",
        process: Process::Scanner,
        failpoint: "scanner_flush_error=1*return",
        kills: false,
    },
    Fault {
        window: "inside a rebalance",
        process: Process::Loader,
        failpoint: "rebalance_assign=return",
        kills: true,
    },
    Fault {
        window: "inside a rebalance",
        process: Process::Loader,
        failpoint: "rebalance_offsets_error=1*return",
        kills: false,
    },
];

struct Cell<'a> {
    name: String,
    archive: &'a Path,
    cluster: Cluster,
    db: MariaDb,
}

impl Cell<'_> {
    fn worker(&self, process: Process, suffix: &str, failpoint: Option<&str>) -> Worker {
        let dir = self.archive.to_str().unwrap();
        let env: Vec<(&str, &str)> = failpoint.map(|f| ("FAILPOINTS", f)).into_iter().collect();
        match process {
            Process::Scanner => self.cluster.spawn(
                &format!("scan{suffix}"),
                &[
                    "scan",
                    "--directory",
                    dir,
                    "--poll-only",
                    "--poll-interval",
                    "1",
                ],
                &env,
            ),
            Process::Transformer => self.cluster.spawn(
                &format!("transform{suffix}"),
                &["transform", "--directory", dir, "--debounce-ms", "50"],
                &env,
            ),
            Process::Loader => self.cluster.spawn(
                &format!("load{suffix}"),
                &["load", "--batch-size", "20"],
                &env,
            ),
        }
    }

    /// Waits until this cell's database equals `reference` (the pipeline may still be
    /// catching up: a condition, polled).
    fn wait_equal(&self, reference: &Snapshot, workers: &[&Worker]) {
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let now = self.db.snapshot();
            let pending = self
                .db
                .try_query("SELECT COUNT(*) FROM msgmig_dead_letters WHERE pending = 1")
                .unwrap_or_default();
            if now == *reference && pending == "0" {
                return;
            }
            if Instant::now() > deadline {
                let logs: String = workers
                    .iter()
                    .map(|w| format!("--- {}\n{}", w.log.display(), tail(&w.log())))
                    .collect();
                panic!(
                    "{}: the database differs from a clean migrate (pending letters: {pending}):\n{}\n{logs}",
                    self.name,
                    differences(reference, &now)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The dead letters on the cell's topic (each identity once: delivery is at least once).
fn topic_letters(cluster: &Cluster, expected: usize) -> BTreeSet<(String, String, String)> {
    let kafka = KafkaConfig {
        brokers: cluster.brokers.clone(),
        topic_prefix: cluster.prefix.clone(),
        partitions: 6,
        replication_factor: 1,
        properties: Vec::new(),
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut sub: KafkaSubscriber<DeadLetter> = KafkaSubscriber::new(
            &kafka,
            kafka.topic(Topic::DeadLetter),
            "fault-matrix-reader",
            SubscriberOptions::default(),
        )
        .await
        .unwrap();
        let mut got = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while got.len() < expected {
            match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(e)) => {
                    let l = e.payload;
                    got.insert((
                        l.stage.as_str().to_owned(),
                        l.reason.as_str().to_owned(),
                        l.deposition_id.clone().unwrap_or_default(),
                    ));
                }
                _ => break,
            }
        }
        got
    })
}

#[test]
fn every_fault_window_ends_with_the_tables_of_a_clean_migrate() {
    let _packet = SmallPacket::set();
    let work = tempfile::tempdir().unwrap();
    let archive: PathBuf = work.path().join("archive");
    let out = common::msgmig(
        work.path(),
        &[
            "generate",
            "--output",
            archive.to_str().unwrap(),
            "--depositions",
            "10",
            "--seed",
            "27",
        ],
    );
    common::assert_exit(&out, 0);
    write_contested(&archive, PACKET + PACKET / 2);

    // The reference: a clean embedded migrate of the same archive.
    let reference_db = MariaDb::create("msgmig_faults_reference");
    let out = common::migrate_into(
        work.path(),
        archive.to_str().unwrap(),
        &reference_db.url,
        &["--loaders", "2", "--batch-size", "20"],
    );
    common::assert_exit(&out, 1);
    let reference = reference_db.snapshot();
    assert_eq!(
        reference_db.query(
            "SELECT CONCAT_WS(' ', q.deposition_id, q.kind, IFNULL(q.message_id, '-'), d.state) \
             FROM msgmig_quarantine q JOIN msgmig_depositions d USING (deposition_id) ORDER BY 1"
        ),
        "D_5000000002 row_too_large D_5000000002-big quarantined\n\
         D_5000000004 conflict contested-0001 conflicts\n\
         D_5000000006 conflict shared-case-id  conflicts\n\
         D_5000000007 conflict named-0001 conflicts\n\
         D_5000000009 parse_error - quarantined",
        "the reference: the refused row quarantines its deposition, each contested id has one conflict"
    );
    assert_eq!(
        reference_db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info WHERE deposition_data_set_id = 'D_5000000002'"),
        "0",
        "none of the refused deposition's rows"
    );
    assert_eq!(
        reference_db.query(
            "SELECT CONCAT(deposition_id, ' ', message_id) FROM msgmig_message_provenance \
             WHERE message_id IN ('contested-0001', 'Shared-Case-Id', 'shared-case-id ', 'named-0001') ORDER BY 1"
        ),
        "D_5000000003 contested-0001\nD_5000000005 Shared-Case-Id\nD_5000000008 named-0001",
        "each contested id has its owner by the rule"
    );
    assert_eq!(
        reference_db.query(
            "SELECT CONCAT(stage, ' ', reason, ' ', deposition_id) FROM msgmig_dead_letters"
        ),
        "loader database_rejected D_5000000002"
    );
    let expected_letters: BTreeSet<(String, String, String)> = [
        ("loader", "database_rejected", "D_5000000002"),
        ("transformer", "quarantined", "D_5000000009"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();

    let broker = Broker::start();
    let mut outcomes = Vec::new();
    if std::env::var("FAULT_MATRIX_ONLY").is_err() {
        // No fault, two transformers and two loaders sharing the partitions: the same tables.
        let db = MariaDb::create("msgmig_fm_group");
        let cell = Cell {
            cluster: Cluster {
                brokers: broker.brokers.clone(),
                prefix: "fmgroup.".into(),
                database_url: db.url.clone(),
                cwd: work.path().to_owned(),
                env: Vec::new(),
            },
            name: "two transformers and two loaders".into(),
            archive: &archive,
            db,
        };
        let workers = [
            cell.worker(Process::Scanner, "", None),
            cell.worker(Process::Transformer, "-a", None),
            cell.worker(Process::Transformer, "-b", None),
            cell.worker(Process::Loader, "-a", None),
            cell.worker(Process::Loader, "-b", None),
        ];
        cell.wait_equal(&reference, &workers.iter().collect::<Vec<_>>());
        assert_eq!(
            topic_letters(&cell.cluster, expected_letters.len()),
            expected_letters
        );
        outcomes
            .push("no fault, 2 transformers and 2 loaders | - | - | equal to migrate".to_owned());
    }
    // `FAULT_MATRIX_ONLY=<failpoint name>` runs the cells of one point (to check that a cell
    // fails with its fix reverted, without waiting for the others).
    let only = std::env::var("FAULT_MATRIX_ONLY").ok();
    for (i, fault) in FAULTS.iter().enumerate() {
        if only
            .as_deref()
            .is_some_and(|o| !fault.failpoint.starts_with(o))
        {
            continue;
        }
        let name = format!("fm{i}");
        let db = MariaDb::create(&format!("msgmig_{name}"));
        let cell = Cell {
            cluster: Cluster {
                brokers: broker.brokers.clone(),
                prefix: format!("{name}."),
                database_url: db.url.clone(),
                cwd: work.path().to_owned(),
                env: Vec::new(),
            },
            name: format!("{} × {}", fault.window, fault.failpoint),
            archive: &archive,
            db,
        };
        // The process under test starts with the failpoint; the others plainly.
        let with = |p: Process| (fault.process == p).then_some(fault.failpoint);
        let mut scanner = cell.worker(Process::Scanner, "", with(Process::Scanner));
        let mut transformer = cell.worker(Process::Transformer, "", with(Process::Transformer));
        let mut loader = cell.worker(Process::Loader, "", with(Process::Loader));
        let faulty = match fault.process {
            Process::Scanner => &mut scanner,
            Process::Transformer => &mut transformer,
            Process::Loader => &mut loader,
        };
        let point = fault.failpoint.split('=').next().unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        while !faulty.log().contains(&format!("failpoint {point} reached")) {
            assert!(
                Instant::now() < deadline,
                "{}: the failpoint was never reached:\n{}",
                cell.name,
                tail(&faulty.log())
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if fault.kills {
            let status = faulty
                .wait(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{}: the process did not abort", cell.name));
            assert!(!status.success(), "{}: aborted", cell.name);
        } else {
            faulty.stop();
        }
        // The restart, without the failpoint.
        let restarted = cell.worker(fault.process, "-again", None);
        match fault.process {
            Process::Scanner => scanner = restarted,
            Process::Transformer => transformer = restarted,
            Process::Loader => loader = restarted,
        }
        cell.wait_equal(&reference, &[&scanner, &transformer, &loader]);
        let letters = topic_letters(&cell.cluster, expected_letters.len());
        assert_eq!(
            letters, expected_letters,
            "{}: the dead-letter topic",
            cell.name
        );
        outcomes.push(format!(
            "{} | {} | {} | equal to migrate",
            fault.window,
            if fault.kills {
                "kill -9"
            } else {
                "injected error"
            },
            point
        ));
        drop((scanner, transformer, loader));
    }
    println!("fault matrix:\n{}", outcomes.join("\n"));
}
