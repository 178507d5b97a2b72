//! Opening the database and managing its schema (MySQL/MariaDB or SQLite, chosen by URL scheme).

use crate::faults::{classify, Fault};
use msgmig_schemas::db::{Migrator, ALL_TABLES};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

/// Opens `url` (`mysql://user:pass@host:port/db` or `sqlite://path?mode=rwc`).
///
/// SQLite gets one connection (a single writer), WAL journaling and foreign keys on; MySQL a
/// pool of up to [`MYSQL_POOL`] connections, opened as they are needed.
/// Errors: unreachable server, bad credentials, unknown database.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    open(url, true, DEFAULT_CONNECT_TIMEOUT).await
}

/// Connections a MySQL pool may open: every loader holds one through its transaction, and the
/// progress and scan-pass recorders need one now and then; a pool smaller than the loaders made
/// them wait for each other (`--loaders 8` with 4 connections: "time to acquire exceeded").
pub const MYSQL_POOL: u32 = 16;

/// How long [`connect`] waits for a server by default.
pub const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// [`connect`] (or [`connect_reader`] when `writer` is false), waiting at most `timeout` for a
/// MySQL server. A failure names the real cause ("Connection refused", "timed out after 60 s
/// connecting to db:3306", "Access denied …") rather than the pool's "pool timed out": one
/// direct connection is tried first.
pub async fn connect_within(
    url: &str,
    writer: bool,
    timeout: std::time::Duration,
) -> Result<DatabaseConnection, DbErr> {
    if url.starts_with("mysql:") {
        probe_mysql(url, timeout).await?;
    }
    open(url, writer, timeout).await
}

async fn probe_mysql(url: &str, timeout: std::time::Duration) -> Result<(), DbErr> {
    use sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    use std::str::FromStr;
    let internal = |m: String| DbErr::Conn(sea_orm::RuntimeErr::Internal(m));
    let options = MySqlConnectOptions::from_str(url)
        .map_err(|e| internal(format!("invalid MySQL URL: {e}")))?;
    let place = match options.get_socket() {
        Some(socket) => format!("socket {}", socket.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    match tokio::time::timeout(timeout, options.connect()).await {
        Err(_) => Err(internal(format!(
            "timed out after {} s connecting to {place} (--db-timeout)",
            timeout.as_secs()
        ))),
        Ok(Err(e)) => Err(internal(format!("cannot connect to {place}: {e}"))),
        Ok(Ok(conn)) => {
            let _ = MySqlConnection::close(conn).await;
            Ok(())
        }
    }
}

/// Opens `url` for reading only (`verify`, `export`): never switches a SQLite file's journal
/// mode, so a reader cannot collide with a writer that is creating or loading the file.
pub async fn connect_reader(url: &str) -> Result<DatabaseConnection, DbErr> {
    open(url, false, DEFAULT_CONNECT_TIMEOUT).await
}

/// Opens `url` as one connection, for work whose session settings must hold for every
/// statement it sends (a bulk load's: [`crate::bulk`]). On SQLite, where a writer is one
/// connection anyway, the same as [`connect_within`].
pub async fn connect_session(
    url: &str,
    timeout: std::time::Duration,
) -> Result<DatabaseConnection, DbErr> {
    open_pool(url, true, timeout, 1).await
}

async fn open(
    url: &str,
    writer: bool,
    timeout: std::time::Duration,
) -> Result<DatabaseConnection, DbErr> {
    open_pool(url, writer, timeout, MYSQL_POOL).await
}

/// Opens a pool of at most `connections` (always 1 on SQLite).
async fn open_pool(
    url: &str,
    writer: bool,
    timeout: std::time::Duration,
    connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(if sqlite { 1 } else { connections })
        .min_connections(1)
        .sqlx_logging(false)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        // Per connection: wait for a writer instead of failing (a `verify` beside a `run`),
        // foreign keys on (the app tables rely on them), fsync per WAL checkpoint only.
        .map_sqlx_sqlite_opts(|o| {
            o.busy_timeout(std::time::Duration::from_secs(30))
                .foreign_keys(true)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    let db = Database::connect(options).await?;
    if writer && db.get_database_backend() == DbBackend::Sqlite {
        // Switching to WAL takes an exclusive lock that busy_timeout cannot wait for: do it only
        // when the file is not in WAL yet. Two processes opening a new file at once (a `run` and
        // a `verify`) can both try; the loser backs off and sees the winner's switch.
        let backend = db.get_database_backend();
        let mut attempt = 0;
        loop {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    backend,
                    "PRAGMA journal_mode",
                ))
                .await?;
            let mode: String = row
                .map(|r| r.try_get_by_index(0))
                .transpose()?
                .unwrap_or_default();
            if mode.eq_ignore_ascii_case("wal") {
                break;
            }
            match db.execute_unprepared("PRAGMA journal_mode = WAL").await {
                Ok(_) => break,
                Err(e) if attempt < 50 && classify(&e) == Fault::Transient => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(db)
}

/// Creates the MySQL database the URL names when it does not exist, with the character set and
/// collation of the old `init_messaging_database.py` (`utf8mb4`, `utf8mb4_unicode_ci`). A no-op
/// for SQLite (the file is created on first use). Returns whether it was created.
///
/// Errors: the server is unreachable (within `timeout`), the user may not create databases, or
/// the name holds a backtick.
pub async fn create_database_if_missing(
    url: &str,
    timeout: std::time::Duration,
) -> Result<bool, DbErr> {
    if !url.starts_with("mysql:") {
        return Ok(false);
    }
    let internal = |m: String| DbErr::Custom(m);
    let mut server = url::Url::parse(url).map_err(|e| internal(format!("invalid URL: {e}")))?;
    let name = server.path().trim_start_matches('/').to_owned();
    let name = percent_decode(&name);
    if name.is_empty() {
        return Ok(false);
    }
    if name.contains('`') {
        return Err(internal(format!("database name {name:?} holds a backtick")));
    }
    server.set_path("");
    let conn = connect_within(server.as_str(), true, timeout).await?;
    let exists = conn
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            DbBackend::MySql,
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        conn.execute_unprepared(&format!(
            "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await?;
    }
    conn.close().await?;
    Ok(!exists)
}

/// A URL path segment percent-decoded (RFC 3986: `+` is a plus sign there, not a space).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Applies pending migrations (creates every table on an empty database).
///
/// Several processes may start on one empty database at once (the loaders of one consumer
/// group). Each reads the pending migrations once and then applies them, so without a lock a
/// process that starts while another is half-way would re-apply an `ALTER TABLE` ("1060
/// Duplicate column name"). So the migrations run one process at a time:
/// - on MySQL, under a server-wide named lock per database (`GET_LOCK`, MySQL reference manual,
///   "Locking Functions"), held by one connection of the pool and released with it, so a process
///   killed mid-migration never leaves it held. MySQL's DDL is not transactional;
/// - on SQLite, in one `BEGIN IMMEDIATE` transaction (SQLite's DDL is), which waits for the
///   database's write lock (the connection's busy timeout) and applies all or nothing.
///
/// The second process then finds nothing pending.
///
/// Errors: a migration fails; or (MySQL) another process held the lock for
/// [`SCHEMA_LOCK_WAIT`] (its migration still running, or stuck).
pub async fn init(db: &DatabaseConnection) -> Result<(), DbErr> {
    let mut attempt = 0;
    loop {
        let outcome = match db.get_database_backend() {
            DbBackend::MySql => match SchemaLock::acquire(db).await {
                Ok(lock) => {
                    let outcome = Migrator::up(db, None).await;
                    lock.release().await;
                    outcome
                }
                Err(e) => Err(e),
            },
            _ => {
                let options = sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..Default::default()
                };
                match db.begin_with_options(options).await {
                    Ok(txn) => match Migrator::up(&txn, None).await {
                        Ok(()) => txn.commit().await,
                        Err(e) => {
                            let _ = txn.rollback().await;
                            Err(e)
                        }
                    },
                    Err(e) => Err(e),
                }
            }
        };
        match outcome {
            Err(e) if attempt < 10 && classify(&e) == Fault::Transient => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// How long [`init`] waits for another process's migrations on the same MySQL database.
pub const SCHEMA_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// The SQL expression naming [`SchemaLock`]: one lock per database on the server, at most 64
/// characters (MySQL's limit on lock names), so a long database name is replaced by its SHA-1.
macro_rules! schema_lock_name {
    () => {
        "CONCAT('msgmig.schema.', IF(CHAR_LENGTH(DATABASE()) > 50, SHA1(DATABASE()), DATABASE()))"
    };
}

/// The named lock that serialises migrations on one MySQL database, held by one pooled
/// connection taken out of the pool for as long as the lock is held.
struct SchemaLock {
    conn: sea_orm::sqlx::pool::PoolConnection<sea_orm::sqlx::MySql>,
}

impl SchemaLock {
    const GET: &'static str = concat!("SELECT GET_LOCK(", schema_lock_name!(), ", ?)");
    const RELEASE: &'static str = concat!("DO RELEASE_LOCK(", schema_lock_name!(), ")");

    async fn acquire(db: &DatabaseConnection) -> Result<Self, DbErr> {
        use sea_orm::sqlx::Row as _;
        let sqlx_err =
            |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
        let mut conn = db
            .get_mysql_connection_pool()
            .acquire()
            .await
            .map_err(sqlx_err)?;
        let row = sea_orm::sqlx::query(Self::GET)
            .bind(SCHEMA_LOCK_WAIT.as_secs())
            .fetch_one(&mut *conn)
            .await
            .map_err(sqlx_err)?;
        let got: Option<i64> = row.try_get(0).map_err(sqlx_err)?;
        match got {
            Some(1) => Ok(SchemaLock { conn }),
            _ => Err(DbErr::Migration(format!(
                "another process has held the schema lock of this database for {} s while \
                 creating or upgrading its tables; wait for it to finish (or find it with \
                 `SELECT IS_USED_LOCK('msgmig.schema.<database>')` and SHOW PROCESSLIST), \
                 then start again",
                SCHEMA_LOCK_WAIT.as_secs()
            ))),
        }
    }

    /// Releases the lock. A failure is left alone: the lock goes with the connection, which is
    /// closed instead of going back to the pool.
    async fn release(mut self) {
        if sea_orm::sqlx::query(Self::RELEASE)
            .execute(&mut *self.conn)
            .await
            .is_err()
        {
            let _ = self.conn.close().await;
        }
    }
}

/// Drops every msgmig table (app tables included) and the migration ledger: `--drop-and-recreate`.
pub async fn drop_all(db: &DatabaseConnection) -> Result<(), DbErr> {
    for table in ALL_TABLES.iter().rev() {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
            .await?;
    }
    db.execute_unprepared("DROP TABLE IF EXISTS msgmig_schema_migrations")
        .await?;
    Ok(())
}

/// Applied and pending migration names.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let migrations = Migrator::get_migration_with_status(db).await?;
    Ok(migrations
        .iter()
        .map(|m| {
            (
                m.name().to_owned(),
                m.status() == sea_orm_migration::MigrationStatus::Applied,
            )
        })
        .collect())
}

/// Tables of [`ALL_TABLES`] that are missing (empty when the schema is complete).
pub async fn missing_tables(db: &DatabaseConnection) -> Result<Vec<&'static str>, DbErr> {
    let mut missing = Vec::new();
    for table in ALL_TABLES {
        let probe = format!("SELECT 1 FROM {table} WHERE 1 = 0");
        if db.execute_unprepared(&probe).await.is_err() {
            missing.push(table);
        }
    }
    Ok(missing)
}
