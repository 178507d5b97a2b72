//! Consumer positions stored in the database, in the same transaction as the rows they produced
//! ("exactly-once effect"): table `msgmig_consumer_offsets`, one row per
//! (consumer group, topic, partition) holding the *next* offset to apply.

use crate::sql::{exec, insert_rows, upsert};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use std::collections::BTreeMap;

pub use crate::item::TopicPartition;

/// The next offsets this loader itself stored, per partition it holds: what tells a rewind
/// (someone lowered a stored offset: `msgmig replay`, a restored backup) from progress, and
/// which stored offsets are this loader's to raise.
#[derive(Debug, Default, Clone)]
pub(crate) struct Positions {
    mine: BTreeMap<TopicPartition, i64>,
}

impl Positions {
    /// Of `partitions`, those whose `stored` offset is now below what this loader stored, with
    /// the stored offset to resume from (absent counts as 0: forgotten by a replay).
    pub(crate) fn rewound(
        &self,
        partitions: &[TopicPartition],
        stored: &BTreeMap<TopicPartition, i64>,
    ) -> Vec<(TopicPartition, i64)> {
        partitions
            .iter()
            .filter_map(|tp| {
                let mine = *self.mine.get(tp)?;
                let now = stored.get(tp).copied().unwrap_or(0);
                (now < mine).then(|| (tp.clone(), now))
            })
            .collect()
    }

    /// This loader committed `next` (its batch's next offsets).
    pub(crate) fn committed(&mut self, next: BTreeMap<TopicPartition, i64>) {
        self.mine.extend(next);
    }

    /// The offset this loader last stored for `tp`.
    pub(crate) fn get(&self, tp: &TopicPartition) -> Option<i64> {
        self.mine.get(tp).copied()
    }

    /// The partitions this loader stored offsets for.
    pub(crate) fn partitions(&self) -> Vec<TopicPartition> {
        self.mine.keys().cloned().collect()
    }

    /// Forgets `tp` (rewound: its stored offset is someone else's now).
    pub(crate) fn forget(&mut self, tp: &TopicPartition) {
        self.mine.remove(tp);
    }

    /// Keeps only the partitions of `assigned`: a revoked partition's offsets belong to its
    /// next owner, and a rewind there is not this loader's to follow.
    pub(crate) fn retain_assigned(&mut self, assigned: &[TopicPartition]) {
        self.mine.retain(|tp, _| assigned.contains(tp));
    }
}

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
    let on_key = upsert(
        &["consumer_group", "topic", "partition_id"],
        &["next_offset"],
    );
    insert_rows(
        conn,
        "msgmig_consumer_offsets",
        &["consumer_group", "topic", "partition_id", "next_offset"],
        rows,
        on_key,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        ("records".to_owned(), p)
    }

    #[test]
    fn a_stored_offset_below_what_this_loader_stored_is_a_rewind() {
        let mut positions = Positions::default();
        positions.committed(BTreeMap::from([(tp(0), 10), (tp(1), 5)]));
        let stored = BTreeMap::from([(tp(0), 3), (tp(1), 5)]);
        assert_eq!(
            positions.rewound(&[tp(0), tp(1), tp(2)], &stored),
            vec![(tp(0), 3)],
            "partition 1 is where this loader left it; partition 2 was never this loader's"
        );
        let forgotten = BTreeMap::new();
        assert_eq!(
            positions.rewound(&[tp(1)], &forgotten),
            vec![(tp(1), 0)],
            "a forgotten offset (replay --from-beginning) rewinds to the start"
        );
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut positions = Positions::default();
        positions.committed(BTreeMap::from([(tp(0), 10), (tp(1), 5)]));
        positions.retain_assigned(&[tp(1)]);
        assert_eq!(positions.partitions(), vec![tp(1)]);
        assert!(
            positions
                .rewound(&[tp(0)], &BTreeMap::from([(tp(0), 0)]))
                .is_empty(),
            "a replay of a partition now owned by another loader is not followed here"
        );
    }
}
