//! The distributed pipeline as separate processes over a real Apache Kafka broker
//! (one per test) into a real MariaDB: parity, scale-out, crashes at several points,
//! rebuild after a lost database, replay, stale records, poison input and dead letters.

mod common;

use common::kafka::{Broker, Cluster, Fixture, Worker};
use common::MariaDb;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The tests start many processes each: one at a time on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

struct Setup {
    _dir: tempfile::TempDir,
    _broker: Broker,
    /// (messages, file references) the generator wrote.
    expected: (String, String),
    db: MariaDb,
    cluster: Cluster,
    archive: PathBuf,
}

/// A broker, a database and a generated archive of `depositions` folders.
fn setup(name: &str, depositions: u32) -> Setup {
    let fx = Fixture::new(&format!("kafka_{name}"), depositions, 11);
    let expected = (
        fx.generated_count("messages"),
        fx.generated_count("file references"),
    );
    let Fixture {
        dir,
        archive,
        broker,
        db,
        cluster,
        ..
    } = fx;
    Setup {
        _dir: dir,
        _broker: broker,
        expected,
        db,
        cluster,
        archive,
    }
}

impl Setup {
    fn dir(&self) -> &str {
        self.archive.to_str().unwrap()
    }

    fn scan(&self) {
        self.cluster.scan_once(&self.archive);
    }

    fn transformer(&self, name: &str, env: &[(&str, &str)]) -> Worker {
        self.transformer_debounced(name, "50", env)
    }

    fn transformer_debounced(&self, name: &str, debounce_ms: &str, env: &[(&str, &str)]) -> Worker {
        self.cluster.spawn(
            name,
            &[
                "transform",
                "--directory",
                self.dir(),
                "--debounce-ms",
                debounce_ms,
            ],
            env,
        )
    }

    fn loader(&self, name: &str, env: &[(&str, &str)]) -> Worker {
        self.cluster
            .spawn(name, &["load", "--batch-size", "50"], env)
    }

    fn assert_parity(&self) {
        let (code, out) = self.cluster.verify(&self.archive);
        assert_eq!(code, 0, "verify must report parity:\n{out}");
        assert!(out.contains("differences: 0"), "{out}");
    }

    /// Every message stored once, with exactly its file references and its status: no
    /// duplicated row, no lost one (the generator writes one status per message).
    fn assert_exact_rows(&self) {
        let (messages, file_refs) = &self.expected;
        assert_eq!(
            &self
                .db
                .query("SELECT COUNT(*) FROM pdbx_deposition_message_info"),
            messages
        );
        assert_eq!(
            &self
                .db
                .query("SELECT COUNT(*) FROM pdbx_deposition_message_file_reference"),
            file_refs
        );
        assert_eq!(
            &self
                .db
                .query("SELECT COUNT(*) FROM pdbx_deposition_message_status"),
            messages
        );
    }
}

#[test]
fn three_processes_reach_parity_and_a_lost_database_is_rebuilt_from_the_topic() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("e2e", 60);
    s.scan();
    let mut transformer = s.transformer("transformer", &[]);
    let mut loader = s.loader("loader", &[]);
    let status = s.cluster.wait_caught_up(1, Duration::from_secs(120));
    s.assert_parity();
    let before = s.db.content_checksum();
    let messages =
        s.db.query("SELECT COUNT(*) FROM pdbx_deposition_message_info");
    assert_eq!(status["database"]["messages"].to_string(), messages);

    // The database is lost: restart the loader on an empty one, nothing else.
    assert!(loader.stop().success(), "graceful stop:\n{}", loader.log());
    s.db.recreate();
    let _loader = s.loader("loader2", &[]);
    s.cluster.wait_caught_up(1, Duration::from_secs(120));
    assert_eq!(
        s.db.content_checksum(),
        before,
        "rebuilt identically from the records topic"
    );
    s.assert_parity();
    s.assert_exact_rows();

    // A time after the last record replays nothing (never "from 0").
    let out = s
        .cluster
        .run(&["replay", "--since", "2999-01-01T00:00:00Z"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("nothing to replay"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        transformer.stop().success(),
        "graceful stop:\n{}",
        transformer.log()
    );
}

/// A backfill does not wait out the transformer's debounce: the scanner says how many events it
/// published together for each deposition, and a deposition whose events all arrived is
/// transformed at once. With an hour's debounce, only that lets the pipeline catch
/// up within the timeout.
#[test]
fn a_walk_is_transformed_without_waiting_out_the_debounce() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("grouped", 30);
    s.scan();
    let _transformer = s.transformer_debounced("transformer", "3600000", &[]);
    let _loader = s.loader("loader", &[]);
    s.cluster.wait_caught_up(1, Duration::from_secs(120));
    s.assert_parity();
    s.assert_exact_rows();
}

#[test]
fn replay_since_re_applies_only_what_followed_and_changes_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("replay", 30);
    s.scan();
    let _transformer = s.transformer("transformer", &[]);
    let loader = s.loader("loader", &[]);
    let first = s.cluster.wait_caught_up(1, Duration::from_secs(120));
    let published_before = first["records_published"].as_i64().unwrap();
    let checksum = s.db.content_checksum();
    std::thread::sleep(Duration::from_millis(1500));
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(500));
    // A second pass publishes every file again: every deposition is re-transformed.
    s.scan();
    let second = s
        .cluster
        .wait_caught_up(published_before + 1, Duration::from_secs(120));
    let published_after = second["records_published"].as_i64().unwrap();

    let out = s.cluster.run(&["replay", "--since", &since, "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    let total: i64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("total: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no total in {text}"));
    assert_eq!(
        total,
        published_after - published_before,
        "only the records published after --since:\n{text}"
    );

    let out = s.cluster.run(&["replay", "--since", &since]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The running loader notices the lowered offsets and re-applies from there (on Apache
    // Kafka it can finish before a `status` would see the lag, so its log is the evidence).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !loader.log().contains("offsets_rewound") {
        assert!(
            std::time::Instant::now() < deadline,
            "the loader never noticed the replay:\n{}",
            loader.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    s.cluster
        .wait_caught_up(published_after, Duration::from_secs(120));
    assert_eq!(
        s.db.content_checksum(),
        checksum,
        "re-applying the same records changes nothing"
    );
    s.assert_parity();
}

#[test]
fn two_transformers_and_two_loaders_split_the_partitions() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("scale", 60);
    // Topics first (status creates them), then the members join and split the partitions,
    // then the work arrives.
    s.cluster.status();
    let mut t1 = s.transformer("transformer1", &[]);
    let mut t2 = s.transformer("transformer2", &[]);
    let mut l1 = s.loader("loader1", &[]);
    let mut l2 = s.loader("loader2", &[]);
    for (a, b) in [(&mut t1, &mut t2), (&mut l1, &mut l2)] {
        wait_for_split(a, b);
    }
    s.scan();
    s.cluster.wait_caught_up(1, Duration::from_secs(180));
    s.assert_parity();
    s.assert_exact_rows();
    for (a, b) in [(&t1, &t2), (&l1, &l2)] {
        let (pa, pb) = (a.last_assignment(), b.last_assignment());
        assert!(
            !pa.is_empty() && !pb.is_empty(),
            "both members kept partitions: {pa:?} {pb:?}"
        );
        assert!(
            pa.iter().all(|p| !pb.contains(p)),
            "disjoint: {pa:?} {pb:?}"
        );
    }
}

/// Waits until two members of a group both hold partitions, disjoint, 6 in all. A member
/// that exits meanwhile fails the test at once, with its log.
fn wait_for_split(a: &mut Worker, b: &mut Worker) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        for w in [&mut *a, &mut *b] {
            if let Some(status) = w.exited() {
                panic!(
                    "a group member exited ({status}) before the split:\n{}",
                    w.log()
                );
            }
        }
        let (pa, pb) = (a.last_assignment(), b.last_assignment());
        if !pa.is_empty()
            && !pb.is_empty()
            && pa.len() + pb.len() == 6
            && pa.iter().all(|p| !pb.contains(p))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the group did not split its partitions: {pa:?} {pb:?}\n{}\n{}",
            a.log(),
            b.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_loader_killed_mid_batch_resumes_from_the_database_offsets() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("crashload", 60);
    s.scan();
    let _transformer = s.transformer("transformer", &[]);
    // Two crash points inside the batch, then a kill -9 at an arbitrary moment.
    for (i, point) in [
        "loader_before_commit=2*off->return",
        "loader_after_commit=3*off->return",
    ]
    .iter()
    .enumerate()
    {
        let mut crashing = s.loader(&format!("crash{i}"), &[("FAILPOINTS", point)]);
        let status = crashing.wait(Duration::from_secs(120)).unwrap_or_else(|| {
            panic!(
                "the failpoint {point} must abort the loader:\n{}",
                crashing.log()
            )
        });
        assert!(!status.success(), "aborted at {point}:\n{}", crashing.log());
        assert!(crashing.log().contains("failpoint"), "{}", crashing.log());
    }
    let mut loader = s.loader("loader-kill", &[]);
    std::thread::sleep(Duration::from_millis(1500));
    loader.kill9();
    // No broker restart: the broker expires the dead member after its session timeout and
    // hands its partitions to the next one.
    let _loader = s.loader("loader", &[]);
    s.cluster.wait_caught_up(1, Duration::from_secs(180));
    s.assert_parity();
    s.assert_exact_rows();
}

#[test]
fn a_transformer_killed_before_acknowledging_redoes_its_work_without_duplicates() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let s = setup("crashtransform", 60);
    s.scan();
    let mut crashing = s.transformer("crash", &[("FAILPOINTS", "transformer_before_ack=return")]);
    let status = crashing.wait(Duration::from_secs(120)).unwrap_or_else(|| {
        panic!(
            "the failpoint must abort the transformer:\n{}",
            crashing.log()
        )
    });
    assert!(!status.success(), "{}", crashing.log());
    let _transformer = s.transformer("transformer", &[]);
    let _loader = s.loader("loader", &[]);
    s.cluster.wait_caught_up(1, Duration::from_secs(180));
    s.assert_parity();
    s.assert_exact_rows();
}
