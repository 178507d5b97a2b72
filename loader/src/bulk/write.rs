//! Step 3 of a bulk load: each table from its spill file, in one transaction per table.

use super::spill::{
    EndLine, FileRefLine, InfoLine, OrigcommLine, ProvenanceLine, SpillFile, Spilled, StatusLine,
};
use crate::columns::*;
use crate::ends::{record_ends, Ending};
use crate::plan::Counted;
use crate::sql::{insert_rows, OnKey};
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, TransactionTrait,
    Value,
};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The stages of [`Spilled::write`], in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Provenance,
    Info,
    FileRefs,
    Status,
    Origcomm,
    /// Deposition states and the file ledger.
    States,
}

impl Phase {
    /// The table (or tables) the phase fills, for progress and logs.
    pub fn table(self) -> &'static str {
        match self {
            Phase::Provenance => PROVENANCE,
            Phase::Info => INFO,
            Phase::FileRefs => FILE_REF,
            Phase::Status => STATUS,
            Phase::Origcomm => ORIGCOMM,
            Phase::States => "msgmig_depositions + msgmig_file_ledger",
        }
    }
}

/// What a bulk load wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BulkCounts {
    pub depositions: u64,
    pub messages: u64,
    pub file_refs: u64,
    pub statuses: u64,
    pub origcomm: u64,
    /// Files the loaded depositions read (their ledger rows).
    pub files: u64,
}

/// Rows handed to one `insert_rows` call (which splits them into statements under the
/// server's packet limit): enough to keep the server busy between two reads of the spill.
const CHUNK_ROWS: usize = 4_000;
/// Bytes of values per call, for tables of long texts.
const CHUNK_BYTES: usize = 8 << 20;

/// A spill file's lines whose deposition the bulk load writes. A struct, not an iterator
/// adapter: it is held across the inserts' awaits, where a closure over borrowed lines would
/// make the future not `Send`; it owns what it reads, so `LOAD DATA` can read it on a thread
/// of its own.
struct Lines<T> {
    reader: BufReader<File>,
    buf: String,
    residual: Arc<Vec<u64>>,
    _row: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Lines<T> {
    fn open(spilled: &Spilled, file: SpillFile) -> io::Result<Self> {
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 20, File::open(spilled.path(file))?),
            buf: String::new(),
            residual: spilled.residual_bits.clone(),
            _row: PhantomData,
        })
    }

    fn next(&mut self) -> Result<Option<(u32, T)>, DbErr> {
        loop {
            self.buf.clear();
            if self.reader.read_line(&mut self.buf).map_err(spill_error)? == 0 {
                return Ok(None);
            }
            let (d, row): (u32, T) = serde_json::from_str(&self.buf).map_err(spill_error)?;
            if !super::spill::bit(&self.residual, d) {
                return Ok(Some((d, row)));
            }
        }
    }
}

fn spill_error(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("reading the bulk load's spill file: {e}"))
}

/// Opens a table's transaction. On MySQL the session stops checking unique and foreign keys
/// for it: with both off, an insert into an empty InnoDB table is buffered and its indexes
/// built sorted, with one undo record for the table (MariaDB 10.6+). Nothing written can
/// break a key: every message id is claimed once ([`super::spill`]). On SQLite, foreign keys
/// are checked at commit (a reply may precede its parent).
async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    match db.get_database_backend() {
        DbBackend::MySql => {
            txn.execute_unprepared("SET SESSION unique_checks = 0, foreign_key_checks = 0")
                .await?;
        }
        _ => {
            txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
                .await?;
        }
    }
    Ok(txn)
}

/// Commits a table's transaction and gives the connection its checks back.
async fn commit(db: &DatabaseConnection, txn: DatabaseTransaction) -> Result<(), DbErr> {
    txn.commit().await?;
    if db.get_database_backend() == DbBackend::MySql {
        db.execute_unprepared("SET SESSION unique_checks = 1, foreign_key_checks = 1")
            .await?;
    }
    Ok(())
}

/// The spill file a phase loads.
fn spill_file(phase: Phase) -> SpillFile {
    match phase {
        Phase::Provenance => SpillFile::Provenance,
        Phase::Info => SpillFile::Info,
        Phase::FileRefs => SpillFile::FileRefs,
        Phase::Status => SpillFile::Status,
        Phase::Origcomm => SpillFile::Origcomm,
        Phase::States => SpillFile::Ends,
    }
}

/// The crash points of a phase: after its first statement (transaction open), after its
/// commit.
fn crash_mid(phase: Phase) {
    match phase {
        Phase::Provenance => msgmig_bus::crash_point!("bulk_mid_provenance"),
        Phase::Info => msgmig_bus::crash_point!("bulk_mid_info"),
        Phase::FileRefs => msgmig_bus::crash_point!("bulk_mid_file_refs"),
        Phase::Status => msgmig_bus::crash_point!("bulk_mid_status"),
        Phase::Origcomm => msgmig_bus::crash_point!("bulk_mid_origcomm"),
        Phase::States => msgmig_bus::crash_point!("bulk_mid_states"),
    }
}

fn crash_after(phase: Phase) {
    match phase {
        Phase::Provenance => msgmig_bus::crash_point!("bulk_after_provenance"),
        Phase::Info => msgmig_bus::crash_point!("bulk_after_info"),
        Phase::FileRefs => msgmig_bus::crash_point!("bulk_after_file_refs"),
        Phase::Status => msgmig_bus::crash_point!("bulk_after_status"),
        Phase::Origcomm => msgmig_bus::crash_point!("bulk_after_origcomm"),
        Phase::States => msgmig_bus::crash_point!("bulk_after_states"),
    }
}

impl Spilled {
    /// Loads every table from the spill files, on `db`, which must be a connection of its own
    /// (one connection: the session settings of `begin` hold for it alone) to a database
    /// whose tables are empty ([`super::first_non_empty`]) and marked ([`super::marker`]).
    /// `url`: the same database's URL, for the `LOAD DATA LOCAL` connection on MySQL
    /// (`bulk/infile.rs`; `None` loads with multi-row `INSERT`s). `run`: the one-shot run
    /// counting the rows (the provenance's `counted_in`); `layout`: the origcomm table's.
    /// `progress(phase, rows)` is called as rows are written.
    ///
    /// Errors: the database's (nothing of the failing table is kept; the tables before it
    /// are, and the marker makes the next run remove them), or a spill file unreadable.
    pub async fn write(
        &self,
        db: &DatabaseConnection,
        url: Option<&str>,
        run: &str,
        layout: OrigcommLayout,
        give_up_after: Option<std::time::Duration>,
        progress: &(dyn Fn(Phase, u64) + Send + Sync),
    ) -> Result<BulkCounts, DbErr> {
        let mut counts = BulkCounts::default();
        let keyed = self.keyed;
        let w = Writer {
            spilled: self,
            db,
            url: url.filter(|_| db.get_database_backend() == DbBackend::MySql),
            load_data: AtomicBool::new(true),
            give_up_after,
            progress,
        };
        let run = run.to_owned();
        counts.messages = w
            .load(
                Phase::Provenance,
                &PROVENANCE_COLUMNS,
                move |_, p: ProvenanceLine| {
                    let counted = Counted {
                        inserted: true,
                        unchanged: false,
                        file_refs: p.rows.0,
                        status: p.rows.1,
                        origcomm: p.rows.2,
                    };
                    provenance_row(
                        &p.message_id,
                        &p.deposition_id,
                        &p.provenance,
                        &p.sha256,
                        keyed,
                        Some((run.as_str(), counted)),
                    )
                },
            )
            .await?;
        w.load(Phase::Info, &INFO_COLUMNS, |_, m: InfoLine| {
            message_values(&m)
        })
        .await?;
        counts.file_refs = w
            .load(
                Phase::FileRefs,
                &FILE_REF_COLUMNS,
                |_, (id, f): FileRefLine| file_ref_values(&id, &f),
            )
            .await?;
        counts.statuses = w
            .load(Phase::Status, &STATUS_COLUMNS, |_, (id, s): StatusLine| {
                status_values(&id, &s)
            })
            .await?;
        counts.origcomm = w
            .load(
                Phase::Origcomm,
                &ORIGCOMM_COLUMNS,
                move |_, (id, o): OrigcommLine| origcomm_values(&id, &o, layout),
            )
            .await?;
        (counts.depositions, counts.files) = w.load_states().await?;
        Ok(counts)
    }
}

/// A spill line's values, shared by every attempt at a table.
type Values<T> = Arc<dyn Fn(u32, T) -> Vec<Value> + Send + Sync>;

/// One bulk load's writing: the spill, the connection, how long an outage may last.
struct Writer<'a> {
    spilled: &'a Spilled,
    db: &'a DatabaseConnection,
    /// Where `LOAD DATA LOCAL` connects (MySQL only).
    url: Option<&'a str>,
    /// Cleared when the server or the URL rules `LOAD DATA LOCAL` out: the rest goes by
    /// `INSERT`.
    load_data: AtomicBool,
    give_up_after: Option<std::time::Duration>,
    progress: &'a (dyn Fn(Phase, u64) + Send + Sync),
}

/// Rows in `table` (0 or all: a table is written in one transaction).
async fn rows_in(db: &DatabaseConnection, table: &str) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0) as u64)
}

impl Writer<'_> {
    /// Decides what follows a failed phase: `Ok(Some(rows))` when its transaction committed
    /// after all (the answer was lost: the table holds its rows), `Ok(None)` to run it again
    /// (an outage waited out, under the loader's retry policy), or the error.
    async fn after_failure(
        &self,
        attempts: &mut crate::retry::Attempts,
        table: &str,
        error: DbErr,
    ) -> Result<Option<u64>, DbErr> {
        match attempts.after(self.db, error).await? {
            crate::retry::Next::Isolate(error) => Err(error),
            crate::retry::Next::Retry => match rows_in(self.db, table).await {
                Ok(0) => Ok(None),
                Ok(rows) => Ok(Some(rows)),
                Err(_) => Ok(None),
            },
        }
    }

    /// One table from its spill file, in one transaction, again after an outage; returns the
    /// rows written.
    async fn load<T: DeserializeOwned + Send + 'static>(
        &self,
        phase: Phase,
        columns: &[&str],
        values: impl Fn(u32, T) -> Vec<Value> + Send + Sync + 'static,
    ) -> Result<u64, DbErr> {
        let values: Values<T> = Arc::new(values);
        let mut attempts = crate::retry::Attempts::new(self.give_up_after);
        loop {
            let attempt = match self.url.filter(|_| self.load_data.load(Ordering::Relaxed)) {
                Some(url) => self.load_data(url, phase, columns, values.clone()).await,
                None => Ok(None),
            };
            let attempt = match attempt {
                Ok(Some(rows)) => Ok(rows),
                Ok(None) => {
                    self.spilled
                        .load(self.db, phase, columns, self.progress, &*values)
                        .await
                }
                Err(e) => Err(e),
            };
            match attempt {
                Ok(rows) => return Ok(rows),
                Err(e) => {
                    if let Some(rows) = self.after_failure(&mut attempts, phase.table(), e).await? {
                        return Ok(rows);
                    }
                }
            }
        }
    }

    /// One table by `LOAD DATA LOCAL` ([`super::infile`]): `Ok(None)` when the server declined
    /// it (nothing kept; the caller inserts instead).
    async fn load_data<T: DeserializeOwned + Send + 'static>(
        &self,
        url: &str,
        phase: Phase,
        columns: &[&str],
        values: Values<T>,
    ) -> Result<Option<u64>, DbErr> {
        let table = phase.table();
        let started = std::time::Instant::now();
        let file = spill_file(phase);
        let mut lines = Lines::<T>::open(self.spilled, file).map_err(spill_error)?;
        let rows: super::infile::RowSource =
            Box::new(move || Ok(lines.next()?.map(|(d, row)| values(d, row))));
        let sent = Arc::new(AtomicU64::new(0));
        let load = super::infile::load(
            url,
            table,
            columns,
            rows,
            self.spilled.packet_limit,
            sent.clone(),
            Box::new(move || crash_mid(phase)),
        );
        tokio::pin!(load);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        let loaded = loop {
            tokio::select! {
                loaded = &mut load => break loaded?,
                _ = tick.tick() => (self.progress)(phase, sent.load(Ordering::Relaxed)),
            }
        };
        match loaded {
            super::infile::Loaded::Rows(rows) => {
                crash_after(phase);
                tracing::info!(
                    event = "bulk_table_loaded",
                    table,
                    rows,
                    protocol = "load_data",
                    seconds = started.elapsed().as_secs_f64()
                );
                Ok(Some(rows))
            }
            super::infile::Loaded::Declined { reason, for_all } => {
                tracing::warn!(event = "bulk_load_data_declined", table, reason = %reason,
                    "LOAD DATA LOCAL not used: loading with INSERT statements (slower)");
                if for_all {
                    self.load_data.store(false, Ordering::Relaxed);
                }
                Ok(None)
            }
        }
    }

    /// [`Spilled::load_states`], again after an outage.
    async fn load_states(&self) -> Result<(u64, u64), DbErr> {
        let mut attempts = crate::retry::Attempts::new(self.give_up_after);
        loop {
            match self.spilled.load_states(self.db, self.progress).await {
                Ok(done) => return Ok(done),
                Err(e) => {
                    if let Some(depositions) = self
                        .after_failure(&mut attempts, "msgmig_depositions", e)
                        .await?
                    {
                        return Ok((depositions, rows_in(self.db, "msgmig_file_ledger").await?));
                    }
                }
            }
        }
    }
}

impl Spilled {
    /// One table from its spill file, in one transaction; returns the rows written.
    async fn load<T: DeserializeOwned>(
        &self,
        db: &DatabaseConnection,
        phase: Phase,
        columns: &[&str],
        progress: &(dyn Fn(Phase, u64) + Send + Sync),
        values: &(dyn Fn(u32, T) -> Vec<Value> + Send + Sync),
    ) -> Result<u64, DbErr> {
        let file = spill_file(phase);
        let table = phase.table();
        let started = std::time::Instant::now();
        let mut lines = Lines::<T>::open(self, file).map_err(spill_error)?;
        let txn = begin(db).await?;
        let mut written = 0;
        let mut first = true;
        loop {
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            let mut bytes = 0;
            while chunk.len() < CHUNK_ROWS && bytes < CHUNK_BYTES {
                let Some((d, row)) = lines.next()? else {
                    break;
                };
                let row = values(d, row);
                bytes += row.iter().map(crate::sql::value_len).sum::<usize>();
                chunk.push(row);
            }
            if chunk.is_empty() {
                break;
            }
            written += insert_rows(&txn, table, columns, chunk, OnKey::Fail).await?;
            progress(phase, written);
            if std::mem::take(&mut first) {
                crash_mid(phase);
            }
        }
        commit(db, txn).await?;
        crash_after(phase);
        tracing::info!(
            event = "bulk_table_loaded",
            table,
            rows = written,
            protocol = "insert",
            seconds = started.elapsed().as_secs_f64()
        );
        Ok(written)
    }

    /// The loaded depositions' states (`loaded`) and file ledger, in one transaction; returns
    /// (depositions, files).
    async fn load_states(
        &self,
        db: &DatabaseConnection,
        progress: &(dyn Fn(Phase, u64) + Send + Sync),
    ) -> Result<(u64, u64), DbErr> {
        let started = std::time::Instant::now();
        let mut lines = Lines::<EndLine>::open(self, SpillFile::Ends).map_err(spill_error)?;
        let txn = begin(db).await?;
        let none = HashMap::new();
        let (mut depositions, mut files) = (0u64, 0u64);
        let mut first = true;
        loop {
            let mut ends = Vec::with_capacity(1_000);
            while ends.len() < 1_000 {
                let Some((_, end)) = lines.next()? else {
                    break;
                };
                ends.push(end);
            }
            if ends.is_empty() {
                break;
            }
            let endings: Vec<Ending<'_>> = ends
                .iter()
                .map(|end| Ending {
                    end,
                    quarantine: None,
                    conflicts: &[],
                    kept: &[],
                })
                .collect();
            record_ends(&txn, &endings, &none).await?;
            depositions += ends.len() as u64;
            files += ends.iter().map(|e| e.file_states.len() as u64).sum::<u64>();
            progress(Phase::States, depositions);
            if std::mem::take(&mut first) {
                crash_mid(Phase::States);
            }
        }
        commit(db, txn).await?;
        crash_after(Phase::States);
        tracing::info!(
            event = "bulk_table_loaded",
            table = Phase::States.table(),
            rows = depositions,
            seconds = started.elapsed().as_secs_f64()
        );
        Ok((depositions, files))
    }
}
