//! The argument groups several subcommands share: where the database is, which depositions,
//! how hard to press the database, how to watch the archive.

use clap::Args;
use std::path::PathBuf;

/// Where the database is. Precedence: `--database-url`, `MSGMIG_DATABASE_URL`, the legacy
/// `SITE_MESSAGE_DB_*` variables of the old scripts, then the embedded SQLite file `msgmig.db`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `mysql://user:password@host:3306/db` or `sqlite://path/to/file.db`.
    #[arg(long, env = "MSGMIG_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A file holding the database URL (its first line): keeps the password off the command
    /// line and out of the environment (e.g. a Docker secret). `--database-url` wins.
    #[arg(long, env = "MSGMIG_DATABASE_URL_FILE", value_name = "FILE")]
    pub database_url_file: Option<std::path::PathBuf>,
    /// Seconds to wait for an unreachable database before giving up with exit 2 (connecting,
    /// and during a one-shot run: an outage or a server that stops answering). Workers (`load`,
    /// `run`) wait through outages for as long as they last.
    #[arg(
        long,
        env = "MSGMIG_DB_TIMEOUT",
        value_name = "SECS",
        default_value_t = 60
    )]
    pub db_timeout: u64,
}

/// `$SITE_ARCHIVE_STORAGE_PATH/archive` (where the old scripts found the archive), or empty when the variable is unset.
fn site_archive() -> PathBuf {
    std::env::var_os("SITE_ARCHIVE_STORAGE_PATH")
        .map(|p| PathBuf::from(p).join("archive"))
        .unwrap_or_default()
}

/// How hard the loaders may press a live database (`migrate`, `run`, `load`).
#[derive(Debug, Clone, Args)]
pub struct ThrottleArgs {
    /// At most this many rows written per second (all loaders of the process together): keeps
    /// a live database responsive during the backfill. Unlimited by default.
    #[arg(long, value_name = "ROWS")]
    pub max_rows_per_second: Option<f64>,
    /// Also slow down while the database is slow or busy (the application feels the same
    /// server): backs off by 30% when a batch commits more than twice as slowly per row as the
    /// fastest seen, or while the server runs more than --adaptive-threads-running statements
    /// besides the loader's (MySQL's Threads_running); recovers by 10% per batch up to
    /// --max-rows-per-second.
    #[arg(long)]
    pub adaptive_throttle: bool,
    /// With --adaptive-throttle: how many statements the server may run besides the loader's
    /// (`Threads_running` − 1, smoothed over batches) before the loader backs off. Set it near
    /// the database host's cores when the application shares them.
    #[arg(long, value_name = "N", default_value_t = msgmig_loader::DEFAULT_THREADS_RUNNING)]
    pub adaptive_threads_running: u32,
}

/// Which depositions to work on.
#[derive(Debug, Clone, Args)]
pub struct SelectionArgs {
    /// Archive root: the folder holding the `D_…`/`G_…` deposition folders. Default: the site's
    /// archive, `$SITE_ARCHIVE_STORAGE_PATH/archive`, as the old scripts found it.
    #[arg(long, value_name = "DIR", env = "MSGMIG_ARCHIVE_DIR", default_value_os_t = site_archive(), hide_default_value = true)]
    pub directory: PathBuf,
    /// Paths given after the flags (a shell glob such as `/archive/D_*`): refused with what to
    /// pass instead.
    #[arg(hide = true, value_name = "PATH")]
    pub stray_paths: Vec<PathBuf>,
    /// Only this deposition (folder name under --directory).
    #[arg(long, value_name = "ID", conflicts_with_all = ["depositions", "depositions_file"])]
    pub deposition: Option<String>,
    /// Only these depositions.
    #[arg(long, value_name = "ID", num_args = 1.., conflicts_with = "depositions_file")]
    pub depositions: Vec<String>,
    /// Only the depositions listed in this file (one id per line; `#` comments allowed).
    #[arg(long, value_name = "FILE")]
    pub depositions_file: Option<PathBuf>,
}

/// How the archive is watched (`run`, `scan`).
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Seconds between reconciliation passes (they find what file watching missed).
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Do not watch, poll only (NFS/GPFS, where inotify sees nothing).
    #[arg(long)]
    pub poll_only: bool,
    /// Quiet period (ms) a changed file must keep its size and mtime before it is read.
    #[arg(long, default_value_t = 300)]
    pub settle_ms: u64,
    /// Seconds after which a legacy `.lock` is stale and ignored.
    #[arg(long, default_value_t = 120)]
    pub stale_lock_secs: u64,
    /// Every n-th reconciliation pass lists every folder (the others skip unchanged folders).
    #[arg(long, default_value_t = 12)]
    pub full_pass_every: u32,
}

impl WatchArgs {
    pub fn config(&self) -> msgmig_scanner::WatchConfig {
        use std::time::Duration;
        msgmig_scanner::WatchConfig {
            poll_interval: Duration::from_secs_f64(self.poll_interval.max(0.1)),
            poll_only: self.poll_only,
            settle: Duration::from_millis(self.settle_ms),
            stale_lock_after: Duration::from_secs(self.stale_lock_secs),
            full_pass_every: self.full_pass_every,
        }
    }
}
