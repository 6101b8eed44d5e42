//! What a source would make, without ingesting it (`runctl new --source ... --dry-run`): the
//! item count, the first keys, and every empty or duplicate key with where it is, where an
//! ingest would stop at the first one.

use std::collections::HashMap;

use serde::Serialize;

use super::{Item, SourceError, Spec, key_text, make_key};

/// The most keys, empty keys and duplicates listed (the counts are always whole).
const SHOWN: usize = 5;

/// A source as an ingest would see it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Survey {
    pub items: u64,
    pub columns: Vec<String>,
    /// The first keys, in file order.
    pub first_keys: Vec<String>,
    /// Items whose key column is empty or missing.
    pub empty_keys: u64,
    /// Where the first few of them are (line, or sheet and row).
    pub empty_at: Vec<String>,
    /// Items whose key an earlier item has.
    pub duplicates: u64,
    /// The first few duplicates: the key, where it is again and where it was first.
    pub duplicate_at: Vec<Duplicate>,
    /// With `--unpivot`: the columns each row is made into one item per.
    pub unpivot: Vec<String>,
}

/// A key seen twice.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub key: String,
    pub at: String,
    pub first: String,
}

/// Read the whole source as an ingest would, counting what it would refuse instead of stopping
/// at it. A file that cannot be read at all (a bad header, a missing key column) is an error,
/// as it is for an ingest.
pub fn survey(spec: &Spec) -> Result<Survey, SourceError> {
    // Keyed here, not by the reader: an empty key is counted, not an error.
    let unkeyed = Spec {
        key: Vec::new(),
        ..spec.clone()
    };
    let mut out = Survey {
        unpivot: spec.unpivot.clone(),
        ..Survey::default()
    };
    let mut seen: HashMap<String, String> = HashMap::new();
    let columns = super::read(&unkeyed, |item| {
        note(spec, &mut out, &mut seen, item);
        Ok(())
    })?;
    if let Some(missing) = spec.key.iter().find(|k| !columns.contains(k)) {
        return Err(SourceError::Bad {
            path: spec.path.clone(),
            location: "1".into(),
            reason: format!(
                "no column '{}' (columns: {})",
                super::shorten(missing),
                super::column_list(&columns)
            ),
        });
    }
    out.columns = columns;
    Ok(out)
}

fn note(spec: &Spec, out: &mut Survey, seen: &mut HashMap<String, String>, item: Item) {
    out.items += 1;
    let mut parts = Vec::with_capacity(spec.key.len() + 1);
    for column in &spec.key {
        match item.data.get(column).and_then(key_text) {
            Some(text) => parts.push(text),
            None => {
                out.empty_keys += 1;
                if out.empty_at.len() < SHOWN {
                    out.empty_at.push(item.location.clone());
                }
                return;
            }
        }
    }
    if !spec.unpivot.is_empty()
        && let Some(serde_json::Value::String(column)) = item.data.get("column")
    {
        parts.push(column.clone());
    }
    let key = make_key(&parts);
    if out.first_keys.len() < SHOWN {
        out.first_keys.push(key.clone());
    }
    match seen.get(&key) {
        Some(first) => {
            out.duplicates += 1;
            if out.duplicate_at.len() < SHOWN {
                out.duplicate_at.push(Duplicate {
                    key,
                    at: item.location,
                    first: first.clone(),
                });
            }
        }
        None => {
            seen.insert(key, item.location);
        }
    }
}
