//! The archive's naming rules: deposition folders, message file names, content
//! types and the choice of the latest version. Shared by the scanner (which walks) and the
//! transformer (which re-lists one deposition), so both agree on what a message file is.

mod content_type;
mod file_name;
mod latest;
mod time;

pub use content_type::ContentType;
pub use file_name::{is_deposition_id, why_not_a_deposition_id, MessageFileName};
pub use latest::{classify_entries, DirectoryListing, IgnoreReason, LatestFile};
pub use time::{changed_ns, ctime_ns, mtime_ns, unix_ns};
