//! The loader's dead letters, kept in the database (`msgmig_dead_letters`): written in the
//! transaction that decided them, beside the rows and the consumed offsets, so no offset ever
//! moves past a refused record whose letter is not durable (an outbox). A Kafka loader then
//! forwards them to the dead-letter topic ([`forward`]); the embedded pipeline keeps them here
//! only (and in its log).
//!
//! Delivery to the topic is at least once: a loader killed between the broker's
//! acknowledgement and marking the letter sent publishes it again. A letter's
//! [`DeadLetter::identity`] is the same both times, and the table holds one row per identity.

use crate::sql::{exec, insert_rows, select_in, OnKey};
use msgmig_bus::{Envelope, Publisher};
use msgmig_schemas::record::DeadLetter;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};
use std::collections::HashSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TABLE: &str = "msgmig_dead_letters";

/// Stores `letters` (one row per identity; a letter already stored is not stored again) and
/// returns those that were new. `pending`: a Kafka loader will publish them ([`forward`]).
pub(crate) async fn write<C: ConnectionTrait>(
    conn: &C,
    letters: Vec<DeadLetter>,
    pending: bool,
) -> Result<Vec<DeadLetter>, DbErr> {
    if letters.is_empty() {
        return Ok(letters);
    }
    let keyed: Vec<(String, DeadLetter)> = letters.into_iter().map(|l| (l.identity(), l)).collect();
    let keys: Vec<String> = keyed.iter().map(|(k, _)| k.clone()).collect();
    let mut known: HashSet<String> = HashSet::new();
    for row in select_in(
        conn,
        &format!("SELECT letter_key FROM {TABLE} WHERE letter_key"),
        &keys,
    )
    .await?
    {
        known.insert(row.try_get_by_index(0)?);
    }
    let mut new = Vec::new();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for (key, letter) in keyed {
        if !known.insert(key.clone()) {
            continue;
        }
        let json = serde_json::to_string(&letter)
            .map_err(|e| DbErr::Custom(format!("cannot encode a dead letter: {e}")))?;
        rows.push(vec![
            key.into(),
            letter.stage.as_str().into(),
            letter.reason.as_str().into(),
            letter.deposition_id.clone().into(),
            json.into(),
            i32::from(pending).into(),
        ]);
        new.push(letter);
    }
    insert_rows(
        conn,
        TABLE,
        &[
            "letter_key",
            "stage",
            "reason",
            "deposition_id",
            "letter",
            "pending",
        ],
        rows,
        OnKey::Fail,
    )
    .await?;
    Ok(new)
}

/// Dead letters stored, per (stage, reason), for `status` and the tests.
pub async fn counts<C: ConnectionTrait>(conn: &C) -> Result<Vec<(String, String, i64)>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT stage, reason, COUNT(*) FROM {TABLE} GROUP BY stage, reason ORDER BY stage, reason"
            ),
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get_by_index(0)?,
                r.try_get_by_index(1)?,
                r.try_get_by_index(2)?,
            ))
        })
        .collect()
}

/// Letters a Kafka loader has not published yet.
pub async fn pending_count<C: ConnectionTrait>(conn: &C) -> Result<i64, DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) FROM {TABLE} WHERE pending = 1"),
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0))
}

/// Letters forwarded per round at most.
const ROUND: usize = 100;

/// How often the forwarder looks for letters when nothing woke it.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Publishes every pending dead letter to `publisher` (the dead-letter topic), oldest first,
/// and marks each sent once the broker acknowledged it (`flush`). Runs until `stop` is
/// cancelled, then makes one last round. A failed round (broker or database unavailable) is
/// retried with backoff; nothing is dropped. `wake` hurries it after a commit that wrote some.
pub async fn forward<P: Publisher<DeadLetter>>(
    db: DatabaseConnection,
    publisher: P,
    wake: std::sync::Arc<tokio::sync::Notify>,
    stop: CancellationToken,
) {
    let mut backoff = crate::retry::backoff();
    loop {
        let stopping = stop.is_cancelled();
        match round(&db, &publisher).await {
            Ok(0) if stopping => return,
            Ok(0) => {
                backoff = crate::retry::backoff();
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                    () = stop.cancelled() => {}
                }
            }
            Ok(_) => backoff = crate::retry::backoff(),
            Err(e) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(15));
                match &e {
                    // The loader reports an unreachable database itself (db_unavailable).
                    RoundError::Database(e) => {
                        tracing::debug!(event = "outbox_unreadable", error = %e, retry_in_s = delay.as_secs_f64());
                    }
                    RoundError::Bus(e) => {
                        if let Ok(n) = pending_count(&db).await {
                            crate::metrics::DEAD_LETTERS_UNPUBLISHED.set(n);
                        }
                        tracing::warn!(event = "dead_letter_retry", error = %e, retry_in_s = delay.as_secs_f64(),
                            "dead letters not published yet: they stay in msgmig_dead_letters and are retried");
                    }
                }
                if stopping {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => {}
                }
            }
        }
    }
}

/// Why a round of [`forward`] failed.
#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error("{0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Bus(#[from] msgmig_bus::BusError),
}

/// One round of [`forward`]: returns how many letters were published.
async fn round<P: Publisher<DeadLetter>>(
    db: &DatabaseConnection,
    publisher: &P,
) -> Result<usize, RoundError> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id, letter FROM {TABLE} WHERE pending = 1 ORDER BY id LIMIT {ROUND}"),
        ))
        .await?;
    if rows.is_empty() {
        crate::metrics::DEAD_LETTERS_UNPUBLISHED.set(0);
        return Ok(0);
    }
    let mut ids: Vec<Value> = Vec::new();
    for row in rows {
        let id: i64 = row.try_get_by_index(0)?;
        let json: String = row.try_get_by_index(1)?;
        let letter: DeadLetter = serde_json::from_str(&json)
            .map_err(|e| DbErr::Custom(format!("{TABLE} row {id}: {e}")))?;
        let key = letter.key();
        let partition_key = letter.deposition_id.clone().unwrap_or_else(|| key.clone());
        match publisher
            .publish(Envelope::new(key, partition_key, letter))
            .await
        {
            Ok(()) => {}
            // A letter the topic can never take stays stored (and listed by `status`).
            Err(e @ msgmig_bus::BusError::TooLarge { .. }) => {
                tracing::error!(event = "dead_letter_not_published", id, error = %e, "cannot ever be delivered: kept in msgmig_dead_letters");
            }
            Err(e) => return Err(e.into()),
        }
        ids.push(id.into());
    }
    if msgmig_bus::failing!("outbox_publish_error") {
        return Err(msgmig_bus::BusError::Kafka(msgmig_bus::failpoint::injected(
            "publishing dead letters",
        ))
        .into());
    }
    publisher.flush().await?;
    msgmig_bus::crash_point!("outbox_after_publish");
    let n = ids.len();
    for chunk in ids.chunks(crate::sql::MAX_ROWS) {
        exec(
            db,
            &format!(
                "UPDATE {TABLE} SET pending = 0 WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            ),
            chunk.to_vec(),
        )
        .await?;
    }
    Ok(n)
}
