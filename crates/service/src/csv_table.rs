//! Reading a CSV export with a header row (staff, roles, rotas): columns found by name whatever
//! their order or case, required ones checked, unknown ones refused, and each row with the line
//! of the file it came from, so every bad row can be reported by its line.

use std::collections::HashMap;

/// Why a file's header row cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The header row itself cannot be read.
    Unreadable(String),
    /// A required column is missing.
    Missing(&'static str),
    /// A column that is neither required nor optional.
    Unknown(String),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(e) => write!(f, "cannot read the header row: {e}"),
            Self::Missing(h) => write!(f, "the header row must have a {h:?} column"),
            Self::Unknown(h) => write!(f, "unknown column {h:?}"),
        }
    }
}

/// The rows of a file, each with its line: the row, or why it cannot be read.
pub struct Table {
    index: HashMap<String, usize>,
    rows: Vec<(usize, Result<csv::StringRecord, String>)>,
}

/// One readable row.
pub struct Row<'a> {
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The value of `column` (a column of the header, lowercase), if the row has it.
    #[must_use]
    pub fn get(&self, column: &str) -> Option<&str> {
        self.index.get(column).and_then(|i| self.record.get(*i))
    }
}

impl Table {
    /// Reads every row of `reader` (configured by the caller: trimming, flexible rows) whose
    /// header must hold every `required` column and nothing outside `required` and `optional`.
    pub fn read(
        mut reader: csv::Reader<&[u8]>,
        required: &[&'static str],
        optional: &[&str],
    ) -> Result<Self, HeaderError> {
        let headers = reader.headers().map_err(|e| HeaderError::Unreadable(e.to_string()))?.clone();
        let index: HashMap<String, usize> =
            headers.iter().enumerate().map(|(i, h)| (h.trim().to_lowercase(), i)).collect();
        if let Some(h) = required.iter().find(|h| !index.contains_key(**h)) {
            return Err(HeaderError::Missing(h));
        }
        if let Some(h) = index.keys().find(|h| !required.contains(&h.as_str()) && !optional.contains(&h.as_str())) {
            return Err(HeaderError::Unknown(h.clone()));
        }
        let rows = reader
            .records()
            .enumerate()
            .map(|(i, record)| {
                let line = record
                    .as_ref()
                    .ok()
                    .and_then(|r| r.position())
                    .map_or(i + 2, |p| usize::try_from(p.line()).unwrap_or(i + 2));
                (line, record.map_err(|e| format!("unreadable row: {e}")))
            })
            .collect();
        Ok(Self { index, rows })
    }

    /// Each row with its line: the row, or why it cannot be read.
    pub fn rows(&self) -> impl Iterator<Item = (usize, Result<Row<'_>, &str>)> {
        self.rows.iter().map(|(line, record)| {
            (*line, record.as_ref().map(|record| Row { index: &self.index, record }).map_err(String::as_str))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Result<Table, HeaderError> {
        Table::read(csv::ReaderBuilder::new().from_reader(text.as_bytes()), &["a", "b"], &["c"])
    }

    #[test]
    fn columns_by_name_rows_by_line() {
        let t = table("B,A\n1,2\n\"3\n\",4\n5,6\n").unwrap();
        let rows: Vec<(usize, Option<String>)> =
            t.rows().map(|(line, row)| (line, row.ok().and_then(|r| r.get("a").map(str::to_owned)))).collect();
        let want = [(2, Some("2".to_owned())), (3, Some("4".to_owned())), (5, Some("6".to_owned()))];
        assert_eq!(rows, want, "a line break inside quotes counts for the rows after it");
        assert_eq!(table("a\n1\n").err(), Some(HeaderError::Missing("b")));
        assert_eq!(table("a,b,z\n").err(), Some(HeaderError::Unknown("z".into())));
        let uneven = table("a,b\n1,2,3\n").unwrap();
        assert!(uneven.rows().all(|(line, row)| line == 2 && row.is_err()), "a row of another length is unreadable");
    }
}
