//! `msgmig run` (continuous) through the real binary: changes to a live archive reach the
//! database, with file watching and with polling only; locks and half-written files are
//! respected; a restart publishes exactly what changed while it was down.

mod common;

use common::{copy_dir, example_archive};

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_msgmig")
}

struct Live {
    work: tempfile::TempDir,
}

impl Live {
    fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        copy_dir(&example_archive(), &work.path().join("archive"));
        Live { work }
    }

    fn archive(&self) -> PathBuf {
        self.work.path().join("archive")
    }

    fn start(&self, extra: &[&str]) -> Child {
        Command::new(bin())
            .current_dir(self.work.path())
            .args([
                "--log-level",
                "warn",
                "run",
                "--directory",
                "archive",
                "--create-tables",
                "--settle-ms",
                "200",
                "--metrics-addr",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env_remove("MSGMIG_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.work.path().join("run.err"))
                    .unwrap(),
            )
            .spawn()
            .unwrap()
    }

    fn verify(&self) -> Output {
        Command::new(bin())
            .current_dir(self.work.path())
            .args(["verify", "--directory", "archive"])
            .env_remove("MSGMIG_DATABASE_URL")
            .output()
            .unwrap()
    }

    /// Waits until verify reports parity (every file value in the database); on a time-out,
    /// shows verify's output and the run's log.
    fn wait_for_parity(&self, what: &str) {
        let start = Instant::now();
        loop {
            let out = self.verify();
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.code() == Some(0) && text.contains("0 quarantined") {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let log =
                    std::fs::read_to_string(self.work.path().join("run.err")).unwrap_or_default();
                panic!(
                    "{what}: no parity after 30 s:\n{text}{}\n--- msgmig run stderr ---\n{log}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn stop(child: Child) -> String {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "run exits 0 on SIGTERM");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The changes of the issue: a new `.V3`, a draft edited in place (N → Y), a new deposition.
    fn make_changes(&self) {
        let dep = self.archive().join("D_0000000101");
        let v2 = std::fs::read_to_string(dep.join("D_0000000101_messages-to-depositor_P1.cif.V2"))
            .unwrap();
        std::fs::write(
            dep.join("D_0000000101_messages-to-depositor_P1.cif.V3"),
            v2.replace("Unlocked \n", "'Unlocked again' \n"),
        )
        .unwrap();
        let g = self
            .archive()
            .join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1");
        let text = std::fs::read_to_string(&g).unwrap();
        std::fs::write(
            &g,
            text.replace("send_status              N", "send_status              Y"),
        )
        .unwrap();
        let new = self.archive().join("D_0000000201");
        std::fs::create_dir(&new).unwrap();
        let from = std::fs::read_to_string(
            self.archive()
                .join("D_0000000102/D_0000000102_messages-from-depositor_P1.cif.V1"),
        )
        .unwrap();
        std::fs::write(
            new.join("D_0000000201_messages-from-depositor_P1.cif.V1"),
            from.replace(
                "5f2e7d3c-2e3a-4c0a-8f4d-3c4d5e6f7a01",
                "5f2e7d3c-2e3a-4c0a-8f4d-3c4d5e6f7b02",
            ),
        )
        .unwrap();
    }
}

/// GET `path` from the run's metrics address (printed on its stderr).
fn http_get(live: &Live, path: &str) -> String {
    use std::io::{Read, Write};
    let log = std::fs::read_to_string(live.work.path().join("run.err")).unwrap();
    let url = log
        .lines()
        .rev()
        .find_map(|l| l.split("metrics on http://").nth(1))
        .expect("metrics address printed");
    let addr = url.trim_end_matches("/metrics");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}

fn changes_arrive(extra: &[&str]) {
    let live = Live::new();
    let child = live.start(extra);
    live.wait_for_parity("initial load");
    live.make_changes();
    live.wait_for_parity("after the changes");
    let metrics = http_get(&live, "/metrics");
    let freshness = metrics
        .lines()
        .find(|l| l.starts_with("msgmig_loader_freshness_seconds_count"))
        .expect("freshness histogram");
    let observed: f64 = freshness.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        observed >= 3.0,
        "the changed depositions were observed: {freshness}"
    );
    assert!(
        metrics.contains("msgmig_scanner_files_published_total{change=\"present\"}"),
        "{metrics}"
    );
    assert!(http_get(&live, "/healthz").contains("200 OK"));
    assert!(http_get(&live, "/readyz").contains("ready"));
    let summary = Live::stop(child);
    assert!(
        summary.contains("34 inserted, 2 updated"),
        "33 + 1 new message; the draft and the new version are updates: {summary}"
    );
}

#[test]
fn changes_arrive_with_file_watching() {
    changes_arrive(&["--poll-interval", "3600"]);
}

/// Polling only (NFS), and never a full pass: an in-place edit of an existing file, which
/// leaves its folder's mtime alone, still arrives by the next poll.
#[test]
fn changes_arrive_with_polling_only() {
    changes_arrive(&[
        "--poll-only",
        "--poll-interval",
        "0.5",
        "--full-pass-every",
        "100000",
    ]);
}

#[test]
fn a_fresh_lock_delays_loading_and_a_half_written_file_is_never_loaded_half() {
    let live = Live::new();
    let child = live.start(&["--poll-interval", "1", "--stale-lock-secs", "60"]);
    live.wait_for_parity("initial load");
    let g = live
        .archive()
        .join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1");
    let lock = live
        .archive()
        .join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1.lock");
    std::fs::write(&lock, "").unwrap();
    let text = std::fs::read_to_string(&g)
        .unwrap()
        .replace("send_status              N", "send_status              Y");
    // Written in two steps with a pause shorter than the quiet period, as a slow writer would.
    let (a, b) = text.split_at(text.len() / 2);
    std::fs::write(&g, a).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(&g, text.as_bytes()).unwrap();
    let _ = b;
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        live.verify().status.code(),
        Some(1),
        "locked: the change waits"
    );
    std::fs::remove_file(&lock).unwrap();
    live.wait_for_parity("after the lock went away");
    let summary = Live::stop(child);
    assert!(
        summary.contains("(0 quarantined)"),
        "never read half: {summary}"
    );
    assert!(!summary.contains("lock waits: 0"), "{summary}");
}

#[test]
fn a_stale_lock_does_not_block() {
    let live = Live::new();
    let lock = live
        .archive()
        .join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1.lock");
    std::fs::write(&lock, "").unwrap();
    let child = live.start(&["--poll-interval", "1", "--stale-lock-secs", "0"]);
    live.wait_for_parity("a stale lock is ignored");
    Live::stop(child);
}

#[test]
fn a_restart_publishes_exactly_what_changed_while_it_was_down() {
    let live = Live::new();
    let child = live.start(&["--poll-interval", "3600"]);
    live.wait_for_parity("initial load");
    let first = Live::stop(child);
    assert!(
        first.contains("file events published: 23"),
        "every latest file once: {first}"
    );
    let g = live
        .archive()
        .join("G_1000001/G_1000001_messages-from-depositor_P1.cif.V1");
    let text = std::fs::read_to_string(&g).unwrap();
    std::fs::write(
        &g,
        text.replace("send_status              N", "send_status              Y"),
    )
    .unwrap();
    let child = live.start(&["--poll-interval", "3600"]);
    live.wait_for_parity("after the restart");
    let second = Live::stop(child);
    assert!(
        second.contains("file events published: 1 "),
        "only the changed file: {second}"
    );
    assert!(second.contains("0 inserted, 1 updated"), "{second}");
    let child = live.start(&["--poll-interval", "3600"]);
    std::thread::sleep(Duration::from_secs(2));
    let third = Live::stop(child);
    assert!(
        third.contains("file events published: 0 "),
        "an unchanged archive publishes nothing: {third}"
    );
}
