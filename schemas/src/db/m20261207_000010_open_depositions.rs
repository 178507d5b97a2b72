use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// What the loader knows about a deposition between batches, written in the same transaction as
// the batch and its consumed offsets, so whichever loader gets the partition next (after a crash
// or a rebalance) finishes the deposition exactly as the first would have:
//
// msgmig_open_depositions: one row per (deposition folder, generation) whose records arrived
//   without their end marker yet; `refusal` is the JSON of the quarantine when one of them was
//   refused (too large for the server, unfit for the origcomm layout): the end marker then
//   records the deposition as quarantined and writes none of its rows.
// msgmig_staged_records: the records of those open depositions (JSON, in parts of at most
//   `part` bytes so a part always fits in one packet), applied with the end marker in one
//   transaction: the application never sees part of a deposition.
// msgmig_dead_letters: every dead letter of the loader, written in the transaction that decided
//   it (an outbox). `letter_key` is its identity (SHA-256 hex), so re-applying the same records
//   records no second letter; `pending` is 1 while a Kafka loader still has to publish it.
// msgmig_message_provenance.counted_in / counted_as: the one-shot run that last counted the
//   message in its summary, and what it counted it as: a later claimant in the same run that
//   takes the id over moves exactly that to `conflicts`.
const MYSQL: &[&str] = &[
    "ALTER TABLE msgmig_message_provenance ADD COLUMN counted_in VARCHAR(64) NULL, ADD COLUMN counted_as VARCHAR(32) NULL",
    "CREATE TABLE IF NOT EXISTS msgmig_open_depositions (
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    refusal LONGTEXT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    PRIMARY KEY (deposition_id, generation)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS msgmig_staged_records (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    part INT NOT NULL,
    parts INT NOT NULL,
    payload LONGBLOB NOT NULL,
    INDEX idx_msgmig_staged_deposition (deposition_id, generation, id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "CREATE TABLE IF NOT EXISTS msgmig_dead_letters (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    letter_key CHAR(64) NOT NULL,
    stage VARCHAR(20) NOT NULL,
    reason VARCHAR(32) NOT NULL,
    deposition_id VARCHAR(50) NULL,
    letter LONGTEXT NOT NULL,
    pending SMALLINT NOT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE KEY uq_msgmig_dead_letters_key (letter_key),
    INDEX idx_msgmig_dead_letters_pending (pending, id)
) ENGINE=InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE msgmig_message_provenance ADD COLUMN counted_in VARCHAR(64) NULL",
    "ALTER TABLE msgmig_message_provenance ADD COLUMN counted_as VARCHAR(32) NULL",
    "CREATE TABLE IF NOT EXISTS msgmig_open_depositions (
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    refusal TEXT NULL,
    updated_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (deposition_id, generation)
)",
    "CREATE TABLE IF NOT EXISTS msgmig_staged_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    deposition_id VARCHAR(50) NOT NULL,
    generation BIGINT NOT NULL,
    part INT NOT NULL,
    parts INT NOT NULL,
    payload BLOB NOT NULL
)",
    "CREATE INDEX IF NOT EXISTS idx_msgmig_staged_deposition ON msgmig_staged_records (deposition_id, generation, id)",
    "CREATE TABLE IF NOT EXISTS msgmig_dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    letter_key CHAR(64) NOT NULL,
    stage VARCHAR(20) NOT NULL,
    reason VARCHAR(32) NOT NULL,
    deposition_id VARCHAR(50) NULL,
    letter TEXT NOT NULL,
    pending SMALLINT NOT NULL,
    created_at TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP
)",
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_msgmig_dead_letters_key ON msgmig_dead_letters (letter_key)",
    "CREATE INDEX IF NOT EXISTS idx_msgmig_dead_letters_pending ON msgmig_dead_letters (pending, id)",
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
            "msgmig_open_depositions",
            "msgmig_staged_records",
            "msgmig_dead_letters",
        ];
        super::drop_tables(manager, &tables).await?;
        for column in ["counted_in", "counted_as"] {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE msgmig_message_provenance DROP COLUMN {column}"
                ))
                .await?;
        }
        Ok(())
    }
}
