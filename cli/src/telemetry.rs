//! Logging: on stderr, human-readable (`--log-format text`, the default) or JSON lines
//! (`--log-format json`, for log shippers); optionally also JSON lines to a file (`--json-log`).
//! Structured fields throughout, with the event names of the old tools (domain.md §6.7) in the
//! `event` field. Database URLs are logged redacted (`config::redact`), librdkafka secrets masked.

use anyhow::{Context, Result};
use std::path::Path;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(level: &str, json_log: Option<&Path>, format: LogFormat) -> Result<()> {
    let filter = || {
        EnvFilter::try_new(format!("warn,msgmig={level},msgmig_scanner={level},msgmig_transformer={level},msgmig_loader={level}"))
    };
    let console = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(filter()?)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_writer(std::io::stderr)
            .with_filter(filter()?)
            .boxed(),
    };
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
