//! Run names and run ids. Pure: no I/O, no SQL, no clock, no randomness (callers pass them in).
//!
//! A run name is `<model>-<dataset>-<size>-run<N>` (docs/naming.md). Each segment is a slug of
//! `a-z`, `0-9` and `_`; any other run of characters is one `-`; `-` and `_` are trimmed from the
//! ends. Over-long segments keep a prefix and a 4-hex MD5 suffix of the whole segment.

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Longest segment, in characters (all ASCII).
pub const SEGMENT_MAX: usize = 64;
/// Longest run name (Docker's limit for image and container names).
pub const NAME_MAX: usize = 128;
/// Highest counter before names fall back to a timestamp.
pub const RUN_MAX: u32 = 9999;
/// Shortest a segment is cut to when a name must fit a length budget.
const SEGMENT_MIN: usize = 10;

/// How the run counter `runN` is scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One counter per model and dataset.
    #[default]
    ModelDataset,
    /// One counter per model.
    Model,
    /// One counter for every run.
    Global,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::ModelDataset => "model_dataset",
            Scope::Model => "model",
            Scope::Global => "global",
        })
    }
}

/// Normalize text into a segment slug (possibly empty): ASCII letters (lowercased), digits and
/// runs of `_` are kept; every other run of characters becomes one `-` (a run mixing `_` with
/// other characters too); accents are dropped from decomposable letters; ends are trimmed.
pub fn slug(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(256));
    // The current run of characters that are not ASCII letters or digits.
    let mut run_len = 0usize;
    let mut run_only_underscores = true;
    let flush = |out: &mut String, run_len: &mut usize, only_us: &mut bool| {
        if *run_len > 0 {
            if *only_us {
                out.extend(std::iter::repeat_n('_', *run_len));
            } else {
                out.push('-');
            }
        }
        *run_len = 0;
        *only_us = true;
    };
    for c in raw.nfkd() {
        if is_combining_mark(c) {
            // The accent of a decomposed letter: é -> e + U+0301; keep the e only.
            continue;
        }
        if c.is_ascii_alphanumeric() {
            flush(&mut out, &mut run_len, &mut run_only_underscores);
            out.push(c.to_ascii_lowercase());
        } else {
            run_len += 1;
            run_only_underscores &= c == '_';
        }
    }
    flush(&mut out, &mut run_len, &mut run_only_underscores);
    let trimmed = out.trim_matches(|c| c == '-' || c == '_');
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_string()
    }
}

/// First 4 hex digits of the MD5 of `text`.
pub fn hash4(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    hex::encode(digest).chars().take(4).collect()
}

/// Cut a slug to at most `cap` characters: the first `cap - 5`, separators trimmed, then `-`
/// and the 4-hex hash of the whole slug. Returns the slug unchanged when it fits.
pub fn cap_segment(segment: &str, cap: usize) -> String {
    if segment.len() <= cap {
        return segment.to_string();
    }
    let keep = cap.saturating_sub(5);
    let head = segment.get(..keep).unwrap_or(segment);
    let head = head.trim_end_matches(['-', '_']);
    if head.is_empty() {
        hash4(segment)
    } else {
        format!("{head}-{}", hash4(segment))
    }
}

fn or_default(s: String, default: &str) -> String {
    if s.is_empty() { default.to_string() } else { s }
}

/// The model segment.
pub fn model_segment(raw: &str) -> String {
    cap_segment(&model_full(raw), SEGMENT_MAX)
}

fn model_full(raw: &str) -> String {
    or_default(slug(raw), "model")
}

/// The dataset segment: a trailing `-full`, `_full`, `-n<digits>` or `_n<digits>` is dropped,
/// since the size segment carries it.
pub fn dataset_segment(raw: &str) -> String {
    cap_segment(&dataset_full(raw), SEGMENT_MAX)
}

fn dataset_full(raw: &str) -> String {
    or_default(strip_size_suffix(&slug(raw)).to_string(), "dataset")
}

/// Drop trailing size suffixes (`-full`, `_n32`, ...), as many as there are, so that applying
/// it twice changes nothing.
fn strip_size_suffix(mut s: &str) -> &str {
    while let Some(at) = s.rfind(['-', '_']) {
        let (head, tail) = (s.get(..at).unwrap_or(s), s.get(at + 1..).unwrap_or(""));
        let is_size = tail == "full"
            || tail
                .strip_prefix('n')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        let head = head.trim_end_matches(['-', '_']);
        if !is_size || head.is_empty() {
            break;
        }
        s = head;
    }
    s
}

/// The size segment from a sample size: absent, `null` or `full` -> `full`; a count -> `n<count>`.
pub fn size_segment(raw: Option<&str>) -> String {
    cap_segment(&size_full(raw), SEGMENT_MAX)
}

fn size_full(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return "full".to_string();
    };
    let value = raw
        .trim()
        .trim_matches(['"', '\''])
        .trim()
        .to_ascii_lowercase();
    if value.is_empty() || value == "full" || value == "null" || value == "none" || value == "~" {
        return "full".to_string();
    }
    let digits = value.strip_prefix('n').unwrap_or(&value);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let digits = digits.trim_start_matches('0');
        return format!("n{}", if digits.is_empty() { "0" } else { digits });
    }
    or_default(slug(&value), "size")
}

/// The segments of raw values, with the 64-character caps that were applied to them (what
/// each segment was before and after), so that callers can record them.
pub fn segments_from(model: &str, dataset: &str, size: Option<&str>) -> (Segments, Vec<Shortened>) {
    let full = [
        ("model", model_full(model)),
        ("dataset", dataset_full(dataset)),
        ("size", size_full(size)),
    ];
    let mut capped = Vec::new();
    let [model, dataset, size] = full.map(|(name, from)| {
        let to = cap_segment(&from, SEGMENT_MAX);
        if to != from {
            capped.push(Shortened {
                segment: name,
                from,
                to: to.clone(),
            });
        }
        to
    });
    (
        Segments {
            model,
            dataset,
            size,
        },
        capped,
    )
}

/// The three segments of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segments {
    pub model: String,
    pub dataset: String,
    pub size: String,
}

impl Segments {
    /// `<model>-<dataset>-<size>`.
    pub fn prefix(&self) -> String {
        format!("{}-{}-{}", self.model, self.dataset, self.size)
    }
}

/// A segment cut short to fit a budget: which one, from what, to what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortened {
    pub segment: &'static str,
    pub from: String,
    pub to: String,
}

/// The name `<prefix>-<suffix>` cut to at most `budget` characters by shortening the longest
/// segments with the hash rule; returns the segments used and what was shortened.
pub fn fit(segments: &Segments, suffix: &str, budget: usize) -> (Segments, Vec<Shortened>) {
    let mut parts = [
        ("model", segments.model.clone()),
        ("dataset", segments.dataset.clone()),
        ("size", segments.size.clone()),
    ];
    let total = |parts: &[(&str, String); 3]| {
        parts.iter().map(|(_, s)| s.len() + 1).sum::<usize>() + suffix.len()
    };
    loop {
        let over = total(&parts).saturating_sub(budget);
        if over == 0 {
            break;
        }
        let Some(longest) = parts
            .iter_mut()
            .filter(|(_, s)| s.len() > SEGMENT_MIN)
            .max_by_key(|(_, s)| s.len())
        else {
            break;
        };
        let cap = longest.1.len().saturating_sub(over).max(SEGMENT_MIN);
        longest.1 = cap_segment(&longest.1, cap);
    }
    let [(_, model), (_, dataset), (_, size)] = parts;
    let fitted = Segments {
        model,
        dataset,
        size,
    };
    let mut shortened = Vec::new();
    for (name, from, to) in [
        ("model", &segments.model, &fitted.model),
        ("dataset", &segments.dataset, &fitted.dataset),
        ("size", &segments.size, &fitted.size),
    ] {
        if from != to {
            shortened.push(Shortened {
                segment: name,
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
    (fitted, shortened)
}

/// `run<N>`.
pub fn run_suffix(n: u32) -> String {
    format!("run{n}")
}

/// A name ending in `-run<N>` split into its stem (up to and with the `-`) and N.
pub fn run_stem(name: &str) -> Option<(&str, u32)> {
    let n = run_number(name)?;
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    Some((&name[..name.len() - digits - "run".len()], n))
}

/// The number N of a name ending in `-run<N>`.
pub fn run_number(name: &str) -> Option<u32> {
    // Byte by byte, not `rsplit_once`: `runctl name` runs this over every folder of outputs/
    // and logs/, and a substring searcher per folder was a quarter of its work.
    let digits = name.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (head, tail) = name.split_at(name.len() - digits);
    if digits == 0 || digits > 9 || !head.ends_with("-run") {
        return None;
    }
    tail.parse().ok()
}

/// The start a folder name must have to belong to the counter scope of these segments (empty
/// for the global scope). Folder names cannot be split back into segments (segments contain
/// `-`), so scope is matched by prefix; a folder of a longer model name may match too, which
/// only makes the next number larger, never reused.
pub fn scope_prefix(scope: Scope, segments: &Segments) -> String {
    match scope {
        Scope::Global => String::new(),
        Scope::Model => format!("{}-", segments.model),
        Scope::ModelDataset => format!("{}-{}-", segments.model, segments.dataset),
    }
}

/// A run id `YYYYmmdd_HHMMSS_ffffff_xxxx` from a UTC time and two random bytes.
pub fn run_id(utc: &jiff::civil::DateTime, random: [u8; 2]) -> String {
    format!(
        "{}_{:06}_{}",
        utc.strftime("%Y%m%d_%H%M%S"),
        utc.subsec_nanosecond() / 1000,
        hex::encode(random)
    )
}

/// Whether text is a run id.
pub fn is_run_id(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 15 | 22 => *c == b'_',
            23..=26 => c.is_ascii_hexdigit(),
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests;
