//! Living beside the application: msgmig never overwrites or deletes what the OneDep
//! application changed.
//!
//! While the application writes into the database (its `DataAccessLayer`: new messages, status
//! flags set by an annotator), msgmig may still be keeping the database in step with the files.
//! A message msgmig loaded carries, in its provenance, the content hash of the rows msgmig wrote.
//! Before a batch rewrites a message (a changed file) or replaces it (a take-over), the rows as
//! they are now are hashed the same way: when they differ from what msgmig wrote, someone else
//! changed them, and the file's version is not applied. The message is kept as the database
//! has it and reported (`app_changed` in `msgmig_quarantine`, its deposition's state
//! `conflicts`, a line in the summary): the file and the application disagree, and a curator
//! decides. Rows msgmig did not write at all are never its to change (the application's own
//! messages: a file claiming one of their ids is a conflict).

use crate::plan::Current;
use crate::read::StoredMessage;
use msgmig_schemas::db::collation::message_key;
use msgmig_schemas::record::{content_sha256, MessageRecord};
use std::collections::HashMap;

/// What each record of a batch claims, by collation key: its folder and its content hash.
/// [`crate::current::fetch_current`] looks, for the rows those claims would rewrite (rows
/// msgmig wrote whose folder or content differ), whether someone else changed them since.
pub(crate) fn claims(records: &[&MessageRecord]) -> HashMap<String, (String, String)> {
    records
        .iter()
        .map(|r| {
            (
                message_key(&r.message.message_id),
                (r.deposition_id.clone(), r.content_sha256()),
            )
        })
        .collect()
}

/// Marks the rows of `current` that `claims` would rewrite and that changed since msgmig
/// wrote them (`stored`: their rows as they are now, read for [`rewritten`]).
pub(crate) fn mark_changed(
    current: &mut HashMap<String, Current>,
    stored: &HashMap<String, StoredMessage>,
) {
    for c in current.values_mut() {
        let Some(p) = &mut c.provenance else { continue };
        let Some(m) = stored.get(&c.message_id) else {
            continue;
        };
        let now = content_sha256(
            &m.content.message,
            &m.content.file_refs,
            m.content.status.as_ref(),
            &m.content.origcomm,
        );
        p.changed_since_written = now != p.record_sha256;
    }
}

/// The stored ids of the rows msgmig wrote that `claims` would rewrite (another folder, or
/// other content): none in a backfill.
pub(crate) fn rewritten(
    current: &HashMap<String, Current>,
    claims: &HashMap<String, (String, String)>,
) -> Vec<String> {
    let mut ids: Vec<String> = current
        .iter()
        .filter_map(|(key, c)| {
            let p = c.provenance.as_ref()?;
            let (folder, sha) = claims.get(key)?;
            (p.owner != *folder || p.record_sha256 != *sha).then(|| c.message_id.clone())
        })
        .collect();
    ids.sort();
    ids
}
