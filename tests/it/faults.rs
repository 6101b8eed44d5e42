//! Faults injected over the binary (docs/guarantees.md): read-only folders, a full disk (an
//! RLIMIT_FSIZE limit) mid-ingest, mid-resume and mid-export, the DB held by another writer past the busy
//! timeout, the lock folder removed under a running resume, misbehaving workers, and a mixed
//! load of every writer at once. Each: a clear error and exit code, nothing recorded lost, and
//! the next command works. These are faults of `state.db` and its folder, so they run on
//! SQLite whatever store the suite runs on.

use std::time::{Duration, Instant};

use crate::common::*;

fn csv_items(sb: &Sandbox, name: &str, n: usize, filler: usize) {
    let pad = "x".repeat(filler);
    let mut csv = String::from("id,text\n");
    for i in 0..n {
        csv.push_str(&format!("k{i:06},{pad}{i}\n"));
    }
    std::fs::write(sb.work().join(name), csv).unwrap();
}

/// A count read with SQL: what a fault left in tables no command lists whole (sources, items,
/// results across runs, rows written mid-way while runctl runs). Where the CLI can say the same,
/// the tests read it too (`list --json`, `version list --json`, `export`).
fn count(sb: &Sandbox, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn integrity(sb: &Sandbox) -> String {
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// runctl under `sh` with a file-size limit of `kb` KiB, SIGXFSZ ignored (so a write past the
/// limit fails with EFBIG, as on a full disk, instead of killing the process).
fn limited(sb: &Sandbox, kb: u64, args: &str) -> Run {
    let out = sb
        .sh(&format!(
            "trap '' XFSZ; ulimit -f {}; exec {RUNCTL} {args}",
            // dash counts ulimit -f in 512-byte blocks
            kb * 2
        ))
        .run();
    assert_no_panic(&out);
    out
}

#[test]
fn a_full_disk_mid_ingest_fails_cleanly_and_keeps_the_db() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::write(sb.work().join("small.csv"), "id\na\nb\n").unwrap();
    sb.new_run_over("small.csv");
    csv_items(&sb, "big.csv", 60_000, 100);
    let runs = count(&sb, "SELECT count(*) FROM runs");
    let items = count(&sb, "SELECT count(*) FROM items");
    let out = limited(&sb, 1024, "new --model m --source big.csv --key id");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("error: cannot write"), "{err}");
    assert!(
        err.contains("hint: the disk (or a file-size limit) may be full"),
        "{err}"
    );
    assert_eq!(integrity(&sb), "ok");
    assert_eq!(count(&sb, "SELECT count(*) FROM runs"), runs);
    assert_eq!(count(&sb, "SELECT count(*) FROM items"), items);
    // Room again: the same command works.
    sb.new_run_over("big.csv");
    assert_eq!(count(&sb, "SELECT count(*) FROM items"), items + 60_000);
}

#[test]
fn a_full_disk_mid_resume_keeps_what_was_recorded_and_the_next_resume_finishes() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 20_000, 10);
    sb.new_run_over("items.csv");
    // Checkpoint so that the DB file holds everything and the WAL starts empty.
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let db_kb = std::fs::metadata(sb.db()).unwrap().len() / 1024;
    write_exec(
        &sb.work().join("w.sh"),
        "#!/bin/sh\nwhile IFS= read -r line; do key=${line#*\\\"key\\\":\\\"}; key=${key%%\\\"*}\n\
         printf '{\"key\":\"%s\",\"ok\":{\"answer\":\"a long enough answer for %s\"}}\\n' \"$key\" \"$key\"; done\n",
    );
    let out = limited(
        &sb,
        db_kb + 400,
        "resume --stream -j 2 --window 16 -- ./w.sh",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error: cannot write"), "{err}");
    assert!(err.contains("may be full"), "{err}");
    assert_eq!(integrity(&sb), "ok");
    let kept = count(&sb, "SELECT count(*) FROM results");
    assert!(kept > 0 && kept < 20_000, "{kept} results kept");
    let out = sb.cmd().args(["resume"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 20_000);
    assert_eq!(
        count(&sb, "SELECT count(DISTINCT key) FROM results"),
        20_000
    );
}

#[test]
fn a_db_held_by_another_writer_past_the_busy_timeout_is_a_clear_error() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let start = Instant::now();
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_no_panic(&out);
    // Another process holds the DB: a conflict, like a held run lock.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(start.elapsed() >= Duration::from_secs(9));
    let err = stderr(&out);
    assert!(err.contains("the database is busy"), "{err}");
    assert!(
        !err.contains("SQLITE_BUSY") && !err.contains("database is locked"),
        "{err}"
    );
    conn.execute_batch("ROLLBACK").unwrap();
    drop(conn);
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("-run2"), "{}", stdout(&out));
}

#[test]
fn read_only_outputs_and_state_folders_fail_cleanly_and_record_nothing() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    let outputs = sb.work().join("outputs");
    chattr("+i", &outputs);
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    chattr("-i", &outputs);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("error: cannot create"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&sb, "SELECT count(*) FROM runs"),
        1,
        "no run half-made"
    );
    // The state folder read-only: the DB cannot be written.
    let state = sb.work().join(".runctl");
    chattr("+i", &state);
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    chattr("-i", &state);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    // Writable again: the next command works, and takes the next number.
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("-run2"), "{}", stdout(&out));
}

#[test]
fn removing_the_lock_folder_under_a_running_resume_does_not_let_a_second_one_in() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 30, 0);
    sb.new_run_over("items.csv");
    write_exec(
        &sb.work().join("slow.sh"),
        "#!/bin/sh\ncat >/dev/null\nsleep 0.1\necho \"$RUNCTL_ITEM_KEY\" >> seen.log\necho ok\n",
    );
    let first = sb.spawn(&["resume", "-j", "1", "--", "./slow.sh"]);
    let start = Instant::now();
    while !sb.work().join("seen.log").exists() {
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(sb.work().join(".runctl/locks")).unwrap();
    std::thread::sleep(Duration::from_millis(1500)); // the holder notices within a second
    let second = sb.cmd().args(["resume", "--", "./slow.sh"]).run();
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!("pid {} on ", first.id())),
        "{}",
        stderr(&second)
    );
    let out = first.wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 30);
    let seen = std::fs::read_to_string(sb.work().join("seen.log")).unwrap();
    assert_eq!(seen.lines().count(), 30, "every item ran once");
}

#[test]
fn misbehaving_workers_get_clear_results_and_leave_nothing_behind() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 3, 0);
    sb.new_run_over("items.csv");
    // k000000 closes stdout at once and works on; k000001 never reads stdin; k000002 leaves a
    // child behind that holds its stdout.
    write_exec(
        &sb.work().join("odd.sh"),
        "#!/bin/sh\ncase \"$RUNCTL_ITEM_KEY\" in\n\
         k000000) exec >&-; sleep 0.2; exit 0;;\n\
         k000001) echo '{\"fine\":true}';;\n\
         k000002) sleep 60 & echo $! > orphan.pid; echo done;;\nesac\n",
    );
    let start = Instant::now();
    let out = sb.cmd().args(["resume", "-j", "3", "--", "./odd.sh"]).run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(10));
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let outputs: Vec<String> = conn
        .prepare("SELECT output FROM results ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outputs, ["null", "{\"fine\":true}", "\"done\""]);
    let pid: i32 = std::fs::read_to_string(sb.work().join("orphan.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let start = Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with('Z'));
        if !alive {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the orphan lives on"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A stream worker that never reads its input: --timeout ends each item.
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 2, 0);
    sb.new_run_over("items.csv");
    write_exec(&sb.work().join("deaf.sh"), "#!/bin/sh\nsleep 60\n");
    let out = sb
        .cmd()
        .args([
            "resume",
            "--stream",
            "-j",
            "1",
            "--timeout",
            "300ms",
            "--",
            "./deaf.sh",
        ])
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        count(
            &sb,
            "SELECT count(*) FROM results WHERE error_category = 'timeout'"
        ),
        2
    );
}

#[test]
fn a_mixed_load_of_every_writer_at_once_never_shows_busy_and_keeps_counters_distinct() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 400, 0);
    csv_items(&sb, "other.csv", 200, 0);
    sb.cmd()
        .args([
            "new",
            "--model",
            "work",
            "--source",
            "items.csv",
            "--key",
            "id",
        ])
        .run()
        .success();
    sb.cmd()
        .args([
            "new",
            "--model",
            "rec",
            "--source",
            "other.csv",
            "--key",
            "id",
        ])
        .run()
        .success();
    write_exec(
        &sb.work().join("w.sh"),
        "#!/bin/sh\nwhile IFS= read -r line; do key=${line#*\\\"key\\\":\\\"}; key=${key%%\\\"*}\n\
         printf '{\"key\":\"%s\",\"ok\":1}\\n' \"$key\"; done\n",
    );
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!("{{\"key\":\"k{i:06}\",\"ok\":{i}}}\n"));
    }
    std::fs::write(sb.work().join("results.jsonl"), lines).unwrap();
    let spawn = |args: &[&str]| sb.spawn(args);
    let mut children = Vec::new();
    children.push(spawn(&[
        "resume",
        "work-dataset-full-run1",
        "--stream",
        "-j",
        "4",
        "--",
        "./w.sh",
    ]));
    children.push(spawn(&[
        "record",
        "rec-dataset-full-run1",
        "--from",
        "results.jsonl",
    ]));
    for i in 0..32 {
        children.push(spawn(&["new", "--model", "load"]));
        if i % 2 == 0 {
            children.push(spawn(&["version", "new", "style_1"]));
        }
    }
    let mut names = Vec::new();
    for child in children {
        let out = child.wait();
        assert_no_panic(&out);
        let err = stderr(&out);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "exit {:?}: {err}",
            out.status.code()
        );
        assert!(!err.contains("busy") && !err.contains("locked"), "{err}");
        names.push(stdout(&out));
    }
    let load: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("load-"))
        .map(|n| n.trim().to_string())
        .collect();
    let mut distinct = load.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), load.len(), "{load:?}");
    assert_eq!(
        count(&sb, "SELECT count(*) FROM runs WHERE model = 'load'"),
        load.len() as i64
    );
    assert_eq!(sb.runs_listed(&["--model", "load"]), load.len());
    let versions = count(&sb, "SELECT count(*) FROM versions");
    let distinct_versions = count(&sb, "SELECT count(DISTINCT name) FROM versions");
    assert_eq!(versions, distinct_versions);
    assert_eq!(versions, 16);
    let listed = sb.run(&["version", "list", "--json"]);
    listed.success();
    assert_eq!(listed.json().as_array().unwrap().len(), 16);
    assert_eq!(
        count(
            &sb,
            "SELECT count(*) FROM results r JOIN runs u ON u.id = r.run_id WHERE u.model = 'work'"
        ),
        400
    );
    assert_eq!(
        count(
            &sb,
            "SELECT count(*) FROM results r JOIN runs u ON u.id = r.run_id WHERE u.model = 'rec'"
        ),
        200
    );
    for (run, n) in [
        ("work-dataset-full-run1", 400),
        ("rec-dataset-full-run1", 200),
    ] {
        let export = sb.run(&["export", run]);
        export.success();
        let done = export
            .json_lines()
            .iter()
            .filter(|line| !line["result_status"].is_null())
            .count();
        assert_eq!(done, n, "export {run}");
    }
}

#[test]
fn a_full_disk_mid_export_leaves_no_partial_file() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 20_000, 40);
    sb.new_run_over("items.csv");
    let before = count(&sb, "SELECT count(*) FROM items");
    for format in ["jsonl", "csv"] {
        let out = limited(
            &sb,
            256,
            &format!("export latest --format {format} -o out.{format}"),
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("error: cannot write"), "{err}");
        assert!(err.contains(&format!("out.{format}")), "{err}");
        assert!(!sb.work().join(format!("out.{format}")).exists());
        let leftovers: Vec<_> = std::fs::read_dir(sb.work())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("export-tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert_eq!(integrity(&sb), "ok");
    assert_eq!(count(&sb, "SELECT count(*) FROM items"), before);
    // With room, the same export is whole.
    let out = sb.cmd().args(["export", "latest", "-o", "out.jsonl"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(sb.work().join("out.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 20_000);
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_forced_new_puts_every_folder_back_and_a_retry_records_the_real_one() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let new_d = |extra: &[&str]| {
        let out = sb
            .cmd()
            .args(["new", "--model", "m", "--dataset", "d"])
            .args(extra)
            .run();
        assert_no_panic(&out);
        out
    };
    assert_eq!(new_d(&[]).status.code(), Some(0));
    let run1 = sb.work().join("outputs/m-d-full-run1");
    std::fs::write(run1.join("weights.bin"), "trained").unwrap();
    let (outputs_before, logs_before) = (
        entries(&sb.work().join("outputs")),
        entries(&sb.work().join("logs")),
    );
    {
        // logs/ cannot be changed: the outputs folder is moved aside first, then the logs
        // folder's move fails.
        let _guard = Immutable::set(&sb.work().join("logs"));
        let out = new_d(&["--run-index", "1", "--force"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    assert_eq!(entries(&sb.work().join("outputs")), outputs_before);
    assert_eq!(entries(&sb.work().join("logs")), logs_before);
    assert_eq!(
        std::fs::read_to_string(run1.join("weights.bin")).unwrap(),
        "trained"
    );
    assert_eq!(
        count(&sb, "SELECT count(*) FROM runs WHERE superseded = 1"),
        0
    );
    // A retry with room again records where the trained folder really went.
    let out = new_d(&["--run-index", "1", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let moved_to: String = conn
        .query_row("SELECT moved_to FROM runs WHERE superseded = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&moved_to).join("weights.bin")).unwrap(),
        "trained"
    );
}

#[test]
fn a_new_whose_insert_fails_leaves_no_folder_and_the_pointers_as_they_were() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd()
        .args(["new", "--model", "m", "--dataset", "d"])
        .run()
        .success();
    std::fs::write(sb.work().join("outputs/m-d-full-run1/weights.bin"), "x").unwrap();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse AFTER INSERT ON runs BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END",
        )
        .unwrap();
    }
    let before = (
        entries(&sb.work().join("outputs")),
        entries(&sb.work().join("logs")),
        std::fs::read_link(sb.work().join("outputs/latest")).unwrap(),
        std::fs::read(sb.work().join("logs/latest.txt")).unwrap(),
    );
    for extra in [&[][..], &["--run-index", "1", "--force"]] {
        let out = sb
            .cmd()
            .args(["new", "--model", "m", "--dataset", "d"])
            .args(extra)
            .run();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        let after = (
            entries(&sb.work().join("outputs")),
            entries(&sb.work().join("logs")),
            std::fs::read_link(sb.work().join("outputs/latest")).unwrap(),
            std::fs::read(sb.work().join("logs/latest.txt")).unwrap(),
        );
        assert_eq!(after, before, "{extra:?}");
    }
    assert!(sb.work().join("outputs/m-d-full-run1/weights.bin").exists());
}

#[test]
fn a_folder_named_latest_is_left_alone_with_a_warning() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::create_dir_all(sb.work().join("outputs/latest")).unwrap();
    std::fs::write(sb.work().join("outputs/latest/mine.txt"), "user data").unwrap();
    for n in 1..=2 {
        let out = sb.cmd().args(["new", "--model", "m"]).run();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("warning:") && err.contains("outputs/latest is not a pointer"),
            "{err}"
        );
        assert!(
            sb.work()
                .join(format!("outputs/m-dataset-full-run{n}"))
                .is_dir()
        );
        assert_eq!(
            std::fs::read_to_string(sb.work().join("logs/latest.txt")).unwrap(),
            format!("m-dataset-full-run{n}\n")
        );
    }
    assert_eq!(entries(&sb.work().join("outputs/latest")), vec!["mine.txt"]);
    assert_eq!(count(&sb, "SELECT count(*) FROM runs"), 2);
    assert_eq!(sb.runs_listed(&[]), 2);
}

#[test]
fn a_users_file_named_outputs_latest_is_left_alone() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::create_dir_all(sb.work().join("outputs")).unwrap();
    std::fs::write(sb.work().join("outputs/latest"), "my notes").unwrap();
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a pointer runctl made"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("outputs/latest")).unwrap(),
        "my notes"
    );
}

#[test]
fn a_new_that_cannot_make_its_run_keeps_no_source_it_ingested() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    csv_items(&sb, "items.csv", 50, 0);
    std::fs::create_dir_all(sb.work().join("outputs")).unwrap();
    {
        let _guard = Immutable::set(&sb.work().join("outputs"));
        let out = sb
            .cmd()
            .args([
                "new",
                "--model",
                "m",
                "--source",
                "items.csv",
                "--key",
                "id",
            ])
            .args(["--", "cat"])
            .run();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    assert_eq!(count(&sb, "SELECT count(*) FROM runs"), 0);
    assert_eq!(sb.runs_listed(&[]), 0);
    // Sources and items left behind are not something the CLI lists: read with SQL.
    assert_eq!(count(&sb, "SELECT count(*) FROM sources"), 0);
    assert_eq!(count(&sb, "SELECT count(*) FROM items"), 0);
    // And the next one ingests it afresh and works.
    sb.new_run_over("items.csv");
    assert_eq!(count(&sb, "SELECT count(*) FROM items"), 50);
}
