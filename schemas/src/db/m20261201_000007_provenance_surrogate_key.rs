use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// MySQL/MariaDB: msgmig_message_provenance was clustered on message_id, a random UUID, so every
// row (~300 bytes: two SHA-256s and a path) went to a random page of a tree that outgrows the
// buffer pool at 10^5 depositions. An AUTO_INCREMENT clustered key appends the rows; the
// message_id stays unique through a secondary index a quarter of the size (
// measured with scripts/bench-scale). The upserts key on the unique index as before. SQLite
// tables are already clustered on their rowid: nothing changes there.
const MYSQL: &[&str] = &["ALTER TABLE msgmig_message_provenance DROP PRIMARY KEY, \
     ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST, \
     ADD UNIQUE KEY uq_msgmig_prov_message_id (message_id)"];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, &[]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE msgmig_message_provenance DROP COLUMN id, \
                 DROP INDEX uq_msgmig_prov_message_id, ADD PRIMARY KEY (message_id)",
            )
            .await
            .map(|_| ())
    }
}
