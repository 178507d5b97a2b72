use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// `verify` reads every table by the deposition each row is filed under. MySQL's
// origcomm table has had `idx_deposition_id` since `000002` (the upstream layout has
// `idx_origcomm_deposition_id`); SQLite's had only the message-id index, so each chunk of a
// verify pass scanned the whole table.
const MYSQL: &[&str] = &[];

const SQLITE: &[&str] = &["CREATE INDEX IF NOT EXISTS idx_origcomm_deposition_id \
     ON pdbx_deposition_message_origcomm_reference (deposition_data_set_id)"];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql: &[&str] = &["DROP INDEX IF EXISTS idx_origcomm_deposition_id"];
        super::run_all(manager, &[], sql).await
    }
}
