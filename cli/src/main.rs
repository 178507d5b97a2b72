//! `msgmig`: the one command of the migration. Thin: parses flags, sets up logging, runs a
//! subcommand from [`commands`], maps errors to exit codes (0 ok, 1 incomplete, 2 usage/config).

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
        Err(e) => {
            tracing::error!(event = "migration_exception", error = %format!("{e:#}"));
            eprintln!("error: {e:#}");
            if e.is::<commands::UsageError>() {
                2
            } else {
                1
            }
        }
    };
    drop(log_guard); // flushes the --json-log file: exit() runs no destructors
    std::process::exit(code);
}
