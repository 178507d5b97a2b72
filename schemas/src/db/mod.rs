//! The database schema as versioned migrations (sea-orm-migration), for MySQL/MariaDB and SQLite.
//!
//! - `m20261123_000001`: the app's three tables exactly as the init script creates them:
//!   MySQL DDL byte-for-byte in meaning; SQLite the closest equivalent (a CHECK
//!   for the ENUM, a trigger for `ON UPDATE CURRENT_TIMESTAMP`).
//! - `m20261123_000002`: `pdbx_deposition_message_origcomm_reference`, the fourth mmCIF category
//!   the old tools lost.
//! - `m20261123_000003`: msgmig's own bookkeeping, all prefixed `msgmig_` (never new columns in
//!   the app tables).
//! - `m20261123_000004`: `msgmig_file_ledger`, the file states behind the last load (restarts).
//! - `m20261201_000005`: `msgmig_message_provenance.message_key`, the id as the collation sees
//!   it ([`collation`]); unique on SQLite, so SQLite refuses what MySQL's UNIQUE key would.
//!   The loader fills it on SQLite only: on MySQL the collation already does its work, and the
//!   column stays NULL (rows written before 2026-12-01's loader keep their keys, unread).
//! - `m20261201_000006`: `msgmig_file_ledger.ctime_ns`, so a re-run notices an in-place edit
//!   whose size and mtime were put back.
//! - `m20261201_000007`: on MySQL, `msgmig_message_provenance` clustered on an AUTO_INCREMENT
//!   `id` with `message_id` unique beside it: rows are appended, not scattered over random
//!   UUID pages (the load rate at 10^5 depositions).
//! - `m20261201_000008`: `msgmig_scan_passes`, the deposition count of the last full pass over
//!   each archive root, so every process can export "discovered".
//! - `m20261201_000009`: on SQLite, an index on origcomm's `deposition_data_set_id` (MySQL's
//!   table has had one since `000002`): `verify` reads every table by deposition.
//! - `m20261207_000010`: what a loader knows about a deposition between batches
//!   (`msgmig_open_depositions`, `msgmig_staged_records`) and its dead letters
//!   (`msgmig_dead_letters`, an outbox), all written in the batch's transaction.
//! - `m20261207_000011`: `msgmig_bulk_loads`, the marker of a bulk backfill under way, so a
//!   run that finds one removes what the stopped run wrote before loading.

pub mod collation;
pub mod limits;
mod m20261123_000001_create_app_tables;
mod m20261123_000002_create_origcomm_table;
mod m20261123_000003_create_msgmig_tables;
mod m20261123_000004_create_file_ledger;
mod m20261201_000005_message_key;
mod m20261201_000006_ledger_ctime;
mod m20261201_000007_provenance_surrogate_key;
mod m20261201_000008_scan_passes;
mod m20261201_000009_origcomm_deposition_index;
mod m20261207_000010_open_depositions;
mod m20261207_000011_bulk_loads;
pub mod upstream_origcomm;

use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::prelude::*;

/// Applies msgmig's migrations in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_app_tables::Migration),
            Box::new(m20261123_000002_create_origcomm_table::Migration),
            Box::new(m20261123_000003_create_msgmig_tables::Migration),
            Box::new(m20261123_000004_create_file_ledger::Migration),
            Box::new(m20261201_000005_message_key::Migration),
            Box::new(m20261201_000006_ledger_ctime::Migration),
            Box::new(m20261201_000007_provenance_surrogate_key::Migration),
            Box::new(m20261201_000008_scan_passes::Migration),
            Box::new(m20261201_000009_origcomm_deposition_index::Migration),
            Box::new(m20261207_000010_open_depositions::Migration),
            Box::new(m20261207_000011_bulk_loads::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "msgmig_schema_migrations".into_iden()
    }
}

/// The app's tables, in FK-safe creation order.
pub const APP_TABLES: [&str; 3] = [
    "pdbx_deposition_message_info",
    "pdbx_deposition_message_file_reference",
    "pdbx_deposition_message_status",
];

/// Every table msgmig creates, in FK-safe creation order (drop in reverse).
pub const ALL_TABLES: [&str; 14] = [
    "pdbx_deposition_message_info",
    "pdbx_deposition_message_file_reference",
    "pdbx_deposition_message_status",
    "pdbx_deposition_message_origcomm_reference",
    "msgmig_message_provenance",
    "msgmig_depositions",
    "msgmig_quarantine",
    "msgmig_consumer_offsets",
    "msgmig_file_ledger",
    "msgmig_scan_passes",
    "msgmig_open_depositions",
    "msgmig_staged_records",
    "msgmig_dead_letters",
    "msgmig_bulk_loads",
];

/// Runs a list of DDL statements for the connection's backend.
async fn run_all(
    manager: &SchemaManager<'_>,
    mysql: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::MySql => mysql,
        DbBackend::Sqlite => sqlite,
        other => {
            return Err(DbErr::Migration(format!(
                "unsupported database backend {other:?}"
            )))
        }
    };
    let conn = manager.get_connection();
    for sql in statements {
        conn.execute_unprepared(sql).await?;
    }
    Ok(())
}

/// Drops tables (reverse order) for `down` migrations.
async fn drop_tables(manager: &SchemaManager<'_>, tables: &[&str]) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    for t in tables.iter().rev() {
        conn.execute_unprepared(&format!("DROP TABLE IF EXISTS {t}"))
            .await?;
    }
    Ok(())
}
