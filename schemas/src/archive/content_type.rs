use serde::{Deserialize, Serialize};
use std::fmt;

/// The three message content types; the DB column is an ENUM of exactly these.
/// Declaration order is the processing order of the old migrator (from-depositor first).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum ContentType {
    /// Depositor → annotator messages (deposition UI).
    #[serde(rename = "messages-from-depositor")]
    MessagesFromDepositor,
    /// Annotator → depositor correspondence; also holds every status row.
    #[serde(rename = "messages-to-depositor")]
    MessagesToDepositor,
    /// Internal notes and archived e-mails; carries the origcomm category.
    #[serde(rename = "notes-from-annotator")]
    NotesFromAnnotator,
}

impl ContentType {
    /// All content types, in processing order.
    pub const ALL: [ContentType; 3] = [
        ContentType::MessagesFromDepositor,
        ContentType::MessagesToDepositor,
        ContentType::NotesFromAnnotator,
    ];

    /// The acronym used in file names and stored in `pdbx_deposition_message_info.content_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::MessagesFromDepositor => "messages-from-depositor",
            ContentType::MessagesToDepositor => "messages-to-depositor",
            ContentType::NotesFromAnnotator => "notes-from-annotator",
        }
    }

    /// Exact match of an acronym (never by substring, unlike the old tool).
    pub fn from_acronym(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
