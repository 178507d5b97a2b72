//! `/metrics` (Prometheus text format), `/healthz` (the process is alive) and `/readyz` (the
//! dependencies answer: database, brokers, partitions assigned) on `--metrics-addr`
//! (docs/architecture.md).

use anyhow::{Context, Result};
use axum::{extract::State, http::StatusCode, routing::get, Router};
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::Arc;

/// Registers every metric of every crate (so each series exists from the start).
/// `msgmig_build_info{version, site_id} 1`: which build and which site a scrape comes from.
pub fn build_info(site_id: &str) {
    static INFO: std::sync::LazyLock<prometheus::IntGaugeVec> = std::sync::LazyLock::new(|| {
        prometheus::register_int_gauge_vec!(
            "msgmig_build_info",
            "Always 1: the msgmig build (version, git revision, build date), the linked librdkafka and the --site-id of this process.",
            &["version", "revision", "built", "librdkafka", "site_id"]
        )
        .expect("registered once")
    });
    INFO.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        env!("MSGMIG_GIT_REVISION"),
        env!("MSGMIG_BUILD_DATE"),
        &msgmig_bus::kafka::librdkafka_identity(),
        site_id,
    ])
    .set(1);
}

pub fn init_metrics() {
    msgmig_scanner::metrics::init();
    msgmig_transformer::metrics::init();
    msgmig_loader::metrics::init();
}

async fn metrics() -> (StatusCode, [(&'static str, &'static str); 1], String) {
    let mut body = String::new();
    let encoder = prometheus::TextEncoder::new();
    match encoder.encode_utf8(&prometheus::gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [("content-type", "text/plain; version=0.0.4")],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/plain")],
            e.to_string(),
        ),
    }
}

/// What `/readyz` checks: each configured dependency must answer.
#[derive(Clone, Default)]
pub struct Readiness {
    /// The database answers a ping.
    pub database: Option<DatabaseConnection>,
    /// The Kafka brokers answer a metadata request.
    pub kafka: Option<msgmig_bus::kafka::KafkaConfig>,
    /// This consumer has at least one partition assigned.
    pub assigned: Option<Arc<dyn Fn() -> usize + Send + Sync>>,
    /// A worker's own condition: `Some(problem)` while it is not ready (e.g. file events that
    /// could not be delivered wait to be published again).
    pub condition: Option<Arc<dyn Fn() -> Option<String> + Send + Sync>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("database", &self.database.is_some())
            .field("kafka", &self.kafka.as_ref().map(|k| k.brokers.clone()))
            .field("assigned", &self.assigned.is_some())
            .field("condition", &self.condition.is_some())
            .finish()
    }
}

impl Readiness {
    /// The problems that make the process not ready (empty = ready).
    async fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(problem) = self.condition.as_ref().and_then(|c| c()) {
            problems.push(problem);
        }
        if let Some(db) = &self.database {
            if let Err(e) = db.ping().await {
                problems.push(format!("database unreachable: {e}"));
            }
        }
        if let Some(kafka) = self.kafka.clone() {
            let answer = tokio::task::spawn_blocking(move || {
                msgmig_bus::kafka::ping(&kafka, std::time::Duration::from_secs(2))
            })
            .await;
            match answer {
                Ok(Ok(())) => {}
                Ok(Err(e)) => problems.push(e.to_string()),
                Err(e) => problems.push(format!("broker check failed: {e}")),
            }
        }
        if let Some(assigned) = &self.assigned {
            if assigned() == 0 {
                problems.push("no partition assigned (yet) in the consumer group".to_owned());
            }
        }
        problems
    }
}

async fn ready(State(readiness): State<Readiness>) -> (StatusCode, String) {
    let problems = readiness.problems().await;
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n") + "\n")
    }
}

/// Binds `addr` and serves in the background. Errors: the address is taken or invalid.
pub async fn spawn(addr: SocketAddr, readiness: Readiness) -> Result<tokio::task::JoinHandle<()>> {
    init_metrics();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(readiness);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on --metrics-addr {addr}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(event = "metrics_listening", address = %bound);
    eprintln!("msgmig: metrics on http://{bound}/metrics");
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(event = "metrics_server_failed", error = %e);
        }
    }))
}
