//! # msgmig-schemas
//!
//! Every data format msgmig reads or writes, and nothing else (no I/O beyond the DB schema):
//!
//! - [`cif`]: the strict reader and legacy-layout writer of the CIF subset;
//! - [`message`]: the four mmCIF categories of a message file as typed rows;
//! - [`archive`]: archive naming rules: deposition ids, file names, latest version (§1);
//! - [`record`]: bus payloads: `FileEvent`, `MessageRecord`, deposition markers;
//! - [`db`]: the database schema as versioned migrations for MySQL and SQLite (§5.1 + msgmig tables).

pub mod archive;
pub mod cif;
pub mod db;
pub mod message;
pub mod record;

/// The tracing target of per-deposition and per-file events (a deposition done, a file
/// ignored or published, a conflict, a quarantine, an export alteration): the `--json-log`
/// audit trail always records them at info and above; a one-shot command's terminal shows them
/// only at `--log-level debug`, leaving it to the progress bar and the summary.
pub const AUDIT_TARGET: &str = "msgmig::audit";
