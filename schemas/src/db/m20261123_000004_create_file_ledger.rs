use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// msgmig_file_ledger: the state (version, size, mtime) of every latest message file as last
// loaded, written in the loader's transaction with the deposition's end marker. A restarted
// scanner compares the archive with it and publishes exactly what changed meanwhile.
const MYSQL: &[&str] = &["CREATE TABLE IF NOT EXISTS msgmig_file_ledger (
    path VARCHAR(512) NOT NULL PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    version INT NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX idx_msgmig_ledger_deposition (deposition_id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"];

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS msgmig_file_ledger (
    path VARCHAR(512) NOT NULL PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    version INT NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_msgmig_ledger_deposition ON msgmig_file_ledger (deposition_id)",
];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_tables(manager, &["msgmig_file_ledger"]).await
    }
}
