//! JSON Lines sources: one object per line, blank lines skipped; the columns are every key seen,
//! in order of first appearance.

use serde_json::Value;

use super::{Item, SourceError, Spec, row_items};

pub(super) fn read(
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
