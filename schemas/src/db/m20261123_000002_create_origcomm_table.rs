use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Mirrors `_pdbx_deposition_message_origcomm_reference` in the style of the
/// app tables. `orig_timestamp` stays text: its format is whatever the archived e-mail had.
const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_origcomm_reference (
    ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(64) NOT NULL,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    orig_message_id VARCHAR(255) NULL,
    orig_deposition_data_set_id VARCHAR(50) NULL,
    orig_timestamp VARCHAR(64) NULL,
    orig_sender TEXT NULL,
    orig_recipient TEXT NULL,
    orig_message_subject TEXT NULL,
    orig_attachments TEXT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_message_id (message_id),
    INDEX idx_deposition_id (deposition_data_set_id),
    FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_origcomm_reference (
    ordinal_id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id VARCHAR(64) NOT NULL REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    orig_message_id VARCHAR(255) NULL,
    orig_deposition_data_set_id VARCHAR(50) NULL,
    orig_timestamp VARCHAR(64) NULL,
    orig_sender TEXT NULL,
    orig_recipient TEXT NULL,
    orig_message_subject TEXT NULL,
    orig_attachments TEXT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_origcomm_message_id ON pdbx_deposition_message_origcomm_reference (message_id)",
];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_tables(manager, &["pdbx_deposition_message_origcomm_reference"]).await
    }
}
