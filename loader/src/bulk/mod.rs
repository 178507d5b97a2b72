//! The first backfill into empty tables, table by table instead of deposition by deposition.
//!
//! Contract: on a database whose tables hold nothing ([`first_non_empty`] is `None`), loading a
//! records stream through [`Spill`] and [`Spilled::write`], then the depositions it leaves
//! ([`Spilled::residual`]) through the ordinary loader, gives the tables a per-deposition load
//! of the same stream gives, row for row (each deposition's messages and file references in
//! file order), with the same deposition states, quarantine and file ledger.
//!
//! How:
//! 1. [`Spill`] reads the stream once and writes each table's rows to its own file on disk, in
//!    archive order, each row tagged with its deposition's index. Beside them it keeps one
//!    64-bit hash per message id (of the id as the collation compares it).
//! 2. [`Spill::finish`] sorts the hashes: a hash claimed twice marks every deposition that
//!    claims it as *residual*, as are depositions the transformer quarantined, whose records
//!    are missing, or one of whose rows the server would refuse ([`crate::limits`]). Ownership,
//!    conflicts and quarantine are decided for those by the ordinary loader afterwards, with
//!    the rule it always applies ([`crate::plan::outranks`]): they share no message id with
//!    the rest, so the order of the two steps changes nothing. A hash collision only sends a
//!    deposition the slower way.
//! 3. [`Spilled::write`] loads each table in one transaction, parents first (provenance,
//!    info, file references, statuses, origcomm), then the deposition states and the file
//!    ledger. On MySQL the session runs with `unique_checks=0` and `foreign_key_checks=0` and
//!    each table is one `LOAD DATA LOCAL INFILE` statement (`infile.rs`): MariaDB 10.6+ then
//!    takes it as a bulk insert into an empty table, buffering the statement's rows and
//!    building each index sorted (MDEV-515, MDEV-24621), so a table's random-UUID keys no
//!    longer walk the buffer pool. Where the server declines it, and on SQLite, multi-row
//!    `INSERT`s. Nothing it writes can break a key: every id is claimed once, checked by hash.
//!
//! Crash safety ([`marker`]): a row in `msgmig_bulk_loads` is written before the first table
//! and deleted after the residual depositions are loaded. A run that finds one knows the tables
//! were empty when the stopped run began, and [`marker::recover`] removes what msgmig wrote
//! before anything else happens: a crash costs the time of the run, never a row.

mod infile;
pub mod marker;
mod spill;
mod write;

pub use marker::{first_non_empty, recover, Recovered};
pub use spill::{Spill, Spilled};
pub use write::{BulkCounts, Phase};
