//! Unit and property tests of `naming`.

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
