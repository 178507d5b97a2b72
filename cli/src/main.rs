//! `msgmig`: the one command of the migration. Thin: parses flags, sets up logging, runs a
//! subcommand from [`commands`], maps errors to exit codes (0 ok, 1 done but incomplete, 2 any
//! fatal error).

mod args;
mod cli;
mod commands;
mod config;
mod gauges;
mod generate;
mod serve;
mod telemetry;
mod worker_args;

use cli::{Cli, Command};

/// mimalloc (its v2 line) instead of glibc's malloc: msgmig allocates and frees many small
/// strings per record, and glibc's allocator took CPU the database server needs on the same
/// cores; mimalloc's v3 line gave freed pages back and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The `--site-id` of this run ("" when none was given).
static SITE_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The `--site-id` of this run, for log events ("" when none was given).
pub fn site_id() -> &'static str {
    SITE_ID.get().map_or("", String::as_str)
}

/// Exit code of a command whose standard output was closed under it (`msgmig verify | head`):
/// 128 + SIGPIPE, as a shell reports a Unix tool killed by the signal.
const EXIT_BROKEN_PIPE: i32 = 141;

/// Rust ignores SIGPIPE (a worker must outlive a peer that closed its socket), so a summary
/// printed into a closed pipe panics in `println!`. That panic becomes a quiet exit with
/// [`EXIT_BROKEN_PIPE`]: the work was done before the summary, and a reader that stopped
/// early does not want a backtrace. Every other panic goes to the default hook.
fn exit_quietly_on_broken_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        default(info);
    }));
}

#[tokio::main]
async fn main() {
    use clap::{CommandFactory, FromArgMatches};
    exit_quietly_on_broken_stdout();
    // Fault injection for tests (`FAILPOINTS`); compiled out of release builds.
    let _failpoints = msgmig_bus::failpoint::setup();
    // `--version`: the build and the linked librdkafka (known at run time only).
    let long_version: &'static str = Box::leak(
        format!(
            "{}\n{}",
            cli::VERSION,
            msgmig_bus::kafka::librdkafka_identity()
        )
        .into_boxed_str(),
    );
    let matches = Cli::command().long_version(long_version).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let _ = SITE_ID.set(cli.site_id.clone().unwrap_or_default());
    msgmig_scanner::set_fs_in_flight(cli.fs_in_flight);
    msgmig_transformer::set_unicode_escapes(cli.unicode_escapes);
    let one_shot = matches!(
        cli.command,
        Command::Migrate(_)
            | Command::Verify(_)
            | Command::Export(_)
            | Command::Db(_)
            | Command::Generate(_)
    );
    let log_guard = match telemetry::init(
        &cli.log_level,
        cli.json_log.as_deref(),
        cli.log_format,
        one_shot,
    ) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let command = match &cli.command {
        Command::Migrate(_) => "migrate",
        Command::Run(_) => "run",
        Command::Verify(_) => "verify",
        Command::Db(_) => "db",
        Command::Export(_) => "export",
        Command::Generate(_) => "generate",
        Command::Scan(_) => "scan",
        Command::Transform(_) => "transform",
        Command::Load(_) => "load",
        Command::Replay(_) => "replay",
        Command::Status(_) => "status",
        Command::Probe(_) => "probe",
    };
    // The old migrator's name for a failed migration; `<command>_failed` else.
    let failed_event = if command == "migrate" {
        "migration_exception".to_owned()
    } else {
        format!("{command}_failed")
    };
    let text_console = cli.log_format == telemetry::LogFormat::Text;
    serve::build_info(site_id());
    tracing::info!(
        event = "command_start",
        command,
        site_id = site_id(),
        version = cli::VERSION
    );
    let result = match cli.command {
        Command::Migrate(args) => commands::migrate::run(args).await,
        Command::Run(args) => commands::run::run(args).await,
        Command::Verify(args) => commands::verify::run(args).await,
        Command::Db(cmd) => commands::db::run(cmd).await,
        Command::Export(args) => commands::export::run(args).await,
        Command::Generate(args) => commands::generate::run(args),
        Command::Scan(args) => commands::scan::run(args).await,
        Command::Transform(args) => commands::transform::run(args).await,
        Command::Load(args) => commands::load::run(args).await,
        Command::Replay(args) => commands::replay::run(args).await,
        Command::Status(args) => commands::status::run(args).await,
        Command::Probe(args) => commands::probe::run(args),
    };
    let code = match result {
        Ok(code) => code,
        // Every fatal error exits 2; 1 is kept for "done, with quarantines, conflicts or
        // differences". Printed once: a plain line for people, the event for
        // the JSON outputs.
        Err(e) => {
            tracing::error!(target: telemetry::EXIT_TARGET, event = failed_event.as_str(), error = %format!("{e:#}"));
            if text_console {
                eprintln!("error: {e:#}");
            }
            2
        }
    };
    drop(log_guard); // flushes the --json-log file: exit() runs no destructors
    std::process::exit(code);
}
