//! Consumer positions stored in the database, in the same transaction as the rows they produced
//! (architecture.md §3, "exactly-once effect"): table `msgmig_consumer_offsets`, one row per
//! (consumer group, topic, partition) holding the *next* offset to apply.

use crate::sql::{exec, insert_rows, upsert_suffix};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use std::collections::BTreeMap;

/// A partition of a topic.
pub type TopicPartition = (String, i32);

/// The stored next offsets of `group` for the given partitions (absent = nothing applied yet).
/// On MySQL the rows are locked until the transaction ends (`FOR UPDATE`), so two loaders that
/// briefly own one partition during a rebalance serialise on it.
pub async fn stored<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<BTreeMap<TopicPartition, i64>, DbErr> {
    let mut out = BTreeMap::new();
    if partitions.is_empty() {
        return Ok(out);
    }
    let backend = conn.get_database_backend();
    let lock = if backend == DbBackend::MySql {
        " FOR UPDATE"
    } else {
        ""
    };
    let mut topics: Vec<&str> = partitions.iter().map(|(t, _)| t.as_str()).collect();
    topics.dedup();
    for topic in topics {
        let ids: Vec<Value> = partitions
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, p)| (*p).into())
            .collect();
        let sql = format!(
            "SELECT partition_id, next_offset FROM msgmig_consumer_offsets WHERE consumer_group = ? AND topic = ? AND partition_id IN ({}){lock}",
            vec!["?"; ids.len()].join(", ")
        );
        let mut values: Vec<Value> = vec![group.into(), topic.into()];
        values.extend(ids);
        for row in conn
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
        {
            let p: i32 = row.try_get_by_index(0)?;
            let next: i64 = row.try_get_by_index(1)?;
            out.insert((topic.to_owned(), p), next);
        }
    }
    Ok(out)
}

/// Every stored offset of `group` on `topic` (status, replay).
pub async fn all<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    topic: &str,
) -> Result<BTreeMap<i32, i64>, DbErr> {
    let backend = conn.get_database_backend();
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT partition_id, next_offset FROM msgmig_consumer_offsets WHERE consumer_group = ? AND topic = ?",
            [group.into(), topic.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Sets the next offsets of `group` (insert or overwrite).
pub async fn write<C: ConnectionTrait>(
    conn: &C,
    group: &str,
    next: &BTreeMap<TopicPartition, i64>,
) -> Result<(), DbErr> {
    if next.is_empty() {
        return Ok(());
    }
    let rows = next
        .iter()
        .map(|((topic, p), offset)| {
            vec![
                Value::from(group),
                topic.clone().into(),
                (*p).into(),
                (*offset).into(),
            ]
        })
        .collect::<Vec<Vec<Value>>>();
    let suffix = upsert_suffix(
        conn.get_database_backend(),
        "consumer_group, topic, partition_id",
        &["next_offset"],
    );
    insert_rows(
        conn,
        "msgmig_consumer_offsets",
        &["consumer_group", "topic", "partition_id", "next_offset"],
        rows,
        &suffix,
    )
    .await?;
    Ok(())
}

/// Forgets every stored offset of `group` on `topic`: the loader starts that topic again
/// from its beginning (`msgmig replay --from-beginning`).
pub async fn forget<C: ConnectionTrait>(conn: &C, group: &str, topic: &str) -> Result<u64, DbErr> {
    exec(
        conn,
        "DELETE FROM msgmig_consumer_offsets WHERE consumer_group = ? AND topic = ?",
        vec![group.into(), topic.into()],
    )
    .await
}
