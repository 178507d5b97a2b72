use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// The status-change time (st_ctime) of each ledger file (super::super::archive::ctime_ns).
// A re-run skips a deposition only when its files' ctimes are those of the last load as well:
// an in-place edit whose mtime and size were put back moves the ctime. Rows
// written before this migration have NULL: they are compared by size and mtime alone until the
// deposition is loaded again.
const BOTH: &[&str] = &["ALTER TABLE msgmig_file_ledger ADD COLUMN ctime_ns BIGINT NULL"];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, BOTH, BOTH).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE msgmig_file_ledger DROP COLUMN ctime_ns")
            .await
            .map(|_| ())
    }
}
