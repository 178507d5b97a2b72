//! # msgmig-schemas
//!
//! Every data format msgmig reads or writes, and nothing else (no I/O beyond the DB schema):
//!
//! - [`cif`]: the strict reader and legacy-layout writer of the CIF subset (domain.md §3);
//! - [`message`]: the four mmCIF categories of a message file as typed rows (domain.md §4);
//! - [`archive`]: archive naming rules: deposition ids, file names, latest version (§1);
//! - [`record`]: bus payloads: `FileEvent`, `MessageRecord`, deposition markers (architecture.md §2–3);
//! - [`db`]: the database schema as versioned migrations for MySQL and SQLite (§5.1 + msgmig tables).

pub mod archive;
pub mod cif;
pub mod db;
pub mod message;
pub mod record;
