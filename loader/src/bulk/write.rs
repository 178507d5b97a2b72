//! Step 3 of a bulk load: each table from its spill file, in one transaction per table.

use super::spill::{
    EndLine, FileRefLine, InfoLine, OrigcommLine, ProvenanceLine, SpillFile, Spilled,
    StatusLine,
};
use crate::columns::*;
use crate::ends::{record_ends, Ending};
use crate::plan::Counted;
use crate::sql::insert_rows;
use msgmig_schemas::db::upstream_origcomm::OrigcommLayout;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    TransactionTrait, Value,
};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::marker::PhantomData;

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
/// make the future not `Send`.
struct Lines<'a, T> {
    reader: BufReader<File>,
    buf: String,
    spilled: &'a Spilled,
    _row: PhantomData<fn() -> T>,
}

impl<'a, T: DeserializeOwned> Lines<'a, T> {
    fn open(spilled: &'a Spilled, file: SpillFile) -> io::Result<Self> {
        Ok(Lines {
            reader: BufReader::with_capacity(1 << 20, File::open(spilled.path(file))?),
            buf: String::new(),
            spilled,
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
            if !self.spilled.is_residual(d) {
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
    /// (one connection: the session settings of [`begin`] hold for it alone) to a database
    /// whose tables are empty ([`super::first_non_empty`]) and marked ([`super::marker`]).
    /// `run`: the one-shot run counting the rows (the provenance's `counted_in`); `layout`:
    /// the origcomm table's. `progress(phase, rows)` is called as rows are written.
    ///
    /// Errors: the database's (nothing of the failing table is kept; the tables before it
    /// are, and the marker makes the next run remove them), or a spill file unreadable.
    pub async fn write(
        &self,
        db: &DatabaseConnection,
        run: &str,
        layout: OrigcommLayout,
        progress: &(dyn Fn(Phase, u64) + Send + Sync),
    ) -> Result<BulkCounts, DbErr> {
        let mut counts = BulkCounts::default();
        let keyed = self.keyed;
        counts.messages = self
            .load(db, Phase::Provenance, &PROVENANCE_COLUMNS, progress, |_, p: ProvenanceLine| {
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
                    Some((run, counted)),
                )
            })
            .await?;
        self.load(db, Phase::Info, &INFO_COLUMNS, progress, |_, m: InfoLine| {
            message_values(&m)
        })
        .await?;
        counts.file_refs = self
            .load(db, Phase::FileRefs, &FILE_REF_COLUMNS, progress, |_, (id, f): FileRefLine| {
                file_ref_values(&id, &f)
            })
            .await?;
        counts.statuses = self
            .load(db, Phase::Status, &STATUS_COLUMNS, progress, |_, (id, s): StatusLine| {
                status_values(&id, &s)
            })
            .await?;
        counts.origcomm = self
            .load(db, Phase::Origcomm, &ORIGCOMM_COLUMNS, progress, |_, (id, o): OrigcommLine| {
                origcomm_values(&id, &o, layout)
            })
            .await?;
        (counts.depositions, counts.files) = self.load_states(db, progress).await?;
        Ok(counts)
    }

    /// One table from its spill file, in one transaction; returns the rows written.
    async fn load<T: DeserializeOwned>(
        &self,
        db: &DatabaseConnection,
        phase: Phase,
        columns: &[&str],
        progress: &(dyn Fn(Phase, u64) + Send + Sync),
        values: impl Fn(u32, T) -> Vec<Value>,
    ) -> Result<u64, DbErr> {
        let file = match phase {
            Phase::Provenance => SpillFile::Provenance,
            Phase::Info => SpillFile::Info,
            Phase::FileRefs => SpillFile::FileRefs,
            Phase::Status => SpillFile::Status,
            Phase::Origcomm => SpillFile::Origcomm,
            Phase::States => SpillFile::Ends,
        };
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
            written += insert_rows(&txn, table, columns, chunk, "").await?;
            progress(phase, written);
            if std::mem::take(&mut first) {
                crash_mid(phase);
            }
        }
        commit(db, txn).await?;
        crash_after(phase);
        tracing::info!(event = "bulk_table_loaded", table, rows = written,
            seconds = started.elapsed().as_secs_f64());
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
        tracing::info!(event = "bulk_table_loaded", table = Phase::States.table(), rows = depositions,
            seconds = started.elapsed().as_secs_f64());
        Ok((depositions, files))
    }
}
