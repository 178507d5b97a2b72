//! docker-compose.yml as a site would run it, checked without a Docker
//! engine: every worker's command line is one the binary accepts, its metrics port is the one
//! the scrape config of its mode names, health checks are `msgmig probe`, secrets are files,
//! grace periods outlast `--grace-secs`, and no host port clashes with a site's database.

mod common;

use common::ops_dir as ops;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `docker-compose.yml` as JSON (PyYAML reads it; no Docker engine on this machine).
fn compose() -> serde_json::Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_compose_stack_matches_the_scrape_config_and_the_command_line() {
    let c = compose();
    let services = c["services"].as_object().unwrap();
    for s in [
        "mysql",
        "kafka",
        "prometheus",
        "grafana",
        "scanner",
        "transformer",
        "loader",
    ] {
        assert!(services.contains_key(s), "service {s}");
    }
    // Each mode's scrape config: the default stack's three workers, and `run` (profile
    // `embedded`) in the config the compose file switches to with PROMETHEUS_CONFIG.
    let scrape = |file: &str| std::fs::read_to_string(ops().join("prometheus").join(file)).unwrap();
    let prometheus_command = services["prometheus"]["command"].to_string();
    assert!(
        prometheus_command.contains("${PROMETHEUS_CONFIG:-prometheus.yml}"),
        "{prometheus_command}"
    );
    assert_eq!(services["run"]["profiles"], serde_json::json!(["embedded"]));
    for (service, port, config) in [
        ("scanner", "9465", "prometheus.yml"),
        ("transformer", "9466", "prometheus.yml"),
        ("loader", "9467", "prometheus.yml"),
        ("run", "9464", "prometheus-embedded.yml"),
    ] {
        let scrape = scrape(config);
        let svc = &services[service];
        let command: Vec<&str> = svc["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            command.join(" ").contains(&format!(":{port}")),
            "{service} serves metrics on {port}"
        );
        assert!(
            scrape.contains(&format!("{service}:{port}")),
            "{config} scrapes {service}:{port}"
        );
        let volumes = svc["volumes"].as_array().unwrap();
        assert!(
            volumes.iter().all(|v| v.as_str().unwrap().ends_with(":ro")),
            "{service}: the archive is read-only"
        );
        // The flags are the command's own: clap rejects an unknown flag before it sees --help.
        let mut args = command.clone();
        args.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_msgmig"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{service}: msgmig {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let grafana = services["grafana"]["volumes"].to_string();
    assert!(
        grafana.contains("ops/grafana/provisioning") && grafana.contains("ops/grafana/dashboards")
    );
}

/// Seconds of a compose duration such as `45s` or `1m30s`.
fn compose_seconds(d: &str) -> u64 {
    let (mut total, mut n) = (0, 0);
    for c in d.chars() {
        match c {
            '0'..='9' => n = n * 10 + u64::from(c as u8 - b'0'),
            'm' => (total, n) = (total + n * 60, 0),
            's' => (total, n) = (total + n, 0),
            _ => panic!("duration {d}"),
        }
    }
    total
}

#[test]
fn the_compose_stack_is_run_as_a_site_would_run_it() {
    let c = compose();
    let services = c["services"].as_object().unwrap();
    for (service, port) in [
        ("scanner", "9465"),
        ("transformer", "9466"),
        ("loader", "9467"),
        ("run", "9464"),
    ] {
        let svc = &services[service];
        // SIGTERM drains the batch in flight within --grace-secs (default 30) before a SIGKILL.
        let grace = compose_seconds(svc["stop_grace_period"].as_str().unwrap_or("10s"));
        assert!(
            grace > 30,
            "{service}: stop_grace_period {grace}s ≤ --grace-secs"
        );
        // The health check is a probe the binary offers, on the worker's metrics port.
        let test: Vec<&str> = svc["healthcheck"]["test"]
            .as_array()
            .unwrap_or_else(|| panic!("{service} has a health check"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(test[..3], ["CMD", "msgmig", "probe"], "{service}");
        assert!(test.join(" ").contains(&format!("127.0.0.1:{port}")));
        let mut args = test[2..].to_vec();
        args.push("--help");
        let out = Command::new(env!("CARGO_BIN_EXE_msgmig"))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{service}: msgmig {args:?}");
        // Secrets come from files: no password in the environment.
        let env = svc["environment"].as_object().unwrap();
        assert!(!env.contains_key("MSGMIG_DATABASE_URL"), "{service}");
        assert!(env.contains_key("MSGMIG_DATABASE_URL_FILE"), "{service}");
    }
    // No host port that clashes with a site's own database or broker.
    for (name, svc) in services {
        let ports = svc["ports"].to_string();
        for taken in ["3306", "9092"] {
            assert!(!ports.contains(taken), "{name} publishes {taken}: {ports}");
        }
    }
    // Kafka keeps its log (the records changelog) on its volume.
    let kafka = &services["kafka"];
    let log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"].as_str().unwrap();
    assert!(
        kafka["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_str().unwrap().ends_with(&format!(":{log_dirs}"))),
        "KAFKA_LOG_DIRS {log_dirs} is the mounted volume"
    );
    let mysql_env = services["mysql"]["environment"].as_object().unwrap();
    assert!(
        mysql_env.keys().all(|k| !k.ends_with("PASSWORD")),
        "{mysql_env:?}"
    );
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    for needed in [
        "WORKDIR /var/lib/msgmig",
        "strip target/release/msgmig",
        "libssl-dev",
        "libssl3",
    ] {
        assert!(dockerfile.contains(needed), "Dockerfile lacks {needed}");
    }
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target/"));
}
