use serde::{Deserialize, Serialize};

/// The stage that rejected an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Scanner,
    Transformer,
    Loader,
}

impl Stage {
    /// Stable snake_case name (metrics label, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Scanner => "scanner",
            Stage::Transformer => "transformer",
            Stage::Loader => "loader",
        }
    }
}

/// Why an input was dead-lettered (a closed set: metrics label values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadLetterReason {
    /// A bus payload that does not decode as its topic's schema (or has a newer
    /// `schema_version`).
    BadPayload,
    /// A file event whose path leaves the archive (`..`, absolute, a symlink pointing outside)
    /// or does not match the file-name grammar.
    BadPath,
    /// The deposition's files could not be parsed or mapped (the quarantine kinds).
    Quarantined,
    /// The database refused a record for a reason other than an outage (e.g. a value too long
    /// for its column).
    DatabaseRejected,
}

impl DeadLetterReason {
    /// Stable snake_case name (metrics label, JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::BadPayload => "bad_payload",
            DeadLetterReason::BadPath => "bad_path",
            DeadLetterReason::Quarantined => "quarantined",
            DeadLetterReason::DatabaseRejected => "database_rejected",
        }
    }
}

/// A rejected input on topic `msgmig.dead-letter`: what, where, why.
/// Key = archive-relative path or message_id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeadLetter {
    /// Payload version ([`super::SCHEMA_VERSION`]).
    pub schema_version: u32,
    pub stage: Stage,
    pub reason: DeadLetterReason,
    /// Human-readable detail: the parse error, the DB error, the decoding error.
    pub detail: String,
    /// The deposition concerned, when known.
    pub deposition_id: Option<String>,
    /// The source state of that deposition (its records' `generation`), when known: with the
    /// deposition it tells a letter about a new state of the files from a repeat.
    #[serde(default)]
    pub generation: Option<i64>,
    /// Archive-relative path of the offending file, when one.
    pub path: Option<String>,
    /// Version of that file.
    pub file_version: Option<u32>,
    /// 1-based position in that file, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The message concerned, when one.
    pub message_id: Option<String>,
    /// Where the rejected bus message was read: topic, partition, offset.
    pub source_topic: Option<String>,
    pub source_partition: Option<i32>,
    pub source_offset: Option<i64>,
    /// The rejected payload as UTF-8 (at most 64 KiB), when the input was a bus message.
    pub payload: Option<String>,
    /// When it was rejected, ms since the Unix epoch.
    pub rejected_at_ms: i64,
}

impl DeadLetter {
    /// A dead letter with only stage, reason and detail set (the rest `None`), stamped now.
    pub fn new(stage: Stage, reason: DeadLetterReason, detail: impl Into<String>) -> Self {
        DeadLetter {
            schema_version: super::SCHEMA_VERSION,
            stage,
            reason,
            detail: detail.into(),
            deposition_id: None,
            generation: None,
            path: None,
            file_version: None,
            line: None,
            column: None,
            message_id: None,
            source_topic: None,
            source_partition: None,
            source_offset: None,
            payload: None,
            rejected_at_ms: crate::archive::unix_ns(std::time::SystemTime::now()) / 1_000_000,
        }
    }

    /// The letter's identity, SHA-256 hex: what was rejected and why, not when or through
    /// which delivery. A deposition state refused again (a replay, a record published twice
    /// after a crash) has the same identity, so a store of letters keyed by it keeps one.
    /// Inputs without a deposition (an undecodable payload) are told apart by their bus
    /// position.
    pub fn identity(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut field = |v: &str| {
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        };
        field(self.stage.as_str());
        field(self.reason.as_str());
        field(self.deposition_id.as_deref().unwrap_or(""));
        field(&self.generation.map(|g| g.to_string()).unwrap_or_default());
        field(self.path.as_deref().unwrap_or(""));
        field(&self.file_version.map(|v| v.to_string()).unwrap_or_default());
        field(self.message_id.as_deref().unwrap_or(""));
        if self.deposition_id.is_none() {
            field(self.source_topic.as_deref().unwrap_or(""));
            field(
                &self
                    .source_partition
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
            );
            field(
                &self
                    .source_offset
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
            );
        }
        hex::encode(h.finalize())
    }

    /// The topic key: path, else message_id, else deposition id.
    pub fn key(&self) -> String {
        self.path
            .clone()
            .or_else(|| self.message_id.clone())
            .or_else(|| self.deposition_id.clone())
            .unwrap_or_default()
    }
}
