//! Logging: a human console on stderr, and optionally JSON lines to a file (`--json-log`) with
//! the event names of the old tools (domain.md §6.7) in the `event` field.

use anyhow::{Context, Result};
use std::path::Path;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

pub fn init(level: &str, json_log: Option<&Path>) -> Result<()> {
    let filter = || {
        EnvFilter::try_new(format!("warn,msgmig={level},msgmig_scanner={level},msgmig_transformer={level},msgmig_loader={level}"))
    };
    let console = fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter()?);
    let json = match json_log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open JSON log {}", path.display()))?;
            Some(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_target(false)
                    .with_writer(std::sync::Mutex::new(file))
                    .with_filter(filter()?),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(console)
        .with(json)
        .init();
    Ok(())
}
