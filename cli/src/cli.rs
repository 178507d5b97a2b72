//! Command-line definitions (flags follow the old scripts where they exist).

pub use crate::args::{DatabaseArgs, SelectionArgs, WatchArgs};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// msgmig moves wwPDB OneDep message files (mmCIF) into the messaging database (MySQL, or an
/// embedded SQLite file by default) and proves that nothing was lost.
///
/// Exit codes: 0 = done, everything loaded/equal; 1 = done, but something was quarantined,
/// conflicted or differs (listed in the summary); 2 = usage, configuration or connection error.
/// `0.1.0 (rev 1a2b3c4d5e6f, built 2026-12-01T08:00:00Z)`: the crate version, the git revision
/// (`-dirty` with uncommitted changes) and the build date (cli/build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (rev ",
    env!("MSGMIG_GIT_REVISION"),
    ", built ",
    env!("MSGMIG_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "msgmig", version = VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log level for the console and the JSON log: trace, debug, info, warn, error.
    #[arg(long, global = true, default_value = "info", env = "MSGMIG_LOG_LEVEL")]
    pub log_level: String,

    /// Also write JSON lines (one event per line, event names of the old tools) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub json_log: Option<PathBuf>,

    /// Format of the log on stderr: `text` for people, `json` (one JSON object per line) for
    /// log shippers.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "MSGMIG_LOG_FORMAT"
    )]
    pub log_format: crate::telemetry::LogFormat,

    /// The wwPDB site running this (RCSB, PDBe, PDBj, …), as the old scripts take it on every
    /// command: recorded in every log line's start event and in the `msgmig_build_info` metric.
    #[arg(long, global = true, env = "WWPDB_SITE_ID", value_name = "SITE")]
    pub site_id: Option<String>,

    /// Archive listings and stats in flight at once while walking or polling the archive
    /// (`migrate`, `scan`, `run`): each is a thread waiting on the storage. On NFS, where every
    /// call is a round trip, more may pay; on a local disk with a warm cache it hardly matters.
    #[arg(
        long,
        global = true,
        env = "MSGMIG_FS_IN_FLIGHT",
        value_name = "N",
        default_value_t = msgmig_scanner::DEFAULT_FS_IN_FLIGHT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new()
            .range(1..=msgmig_scanner::MAX_FS_IN_FLIGHT as u64)
    )]
    pub fs_in_flight: usize,

    /// What becomes of `\uXXXX` escapes in message subjects and texts when files are read
    /// (`migrate`, `run`, `transform`, `verify`): `auto` decodes them in files the OneDep
    /// application's database dump wrote (recognised by having no `#` comment line, as gemmi
    /// writes them), as the application's own migrator does; `decode` in every file; `keep`
    /// leaves them as text. Non-ASCII characters in a file are always stored as the
    /// application's reader gives them, `&#NNN;`.
    #[arg(
        long,
        global = true,
        env = "MSGMIG_UNICODE_ESCAPES",
        value_name = "auto|decode|keep",
        default_value = "auto",
        value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<msgmig_transformer::UnicodeEscapes>())
    )]
    pub unicode_escapes: msgmig_transformer::UnicodeEscapes,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One-shot backfill: scan → transform → load in one process, then print a summary.
    Migrate(MigrateArgs),
    /// Continuous migration in one process (Phase C): watch the archive, transform and load every
    /// change until SIGINT/SIGTERM. Embedded SQLite by default.
    Run(RunArgs),
    /// Compare the files with the database, per deposition and table; exit 0 only on parity of
    /// every deposition (a quarantined deposition is not at parity: exit 1, listed).
    Verify(VerifyArgs),
    /// Database schema: create, verify, drop and recreate, show status.
    #[command(subcommand)]
    Db(DbCommand),
    /// Write the database back to CIF message files the legacy application reads (lossless,
    /// always re-parseable; never into a live archive unless --into-archive is given).
    Export(ExportArgs),
    /// Write a deterministic synthetic archive (for benches and scale tests).
    Generate(GenerateArgs),
    /// Kafka worker: walk (and watch) the archive, publish file events to `<prefix>file-events`.
    /// Given a database (optional), it also records each full pass's deposition count there,
    /// so "discovered" outlives a `scan --once` (dashboard, `msgmig status`).
    Scan(crate::worker_args::ScanArgs),
    /// Kafka worker: consume file events, read each changed deposition's latest files, publish
    /// its message records to `<prefix>records`. Scale out: more processes, same --group-id.
    Transform(crate::worker_args::TransformArgs),
    /// Kafka worker: consume records and upsert them into the database, storing the consumed
    /// offsets in the same transaction (exactly-once effect). Scale out: same --group-id.
    Load(crate::worker_args::LoadArgs),
    /// Rewind the loaders' stored offsets of the records topic so they re-apply records: after
    /// restoring a database backup, or to repair. Running loaders notice within seconds.
    Replay(crate::worker_args::ReplayArgs),
    /// Progress of the distributed pipeline: lag per stage and partition, depositions and
    /// messages loaded, quarantined, dead-lettered.
    Status(crate::worker_args::StatusArgs),
    /// Health check of a running worker (for containers): GET /healthz (or /readyz with
    /// --ready) on its metrics address; exit 0 on HTTP 200, 1 otherwise.
    Probe(ProbeArgs),
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The worker's `--metrics-addr`, e.g. `127.0.0.1:9467`.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: String,
    /// Ask /readyz (database, brokers and partition assignment in place) instead of /healthz.
    #[arg(long)]
    pub ready: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["deposition", "depositions", "all"])))]
#[command(group(clap::ArgGroup::new("target").required(true).args(["output_dir", "into_archive"])))]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Export this deposition (`D_…` or `G_…`, as stored in deposition_data_set_id).
    #[arg(long, value_name = "ID")]
    pub deposition: Option<String>,
    /// Export these depositions.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub depositions: Vec<String>,
    /// Export every deposition in the database.
    #[arg(long)]
    pub all: bool,
    /// Write `DIR/<ID>/<ID>_<content-type>_P1.cif.V<n>` (n = next after what DIR already holds).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Write new versions into this live archive (explicit on purpose: never by accident).
    #[arg(long, value_name = "ARCHIVE")]
    pub into_archive: Option<PathBuf>,
    /// Replace the latest existing version instead of writing the next one.
    #[arg(long)]
    pub overwrite: bool,
    /// Write non-ASCII as raw UTF-8 instead of `&#NNN;` references (the legacy files' form).
    #[arg(long)]
    pub utf8: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Create missing tables first (versioned migrations). Never done in a dry run.
    #[arg(long)]
    pub create_tables: bool,
    /// Read the files and the database, write nothing, print per deposition what would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete file references the files no longer have (default: report them only).
    #[arg(long)]
    pub reconcile: bool,
    /// Read and compare every deposition. By default a re-run skips depositions whose latest
    /// files (names, versions, sizes, mtimes and ctimes to the nanosecond: an edit whose mtime
    /// was put back, or a restore from a backup, moves the ctime) are exactly those of their
    /// last clean load, as the file ledger recorded it in the same transaction as the rows; new,
    /// changed, quarantined and conflicting depositions are always read.
    #[arg(long)]
    pub full: bool,
    /// Messages per database transaction when loading deposition by deposition (a transaction
    /// also closes at 32 MiB of message text). Each batch writes every index in one sorted run:
    /// once the tables outgrow the buffer pool, fewer, larger batches read and write fewer index
    /// pages.
    #[arg(long, default_value_t = msgmig_loader::BACKFILL_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub throttle: crate::args::ThrottleArgs,
    /// Depositions parsed at once (default: number of CPUs).
    #[arg(long)]
    pub parallelism: Option<usize>,
    /// Loader partitions (parallel transactions; depositions are split by a stable hash, so a
    /// deposition's rows stay in order). MySQL only: SQLite always uses one.
    #[arg(long, default_value_t = msgmig_loader::DEFAULT_LOADERS)]
    pub loaders: usize,
    /// Serve /metrics, /healthz and /readyz here while the migration runs (off by default).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Load table by table, and fail if a table already holds rows. By default a run into
    /// empty tables (a first backfill) does so by itself: it reads every deposition into spill
    /// files first, then writes each table in one pass (on MariaDB one `LOAD DATA LOCAL INFILE`
    /// per table; INSERTs where the server refuses it), then loads the depositions that
    /// share a message id or were quarantined deposition by deposition. The result is the
    /// same as deposition by deposition; the application must not read the tables until the
    /// run ends. A run stopped half way is undone by the next one, which starts over.
    #[arg(long, conflicts_with = "no_bulk")]
    pub bulk: bool,
    /// Load deposition by deposition even into empty tables.
    #[arg(long)]
    pub no_bulk: bool,
    /// Folder for the bulk load's spill files (default: the system's temporary folder). They
    /// take about twice the size of the messages' text, as JSON (1.3 GB for 10^5 generated
    /// depositions).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Archive root: the folder holding the `D_…`/`G_…` deposition folders.
    #[arg(long, value_name = "DIR", env = "MSGMIG_ARCHIVE_DIR")]
    pub directory: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Create missing tables first.
    #[arg(long)]
    pub create_tables: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Loader partitions (MySQL only). `run` also keeps the file ledger of its watcher in
    /// memory: a third loader's batch and queue take its initial pass over 10^5 depositions
    /// past 300 MB.
    #[arg(long, default_value_t = 2)]
    pub loaders: usize,
    /// Messages per database transaction (a transaction also closes at 32 MiB of message
    /// text). Bigger batches write each index in longer sorted runs, which matters once the
    /// tables outgrow the buffer pool.
    #[arg(long, default_value_t = msgmig_loader::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    #[command(flatten)]
    pub throttle: crate::args::ThrottleArgs,
    /// Serve /metrics, /healthz and /readyz here (port 0 picks a free port, logged at start).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics_addr: std::net::SocketAddr,
    /// Seconds to finish in-flight work after SIGTERM/SIGINT (also during a database outage)
    /// before exiting anyway; a second Ctrl-C exits at once. Unfinished work is redone on the
    /// next start: the file ledger only records what committed.
    #[arg(long, default_value_t = 30)]
    pub grace_secs: u64,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Write the full JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json_report: Option<PathBuf>,
    /// Also export the database to a temporary folder, re-read it with our reader and compare
    /// every value with the database.
    #[arg(long)]
    pub roundtrip: bool,
    /// Cut-over gate: exit 0 only if every deposition is loaded with parity, nothing is
    /// quarantined, and no file is newer than its last load. Prints a checklist.
    #[arg(long)]
    pub gate: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Create every table (idempotent); see the flags for checks and resets.
    Init(DbInitArgs),
    /// Show applied/pending migrations and table presence.
    Status(DbStatusArgs),
}

#[derive(Debug, Args)]
pub struct DbInitArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Only check that every table exists; exit 1 when one is missing.
    #[arg(long, conflicts_with = "drop_and_recreate")]
    pub verify_only: bool,
    /// Drop every msgmig and messaging table first (destroys data!), then create them. Asks for
    /// the database name on a terminal; elsewhere it takes --yes.
    #[arg(long)]
    pub drop_and_recreate: bool,
    /// Confirms --drop-and-recreate without asking.
    #[arg(long, requires = "drop_and_recreate")]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct DbStatusArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output archive root (created; must be empty or absent).
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Number of deposition folders.
    #[arg(long, default_value_t = 100)]
    pub depositions: u32,
    /// Random seed: the same seed gives byte-identical archives.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}
