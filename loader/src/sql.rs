//! SQL helpers shared by the loader and the read-only queries: statements built from data
//! (multi-row inserts, upserts, deletes by key) with `sea_query` for either dialect, chunked to
//! stay under the server's limits; reads by a list of keys (`… IN (…)`) in chunks.

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};

/// Rows per multi-row statement: far below MySQL's 65,535 placeholders and SQLite's 32,766.
pub const MAX_ROWS: usize = 400;
/// Bytes of values per statement: well under MySQL's default `max_allowed_packet` (16 MiB on
/// MariaDB 10.11, 64 MiB on MySQL 8). A server with a smaller packet lowers it: see
/// [`fit_statements_to_packet`].
pub const MAX_BYTES: usize = 4 << 20;

/// The bytes of values one multi-row statement may carry: [`MAX_BYTES`], or half the server's
/// `max_allowed_packet` when that is smaller (batches split to stay under it).
static STATEMENT_BYTES: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(MAX_BYTES);

/// Caps multi-row statements at half of `packet_limit` (the server's largest packet, bytes).
/// A single row larger than that still goes alone (it was checked against the full limit).
pub fn fit_statements_to_packet(packet_limit: usize) {
    STATEMENT_BYTES.store(
        MAX_BYTES.min(packet_limit / 2).max(64 * 1024),
        std::sync::atomic::Ordering::Relaxed,
    );
}

pub(crate) fn value_len(v: &Value) -> usize {
    match v {
        Value::String(Some(s)) => s.len(),
        _ => 8,
    }
}

/// Keys per `DELETE … WHERE column IN (…)`: MySQL estimates a list of up to
/// `eq_range_index_dive_limit` (200) values by diving into the index; past it, from index
/// statistics, which lag far behind a table that grows during a backfill and then make the
/// optimizer scan the whole table for every statement (seen: 900,000 rows examined for 74
/// ledger deletes at 20,000 depositions).
const DELETE_KEYS: usize = 100;

/// `DELETE FROM table WHERE column IN (keys)`, in statements of [`DELETE_KEYS`] keys (so an
/// index on `column` is used); returns rows deleted.
pub async fn delete_in<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    column: &str,
    keys: &[Value],
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let backend = conn.get_database_backend();
    let mut deleted = 0;
    for chunk in keys.chunks(DELETE_KEYS) {
        let delete = Query::delete()
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new(column)).is_in(chunk.iter().cloned()))
            .to_owned();
        deleted += conn
            .execute_raw(backend.build(&delete))
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

/// Stable-sorts rows by their first value, the column a table's B-tree is keyed on (a status's
/// or provenance's `message_id`, a ledger's path): a batch then walks each index in key order,
/// one visit per page, instead of jumping about a tree larger than the buffer pool. With random
/// UUID keys this is what keeps the load rate from falling as the tables grow.
/// Rows with equal keys keep their order (a message's file references keep their ordinal_id
/// order). Not for the info table, whose order is parents-first and sets `ordinal_id`.
pub fn sort_by_key(rows: &mut [Vec<Value>]) {
    fn key(row: &[Value]) -> &str {
        match row.first() {
            Some(Value::String(Some(s))) => s.as_str(),
            _ => "",
        }
    }
    rows.sort_by(|a, b| key(a).cmp(key(b)));
}

/// What an insert does with a row whose key is stored already.
#[derive(Debug, Clone, Copy)]
pub enum OnKey<'a> {
    /// Fails (the statement's error says which key).
    Fail,
    /// Keeps the stored row (`key`: the columns of the unique key).
    Keep { key: &'a [&'a str] },
    /// Updates `columns` of the stored row from the new one: MySQL's `ON DUPLICATE KEY UPDATE`,
    /// SQLite's `ON CONFLICT (key) DO UPDATE` (built by `sea_query`'s `OnConflict`).
    Update {
        key: &'a [&'a str],
        columns: &'a [&'a str],
    },
}

/// [`OnKey::Update`] of `columns` when the unique key of columns `key` exists.
pub fn upsert<'a>(key: &'a [&'a str], columns: &'a [&'a str]) -> OnKey<'a> {
    OnKey::Update { key, columns }
}

/// Multi-row `INSERT INTO table (columns) VALUES (…), (…)` of `rows` (values in `columns`'
/// order), built with `sea_query` for the connection's dialect, in statements of at most
/// [`MAX_ROWS`] rows and the statement byte budget; returns rows affected. `rows` is consumed a
/// statement at a time, so a lazy iterator holds only one statement's values in memory.
pub async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<Value>>,
    on_key: OnKey<'_>,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
    let backend = conn.get_database_backend();
    let conflict = match on_key {
        OnKey::Fail => None,
        OnKey::Update { key, columns } => Some(
            OnConflict::columns(key.iter().map(|c| Alias::new(*c)))
                .update_columns(columns.iter().map(|c| Alias::new(*c)))
                .to_owned(),
        ),
        OnKey::Keep { key } => Some(
            OnConflict::columns(key.iter().map(|c| Alias::new(*c)))
                // MySQL has no `DO NOTHING`: a no-op update of the key (sea_query's polyfill),
                // which, unlike `INSERT IGNORE`, still fails on any other error.
                .do_nothing_on(key.iter().map(|c| Alias::new(*c)))
                .to_owned(),
        ),
    };
    let mut affected = 0;
    let mut iter = rows.into_iter().peekable();
    while iter.peek().is_some() {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)));
        let (mut bytes, mut n) = (0, 0);
        while let Some(row) = iter.peek() {
            let len: usize = row.iter().map(value_len).sum();
            let budget = STATEMENT_BYTES.load(std::sync::atomic::Ordering::Relaxed);
            if n > 0 && (n >= MAX_ROWS || bytes + len > budget) {
                break;
            }
            let row = iter.next().expect("peeked");
            insert
                .values(row.into_iter().map(Expr::val))
                .map_err(|e| DbErr::Custom(format!("insert into {table}: {e}")))?;
            bytes += len;
            n += 1;
        }
        if let Some(conflict) = &conflict {
            insert.on_conflict(conflict.clone());
        }
        affected += conn
            .execute_raw(backend.build(&insert))
            .await?
            .rows_affected();
    }
    Ok(affected)
}

/// Runs `SELECT … WHERE column IN (…)` for `keys` in chunks and concatenates the rows.
/// `select` is everything before `IN`, e.g. `SELECT a, b FROM t WHERE t.k`.
pub async fn select_in<C: ConnectionTrait>(
    conn: &C,
    select: &str,
    keys: &[String],
) -> Result<Vec<QueryResult>, DbErr> {
    select_in_suffixed(conn, select, keys, "").await
}

/// [`select_in`] with `suffix` after the `IN` list (e.g. ` FOR UPDATE`).
pub async fn select_in_suffixed<C: ConnectionTrait>(
    conn: &C,
    select: &str,
    keys: &[String],
    suffix: &str,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = conn.get_database_backend();
    let mut out = Vec::new();
    for chunk in keys.chunks(MAX_ROWS) {
        let sql = format!(
            "{select} IN ({}){suffix}",
            vec!["?"; chunk.len()].join(", ")
        );
        let values: Vec<Value> = chunk.iter().map(|k| k.clone().into()).collect();
        out.extend(
            conn.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                .await?,
        );
    }
    Ok(out)
}

/// Runs one statement with values.
pub async fn exec<C: ConnectionTrait>(
    conn: &C,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, DbErr> {
    let backend = conn.get_database_backend();
    Ok(conn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database};

    async fn table() -> sea_orm::DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (a TEXT, b TEXT, v TEXT, PRIMARY KEY (a, b))")
            .await
            .unwrap();
        db
    }

    fn row(a: &str, b: &str, v: &str) -> Vec<Value> {
        vec![a.into(), b.into(), v.into()]
    }

    async fn values(db: &sea_orm::DatabaseConnection) -> Vec<String> {
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT a || b || v FROM t ORDER BY a, b",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
    }

    #[tokio::test]
    async fn an_upsert_on_a_key_of_two_columns_updates_the_stored_row() {
        let db = table().await;
        let cols = ["a", "b", "v"];
        let first = vec![row("1", "x", "old"), row("1", "y", "kept")];
        insert_rows(&db, "t", &cols, first, OnKey::Fail)
            .await
            .unwrap();
        let next = vec![row("1", "x", "new"), row("2", "x", "added")];
        insert_rows(&db, "t", &cols, next, upsert(&["a", "b"], &["v"]))
            .await
            .unwrap();
        assert_eq!(values(&db).await, ["1xnew", "1ykept", "2xadded"]);
    }

    #[tokio::test]
    async fn keep_leaves_the_stored_row_and_fail_refuses() {
        let db = table().await;
        let cols = ["a", "b", "v"];
        insert_rows(&db, "t", &cols, vec![row("1", "x", "old")], OnKey::Fail)
            .await
            .unwrap();
        let again = vec![row("1", "x", "new"), row("3", "z", "added")];
        insert_rows(
            &db,
            "t",
            &cols,
            again.clone(),
            OnKey::Keep { key: &["a", "b"] },
        )
        .await
        .unwrap();
        assert_eq!(values(&db).await, ["1xold", "3zadded"]);
        assert!(insert_rows(&db, "t", &cols, again, OnKey::Fail)
            .await
            .is_err());
    }
}
