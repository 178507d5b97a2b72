use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// msgmig_scan_passes: the last full pass over each archive root, as whoever walked it recorded it
// (`scan`, `run`, `migrate`): how many deposition folders it found. The dashboard's "discovered"
// and its ETA read it through every process that has the database, so it outlives
// a `scan --once` that has exited. `finished_at_ms` is Unix milliseconds.
const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS msgmig_scan_passes (
    directory VARCHAR(512) NOT NULL PRIMARY KEY,
    depositions BIGINT NOT NULL,
    files BIGINT NULL,
    finished_at_ms BIGINT NOT NULL,
    recorded_by VARCHAR(32) NOT NULL
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"];

const SQLITE: &[&str] = &["CREATE TABLE IF NOT EXISTS msgmig_scan_passes (
    directory VARCHAR(512) NOT NULL PRIMARY KEY,
    depositions BIGINT NOT NULL,
    files BIGINT NULL,
    finished_at_ms BIGINT NOT NULL,
    recorded_by VARCHAR(32) NOT NULL
)"];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_tables(manager, &["msgmig_scan_passes"]).await
    }
}
