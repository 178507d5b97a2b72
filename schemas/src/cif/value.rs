//! A CIF value as msgmig sees it.

use serde::{Deserialize, Serialize};

/// One CIF value. The two null markers are kept apart from text because the database rules
/// differ per column: text columns store them literally, a parent id
/// becomes NULL, an integer column takes its DDL default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// A value, exactly as the file carries it (quotes removed, text-field rules of docs/domain.md).
    Text(String),
    /// The unquoted `?` marker (unknown). A quoted `'?'` is `Text("?")`.
    Unknown,
    /// The unquoted `.` marker (inapplicable). A quoted `'.'` is `Text(".")`.
    Inapplicable,
}

impl Value {
    /// The value as the legacy tools stored it: null markers as their literal character.
    pub fn as_literal(&self) -> &str {
        match self {
            Value::Text(s) => s,
            Value::Unknown => "?",
            Value::Inapplicable => ".",
        }
    }

    /// The text, or `None` for either null marker.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Shorthand for `Value::Text(s.into())`.
    pub fn text(s: impl Into<String>) -> Self {
        Value::Text(s.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
