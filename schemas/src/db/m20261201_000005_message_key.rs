use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

// The collation key of each stored message id (super::collation::message_key). On MySQL the
// app table's UNIQUE key already compares ids by collation: the key only serves lookups. On
// SQLite, which compares bytes, the unique index makes the database refuse a second row for an
// id MySQL would refuse. Rows written before this migration have no key until rewritten.
// The loader writes the key on SQLite only (a NULL costs MySQL's index nothing: it appends).
const MYSQL: &[&str] = &[
    "ALTER TABLE msgmig_message_provenance ADD COLUMN message_key VARCHAR(255) NULL",
    "CREATE INDEX idx_msgmig_provenance_key ON msgmig_message_provenance (message_key)",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE msgmig_message_provenance ADD COLUMN message_key VARCHAR(255) NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_msgmig_provenance_key ON msgmig_message_provenance (message_key)",
];

// async_trait's expansion needs the elided lifetime the 2018 idioms lint dislikes.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        super::run_all(manager, MYSQL, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE msgmig_message_provenance DROP COLUMN message_key")
            .await
            .map(|_| ())
    }
}
