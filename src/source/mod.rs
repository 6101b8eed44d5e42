//! Reading a run's source file (CSV, JSONL, XLSX) into work items, streaming, and its
//! checksums. No SQL: rows go to a callback, which the CLI points at the store's ingest
//! transaction. Every error names the file and the line (or sheet and cell).
//!
//! This module holds what every format shares (the spec, items and their keys, errors); one
//! module per format reads the rows.

mod checksum;
mod delimited;
mod jsonl;
mod survey;
mod workbook;
mod workbook_parts;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use checksum::{Checksums, checksums, sha256};
pub use survey::{Duplicate, Survey, survey};

/// The largest item runctl reads from a source: one CSV record, one JSON line, one spreadsheet
/// cell. Larger ones fail the ingest naming the line or cell, before they can take the memory
/// of the machine (an item is held whole, and becomes JSON in the DB).
pub const ITEM_MAX_BYTES: u64 = 32 * 1024 * 1024;
/// The largest `xl/sharedStrings.xml` (inflated) of an `.xlsx`: calamine holds it whole.
pub const SHARED_STRINGS_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// The largest inflated part of a workbook that is read whole (`.ods` content).
pub const WHOLE_PART_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// Over this inflated size, a workbook part that inflates more than [`BOMB_RATIO`] times is
/// refused as a zip bomb: real sheets compress 5 to 30 times.
pub const BOMB_MIN_BYTES: u64 = 64 * 1024 * 1024;
pub const BOMB_RATIO: u64 = 100;

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

/// Turn one row into its items (one, or one per unpivoted column), each handed to `sink` as it
/// is made (a row unpivoted into many columns is never held as many copies at once).
fn row_items(
    spec: &Spec,
    row: Map<String, Value>,
    location: String,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<(), SourceError> {
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
        if text_bytes(&row) > ITEM_MAX_BYTES {
            return Err(bad(too_long("the row")));
        }
        return sink(Item {
            key: make_key(&parts),
            location,
            data: row,
        });
    }
    let mut common = row.clone();
    for column in &spec.unpivot {
        common.remove(column);
    }
    let common_bytes = text_bytes(&common);
    for column in &spec.unpivot {
        let value = row
            .get(column)
            .cloned()
            .ok_or_else(|| bad(format!("no column '{column}' to unpivot")))?;
        if common_bytes + value_bytes(&value) > ITEM_MAX_BYTES {
            return Err(bad(too_long(&format!(
                "the item of column '{}'",
                shorten(column)
            ))));
        }
        let mut data = common.clone();
        data.insert("column".into(), Value::String(column.clone()));
        data.insert("value".into(), value);
        let mut key = parts.clone();
        key.push(column.clone());
        sink(Item {
            key: make_key(&key),
            location: location.clone(),
            data,
        })?;
    }
    Ok(())
}

/// About how many bytes a row's text takes (names and string values; numbers count little).
fn text_bytes(row: &Map<String, Value>) -> u64 {
    row.iter()
        .map(|(k, v)| k.len() as u64 + value_bytes(v))
        .sum()
}

fn value_bytes(value: &Value) -> u64 {
    match value {
        Value::String(s) => s.len() as u64,
        Value::Array(a) => a.iter().map(value_bytes).sum(),
        Value::Object(o) => text_bytes(o),
        _ => 8,
    }
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

/// Refuse a header that lacks a key or unpivot column, or names a column twice (the second
/// would silently replace the first's values).
fn check_columns(spec: &Spec, columns: &[String], location: &str) -> Result<(), SourceError> {
    let bad = |reason: String| SourceError::Bad {
        path: spec.path.clone(),
        location: location.to_string(),
        reason,
    };
    let mut seen = std::collections::HashSet::with_capacity(columns.len());
    for column in columns {
        if !seen.insert(column.as_str()) {
            return Err(bad(format!(
                "the column '{}' appears twice in the header",
                shorten(column)
            )));
        }
    }
    for column in spec.key.iter().chain(&spec.unpivot) {
        if !columns.contains(column) {
            return Err(bad(format!(
                "no column '{}' (columns: {})",
                shorten(column),
                column_list(columns)
            )));
        }
    }
    Ok(())
}

/// At most 20 column names of at most 64 characters each, for an error message: a header of
/// 200 MB is not echoed.
pub(super) fn column_list(columns: &[String]) -> String {
    let mut list: Vec<String> = columns.iter().take(20).map(|c| shorten(c)).collect();
    if columns.len() > 20 {
        list.push(format!("... {} more", columns.len() - 20));
    }
    list.join(", ")
}

/// A name cut to 64 characters for a message, line breaks and other hidden characters shown
/// escaped.
pub(super) fn shorten(text: &str) -> String {
    let text = crate::text::printable(text);
    if text.chars().count() <= 64 {
        return text.into_owned();
    }
    let head: String = text.chars().take(61).collect();
    format!("{head}...")
}

/// The message for an item over [`ITEM_MAX_BYTES`].
fn too_long(what: &str) -> String {
    format!(
        "{what} is longer than {} MiB, the most runctl takes for one item",
        ITEM_MAX_BYTES / (1024 * 1024)
    )
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
