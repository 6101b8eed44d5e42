//! The worker engine over the binary: the seed's six acceptance scenarios (a real SIGKILL, a
//! real lock, real drift), per-item and stream workers in sh, timeouts, retries, rate, worker
//! death, SIGINT once and twice, big and unreadable output, and a chaos run killed ten times.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::common::*;

/// A project with a run over `n` items keyed k00000, k00001, ...; returns nothing, the run is
/// `latest`.
pub(crate) fn run_with_items(sb: &Sandbox, n: usize) {
    sb.init();
    let mut csv = String::from("id,text\n");
    for i in 0..n {
        csv.push_str(&format!("k{i:05},text of {i}\n"));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    sb.new_run_over("items.csv");
}

/// A worker script in `work/`.
pub(crate) fn worker(sb: &Sandbox, name: &str, script: &str) -> String {
    write_exec(&sb.work().join(name), script);
    format!("./{name}")
}

pub(crate) fn resume(sb: &Sandbox, args: &[&str]) -> Run {
    let out = sb.cmd().arg("resume").args(args).run();
    assert_no_panic(&out);
    out
}

/// `runctl resume ARGS` started in the background, its stderr piped.
pub(crate) fn spawn_resume(sb: &Sandbox, args: &[&str]) -> Spawned {
    sb.spawn(&[&["resume"], args].concat())
}

pub(crate) fn db(sb: &Sandbox) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

/// A count read with SQL: results while a killed or running resume leaves them, and counts
/// the CLI has no listing for; [`status`] and [`results`] check the CLI's view beside it.
pub(crate) fn count(sb: &Sandbox, sql: &str) -> i64 {
    sb.tables().one(sql, &[])
}

/// The newest run's status, as the DB holds it and as `show latest --json` says it (the two
/// must agree).
pub(crate) fn status(sb: &Sandbox) -> String {
    let stored: String = sb.tables().one(
        "SELECT status FROM runs ORDER BY created_at DESC LIMIT 1",
        &[],
    );
    let shown = sb.run(&["show", "latest", "--json"]);
    shown.success();
    assert_eq!(
        shown.json()["status"],
        stored.as_str(),
        "show latest --json"
    );
    stored
}

/// A result row as the DB holds it.
#[derive(Debug)]
pub(crate) struct ResultRow {
    pub key: String,
    pub status: String,
    pub attempt_count: i64,
    pub first_error: Option<String>,
    pub last_error: Option<String>,
    pub error_category: Option<String>,
    pub output: Option<String>,
}

/// Every result, by key, checked against `export latest` ([`export_agrees`]). Read with SQL
/// because export does not show `first_error`, which these tests check too.
pub(crate) fn results(sb: &Sandbox) -> Vec<ResultRow> {
    let rows = sb
        .tables()
        .rows(
            "SELECT key, status, attempt_count, first_error, last_error, error_category, output \
             FROM results ORDER BY key",
            &[],
        )
        .into_iter()
        .map(|mut r| ResultRow {
            key: r[0].take().unwrap(),
            status: r[1].take().unwrap(),
            attempt_count: r[2].take().unwrap().parse().unwrap(),
            first_error: r[3].take(),
            last_error: r[4].take(),
            error_category: r[5].take(),
            output: r[6].take(),
        })
        .collect::<Vec<_>>();
    export_agrees(sb, &rows);
    rows
}

/// What `export latest` says of each result is what the DB holds (all but `first_error`, which
/// export does not show). Checked when every result belongs to the newest run, as in these
/// tests' one-run projects.
fn export_agrees(sb: &Sandbox, rows: &[ResultRow]) {
    let shown = sb.run(&["show", "latest", "--json"]);
    if shown.code != Some(0) {
        assert!(rows.is_empty(), "results without a run");
        return;
    }
    let latest = shown.json()["id"].as_str().unwrap().to_string();
    let elsewhere: i64 = sb.tables().one(
        "SELECT count(*) FROM results WHERE run_id != ?1",
        &[&latest],
    );
    if elsewhere > 0 {
        return;
    }
    let export = sb.run(&["export", "latest"]);
    export.success();
    let lines = export.json_lines();
    let exported: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| !line["result_status"].is_null())
        .collect();
    assert_eq!(exported.len(), rows.len(), "results in export latest");
    for (row, line) in rows.iter().zip(exported) {
        let output = row.output.as_deref().map_or(serde_json::Value::Null, |o| {
            serde_json::from_str(o).unwrap_or_else(|_| o.into())
        });
        let text = |v: &Option<String>| v.as_deref().map_or(serde_json::Value::Null, Into::into);
        assert_eq!(
            (
                &line["item_key"],
                &line["result_status"],
                &line["result_attempts"],
                &line["result_error"],
                &line["result_error_category"],
            ),
            (
                &row.key.as_str().into(),
                &row.status.as_str().into(),
                &row.attempt_count.into(),
                &text(&row.last_error),
                &text(&row.error_category),
            ),
            "export latest"
        );
        assert!(
            line["result_output"] == output,
            "export latest: {}",
            row.key
        );
    }
}

/// Wait until `cond` holds, or fail after 30 s.
pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, sig).unwrap();
}

/// Whether a process is gone (a zombie counts as gone).
pub(crate) fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// A per-item worker that answers `{"key": <its key>}` after `sleep`.
fn echo_worker(sb: &Sandbox, sleep: &str) -> String {
    worker(
        sb,
        "echo.sh",
        &format!(
            "#!/bin/sh\ncat >/dev/null\nsleep {sleep}\necho \"$RUNCTL_ITEM_KEY\" >> seen.log\nprintf '{{\"key\":\"%s\"}}' \"$RUNCTL_ITEM_KEY\"\n"
        ),
    )
}

fn seen(sb: &Sandbox) -> Vec<String> {
    let text = std::fs::read_to_string(sb.work().join("seen.log")).unwrap_or_default();
    let mut keys: Vec<String> = text.lines().map(str::to_string).collect();
    keys.sort();
    keys
}

// --- the seed's six acceptance scenarios -------------------------------------------------------

#[test]
fn scenario_1_sigkill_mid_run_then_resume_records_every_item_exactly_once() {
    let sb = Sandbox::new();
    run_with_items(&sb, 300);
    let w = echo_worker(&sb, "0.01");
    let mut first = spawn_resume(&sb, &["-j", "4", "--", &w]);
    wait_for("50 results committed", || {
        count(&sb, "SELECT count(*) FROM results") >= 50
    });
    first.kill().unwrap(); // SIGKILL
    first.wait();
    let after_kill = count(&sb, "SELECT count(*) FROM results");
    assert!(after_kill < 300, "the run was over before the kill");
    if sb.db_url.is_none() {
        let check: String = db(&sb)
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    assert_eq!(status(&sb), "running");
    // The lock died with the process: a plain resume goes on with the stored command.
    let out = resume(&sb, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 300);
    assert_eq!(count(&sb, "SELECT count(DISTINCT key) FROM results"), 300);
    assert_eq!(
        count(
            &sb,
            "SELECT count(*) FROM items i WHERE NOT EXISTS \
             (SELECT 1 FROM results r WHERE r.key = i.key AND r.status = 'ok')"
        ),
        0
    );
    for ResultRow {
        key,
        status: st,
        output,
        ..
    } in results(&sb)
    {
        assert_eq!(st, "ok");
        assert_eq!(output.unwrap(), format!("{{\"key\":\"{key}\"}}"));
    }
    assert_eq!(status(&sb), "completed");
}

#[test]
fn scenario_2_processed_items_are_not_run_again_and_add_no_row() {
    let sb = Sandbox::new();
    run_with_items(&sb, 6);
    // Half of the items are done already (recorded by a user's own loop).
    let out = sb
        .cmd()
        .args(["record", "latest"])
        .write_stdin("{\"key\":\"k00000\",\"ok\":1}\n{\"key\":\"k00001\",\"ok\":1}\n{\"key\":\"k00002\",\"ok\":1}\n")
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let w = echo_worker(&sb, "0");
    let out = resume(&sb, &["--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seen(&sb), ["k00003", "k00004", "k00005"]);
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 6);
    // A completed run is refused, and running nothing adds nothing.
    let out = resume(&sb, &["latest"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains("is completed: all 6 items are ok"),
        "{}",
        stderr(&out)
    );
    // Recording a processed item again keeps one row and counts the attempt.
    let out = sb
        .cmd()
        .args(["record", "latest"])
        .write_stdin("{\"key\":\"k00004\",\"ok\":2}\n")
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 6);
    assert_eq!(
        count(
            &sb,
            "SELECT attempt_count FROM results WHERE key = 'k00004'"
        ),
        2
    );
    assert_eq!(seen(&sb).len(), 3);
}

#[test]
fn scenario_3_a_changed_source_fails_fast_naming_both_checksums() {
    let sb = Sandbox::new();
    run_with_items(&sb, 4);
    let (sha_then, md5_then): (String, String) = (
        sb.tables().one("SELECT sha256 FROM sources", &[]),
        sb.tables().one("SELECT md5 FROM sources", &[]),
    );
    std::fs::write(sb.work().join("items.csv"), "id,text\nk00000,changed\n").unwrap();
    let w = echo_worker(&sb, "0");
    let start = Instant::now();
    let out = resume(&sb, &["--", &w]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("input drift"), "{err}");
    assert!(err.contains(&sha_then) && err.contains(&md5_then), "{err}");
    let sha_now = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(sb.work().join("items.csv")).unwrap(),
        ))
    };
    assert!(err.contains(&sha_now), "{err}");
    assert!(err.contains("--allow-drift"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 0);
    assert!(seen(&sb).is_empty());
    // Allowed: the items as ingested (4 of them, not the file's 1) are worked on.
    let out = resume(&sb, &["--allow-drift", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: input drift"),
        "{}",
        stderr(&out)
    );
    assert_eq!(seen(&sb).len(), 4);
}

#[test]
fn scenario_4_retry_errors_reruns_only_the_failed_items_and_clears_their_errors() {
    let sb = Sandbox::new();
    run_with_items(&sb, 8);
    std::fs::write(sb.work().join("fail.txt"), "k00002\nk00005\nk00006\n").unwrap();
    let w = worker(
        &sb,
        "flaky.sh",
        "#!/bin/sh\ncat >/dev/null\necho \"$RUNCTL_ITEM_KEY\" >> seen.log\n\
         if grep -qx \"$RUNCTL_ITEM_KEY\" fail.txt; then echo \"no luck for $RUNCTL_ITEM_KEY\" >&2; exit 4; fi\necho ok\n",
    );
    let out = resume(&sb, &["-j", "2", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 of 8 items of run"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&sb), "completed_with_errors");
    let errors: Vec<ResultRow> = results(&sb)
        .into_iter()
        .filter(|r| r.status == "error")
        .collect();
    assert_eq!(errors.len(), 3);
    assert_eq!(
        errors[0].last_error.as_deref(),
        Some("exit code 4: no luck for k00002")
    );
    assert_eq!(errors[0].error_category.as_deref(), Some("exit"));
    // The items command selects the same three.
    let out = sb.cmd().args(["items", "latest", "--errors"]).run();
    assert_eq!(stdout(&out).lines().count(), 3);
    // Fixed; retry only those.
    std::fs::write(sb.work().join("fail.txt"), "").unwrap();
    std::fs::remove_file(sb.work().join("seen.log")).unwrap();
    let out = sb
        .cmd()
        .args(["resume"])
        .env("RETRY_ERRORS_ONLY", "1")
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(seen(&sb), ["k00002", "k00005", "k00006"]);
    for ResultRow {
        key,
        status: st,
        attempt_count: attempts,
        first_error: first,
        last_error: last,
        error_category: category,
        ..
    } in results(&sb)
    {
        assert_eq!(st, "ok", "{key}");
        assert_eq!(last, None, "{key}");
        assert_eq!(category, None, "{key}");
        if ["k00002", "k00005", "k00006"].contains(&key.as_str()) {
            assert_eq!(attempts, 2);
            assert_eq!(first.unwrap(), format!("exit code 4: no luck for {key}"));
        } else {
            assert_eq!(attempts, 1);
        }
    }
    assert_eq!(status(&sb), "completed");
    assert_eq!(
        count(&sb, "SELECT n_errors FROM runs"),
        0,
        "the counter follows the cleared errors"
    );
}

#[test]
fn scenario_5_a_second_resume_is_refused_while_the_first_holds_the_lock() {
    // On PostgreSQL a second process joins the pass instead (members.rs).
    let sb = Sandbox::on_sqlite();
    run_with_items(&sb, 40);
    let w = echo_worker(&sb, "0.1");
    let mut first = spawn_resume(&sb, &["-j", "1", "--", &w]);
    let lock_dir = sb.work().join(".runctl/locks");
    wait_for("the first item to be done", || !seen(&sb).is_empty());
    wait_for("the lock to be taken", || {
        std::fs::read_dir(&lock_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .is_some_and(|h| h.contains(&format!("pid {}", first.id())))
    });
    let out = resume(&sb, &["latest"]);
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "is being worked on by another process (pid {} on ",
            first.id()
        )),
        "{err}"
    );
    assert!(err.contains(", since 20"), "{err}");
    assert!(
        err.contains(
            "for many processes or hosts on one run, use a PostgreSQL store (docs/cluster.md)"
        ),
        "{err}"
    );
    // The holder dies: the lock is free at once.
    first.kill().unwrap();
    first.wait();
    let out = resume(&sb, &["latest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 40);
}

#[test]
fn scenario_6_progress_and_eta_advance_in_flight_and_are_final_at_the_end() {
    let sb = Sandbox::new();
    // About 3.5 s of work: results commit every second, so several counts show in flight.
    run_with_items(&sb, 140);
    let w = echo_worker(&sb, "0.05");
    let mut child = spawn_resume(&sb, &["-j", "2", "--", &w]);
    let mut seen_done: Vec<i64> = Vec::new();
    let mut eta_in_flight = false;
    while child.try_wait().unwrap().is_none() {
        let out = sb.cmd().args(["show", "latest", "--json"]).run();
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        let done = json["items"]["completed"].as_i64().unwrap();
        if done > 0 && done < 140 && json["items"]["eta"].is_string() {
            eta_in_flight = true;
        }
        if seen_done.last() != Some(&done) {
            seen_done.push(done);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(child.wait().status.success());
    let in_flight: Vec<&i64> = seen_done.iter().filter(|d| **d > 0 && **d < 140).collect();
    assert!(in_flight.len() >= 2, "completed seen: {seen_done:?}");
    assert!(seen_done.windows(2).all(|w| w[0] < w[1]), "{seen_done:?}");
    assert!(eta_in_flight, "no ETA while running");
    let out = sb.cmd().args(["show", "latest", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["items"]["completed"], 140);
    assert_eq!(json["items"]["remaining"], 0);
    assert!(json["items"]["eta"].is_string());
    assert_eq!(json["status"], "completed");
}

// --- the worker protocol -------------------------------------------------------------------------

#[test]
fn a_per_item_worker_gets_the_item_on_stdin_and_the_run_in_its_env() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    let w = worker(
        &sb,
        "env.sh",
        "#!/bin/sh\nprintf '{\"item\":%s,\"key\":\"%s\",\"slot\":\"%s\",\"run\":\"%s\"}' \"$(cat)\" \"$RUNCTL_ITEM_KEY\" \"$RUNCTL_WORKER_ID\" \"$RUN_NAME\"\n",
    );
    let out = resume(&sb, &["-j", "1", "--json", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["pass"]["ok"], 3);
    let run = summary["run"].as_str().unwrap().to_string();
    let rows = results(&sb);
    let out: serde_json::Value = serde_json::from_str(rows[1].output.as_deref().unwrap()).unwrap();
    assert_eq!(out["key"], "k00001");
    assert_eq!(out["slot"], "1");
    assert_eq!(out["run"], run.as_str());
    assert_eq!(out["item"]["key"], "k00001");
    assert_eq!(out["item"]["data"]["text"], "text of 1");
    assert_eq!(out["item"]["attempt"], 1);
}

#[test]
fn a_stream_worker_answers_in_any_order_and_its_errors_are_recorded() {
    let sb = Sandbox::new();
    run_with_items(&sb, 50);
    // Reads the whole window before answering, then answers backwards; k00007 is an error.
    let w = worker(
        &sb,
        "stream.sh",
        r#"#!/bin/sh
while IFS= read -r a && IFS= read -r b; do
  for line in "$b" "$a"; do
    key=${line#*\"key\":\"}; key=${key%%\"*}
    if [ "$key" = k00007 ]; then
      printf '{"key":"%s","error":"cannot summarize","category":"bad-output"}\n' "$key"
    else
      printf '{"key":"%s","ok":{"k":"%s"}}\n' "$key" "$key"
    fi
  done
done
"#,
    );
    let out = resume(&sb, &["--stream", "--window", "2", "-j", "1", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.len(), 50);
    for ResultRow {
        key,
        status: st,
        last_error: last,
        error_category: category,
        output,
        ..
    } in rows
    {
        if key == "k00007" {
            assert_eq!(st, "error");
            assert_eq!(last.as_deref(), Some("cannot summarize"));
            assert_eq!(category.as_deref(), Some("bad-output"));
        } else {
            assert_eq!(output.unwrap(), format!("{{\"k\":\"{key}\"}}"));
        }
    }
}

#[test]
fn the_shell_example_worker_works_as_documented() {
    let sb = Sandbox::new();
    run_with_items(&sb, 20);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/workers/stream.sh");
    let out = resume(
        &sb,
        &["--stream", "-j", "2", "--", "sh", script.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.len(), 20);
    assert!(
        rows.iter()
            .all(|r| r.status == "ok" && r.output.as_deref().unwrap().contains("\"bytes\":"))
    );
}

// --- failures: timeouts, retries, rate, death ----------------------------------------------------

#[test]
fn a_timeout_kills_the_items_process_group() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    // k00001 starts a child that would outlive it, and hangs.
    let w = worker(
        &sb,
        "hang.sh",
        "#!/bin/sh\ncat >/dev/null\nif [ \"$RUNCTL_ITEM_KEY\" = k00001 ]; then sleep 60 & echo $! > child.pid; wait; fi\necho ok\n",
    );
    let start = Instant::now();
    let out = resume(&sb, &["--timeout", "500ms", "-j", "3", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(10));
    let rows = results(&sb);
    assert_eq!(rows[1].status, "error");
    assert_eq!(rows[1].error_category.as_deref(), Some("timeout"));
    assert!(
        rows[1]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("timed out after 0.5s")
    );
    assert_eq!(
        (rows[0].status.as_str(), rows[2].status.as_str()),
        ("ok", "ok")
    );
    let pid: i32 = std::fs::read_to_string(sb.work().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for("the worker's child to be killed", || gone(pid));
}

#[test]
fn a_stream_item_that_times_out_fails_alone_and_the_worker_is_restarted() {
    let sb = Sandbox::new();
    run_with_items(&sb, 10);
    let w = worker(
        &sb,
        "slow.sh",
        r#"#!/bin/sh
echo started >> starts.log
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  [ "$key" = k00004 ] && sleep 60
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#,
    );
    let out = resume(&sb, &["--stream", "-j", "1", "--timeout", "0.5", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.iter().filter(|r| r.status == "ok").count(), 9);
    assert_eq!(rows[4].error_category.as_deref(), Some("timeout"));
    let starts = std::fs::read_to_string(sb.work().join("starts.log")).unwrap();
    assert_eq!(
        starts.lines().count(),
        2,
        "restarted once after the timeout"
    );
}

#[test]
fn retries_back_off_and_keep_the_first_error() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    // Each item fails twice, then works.
    let w = worker(
        &sb,
        "twice.sh",
        "#!/bin/sh\ncat >/dev/null\nf=count.$RUNCTL_ITEM_KEY\nn=$(cat $f 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > $f\n\
         if [ $n -lt 3 ]; then echo \"fail $n\" >&2; exit 1; fi\necho done\n",
    );
    let start = Instant::now();
    let out = resume(&sb, &["--retries", "2", "--retry-delay", "200ms", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Backoff: at least half of 200 ms, then half of 400 ms (the jitter keeps 50-100%).
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "{:?}",
        start.elapsed()
    );
    for ResultRow {
        status: st,
        attempt_count: attempts,
        first_error: first,
        last_error: last,
        ..
    } in results(&sb)
    {
        assert_eq!((st.as_str(), attempts), ("ok", 3));
        assert_eq!(first.as_deref(), Some("exit code 1: fail 1"));
        assert_eq!(last, None);
    }
    assert!(stderr(&out).contains("6 retries"), "{}", stderr(&out));
}

#[test]
fn retries_run_out_into_an_error_row() {
    let sb = Sandbox::new();
    run_with_items(&sb, 1);
    let w = worker(&sb, "no.sh", "#!/bin/sh\necho \"nope\" >&2\nexit 2\n");
    let out = resume(&sb, &["--retries", "1", "--retry-delay", "10ms", "--", &w]);
    assert_eq!(out.status.code(), Some(1));
    let rows = results(&sb);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].attempt_count),
        ("error", 2)
    );
    assert_eq!(rows[0].last_error.as_deref(), Some("exit code 2: nope"));
}

#[test]
fn the_rate_caps_starts_per_second() {
    let sb = Sandbox::new();
    run_with_items(&sb, 11);
    let w = worker(&sb, "date.sh", "#!/bin/sh\ncat >/dev/null\necho 1\n");
    let out = resume(&sb, &["--rate", "20/s", "-j", "4", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let starts: Vec<String> = sb
        .tables()
        .rows("SELECT started_at FROM results ORDER BY started_at", &[])
        .into_iter()
        .map(|mut r| r[0].take().unwrap())
        .collect();
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    let span = t(&starts[10]).duration_since(t(&starts[0]));
    // 11 starts at 20/s are 10 intervals of 50 ms apart.
    assert!(span >= jiff::SignedDuration::from_millis(450), "{span:?}");
}

#[test]
fn a_stream_worker_that_dies_fails_only_its_item_and_is_restarted() {
    let sb = Sandbox::new();
    run_with_items(&sb, 10);
    let w = worker(
        &sb,
        "dies.sh",
        r#"#!/bin/sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  if [ "$key" = k00003 ]; then echo "out of memory on $key" >&2; exit 9; fi
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#,
    );
    let out = resume(&sb, &["--stream", "-j", "1", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.len(), 10);
    assert_eq!(rows.iter().filter(|r| r.status == "ok").count(), 9);
    assert_eq!(rows[3].error_category.as_deref(), Some("exit"));
    assert_eq!(
        rows[3].last_error.as_deref(),
        Some("the worker exited with code 9: out of memory on k00003")
    );
}

#[test]
fn a_stream_worker_that_cannot_start_stops_the_run_instead_of_spinning() {
    let sb = Sandbox::new();
    run_with_items(&sb, 100);
    let w = worker(
        &sb,
        "broken.sh",
        "#!/bin/sh\necho 'cannot load the model' >&2\nexit 2\n",
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "2", "--", &w]);
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(10));
    let err = stderr(&out);
    assert!(
        err.contains("failed 3 times in a row before answering any item"),
        "{err}"
    );
    assert!(err.contains("cannot load the model"), "{err}");
    assert_eq!(status(&sb), "failed");
    assert!(count(&sb, "SELECT count(*) FROM results") <= 6);
}

#[test]
fn a_missing_worker_program_stops_the_run_with_a_clear_error() {
    let sb = Sandbox::new();
    run_with_items(&sb, 5);
    let out = resume(&sb, &["--", "./no-such-worker"]);
    // As a shell says it: 127, before anything starts; the run is left as it was.
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).contains("cannot run ./no-such-worker: no such file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 0);
    assert_eq!(status(&sb), "created");
    std::fs::write(sb.work().join("not-exec.sh"), "#!/bin/sh\n").unwrap();
    let out = resume(&sb, &["--", "./not-exec.sh"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not an executable file"),
        "{}",
        stderr(&out)
    );
    // No command at all: a usage error with the way to give one.
    let sb = Sandbox::new();
    run_with_items(&sb, 1);
    let out = resume(&sb, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("has no worker command"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ten_megabytes_of_output_are_kept_and_invalid_utf8_is_bad_output() {
    let sb = Sandbox::new();
    run_with_items(&sb, 2);
    let w = worker(
        &sb,
        "big.sh",
        "#!/bin/sh\ncat >/dev/null\nif [ \"$RUNCTL_ITEM_KEY\" = k00000 ]; then head -c 10485760 /dev/zero | tr '\\0' a; else printf 'ok \\377\\376'; fi\n",
    );
    let out = resume(&sb, &["--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows[0].status, "ok");
    assert_eq!(rows[0].output.as_deref().unwrap().len(), 10_485_760 + 2); // a JSON string
    assert_eq!(rows[1].error_category.as_deref(), Some("bad-output"));
    assert!(
        rows[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("not valid UTF-8")
    );
    // A stream worker's unreadable line fails its item and the worker is restarted.
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    let w = worker(
        &sb,
        "garble.sh",
        "#!/bin/sh\nwhile IFS= read -r line; do key=${line#*\\\"key\\\":\\\"}; key=${key%%\\\"*}\n\
         if [ \"$key\" = k00001 ]; then printf 'Loading model\\n'; else printf '{\"key\":\"%s\",\"ok\":1}\\n' \"$key\"; fi; done\n",
    );
    let out = resume(&sb, &["--stream", "-j", "1", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows[1].error_category.as_deref(), Some("bad-output"));
    assert!(
        rows[1]
            .last_error
            .as_deref()
            .unwrap()
            .contains("log to stderr"),
        "{:?}",
        rows[1]
    );
    assert_eq!(
        (rows[0].status.as_str(), rows[2].status.as_str()),
        ("ok", "ok")
    );
}

// --- signals -------------------------------------------------------------------------------------

#[test]
fn the_first_sigint_lets_items_in_flight_finish_and_marks_the_run_interrupted() {
    let sb = Sandbox::new();
    run_with_items(&sb, 6);
    let w = worker(
        &sb,
        "slow.sh",
        "#!/bin/sh\ncat >/dev/null\necho \"$RUNCTL_ITEM_KEY\" >> started.log\nsleep 1\necho ok\n",
    );
    let child = spawn_resume(&sb, &["-j", "2", "--", &w]);
    wait_for("two items to start", || {
        std::fs::read_to_string(sb.work().join("started.log")).is_ok_and(|s| s.lines().count() == 2)
    });
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stopping: no new items"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        2
    );
    assert_eq!(status(&sb), "interrupted");
    let out = resume(&sb, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 6);
}

#[test]
fn a_second_sigint_kills_the_items_in_flight_and_records_nothing_for_them() {
    let sb = Sandbox::new();
    run_with_items(&sb, 4);
    let w = worker(
        &sb,
        "stuck.sh",
        "#!/bin/sh\ncat >/dev/null\nsleep 60 &\necho $! >> pids.log\nwait\n",
    );
    let child = spawn_resume(&sb, &["-j", "2", "--", &w]);
    wait_for("two items to start", || {
        std::fs::read_to_string(sb.work().join("pids.log")).is_ok_and(|s| s.lines().count() == 2)
    });
    let start = Instant::now();
    signal(&child, nix::sys::signal::Signal::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(stderr(&out).contains("stopping now"), "{}", stderr(&out));
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 0);
    assert_eq!(status(&sb), "interrupted");
    for pid in std::fs::read_to_string(sb.work().join("pids.log"))
        .unwrap()
        .lines()
    {
        let pid: i32 = pid.parse().unwrap();
        wait_for("the item's process to be killed", || gone(pid));
    }
}

// --- progress ------------------------------------------------------------------------------------

#[test]
fn without_a_terminal_progress_is_a_plain_line_at_an_interval() {
    let sb = Sandbox::new();
    run_with_items(&sb, 30);
    let w = echo_worker(&sb, "0.03");
    let out = sb
        .cmd()
        .args(["resume", "-j", "1", "--", &w])
        .env("RUNCTL_PROGRESS_SECS", "0.2")
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(lines.len() >= 2, "{err}");
    // One count (this pass's), its percent, the rate, the time so far and the ETA.
    let last = lines[lines.len() - 1];
    assert!(last.contains("/30 ("), "{err}");
    assert!(last.contains("%), 0 errors, "), "{err}");
    assert!(last.contains(" elapsed"), "{err}");
    assert!(lines.iter().all(|l| !l.contains(" of 30")), "{err}");
    assert!(err.contains("completed: 30 ok, 0 errors"), "{err}");
    // Quiet: no progress, no summary.
    let sb = Sandbox::new();
    run_with_items(&sb, 5);
    let w = echo_worker(&sb, "0.05");
    let out = sb
        .cmd()
        .args(["-q", "resume", "-j", "1", "--", &w])
        .env("RUNCTL_PROGRESS_SECS", "0.01")
        .run();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
}

// --- choosing the run ------------------------------------------------------------------------------

#[test]
fn resume_picks_the_newest_unfinished_run_and_resume_env_means_the_same() {
    let sb = Sandbox::new();
    run_with_items(&sb, 2);
    let first: String = sb.tables().one("SELECT name FROM runs", &[]);
    let w = echo_worker(&sb, "0");
    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "other",
            "--source",
            "items.csv",
            "--key",
            "id",
            "--",
            &w,
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The newest run is completed, so a bare resume takes the first one.
    let out = resume(&sb, &["--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("run {first}: 2 remaining items")),
        "{}",
        stderr(&out)
    );
    // RESUME=1 EXPERIMENT_ID=<run> runctl new ... is a resume of that run.
    let out = sb
        .cmd()
        .args(["new", "--model", "ignored"])
        .env("RESUME", "1")
        .env("EXPERIMENT_ID", &first)
        .run();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("run {first} is completed")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&sb, "SELECT count(*) FROM runs"),
        2,
        "RESUME=1 made no run"
    );
    assert_eq!(sb.runs_listed(&[]), 2, "RESUME=1 made no run");
    let out = sb.cmd().args(["new"]).env("RESUME", "1").run();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("EXPERIMENT_ID"), "{}", stderr(&out));
}

#[test]
fn a_config_that_differs_on_resume_is_named_and_the_stored_one_is_used() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("items.csv"), "id\na\nb\n").unwrap();
    std::fs::write(
        sb.work().join("train.yaml"),
        "training:\n  model_name_or_path: org/M\n  lr: 0.1\ndata:\n  dataset_name: d\n",
    )
    .unwrap();
    let out = sb
        .cmd()
        .args([
            "new",
            "--config",
            "train.yaml",
            "--source",
            "items.csv",
            "--key",
            "id",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(
        sb.work().join("train.yaml"),
        "training:\n  model_name_or_path: org/M\n  lr: 0.2\n  warmup: 5\ndata:\n  dataset_name: d\n",
    )
    .unwrap();
    let w = worker(&sb, "w.sh", "#!/bin/sh\necho 1\n");
    let out = resume(&sb, &["--config", "train.yaml", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("differs from the config stored with run org-m-d-full-run1 in: training.lr, training.warmup; the stored config is used"),
        "{err}"
    );
    let out = sb.cmd().args(["env", "latest", "--format", "json"]).run();
    assert!(!stdout(&out).contains("warmup"));
}

// --- chaos ---------------------------------------------------------------------------------------

/// The export of a run without its timing columns, as (key, status, output) lines.
fn export_lines(sb: &Sandbox) -> Vec<(String, String, String)> {
    let out = sb.cmd().args(["export", "latest"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["item_key"].to_string(),
                v["result_status"].to_string(),
                v["result_output"].to_string(),
            )
        })
        .collect()
}

const KEY_WORKER: &str = r#"#!/bin/sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  printf '{"key":"%s","ok":{"k":"%s"}}\n' "$key" "$key"
done
"#;

#[test]
fn chaos_ten_sigkills_then_resume_equals_an_uninterrupted_run() {
    const N: usize = 20_000;
    let reference = Sandbox::new();
    run_with_items(&reference, N);
    let w = worker(&reference, "keys.sh", KEY_WORKER);
    let started = Instant::now();
    let out = resume(
        &reference,
        &["--stream", "-j", "2", "--window", "64", "--", &w],
    );
    // Kills land within the first fifth of an uninterrupted run's time, however fast this
    // machine is, so that most of them hit a run mid-way.
    let whole = started.elapsed().as_millis().max(50) as u64;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected = export_lines(&reference);
    assert_eq!(expected.len(), N);

    let sb = Sandbox::new();
    run_with_items(&sb, N);
    let w = worker(&sb, "keys.sh", KEY_WORKER);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut kills = 0;
    for _ in 0..10 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(10 + (seed >> 33) % (whole / 5));
        let mut child = spawn_resume(&sb, &["--stream", "-j", "2", "--window", "64", "--", &w]);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait();
        if status(&sb) == "completed" {
            break;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed mid-run");
    if status(&sb) != "completed" {
        let out = resume(&sb, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), N as i64);
    assert_eq!(export_lines(&sb), expected);
}

#[test]
fn after_the_grace_period_items_in_flight_are_killed() {
    let sb = Sandbox::new();
    run_with_items(&sb, 2);
    let w = worker(
        &sb,
        "stuck.sh",
        "#!/bin/sh\ncat >/dev/null\necho started >> started.log\nsleep 60\n",
    );
    let child = spawn_resume(&sb, &["-j", "2", "--grace", "400ms", "--", &w]);
    wait_for("both items to start", || {
        std::fs::read_to_string(sb.work().join("started.log")).is_ok_and(|s| s.lines().count() == 2)
    });
    let start = Instant::now();
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(
        stderr(&out).contains("the grace period of 0.4s is over"),
        "{}",
        stderr(&out)
    );
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 0);
    assert_eq!(status(&sb), "interrupted");
}

/// A preempted Slurm job: the scheduler signals every process of it, the workers too (here a
/// moment before runctl). Items whose workers died of that signal are left without a result
/// (not failed), and the next pass runs them; in both modes.
#[test]
fn a_preempted_job_whose_workers_get_the_signal_too_leaves_their_items_to_the_next_pass() {
    for mode in ["--per-item", "--stream"] {
        let sb = Sandbox::new();
        run_with_items(&sb, 2);
        let body = match mode {
            "--per-item" => "exec sleep 60",
            _ => "exec python3 -c 'import sys, time\nfor line in sys.stdin: time.sleep(60)'",
        };
        let w = worker(
            &sb,
            "slow.sh",
            &format!("#!/bin/sh\necho $$ >> pids.log\n{body}\n"),
        );
        let args = ["-j", "2", mode, "--window", "1", "--grace", "20s", "--", &w];
        let args = if mode == "--per-item" {
            [&args[..3], &args[5..]].concat()
        } else {
            args.to_vec()
        };
        let child = spawn_resume(&sb, &args);
        let pids = || std::fs::read_to_string(sb.work().join("pids.log")).unwrap_or_default();
        wait_for("both workers to start", || pids().lines().count() == 2);
        std::thread::sleep(Duration::from_millis(200));
        for pid in pids().lines() {
            let pid = nix::unistd::Pid::from_raw(pid.trim().parse().unwrap());
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        }
        signal(&child, nix::sys::signal::Signal::SIGTERM);
        let out = child.wait();
        assert_eq!(out.status.code(), Some(130), "{mode}: {}", stderr(&out));
        assert_eq!(
            count(&sb, "SELECT count(*) FROM results"),
            0,
            "{mode}: no item failed: {}",
            stderr(&out)
        );
        assert_eq!(status(&sb), "interrupted", "{mode}");
        let fast = worker(&sb, "fast.sh", "#!/bin/sh\ncat >/dev/null\necho '{}'\n");
        let out = resume(&sb, &["--per-item", "--", &fast]);
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", stderr(&out));
        assert_eq!(
            count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
            2
        );
    }
}

/// A closed terminal or ssh session (SIGHUP) stops a pass as Ctrl-C does: the items in
/// flight finish and are recorded, the run is `interrupted`, exit 130.
#[test]
fn sighup_stops_a_pass_as_ctrl_c_does() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    let w = worker(
        &sb,
        "slow.sh",
        "#!/bin/sh\ncat >/dev/null\necho started >> started.log\nsleep 1\necho '{}'\n",
    );
    let child = spawn_resume(&sb, &["-j", "2", "--", &w]);
    wait_for("two items to start", || {
        std::fs::read_to_string(sb.work().join("started.log")).is_ok_and(|s| s.lines().count() == 2)
    });
    signal(&child, nix::sys::signal::Signal::SIGHUP);
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        2
    );
    assert_eq!(status(&sb), "interrupted");
}

#[test]
fn a_worker_that_is_not_there_makes_no_run_and_exits_127() {
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("items.csv"), "id\na\nb\n").unwrap();
    // Outside any project: nothing at all is made.
    for args in [
        &["--source", "items.csv", "--key", "id", "--", "nosuchworker"][..],
        &["--source", "missing.csv", "--key", "id", "--", "sh"],
        &[
            "--source",
            "items.csv",
            "--key",
            "id",
            "--rate",
            "1e-300",
            "--",
            "sh",
        ],
    ] {
        let out = sb.cmd().args(["new", "--model", "m"]).args(args).run();
        assert_no_panic(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            !sb.work().join(".runctl").exists(),
            "{args:?} made .runctl/"
        );
        assert!(
            !sb.work().join("outputs").exists(),
            "{args:?} made outputs/"
        );
    }
    sb.init();
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
        .args(["--", "nosuchworker"])
        .run();
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot run nosuchworker: no such program on PATH"),
        "{err}"
    );
    assert!(err.contains("no run was started"), "{err}");
    assert_eq!(count(&sb, "SELECT count(*) FROM runs"), 0);
    assert_eq!(sb.runs_listed(&[]), 0);
    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "m",
            "--source",
            "missing.csv",
            "--key",
            "id",
        ])
        .run();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn extreme_rates_and_durations_are_refused_at_parse_time_and_when_stored() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    let w = worker(&sb, "w.sh", "#!/bin/sh\ncat >/dev/null\necho ok\n");
    for flags in [
        &["--rate", "1e-300"][..],
        &["--rate", "1e-20/h"],
        &["--rate", "5e-324"],
        &["--rate", "1e300"],
        &["--timeout", "99999999999h"],
        &["--timeout", "0"],
        &["--timeout", "1e-300"],
        &["--rate", "inf"],
        &["--retry-delay", "1e300"],
        &["--grace", "1e19"],
    ] {
        let out = resume(&sb, &[flags, &["--", &w]].concat());
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
        assert_eq!(status(&sb), "created", "{flags:?}");
    }
    // The largest -j and --window there are, on 3 items, in 2 GB of address space: no up-front
    // allocation of slots x window, no thousands of idle slots.
    let stream = worker(&sb, "keys.sh", KEY_WORKER);
    let out = sb
        .sh(&format!(
            "ulimit -v 2000000; exec {RUNCTL} resume --stream -j 4096 --window 100000 -- {stream}"
        ))
        .run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status(&sb), "completed");
    sb.tables().exec(
        "DELETE FROM results; UPDATE runs SET status = 'created', n_completed = 0",
        &[],
    );
    // A value out of range stored with the run (a DB from before the checks): refused with a
    // hint, the run is not started, and giving the flag again replaces it.
    sb.tables().exec(
        "UPDATE runs SET work = ?1",
        &[&format!("{{\"command\":[\"{w}\"],\"rate\":1e-300}}")],
    );
    let out = resume(&sb, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the stored rate"), "{err}");
    assert!(err.contains("hint: give the flag again"), "{err}");
    assert_eq!(status(&sb), "created");
    // Stored settings that do not parse at all: said so, not "no worker command".
    sb.tables().exec(
        "UPDATE runs SET work = ?1",
        &[&format!("{{\"command\":[\"{w}\"],\"rate\":1e400}}")],
    );
    let out = resume(&sb, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be read"), "{}", stderr(&out));
    let out = resume(&sb, &["--rate", "1000/s", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status(&sb), "completed");
}

#[test]
fn show_tells_the_worker_command_given_at_resume() {
    let sb = Sandbox::new();
    run_with_items(&sb, 2);
    let w = worker(&sb, "w.sh", "#!/bin/sh\ncat >/dev/null\necho done\n");
    let out = resume(&sb, &["latest", "-j", "1", "--", &w, "--fast"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let show = sb.run(&["show", "latest", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(json["command"], serde_json::json!(["./w.sh", "--fast"]));
    let text = sb.run(&["show", "latest"]);
    assert!(
        text.stdout.contains("command      ./w.sh --fast"),
        "{}",
        text.stdout
    );
}
