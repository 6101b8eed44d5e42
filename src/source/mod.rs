//! Reading a run's source file (CSV, JSONL, XLSX) into work items, streaming, and its
//! checksums. No SQL: rows go to a callback, which the CLI points at the store's ingest
//! transaction. Every error names the file and the line (or sheet and cell).
//!
//! This module holds what every format shares (the spec, items and their keys, errors); one
//! module per format reads the rows.

mod checksum;
mod delimited;
mod jsonl;
mod workbook;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use checksum::{Checksums, checksums};

/// File formats of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
    Xlsx,
}

impl Format {
    /// The format of a path, by its extension.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "xlsx" | "xlsm" | "xls" | "ods" => Some(Format::Xlsx),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }
}

/// What to read and how to key it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub path: PathBuf,
    pub format: Format,
    pub key: Vec<String>,
    pub unpivot: Vec<String>,
    pub delimiter: Option<u8>,
    pub sheet: Option<String>,
}

/// A failure reading a source; nothing of it is kept.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{location}: {reason}")]
    Bad {
        path: PathBuf,
        location: String,
        reason: String,
    },
}

/// One work item: its key, where it came from, and its data.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: String,
    pub location: String,
    pub data: Map<String, Value>,
}

/// The text of a key cell: strings as they are, numbers and booleans printed, empty is none.
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// An item key from its parts: one part as it is, several as a JSON array.
pub fn make_key(parts: &[String]) -> String {
    match parts {
        [one] => one.clone(),
        many => serde_json::to_string(many).unwrap_or_default(),
    }
}

/// Turn one row into its items (one, or one per unpivoted column).
fn row_items(
    spec: &Spec,
    row: Map<String, Value>,
    location: String,
) -> Result<Vec<Item>, SourceError> {
    let bad = |reason: String| SourceError::Bad {
        path: spec.path.clone(),
        location: location.clone(),
        reason,
    };
    let mut parts = Vec::with_capacity(spec.key.len() + 1);
    for column in &spec.key {
        let value = row
            .get(column)
            .ok_or_else(|| bad(format!("no key column '{column}'")))?;
        parts.push(
            key_text(value).ok_or_else(|| bad(format!("the key column '{column}' is empty")))?,
        );
    }
    if spec.unpivot.is_empty() {
        return Ok(vec![Item {
            key: make_key(&parts),
            location,
            data: row,
        }]);
    }
    let mut common = row.clone();
    for column in &spec.unpivot {
        common.remove(column);
    }
    let mut items = Vec::with_capacity(spec.unpivot.len());
    for column in &spec.unpivot {
        let value = row
            .get(column)
            .cloned()
            .ok_or_else(|| bad(format!("no column '{column}' to unpivot")))?;
        let mut data = common.clone();
        data.insert("column".into(), Value::String(column.clone()));
        data.insert("value".into(), value);
        let mut key = parts.clone();
        key.push(column.clone());
        items.push(Item {
            key: make_key(&key),
            location: location.clone(),
            data,
        });
    }
    Ok(items)
}

/// Read every item of the source, in file order, into `sink`; returns the column names.
pub fn read(
    spec: &Spec,
    mut sink: impl FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    match spec.format {
        Format::Csv => delimited::read(spec, &mut sink),
        Format::Jsonl => jsonl::read(spec, &mut sink),
        Format::Xlsx => workbook::read(spec, &mut sink),
    }
}

/// Refuse a header that lacks a key or unpivot column.
fn check_columns(spec: &Spec, columns: &[String], location: &str) -> Result<(), SourceError> {
    for column in spec.key.iter().chain(&spec.unpivot) {
        if !columns.contains(column) {
            return Err(SourceError::Bad {
                path: spec.path.clone(),
                location: location.to_string(),
                reason: format!("no column '{column}' (columns: {})", columns.join(", ")),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(make_key(&["7".into()]), "7");
        assert_eq!(
            make_key(&["7".into(), "narrative_1".into()]),
            "[\"7\",\"narrative_1\"]"
        );
    }
}
