//! ops/ is backed by what the code exports: promtool accepts the config and the rules;
//! a real Prometheus scraping real workers answers every dashboard query with data and every
//! alert expression without error; /readyz follows the broker; "discovered" outlives the scan.
//! docker-compose.yml is checked in `compose_stack.rs`.

mod common;

use common::kafka::{free_port, http_get, Fixture, Worker};
use common::ops_dir as ops;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[test]
fn promtool_accepts_the_scrape_config_and_the_alert_rules() {
    for args in [
        vec!["check", "config", "prometheus/prometheus.yml"],
        vec!["check", "config", "prometheus/prometheus-embedded.yml"],
        vec!["check", "rules", "prometheus/alerts.yml"],
    ] {
        let out = Command::new("promtool")
            .current_dir(ops())
            .args(&args)
            .output()
            .expect("promtool is required (Debian package `prometheus`; scripts/test installs it)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(dir: &Path, targets: &[(&str, u16)]) -> Self {
        std::fs::copy(ops().join("prometheus/alerts.yml"), dir.join("alerts.yml")).unwrap();
        let mut config = String::from("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - alerts.yml\nscrape_configs:\n");
        for (job, port) in targets {
            config.push_str(&format!("  - job_name: {job}\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"));
        }
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .current_dir(dir)
            .args([
                "--config.file=prometheus.yml",
                &format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdout(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .stderr(std::fs::File::create(dir.join("prometheus.err")).unwrap())
            .spawn()
            .expect(
                "prometheus is required (Debian package `prometheus`; scripts/test installs it)",
            );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(&format!("{url}/-/ready")).is_none_or(|(code, _)| code != 200) {
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready: {}",
                std::fs::read_to_string(dir.join("prometheus.err")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Prometheus { child, url }
    }

    fn query(&self, q: &str) -> serde_json::Value {
        let (code, body) = http_get(&format!("{}/api/v1/query?query={}", self.url, encode(q)))
            .expect("prometheus answers");
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{code}: {body}"));
        assert_eq!(v["status"], "success", "{q}: {body}");
        v["data"]["result"].clone()
    }
}

/// Every dashboard query returns data and every alert expression evaluates, on metrics msgmig
/// exports, in the mode `prometheus` scrapes.
fn check_dashboard_and_alerts(prometheus: &Prometheus) {
    let (_, names) = http_get(&format!("{}/api/v1/label/__name__/values", prometheus.url)).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ops().join("grafana/dashboards/msgmig.json")).unwrap(),
    )
    .unwrap();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in metric_names(expr) {
                assert!(
                    names.contains(&format!("\"{name}\"")),
                    "panel {:?}: {name} is not exported",
                    panel["title"]
                );
            }
            let result = prometheus.query(expr);
            assert!(
                result.as_array().is_some_and(|r| !r.is_empty()),
                "panel {:?}: {expr} returned no data",
                panel["title"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} dashboard queries");
    let rules = std::fs::read_to_string(ops().join("prometheus/alerts.yml")).unwrap();
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .collect();
    assert_eq!(
        exprs.len(),
        rules.matches("- alert:").count(),
        "one single-line expr per alert"
    );
    for expr in exprs {
        for name in metric_names(expr) {
            assert!(
                names.contains(&format!("\"{name}\"")),
                "alert {expr}: {name} is not exported"
            );
        }
        prometheus.query(expr); // parses and evaluates (a series or an empty vector)
    }
}

/// Embedded mode (`msgmig run`, SQLite): the same dashboard and alerts have data, and the
/// database-wide figures are the database's (one value, not a sum over processes).
#[test]
fn the_dashboard_and_alerts_work_in_embedded_mode_with_true_values() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let gen = Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .args([
            "generate",
            "--depositions",
            "30",
            "--seed",
            "4",
            "--output",
            archive.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(gen.status.success());
    let port = free_port();
    // Killed when the test ends, passed or failed.
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let run = Command::new(env!("CARGO_BIN_EXE_msgmig"))
        .current_dir(dir.path())
        .args([
            "run",
            "--directory",
            archive.to_str().unwrap(),
            "--create-tables",
            "--poll-interval",
            "1",
            "--metrics-addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env_remove("MSGMIG_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let _run = KillOnDrop(run);
    let prometheus = Prometheus::start(dir.path(), &[("msgmig-run", port)]);
    let value = |q: &str| -> Option<String> {
        let r = prometheus.query(q);
        r.as_array()?
            .first()
            .map(|s| s["value"][1].as_str().unwrap_or("").to_owned())
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    while value("max(msgmig_progress_depositions{state=\"loaded\"})").as_deref() != Some("30")
        || value(
            "sum(msgmig_loader_messages_total) > 0 and sum(rate(msgmig_loader_messages_total[5m]))",
        )
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "prometheus never saw 30 loaded depositions"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        value("100 * max(msgmig_progress_depositions{state=\"loaded\"}) / clamp_min(max(msgmig_scanner_depositions_discovered), 1)").as_deref(),
        Some("100"),
        "percent complete"
    );
    assert!(
        value("sum(msgmig_consumer_lag_messages{stage=\"loader\"})").is_some(),
        "the embedded pipeline exports its backlog"
    );
    check_dashboard_and_alerts(&prometheus);
}

/// Every `msgmig_…` metric name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("msgmig_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_dashboard_query_returns_data_and_every_alert_evaluates_on_a_live_prometheus() {
    let Fixture {
        dir,
        archive,
        broker,
        db: _db,
        cluster,
        ..
    } = Fixture::new("ops_live", 30, 9);
    // Topics first (status creates them), so the three workers do not race to create them.
    cluster.status();
    let (ps, pt, pl) = (free_port(), free_port(), free_port());
    let a = archive.to_str().unwrap();
    let spawn = |name: &str, args: &[&str], port: u16| -> Worker {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend(["--metrics-addr".into(), format!("127.0.0.1:{port}")]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.spawn_exact(name, &refs)
    };
    let _scanner = spawn(
        "scanner",
        &[
            "scan",
            "--directory",
            a,
            "--poll-only",
            "--poll-interval",
            "1",
        ],
        ps,
    );
    let _transformer = spawn(
        "transformer",
        &["transform", "--directory", a, "--debounce-ms", "50"],
        pt,
    );
    let loader = spawn("loader", &["load"], pl);
    let prometheus = Prometheus::start(
        dir.path(),
        &[
            ("msgmig-scanner", ps),
            ("msgmig-transformer", pt),
            ("msgmig-loader", pl),
        ],
    );
    cluster.wait_caught_up(1, Duration::from_secs(120));
    // Enough scrapes for rate() windows and the gauges refreshed after the load (10 s period).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let loaded = prometheus.query("sum(msgmig_progress_depositions{state=\"loaded\"})");
        let ok = loaded
            .as_array()
            .is_some_and(|r| r.first().is_some_and(|s| s["value"][1] == "30"));
        if ok {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never saw 30 loaded depositions: {loaded}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    // rate() needs two samples of each counter in its window: wait until it has them.
    while prometheus
        .query("sum(rate(msgmig_loader_messages_total[5m])) and sum(rate(msgmig_transformer_records_produced_total[5m])) and sum(rate(msgmig_scanner_files_published_total[5m]))")
        .as_array()
        .is_none_or(|r| r.is_empty())
    {
        assert!(Instant::now() < deadline, "rates never computable");
        std::thread::sleep(Duration::from_millis(500));
    }

    check_dashboard_and_alerts(&prometheus);

    // /healthz stays up; /readyz follows the broker.
    let base = format!("http://127.0.0.1:{pl}");
    assert_eq!(http_get(&format!("{base}/readyz")).unwrap().0, 200);
    drop(prometheus);
    let stopped = broker.stop_for_test();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = http_get(&format!("{base}/readyz")).unwrap();
        if code == 503 {
            assert!(body.contains("brokers"), "{body}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {code} without a broker"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        http_get(&format!("{base}/healthz")).unwrap().0,
        200,
        "alive while not ready"
    );
    // `msgmig probe`, the compose health check, says the same.
    let probe = |extra: &[&str]| {
        let addr = format!("127.0.0.1:{pl}");
        let mut args = vec!["probe", "--addr", addr.as_str()];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_msgmig"))
            .args(&args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(probe(&[]), Some(0), "alive");
    assert_eq!(probe(&["--ready"]), Some(1), "not ready without brokers");
    stopped.start_again();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get(&format!("{base}/readyz")).unwrap().0 != 200 {
        assert!(
            Instant::now() < deadline,
            "/readyz did not come back:\n{}",
            loader.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// "Discovered" outlives the process that counted it: `scan --once` records its
/// pass in the database and exits; a loader started afterwards, which never walks the archive,
/// exports the count, and `msgmig status` prints it. A `migrate` of named depositions does not
/// overwrite it with its own smaller selection.
#[test]
fn discovered_is_known_to_every_process_after_scan_once_has_exited() {
    let Fixture {
        dir: _dir,
        archive,
        db,
        cluster,
        broker: _broker,
        ..
    } = Fixture::new("discovered", 12, 4);
    let init = cluster.run(&["db", "init"]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    cluster.scan_once(&archive);
    assert_eq!(
        db.query("SELECT CONCAT(depositions, ' ', recorded_by) FROM msgmig_scan_passes"),
        "12 scan --once"
    );
    let partial = cluster.run(&[
        "migrate",
        "--directory",
        archive.to_str().unwrap(),
        "--depositions",
        "D_1000000001",
    ]);
    assert!(
        partial.status.success(),
        "{}",
        String::from_utf8_lossy(&partial.stderr)
    );
    let status = cluster.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("discovered: 12 depositions in "), "{text}");
    assert!(text.contains("by `scan --once`"), "{text}");

    let loader = cluster.spawn("loader", &["load"], &[]);
    let metrics = format!("{}/metrics", loader.metrics_url());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = http_get(&metrics).map(|(_, b)| b).unwrap_or_default();
        if body
            .lines()
            .any(|l| l == "msgmig_scanner_depositions_discovered 12")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the loader never exported discovered = 12:\n{}",
            body.lines()
                .filter(|l| l.contains("discovered"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
