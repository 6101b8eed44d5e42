//! The worker protocol, pure: the JSON line an item is sent as, the result lines a stream worker
//! (or `runctl record`) answers with, and how a per-item worker's stdout becomes a result. No I/O.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::source;

/// The JSON line (with its newline) of an item: `{"key":..,"data":{..},"location":..}`, with
/// `,"attempt":N` before the closing brace when it is handed to a worker (`runctl items` prints
/// it without).
pub fn item_line(key: &str, data: &str, location: &str, attempt: Option<u32>) -> String {
    item_line_with(key, data, location, attempt, None)
}

/// A failed item as `runctl items --errors` shows it: the item line with its `attempts`, its
/// latest `error` and that error's `category`.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub attempts: i64,
    pub error: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// [`item_line`], with what a failed item's result says when there is one.
pub fn item_line_with(
    key: &str,
    data: &str,
    location: &str,
    attempt: Option<u32>,
    failure: Option<Failure<'_>>,
) -> String {
    let mut line = String::with_capacity(key.len() + data.len() + location.len() + 48);
    push_item_line(&mut line, key, data, location, attempt, failure);
    line
}

/// [`item_line_with`], appended to `line`.
pub fn push_item_line(
    line: &mut String,
    key: &str,
    data: &str,
    location: &str,
    attempt: Option<u32>,
    failure: Option<Failure<'_>>,
) {
    use std::fmt::Write as _;
    line.push_str("{\"key\":");
    push_json_string(line, key);
    line.push_str(",\"data\":");
    line.push_str(data);
    line.push_str(",\"location\":");
    push_json_string(line, location);
    if let Some(attempt) = attempt {
        let _ = write!(line, ",\"attempt\":{attempt}");
    }
    if let Some(f) = failure {
        let _ = write!(line, ",\"attempts\":{}", f.attempts);
        for (name, value) in [("error", f.error), ("category", f.category)] {
            let _ = write!(line, ",\"{name}\":");
            match value {
                Some(text) => push_json_string(line, text),
                None => line.push_str("null"),
            }
        }
    }
    line.push_str("}\n");
}

fn push_json_string(out: &mut String, text: &str) {
    // serde_json escapes exactly as JSON requires; a str never fails to serialize.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

/// One result line, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultLine {
    pub key: String,
    /// `Ok(output JSON)` or `Err(message)`.
    pub outcome: Result<String, String>,
    /// The category a worker gave its error, if any.
    pub category: Option<String>,
    pub duration_ms: Option<i64>,
    pub worker: Option<i64>,
}

/// Parse `{"key": .., "ok": ..}` or `{"key": .., "error": ..}` (plus optional `category`,
/// `duration_ms`, `worker`). A key may be a string, a number, or an array of key parts. Other
/// fields are ignored; a field given twice counts with its last value.
pub fn parse_result_line(line: &str) -> Result<ResultLine, String> {
    // The fields straight into their slots (no map of the whole object); any line this does
    // not take is parsed again as a whole value for the error it deserves.
    match serde_json::from_str::<Fields>(line) {
        Ok(fields) => fields.result(),
        Err(_) => parse_value_line(line),
    }
}

/// The fields of a result line that mean something, each as its last value in the line.
#[derive(Default)]
struct Fields {
    /// The key as [`key_text`] makes it of the value's own text.
    key: Option<Result<String, String>>,
    ok: Option<Value>,
    error: Option<Value>,
    category: Option<Value>,
    duration_ms: Option<Value>,
    worker: Option<Value>,
}

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut f = Fields::default();
                while let Some(name) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match name.as_ref() {
                        "key" => {
                            let raw: &'de RawValue = map.next_value()?;
                            f.key = Some(key_text(raw.get()));
                            continue;
                        }
                        "ok" => &mut f.ok,
                        "error" => &mut f.error,
                        "category" => &mut f.category,
                        "duration_ms" => &mut f.duration_ms,
                        "worker" => &mut f.worker,
                        _ => {
                            map.next_value::<Value>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(f)
            }
        }
        d.deserialize_map(Visit)
    }
}

impl Fields {
    fn result(self) -> Result<ResultLine, String> {
        let key = match self.key {
            Some(Ok(key)) => key,
            _ => return Err("no \"key\" (a string, number or array)".into()),
        };
        let outcome = match (self.ok, self.error) {
            (Some(out), None) => Ok(out.to_string()),
            (None, Some(Value::String(e))) => Err(e),
            (None, Some(e)) => Err(e.to_string()),
            _ => return Err("needs exactly one of \"ok\" and \"error\"".into()),
        };
        Ok(ResultLine {
            key,
            outcome,
            category: self.category.and_then(|c| match c {
                Value::String(s) => Some(s),
                _ => None,
            }),
            duration_ms: self.duration_ms.as_ref().and_then(Value::as_i64),
            worker: self.worker.as_ref().and_then(Value::as_i64),
        })
    }
}

/// The key a result line's `key` value names, from the value's own text: a string as it reads,
/// a number as it is written (`1e0` is not `1.0`, `2.10` is not `2.1`: an item's key is text),
/// an array as the key of its parts. Anything else is not a key.
fn key_text(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let not_a_key = || "not a key".to_string();
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(raw).map_err(|e| e.to_string()),
        Some(b'[') => {
            let parts: Vec<&RawValue> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
            let parts = parts
                .iter()
                .map(|p| {
                    let part = p.get().trim();
                    match part.as_bytes().first() {
                        Some(b'"' | b'-' | b'0'..=b'9') => key_text(part),
                        // true, null, [..], {..}: their JSON, as a part's text.
                        _ => serde_json::from_str::<Value>(part)
                            .map(|v| v.to_string())
                            .map_err(|e| e.to_string()),
                    }
                })
                .collect::<Result<Vec<String>, String>>()?;
            Ok(source::make_key(&parts))
        }
        Some(b'-' | b'0'..=b'9') => Ok(raw.to_string()),
        _ => Err(not_a_key()),
    }
}

/// [`parse_result_line`] of a line that is not an object of result fields: why not.
fn parse_value_line(line: &str) -> Result<ResultLine, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".into());
    };
    let field = |name: &str| obj.get(name).cloned();
    Fields {
        key: obj.get("key").map(|k| key_text(&k.to_string())),
        ok: field("ok"),
        error: field("error"),
        category: field("category"),
        duration_ms: field("duration_ms"),
        worker: field("worker"),
    }
    .result()
}

/// A per-item worker's stdout as the stored output: the JSON it printed, else its text as a
/// JSON string; `null` when it printed nothing. Invalid UTF-8 is bad output.
pub fn output_json(stdout: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(stdout).map_err(|e| {
        format!(
            "the output is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        )
    })?;
    let text = text.trim();
    if text.is_empty() {
        return Ok("null".into());
    }
    // Parsed into a Value, not merely skipped over: serde's skip accepts numbers that a Value
    // cannot hold (7E17777977), which would make the stored output unreadable later.
    if serde_json::from_str::<Value>(text).is_ok() {
        return Ok(text.to_string());
    }
    Ok(Value::String(text.to_string()).to_string())
}

/// The last `max` bytes of a worker's stderr, as text, for an error message.
pub fn tail_text(bytes: &[u8], max: usize) -> String {
    let mut start = bytes.len().saturating_sub(max);
    // Start on a character boundary: skip UTF-8 continuation bytes.
    while bytes.get(start).is_some_and(|b| b & 0xC0 == 0x80) {
        start += 1;
    }
    let text = String::from_utf8_lossy(bytes.get(start..).unwrap_or_default());
    text.trim().to_string()
}

#[cfg(test)]
mod tests;
