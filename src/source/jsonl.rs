//! JSON Lines sources: one object per line, blank lines skipped; the columns are every key seen,
//! in order of first appearance.

use serde_json::Value;

use super::{ITEM_MAX_BYTES, Item, SourceError, Spec, row_items};

pub(super) fn read(
    spec: &Spec,
    sink: &mut dyn FnMut(Item) -> Result<(), SourceError>,
) -> Result<Vec<String>, SourceError> {
    use std::io::{BufRead, Read};
    let file = std::fs::File::open(&spec.path).map_err(|source| SourceError::Io {
        path: spec.path.clone(),
        source,
    })?;
    let mut columns: Vec<String> = Vec::new();
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    for i in 0.. {
        let location = (i + 1).to_string();
        let bad = |reason: String| SourceError::Bad {
            path: spec.path.clone(),
            location: location.clone(),
            reason,
        };
        line.clear();
        // At most one byte past the limit is read, however long the line is.
        let n = (&mut reader)
            .take(ITEM_MAX_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(|source| SourceError::Io {
                path: spec.path.clone(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if line.len() as u64 > ITEM_MAX_BYTES {
            return Err(bad(super::too_long("the line")));
        }
        // A byte-order mark some editors put first is not part of the line.
        let bytes = match (i, line.strip_prefix(b"\xEF\xBB\xBF")) {
            (0, Some(rest)) => rest,
            _ => line.as_slice(),
        };
        let text = std::str::from_utf8(bytes)
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
        row_items(spec, row, location.clone(), sink)?;
    }
    Ok(columns)
}
