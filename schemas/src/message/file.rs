use super::{FileRefRow, InfoRow, OrigcommRow, StatusRow};
use crate::cif::{self, Document, ParseError, Table, Value, WriteError};

/// Something in a message file that msgmig does not map (reported, never silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownContent {
    /// A category outside the four of domain.md §4.
    Category(String),
    /// An attribute outside a known category's definition.
    Attribute { category: String, attribute: String },
}

/// The content of one message file: the four categories as typed rows, in file order, with the
/// 1-based line where each row starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageFile {
    pub info: Vec<(usize, InfoRow)>,
    pub file_refs: Vec<(usize, FileRefRow)>,
    pub statuses: Vec<(usize, StatusRow)>,
    pub origcomm: Vec<(usize, OrigcommRow)>,
    /// Categories and attributes present in the file but not mapped.
    pub unknown: Vec<UnknownContent>,
}

fn rows_of<R>(
    doc: &Document,
    category: &str,
    attributes: &[&str],
    unknown: &mut Vec<UnknownContent>,
    build: impl Fn(Vec<Option<Value>>) -> R,
) -> Vec<(usize, R)> {
    let Some(table) = doc.table(category) else {
        return Vec::new();
    };
    for a in &table.attributes {
        if !attributes.contains(&a.as_str()) {
            unknown.push(UnknownContent::Attribute {
                category: category.to_owned(),
                attribute: a.clone(),
            });
        }
    }
    let columns: Vec<Option<usize>> = attributes.iter().map(|a| table.column(a)).collect();
    table
        .rows
        .iter()
        .zip(&table.row_lines)
        .map(|(row, &line)| {
            let values = columns.iter().map(|c| c.map(|i| row[i].clone())).collect();
            (line, build(values))
        })
        .collect()
}

fn table_of(category: &str, attributes: &[&str], rows: Vec<Vec<Value>>) -> Option<Table> {
    if rows.is_empty() {
        return None;
    }
    Some(Table {
        category: category.to_owned(),
        attributes: attributes.iter().map(|a| (*a).to_owned()).collect(),
        row_lines: vec![0; rows.len()],
        is_loop: rows.len() > 1,
        rows,
    })
}

impl MessageFile {
    /// Parses file bytes strictly and maps the categories (see [`cif::parse`] for errors).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Ok(Self::from_document(&cif::parse(bytes)?))
    }

    /// Maps a parsed document; unknown categories/attributes are listed in `unknown`.
    pub fn from_document(doc: &Document) -> Self {
        let mut unknown = Vec::new();
        for t in &doc.tables {
            let known = [
                InfoRow::CATEGORY,
                FileRefRow::CATEGORY,
                StatusRow::CATEGORY,
                OrigcommRow::CATEGORY,
            ];
            if !known.contains(&t.category.as_str()) {
                unknown.push(UnknownContent::Category(t.category.clone()));
            }
        }
        MessageFile {
            info: rows_of(
                doc,
                InfoRow::CATEGORY,
                InfoRow::ATTRIBUTES,
                &mut unknown,
                InfoRow::from_values,
            ),
            file_refs: rows_of(
                doc,
                FileRefRow::CATEGORY,
                FileRefRow::ATTRIBUTES,
                &mut unknown,
                FileRefRow::from_values,
            ),
            statuses: rows_of(
                doc,
                StatusRow::CATEGORY,
                StatusRow::ATTRIBUTES,
                &mut unknown,
                StatusRow::from_values,
            ),
            origcomm: rows_of(
                doc,
                OrigcommRow::CATEGORY,
                OrigcommRow::ATTRIBUTES,
                &mut unknown,
                OrigcommRow::from_values,
            ),
            unknown,
        }
    }

    /// Builds the document the legacy application writes: block `messages`, categories in the
    /// order info, file reference, status, origcomm; empty categories omitted.
    pub fn to_document(&self) -> Document {
        let tables = [
            table_of(
                InfoRow::CATEGORY,
                InfoRow::ATTRIBUTES,
                self.info
                    .iter()
                    .map(|(_, r)| r.clone().into_values())
                    .collect(),
            ),
            table_of(
                FileRefRow::CATEGORY,
                FileRefRow::ATTRIBUTES,
                self.file_refs
                    .iter()
                    .map(|(_, r)| r.clone().into_values())
                    .collect(),
            ),
            table_of(
                StatusRow::CATEGORY,
                StatusRow::ATTRIBUTES,
                self.statuses
                    .iter()
                    .map(|(_, r)| r.clone().into_values())
                    .collect(),
            ),
            table_of(
                OrigcommRow::CATEGORY,
                OrigcommRow::ATTRIBUTES,
                self.origcomm
                    .iter()
                    .map(|(_, r)| r.clone().into_values())
                    .collect(),
            ),
        ];
        Document {
            block_name: "messages".into(),
            tables: tables.into_iter().flatten().collect(),
        }
    }

    /// Writes the file in the legacy layout (see [`cif::write`]).
    pub fn write(&self) -> Result<String, WriteError> {
        cif::write(&self.to_document())
    }

    /// `true` when the file holds no row of any category.
    pub fn is_empty(&self) -> bool {
        self.info.is_empty()
            && self.file_refs.is_empty()
            && self.statuses.is_empty()
            && self.origcomm.is_empty()
    }
}
