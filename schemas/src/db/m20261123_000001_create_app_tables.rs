use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// docs/domain.md, as `scripts/init_messaging_database.py` creates it (what production reads).
const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_info (
    ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(64) NOT NULL UNIQUE,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    timestamp DATETIME NOT NULL,
    sender VARCHAR(150) NOT NULL,
    context_type VARCHAR(50) NULL,
    context_value VARCHAR(255) NULL,
    parent_message_id VARCHAR(64) NULL,
    message_subject TEXT NOT NULL,
    message_text LONGTEXT NOT NULL,
    message_type VARCHAR(20) NULL DEFAULT 'text',
    send_status CHAR(1) NULL DEFAULT 'Y',
    content_type ENUM('messages-to-depositor','messages-from-depositor','notes-from-annotator') NOT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX idx_deposition_id (deposition_data_set_id),
    INDEX idx_message_id (message_id),
    INDEX idx_timestamp (timestamp),
    INDEX idx_sender (sender),
    INDEX idx_context_type (context_type),
    INDEX idx_content_type (content_type),
    INDEX idx_created_at (created_at),
    INDEX idx_ordinal_id (ordinal_id),
    FOREIGN KEY (parent_message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE SET NULL
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_file_reference (
    ordinal_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    message_id VARCHAR(64) NOT NULL,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    content_type VARCHAR(50) NOT NULL,
    content_format VARCHAR(20) NOT NULL,
    partition_number INT DEFAULT 1,
    version_id INT DEFAULT 1,
    storage_type VARCHAR(20) DEFAULT 'archive',
    upload_file_name VARCHAR(255) NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_message_id (message_id),
    INDEX idx_deposition_id (deposition_data_set_id),
    INDEX idx_content_type (content_type),
    INDEX idx_storage_type (storage_type),
    INDEX idx_ordinal_id (ordinal_id),
    FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_status (
    message_id VARCHAR(64) NOT NULL PRIMARY KEY,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    read_status CHAR(1) DEFAULT 'N',
    action_reqd CHAR(1) DEFAULT 'N',
    for_release CHAR(1) DEFAULT 'N',
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX idx_deposition_id (deposition_data_set_id),
    INDEX idx_read_status (read_status),
    INDEX idx_action_reqd (action_reqd),
    INDEX idx_for_release (for_release),
    FOREIGN KEY (message_id) REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
];

/// The same tables for SQLite: ENUM as a CHECK, `ON UPDATE CURRENT_TIMESTAMP` as triggers that
/// fire only when a value really changed (so an identical write leaves `updated_at` alone, as on
/// MySQL). Index names are global in SQLite, hence the table prefix.
const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_info (
    ordinal_id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id VARCHAR(64) NOT NULL UNIQUE,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    timestamp DATETIME NOT NULL,
    sender VARCHAR(150) NOT NULL,
    context_type VARCHAR(50) NULL,
    context_value VARCHAR(255) NULL,
    parent_message_id VARCHAR(64) NULL REFERENCES pdbx_deposition_message_info(message_id) ON DELETE SET NULL,
    message_subject TEXT NOT NULL,
    message_text LONGTEXT NOT NULL,
    message_type VARCHAR(20) NULL DEFAULT 'text',
    send_status CHAR(1) NULL DEFAULT 'Y',
    content_type TEXT NOT NULL CHECK (content_type IN ('messages-to-depositor','messages-from-depositor','notes-from-annotator')),
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_info_deposition_id ON pdbx_deposition_message_info (deposition_data_set_id)",
    "CREATE INDEX IF NOT EXISTS idx_info_timestamp ON pdbx_deposition_message_info (timestamp)",
    "CREATE INDEX IF NOT EXISTS idx_info_sender ON pdbx_deposition_message_info (sender)",
    "CREATE INDEX IF NOT EXISTS idx_info_context_type ON pdbx_deposition_message_info (context_type)",
    "CREATE INDEX IF NOT EXISTS idx_info_content_type ON pdbx_deposition_message_info (content_type)",
    "CREATE INDEX IF NOT EXISTS idx_info_created_at ON pdbx_deposition_message_info (created_at)",
    "CREATE INDEX IF NOT EXISTS idx_info_parent ON pdbx_deposition_message_info (parent_message_id)",
    "CREATE TRIGGER IF NOT EXISTS trg_info_updated_at AFTER UPDATE ON pdbx_deposition_message_info
    FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at AND (
        NEW.deposition_data_set_id IS NOT OLD.deposition_data_set_id OR NEW.timestamp IS NOT OLD.timestamp
        OR NEW.sender IS NOT OLD.sender OR NEW.context_type IS NOT OLD.context_type
        OR NEW.context_value IS NOT OLD.context_value OR NEW.parent_message_id IS NOT OLD.parent_message_id
        OR NEW.message_subject IS NOT OLD.message_subject OR NEW.message_text IS NOT OLD.message_text
        OR NEW.message_type IS NOT OLD.message_type OR NEW.send_status IS NOT OLD.send_status
        OR NEW.content_type IS NOT OLD.content_type)
    BEGIN UPDATE pdbx_deposition_message_info SET updated_at = CURRENT_TIMESTAMP WHERE ordinal_id = NEW.ordinal_id; END",
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_file_reference (
    ordinal_id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id VARCHAR(64) NOT NULL REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    content_type VARCHAR(50) NOT NULL,
    content_format VARCHAR(20) NOT NULL,
    partition_number INT DEFAULT 1,
    version_id INT DEFAULT 1,
    storage_type VARCHAR(20) DEFAULT 'archive',
    upload_file_name VARCHAR(255) NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_file_ref_message_id ON pdbx_deposition_message_file_reference (message_id)",
    "CREATE INDEX IF NOT EXISTS idx_file_ref_deposition_id ON pdbx_deposition_message_file_reference (deposition_data_set_id)",
    "CREATE INDEX IF NOT EXISTS idx_file_ref_content_type ON pdbx_deposition_message_file_reference (content_type)",
    "CREATE INDEX IF NOT EXISTS idx_file_ref_storage_type ON pdbx_deposition_message_file_reference (storage_type)",
    "CREATE TABLE IF NOT EXISTS pdbx_deposition_message_status (
    message_id VARCHAR(64) NOT NULL PRIMARY KEY REFERENCES pdbx_deposition_message_info(message_id) ON DELETE CASCADE,
    deposition_data_set_id VARCHAR(50) NOT NULL,
    read_status CHAR(1) DEFAULT 'N',
    action_reqd CHAR(1) DEFAULT 'N',
    for_release CHAR(1) DEFAULT 'N',
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_status_deposition_id ON pdbx_deposition_message_status (deposition_data_set_id)",
    "CREATE INDEX IF NOT EXISTS idx_status_read_status ON pdbx_deposition_message_status (read_status)",
    "CREATE INDEX IF NOT EXISTS idx_status_action_reqd ON pdbx_deposition_message_status (action_reqd)",
    "CREATE INDEX IF NOT EXISTS idx_status_for_release ON pdbx_deposition_message_status (for_release)",
    "CREATE TRIGGER IF NOT EXISTS trg_status_updated_at AFTER UPDATE ON pdbx_deposition_message_status
    FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at AND (
        NEW.deposition_data_set_id IS NOT OLD.deposition_data_set_id OR NEW.read_status IS NOT OLD.read_status
        OR NEW.action_reqd IS NOT OLD.action_reqd OR NEW.for_release IS NOT OLD.for_release)
    BEGIN UPDATE pdbx_deposition_message_status SET updated_at = CURRENT_TIMESTAMP WHERE message_id = NEW.message_id; END",
];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::drop_tables(manager, &super::APP_TABLES).await
    }
}
