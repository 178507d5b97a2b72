use super::{FileRefRow, InfoRow, OrigcommRow, StatusRow};
use crate::cif::{self, Document, ParseError, Table, Value, WriteError};

/// Something in a message file that msgmig does not map (reported, never silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnknownContent {
    /// A category outside the four of docs/domain.md
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

/// Moves one category's rows out of `table` (none when the file lacks the category), one
/// `Option` per attribute of `attributes` (`None`: the file's loop has no such column).
fn rows_of<R>(
    table: Option<Table>,
    category: &str,
    attributes: &[&str],
    unknown: &mut Vec<UnknownContent>,
    build: impl Fn(Vec<Option<Value>>) -> R,
) -> Vec<(usize, R)> {
    let Some(table) = table else {
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
    // Distinct attributes map to distinct columns, so each value is moved out at most once.
    let columns: Vec<Option<usize>> = attributes.iter().map(|a| table.column(a)).collect();
    table
        .rows
        .into_iter()
        .zip(table.row_lines)
        .map(|(mut row, line)| {
            let values = columns
                .iter()
                .map(|c| c.map(|i| std::mem::replace(&mut row[i], Value::Unknown)))
                .collect();
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
        Ok(Self::from_document(cif::parse(bytes)?))
    }

    /// Maps a parsed document, moving its values (a message text is not copied);
    /// unknown categories/attributes are listed in `unknown`.
    pub fn from_document(mut doc: Document) -> Self {
        let known = [
            InfoRow::CATEGORY,
            FileRefRow::CATEGORY,
            StatusRow::CATEGORY,
            OrigcommRow::CATEGORY,
        ];
        let mut unknown: Vec<UnknownContent> = doc
            .tables
            .iter()
            .filter(|t| !known.contains(&t.category.as_str()))
            .map(|t| UnknownContent::Category(t.category.clone()))
            .collect();
        let mut take = |category: &str| {
            doc.tables
                .iter()
                .position(|t| t.category.eq_ignore_ascii_case(category))
                .map(|i| std::mem::take(&mut doc.tables[i]))
        };
        let (info, file_refs, statuses, origcomm) = (
            take(InfoRow::CATEGORY),
            take(FileRefRow::CATEGORY),
            take(StatusRow::CATEGORY),
            take(OrigcommRow::CATEGORY),
        );
        MessageFile {
            info: rows_of(
                info,
                InfoRow::CATEGORY,
                InfoRow::ATTRIBUTES,
                &mut unknown,
                InfoRow::from_values,
            ),
            file_refs: rows_of(
                file_refs,
                FileRefRow::CATEGORY,
                FileRefRow::ATTRIBUTES,
                &mut unknown,
                FileRefRow::from_values,
            ),
            statuses: rows_of(
                statuses,
                StatusRow::CATEGORY,
                StatusRow::ATTRIBUTES,
                &mut unknown,
                StatusRow::from_values,
            ),
            origcomm: rows_of(
                origcomm,
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
