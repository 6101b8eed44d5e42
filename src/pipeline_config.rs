//! Reading a pipeline's own config file (`--config FILE`: YAML, TOML or JSON) for the values
//! that name a run: dotted keys such as `training.model_name_or_path`.

use std::path::Path;

use serde_json::Value;

/// Errors reading a pipeline config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid {format}: {detail}")]
    Parse {
        path: String,
        format: &'static str,
        detail: String,
    },
}

/// Parse the file by its extension (`.yaml`/`.yml`, `.toml`, `.json`; anything else: JSON, then YAML).
pub fn load(path: &Path) -> Result<Value, ConfigError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ConfigError::Parse {
        path: shown.clone(),
        format: "UTF-8",
        detail: format!("invalid byte at offset {}", e.utf8_error().valid_up_to()),
    })?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let parse_err = |format: &'static str, detail: String| ConfigError::Parse {
        path: shown.clone(),
        format,
        detail,
    };
    match ext.as_deref() {
        Some("yaml" | "yml") => {
            serde_norway::from_str(&text).map_err(|e| parse_err("YAML", e.to_string()))
        }
        Some("toml") => toml::from_str::<toml::Value>(&text)
            .map_err(|e| parse_err("TOML", e.to_string()))
            .and_then(|v| serde_json::to_value(v).map_err(|e| parse_err("TOML", e.to_string()))),
        Some("json") => serde_json::from_str(&text).map_err(|e| parse_err("JSON", e.to_string())),
        _ => serde_json::from_str(&text)
            .or_else(|_| serde_norway::from_str(&text))
            .map_err(|e| parse_err("JSON or YAML", e.to_string())),
    }
}

/// The value at a dotted key (`training.model_name_or_path`), if present.
pub fn lookup<'a>(config: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(config, |node, key| node.as_object()?.get(key))
}

/// A scalar as text; `null` (and absence) is `None`.
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_lookup() {
        let v: Value = serde_json::json!({"training": {"model_name_or_path": "Qwen/Qwen2-7B"}, "data": {"sample_size": null}});
        assert_eq!(
            lookup(&v, "training.model_name_or_path")
                .and_then(as_text)
                .as_deref(),
            Some("Qwen/Qwen2-7B")
        );
        assert_eq!(lookup(&v, "data.sample_size").map(as_text), Some(None));
        assert_eq!(lookup(&v, "data.missing"), None);
        assert_eq!(lookup(&v, "training.model_name_or_path.x"), None);
    }
}

/// The dotted keys whose values differ between two configs (added, removed or changed), sorted.
pub fn differing_keys(a: &Value, b: &Value) -> Vec<String> {
    fn walk(prefix: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, x.get(k), y.get(k), out);
                }
            }
            (x, y) if x != y => out.push(if prefix.is_empty() {
                "(the whole config)".into()
            } else {
                prefix.to_string()
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out
}

#[cfg(test)]
mod diff_tests {
    use super::*;

    #[test]
    fn differing_keys_are_dotted_and_cover_added_removed_changed() {
        let a = serde_json::json!({"training": {"lr": 0.1, "epochs": 3}, "seed": 1});
        let b = serde_json::json!({"training": {"lr": 0.2, "epochs": 3, "warmup": 10}});
        assert_eq!(
            differing_keys(&a, &b),
            vec!["seed", "training.lr", "training.warmup"]
        );
        assert!(differing_keys(&a, &a).is_empty());
    }
}
