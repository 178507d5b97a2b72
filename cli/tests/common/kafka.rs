//! A real Apache Kafka broker (KRaft, one node, via `scripts/kafka`) and msgmig worker processes
//! for the distributed end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/kafka")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An Apache Kafka broker of its own for one test (topics, groups and offsets start empty),
/// stopped on drop. Its data lives in a temporary directory and survives `restart`/`kill9`.
pub struct Broker {
    dir: tempfile::TempDir,
    port: u16,
    pub brokers: String,
}

impl Broker {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A broker with extra environment for `scripts/kafka start` (e.g. `KAFKA_EXTRA_PROPERTIES`).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let broker = Broker {
            brokers: format!("127.0.0.1:{port}"),
            dir,
            port,
        };
        broker.up(env);
        broker
    }

    /// The broker's data directory (its log is `broker.log` there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn script(&self, verb: &str, env: &[(&str, &str)]) -> std::process::Output {
        let mut c = Command::new(script());
        c.args([verb, self.dir.path().to_str().unwrap()])
            .env("KAFKA_PORT", self.port.to_string());
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn up(&self, env: &[(&str, &str)]) {
        let out = self.script("start", env);
        assert!(
            out.status.success(),
            "cannot start the Apache Kafka test broker (scripts/kafka start; resolve it first with \
             scripts/kafka install): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn down(&self) {
        let _ = self.script("stop", &[]);
    }

    /// A controlled shutdown (SIGTERM) and a start on the same data.
    pub fn restart(&self) {
        self.down();
        self.up(&[]);
    }

    /// `kill -9` of the broker, then a start on the same data (log recovery included).
    pub fn kill9_and_restart(&self) {
        let out = self.script("kill", &[]);
        assert!(out.status.success());
        self.up(&[]);
    }
}

/// A broker stopped by a test, to be started again on the same data.
pub struct Stopped<'a>(&'a Broker);

impl Stopped<'_> {
    pub fn start_again(self) {
        self.0.up(&[]);
    }
}

impl Broker {
    /// Stops the broker (an outage); `start_again` brings it back with its data.
    pub fn stop_for_test(&self) -> Stopped<'_> {
        self.down();
        Stopped(self)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.script("kill", &[]);
    }
}

/// The environment every msgmig process of one test shares.
#[derive(Clone)]
pub struct Cluster {
    pub brokers: String,
    pub prefix: String,
    /// `MSGMIG_DATABASE_URL` of every process; empty = not set (e.g. a URL file in `env`).
    pub database_url: String,
    pub cwd: PathBuf,
    /// More environment for every process (set last).
    pub env: Vec<(String, String)>,
}

impl Cluster {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_msgmig"));
        c.current_dir(&self.cwd)
            .args(args)
            .env("MSGMIG_KAFKA_BROKERS", &self.brokers)
            .env("MSGMIG_TOPIC_PREFIX", &self.prefix)
            .env("MSGMIG_DATABASE_URL", &self.database_url)
            .env_remove("FAILPOINTS")
            .env("NO_COLOR", "1");
        if self.database_url.is_empty() {
            c.env_remove("MSGMIG_DATABASE_URL");
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs a short command to its end.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// Starts a long-running worker (`transform`, `load`, …) with its log in `cwd/<name>.log`,
    /// metrics on a free port.
    pub fn spawn(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let mut args = args.to_vec();
        args.extend(["--metrics-addr", "127.0.0.1:0"]);
        self.spawn_with(name, &args, env)
    }

    /// Starts a worker with exactly these arguments.
    pub fn spawn_exact(&self, name: &str, args: &[&str]) -> Worker {
        self.spawn_with(name, args, &[])
    }

    fn spawn_with(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Worker {
        let log = self.cwd.join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut c = self.command(args);
        c.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        for (k, v) in env {
            c.env(k, v);
        }
        Worker {
            child: c.spawn().unwrap(),
            log,
        }
    }

    /// `msgmig scan --once` of `archive`: every file event published.
    pub fn scan_once(&self, archive: &Path) {
        let out = self.run(&[
            "scan",
            "--once",
            "--directory",
            archive.to_str().unwrap(),
            "--metrics-addr",
            "127.0.0.1:0",
        ]);
        assert!(
            out.status.success(),
            "scan: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `msgmig status --json`.
    pub fn status(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert!(
            out.status.success(),
            "status: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits until the transformer and loader groups have no lag and `records` records were
    /// published (at least), for up to `timeout`.
    pub fn wait_caught_up(&self, min_records: i64, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.status();
            let done = s["transformer"]["lag"] == 0
                && s["loader"]["lag"] == 0
                && s["records_published"].as_i64().unwrap_or(0) >= min_records;
            if done {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "pipeline did not catch up: {s:#}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// `msgmig verify` of `archive` against the database: (exit code, stdout).
    pub fn verify(&self, archive: &Path) -> (i32, String) {
        let out = self.run(&["verify", "--directory", archive.to_str().unwrap()]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// A worker process, killed on drop.
pub struct Worker {
    child: Child,
    pub log: PathBuf,
}

impl Worker {
    /// `kill -9`.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn stop(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.wait(Duration::from_secs(60))
            .expect("worker exits after SIGTERM")
    }

    /// Waits for the process to end by itself.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The partitions the worker logged at its last assignment (empty before the first, or
    /// after a revocation).
    pub fn last_assignment(&self) -> Vec<i32> {
        let log = self.log();
        let Some(line) = log
            .lines()
            .rev()
            .find(|l| l.contains("partitions_assigned") || l.contains("partitions_revoked"))
        else {
            return Vec::new();
        };
        if line.contains("partitions_revoked") {
            return Vec::new();
        }
        let list = line
            .rsplit_once('[')
            .map(|(_, r)| r.split(']').next().unwrap_or(""))
            .unwrap_or("");
        list.split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }

    /// Whether the worker was ever assigned partitions.
    pub fn was_assigned(&self) -> bool {
        self.log().contains("partitions_assigned")
    }

    /// The metrics address the worker logged at start.
    pub fn metrics_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self
                .log()
                .lines()
                .find(|l| l.contains("metrics on http://"))
            {
                let url = line.split("metrics on ").nth(1).unwrap().trim();
                return url.trim_end_matches("/metrics").to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no metrics address in {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` over plain HTTP/1.1: (status code, body).
pub fn http_get(url: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}

/// What a distributed test starts from: a generated archive, a broker and a database of its own,
/// and the environment every msgmig process of the test shares (topic prefix `<name>.`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub archive: PathBuf,
    pub broker: Broker,
    pub db: super::MariaDb,
    pub cluster: Cluster,
    /// What `msgmig generate` printed: "wrote N depositions, F files, M messages, …".
    pub generated: String,
}

impl Fixture {
    pub fn new(name: &str, depositions: u32, seed: u64) -> Self {
        Self::with_broker(name, depositions, seed, Broker::start())
    }

    /// A fixture around a broker started by the test (e.g. with TLS and SASL listeners).
    pub fn with_broker(name: &str, depositions: u32, seed: u64, broker: Broker) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        let out = super::msgmig(
            dir.path(),
            &[
                "generate",
                "--output",
                archive.to_str().unwrap(),
                "--depositions",
                &depositions.to_string(),
                "--seed",
                &seed.to_string(),
            ],
        );
        assert!(out.status.success());
        let db = super::MariaDb::create(&format!("msgmig_{name}"));
        let cluster = Cluster {
            brokers: broker.brokers.clone(),
            prefix: format!("{name}."),
            database_url: db.url.clone(),
            cwd: dir.path().to_owned(),
            env: Vec::new(),
        };
        Fixture {
            generated: super::stdout(&out),
            dir,
            archive,
            broker,
            db,
            cluster,
        }
    }

    /// A count `msgmig generate` reported, e.g. `generated_count("file references")`.
    pub fn generated_count(&self, what: &str) -> String {
        self.generated
            .split(", ")
            .find(|part| part.ends_with(what))
            .and_then(|part| part.split_whitespace().next())
            .unwrap_or_else(|| panic!("{what} in {}", self.generated))
            .to_owned()
    }
}
