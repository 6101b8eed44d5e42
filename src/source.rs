//! Reading a run's source file (CSV, JSONL, XLSX) into work items, streaming, and its
//! checksums. No SQL: rows go to a callback, which the CLI points at the store's ingest
//! transaction. Every error names the file and the line (or sheet and cell).

use std::io::Read;
use std::path::{Path, PathBuf};

use md5::Digest;
use serde_json::{Map, Value};

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

/// MD5 and SHA-256 of a file, read once in blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksums {
    pub md5: String,
    pub sha256: String,
    pub size: u64,
}

pub fn checksums(path: &Path) -> Result<Checksums, SourceError> {
    let io = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let (mut md5, mut sha) = (md5::Md5::new(), sha2::Sha256::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Checksums {
        md5: hex::encode(md5.finalize()),
        sha256: hex::encode(sha.finalize()),
        size,
    })
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

/// The delimiter of a CSV file: the one of `,`, `;`, tab and `|` found most in its first line.
fn sniff_delimiter(path: &Path) -> Result<u8, SourceError> {
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|source| SourceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let first = head.split(|b| *b == b'\n').next().unwrap_or(&[]);
    Ok([b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first.iter().filter(|b| *b == d).count())
        .unwrap_or(b','))
}

/// Read every item of the source, in file order, into `sink`; returns the column names.
pub fn read(
    spec: &Spec,
    mut sink: impl FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    match spec.format {
        Format::Csv => read_csv(spec, &mut sink),
        Format::Jsonl => read_jsonl(spec, &mut sink),
        Format::Xlsx if is_xlsx_zip(&spec.path) => stream_xlsx(spec, &mut sink),
        Format::Xlsx => read_xlsx(spec, &mut sink),
    }
}

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

fn read_csv(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    let delimiter = match spec.delimiter {
        Some(d) => d,
        None => sniff_delimiter(&spec.path)?,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(&spec.path)
        .map_err(|e| SourceError::Bad {
            path: spec.path.clone(),
            location: "1".into(),
            reason: e.to_string(),
        })?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| SourceError::Bad {
            path: spec.path.clone(),
            location: "1".into(),
            reason: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    check_columns(spec, &headers, "1")?;
    let mut record = csv::StringRecord::new();
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            SourceError::Bad {
                path: spec.path.clone(),
                location: line.to_string(),
                reason: e.to_string(),
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line()).to_string();
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        for item in row_items(spec, row, line)? {
            sink(item)?;
        }
    }
    Ok(headers)
}

fn read_jsonl(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    use std::io::BufRead;
    let file = std::fs::File::open(&spec.path).map_err(|source| SourceError::Io {
        path: spec.path.clone(),
        source,
    })?;
    let mut columns: Vec<String> = Vec::new();
    for (i, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let location = (i + 1).to_string();
        let bad = |reason: String| SourceError::Bad {
            path: spec.path.clone(),
            location: location.clone(),
            reason,
        };
        let line = line.map_err(|source| SourceError::Io {
            path: spec.path.clone(),
            source,
        })?;
        let text = std::str::from_utf8(&line)
            .map_err(|_| bad("not valid UTF-8".into()))?
            .trim();
        if text.is_empty() {
            continue;
        }
        let row = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(bad("not a JSON object".into())),
            Err(e) => return Err(bad(format!("not valid JSON: {e}"))),
        };
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
        for item in row_items(spec, row, location.clone())? {
            sink(item)?;
        }
    }
    Ok(columns)
}

/// `A1`-style name of a cell.
fn cell_name(row: usize, column: usize) -> String {
    let mut letters = String::new();
    let mut n = column + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.insert(0, char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    format!("{letters}{}", row + 1)
}

/// Whether the file is an Office Open XML workbook (.xlsx, .xlsm), which streams; .xls and .ods
/// are read whole.
fn is_xlsx_zip(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("xlsx" | "xlsm")
    )
}

/// A cell as JSON; an error cell is refused.
fn cell_json(cell: &calamine::Data) -> Result<Value, String> {
    use calamine::Data;
    Ok(match cell {
        Data::Empty => Value::Null,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        // Excel stores every number as a float: ids like 10 come back as 10.0.
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(*f as i64),
        Data::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Data::Int(i) => Value::from(*i),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(d) => Value::String(d.to_string()),
        Data::Error(e) => return Err(format!("the cell holds an error ({e:?})")),
    })
}

/// The header row, collected as column index -> name, in column order.
fn header_list(names: Map<String, Value>) -> Vec<(u32, String)> {
    let mut list: Vec<(u32, String)> = names
        .into_iter()
        .filter_map(|(c, n)| Some((c.parse().ok()?, n.as_str()?.to_string())))
        .collect();
    list.sort();
    list
}

/// Stream an .xlsx sheet cell by cell (calamine's cell reader): one row in memory at a time.
/// The first row with a value is the header row.
fn stream_xlsx(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    use calamine::Reader;
    let bad = |location: String, reason: String| SourceError::Bad {
        path: spec.path.clone(),
        location,
        reason,
    };
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook(&spec.path)
        .map_err(|e| bad("0".into(), format!("not a readable workbook: {e}")))?;
    let sheet = match &spec.sheet {
        Some(s) => s.clone(),
        None => workbook
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| bad("0".into(), "the workbook has no sheet".into()))?,
    };
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|e| bad(format!("sheet {sheet}"), e.to_string()))?;
    let mut headers: Option<Vec<(u32, String)>> = None;
    let mut row: Option<(u32, Map<String, Value>)> = None;
    let mut finish_row = |row: Option<(u32, Map<String, Value>)>,
                          headers: &Option<Vec<(u32, String)>>|
     -> Result<(), SourceError> {
        let Some((r, map)) = row else {
            return Ok(());
        };
        if headers.is_none() || map.values().all(Value::is_null) {
            return Ok(());
        }
        // Columns with no cell in this row are null, as in the other formats.
        let mut full = Map::new();
        for (_, name) in headers.iter().flatten() {
            full.insert(name.clone(), map.get(name).cloned().unwrap_or(Value::Null));
        }
        for item in row_items(spec, full, format!("sheet {sheet} row {}", r + 1))? {
            sink(item)?;
        }
        Ok(())
    };
    loop {
        let cell = cells
            .next_cell()
            .map_err(|e| bad(format!("sheet {sheet}"), format!("unreadable sheet: {e}")))?;
        let Some(cell) = cell else {
            break;
        };
        let (r, c) = cell.get_position();
        let value =
            cell_json(&calamine::Data::from(cell.get_value().clone())).map_err(|reason| {
                bad(
                    format!("sheet {sheet} cell {}", cell_name(r as usize, c as usize)),
                    reason,
                )
            })?;
        match &mut headers {
            None => {
                // Still in the header row (the first row with a value).
                let first = row.get_or_insert_with(|| (r, Map::new()));
                if first.0 == r {
                    if !value.is_null() {
                        let name = match &value {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        first.1.insert(c.to_string(), Value::String(name));
                    }
                    continue;
                }
                let (header_row, names) = row.take().unwrap_or_default();
                let list = header_list(names);
                let columns: Vec<String> = list.iter().map(|(_, n)| n.clone()).collect();
                check_columns(
                    spec,
                    &columns,
                    &format!("sheet {sheet} row {}", header_row + 1),
                )?;
                headers = Some(list);
                row = Some((r, Map::new()));
            }
            Some(_) => {
                if row.as_ref().is_some_and(|(at, _)| *at != r) {
                    finish_row(row.take(), &headers)?;
                }
                row.get_or_insert_with(|| (r, Map::new()));
            }
        }
        let name = headers
            .as_ref()
            .and_then(|h| h.iter().find(|(col, _)| *col == c))
            .map(|(_, n)| n.clone());
        if let (Some(name), Some((_, map))) = (name, row.as_mut()) {
            map.insert(name, value);
        }
    }
    match headers {
        Some(_) => finish_row(row, &headers)?,
        None => {
            // A sheet with only a header row (or nothing).
            let (_, names) = row.unwrap_or_default();
            headers = Some(header_list(names));
        }
    }
    let columns: Vec<String> = headers
        .unwrap_or_default()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    if columns.is_empty() {
        return Err(bad(format!("sheet {sheet}"), "the sheet is empty".into()));
    }
    check_columns(spec, &columns, &format!("sheet {sheet} row 1"))?;
    Ok(columns)
}

fn read_xlsx(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    use calamine::Reader;
    let bad = |location: String, reason: String| SourceError::Bad {
        path: spec.path.clone(),
        location,
        reason,
    };
    let mut workbook = calamine::open_workbook_auto(&spec.path)
        .map_err(|e| bad("0".into(), format!("not a readable workbook: {e}")))?;
    let sheet = match &spec.sheet {
        Some(s) => s.clone(),
        None => workbook
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| bad("0".into(), "the workbook has no sheet".into()))?,
    };
    let range = workbook
        .worksheet_range(&sheet)
        .map_err(|e| bad(format!("sheet {sheet}"), e.to_string()))?;
    let mut rows = range.rows();
    let headers: Vec<String> = rows
        .next()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    check_columns(spec, &headers, &format!("sheet {sheet} row 1"))?;
    for (r, row) in rows.enumerate() {
        let row_index = r + 1;
        let mut map = Map::new();
        for (c, (header, cell)) in headers.iter().zip(row).enumerate() {
            let value = cell_json(cell).map_err(|reason| {
                bad(
                    format!("sheet {sheet} cell {}", cell_name(row_index, c)),
                    reason,
                )
            })?;
            map.insert(header.clone(), value);
        }
        if map.values().all(Value::is_null) {
            continue;
        }
        for item in row_items(spec, map, format!("sheet {sheet} row {}", row_index + 1))? {
            sink(item)?;
        }
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_names() {
        assert_eq!(cell_name(0, 0), "A1");
        assert_eq!(cell_name(4, 27), "AB5");
    }

    #[test]
    fn keys() {
        assert_eq!(make_key(&["7".into()]), "7");
        assert_eq!(
            make_key(&["7".into(), "narrative_1".into()]),
            "[\"7\",\"narrative_1\"]"
        );
    }
}
