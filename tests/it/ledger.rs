//! Sources, items and the result ledger over the binary: ingest of each format (with unpivot),
//! bad input that leaves the DB unchanged, idempotent recording, error selection, the run lock.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;

fn new_run(sb: &Sandbox, file: &str, extra: &[&str]) -> Run {
    sb.cmd()
        .args(["new", "--model", "m", "--source", file])
        .args(extra)
        .run()
}

fn items(sb: &Sandbox, run: &str, which: &[&str]) -> Vec<serde_json::Value> {
    let out = sb.cmd().args(["items", run]).args(which).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn keys(items: &[serde_json::Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect()
}

fn record(sb: &Sandbox, run: &str, lines: &str) -> Run {
    sb.cmd()
        .args(["record", run])
        .write_stdin(lines.to_string())
        .run()
}

/// What must not change when an ingest fails: the counts and the DB file itself. Read with SQL:
/// no command lists sources and items outside a run.
fn db_state(sb: &Sandbox) -> (Vec<i64>, Vec<u8>) {
    let tables = sb.tables();
    let counts = ["sources", "items", "runs", "results"]
        .iter()
        .map(|t| tables.one(&format!("SELECT count(*) FROM {t}"), &[]))
        .collect();
    drop(tables);
    let whole = sb.whole_db();
    (counts, whole)
}

#[test]
fn csv_with_a_sniffed_delimiter_and_unpivot() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(
        sb.work().join("cases.csv"),
        "incident_id;narrative_1;narrative_2;site\n7;first a;first b;x\n8;second a;second b;y\n",
    )
    .unwrap();
    let out = new_run(
        &sb,
        "cases.csv",
        &[
            "--key",
            "incident_id",
            "--unpivot",
            "narrative_1,narrative_2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ingested 4 items from"),
        "{}",
        stderr(&out)
    );
    let all = items(&sb, "latest", &[]);
    assert_eq!(
        keys(&all),
        vec![
            r#"["7","narrative_1"]"#,
            r#"["7","narrative_2"]"#,
            r#"["8","narrative_1"]"#,
            r#"["8","narrative_2"]"#
        ]
    );
    assert_eq!(
        all[1]["data"],
        serde_json::json!({"incident_id": "7", "site": "x", "column": "narrative_2", "value": "first b"})
    );
    assert_eq!(all[2]["location"], "3");
    // The same file again is not ingested again.
    let again = new_run(
        &sb,
        "cases.csv",
        &[
            "--key",
            "incident_id",
            "--unpivot",
            "narrative_1,narrative_2",
        ],
    );
    assert!(
        stderr(&again).contains("already ingested with this checksum (4 items); not read again"),
        "{}",
        stderr(&again)
    );
    // A changed file at the same path is a new source.
    std::fs::write(
        sb.work().join("cases.csv"),
        "incident_id;narrative_1;narrative_2;site\n9;a;b;z\n",
    )
    .unwrap();
    let changed = new_run(
        &sb,
        "cases.csv",
        &[
            "--key",
            "incident_id",
            "--unpivot",
            "narrative_1,narrative_2",
        ],
    );
    assert!(
        stderr(&changed).contains("ingested 2 items"),
        "{}",
        stderr(&changed)
    );
    // SQL: no command lists the sources.
    let sources: i64 = sb.tables().one("SELECT count(*) FROM sources", &[]);
    assert_eq!(sources, 2);
}

#[test]
fn jsonl_and_xlsx_sources() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(
        sb.work().join("rows.jsonl"),
        "{\"id\": 1, \"text\": \"one\"}\n\n{\"id\": 2, \"text\": \"two\", \"extra\": true}\n",
    )
    .unwrap();
    let out = new_run(&sb, "rows.jsonl", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = items(&sb, "latest", &["--all"]);
    assert_eq!(keys(&all), vec!["1", "2"]);
    assert_eq!(all[1]["data"]["extra"], true);
    assert_eq!(all[1]["location"], "3");

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("cases").unwrap();
    for (c, h) in ["case", "a", "b"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for r in 1..=3u32 {
        sheet.write_number(r, 0, f64::from(r * 10)).unwrap();
        sheet.write_string(r, 1, format!("a{r}")).unwrap();
        sheet.write_string(r, 2, format!("b{r}")).unwrap();
    }
    book.save(sb.work().join("cases.xlsx")).unwrap();
    let out = new_run(
        &sb,
        "cases.xlsx",
        &["--key", "case", "--unpivot", "a,b", "--sheet", "cases"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = items(&sb, "latest", &[]);
    assert_eq!(all.len(), 6);
    assert_eq!(all[0]["key"], r#"["10","a"]"#);
    assert_eq!(all[0]["location"], "sheet cases row 2");
    assert_eq!(all[0]["data"]["value"], "a1");

    // A sparse sheet: a blank row is skipped, a missing cell is null; a duplicate key fails
    // the whole ingest with both rows named and leaves the DB as it was.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "id").unwrap();
    sheet.write_string(0, 1, "note").unwrap();
    sheet.write_string(0, 2, "extra").unwrap();
    sheet.write_string(1, 0, "x").unwrap();
    sheet.write_string(1, 2, "e").unwrap();
    sheet.write_string(3, 0, "y").unwrap();
    sheet.write_string(3, 1, "n").unwrap();
    book.save(sb.work().join("sparse.xlsx")).unwrap();
    let out = new_run(&sb, "sparse.xlsx", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = items(&sb, "latest", &[]);
    assert_eq!(keys(&all), vec!["x", "y"]);
    assert_eq!(all[0]["data"]["note"], serde_json::Value::Null);
    assert_eq!(all[0]["data"]["extra"], "e");
    assert_eq!(
        all[1]["location"],
        "Sheet1 row 4".replace("Sheet1", "sheet Sheet1")
    );

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "id").unwrap();
    for (r, id) in ["1", "2", "1"].iter().enumerate() {
        sheet.write_string(r as u32 + 1, 0, *id).unwrap();
    }
    book.save(sb.work().join("dup.xlsx")).unwrap();
    let before = db_state(&sb);
    let out = new_run(&sb, "dup.xlsx", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("dup.xlsx:sheet Sheet1 row 4: duplicate key 1 (first at sheet Sheet1 row 2)"),
        "{}",
        stderr(&out)
    );
    assert!(db_state(&sb) == before, "a failed ingest changed the DB");
}

#[test]
fn bad_input_leaves_the_db_unchanged() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("ok.csv"), "id,text\n1,a\n").unwrap();
    assert_eq!(
        new_run(&sb, "ok.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        (
            "dup.csv",
            "id,text\n1,a\n2,b\n1,c\n",
            "dup.csv:4: duplicate key 1 (first at 2)",
            "id",
        ),
        (
            "empty_key.csv",
            "id,text\n1,a\n,b\n",
            "empty_key.csv:3: the key column 'id' is empty",
            "id",
        ),
        (
            "no_column.csv",
            "ident,text\n1,a\n",
            "no_column.csv:1: no column 'id'",
            "id",
        ),
        (
            "ragged.csv",
            "id,text\n1,a\n2,b,extra\n",
            "ragged.csv:3:",
            "id",
        ),
        (
            "broken.jsonl",
            "{\"id\": 1}\n{\"id\": 2\n",
            "broken.jsonl:2: not valid JSON",
            "id",
        ),
        (
            "array.jsonl",
            "{\"id\": 1}\n[1, 2]\n",
            "array.jsonl:2: not a JSON object",
            "id",
        ),
    ];
    for (file, text, message, key) in cases {
        std::fs::write(sb.work().join(file), text).unwrap();
        let before = db_state(&sb);
        let out = new_run(&sb, file, &["--key", key]);
        assert_eq!(out.status.code(), Some(1), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{file}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("hint: nothing of this file was kept"),
            "{file}"
        );
        assert_no_panic(&out);
        assert!(db_state(&sb) == before, "{file} changed the DB");
    }
    let out = new_run(&sb, "missing.csv", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn recording_is_idempotent_and_errors_can_be_selected() {
    let sb = Sandbox::new();
    sb.init();
    let rows: String = (1..=5).map(|i| format!("{i},text {i}\n")).collect();
    std::fs::write(sb.work().join("s.csv"), format!("id,text\n{rows}")).unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    let out = record(
        &sb,
        "latest",
        "{\"key\":\"1\",\"ok\":{\"label\":\"A\"}}\n{\"key\":\"2\",\"error\":\"timeout after 30s\",\"category\":\"timeout\"}\n{\"key\":\"3\",\"ok\":\"plain text\"}\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 of 5 done, 1 error"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        keys(&items(&sb, "latest", &[])),
        vec!["4", "5"],
        "remaining"
    );
    assert_eq!(keys(&items(&sb, "latest", &["--errors"])), vec!["2"]);
    let out = sb
        .cmd()
        .env("RETRY_ERRORS_ONLY", "1")
        .args(["items", "latest"])
        .run();
    assert_eq!(stdout(&out).lines().count(), 1);

    // The same result again: still one row, two attempts. A retry that succeeds clears the error.
    record(&sb, "latest", "{\"key\":\"1\",\"ok\":{\"label\":\"A\"}}\n");
    record(&sb, "latest", "{\"key\":\"2\",\"ok\":{\"label\":\"B\"}}\n");
    let tables = sb.tables();
    let n: i64 = tables.one("SELECT count(*) FROM results WHERE key = '1'", &[]);
    let attempts: i64 = tables.one(
        "SELECT max(attempt_count) FROM results WHERE key = '1'",
        &[],
    );
    assert_eq!((n, attempts), (1, 2));
    let status: String = tables.one("SELECT status FROM results WHERE key = '2'", &[]);
    let first_error: String = tables.one("SELECT first_error FROM results WHERE key = '2'", &[]);
    assert_eq!(
        (status.as_str(), first_error.as_str()),
        ("ok", "timeout after 30s")
    );
    // What export can say of the same (it does not show first_error, read above with SQL).
    let export = sb.run(&["export", "latest"]);
    export.success();
    let lines = export.json_lines();
    let of = |key: &str| lines.iter().find(|l| l["item_key"] == key).unwrap().clone();
    assert_eq!(of("1")["result_attempts"], 2);
    assert_eq!(
        (&of("2")["result_status"], &of("2")["result_error"]),
        (&"ok".into(), &serde_json::Value::Null)
    );
    assert!(items(&sb, "latest", &["--errors"]).is_empty());

    // Unknown keys and bad lines are refused; lines before a bad one are kept.
    let out = record(&sb, "latest", "{\"key\":\"99\",\"ok\":1}\n");
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("'99' is not an item of run"),
        "{}",
        stderr(&out)
    );
    let out = record(&sb, "latest", "{\"key\":\"4\",\"ok\":1}\n{\"key\":\"5\"}\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 2: needs exactly one of \"ok\" and \"error\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(keys(&items(&sb, "latest", &[])), vec!["5"]);
}

#[test]
fn a_second_recorder_is_refused_and_a_killed_holder_frees_the_lock() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("s.csv"), "id\n1\n2\n").unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    // The first recorder holds the lock while it waits for input.
    let mut holder = sb
        .cmd()
        .args(["record", "latest"])
        .stdin(Stdio::piped())
        .spawn();
    let mut stdin = holder.stdin.take().unwrap();
    stdin.write_all(b"{\"key\":\"1\",\"ok\":1}\n").unwrap();
    let lock_dir = sb.work().join(".runctl/locks");
    let start = std::time::Instant::now();
    loop {
        let held = std::fs::read_dir(&lock_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .and_then(|e| std::fs::read_to_string(e.path()).ok());
        if held.is_some_and(|h| h.contains(&format!("pid {}", holder.id()))) {
            break;
        }
        assert!(start.elapsed().as_secs() < 20, "the lock was never taken");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = record(&sb, "latest", "{\"key\":\"2\",\"ok\":1}\n");
    assert_eq!(second.status.code(), Some(3));
    let err = stderr(&second);
    assert!(
        err.contains("is being worked on by another process (pid "),
        "{err}"
    );
    assert!(
        err.contains(&format!("pid {} on ", holder.id())) && err.contains(", since 20"),
        "{err}"
    );
    // SIGKILL the holder: the OS frees the lock, no stale-lock chore.
    holder.kill().unwrap();
    holder.wait();
    drop(stdin);
    let third = record(&sb, "latest", "{\"key\":\"2\",\"ok\":1}\n");
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
}

#[test]
fn show_and_list_count_the_items() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("s.csv"), "id\n1\n2\n3\n").unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    record(
        &sb,
        "latest",
        "{\"key\":\"1\",\"ok\":1}\n{\"key\":\"2\",\"error\":\"boom\"}\n",
    );
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let run: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    let items_json = &run["items"];
    for (field, want) in [
        ("total", 3),
        ("completed", 1),
        ("errors", 1),
        ("remaining", 1),
    ] {
        assert_eq!(items_json[field], want, "{field}");
    }
    // An ETA once there is a rate (two results recorded in one go may give none yet).
    assert!(
        items_json["eta"].is_null() || items_json["eta"].as_str().is_some_and(|e| e.ends_with('Z')),
        "{items_json}"
    );
    let list = sb.cmd().arg("list").run();
    assert!(
        stdout(&list).contains("1/3 done, 1 error"),
        "{}",
        stdout(&list)
    );
    let show = sb.cmd().args(["show", "latest"]).run();
    assert!(
        stdout(&show).contains("items        1/3 done, 1 error (1 remaining)"),
        "{}",
        stdout(&show)
    );
}

#[test]
fn export_round_trips() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(
        sb.work().join("cases.csv"),
        "id,a,b,site\n1,x1,y1,north\n2,\"x, 2\",y2,south\n",
    )
    .unwrap();
    assert_eq!(
        new_run(&sb, "cases.csv", &["--key", "id", "--unpivot", "a,b"])
            .status
            .code(),
        Some(0)
    );
    record(
        &sb,
        "latest",
        "{\"key\":[\"1\",\"a\"],\"ok\":{\"label\":\"L1\"}}\n{\"key\":[\"2\",\"b\"],\"error\":\"bad output\",\"category\":\"bad-output\"}\n",
    );
    let items_all = items(&sb, "latest", &["--all"]);

    let out = sb.cmd().args(["export", "latest", "-o", "out.jsonl"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(sb.work().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), items_all.len());
    for (line, item) in lines.iter().zip(&items_all) {
        assert_eq!(line["item_key"], item["key"]);
        for (column, value) in item["data"].as_object().unwrap() {
            assert_eq!(&line[column], value, "{column}");
        }
    }
    assert_eq!(lines[0]["result_status"], "ok");
    assert_eq!(
        lines[0]["result_output"],
        serde_json::json!({"label": "L1"})
    );
    assert_eq!(lines[3]["result_status"], "error");
    assert_eq!(lines[3]["result_error_category"], "bad-output");
    assert_eq!(lines[1]["result_status"], serde_json::Value::Null);

    // CSV: the same rows, and it ingests back as a source keyed by item_key.
    let out = sb
        .cmd()
        .args(["export", "latest", "--format", "csv", "-o", "out.csv"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(sb.work().join("out.csv")).unwrap();
    let headers: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(&headers[..5], ["item_key", "id", "site", "column", "value"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(&rows[2][4], "x, 2");
    let back = new_run(&sb, "out.csv", &["--key", "item_key"]);
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    let again = items(&sb, "latest", &["--all"]);
    assert_eq!(keys(&again), keys(&items_all));
}

#[test]
fn the_eta_follows_the_recording_rate() {
    let sb = Sandbox::new();
    sb.init();
    let rows: String = (1..=10).map(|i| format!("{i}\n")).collect();
    std::fs::write(sb.work().join("s.csv"), format!("id\n{rows}")).unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    record(&sb, "latest", "{\"key\":\"1\",\"ok\":1}\n");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    record(
        &sb,
        "latest",
        "{\"key\":\"2\",\"ok\":1}\n{\"key\":\"3\",\"ok\":1}\n",
    );
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let run: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    let eta: jiff::Timestamp = run["items"]["eta"].as_str().unwrap().parse().unwrap();
    // 3 done in about a second, 7 to go: a few seconds from now, not hours.
    let ahead = eta.duration_since(jiff::Timestamp::now()).as_secs_f64();
    assert!((0.5..60.0).contains(&ahead), "eta {eta} is {ahead} s ahead");
    let text = sb.cmd().args(["show", "latest"]).run();
    assert!(stdout(&text).contains("eta          "), "{}", stdout(&text));
}

#[test]
fn export_refuses_to_write_over_the_db_its_companions_the_settings_or_the_source() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::write(sb.work().join("items.csv"), "id,text\na,x\nb,y\n").unwrap();
    sb.new_run_over("items.csv");
    // The same files reached through a symlink and a hard link, and the DB's companions,
    // whether or not they exist at the moment.
    std::os::unix::fs::symlink("items.csv", sb.work().join("link-to-source.csv")).unwrap();
    std::fs::hard_link(sb.work().join("runctl.toml"), sb.work().join("hard.toml")).unwrap();
    let guarded = [
        ".runctl/state.db",
        ".runctl/state.db-wal",
        ".runctl/state.db-shm",
        ".runctl/./state.db",
        "outputs/../.runctl/state.db",
        ".runctl/new-file",
        "runctl.toml",
        "hard.toml",
        "items.csv",
        "link-to-source.csv",
    ];
    let sums = |sb: &Sandbox| {
        let mut all = Vec::new();
        for name in ["runctl.toml", "items.csv", ".runctl/state.db"] {
            all.push(std::fs::read(sb.work().join(name)).unwrap());
        }
        all
    };
    let before = sums(&sb);
    for target in guarded {
        for format in ["jsonl", "csv"] {
            let out = sb
                .cmd()
                .args(["export", "latest", "--format", format, "-o", target])
                .run();
            assert_no_panic(&out);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{target}: {err}");
            assert!(err.contains("refusing to export to"), "{target}: {err}");
        }
    }
    assert_eq!(sums(&sb), before);
    assert!(!sb.work().join(".runctl/new-file").exists());
    let out = sb.cmd().arg("list").run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // An ordinary file is fine, and a symlink planted at the temporary name is not followed.
    let out = sb
        .cmd()
        .args(["export", "latest", "-o", "results.jsonl"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("results.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn record_keeps_the_good_lines_before_an_unknown_key_and_refuses_bytes_that_are_not_utf8() {
    let sb = Sandbox::new();
    sb.init();
    let mut csv = String::from("id\n");
    for i in 0..2000 {
        csv.push_str(&format!("k{i:04}\n"));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    sb.new_run_over("items.csv");
    let mut lines = String::new();
    for i in 0..1500 {
        lines.push_str(&format!("{{\"key\":\"k{i:04}\",\"ok\":{i}}}\n"));
    }
    lines.push_str("{\"key\":\"nope\",\"ok\":1}\n{\"key\":\"k1600\",\"ok\":1}\n");
    let out = record(&sb, "latest", &lines);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("line 1501: 'nope' is not an item of run"),
        "{err}"
    );
    assert!(
        err.contains("the 1500 results before it were recorded"),
        "{err}"
    );
    assert_eq!(items(&sb, "latest", &[]).len(), 500);

    // A byte-order mark before the first line is not part of it.
    let out = sb
        .cmd()
        .args(["record", "latest"])
        .write_stdin(b"\xEF\xBB\xBF{\"key\":\"k1999\",\"ok\":1}\n".to_vec())
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(items(&sb, "latest", &[]).len(), 499);
    // Invalid UTF-8: refused at its line, as a stream worker's line is bad output; the lines
    // before it are kept.
    let mut bytes = b"{\"key\":\"k1500\",\"ok\":1}\n".to_vec();
    bytes.extend_from_slice(b"{\"key\":\"k1501\",\"ok\":\"\xff\xfe\"}\n");
    let out = sb.cmd().args(["record", "latest"]).write_stdin(bytes).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 2: not valid UTF-8"), "{err}");
    assert!(err.contains("the 1 result before it was recorded"), "{err}");
    assert_eq!(items(&sb, "latest", &[]).len(), 498);
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `runctl new --source FILE --key id` under a 2 GB address-space limit (as the bomb report
/// ran it): a refusal must come long before that, as a clear error, not an abort.
fn ingest_limited(sb: &Sandbox, file: &str) -> Run {
    let out = sb
        .sh(&format!(
            "ulimit -v 2000000; exec {RUNCTL} new --model m --source '{file}' --key id"
        ))
        .run();
    assert_no_panic(&out);
    out
}

#[test]
fn zip_bombs_and_endless_lines_are_refused_with_the_limit_named() {
    let sb = Sandbox::new();
    sb.init();
    let before = db_state(&sb);
    for (bomb, part) in [
        ("bomb-cell.xlsx", "xl/worksheets/sheet1.xml"),
        ("bomb-strings.xlsx", "xl/sharedStrings.xml"),
    ] {
        let out = ingest_limited(&sb, fixture(bomb).to_str().unwrap());
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{bomb}: {err}");
        assert!(err.contains(&format!("part {part}")), "{err}");
        assert!(err.contains("a zip bomb"), "{err}");
        assert!(err.contains("save the sheet as CSV"), "{err}");
    }
    // 40 MB lines in CSV and JSONL, and a 40 MB header.
    let long = "x".repeat(40 << 20);
    std::fs::write(
        sb.work().join("long.csv"),
        format!("id,text\n1,a\n2,{long}\n"),
    )
    .unwrap();
    std::fs::write(
        sb.work().join("long.jsonl"),
        format!("{{\"id\":\"1\"}}\n{{\"id\":\"2\",\"t\":\"{long}\"}}\n"),
    )
    .unwrap();
    let header: String = (0..6_000_000).map(|i| format!("c{i},")).collect();
    std::fs::write(sb.work().join("wide.csv"), format!("{header}id\n")).unwrap();
    for (file, line, what) in [
        ("long.csv", ":3: ", "the record"),
        ("long.jsonl", ":2: ", "the line"),
        ("wide.csv", ":1: ", "the record"),
    ] {
        let out = ingest_limited(&sb, file);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{file}: {err}");
        assert!(
            err.contains(&format!("{file}{line}{what} is longer than 32 MiB")),
            "{err}"
        );
        assert!(
            err.len() < 2_000,
            "{file}: the message echoes the input: {} bytes",
            err.len()
        );
    }
    // A wide header under the limit: the error lists a few columns, not all of them.
    let header: String = (0..100_000).map(|i| format!("c{i},")).collect();
    std::fs::write(sb.work().join("wide.csv"), format!("{header}x\n")).unwrap();
    let out = ingest_limited(&sb, "wide.csv");
    let err = stderr(&out);
    assert!(
        err.contains("no column 'id'") && err.contains("... 99981 more"),
        "{err}"
    );
    assert!(err.len() < 2_000, "{} bytes", err.len());
    assert_eq!(db_state(&sb).0, before.0);
}

#[test]
fn crlf_line_numbers_duplicate_headers_and_unterminated_quotes() {
    let sb = Sandbox::new();
    sb.init();
    // CRLF, with a quoted field over two lines: locations are the lines an editor shows.
    std::fs::write(
        sb.work().join("crlf.csv"),
        "id,t\r\n1,a\r\n2,\"x\r\ny\"\r\n3,b\r\n",
    )
    .unwrap();
    let out = new_run(&sb, "crlf.csv", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let locations: Vec<String> = items(&sb, "latest", &["--all"])
        .iter()
        .map(|i| i["location"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(locations, vec!["2", "3", "5"]);
    std::fs::write(sb.work().join("dup.csv"), "id,t\r\n1,a\r\n2,b\r\n1,c\r\n").unwrap();
    let out = new_run(&sb, "dup.csv", &["--key", "id"]);
    assert!(
        stderr(&out).contains("dup.csv:4: duplicate key 1 (first at 2)"),
        "{}",
        stderr(&out)
    );
    let before = db_state(&sb);
    for (content, expected) in [
        (
            "id,text,text\n1,a,b\n",
            "dup-header.csv:1: the column 'text' appears twice in the header",
        ),
        (
            "id,t\n1,\"unterminated\n2,b\n",
            "dup-header.csv:2: a quoted field opened on this line is never closed",
        ),
        (
            "id,t\n1,\"ok \"\"quoted\"\"\"\n2,\"a\nb\"\n3,\"open",
            "dup-header.csv:5: a quoted field",
        ),
    ] {
        std::fs::write(sb.work().join("dup-header.csv"), content).unwrap();
        let out = new_run(&sb, "dup-header.csv", &["--key", "id"]);
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{content}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    assert_eq!(db_state(&sb), before);
    // Blank lines, in LF, CRLF and CR-only files: the lines an editor shows.
    for (name, eol) in [("lf.csv", "\n"), ("crlf2.csv", "\r\n"), ("cr.csv", "\r")] {
        let text = ["id,text", "1,a", "", "2,b", "", "", "3,c", "3,d", ""].join(eol);
        std::fs::write(sb.work().join(name), text).unwrap();
        let out = new_run(&sb, name, &["--key", "id"]);
        assert!(
            stderr(&out).contains(&format!("{name}:8: duplicate key 3 (first at 7)")),
            "{name}: {}",
            stderr(&out)
        );
    }
    std::fs::write(
        sb.work().join("blank.csv"),
        "id,text\n1,a\n\n2,b\n\n\n3,c\n",
    )
    .unwrap();
    assert_eq!(
        new_run(&sb, "blank.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    let locations: Vec<String> = items(&sb, "latest", &["--all"])
        .iter()
        .map(|i| i["location"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(locations, vec!["2", "4", "7"]);
    for (content, expected) in [
        (
            "id,t\n1,a\n\n2,b,c\n",
            "bad.csv:4: 3 fields where the header has 2",
        ),
        (
            "id,t\n1,a\n2,\"x\"y\n",
            "bad.csv:3: text after the closing quote",
        ),
    ] {
        std::fs::write(sb.work().join("bad.csv"), content).unwrap();
        let out = new_run(&sb, "bad.csv", &["--key", "id"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    // After a byte-order mark, the header's quotes are checked as anywhere else.
    for (content, expected) in [
        (
            &b"\xEF\xBB\xBF\"id\"x,t\n1,a\n"[..],
            "bom.csv:1: text after the closing quote",
        ),
        (
            b"\xEF\xBB\xBF\"id,t\n1,a\n",
            "bom.csv:1: a quoted field opened on this line is never closed",
        ),
    ] {
        std::fs::write(sb.work().join("bom.csv"), content).unwrap();
        let out = new_run(&sb, "bom.csv", &["--key", "id"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
    }
    // A quote inside an unquoted field is text, as the csv crate reads it.
    std::fs::write(sb.work().join("inch.csv"), "id,t\n1,5\" tall\n2,b\n").unwrap();
    let out = new_run(&sb, "inch.csv", &["--key", "id"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn export_writes_into_fifos_devices_and_symlinked_files_and_protects_every_source() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("a.csv"), "id\n1\n2\n").unwrap();
    std::fs::write(sb.work().join("b.csv"), "id\nx\n").unwrap();
    sb.new_run_over("a.csv");
    sb.new_run_over("b.csv");
    let export = |target: &str| {
        let out = sb
            .cmd()
            .args(["export", "m-dataset-full-run1", "-o", target])
            .run();
        assert_no_panic(&out);
        out
    };
    // A device is written into, not replaced by a file.
    let null = sb.work().join("null");
    let made = std::process::Command::new("mknod")
        .args([null.to_str().unwrap(), "c", "1", "3"])
        .status()
        .unwrap();
    assert!(made.success());
    assert_eq!(export("null").status.code(), Some(0));
    assert!(
        !std::fs::metadata(&null).unwrap().is_file(),
        "null became a file"
    );
    // /dev/stdout is the command's stdout.
    let out = export("/dev/stdout");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 2);
    // A FIFO with a reader gets the lines.
    let fifo = sb.work().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read_to_string(fifo).unwrap()
    });
    assert_eq!(export("fifo").status.code(), Some(0));
    assert_eq!(reader.join().unwrap().lines().count(), 2);
    assert!(!std::fs::metadata(&fifo).unwrap().is_file());
    // A symlink to a file: the file is replaced, the symlink stays.
    std::fs::create_dir(sb.work().join("results")).unwrap();
    std::os::unix::fs::symlink("results/real.jsonl", sb.work().join("link.jsonl")).unwrap();
    assert_eq!(export("link.jsonl").status.code(), Some(0));
    assert!(
        std::fs::symlink_metadata(sb.work().join("link.jsonl"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("results/real.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    // Another run's source is protected too; a folder is refused and leaves no temporary file.
    let before = std::fs::read(sb.work().join("b.csv")).unwrap();
    assert_eq!(export("b.csv").status.code(), Some(2));
    assert_eq!(std::fs::read(sb.work().join("b.csv")).unwrap(), before);
    assert_eq!(export("results").status.code(), Some(2));
    let leftovers: Vec<_> = std::fs::read_dir(sb.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("export-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // The state folder reached through a bind mount (where this machine lets root mount).
    let bind = sb.tmp.path().join("bind");
    std::fs::create_dir(&bind).unwrap();
    let mounted = std::process::Command::new("mount")
        .arg("--bind")
        .arg(sb.work().join(".runctl"))
        .arg(&bind)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if mounted {
        let db = std::fs::read(sb.db()).unwrap();
        let out = export(bind.join("state.db").to_str().unwrap());
        let _ = std::process::Command::new("umount").arg(&bind).status();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(std::fs::read(sb.db()).unwrap(), db);
    } else {
        eprintln!("note: mount --bind is not allowed here; the bind-mount case was not run");
    }
}

/// An .xlsx whose sheet has one inline-string cell of `cell_bytes`, its parts stored without
/// compression (so nothing about it looks like a bomb).
fn workbook_with_one_big_cell(path: &std::path::Path, cell_bytes: usize) {
    let mut cell = String::from(r#"<c r="B2" t="inlineStr"><is><t>"#);
    cell.push_str(&"a".repeat(cell_bytes));
    cell.push_str("</t></is></c>");
    workbook(path, &cell, None);
}

/// A minimal .xlsx, parts stored without compression: header row `id,text,more`, then row 2
/// with `id` 1 and `row2_cells`; `shared`, when given, is the one shared string (index 0).
fn workbook(path: &std::path::Path, row2_cells: &str, shared: Option<&str>) {
    use std::io::Write;
    let shared_rel = if shared.is_some() {
        r#"<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>"#
    } else {
        ""
    };
    let parts: [(&str, String); 4] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"#.into(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.into(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.into(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>{shared_rel}</Relationships>"#
            ),
        ),
    ];
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, text) in parts {
        zip.start_file(name, stored).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    if let Some(text) = shared {
        zip.start_file("xl/sharedStrings.xml", stored).unwrap();
        zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
        zip.write_all(b"</t></si></sst>").unwrap();
    }
    zip.start_file("xl/worksheets/sheet1.xml", stored).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>text</t></is></c><c r="C1" t="inlineStr"><is><t>more</t></is></c></row><row r="2"><c r="A2"><v>1</v></c>"#).unwrap();
    zip.write_all(row2_cells.as_bytes()).unwrap();
    zip.write_all(b"</row></sheetData></worksheet>").unwrap();
    zip.finish().unwrap();
}

#[test]
fn a_sheet_cell_over_the_limit_is_refused_before_it_is_read() {
    let sb = Sandbox::new();
    sb.init();
    workbook_with_one_big_cell(&sb.work().join("big-cell.xlsx"), 40 << 20);
    let out = ingest_limited(&sb, "big-cell.xlsx");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("part xl/worksheets/sheet1.xml"), "{err}");
    assert!(err.contains("(one cell) is longer than 32 MiB"), "{err}");
    // The same sheet with a cell under the limit ingests.
    workbook_with_one_big_cell(&sb.work().join("ok.xlsx"), 2 << 20);
    let out = ingest_limited(&sb, "ok.xlsx");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn export_protects_a_db_kept_elsewhere_appends_to_a_redirected_stdout_and_refuses_link_loops() {
    let sb = Sandbox::new();
    // The DB lives in another folder, `.runctl/state.db` is a symlink to it.
    let home = sb.tmp.path().join("dbhome");
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    std::os::unix::fs::symlink(home.join("state.db"), sb.work().join(".runctl/state.db")).ok();
    std::fs::write(home.join("state.db"), b"").unwrap();
    std::fs::write(sb.work().join("f.csv"), "id\n1\n").unwrap();
    sb.new_run_over("f.csv");
    let db = std::fs::read(home.join("state.db")).unwrap();
    let out = sb
        .cmd()
        .args(["export", "latest", "-o"])
        .arg(home.join("state.db"))
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runctl's database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(home.join("state.db")).unwrap(), db);
    // `-o /dev/stdout >> log` appends, as a shell user expects.
    std::fs::write(sb.work().join("log"), "HEADER\n").unwrap();
    let out = sb
        .sh(&format!("{RUNCTL} export latest -o /dev/stdout >> log"))
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = std::fs::read_to_string(sb.work().join("log")).unwrap();
    assert!(
        log.starts_with("HEADER\n") && log.lines().count() == 2,
        "{log}"
    );
    // A loop of symlinks is refused, not replaced by a file.
    std::os::unix::fs::symlink("loop-b", sb.work().join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", sb.work().join("loop-b")).unwrap();
    let out = sb.cmd().args(["export", "latest", "-o", "loop-a"]).run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        std::fs::symlink_metadata(sb.work().join("loop-a"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn the_same_file_read_with_another_sheet_or_delimiter_is_another_source() {
    let sb = Sandbox::new();
    sb.init();
    let mut book = rust_xlsxwriter::Workbook::new();
    for (sheet, text) in [("Sheet1", "sheet-one"), ("S0", "sheet-two")] {
        let ws = book.add_worksheet().set_name(sheet).unwrap();
        ws.write_string(0, 0, "id").unwrap();
        ws.write_string(0, 1, "text").unwrap();
        ws.write_string(1, 0, "1").unwrap();
        ws.write_string(1, 1, text).unwrap();
    }
    book.save(sb.work().join("two.xlsx")).unwrap();
    for (sheet, text) in [
        ("Sheet1", "sheet-one"),
        ("S0", "sheet-two"),
        ("Sheet1", "sheet-one"),
    ] {
        let out = new_run(&sb, "two.xlsx", &["--key", "id", "--sheet", sheet]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let all = items(&sb, "latest", &["--all"]);
        assert_eq!(all[0]["data"]["text"], text, "--sheet {sheet}");
    }
    // The third run reused the first's source; the second has its own.
    // SQL: no command lists the sources.
    let sources: i64 = sb.tables().one("SELECT count(*) FROM sources", &[]);
    assert_eq!(sources, 2);
    std::fs::write(sb.work().join("semi.csv"), "id;t,u\n1;a,b\n").unwrap();
    let out = new_run(&sb, "semi.csv", &["--key", "id", "--delimiter", ";"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(items(&sb, "latest", &["--all"])[0]["data"]["t,u"], "a,b");
    // Keyed by the same column name read the other way: not the same source.
    std::fs::write(sb.work().join("semi.csv"), "id;t,id\n1;a,b\n").unwrap();
    let out = new_run(&sb, "semi.csv", &["--key", "id", "--delimiter", ";"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = new_run(&sb, "semi.csv", &["--key", "id", "--delimiter", ","]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(items(&sb, "latest", &["--all"])[0]["key"], "b");
}

#[test]
fn the_item_limit_holds_for_a_whole_sheet_row() {
    let sb = Sandbox::new();
    sb.init();
    // One 20 MB shared string named by two cells of a row: a 40 MB row.
    let big = "s".repeat(20 << 20);
    workbook(
        &sb.work().join("shared.xlsx"),
        r#"<c r="B2" t="s"><v>0</v></c><c r="C2" t="s"><v>0</v></c>"#,
        Some(&big),
    );
    let out = ingest_limited(&sb, "shared.xlsx");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("row 2: the row is longer than 32 MiB"),
        "{err}"
    );
    // (A CSV or JSON line is capped as a whole, and an unpivoted item is part of its row; the
    // items of a row are handed on one at a time, so many unpivoted columns never hold many
    // copies of the row at once.)
}

#[test]
fn a_category_a_worker_names_is_kept_as_it_is_and_an_error_without_one_is_exit() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("s.csv"), "id,text\n1,a\n2,b\n").unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    let out = record(
        &sb,
        "latest",
        "{\"key\":\"1\",\"error\":\"over the quota\",\"category\":\"quota\"}\n{\"key\":\"2\",\"error\":\"boom\"}\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = sb.cmd().args(["export", "latest"]).run();
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let categories: Vec<&str> = rows
        .iter()
        .map(|r| r["result_error_category"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["quota", "exit"]);
}

#[test]
fn items_errors_tell_each_items_error_category_and_attempts() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("s.csv"), "id,text\n1,a\n2,b\n3,c\n").unwrap();
    assert_eq!(
        new_run(&sb, "s.csv", &["--key", "id"]).status.code(),
        Some(0)
    );
    record(
        &sb,
        "latest",
        "{\"key\":\"1\",\"error\":\"first try\"}\n{\"key\":\"2\",\"ok\":1}\n",
    );
    record(
        &sb,
        "latest",
        "{\"key\":\"1\",\"error\":\"over the quota\",\"category\":\"quota\"}\n",
    );
    let errors = items(&sb, "latest", &["--errors"]);
    assert_eq!(
        errors,
        [serde_json::json!({
            "key": "1", "data": {"id": "1", "text": "a"}, "location": "2",
            "attempts": 2, "error": "over the quota", "category": "quota"
        })]
    );
    // The other selections are the item lines workers get, nothing added.
    let remaining = items(&sb, "latest", &[]);
    assert_eq!(
        remaining,
        [serde_json::json!({"key": "3", "data": {"id": "3", "text": "c"}, "location": "4"})]
    );
}

#[test]
fn a_record_whose_lock_file_is_removed_takes_it_again_and_a_second_record_is_refused() {
    let sb = Sandbox::new();
    sb.init();
    let mut csv = String::from("id\n");
    for i in 0..3000 {
        csv.push_str(&format!("k{i:04}\n"));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    sb.new_run_over("items.csv");
    let fifo = sb.work().join("results.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let first = sb.spawn(&["record", "latest", "--from", fifo.to_str().unwrap()]);
    let mut feed = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let lines = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("{{\"key\":\"k{i:04}\",\"ok\":{i}}}\n"))
            .collect()
    };
    let locks = sb.work().join(".runctl/locks");
    let lock_files = || entries(&locks, |_| true);
    feed.write_all(lines(0, 1000).as_bytes()).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while lock_files().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Someone removes the lock file under the running record.
    for lock in lock_files() {
        std::fs::remove_file(lock).unwrap();
    }
    // The next batch takes it again, so a second writer of the run is refused.
    feed.write_all(lines(1000, 2000).as_bytes()).unwrap();
    while lock_files().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = record(&sb, "latest", &lines(2999, 3000));
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    drop(feed);
    let first = first.wait();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&sb.cmd().args(["show", "latest", "--json"]).run())).unwrap();
    assert_eq!(shown["items"]["completed"], 2000, "{shown}");
}

#[test]
fn a_batch_whose_keys_are_megabytes_long_is_recorded_and_counted() {
    // On SQLite: PostgreSQL's B-tree keys stop near 2.7 kB (docs/cluster.md).
    let sb = Sandbox::on_sqlite();
    sb.init();
    // 20 keys of 1 MiB: one batch's keys go to SQLite as two arrays (at most 16 MiB each), and
    // both count. (The 1 GB text limit the arrays keep under takes a 1.5 GB test to reach.)
    let key = |i: usize| format!("{}{i:02}", "k".repeat(1 << 20));
    let mut csv = String::from("id\n");
    for i in 0..20 {
        csv.push_str(&key(i));
        csv.push('\n');
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    sb.new_run_over("items.csv");
    let lines = |ok_even: bool| -> String {
        (0..20)
            .map(|i| {
                if (i % 2 == 0) == ok_even {
                    format!("{{\"key\":\"{}\",\"ok\":{i}}}\n", key(i))
                } else {
                    format!("{{\"key\":\"{}\",\"error\":\"e{i}\"}}\n", key(i))
                }
            })
            .collect()
    };
    for round in [true, false, true] {
        let out = record(&sb, "latest", &lines(round));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&sb.cmd().args(["show", "latest", "--json"]).run())).unwrap();
    assert_eq!(shown["items"]["completed"], 10, "{}", shown["items"]);
    assert_eq!(shown["items"]["errors"], 10, "{}", shown["items"]);
}
