use crate::archive::ContentType;
use serde::{Deserialize, Serialize};

/// What happened to a message file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    /// The file exists in this state (new, rewritten, or seen by a full walk).
    Present,
    /// The file is gone (reported; never deletes database rows).
    Removed,
}

/// A message file seen by the scanner. Topic `msgmig.file-events`, key = `path`, partition by
/// `deposition_id`. Only latest versions are published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileEvent {
    /// Payload version ([`super::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Path relative to the archive root, `/`-separated: `D_…/D_…_<type>_P1.cif.V<n>`.
    pub path: String,
    /// The deposition folder (`D_…` or `G_…`): the unit of consistency.
    pub deposition_id: String,
    /// Content type from the file name.
    pub content_type: ContentType,
    /// Version number from the file name.
    pub version: u32,
    /// Size in bytes when seen.
    pub size: u64,
    /// Modification time when seen, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Status-change time when seen ([`ctime_ns`](crate::archive::ctime_ns)), nanoseconds
    /// since the Unix epoch; 0 when unknown (events of earlier versions).
    #[serde(default)]
    pub ctime_ns: i64,
    /// Present or removed.
    pub change: FileChange,
    /// How many events the scanner published for this deposition back to back from one listing
    /// of its folder, this one included; 0 when unknown (events of earlier versions, or made by
    /// hand). A transformer that has received all of them transforms the deposition at once
    /// instead of waiting out its debounce: the scanner already let the folder settle.
    #[serde(default)]
    pub group_len: u32,
}
