//! `/metrics` (Prometheus text format), `/healthz` (the process is alive) and `/readyz` (the
//! database answers) on `--metrics-addr` (issue 5; architecture.md §6).

use anyhow::{Context, Result};
use axum::{extract::State, http::StatusCode, routing::get, Router};
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;

/// Registers every metric of every crate (so each series exists from the start).
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

async fn ready(State(db): State<DatabaseConnection>) -> (StatusCode, &'static str) {
    match db.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n"),
    }
}

/// Binds `addr` and serves in the background. Errors: the address is taken or invalid.
pub async fn spawn(
    addr: SocketAddr,
    db: DatabaseConnection,
) -> Result<tokio::task::JoinHandle<()>> {
    init_metrics();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(db);
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
