//! Schema drift: what a database's tables differ in from the schema msgmig's migrations create,
//! the way a schema tool compares them: every column's type, nullability and
//! default, every index, every foreign key.
//!
//! The expected side is built, not written down twice: the migrations run into a scratch
//! schema (on MySQL a `<database>_msgmig_ref_<connection id>_<n>` database, one per check,
//! dropped afterwards; on SQLite an in-memory database), and both sides are read back from the
//! server's own catalogue (`information_schema` on MySQL, `PRAGMA table_info` / `index_list` /
//! `foreign_key_list` on SQLite). So the comparison is exact for the server at hand, MariaDB or
//! MySQL.
//!
//! An origcomm table whose `orig_timestamp` is a DATETIME is compared with the upstream
//! branch's layout instead ([`upstream_origcomm`]), indexes matched by their columns: msgmig
//! writes to either layout.

use msgmig_schemas::db::{upstream_origcomm, Migrator, ALL_TABLES};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use sea_orm_migration::MigratorTrait;
use std::collections::BTreeMap;

/// One difference between a table and what msgmig expects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    pub table: String,
    /// `column x`, `index y`, `foreign key on x`, or `table` (missing).
    pub item: String,
    /// What msgmig expects ("absent" when the database has something extra).
    pub expected: String,
    /// What the database has ("absent" when it lacks it).
    pub found: String,
}

/// Per table, item → description, as read from a database's catalogue.
type Catalogue = BTreeMap<String, BTreeMap<String, String>>;

/// The differences of `db`'s tables (every table msgmig uses) from the schema msgmig creates.
/// Empty when they match. `url` is the URL `db` was opened with (to open the scratch schema).
///
/// Errors: the catalogue cannot be read, or (MySQL) the scratch database cannot be created:
/// the user needs CREATE and DROP on `<database>_msgmig_ref_<connection id>_<n>`.
pub async fn drift(db: &DatabaseConnection, url: &str) -> Result<Vec<Drift>, DbErr> {
    let mut found = catalogue(db).await?;
    let upstream = found
        .get(upstream_origcomm::TABLE)
        .and_then(|t| t.get("column orig_timestamp"))
        .is_some_and(|c| c.starts_with("datetime"));
    let mut expected = match db.get_database_backend() {
        DbBackend::Sqlite => {
            // One connection: every connection to `sqlite::memory:` is a database of its own.
            let mut options = ConnectOptions::new("sqlite::memory:");
            options
                .max_connections(1)
                .min_connections(1)
                .sqlx_logging(false);
            let reference = Database::connect(options).await?;
            Migrator::up(&reference, None).await?;
            let c = catalogue(&reference).await;
            reference.close().await?;
            c?
        }
        _ => {
            let mut server = url::Url::parse(url).map_err(|e| DbErr::Custom(e.to_string()))?;
            // One per check, at most 64 characters (MySQL's identifier limit). Not named by the
            // process id: two containers' processes are both PID 1. The server's connection id
            // tells processes apart (unique among its live connections, and this one is live
            // while the check runs: it is the pool's), the sequence number checks in one process.
            static CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let check = CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let connection: String = db
                .query_one_raw(Statement::from_string(
                    DbBackend::MySql,
                    "SELECT CAST(CONNECTION_ID() AS CHAR)",
                ))
                .await?
                .ok_or_else(|| DbErr::Custom("SELECT CONNECTION_ID() returned no row".into()))?
                .try_get_by_index(0)?;
            let suffix = format!("_msgmig_ref_{connection}_{check}");
            let base: String = server
                .path()
                .trim_start_matches('/')
                .chars()
                .take(64 - suffix.len())
                .collect();
            let name = format!("{base}{suffix}");
            let scratch = format!("`{}`", name.replace('`', ""));
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {scratch}"))
                .await?;
            db.execute_unprepared(&format!(
                "CREATE DATABASE {scratch} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ))
            .await?;
            server.set_path(&name);
            let built = async {
                let mut options = ConnectOptions::new(server.as_str());
                options.max_connections(1).sqlx_logging(false);
                let reference = Database::connect(options).await?;
                Migrator::up(&reference, None).await?;
                let mut c = catalogue(&reference).await;
                if upstream && c.is_ok() {
                    // The table has the upstream branch's layout: that is the expected one.
                    let table = upstream_origcomm::TABLE;
                    reference
                        .execute_unprepared(&format!("DROP TABLE {table}"))
                        .await?;
                    reference.execute_unprepared(upstream_origcomm::DDL).await?;
                    let theirs = catalogue(&reference).await?.remove(table);
                    if let (Ok(c), Some(theirs)) = (&mut c, theirs) {
                        c.insert(table.to_owned(), theirs);
                    }
                }
                reference.close().await?;
                c
            }
            .await;
            db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {scratch}"))
                .await?;
            built?
        }
    };
    if upstream {
        // Upstream's index names are not known: compare them by columns.
        for side in [&mut expected, &mut found] {
            if let Some(t) = side.get_mut(upstream_origcomm::TABLE) {
                *t = indexes_by_columns(std::mem::take(t));
            }
        }
    }
    Ok(compare(&expected, &found))
}

/// A table's catalogue with each index keyed by its columns instead of its name.
fn indexes_by_columns(table: BTreeMap<String, String>) -> BTreeMap<String, String> {
    table
        .into_iter()
        .map(|(item, spec)| match item.strip_prefix("index ") {
            Some(name) if name != "PRIMARY" => {
                let columns = spec.trim_start_matches("unique ").to_owned();
                (format!("index on {columns}"), spec)
            }
            _ => (item, spec),
        })
        .collect()
}

fn compare(expected: &Catalogue, found: &Catalogue) -> Vec<Drift> {
    let mut out = Vec::new();
    for table in ALL_TABLES {
        let (Some(want), have) = (expected.get(table), found.get(table)) else {
            continue;
        };
        let Some(have) = have else {
            out.push(Drift {
                table: table.to_owned(),
                item: "table".into(),
                expected: "present".into(),
                found: "absent".into(),
            });
            continue;
        };
        for (item, spec) in want {
            match have.get(item) {
                Some(h) if h == spec => {}
                other => out.push(Drift {
                    table: table.to_owned(),
                    item: item.clone(),
                    expected: spec.clone(),
                    found: other.cloned().unwrap_or_else(|| "absent".into()),
                }),
            }
        }
        for (item, spec) in have {
            if !want.contains_key(item) {
                out.push(Drift {
                    table: table.to_owned(),
                    item: item.clone(),
                    expected: "absent".into(),
                    found: spec.clone(),
                });
            }
        }
    }
    out
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
}

/// Reads a value as text whatever its SQL type (catalogue columns differ across servers).
fn text(r: &sea_orm::QueryResult, i: usize) -> String {
    r.try_get_by_index::<Option<String>>(i)
        .ok()
        .flatten()
        .or_else(|| {
            r.try_get_by_index::<Option<i64>>(i)
                .ok()
                .flatten()
                .map(|n| n.to_string())
        })
        .or_else(|| {
            r.try_get_by_index::<Option<u64>>(i)
                .ok()
                .flatten()
                .map(|n| n.to_string())
        })
        .or_else(|| {
            r.try_get_by_index::<Option<Vec<u8>>>(i)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_else(|| "NULL".into())
}

async fn catalogue(db: &DatabaseConnection) -> Result<Catalogue, DbErr> {
    let mut out: Catalogue = BTreeMap::new();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            for table in ALL_TABLES {
                let cols = rows(db, &format!("PRAGMA table_info({table})")).await?;
                if cols.is_empty() {
                    continue;
                }
                let t = out.entry(table.to_owned()).or_default();
                for c in cols {
                    t.insert(
                        format!("column {}", text(&c, 1)),
                        format!(
                            "{} {} default {} pk {}",
                            text(&c, 2).to_lowercase(),
                            if text(&c, 3) == "1" {
                                "NOT NULL"
                            } else {
                                "NULL"
                            },
                            text(&c, 4),
                            text(&c, 5)
                        ),
                    );
                }
                for i in rows(db, &format!("PRAGMA index_list({table})")).await? {
                    let name = text(&i, 1);
                    let cols: Vec<String> = rows(db, &format!("PRAGMA index_info('{name}')"))
                        .await?
                        .iter()
                        .map(|c| text(c, 2))
                        .collect();
                    // Auto-named indexes (UNIQUE/PRIMARY KEY constraints) are keyed by columns.
                    let key = if name.starts_with("sqlite_autoindex_") {
                        format!("index on ({})", cols.join(", "))
                    } else {
                        format!("index {name}")
                    };
                    let unique = if text(&i, 2) == "1" { "unique " } else { "" };
                    t.insert(key, format!("{unique}({})", cols.join(", ")));
                }
                for f in rows(db, &format!("PRAGMA foreign_key_list({table})")).await? {
                    t.insert(
                        format!("foreign key on {}", text(&f, 3)),
                        format!("{}({}) on delete {}", text(&f, 2), text(&f, 4), text(&f, 6)),
                    );
                }
            }
        }
        _ => {
            let tables = ALL_TABLES
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(", ");
            for c in rows(db, &format!(
                "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLLATION_NAME \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({tables})"
            ))
            .await?
            {
                out.entry(text(&c, 0)).or_default().insert(
                    format!("column {}", text(&c, 1)),
                    format!(
                        "{} {} default {} {} {}",
                        text(&c, 2),
                        if text(&c, 3) == "YES" { "NULL" } else { "NOT NULL" },
                        text(&c, 4),
                        text(&c, 5),
                        text(&c, 6)
                    )
                    .trim_end()
                    .to_owned(),
                );
            }
            let mut indexes: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
            for i in rows(db, &format!(
                "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({tables}) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
            ))
            .await?
            {
                let e = indexes.entry((text(&i, 0), text(&i, 1))).or_default();
                e.0 = if text(&i, 2) == "0" { "unique ".into() } else { String::new() };
                e.1.push(text(&i, 3));
            }
            for ((table, name), (unique, cols)) in indexes {
                out.entry(table).or_default().insert(
                    format!("index {name}"),
                    format!("{unique}({})", cols.join(", ")),
                );
            }
            for f in rows(db, &format!(
                "SELECT k.TABLE_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE \
                 FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                 ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.TABLE_SCHEMA = DATABASE() AND k.TABLE_NAME IN ({tables}) AND k.REFERENCED_TABLE_NAME IS NOT NULL"
            ))
            .await?
            {
                out.entry(text(&f, 0)).or_default().insert(
                    format!("foreign key on {}", text(&f, 1)),
                    format!("{}({}) on delete {}", text(&f, 2), text(&f, 3), text(&f, 4)),
                );
            }
        }
    }
    Ok(out)
}
