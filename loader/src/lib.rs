//! # msgmig-loader
//!
//! Upserts message records into MySQL/MariaDB or SQLite, idempotently, keyed on `message_id`.
//!
//! - [`plan`]: pure decisions per record against the stored state: insert, update, unchanged,
//!   stale (older generation), conflict or take-over (the ownership rule of [`plan::outranks`]).
//! - [`store`]: writing a planned set of records: multi-row inserts, in-place updates of
//!   changed messages, file references reconciled as a multiset, statuses upserted, provenance
//!   (generation + content hash) written beside the app tables.
//! - `apply`: one batch, one transaction: the depositions whose end marker is in it, the open
//!   ones kept ([`staging`]), the dead letters ([`outbox`]) and the consumed offsets
//!   ([`offsets`]).
//! - [`worker`]: the bus loop; `retry` the one retry policy; `isolate` what a refused batch
//!   becomes.
//! - [`config`]: the loader's settings.
//! - [`bulk`]: a first backfill into empty tables, table by table, with the same result.
//!
//! Delivery semantics:
//! - a batch is applied whole or not at all, with its offsets (over Kafka) and its dead letters;
//! - a deposition's rows are written when its end marker is applied, all in that transaction,
//!   or not at all when it ends quarantined: the application never sees part of a deposition;
//! - everything a loader knows about a deposition between batches is in the database, so any
//!   loader that gets the partition finishes it as the first would have;
//! - applying the same records again touches no app row (`updated_at` unchanged), so replays
//!   and re-runs are harmless.

mod apply;
mod batch;
pub mod bulk;
mod columns;
pub mod config;
mod current;
pub mod database;
pub mod drift;
mod ends;
pub mod faults;
mod fresh;
mod guard;
mod isolate;
mod item;
pub mod limits;
pub mod metrics;
pub mod offsets;
mod order;
pub mod outbox;
pub mod plan;
pub mod read;
mod report;
mod retry;
pub mod scan_passes;
mod sql;
pub mod staging;
pub mod store;
#[cfg(test)]
mod test_support;
pub mod throttle;
pub mod worker;

pub use config::{
    LoaderConfig, BACKFILL_BATCH_SIZE, BATCH_BYTES, DEFAULT_BATCH_SIZE, DEFAULT_LOADERS,
    DEFAULT_THREADS_RUNNING,
};
pub use fresh::FreshStats;
pub use report::DepositionReport;
pub use store::RowCounts;
pub use worker::Loader;
