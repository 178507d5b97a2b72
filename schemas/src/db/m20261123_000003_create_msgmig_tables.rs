use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// msgmig_message_provenance: one row per message msgmig loaded. `deposition_id` is the owning
//   folder (conflict detection), `generation` guards against stale records, `record_sha256` makes
//   an unchanged re-run a read-only no-op.
// msgmig_depositions: last outcome per deposition folder (progress, verify, status).
// msgmig_quarantine: what was withheld and why, with file position (one row per problem).
// msgmig_consumer_offsets: loader positions stored in the same transaction as the data
//   (exactly-once effect over Kafka).
const MYSQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS msgmig_message_provenance (
    message_id VARCHAR(64) NOT NULL PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    record_sha256 CHAR(64) NOT NULL,
    source_path VARCHAR(512) NOT NULL,
    file_version INT NOT NULL,
    file_size BIGINT NOT NULL,
    file_mtime_ns BIGINT NOT NULL,
    file_sha256 CHAR(64) NOT NULL,
    original_parent_message_id VARCHAR(255) NULL,
    loaded_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    INDEX idx_msgmig_prov_deposition (deposition_id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS msgmig_depositions (
    deposition_id VARCHAR(50) NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL,
    state VARCHAR(20) NOT NULL,
    files INT NOT NULL,
    messages INT NOT NULL,
    conflicts INT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS msgmig_quarantine (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    message_id VARCHAR(64) NULL,
    path VARCHAR(512) NULL,
    file_version INT NULL,
    line_number INT NULL,
    column_number INT NULL,
    reason TEXT NOT NULL,
    generation BIGINT NOT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX idx_msgmig_quarantine_deposition (deposition_id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS msgmig_consumer_offsets (
    consumer_group VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    partition_id INT NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (consumer_group, topic, partition_id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS msgmig_message_provenance (
    message_id VARCHAR(64) NOT NULL PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    record_sha256 CHAR(64) NOT NULL,
    source_path VARCHAR(512) NOT NULL,
    file_version INT NOT NULL,
    file_size BIGINT NOT NULL,
    file_mtime_ns BIGINT NOT NULL,
    file_sha256 CHAR(64) NOT NULL,
    original_parent_message_id VARCHAR(255) NULL,
    loaded_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_msgmig_prov_deposition ON msgmig_message_provenance (deposition_id)",
    "CREATE TABLE IF NOT EXISTS msgmig_depositions (
    deposition_id VARCHAR(50) NOT NULL PRIMARY KEY,
    generation BIGINT NOT NULL,
    state VARCHAR(20) NOT NULL,
    files INT NOT NULL,
    messages INT NOT NULL,
    conflicts INT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE TABLE IF NOT EXISTS msgmig_quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deposition_id VARCHAR(50) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    message_id VARCHAR(64) NULL,
    path VARCHAR(512) NULL,
    file_version INT NULL,
    line_number INT NULL,
    column_number INT NULL,
    reason TEXT NOT NULL,
    generation BIGINT NOT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE INDEX IF NOT EXISTS idx_msgmig_quarantine_deposition ON msgmig_quarantine (deposition_id)",
    "CREATE TABLE IF NOT EXISTS msgmig_consumer_offsets (
    consumer_group VARCHAR(255) NOT NULL,
    topic VARCHAR(255) NOT NULL,
    partition_id INT NOT NULL,
    next_offset BIGINT NOT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (consumer_group, topic, partition_id)
)",
];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            "msgmig_message_provenance",
            "msgmig_depositions",
            "msgmig_quarantine",
            "msgmig_consumer_offsets",
        ];
        super::drop_tables(manager, &tables).await
    }
}
