//! `msgmig`: the one command of the migration. Thin: parses flags, sets up logging, runs a
//! subcommand from [`commands`], maps errors to exit codes (0 ok, 1 done but incomplete, 2 any
//! fatal error).

mod cli;
mod commands;
mod config;
mod gauges;
mod generate;
mod serve;
mod telemetry;
mod worker_args;

use clap::Parser;
use cli::{Cli, Command};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let log_guard = match telemetry::init(&cli.log_level, cli.json_log.as_deref(), cli.log_format) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    };
    let failed_event = match &cli.command {
        Command::Migrate(_) => "migration_exception", // the old migrator's name (domain.md §6.7)
        Command::Run(_) => "run_failed",
        Command::Verify(_) => "verify_failed",
        Command::Db(_) => "db_failed",
        Command::Export(_) => "export_failed",
        Command::Generate(_) => "generate_failed",
        Command::Scan(_) => "scan_failed",
        Command::Transform(_) => "transform_failed",
        Command::Load(_) => "load_failed",
        Command::Replay(_) => "replay_failed",
        Command::Status(_) => "status_failed",
        Command::Probe(_) => "probe_failed",
    };
    let text_console = cli.log_format == telemetry::LogFormat::Text;
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
        // differences" (issue 10 §11). Printed once: a plain line for people, the event for
        // the JSON outputs.
        Err(e) => {
            tracing::error!(target: telemetry::EXIT_TARGET, event = failed_event, error = %format!("{e:#}"));
            if text_console {
                eprintln!("error: {e:#}");
            }
            2
        }
    };
    drop(log_guard); // flushes the --json-log file: exit() runs no destructors
    std::process::exit(code);
}
