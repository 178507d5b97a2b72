//! `msgmig export`: the database back to CIF files (the old exporter's faults fixed: docs/domain.md).
//! Streams in chunks of depositions: four queries per chunk, never per message.

use super::{
    open_database_reader, progress_bar, require_schema, UsageError, EXIT_INCOMPLETE, EXIT_OK,
};
use crate::cli::ExportArgs;
use anyhow::{Context, Result};
use msgmig_loader::read::{all_depositions, stored_messages_with_info_filed_under, StoredMessage};
use msgmig_schemas::archive::{is_deposition_id, MessageFileName};
use msgmig_schemas::record::{deposition_files, Alteration, Encoding, ExportedFile};
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Depositions fetched per round of queries.
const CHUNK: usize = 200;

/// Chunks read from a MySQL server at once while the oldest one read is written; at most this
/// many plus one are held. The reads wait on the server's random page reads (message ids are
/// UUIDs) more than on its CPU, so reads in flight pay (docs/benchmarks.md).
const READS_AHEAD: usize = 6;

/// The files of each requested deposition (`deposition_data_set_id`), in request order;
/// depositions without messages are absent. A message's status, file reference and origcomm
/// rows are found by its id wherever they are filed, so the files hold every row of it.
pub async fn load_files(
    db: &DatabaseConnection,
    ids: &[String],
    encoding: Encoding,
) -> Result<Vec<(String, Vec<ExportedFile>)>> {
    let stored = stored_messages_with_info_filed_under(db, ids).await?;
    let mut by_dep: HashMap<String, Vec<StoredMessage>> = HashMap::new();
    for m in stored.into_values() {
        by_dep
            .entry(m.content.message.deposition_data_set_id.clone())
            .or_default()
            .push(m);
    }
    Ok(ids
        .iter()
        .filter_map(|id| {
            let mut messages = by_dep.remove(id)?;
            messages.sort_by_key(|m| m.ordinal_id);
            let contents: Vec<_> = messages.into_iter().map(|m| m.content).collect();
            Some((id.clone(), deposition_files(&contents, encoding)))
        })
        .collect())
}

/// The version to write for a content type in `dir`: next after the highest present, or the
/// highest itself with `overwrite` (1 when none).
fn version_to_write(
    dir: &Path,
    id: &str,
    content_type: msgmig_schemas::archive::ContentType,
    overwrite: bool,
) -> u32 {
    let latest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| MessageFileName::parse(&e.file_name().to_string_lossy()))
        .filter(|f| f.deposition_id == id && f.content_type == content_type)
        .map(|f| f.version)
        .max()
        .unwrap_or(0);
    if overwrite {
        latest.max(1)
    } else {
        latest + 1
    }
}

/// The file that marks a folder as msgmig's own export (an export may add versions to it).
const EXPORT_MARKER: &str = ".msgmig-export";

/// True when `dir` holds deposition folders with message files (looked for among its first
/// 1,000 entries: an archive of 10^6 folders is recognised without listing it whole).
fn holds_depositions(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().take(1000).any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        is_deposition_id(&name)
            && std::fs::read_dir(e.path()).is_ok_and(|files| {
                files
                    .flatten()
                    .take(1000)
                    .any(|f| MessageFileName::parse(&f.file_name().to_string_lossy()).is_some())
            })
    })
}

/// Refuses an `--output-dir` that is, or is inside, an archive: new versions
/// written there would become the live latest files. msgmig's own earlier exports (marked with
/// [`EXPORT_MARKER`]) are fine; a live archive takes `--into-archive` by name.
fn check_output_dir(root: &Path) -> Result<()> {
    if root.join(EXPORT_MARKER).is_file() {
        return Ok(());
    }
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    for dir in absolute.ancestors() {
        if holds_depositions(dir) {
            return Err(UsageError(format!(
                "--output-dir {} {} an archive ({} holds deposition folders with message files): new versions written there would become the latest files. Export elsewhere, or pass --into-archive {} to write into the live archive on purpose",
                root.display(),
                if dir == absolute { "is" } else { "is inside" },
                dir.display(),
                dir.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// Writes through a temporary file of a unique name in the same folder, synced to disk, then
/// renamed over `path` (`tempfile`'s `persist`): a crash or a power cut never leaves a
/// half-written file, and two exports never share a temporary file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".msgmig-export.")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// What an export has done so far.
#[derive(Debug, Default)]
struct Tally {
    exported: u64,
    /// Requested depositions without a message in the database (nothing written).
    empty: u64,
    failed: u64,
    files: u64,
    messages: u64,
    /// Values the file format forced to change, per deposition.
    alterations: Vec<(String, Alteration)>,
}

/// Writes one chunk's depositions (`chunk`: the ids asked for, `loaded`: those with messages)
/// under `root`, counting each in `tally`. A deposition that cannot be written is reported and
/// counted as failed; the others are still written. Blocking (file I/O).
fn write_chunk(
    root: &Path,
    chunk: &[String],
    loaded: Vec<(String, Vec<ExportedFile>)>,
    overwrite: bool,
    bar: &indicatif::ProgressBar,
    tally: &mut Tally,
) {
    let with_messages: std::collections::HashSet<&str> =
        loaded.iter().map(|(id, _)| id.as_str()).collect();
    for id in chunk
        .iter()
        .filter(|id| !with_messages.contains(id.as_str()))
    {
        tally.empty += 1;
        bar.inc(1);
        tracing::warn!(event = "no_messages_found", deposition_id = %id, "no messages in the database: nothing written");
    }
    for (id, dep_files) in loaded {
        bar.inc(1);
        match write_deposition(root, &id, &dep_files, overwrite) {
            Ok(()) => {
                tally.exported += 1;
                tally.files += dep_files.len() as u64;
                tally.messages += dep_files
                    .iter()
                    .map(|f| f.file.info.len() as u64)
                    .sum::<u64>();
                for a in dep_files.iter().flat_map(|f| &f.alterations) {
                    tracing::info!(target: msgmig_schemas::AUDIT_TARGET, event = "export_alteration", deposition_id = %id, message_id = %a.message_id, column = %a.column, what = %a.what);
                }
                tally.alterations.extend(
                    dep_files
                        .into_iter()
                        .flat_map(|f| f.alterations)
                        .map(|a| (id.clone(), a)),
                );
            }
            Err(e) => {
                tally.failed += 1;
                bar.suspend(|| eprintln!("error: {id}: {e:#}"));
                tracing::error!(event = "deposition_export_failed", deposition_id = %id, error = %format!("{e:#}"));
            }
        }
    }
}

/// Writes one deposition's files into `root/<id>/`, each as a new version (or over the highest
/// with `overwrite`).
///
/// Errors: `id` (from the database: untrusted) is not a deposition id, so it never becomes a
/// folder name and no path leaves `root`; a value the format cannot write; a file system error.
fn write_deposition(root: &Path, id: &str, files: &[ExportedFile], overwrite: bool) -> Result<()> {
    if !is_deposition_id(id) {
        anyhow::bail!(
            "deposition_data_set_id {id:?} is not a deposition id (D_<digits> or G_<digits>): not used as a folder name, nothing written"
        );
    }
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for f in files {
        let version = version_to_write(&dir, id, f.content_type, overwrite);
        let path = dir.join(MessageFileName::canonical(id, f.content_type, version));
        let text = f.file.write().context("a value cannot be written")?;
        write_atomically(&path, &text)
            .with_context(|| format!("cannot write {}", path.display()))?;
        tracing::debug!(event = "file_exported", deposition_id = %id, file_path = %path.display(), messages = f.file.info.len());
    }
    Ok(())
}

pub async fn run(args: ExportArgs) -> Result<i32> {
    let started = Instant::now();
    let explicit: Vec<String> = args
        .deposition
        .iter()
        .cloned()
        .chain(args.depositions.iter().cloned())
        .collect();
    for id in &explicit {
        if !is_deposition_id(id) {
            return Err(UsageError(format!(
                "invalid deposition id {id:?}: expected D_<digits> or G_<digits>"
            ))
            .into());
        }
    }
    let (root, live) = match (&args.output_dir, &args.into_archive) {
        (Some(dir), _) => (dir.clone(), false),
        (None, Some(dir)) => (dir.clone(), true),
        (None, None) => unreachable!("clap requires one"),
    };
    if root.exists() && !root.is_dir() {
        return Err(UsageError(format!("{} is not a folder", root.display())).into());
    }
    if live {
        tracing::warn!(event = "export_into_archive", archive = %root.display(), "writing new versions into a live archive");
    } else {
        check_output_dir(&root)?;
        std::fs::create_dir_all(&root)
            .and_then(|()| std::fs::write(root.join(EXPORT_MARKER), "written by msgmig export\n"))
            .with_context(|| format!("cannot create {}", root.display()))?;
    }
    let db = open_database_reader(&args.database).await?;
    require_schema(&db).await?;
    super::require_no_drift(&db, &args.database).await?;
    let ids = if args.all {
        all_depositions(&db).await?
    } else {
        explicit
    };
    tracing::info!(event = "export_start", depositions = ids.len(), output_dir = %root.display());
    let encoding = if args.utf8 {
        Encoding::Utf8
    } else {
        Encoding::CharacterReferences
    };
    let bar = progress_bar(ids.len() as u64, "depositions exported");
    // Reading and writing overlap: chunks are read from the database while the oldest one read
    // is written (on a blocking thread: file I/O), in order. See READS_AHEAD.
    let fetch = |chunk: Vec<String>| {
        let db = db.clone();
        tokio::spawn(async move {
            let loaded = load_files(&db, &chunk, encoding).await;
            (chunk, loaded)
        })
    };
    let mut chunks = ids.chunks(CHUNK).map(<[String]>::to_vec);
    // SQLite's pool is one connection: reads queued on it would only wait, up to the pool's
    // acquire timeout.
    let reads_ahead = match db.get_database_backend() {
        sea_orm::DbBackend::Sqlite => 1,
        _ => READS_AHEAD,
    };
    let mut pending: std::collections::VecDeque<_> =
        chunks.by_ref().take(reads_ahead).map(fetch).collect();
    let mut tally = Tally::default();
    while let Some(task) = pending.pop_front() {
        let (chunk, loaded) = task.await.context("reading a chunk of depositions")?;
        let loaded = loaded?;
        pending.extend(chunks.next().map(fetch));
        let (root, bar) = (root.clone(), bar.clone());
        let overwrite = args.overwrite;
        tally = tokio::task::spawn_blocking(move || {
            write_chunk(&root, &chunk, loaded, overwrite, &bar, &mut tally);
            tally
        })
        .await
        .context("writing a chunk of depositions")?;
    }
    let Tally {
        exported,
        empty,
        failed,
        files,
        messages,
        alterations,
    } = tally;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    println!("Export Summary");
    println!(
        "  depositions: {} exported, {} without messages, {} failed",
        exported, empty, failed
    );
    println!("  files written: {files}; messages: {messages}");
    println!(
        "  time: {seconds:.2} s ({:.0} messages/s)",
        messages as f64 / seconds.max(1e-9)
    );
    println!(
        "  values the format forced to change: {}",
        alterations.len()
    );
    for (dep, a) in alterations.iter().take(20) {
        println!("  ALTERED {dep} {} {}: {}", a.message_id, a.column, a.what);
    }
    tracing::info!(
        event = "export_summary",
        exported,
        empty,
        failed,
        files,
        messages,
        alterations = alterations.len()
    );
    Ok(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}
