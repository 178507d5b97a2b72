//! The widths the transformer checks (`msgmig_schemas::db::limits`) are exactly
//! the text columns MariaDB has after msgmig's migrations, both ways. MariaDB is required.

mod common;
use msgmig_loader::database;
use msgmig_schemas::db::limits::{Limit, COLUMNS};
use sea_orm::{ConnectionTrait, Statement};
use std::collections::BTreeMap;

#[tokio::test]
async fn checked_widths_are_the_columns_mariadb_has() {
    let (server, base) = common::mariadb_server().await;
    let name = format!("msgmig_limits_{}", std::process::id());
    server
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let db = database::connect(&format!("{base}/{name}")).await.unwrap();
    database::init(&db).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{name}' \
                 AND TABLE_NAME LIKE 'pdbx_deposition_message_%' \
                 AND DATA_TYPE IN ('varchar', 'char', 'text', 'longtext', 'mediumtext', 'tinytext')"
            ),
        ))
        .await
        .unwrap();
    server
        .execute_unprepared(&format!("DROP DATABASE {name}"))
        .await
        .unwrap();
    let mut actual = BTreeMap::new();
    for r in rows {
        let table: String = r.try_get_by_index(0).unwrap();
        let column: String = r.try_get_by_index(1).unwrap();
        let kind: String = r.try_get_by_index(2).unwrap();
        let chars: u64 = r.try_get_by_index(3).unwrap();
        let octets: u64 = r.try_get_by_index(4).unwrap();
        let limit = match kind.as_str() {
            "varchar" | "char" => Limit::Chars(chars as usize),
            _ => Limit::Bytes(octets as usize),
        };
        actual.insert((table, column), limit);
    }
    let checked: BTreeMap<(String, String), Limit> = COLUMNS
        .iter()
        .map(|(t, c, l)| ((t.to_string(), c.to_string()), *l))
        .collect();
    assert_eq!(checked, actual);
}
