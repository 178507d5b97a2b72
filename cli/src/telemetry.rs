//! Logging: on stderr, human-readable (`--log-format text`, the default) or JSON lines
//! (`--log-format json`, for log shippers); optionally also JSON lines to a file (`--json-log`).
//! Structured fields throughout, with the event names of the old tools in the
//! `event` field. Database URLs are logged redacted (`config::redact`), librdkafka secrets masked.

use anyhow::{Context, Result};
use std::io::IsTerminal;
use tracing_subscriber::filter::FilterExt;

/// The target of a command's final error event (see [`init`]).
pub const EXIT_TARGET: &str = "msgmig::exit";
use std::path::Path;
use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter, Layer};

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Keeps the `--json-log` writer thread alive; dropping it flushes every buffered line (drop it
/// before `std::process::exit`, which runs no destructors).
pub type LogGuard = Option<tracing_appender::non_blocking::WorkerGuard>;

/// Installs the subscriber. The `--json-log` file is the audit trail: it records every event at
/// info and above whatever `--log-level` says (debug and trace when asked for), written by a
/// background thread (no file I/O on the async workers), never dropping a line (a full buffer
/// waits).
///
/// `one_shot` (a command with a progress bar and a summary): the text console leaves out the
/// per-deposition and per-file events ([`msgmig_schemas::AUDIT_TARGET`]) unless the level is
/// debug or trace; the JSON outputs always keep them.
pub fn init(
    level: &str,
    json_log: Option<&Path>,
    format: LogFormat,
    one_shot: bool,
) -> Result<LogGuard> {
    let filter_at = |level: &str| {
        EnvFilter::try_new(format!("warn,msgmig={level},msgmig_scanner={level},msgmig_transformer={level},msgmig_loader={level}"))
    };
    let filter = || filter_at(level);
    let audit_level = if matches!(level, "debug" | "trace") {
        level
    } else {
        "info"
    };
    // The final error of a command goes to people as one plain `error:` line (main.rs); the
    // text console skips its event (target EXIT_TARGET), which the JSON outputs keep.
    let quiet_audit = one_shot && !matches!(level, "debug" | "trace");
    let not_exit = tracing_subscriber::filter::filter_fn(move |m| {
        m.target() != EXIT_TARGET && !(quiet_audit && m.target() == msgmig_schemas::AUDIT_TARGET)
    });
    let console = match format {
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(filter()?.and(not_exit))
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
    let mut guard = None;
    let json = match json_log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open JSON log {}", path.display()))?;
            let (writer, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(file);
            guard = Some(g);
            Some(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_target(false)
                    .with_writer(writer)
                    .with_filter(filter_at(audit_level)?),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(console)
        .with(json)
        .init();
    Ok(guard)
}
