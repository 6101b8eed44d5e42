//! The properties checked on arbitrary input: shared by the fuzz targets (`fuzz/fuzz_targets/`,
//! run by `fuzz/run.sh`) and by the regression test that `cargo test` runs over every kept input
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`; tests/it/fuzz_corpus.rs). Each check
//! asserts what matters for its parser, not only that it does not crash.

use std::path::{Path, PathBuf};

use runctl::project::HashAlgo;
use runctl::store::{SourceMeta, Store};
use runctl::{hashing, naming, pipeline_config, project, source, versions, work};

/// A property check over one input; it panics when the property does not hold.
pub type Check = fn(&[u8]);

/// Every target, by name, with its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("naming", naming_rules),
    ("config", config_file),
    ("hash", hash_parts),
    ("ingest_csv", ingest_csv),
    ("ingest_jsonl", ingest_jsonl),
    ("ingest_xlsx", ingest_xlsx),
    ("result_line", result_line),
    ("listing", listing),
    ("template", template),
    ("settings", settings),
    ("versions_file", versions_file),
];

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

fn name_chars_ok(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Names: normalization is idempotent; every name is Docker- and filesystem-safe, within the
/// caps, and gives back its run number.
pub fn naming_rules(data: &[u8]) {
    let text = text(data);
    let once = naming::slug(&text);
    assert_eq!(naming::slug(&once), once, "slug is not idempotent");
    let model_seg = naming::model_segment(&text);
    assert_eq!(naming::model_segment(&model_seg), model_seg);
    let mut parts = text.splitn(3, '\u{0}');
    let (model, dataset, size) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next(),
    );
    let (segments, _) = naming::segments_from(model, dataset, size);
    for seg in [&segments.model, &segments.dataset, &segments.size] {
        assert!(seg.len() <= 64, "segment over 64: {seg:?}");
        assert!(name_chars_ok(seg), "bad segment {seg:?}");
    }
    let suffix = naming::run_suffix(7);
    let (fitted, _) = naming::fit(&segments, &suffix, 128);
    let name = format!("{}-{suffix}", fitted.prefix());
    assert!(name.len() <= 128, "name over 128: {name}");
    assert!(name_chars_ok(&name), "bad name {name:?}");
    assert!(
        !name.contains("--") && !name.contains("-_") && !name.contains("_-"),
        "{name:?}"
    );
    assert_eq!(naming::run_number(&name), Some(7));
}

/// A scratch file with these bytes and this extension, unique per process and call.
fn scratch(data: &[u8], ext: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("runctl-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.{ext}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, data).unwrap();
    path
}

/// Pipeline configs (the naming sources): any file parses or is refused; a parsed one answers
/// every key lookup.
pub fn config_file(data: &[u8]) {
    for ext in ["yaml", "toml", "json", "cfg"] {
        let path = scratch(data, ext);
        if let Ok(value) = pipeline_config::load(&path) {
            for key in [
                "training.model_name_or_path",
                "data.dataset_name",
                "a..b",
                "",
            ] {
                if let Some(v) = pipeline_config::lookup(&value, key) {
                    let _ = pipeline_config::as_text(v);
                }
            }
            assert!(pipeline_config::differing_keys(&value, &value).is_empty());
        }
        let _ = std::fs::remove_file(path);
    }
}

/// Hashes: `--batch`'s allocation-free line hash equals compute_hash of the same parts, and a
/// hash is `:hash=` plus 8 lowercase hex digits (unless a part already is a hash).
pub fn hash_parts(data: &[u8]) {
    let text = text(data);
    for line in text.split('\n') {
        let parts: Vec<&str> = line.split('\t').collect();
        for algo in [HashAlgo::Md5, HashAlgo::Sha256] {
            let full = hashing::compute_hash(&parts, 8, algo);
            let mut out = String::new();
            hashing::hash_tab_line(line, 8, algo, &mut out);
            assert_eq!(out, full.text, "batch and argv disagree on {line:?}");
            if let Some(hex) = &full.hex {
                assert_eq!(hex.len(), 8);
                assert!(
                    hex.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                );
            }
        }
    }
}

/// Ingest is all or nothing: it succeeds with one item per fed row, or leaves no source behind.
fn ingest(path: &Path, format: source::Format, key: &str) {
    let mut store = Store::in_memory().unwrap();
    let spec = source::Spec {
        path: path.to_path_buf(),
        format,
        key: vec![key.to_string()],
        unpivot: Vec::new(),
        delimiter: None,
        sheet: None,
    };
    let meta = SourceMeta::of(&spec, source::checksums(path).unwrap());
    let mut fed = 0i64;
    let result = store.ingest(&meta, |sink| {
        source::read(&spec, |item| {
            fed += 1;
            sink(item)
        })
    });
    match result {
        Ok(row) => {
            assert!(row.n_items <= fed);
            assert!(store.find_source(&meta).unwrap().is_some());
        }
        Err(_) => assert!(
            store.find_source(&meta).unwrap().is_none(),
            "a failed ingest left its source behind"
        ),
    }
}

pub fn ingest_csv(data: &[u8]) {
    let mut file = b"id,text\n".to_vec();
    file.extend_from_slice(data);
    let path = scratch(&file, "csv");
    ingest(&path, source::Format::Csv, "id");
    let _ = std::fs::remove_file(path);
}

pub fn ingest_jsonl(data: &[u8]) {
    let path = scratch(data, "jsonl");
    ingest(&path, source::Format::Jsonl, "id");
    let _ = std::fs::remove_file(path);
}

pub fn ingest_xlsx(data: &[u8]) {
    let path = scratch(data, "xlsx");
    ingest(&path, source::Format::Xlsx, "id");
    let _ = std::fs::remove_file(path);
}

/// `record` and stream-worker lines: a parsed line round-trips through its own JSON, and a
/// per-item worker's stdout always becomes valid JSON or a bad-output reason.
pub fn result_line(data: &[u8]) {
    let text = text(data);
    for line in text.lines() {
        if let Ok(parsed) = work::protocol::parse_result_line(line) {
            let again = match &parsed.outcome {
                Ok(output) => format!(
                    "{{\"key\":{},\"ok\":{output}}}",
                    serde_json::Value::String(parsed.key.clone())
                ),
                Err(message) => {
                    serde_json::json!({"key": parsed.key, "error": message}).to_string()
                }
            };
            let reparsed = work::protocol::parse_result_line(&again).unwrap();
            assert_eq!(reparsed.key, parsed.key);
            assert_eq!(reparsed.outcome.is_ok(), parsed.outcome.is_ok());
        }
    }
    if let Ok(json) = work::protocol::output_json(data) {
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
    }
}

/// Bucket listings for `version sync`: any lines plan without panic, and a plan never creates
/// the same version twice.
pub fn listing(data: &[u8]) {
    let template = versions::Template::parse("{family}_v{version}.safetensors").unwrap();
    let entries: Vec<versions::ListingEntry> = text(data)
        .lines()
        .filter_map(|l| versions::parse_listing_line(l).ok().flatten())
        .collect();
    let existing = vec![versions::VersionView {
        family: "style_1".into(),
        name: "V1".into(),
        job_id: Some("job-1".into()),
        status: versions::VersionStatus::Pending.into(),
        artifact_url: None,
        etag: None,
        size: None,
    }];
    let plan = versions::plan_sync(
        &template,
        existing,
        entries,
        versions::SyncOptions::default(),
    );
    let mut created = std::collections::HashSet::new();
    for action in plan.actions {
        if let versions::SyncAction::Create { family, name, .. } = action {
            // What a sync creates passes the same check as what `version new` adds.
            let new = versions::NewVersion {
                family: family.clone(),
                name: Some(name.clone()),
                status: versions::VersionStatus::Completed,
                ..versions::NewVersion::default()
            };
            assert_eq!(new.check(&template), Ok(()), "{family:?} {name:?}");
            assert!(created.insert((family, name)), "created twice");
        }
    }
}

/// Artifact-name templates: a template that parses formats names that parse back.
pub fn template(data: &[u8]) {
    let text = text(data);
    let Ok(t) = versions::Template::parse(&text) else {
        return;
    };
    for (family, version) in [("style_1", "V3"), ("a", "V10"), ("x-y_z", "V1")] {
        if t.allows_family(family).is_ok() && t.allows_version(version).is_ok() {
            let name = t.format(family, version);
            assert_eq!(
                t.parse_name(&name),
                Some((family, version)),
                "{text:?} -> {name:?}"
            );
        }
    }
}

/// runctl.toml: any text parses or is refused with a line and column inside the text.
pub fn settings(data: &[u8]) {
    let text = text(data);
    if let Err(project::ProjectError::Malformed { line, column, .. }) =
        project::parse_settings(&text, Path::new("runctl.toml"))
    {
        assert!(line >= 1 && column >= 1);
        assert!(
            line <= text.lines().count().max(1) + 1,
            "line {line} past the end"
        );
    }
}

/// `version import` files: what parses serializes back to the same value, and every entry has
/// an identity or none without panic.
pub fn versions_file(data: &[u8]) {
    let Ok(file) = serde_json::from_slice::<versions::VersionsFile>(data) else {
        return;
    };
    let json = serde_json::to_string(&file).unwrap();
    let again: versions::VersionsFile = serde_json::from_str(&json).unwrap();
    assert_eq!(again, file);
    let template = versions::Template::parse("{family}_v{version}.safetensors").unwrap();
    for entry in &file.versions {
        let _ = versions::entry_identity(&template, entry, Some("default"));
    }
}
