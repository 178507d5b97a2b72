//! The parsed shape of a message file: one data block of categories.

use super::Value;

/// One category of a data block, in either form (key/value pairs are a one-row table).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Category name without the leading `_`, lower-cased (CIF names are case-insensitive).
    pub category: String,
    /// Attribute names, lower-cased, in file order.
    pub attributes: Vec<String>,
    /// Rows; every row has `attributes.len()` values.
    pub rows: Vec<Vec<Value>>,
    /// 1-based line of the first value of each row (for error reports on row content).
    pub row_lines: Vec<usize>,
    /// `true` when the category was written as a `loop_`.
    pub is_loop: bool,
}

impl Table {
    /// Index of an attribute (case-insensitive).
    pub fn column(&self, attribute: &str) -> Option<usize> {
        self.attributes
            .iter()
            .position(|a| a.eq_ignore_ascii_case(attribute))
    }
}

/// A parsed CIF file: exactly one data block (docs/domain.md "Structure").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document {
    /// Block name after `data_` (`messages` in every known file).
    pub block_name: String,
    /// Categories in order of first appearance.
    pub tables: Vec<Table>,
}

impl Document {
    /// The table of a category (name without `_`, case-insensitive).
    pub fn table(&self, category: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.category.eq_ignore_ascii_case(category))
    }
}
