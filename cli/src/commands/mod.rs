//! One module per subcommand; each returns the process exit code.

pub mod db;
pub mod export;
pub mod generate;
pub mod load;
pub mod migrate;
pub mod probe;
pub mod replay;
pub mod run;
pub mod scan;
pub mod status;
pub mod transform;
pub mod verify;
mod workers;

use crate::args::{DatabaseArgs, SelectionArgs};
use crate::config::{database_url, redact};
use anyhow::{bail, Context, Result};
use msgmig_scanner::{Scanner, Selection};
use sea_orm::DatabaseConnection;

/// Exit code: everything done and equal.
pub const EXIT_OK: i32 = 0;
/// Exit code: done, but something was quarantined, conflicted or differs.
pub const EXIT_INCOMPLETE: i32 = 1;
/// Stopped by a signal before the work was done (the shell's 128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// A usage, configuration or connection problem (exit code 2), with a message that says what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Connects to the configured database for writing; errors name the (redacted) URL and what
/// to check.
pub async fn open_database(args: &DatabaseArgs) -> Result<DatabaseConnection> {
    open(args, true).await
}

/// Connects for reading only (`verify`, `export`).
pub async fn open_database_reader(args: &DatabaseArgs) -> Result<DatabaseConnection> {
    open(args, false).await
}

async fn open(args: &DatabaseArgs, writer: bool) -> Result<DatabaseConnection> {
    let url = database_url(args).map_err(|e| UsageError(e.to_string()))?;
    let timeout = std::time::Duration::from_secs(args.db_timeout.max(1));
    match msgmig_loader::database::connect_within(&url, writer, timeout).await {
        Ok(db) => {
            tracing::info!(event = "db_connected", database = %redact(&url));
            Ok(db)
        }
        Err(e) => {
            let cause = crate::config::scrub(&e.to_string(), &url);
            Err(UsageError(format!(
                "cannot connect to {}: {cause}\n  {}",
                redact(&url),
                connect_hint(&cause)
            ))
            .into())
        }
    }
}

/// What to do about a failed connection, from the server's error code (MySQL reference manual,
/// "Server Error Message Reference") or the socket's error.
fn connect_hint(cause: &str) -> String {
    const SETTING: &str = "--database-url / MSGMIG_DATABASE_URL (or SITE_MESSAGE_DB_*)";
    if cause.contains("1049 (42000)") {
        // ER_BAD_DB_ERROR
        "the database does not exist: `msgmig db init` creates it with its tables (or give \
         --create-tables to migrate, load or run)"
            .into()
    } else if cause.contains("1045 (28000)") {
        // ER_ACCESS_DENIED_ERROR
        format!("the server refused the user or the password: check them in {SETTING}")
    } else if cause.contains("1044 (42000)") {
        // ER_DBACCESS_DENIED_ERROR
        "the user may not use this database: GRANT it the database's privileges, or use another \
         user"
            .into()
    } else if cause.contains("Connection refused") || cause.contains("timed out") {
        format!("no server answered there: check that it runs, and the host and port in {SETTING}")
    } else {
        format!("check {SETTING}, that the server runs and the database exists")
    }
}

/// Creates the MySQL database the configured URL names when it is missing (`db init`,
/// `--create-tables`), as the old init script does.
pub async fn create_database_if_missing(args: &DatabaseArgs) -> Result<()> {
    let url = database_url(args).map_err(|e| UsageError(e.to_string()))?;
    let timeout = std::time::Duration::from_secs(args.db_timeout.max(1));
    match msgmig_loader::database::create_database_if_missing(&url, timeout).await {
        Ok(true) => {
            tracing::info!(event = "database_created", database = %redact(&url));
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => Err(UsageError(format!(
            "cannot create the database of {}: {}",
            redact(&url),
            crate::config::scrub(&e.to_string(), &url)
        ))
        .into()),
    }
}

/// The drift of the configured database's tables from msgmig's schema (see
/// `msgmig_loader::drift`), printed one line per difference.
pub async fn schema_drift(
    db: &DatabaseConnection,
    args: &DatabaseArgs,
) -> Result<Vec<msgmig_loader::drift::Drift>> {
    let url = database_url(args).map_err(|e| UsageError(e.to_string()))?;
    let drift = msgmig_loader::drift::drift(db, &url).await.map_err(|e| {
        UsageError(format!(
            "cannot compare the schema: {} (on MySQL the user needs CREATE and DROP on a scratch database <name>_msgmig_ref_<connection id>_<n>)",
            crate::config::scrub(&e.to_string(), &url)
        ))
    })?;
    for d in &drift {
        println!(
            "  DRIFT {} {}: expected {}, found {}",
            d.table, d.item, d.expected, d.found
        );
        tracing::warn!(event = "schema_drift", table = %d.table, item = %d.item, expected = %d.expected, found = %d.found);
    }
    Ok(drift)
}

/// Refuses to read tables whose layout differs from msgmig's (a table another tool created with
/// other column types would fail in the middle of decoding): lists the drift instead.
/// A database user without the privilege to build the scratch schema (a read-only verify
/// account) gets a warning and the check is skipped.
pub async fn require_no_drift(db: &DatabaseConnection, args: &DatabaseArgs) -> Result<()> {
    // A database an older msgmig set up lacks the newer migrations: say so, rather than list
    // what they would add as drift.
    if let Ok(status) = msgmig_loader::database::migration_status(db).await {
        let pending: Vec<String> = status
            .into_iter()
            .filter(|(_, applied)| !applied)
            .map(|(name, _)| name)
            .collect();
        if !pending.is_empty() {
            bail!(UsageError(format!(
                "the database lacks {} of msgmig's migrations ({}; it was set up by an older msgmig): run `msgmig db init` with the same database to apply them, then run this again",
                pending.len(),
                pending.join(", ")
            )));
        }
    }
    let drift = match schema_drift(db, args).await {
        Ok(drift) => drift,
        Err(e) => {
            tracing::warn!(event = "schema_not_compared", error = %format!("{e:#}"), "the tables' layout was not compared with msgmig's");
            return Ok(());
        }
    };
    if !drift.is_empty() {
        bail!(UsageError(format!(
            "the tables differ from the schema msgmig reads ({} differences, listed above): run `msgmig db status` to see them again; fix or migrate the tables first",
            drift.len()
        )));
    }
    Ok(())
}

/// Fails with a clear message when tables are missing.
pub async fn require_schema(db: &DatabaseConnection) -> Result<()> {
    let missing = msgmig_loader::database::missing_tables(db).await?;
    if !missing.is_empty() {
        return Err(UsageError(format!(
            "the database lacks tables {}: run `msgmig db init` or pass --create-tables",
            missing.join(", ")
        ))
        .into());
    }
    Ok(())
}

/// The deposition folders selected by the flags, and (when the whole archive is selected) the
/// folders under the root that are not deposition folders.
#[derive(Debug, Default)]
pub struct Selected {
    /// Sorted deposition ids.
    pub ids: Vec<String>,
    /// How many folders were not read, and the first 100 names.
    pub ignored_folders: (u64, Vec<String>),
    /// Every deposition folder of the archive (none named): the count is "discovered".
    pub whole_archive: bool,
}

/// The sorted deposition ids selected by the flags.
pub fn selected_depositions(args: &SelectionArgs) -> Result<Selected> {
    let mut ignored_folders = (0, Vec::new());
    if args.directory.as_os_str().is_empty() {
        bail!(UsageError(
            "no archive: pass --directory <archive root> (or set MSGMIG_ARCHIVE_DIR, or SITE_ARCHIVE_STORAGE_PATH as the old scripts read it)".into()
        ));
    }
    if !args.stray_paths.is_empty() {
        bail!(UsageError(format!(
            "unexpected paths after the flags ({} of them, e.g. {}): --directory takes the archive root, the folder holding the D_… folders; choose depositions with --depositions D_1 D_2 … or --depositions-file FILE (a shell glob like /archive/D_* expands into many paths)",
            args.stray_paths.len(),
            args.stray_paths[0].display()
        )));
    }
    let name = args
        .directory
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if msgmig_schemas::archive::is_deposition_id(&name) {
        let parent = args
            .directory
            .parent()
            .map_or_else(|| ".".into(), |p| p.display().to_string());
        bail!(UsageError(format!(
            "--directory {} is a deposition folder: pass the archive root and the deposition, --directory {parent} --deposition {name}",
            args.directory.display()
        )));
    }
    if !args.directory.is_dir() {
        bail!(UsageError(format!(
            "--directory {} is not a folder",
            args.directory.display()
        )));
    }
    let named = args.deposition.is_some()
        || !args.depositions.is_empty()
        || args.depositions_file.is_some();
    let mut ids: Vec<String> = if let Some(id) = &args.deposition {
        vec![id.clone()]
    } else if !args.depositions.is_empty() {
        args.depositions.clone()
    } else if let Some(file) = &args.depositions_file {
        std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --depositions-file {}", file.display()))?
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        let scanner = Scanner::new(&args.directory, Selection::All);
        let ids = scanner
            .deposition_ids()
            .with_context(|| format!("cannot list {}", args.directory.display()))?;
        let stats = scanner.stats();
        ignored_folders = (
            stats
                .ignored_folders
                .load(std::sync::atomic::Ordering::Relaxed),
            stats
                .ignored_folder_names
                .lock()
                .expect("not poisoned")
                .clone(),
        );
        ids
    };
    for id in &ids {
        if !msgmig_schemas::archive::is_deposition_id(id) {
            bail!(UsageError(format!(
                "invalid deposition id {id:?}: expected D_<digits> or G_<digits>"
            )));
        }
    }
    ids.sort();
    ids.dedup();
    if named {
        // A named deposition that is not there is a typo or a wrong --directory: say which
        //, never report "0 depositions" as success.
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !args.directory.join(id).is_dir())
            .collect();
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(10).map(|s| s.as_str()).collect();
            bail!(UsageError(format!(
                "{} named deposition folder(s) not found under {}: {}{}",
                missing.len(),
                args.directory.display(),
                shown.join(", "),
                if missing.len() > 10 { ", …" } else { "" }
            )));
        }
    }
    Ok(Selected {
        ids,
        ignored_folders,
        whole_archive: !named,
    })
}

/// A progress bar on a terminal (hidden otherwise), counting depositions.
pub fn progress_bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {what} ({{rate}}, eta {{eta}}) {{msg}}"
        ))
        .expect("static template")
        .with_key("rate", rate),
    );
    bar
}

/// A progress counter for work whose total is not known: elapsed time, count and rate.
pub fn spinner(what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} {{spinner}} {{pos}} {what} ({{rate}}) {{msg}}"
        ))
        .expect("static template")
        .with_key("rate", rate),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

/// The bar's rate with the precision a reader takes in: whole units per second from 10 up,
/// one decimal below.
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let per_sec = state.per_sec();
    let _ = if per_sec >= 10.0 {
        write!(w, "{}/s", indicatif::HumanCount(per_sec.round() as u64))
    } else {
        write!(w, "{per_sec:.1}/s")
    };
}

/// Running loader tasks behind one partitioned publisher (one deposition,
/// one partition, in order). SQLite has one writer, so it always gets one partition.
pub struct LoaderPool {
    pub publisher:
        msgmig_bus::in_process::PartitionedPublisher<msgmig_schemas::record::RecordsMessage>,
    pub tasks: Vec<tokio::task::JoinHandle<Result<msgmig_loader::Loader, sea_orm::DbErr>>>,
}

impl LoaderPool {
    pub fn spawn(
        db: &DatabaseConnection,
        config: msgmig_loader::LoaderConfig,
        partitions: usize,
        reports: Option<tokio::sync::mpsc::UnboundedSender<msgmig_loader::DepositionReport>>,
    ) -> Self {
        let sqlite = db.get_database_backend() == sea_orm::DbBackend::Sqlite;
        let partitions = if sqlite { 1 } else { partitions.max(1) };
        // The process's rows-per-second ceiling is shared by its loaders.
        let mut config = config;
        config.max_rows_per_second = config.max_rows_per_second.map(|r| r / partitions as f64);
        let (publisher, receivers) =
            msgmig_bus::in_process::partitioned_topic(partitions, config.batch_size.max(1));
        let tasks = receivers
            .into_iter()
            .map(|rx| {
                let mut loader = msgmig_loader::Loader::new(db.clone(), config.clone());
                if let Some(tx) = &reports {
                    loader = loader.with_reports(tx.clone());
                }
                tokio::spawn(async move { loader.run(rx).await.map(|()| loader) })
            })
            .collect();
        LoaderPool { publisher, tasks }
    }

    /// Waits for every loader (after the publisher side is gone) and adds up their rows.
    pub async fn join(
        tasks: Vec<tokio::task::JoinHandle<Result<msgmig_loader::Loader, sea_orm::DbErr>>>,
    ) -> Result<msgmig_loader::RowCounts> {
        let mut rows = msgmig_loader::RowCounts::default();
        for task in tasks {
            rows.add(
                task.await
                    .expect("loader task")
                    .context("loading into the database")?
                    .totals(),
            );
        }
        Ok(rows)
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!(
        event = "shutdown",
        "stopping: draining in-flight work (a second Ctrl-C exits at once)"
    );
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "second interrupt: exiting now; what did not commit is redone on the next start"
            );
            std::process::exit(EXIT_INTERRUPTED);
        }
    });
}
