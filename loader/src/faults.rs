//! How the loader tells database failures apart: an outage waits, a lock conflict retries, a
//! refused value is isolated and quarantined, anything else stops the loader. The policy that
//! acts on it is `crate::retry`.

use sea_orm::DbErr;
use std::time::Duration;

/// What a database error means for the loader, decided by error number (MySQL/MariaDB) or
/// extended result code (SQLite), never by message text: "Incorrect key file for table" and
/// "Incorrect string value" read alike and mean opposite things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The server is unreachable or the connection broke: wait for it, never give up, never
    /// dead-letter.
    Outage,
    /// Worth a few more attempts: a lock conflict, or two partitions inserting one message id at
    /// once (replanning turns it into a conflict).
    Transient,
    /// The server refused the data itself (too long, out of range, bad value, a missing parent):
    /// the deposition is isolated and quarantined.
    Content,
    /// Anything else (a missing table or privilege, a broken table, a bug): stop with the error.
    Fatal,
}

/// MySQL/MariaDB server errors that mean the connection or the server went away
/// (MariaDB/MySQL error reference: server error codes 1000–1999, client 2000–2999).
pub(crate) const MYSQL_OUTAGE: &[u16] = &[
    1040, // ER_CON_COUNT_ERROR: too many connections
    1053, // ER_SERVER_SHUTDOWN
    1152, // ER_ABORTING_CONNECTION
    1184, // ER_NEW_ABORTING_CONNECTION
    1927, // ER_CONNECTION_KILLED (MariaDB)
    2002, 2003, 2006, 2013, 2055, // client: cannot connect, gone away, lost connection
    4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
];

/// MySQL/MariaDB errors worth retrying the batch for.
const MYSQL_TRANSIENT: &[u16] = &[
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1020, // ER_CHECKREAD: record changed since last read
    1022, 1062, 1169, 1586, // duplicate key: a concurrent insert of the same id
    1467, // ER_AUTOINC_READ_FAILED: seen with parallel loaders inserting into a new table
];

/// MySQL/MariaDB errors that refuse a value or a row (strict mode).
const MYSQL_CONTENT: &[u16] = &[
    1048, // ER_BAD_NULL_ERROR
    1118, // ER_TOO_BIG_ROWSIZE
    1153, // ER_NET_PACKET_TOO_LARGE
    1216, 1452, // foreign key: no parent row
    1264, // ER_WARN_DATA_OUT_OF_RANGE
    1265, // WARN_DATA_TRUNCATED
    1292, // ER_TRUNCATED_WRONG_VALUE (a bad DATETIME)
    1301, // ER_WARN_ALLOWED_PACKET_OVERFLOWED
    1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (incorrect string/integer value)
    1367, // ER_ILLEGAL_VALUE_FOR_TYPE
    1406, // ER_DATA_TOO_LONG
    3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
    4025, // ER_CONSTRAINT_FAILED (MariaDB)
];

/// Classifies `e` by its code. Connection-level failures of the driver (I/O, TLS, a pool
/// timeout or a closed pool, a protocol error after a server crash) are outages.
pub fn classify(e: &DbErr) -> Fault {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::RuntimeErr;
    let sqlx = match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => return Fault::Outage,
        DbErr::Exec(RuntimeErr::SqlxError(x)) | DbErr::Query(RuntimeErr::SqlxError(x)) => x,
        _ => return Fault::Fatal,
    };
    match &**sqlx {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => Fault::Outage,
        Sqlx::Database(d) => {
            if let Some(my) = d.try_downcast_ref::<sea_orm::sqlx::mysql::MySqlDatabaseError>() {
                let n = my.number();
                if MYSQL_OUTAGE.contains(&n) {
                    Fault::Outage
                } else if MYSQL_TRANSIENT.contains(&n) {
                    Fault::Transient
                } else if MYSQL_CONTENT.contains(&n) {
                    Fault::Content
                } else {
                    Fault::Fatal
                }
            } else if d
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some()
            {
                let code: i32 = d.code().and_then(|c| c.parse().ok()).unwrap_or(0);
                sqlite_fault(code)
            } else {
                Fault::Fatal
            }
        }
        _ => Fault::Fatal,
    }
}

/// SQLite extended result codes (<https://www.sqlite.org/rescode.html>).
fn sqlite_fault(code: i32) -> Fault {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const TOOBIG: i32 = 18;
    const CONSTRAINT: i32 = 19;
    const MISMATCH: i32 = 20;
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    match (code & 0xff, code) {
        (BUSY | LOCKED, _) => Fault::Transient,
        (CONSTRAINT, CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE) => Fault::Transient,
        (CONSTRAINT | TOOBIG | MISMATCH, _) => Fault::Content,
        (IOERR | FULL | CANTOPEN, _) => Fault::Outage,
        _ => Fault::Fatal,
    }
}

/// The error for a batch the server did not answer within `bound` (an outage).
pub(crate) fn no_answer(bound: Duration) -> DbErr {
    DbErr::Conn(sea_orm::RuntimeErr::Internal(format!(
        "the database did not answer within {} s",
        bound.as_secs()
    )))
}
