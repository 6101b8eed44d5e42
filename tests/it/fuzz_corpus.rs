//! The fuzz corpus as regression tests: every input kept under `fuzz/corpus/<target>/` (what
//! the fuzzers found interesting) and `fuzz/regressions/<target>/` (what once failed) goes
//! through the same checks as the fuzz targets (fuzz/checks.rs), on every `cargo test`.

#[path = "../../fuzz/checks.rs"]
mod checks;

#[test]
fn every_kept_fuzz_input_still_passes_its_checks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for (target, check) in checks::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| check(&data));
                assert!(
                    outcome.is_ok(),
                    "{target}: {} fails its check",
                    path.display()
                );
                inputs += 1;
            }
        }
        assert!(inputs > 0, "no kept inputs for fuzz target {target}");
        ran += inputs;
    }
    assert!(ran >= checks::TARGETS.len());
}
