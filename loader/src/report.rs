//! What the loader tells its caller about each deposition it finished.

use crate::store::RowCounts;
use msgmig_schemas::record::Quarantine;

/// The final state of one deposition after its end marker was applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DepositionReport {
    pub deposition_id: String,
    pub files: u32,
    pub counts: RowCounts,
    /// Set when the deposition was withheld (none of its rows written).
    pub quarantine: Option<Quarantine>,
    /// Message ids owned by another deposition: (message_id, owner).
    pub conflicts: Vec<(String, String)>,
    /// Message ids this deposition took over from another one that had loaded them first
    /// (the ownership rule of [`crate::plan::outranks`]): (message_id, displaced deposition).
    /// The displaced deposition is the one in conflict.
    pub displaced: Vec<(String, String)>,
    /// What the current run had counted for the messages this deposition took over: a run's
    /// summary moves each to `conflicts` ([`RowCounts::recount`]), as if this deposition had
    /// come first.
    pub recounts: Vec<crate::plan::Counted>,
    /// Messages whose rows the application changed since msgmig wrote them: left as they are,
    /// the file's version not applied (`crate::guard`).
    pub kept: Vec<String>,
    /// The marker was older than the stored state (a stale replay): nothing recorded.
    pub stale: bool,
    /// Newest file mtime (ns) of the deposition's state (freshness is measured from it).
    pub generation: i64,
}
