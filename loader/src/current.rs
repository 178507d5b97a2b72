//! What the database holds for the message ids of a batch, read inside the batch's
//! transaction before it is planned.

use crate::columns::PROVENANCE;
use crate::plan::{Counted, Current, CurrentProvenance};
use crate::sql::select_in;
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::record::FileRefColumns;
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use std::collections::HashMap;

/// Reads what the database holds for `ids` (info row + msgmig provenance), keyed by
/// [`message_key`]: one entry per id as the `message_id` column's collation sees it.
///
/// On MySQL the rows are read with `FOR UPDATE` (the batch runs in READ COMMITTED): the plan
/// sees the latest committed state, not the transaction's snapshot, and the rows stay locked
/// until the batch commits. Two loaders planning the same id therefore plan one after the
/// other, each against what the other committed: the ownership rule, not their timing,
/// decides who has it. `run`: the current one-shot run, whose counts of these messages are
/// read back ([`CurrentProvenance::counted_now`]). `claims`: what the batch's records claim
/// (folder, content hash) by collation key; the rows they would rewrite are read whole and
/// marked when someone else changed them since msgmig wrote them
/// ([`CurrentProvenance::changed_since_written`], `crate::guard`).
pub async fn fetch_current<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
    run: Option<&str>,
    claims: HashMap<String, (String, String)>,
) -> Result<HashMap<String, Current>, DbErr> {
    let backend = conn.get_database_backend();
    // MySQL compares ids by the column's collation: `IN` finds `ABC` for `abc`. SQLite compares
    // bytes: the stored ids whose collation key matches are looked up first.
    let mut wanted: Vec<String> = ids.to_vec();
    if backend == DbBackend::Sqlite {
        let keys: Vec<String> = ids.iter().map(|id| message_key(id)).collect();
        let rows = select_in(
            conn,
            &format!("SELECT message_id FROM {PROVENANCE} WHERE message_key"),
            &keys,
        )
        .await?;
        for row in rows {
            wanted.push(row.try_get_by_index(0)?);
        }
        wanted.sort();
        wanted.dedup();
    }
    let lock = if backend == DbBackend::MySql {
        " FOR UPDATE"
    } else {
        ""
    };
    let rows = crate::sql::select_in_suffixed(
        conn,
        "SELECT i.message_id, i.deposition_data_set_id, p.deposition_id, p.generation, p.record_sha256, \
         p.counted_in, p.counted_as \
         FROM pdbx_deposition_message_info i LEFT JOIN msgmig_message_provenance p ON p.message_id = i.message_id \
         WHERE i.message_id",
        &wanted,
        lock,
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get_by_index(0)?;
        let owner: Option<String> = row.try_get_by_index(2)?;
        let provenance = match owner {
            Some(owner) => {
                let counted_in: Option<String> = row.try_get_by_index(5)?;
                let counted_as: Option<String> = row.try_get_by_index(6)?;
                let counted_now = match (run, counted_in, counted_as) {
                    (Some(run), Some(counted_in), Some(counted_as)) if run == counted_in => {
                        Counted::decode(&counted_as)
                    }
                    _ => None,
                };
                Some(CurrentProvenance {
                    owner,
                    generation: row.try_get_by_index(3)?,
                    record_sha256: row.try_get_by_index(4)?,
                    counted_now,
                    changed_since_written: false,
                })
            }
            None => None,
        };
        out.insert(
            message_key(&id),
            Current {
                message_id: id,
                info_deposition: row.try_get_by_index(1)?,
                provenance,
            },
        );
    }
    let rewritten = crate::guard::rewritten(&out, &claims);
    if !rewritten.is_empty() {
        let stored = crate::read::stored_messages(conn, &rewritten).await?;
        crate::guard::mark_changed(&mut out, &stored);
    }
    Ok(out)
}

/// The stored file references of `ids`: (ordinal_id, columns) per message id.
pub(crate) async fn fetch_file_refs<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> Result<HashMap<String, Vec<(i64, FileRefColumns)>>, DbErr> {
    let rows = select_in(
        conn,
        "SELECT ordinal_id, message_id, deposition_data_set_id, content_type, content_format, partition_number, \
         version_id, storage_type, upload_file_name FROM pdbx_deposition_message_file_reference WHERE message_id",
        ids,
    )
    .await?;
    let mut out: HashMap<String, Vec<(i64, FileRefColumns)>> = HashMap::new();
    for row in rows {
        let refs = FileRefColumns {
            deposition_data_set_id: row.try_get_by_index(2)?,
            content_type: row.try_get_by_index(3)?,
            content_format: row.try_get_by_index(4)?,
            partition_number: row.try_get_by_index::<Option<i32>>(5)?.unwrap_or(1),
            version_id: row.try_get_by_index::<Option<i32>>(6)?.unwrap_or(1),
            storage_type: row
                .try_get_by_index::<Option<String>>(7)?
                .unwrap_or_default(),
            upload_file_name: row
                .try_get_by_index::<Option<String>>(8)?
                .unwrap_or_default(),
        };
        out.entry(row.try_get_by_index(1)?)
            .or_default()
            .push((row.try_get_by_index(0)?, refs));
    }
    Ok(out)
}
