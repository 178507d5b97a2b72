//! Per-deposition outcome rows written when a deposition's end marker commits: state
//! (`msgmig_depositions`), what was withheld (`msgmig_quarantine`) and the files read
//! (`msgmig_file_ledger`).

use crate::sql::{delete_in, exec, insert_rows, select_in, OnKey};
use msgmig_schemas::record::{DepositionEnd, Quarantine, QuarantineKind};
use sea_orm::{ConnectionTrait, DbErr, Value};
use std::collections::HashMap;

/// The stored generation of each deposition among `ends` (absent = never recorded).
pub(crate) async fn stored_generations<C: ConnectionTrait>(
    conn: &C,
    ends: &[&DepositionEnd],
) -> Result<HashMap<String, i64>, DbErr> {
    let ids: Vec<String> = ends.iter().map(|e| e.deposition_id.clone()).collect();
    let rows = select_in(
        conn,
        "SELECT deposition_id, generation FROM msgmig_depositions WHERE deposition_id",
        &ids,
    )
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// A committed end marker with its outcome.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ending<'a> {
    pub end: &'a DepositionEnd,
    pub quarantine: Option<&'a Quarantine>,
    /// (message id, owner) of ids another deposition owns.
    pub conflicts: &'a [(String, String)],
    /// Messages kept as the application changed them ([`crate::guard`]).
    pub kept: &'a [String],
}

/// Records the outcome of every deposition that ended in this batch, in three statements: their
/// quarantine/conflict rows replaced by the current ones (a clean load leaves quarantine), and
/// their state rows upserted. `known`: the generations [`stored_generations`] read for them in
/// this transaction (the caller has them already).
pub(crate) async fn record_ends<C: ConnectionTrait>(
    conn: &C,
    ends: &[Ending<'_>],
    known: &HashMap<String, i64>,
) -> Result<(), DbErr> {
    // A deposition transformed twice within one batch has two end markers: the later one is
    // its state (rows for both would collide on the keys).
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, e) in ends.iter().enumerate() {
        last.insert(e.end.deposition_id.as_str(), i);
    }
    let ends: Vec<Ending<'_>> = ends
        .iter()
        .enumerate()
        .filter(|(i, e)| last[e.end.deposition_id.as_str()] == *i)
        .map(|(_, e)| *e)
        .collect();
    let ends = ends.as_slice();
    if ends.is_empty() {
        return Ok(());
    }
    // Quarantine and ledger rows are written only with a state row: a deposition without one
    // has none to replace (every deposition of a first load), so only the others are deleted.
    let ids: Vec<Value> = ends
        .iter()
        .filter(|e| known.contains_key(&e.end.deposition_id))
        .map(|e| e.end.deposition_id.clone().into())
        .collect();
    delete_in(conn, "msgmig_quarantine", "deposition_id", &ids).await?;
    let mut quarantine_rows = Vec::new();
    let mut state_rows = Vec::new();
    for e in ends {
        let (end, quarantine, conflicts, kept) = (e.end, e.quarantine, e.conflicts, e.kept);
        let row = |kind: QuarantineKind,
                   message_id: Option<String>,
                   q: Option<&Quarantine>,
                   reason: String|
         -> Vec<Value> {
            vec![
                end.deposition_id.clone().into(),
                kind.as_str().to_owned().into(),
                message_id.map(|m| fit_chars(&m, 64)).into(),
                q.and_then(|q| q.path.as_deref().map(|p| fit_chars(p, 512)))
                    .into(),
                q.and_then(|q| q.file_version).map(i64::from).into(),
                q.and_then(|q| q.line).map(|l| l as i64).into(),
                q.and_then(|q| q.column).map(|c| c as i64).into(),
                fit_bytes(&reason, 60_000).into(),
                end.generation.into(),
            ]
        };
        if let Some(q) = quarantine {
            quarantine_rows.push(row(q.kind, q.message_id.clone(), Some(q), q.reason.clone()));
        }
        for (id, owner) in conflicts.iter() {
            quarantine_rows.push(row(
                QuarantineKind::Conflict,
                Some(id.clone()),
                None,
                format!("message id already stored for deposition {owner}"),
            ));
        }
        for id in kept {
            quarantine_rows.push(row(
                QuarantineKind::AppChanged,
                Some(id.clone()),
                None,
                "the message's rows were changed in the database since msgmig wrote them: the file's version is not applied".to_owned(),
            ));
        }
        let state = if quarantine.is_some() {
            "quarantined"
        } else if conflicts.is_empty() && kept.is_empty() {
            "loaded"
        } else {
            "conflicts"
        };
        state_rows.push(vec![
            end.deposition_id.clone().into(),
            end.generation.into(),
            state.to_owned().into(),
            i64::from(end.files).into(),
            i64::from(end.messages).into(),
            ((conflicts.len() + kept.len()) as i64).into(),
        ]);
    }
    let columns = [
        "deposition_id",
        "kind",
        "message_id",
        "path",
        "file_version",
        "line_number",
        "column_number",
        "reason",
        "generation",
    ];
    insert_rows(
        conn,
        "msgmig_quarantine",
        &columns,
        quarantine_rows,
        OnKey::Fail,
    )
    .await?;
    let updated = ["generation", "state", "files", "messages", "conflicts"];
    let on_key = crate::sql::upsert(&["deposition_id"], &updated);
    let columns = [
        "deposition_id",
        "generation",
        "state",
        "files",
        "messages",
        "conflicts",
    ];
    crate::sql::sort_by_key(&mut state_rows);
    insert_rows(conn, "msgmig_depositions", &columns, state_rows, on_key).await?;
    // The file ledger: exactly the files read for this state of each deposition.
    delete_in(conn, "msgmig_file_ledger", "deposition_id", &ids).await?;
    let mut ledger_rows: Vec<Vec<Value>> = ends
        .iter()
        .flat_map(|Ending { end, .. }| {
            end.file_states.iter().map(|f| {
                vec![
                    f.path.clone().into(),
                    end.deposition_id.clone().into(),
                    i64::from(f.version).into(),
                    i64::try_from(f.size).unwrap_or(i64::MAX).into(),
                    f.mtime_ns.into(),
                    f.ctime_ns.into(),
                ]
            })
        })
        .collect();
    let columns = [
        "path",
        "deposition_id",
        "version",
        "size",
        "mtime_ns",
        "ctime_ns",
    ];
    crate::sql::sort_by_key(&mut ledger_rows);
    insert_rows(
        conn,
        "msgmig_file_ledger",
        &columns,
        ledger_rows,
        OnKey::Fail,
    )
    .await?;
    Ok(())
}

/// A message id taken from a deposition whose end was already recorded.
#[derive(Debug, Clone)]
pub(crate) struct Displaced {
    /// The deposition that loaded the id first and lost it.
    pub deposition_id: String,
    pub message_id: String,
    /// The deposition that owns it now.
    pub owner: String,
}

/// Amends the recorded outcome of depositions that lost a message id after their end was
/// recorded: a conflict row, and the state `conflicts` (a quarantine stays a quarantine).
pub(crate) async fn record_displaced<C: ConnectionTrait>(
    conn: &C,
    displaced: &[Displaced],
) -> Result<(), DbErr> {
    for d in displaced {
        // A plain insert of what was read, not INSERT … SELECT: that form takes InnoDB's
        // table-level auto-increment lock and failed with error 1467 beside parallel loaders.
        let row = conn
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                conn.get_database_backend(),
                "SELECT generation FROM msgmig_depositions WHERE deposition_id = ?",
                [d.deposition_id.clone().into()],
            ))
            .await?;
        let Some(row) = row else {
            continue;
        };
        let generation: i64 = row.try_get_by_index(0)?;
        let values: Vec<Value> = vec![
            d.deposition_id.clone().into(),
            QuarantineKind::Conflict.as_str().to_owned().into(),
            fit_chars(&d.message_id, 64).into(),
            format!("message id already stored for deposition {}", d.owner).into(),
            generation.into(),
        ];
        insert_rows(
            conn,
            "msgmig_quarantine",
            &[
                "deposition_id",
                "kind",
                "message_id",
                "reason",
                "generation",
            ],
            vec![values],
            OnKey::Fail,
        )
        .await?;
        exec(
            conn,
            "UPDATE msgmig_depositions SET conflicts = conflicts + 1, \
             state = CASE WHEN state = 'quarantined' THEN state ELSE 'conflicts' END \
             WHERE deposition_id = ?",
            vec![d.deposition_id.clone().into()],
        )
        .await?;
    }
    Ok(())
}

/// `s` cut to `n` characters (the last one `…` when cut): a quarantine row must fit its
/// VARCHAR column even when the value it reports is the one that did not fit (a 65-character
/// message id), or recording the quarantine would itself be refused.
fn fit_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// `s` cut to at most `n` bytes at a character boundary (a TEXT column holds 65,535 bytes).
fn fit_bytes(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_owned();
    }
    format!("{}…", &s[..s.floor_char_boundary(n - 3)])
}
