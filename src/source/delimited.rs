//! CSV (and TSV, or any one-byte delimiter) sources, streamed record by record with the csv
//! crate; the delimiter is sniffed from the header line unless given.

use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};

use super::{Item, SourceError, Spec, check_columns, row_items};

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

pub(super) fn read(
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
