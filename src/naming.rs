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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segs(model: &str, dataset: &str, size: Option<&str>) -> Segments {
        Segments {
            model: model_segment(model),
            dataset: dataset_segment(dataset),
            size: size_segment(size),
        }
    }

    #[test]
    fn the_seed_table_prefixes() {
        assert_eq!(
            segs("Qwen2-7B", "drg_letters", Some("full")).prefix(),
            "qwen2-7b-drg_letters-full"
        );
        assert_eq!(
            segs("mistral-7b", "drg_letters-debug", Some("2048")).prefix(),
            "mistral-7b-drg_letters-debug-n2048"
        );
        assert_eq!(
            segs("phi-3-medium", "", Some("32")).prefix(),
            "phi-3-medium-dataset-n32"
        );
        assert_eq!(
            segs("meta/llama-3-8b", "drg_letters full", None).prefix(),
            "meta-llama-3-8b-drg_letters-full"
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("  Café Crème  "), "cafe-creme");
        assert_eq!(slug("a//b__c"), "a-b__c");
        assert_eq!(slug("a - _ b"), "a-b");
        assert_eq!(dataset_segment("x_n32-full"), "x");
        assert_eq!(slug("_-x-_"), "x");
        assert_eq!(slug("日本語"), "");
        assert_eq!(slug("ﬁne ＡＢＣ"), "fine-abc");
        assert_eq!(dataset_segment("data_n2048"), "data");
        assert_eq!(dataset_segment("data-full"), "data");
        assert_eq!(dataset_segment("full"), "full");
        assert_eq!(dataset_segment("_full"), "full");
        assert_eq!(size_segment(Some("\"full\"")), "full");
        assert_eq!(size_segment(Some("n32")), "n32");
        assert_eq!(size_segment(Some("0032")), "n32");
        assert_eq!(size_segment(Some("tiny")), "tiny");
        assert_eq!(size_segment(Some("???")), "size");
    }

    #[test]
    fn long_segments_keep_59_and_a_hash() {
        let long = "a".repeat(100);
        let s = model_segment(&long);
        assert_eq!(s.len(), 64);
        assert_eq!(s, format!("{}-{}", "a".repeat(59), hash4(&long)));
        let dashy = format!("{}-{}", "b".repeat(58), "c".repeat(20));
        assert_eq!(
            model_segment(&dashy),
            format!("{}-{}", "b".repeat(58), hash4(&dashy))
        );
    }

    #[test]
    fn fit_shortens_the_longest_first() {
        let s = Segments {
            model: "m".repeat(64),
            dataset: "d".repeat(64),
            size: "full".into(),
        };
        let (fitted, shortened) = fit(&s, "run1", NAME_MAX);
        let name = format!("{}-run1", fitted.prefix());
        assert!(name.len() <= NAME_MAX, "{}", name.len());
        assert!(!shortened.is_empty());
        let (same, none) = fit(&segs("a", "b", None), "run1", NAME_MAX);
        assert_eq!(same, segs("a", "b", None));
        assert!(none.is_empty());
    }

    #[test]
    fn run_numbers_and_ids() {
        assert_eq!(run_number("qwen-x-full-run17"), Some(17));
        assert_eq!(run_number("qwen-x-full-run"), None);
        assert_eq!(run_number("qwen-x-full-run1a"), None);
        assert_eq!(run_number("plain"), None);
        assert_eq!(run_number("run5"), None);
        assert_eq!(run_number("x-run-5"), None);
        assert_eq!(run_number("x-run5-run6"), Some(6));
        assert_eq!(run_number("x-run1234567890"), None);
        assert_eq!(run_number("x-run123456789"), Some(123_456_789));
        assert_eq!(run_number("x-run٣"), None);
        let t = jiff::civil::date(2025, 12, 28).at(14, 30, 25, 789_456_000);
        let id = run_id(&t, [0xa3, 0xf9]);
        assert_eq!(id, "20251228_143025_789456_a3f9");
        assert!(is_run_id(&id));
        assert!(!is_run_id("20251228_143025_789456_a3fz"));
    }

    fn valid(name: &str) -> bool {
        let b = name.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
    }

    proptest! {
        #[test]
        fn names_are_always_safe(
            model in "\\PC{0,200}|.{0,10000}",
            dataset in "\\PC{0,200}|[ -~]{0,300}",
            size in proptest::option::of("\\PC{0,20}|[0-9]{1,12}"),
            n in 1u32..=9999,
        ) {
            let s = segs(&model, &dataset, size.as_deref());
            for seg in [&s.model, &s.dataset, &s.size] {
                prop_assert!(seg.len() <= SEGMENT_MAX);
                prop_assert!(valid(seg), "{seg:?}");
                prop_assert!(!seg.ends_with(['-', '_']) && !seg.starts_with(['-', '_']));
            }
            let (fitted, _) = fit(&s, &run_suffix(n), NAME_MAX);
            let name = format!("{}-{}", fitted.prefix(), run_suffix(n));
            prop_assert!(name.len() <= NAME_MAX);
            prop_assert!(valid(&name), "{name:?}");
            prop_assert!(!name.contains("--") && !name.contains("-_") && !name.contains("_-"), "{name:?}");
            prop_assert_eq!(run_number(&name), Some(n));
        }

        #[test]
        fn normalization_is_idempotent(raw in "\\PC{0,100}|.{0,100}") {
            let once = slug(&raw);
            prop_assert_eq!(slug(&once), once.clone());
            let seg = model_segment(&raw);
            prop_assert_eq!(model_segment(&seg), seg.clone());
            let ds = dataset_segment(&raw);
            prop_assert_eq!(dataset_segment(&ds), ds.clone());
        }
    }
}
