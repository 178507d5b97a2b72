//! A table's rows sent with `LOAD DATA LOCAL INFILE` (MySQL and MariaDB only), the protocol
//! a first backfill loads fastest with.
//!
//! Why: MariaDB's bulk insert into an empty table (unique and foreign key checks off, one
//! transaction) buffers the rows of *one statement* and builds every index sorted when it ends;
//! rows spread over many multi-row `INSERT`s are inserted one by one into each index. One
//! `LOAD DATA` statement per table carries any number of rows, streamed. sqlx cannot answer the
//! server's request for the file, so this one statement per table goes through `mysql_async`.
//!
//! Format (the statement's defaults, MySQL manual "LOAD DATA Statement"): fields separated by
//! a tab, rows by a newline, `\` escapes a backslash, tab, newline, carriage return and NUL,
//! `\N` is NULL; the bytes are UTF-8 (`CHARACTER SET utf8mb4`).
//!
//! With `LOCAL`, the server turns a value it cannot store into a warning instead of an error
//! (it cannot stop the client mid-file). A table whose load warns is rolled back and reported
//! as [`Loaded::Declined`]: the caller loads it with `INSERT`s, which fail as they always did.

use bytes::{BufMut, Bytes, BytesMut};
use sea_orm::{DbErr, RuntimeErr, Value};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bytes of encoded rows per chunk handed to the driver, at most: the driver sends a chunk as
/// one packet, which the server refuses above its `max_allowed_packet`. The server reads the
/// packets as one stream, so a row may straddle two.
const CHUNK: usize = 1 << 20;

/// What [`load`] did with a table.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// The table's rows, committed.
    Rows(u64),
    /// Nothing kept: the server does not take `LOAD DATA LOCAL` (disabled, or the URL is one
    /// the driver cannot read: `for_all`), or it warned about a value of this table.
    Declined { reason: String, for_all: bool },
}

/// Appends `v` to `out` as one field of the format above. Errors on a type no msgmig column
/// has.
pub(crate) fn encode_field(v: &Value, out: &mut BytesMut) -> Result<(), String> {
    fn text(s: &str, out: &mut BytesMut) {
        for &b in s.as_bytes() {
            match b {
                b'\\' => out.put_slice(b"\\\\"),
                b'\t' => out.put_slice(b"\\t"),
                b'\n' => out.put_slice(b"\\n"),
                b'\r' => out.put_slice(b"\\r"),
                0 => out.put_slice(b"\\0"),
                b => out.put_u8(b),
            }
        }
    }
    fn num(n: impl std::fmt::Display, out: &mut BytesMut) {
        out.put_slice(n.to_string().as_bytes());
    }
    const NULL: &[u8] = b"\\N";
    match v {
        Value::String(Some(s)) => text(s, out),
        Value::Int(Some(n)) => num(n, out),
        Value::BigInt(Some(n)) => num(n, out),
        Value::Unsigned(Some(n)) => num(n, out),
        Value::BigUnsigned(Some(n)) => num(n, out),
        Value::SmallInt(Some(n)) => num(n, out),
        Value::TinyInt(Some(n)) => num(n, out),
        Value::Bool(Some(b)) => num(u8::from(*b), out),
        Value::ChronoDateTime(Some(t)) => text(&t.format("%Y-%m-%d %H:%M:%S%.f").to_string(), out),
        Value::String(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::Unsigned(None)
        | Value::BigUnsigned(None)
        | Value::SmallInt(None)
        | Value::TinyInt(None)
        | Value::Bool(None)
        | Value::ChronoDateTime(None) => out.put_slice(NULL),
        other => return Err(format!("no LOAD DATA encoding for {other:?}")),
    }
    Ok(())
}

/// Appends one row (its fields in column order) and its newline.
pub(crate) fn encode_row(row: &[Value], out: &mut BytesMut) -> Result<(), String> {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.put_u8(b'\t');
        }
        encode_field(v, out)?;
    }
    out.put_u8(b'\n');
    Ok(())
}

/// The rows of one table: called on a blocking thread until it returns `Ok(None)`.
pub(crate) type RowSource = Box<dyn FnMut() -> Result<Option<Vec<Value>>, DbErr> + Send>;

/// Server error numbers that mean "this server does not take LOAD DATA LOCAL" (MariaDB and
/// MySQL error references): 1148 ER_NOT_ALLOWED_COMMAND, 3948 ER_CLIENT_LOCAL_FILES_DISABLED,
/// 4166 ER_LOAD_INFILE_CAPABILITY_DISABLED.
const NOT_TAKEN: [u16; 3] = [1148, 3948, 4166];

/// Loads `rows` into `table` (`columns` in the rows' order) in one transaction of its own, on
/// a new connection to `url` with unique and foreign key checks off, in packets of at most
/// half `packet_limit` (the server's `max_allowed_packet`, bytes). `sent` counts the rows
/// encoded so far (for progress); `first_chunk` runs once the first chunk of rows is on its way
/// (a crash point: the statement is then open on the server).
///
/// Errors: the connection's or the server's, as [`DbErr::Conn`] when the server is unreachable
/// (the caller waits the outage out), otherwise [`DbErr::Custom`]; a row source's error.
pub(crate) async fn load(
    url: &str,
    table: &str,
    columns: &[&str],
    mut rows: RowSource,
    packet_limit: usize,
    sent: Arc<AtomicU64>,
    first_chunk: Box<dyn FnOnce() + Send>,
) -> Result<Loaded, DbErr> {
    use mysql_async::prelude::Queryable;
    let opts = match mysql_async::Opts::from_url(url) {
        Ok(opts) => opts,
        Err(e) => {
            return Ok(Loaded::Declined {
                reason: format!("the driver cannot read the URL: {e}"),
                for_all: true,
            })
        }
    };
    let mut conn = mysql_async::Conn::new(opts).await.map_err(db_err)?;
    conn.query_drop("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        .await
        .map_err(db_err)?;
    conn.query_drop("START TRANSACTION").await.map_err(db_err)?;

    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
    let failed: Arc<std::sync::Mutex<Option<DbErr>>> = Arc::default();
    let producer_failed = failed.clone();
    let chunk = CHUNK.min(packet_limit / 2).max(1024);
    let producer = tokio::task::spawn_blocking(move || {
        let mut buf = BytesMut::with_capacity(chunk * 2);
        let mut first = Some(first_chunk);
        // Sends `buf` in chunks of at most `chunk` bytes (all of it when `all`, else while a
        // whole chunk is there); false when the statement stopped reading.
        let send = |buf: &mut BytesMut, all: bool, first: &mut Option<Box<dyn FnOnce() + Send>>| {
            while buf.len() >= chunk || (all && !buf.is_empty()) {
                let part = buf.split_to(buf.len().min(chunk)).freeze();
                if tx.blocking_send(Ok(part)).is_err() {
                    return false;
                }
                if let Some(first) = first.take() {
                    first();
                }
            }
            true
        };
        loop {
            match rows() {
                Ok(Some(row)) => {
                    if let Err(e) = encode_row(&row, &mut buf) {
                        *producer_failed.lock().expect("lock") = Some(DbErr::Custom(e));
                        let _ =
                            tx.blocking_send(Err(io::Error::other("a row could not be encoded")));
                        return;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    if !send(&mut buf, false, &mut first) {
                        return;
                    }
                }
                Ok(None) => {
                    send(&mut buf, true, &mut first);
                    return;
                }
                Err(e) => {
                    *producer_failed.lock().expect("lock") = Some(e);
                    let _ =
                        tx.blocking_send(Err(io::Error::other("reading the spill file failed")));
                    return;
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    conn.set_infile_handler(async move { Ok(Box::pin(stream) as mysql_async::InfileData) });

    let statement = format!(
        "LOAD DATA LOCAL INFILE 'msgmig-{table}' INTO TABLE {table} CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        columns.join(", ")
    );
    let result = conn.query_drop(statement).await;
    // On an error the handler may never have been polled: dropping the connection drops the
    // stream, which ends the producer.
    let mut conn = match result {
        Ok(()) => Some(conn),
        Err(_) => None,
    };
    producer
        .await
        .map_err(|e| DbErr::Custom(format!("encoding rows for {table}: {e}")))?;
    if let Some(e) = failed.lock().expect("lock").take() {
        return Err(e);
    }
    let conn = match (result, conn.take()) {
        (Ok(()), Some(conn)) => conn,
        (Err(mysql_async::Error::Server(e)), _) if NOT_TAKEN.contains(&e.code) => {
            return Ok(Loaded::Declined {
                reason: format!("the server refuses LOAD DATA LOCAL: {e}"),
                for_all: true,
            });
        }
        (Err(e), _) => return Err(db_err(e)),
        (Ok(()), None) => unreachable!("a loaded table keeps its connection"),
    };
    let mut conn = conn;
    let (affected, warnings) = (conn.affected_rows(), conn.get_warnings());
    if warnings > 0 {
        let first: Option<(String, u32, String)> = conn
            .query_first("SHOW WARNINGS LIMIT 1")
            .await
            .map_err(db_err)?;
        conn.query_drop("ROLLBACK").await.map_err(db_err)?;
        conn.disconnect().await.ok();
        let first = first.map(|(level, code, message)| format!("{level} {code}: {message}"));
        return Ok(Loaded::Declined {
            reason: format!(
                "the server reported {warnings} warnings (first: {})",
                first.unwrap_or_default()
            ),
            for_all: false,
        });
    }
    conn.query_drop("COMMIT").await.map_err(db_err)?;
    conn.disconnect().await.ok();
    Ok(Loaded::Rows(affected))
}

/// A driver error as the loader's retry policy reads it ([`crate::faults::classify`]): the
/// connection lost or refused, or a server error of the outage kind, is an outage.
fn db_err(e: mysql_async::Error) -> DbErr {
    let outage = match &e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => crate::faults::MYSQL_OUTAGE.contains(&s.code),
        _ => false,
    };
    let text = format!("LOAD DATA LOCAL: {e}");
    if outage {
        DbErr::Conn(RuntimeErr::Internal(text))
    } else {
        DbErr::Custom(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(row: Vec<Value>) -> String {
        let mut out = BytesMut::new();
        encode_row(&row, &mut out).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn separators_backslashes_and_nul_are_escaped_and_null_is_backslash_n() {
        let row = vec![
            Value::String(Some("a\tb\nc\\d\re\0f".into())),
            Value::String(None),
            Value::String(Some("\\N".into())),
            Value::String(Some(String::new())),
            Value::BigInt(Some(-7)),
        ];
        assert_eq!(encoded(row), "a\\tb\\nc\\\\d\\re\\0f\t\\N\t\\\\N\t\t-7\n");
    }

    #[test]
    fn datetimes_keep_their_fraction_only_when_they_have_one() {
        let t = chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
            .unwrap()
            .and_hms_micro_opt(23, 5, 9, 0)
            .unwrap();
        let with = t + chrono::Duration::microseconds(250);
        assert_eq!(
            encoded(vec![
                Value::ChronoDateTime(Some(t)),
                Value::ChronoDateTime(Some(with))
            ]),
            "2024-02-29 23:05:09\t2024-02-29 23:05:09.000250\n"
        );
    }
}
