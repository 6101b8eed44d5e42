//! The store's own tests against an in-memory DB, through its public interface only: a run's
//! counters as results are recorded and replaced, and which items a selection and its pages
//! hand out at the edges (an empty run, exact page sizes, early stops).

use super::*;
use crate::source::Item;

/// A store with a run `r` over items with these keys (none: a run without items).
fn run_over(keys: &[&str]) -> Store {
    let mut store = Store::in_memory().unwrap();
    let source = (!keys.is_empty()).then(|| {
        let meta = SourceMeta {
            path: "/items.csv".into(),
            format: "csv".into(),
            md5: "md5".into(),
            sha256: "sha256".into(),
            size: 1,
            key_columns: "[\"id\"]".into(),
            unpivot: "[]".into(),
            options: "{}".into(),
        };
        store
            .ingest(&meta, |add| {
                for (line, key) in keys.iter().enumerate() {
                    let mut data = serde_json::Map::new();
                    data.insert("id".into(), (*key).into());
                    add(Item {
                        key: (*key).into(),
                        location: (line + 2).to_string(),
                        data,
                    })?;
                }
                Ok(vec!["id".into()])
            })
            .unwrap()
    });
    store
        .allocate(true, |a| {
            a.insert(&run_row("r"))?;
            if let Some(source) = &source {
                a.attach_source("r", source.id, source.n_items)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    store
}

fn run_row(id: &str) -> RunRow {
    RunRow {
        id: id.into(),
        name: format!("m-d-full-{id}"),
        dir_name: format!("m-d-full-{id}"),
        model: "m".into(),
        dataset: "d".into(),
        size: "full".into(),
        number: Some(1),
        scope: "model_dataset".into(),
        status: crate::state::RunStatus::Created.into(),
        superseded: false,
        moved_to: None,
        outputs_dir: "/outputs".into(),
        logs_dir: "/logs".into(),
        command: None,
        config: None,
        config_path: None,
        exit_code: None,
        created_at: now_text(),
        started_at: None,
        finished_at: None,
        archived_at: None,
    }
}

fn ok(key: &str) -> ResultIn {
    result(key, true, "{\"done\":1}")
}

fn error(key: &str) -> ResultIn {
    result(key, false, "boom")
}

fn result(key: &str, ok: bool, payload: &str) -> ResultIn {
    ResultIn {
        key: key.into(),
        ok,
        payload: payload.into(),
        category: (!ok).then(|| crate::state::ErrorCategory::Exit.into()),
        duration_ms: Some(5),
        worker: Some(0),
        attempts: 1,
        first_error: None,
        started_at: None,
        finished_at: None,
        prior: Prior::Unknown,
    }
}

/// (items, ok, errors) after recording `results`.
fn record(store: &mut Store, results: &[ResultIn]) -> (i64, i64, i64) {
    let p = store
        .record_results("r", Keys::Unchecked, results, None)
        .unwrap();
    (p.n_items, p.n_completed, p.n_errors)
}

/// The first page of a selection.
fn first_page(store: &Store, run_id: &str, selection: Selection) -> Vec<PageItem> {
    store.item_pages(run_id, selection).next_page().unwrap()
}

fn counts(p: &Progress) -> (i64, i64, i64) {
    (p.n_items, p.n_completed, p.n_errors)
}

fn keys(store: &Store, selection: Selection) -> Vec<String> {
    let mut keys = Vec::new();
    store
        .for_each_item("r", selection, |item| {
            keys.push(item.key.clone());
            true
        })
        .unwrap();
    keys
}

fn export(store: &Store) -> Vec<ExportRow> {
    let mut rows = Vec::new();
    store
        .for_each_export("r", |row| {
            rows.push(row);
            true
        })
        .unwrap();
    rows
}

#[test]
fn counters_follow_an_item_from_ok_to_error_and_back() {
    let mut store = run_over(&["a", "b", "c"]);
    assert_eq!(counts(&store.progress("r").unwrap()), (3, 0, 0));
    assert_eq!(record(&mut store, &[ok("a")]), (3, 1, 0));
    assert_eq!(record(&mut store, &[error("a")]), (3, 0, 1));
    assert_eq!(record(&mut store, &[ok("a")]), (3, 1, 0));
    // The same result again changes nothing.
    assert_eq!(record(&mut store, &[ok("a")]), (3, 1, 0));
    assert_eq!(record(&mut store, &[error("b"), ok("c")]), (3, 2, 1));
    // One key twice in a batch: the second result is the one that counts.
    assert_eq!(record(&mut store, &[ok("b"), error("b")]), (3, 2, 1));
    assert_eq!(record(&mut store, &[error("c"), ok("c")]), (3, 2, 1));
    // The counters kept batch by batch are what a recount finds.
    assert_eq!(counts(&store.progress("r").unwrap()), (3, 2, 1));
    assert_eq!(counts(&store.refresh_progress("r").unwrap()), (3, 2, 1));
    // Attempts add up; an ok clears the last error and keeps the output of the last ok.
    let rows = export(&store);
    let a = &rows[0];
    assert_eq!(
        (
            a.key.as_str(),
            a.status.as_ref().map(|s| s.as_str()),
            a.attempt_count
        ),
        ("a", Some("ok"), Some(4))
    );
    assert_eq!(
        (
            a.last_error.as_deref(),
            a.error_category.as_ref().map(|c| c.as_str())
        ),
        (None, None)
    );
    assert_eq!(a.output.as_deref(), Some("{\"done\":1}"));
    let b = &rows[1];
    assert_eq!(
        (b.status.as_ref().map(|s| s.as_str()), b.attempt_count),
        (Some("error"), Some(3))
    );
    assert_eq!(
        (
            b.last_error.as_deref(),
            b.error_category.as_ref().map(|c| c.as_str())
        ),
        (Some("boom"), Some("exit"))
    );
}

#[test]
fn a_batch_with_a_key_that_is_not_an_item_writes_nothing() {
    let mut store = run_over(&["a", "b"]);
    assert_eq!(record(&mut store, &[ok("a")]), (2, 1, 0));
    let refused = store.record_results(
        "r",
        Keys::Unchecked,
        &[error("a"), ok("b"), ok("zz")],
        Some("2030-01-01T00:00:00Z"),
    );
    assert!(
        matches!(&refused, Err(RecordError::UnknownItem { key }) if key == "zz"),
        "{refused:?}"
    );
    let p = store.progress("r").unwrap();
    assert_eq!((counts(&p), p.eta), ((2, 1, 0), None));
    assert_eq!(keys(&store, Selection::Remaining), ["b"]);
    assert!(keys(&store, Selection::Errors).is_empty());
    assert_eq!(export(&store)[0].attempt_count, Some(1));
}

#[test]
fn an_eta_given_is_kept_until_another_is_given() {
    let mut store = run_over(&["a", "b", "c"]);
    let p = store
        .record_results(
            "r",
            Keys::Unchecked,
            &[ok("a")],
            Some("2030-01-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(p.eta.as_deref(), Some("2030-01-01T00:00:00Z"));
    let p = store
        .record_results("r", Keys::Unchecked, &[ok("b")], None)
        .unwrap();
    assert_eq!(
        (counts(&p), p.eta.as_deref()),
        ((3, 2, 0), Some("2030-01-01T00:00:00Z"))
    );
}

#[test]
fn remaining_errors_and_all_select_by_the_latest_result() {
    let mut store = run_over(&["a", "b", "c", "d", "e"]);
    assert_eq!(
        keys(&store, Selection::Remaining),
        ["a", "b", "c", "d", "e"]
    );
    assert!(keys(&store, Selection::Errors).is_empty());
    record(&mut store, &[ok("a"), error("b"), error("c")]);
    record(&mut store, &[ok("c")]);
    assert_eq!(keys(&store, Selection::Remaining), ["d", "e"]);
    assert_eq!(keys(&store, Selection::Errors), ["b"]);
    assert_eq!(keys(&store, Selection::All), ["a", "b", "c", "d", "e"]);
    // Attempts so far ride along with each item (none counted for the remaining ones).
    let all = first_page(&store, "r", Selection::All);
    let attempts: Vec<(&str, i64)> = all.iter().map(|i| (i.key.as_str(), i.attempts)).collect();
    assert_eq!(attempts, [("a", 1), ("b", 1), ("c", 2), ("d", 0), ("e", 0)]);
    let errors = first_page(&store, "r", Selection::Errors);
    assert_eq!(
        errors,
        [PageItem {
            key: "b".into(),
            data: "{\"id\":\"b\"}".into(),
            location: "3".into(),
            attempts: 1,
            last_error: Some("boom".into()),
            category: Some(crate::state::ErrorCategory::Exit.into()),
            prior: Prior::Error,
        }]
    );
    // Every item done: nothing remains, and retrying errors has nothing either once b is ok.
    record(&mut store, &[ok("b"), ok("d"), ok("e")]);
    assert!(keys(&store, Selection::Remaining).is_empty());
    assert!(keys(&store, Selection::Errors).is_empty());
    assert_eq!(counts(&store.progress("r").unwrap()), (5, 5, 0));
}

#[test]
fn a_run_without_items_selects_nothing() {
    let mut store = run_over(&[]);
    for selection in [Selection::Remaining, Selection::Errors, Selection::All] {
        assert!(keys(&store, selection).is_empty(), "{selection:?}");
        assert!(
            first_page(&store, "r", selection).is_empty(),
            "{selection:?}"
        );
    }
    assert_eq!(counts(&store.progress("r").unwrap()), (0, 0, 0));
    assert!(matches!(
        store.record_results("r", Keys::Unchecked, &[ok("a")], None),
        Err(RecordError::UnknownItem { key }) if key == "a"
    ));
    assert!(export(&store).is_empty());
    // A run that does not exist: no items, no progress.
    assert!(first_page(&store, "nope", Selection::All).is_empty());
    assert_eq!(store.progress("nope").unwrap(), Progress::default());
}

#[test]
fn pages_come_in_key_order_and_end() {
    let store = run_over(&["e", "a", "d", "b", "c"]);
    let mut pages = store.item_pages("r", Selection::All);
    assert!(!pages.is_done());
    let keys: Vec<String> = pages
        .next_page()
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    assert_eq!(keys, ["a", "b", "c", "d", "e"]);
    // A short page is the last one: nothing after it, and no more reads.
    assert!(pages.is_done());
    assert!(pages.next_page().unwrap().is_empty());
    // A full page is not known to be the last until the next read comes back short.
    let names: Vec<String> = (0..ItemPages::PAGE).map(|i| format!("k{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let store = run_over(&refs);
    let mut pages = store.item_pages("r", Selection::All);
    assert_eq!(pages.next_page().unwrap().len(), ItemPages::PAGE);
    assert!(!pages.is_done());
    assert!(pages.next_page().unwrap().is_empty());
    assert!(pages.is_done());
}

#[test]
fn for_each_item_hands_out_every_item_once_across_page_boundaries() {
    // for_each_item reads 1000 a page: one short of, exactly at, and one past a page and two.
    for n in [999, 1000, 1001, 2000] {
        let names: Vec<String> = (0..n).map(|i| format!("k{i:05}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut store = run_over(&refs);
        assert_eq!(keys(&store, Selection::All), names, "{n} items");
        assert_eq!(keys(&store, Selection::Remaining), names, "{n} items");
        // Errors either side of the page boundary and at the end: only they, in key order.
        let failed: std::collections::BTreeSet<usize> = [0, 998, 999, 1000, n - 1]
            .into_iter()
            .filter(|&i| i < n)
            .collect();
        let results: Vec<ResultIn> = failed.iter().map(|&i| error(&names[i])).collect();
        let n_failed = failed.len() as i64;
        assert_eq!(record(&mut store, &results), (n as i64, 0, n_failed));
        let expected: Vec<String> = failed.iter().map(|&i| names[i].clone()).collect();
        assert_eq!(keys(&store, Selection::Errors), expected, "{n} items");
        assert_eq!(
            keys(&store, Selection::Remaining).len(),
            n - failed.len(),
            "{n} items"
        );
    }
}

#[test]
fn for_each_item_stops_when_told() {
    let names: Vec<String> = (0..1500).map(|i| format!("k{i:05}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let store = run_over(&refs);
    for stop_at in [1, 3, 1000, 1001] {
        let mut seen = 0;
        store
            .for_each_item("r", Selection::All, |_| {
                seen += 1;
                seen < stop_at
            })
            .unwrap();
        assert_eq!(seen, stop_at);
    }
    // Each item comes with its data and where it was in the file.
    let mut first = None;
    store
        .for_each_item("r", Selection::Remaining, |item| {
            first = Some((item.key.clone(), item.data.clone(), item.location.clone()));
            false
        })
        .unwrap();
    assert_eq!(
        first,
        Some(("k00000".into(), "{\"id\":\"k00000\"}".into(), "2".into()))
    );
}

#[test]
fn the_folder_cache_answers_only_for_the_folder_as_it_was_and_moves_only_with_one_folder_made() {
    let mut store = Store::in_memory().unwrap();
    let dir = std::path::Path::new("/p/outputs");
    let seen = FolderStat {
        dev: 1,
        ino: 2,
        mtime_ns: 3,
        nlink: 10,
    };
    let max = |store: &mut Store, stat: &FolderStat, prefix: &str| {
        store
            .allocate(false, |a| a.cached_folder_max(dir, stat, &[prefix]))
            .unwrap()
    };
    assert_eq!(max(&mut store, &seen, ""), None, "nothing recorded yet");
    // A dry run (name) records nothing.
    store
        .allocate(false, |a| a.record_folder_scan(dir, &seen, [("m-d-", 4)]))
        .unwrap();
    assert_eq!(max(&mut store, &seen, ""), None);
    store
        .allocate(true, |a| {
            a.record_folder_scan(dir, &seen, [("m-d-full-", 7), ("m-e-", 9), ("n-", 12)])
        })
        .unwrap();
    assert_eq!(max(&mut store, &seen, ""), Some(Some(12)));
    assert_eq!(max(&mut store, &seen, "m-"), Some(Some(9)));
    assert_eq!(max(&mut store, &seen, "m-d-"), Some(Some(7)));
    assert_eq!(max(&mut store, &seen, "m-d-full-"), Some(Some(7)));
    assert_eq!(max(&mut store, &seen, "o-"), Some(None));
    for changed in [
        FolderStat { dev: 9, ..seen },
        FolderStat { ino: 9, ..seen },
        FolderStat {
            mtime_ns: 4,
            ..seen
        },
        FolderStat { nlink: 11, ..seen },
    ] {
        assert_eq!(max(&mut store, &changed, "m-"), None, "{changed:?}");
    }
    // Two folders more than this allocation made: someone else made one; the record stays.
    let two_more = FolderStat {
        mtime_ns: 5,
        nlink: 12,
        ..seen
    };
    store
        .allocate(true, |a| {
            a.record_folder_made(dir, &seen, &two_more, Some(("m-d-full-", 8)))
        })
        .unwrap();
    assert_eq!(max(&mut store, &two_more, "m-d-"), None);
    assert_eq!(max(&mut store, &seen, "m-d-"), Some(Some(7)));
    // Exactly the one it made: the record moves along, with its number.
    let one_more = FolderStat {
        nlink: 11,
        ..two_more
    };
    store
        .allocate(true, |a| {
            a.record_folder_made(dir, &seen, &one_more, Some(("m-d-full-", 8)))
        })
        .unwrap();
    assert_eq!(max(&mut store, &one_more, "m-d-"), Some(Some(8)));
    assert_eq!(max(&mut store, &seen, "m-d-"), None);
    // From a state that is not the one recorded: nothing moves.
    let other = FolderStat {
        mtime_ns: 99,
        nlink: 12,
        ..seen
    };
    store
        .allocate(true, |a| {
            a.record_folder_made(dir, &seen, &other, Some(("m-d-full-", 50)))
        })
        .unwrap();
    assert_eq!(max(&mut store, &other, "m-d-"), None);
    assert_eq!(max(&mut store, &one_more, "m-d-"), Some(Some(8)));
}

#[test]
fn a_pass_that_knows_each_keys_prior_result_keeps_the_counters_a_recount_finds() {
    let mut store = run_over(&["a", "b", "c", "d"]);
    record(&mut store, &[ok("a"), error("b")]);
    // As a pass reads them: the remaining items had nothing, the errors were errors.
    let remaining = first_page(&store, "r", Selection::Remaining);
    assert!(remaining.iter().all(|i| i.prior == Prior::Nothing));
    let errors = first_page(&store, "r", Selection::Errors);
    assert_eq!(
        errors.iter().map(|i| i.prior).collect::<Vec<_>>(),
        [Prior::Error]
    );
    let known = |r: ResultIn, prior| ResultIn { prior, ..r };
    let batch = [
        known(ok("b"), Prior::Error),
        known(error("c"), Prior::Nothing),
        known(ok("d"), Prior::Nothing),
    ];
    let p = store
        .record_results("r", Keys::OfThisRun, &batch, None)
        .unwrap();
    assert_eq!(counts(&p), (4, 3, 1));
    assert_eq!(counts(&store.refresh_progress("r").unwrap()), (4, 3, 1));
    // One result of the batch that does not know: the store looks every key up.
    let batch = [known(error("a"), Prior::Ok), ok("c")];
    let p = store
        .record_results("r", Keys::OfThisRun, &batch, None)
        .unwrap();
    assert_eq!(counts(&p), (4, 3, 1));
    assert_eq!(counts(&store.refresh_progress("r").unwrap()), (4, 3, 1));
}
