use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// msgmig_bulk_loads: one row while a bulk backfill runs (written before its first row, deleted
// after its last). A row found at start means a bulk run stopped half way: every table it
// writes held nothing when it began, so the next run removes what msgmig wrote and starts
// again (the loader's `bulk::recover`).
const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS msgmig_bulk_loads (
    run_id VARCHAR(64) NOT NULL PRIMARY KEY,
    started_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"];

const SQLITE: &[&str] = &["CREATE TABLE IF NOT EXISTS msgmig_bulk_loads (
    run_id VARCHAR(64) NOT NULL PRIMARY KEY,
    started_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)"];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_tables(manager, &["msgmig_bulk_loads"]).await
    }
}
