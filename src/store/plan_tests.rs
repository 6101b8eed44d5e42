//! The query plans of the lookups commands make: none reads a whole table that grows with use
//! or sorts one in a temporary B-tree, so that `show latest`, `show <prefix>`, `resolve`, a
//! run by name and a version by job id or name cost the same with 100 runs or 100,000.
//!
//! Every statement the store runs for these lookups is caught as SQLite runs it (its trace,
//! with the values bound), then explained: the test follows the store's own SQL, it never
//! keeps a copy of it.

use std::sync::{Arc, Mutex};

use super::*;
use crate::project::Scope;

/// Tables whose rows grow with the project's use.
const GROWING: &[&str] = &[
    "runs",
    "results",
    "items",
    "hashes",
    "links",
    "versions",
    "removed_runs",
    "folder_scans",
    "folder_numbers",
];

/// Run `lookups` with the store's statements traced; the statements, values bound.
fn traced(store: &mut Store, lookups: impl FnOnce(&mut Store)) -> Vec<String> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = Arc::clone(&seen);
    store
        .conn_mut()
        .unwrap()
        .trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(stmt, _) = event
                    && let Some(sql) = stmt.expanded_sql()
                    && let Ok(mut all) = sink.lock()
                {
                    all.push(sql);
                }
            }),
        )
        .unwrap();
    lookups(store);
    store
        .conn_mut()
        .unwrap()
        .trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            None::<fn(rusqlite::trace::TraceEvent<'_>)>,
        )
        .unwrap();
    seen.lock().unwrap().clone()
}

/// What is wrong with a statement's plan: a full scan of a growing table (an ordered walk of
/// an index that a LIMIT stops early is fine), or a sort in a temporary B-tree.
fn plan_faults(store: &Store, sql: &str) -> Vec<String> {
    let upper = sql.to_uppercase();
    if !(upper.starts_with("SELECT") || upper.starts_with("UPDATE") || upper.starts_with("DELETE"))
    {
        return Vec::new();
    }
    let mut stmt = store
        .conn()
        .unwrap()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let details: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(|d| d.unwrap())
        .collect();
    let limited = upper.contains(" LIMIT ");
    details
        .into_iter()
        .filter(|d| {
            let scan_of_growing = GROWING
                .iter()
                .any(|t| d.starts_with(&format!("SCAN {t}")) && !(limited && d.contains("USING")));
            // A whole run's results or a whole source's items, one key at a time: as costly.
            let whole_run = (d.starts_with("SEARCH results") && d.ends_with("(run_id=?)"))
                || (d.starts_with("SEARCH items") && d.ends_with("(source_id=?)"));
            scan_of_growing || (whole_run && !limited) || d.contains("TEMP B-TREE")
        })
        .collect()
}

/// A result for key `k` that does not know its prior one.
fn result_of_k() -> ResultIn {
    ResultIn {
        key: "k".into(),
        ok: true,
        payload: "1".into(),
        category: None,
        duration_ms: None,
        worker: None,
        attempts: 1,
        first_error: None,
        started_at: None,
        finished_at: None,
        prior: Prior::Unknown,
    }
}

#[test]
fn the_lookups_commands_make_use_an_index_and_sort_nothing() {
    let mut store = Store::in_memory().unwrap();
    let statements = traced(&mut store, |store| {
        store.latest_run().unwrap();
        store
            .list_runs(&RunFilter {
                limit: Some(20),
                ..RunFilter::default()
            })
            .unwrap();
        store.runs_named("m-d-full-run1").unwrap();
        store.runs_with_id_prefix("20261201_1405", 11).unwrap();
        store.run_by_id("20261201_140501_000000_abcd").unwrap();
        store.runs_with_dir_name("m-d-full-run1").unwrap();
        store.newest_unfinished_run().unwrap();
        store.find_hash("a7f3c9d4").unwrap();
        store
            .find_links(Some("a7f3c9d4"), Some(std::path::Path::new("/p/models/x")))
            .unwrap();
        store.version_by_job("job-42").unwrap();
        store.version("style_1", "V8").unwrap();
        // Recording: the batch's statements, for keys from outside and from the run itself.
        let result = result_of_k();
        for keys in [Keys::Unchecked, Keys::OfThisRun] {
            let _ = store.record_results("r", keys, std::slice::from_ref(&result), None);
        }
        store.tags_of("r").unwrap();
        store.notes_of("r").unwrap();
        store
            .allocate(false, |a| {
                for scope in [Scope::Global, Scope::Model, Scope::ModelDataset] {
                    a.max_number(scope, "m", "d")?;
                }
                a.live_run_named("m-d-full-run1")?;
                a.removed_run_named("m-d-full-run1")?;
                a.run_id_free("20261201_140501_000000_abcd")?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        store
            .cleanup(|c| {
                c.newest_shown()?;
                c.run_by_id("r")?;
                c.runs_with_dir_name("m-d-full-run1")?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
    });
    assert!(
        statements.len() >= 20,
        "the trace caught too little: {statements:#?}"
    );
    assert_no_faults(&store, &statements);
}

/// Fail on any statement whose plan scans a growing table or sorts.
fn assert_no_faults(store: &Store, statements: &[String]) {
    let faults: Vec<String> = statements
        .iter()
        .flat_map(|sql| {
            plan_faults(store, sql)
                .into_iter()
                .map(move |f| format!("{f}\n    in {sql}"))
        })
        .collect();
    assert!(
        faults.is_empty(),
        "lookups that read a whole table or sort:\n{}",
        faults.join("\n")
    );
}

#[test]
fn the_folder_cache_of_the_counter_is_read_and_moved_by_its_keys() {
    let mut store = Store::in_memory().unwrap();
    let outputs = std::path::Path::new("/p/outputs");
    let before = FolderStat {
        dev: 1,
        ino: 2,
        mtime_ns: 3,
        nlink: 4,
    };
    let after = FolderStat {
        mtime_ns: 5,
        nlink: 5,
        ..before
    };
    store
        .allocate(true, |a| {
            a.record_folder_scan(outputs, &before, [("m-d-full-", 7), ("n-", 2)])
        })
        .unwrap();
    let statements = traced(&mut store, |store| {
        store
            .allocate(true, |a| {
                for prefix in ["", "m-", "m-d-"] {
                    assert!(a.cached_folder_max(outputs, &before, &[prefix])?.is_some());
                }
                a.record_folder_made(outputs, &before, &after, Some(("m-d-full-", 8)))
            })
            .unwrap();
    });
    assert!(statements.len() >= 5, "{statements:#?}");
    assert_no_faults(&store, &statements);
}

#[test]
fn the_check_catches_a_scan_and_a_sort() {
    let store = Store::in_memory().unwrap();
    assert!(!plan_faults(&store, "SELECT * FROM runs WHERE status = 'failed'").is_empty());
    assert!(
        !plan_faults(
            &store,
            "SELECT * FROM hashes WHERE identifier = 'x' ORDER BY created_at"
        )
        .is_empty()
    );
    assert!(plan_faults(&store, "SELECT * FROM runs WHERE id = 'x'").is_empty());
    // Every result of a run, as a join that looked results up by run alone did for each
    // batch (recording was quadratic): caught, unless a LIMIT stops it.
    assert!(!plan_faults(&store, "SELECT status FROM results WHERE run_id = 'r'").is_empty());
    assert!(
        plan_faults(
            &store,
            "SELECT status FROM results WHERE run_id = 'r' ORDER BY key LIMIT 10"
        )
        .is_empty()
    );
}
