//! Many processes, one run, on PostgreSQL: members on distinct hosts (`RUNCTL_HOST`) share a
//! run's items through claims, a member stopped past its lease loses its items to the others
//! and then exits without recording over their results, and members of another selection are
//! refused.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::{Sandbox, Spawned, stderr};

/// A run over `n` items, on PostgreSQL.
fn run_over(n: usize) -> Option<Sandbox> {
    let sb = Sandbox::on_postgres()?;
    sb.init();
    let mut csv = String::from("id,text\n");
    for i in 0..n {
        csv.push_str(&format!("k{i:05},text {i}\n"));
    }
    std::fs::write(sb.work().join("in.csv"), csv).unwrap();
    sb.new_run_over("in.csv");
    Some(sb)
}

/// A stream worker that answers each item after `sleep` seconds.
fn stream_worker(sb: &Sandbox, sleep: &str) -> String {
    let path = sb.work().join("w.py");
    std::fs::write(
        &path,
        format!(
            "import json, sys, time\n\
             for line in sys.stdin:\n\
             \x20   item = json.loads(line)\n\
             \x20   time.sleep({sleep})\n\
             \x20   print(json.dumps({{'key': item['key'], 'ok': {{'text': item['data']['text']}}}}), flush=True)\n"
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// `runctl resume latest ARGS --stream -- python3 WORKER` as host `host`, in the background.
fn member(sb: &Sandbox, host: &str, args: &[&str], worker: &str) -> Spawned {
    sb.cmd()
        .args(["resume", "latest", "--stream"])
        .args(args)
        .args(["--", "python3", worker])
        .env("RUNCTL_HOST", host)
        .timeout(Duration::from_secs(120))
        .spawn()
}

/// Every exported item: its key, status and attempts.
fn exported(sb: &Sandbox) -> Vec<(String, String, i64)> {
    let out = sb.run(&["export", "latest"]);
    out.success();
    out.json_lines()
        .iter()
        .map(|row| {
            (
                row["item_key"].as_str().unwrap().to_string(),
                row["result_status"].as_str().unwrap_or("none").to_string(),
                row["result_attempts"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

fn members(sb: &Sandbox) -> Vec<serde_json::Value> {
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    shown["members"].as_array().unwrap().clone()
}

/// Every item has one ok result from one attempt: none lost, none run twice into the ledger.
fn assert_each_item_recorded_once(sb: &Sandbox, n: usize) {
    let rows = exported(sb);
    assert_eq!(rows.len(), n);
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(keys.len(), n);
    for (key, status, attempts) in &rows {
        assert_eq!((status.as_str(), *attempts), ("ok", 1), "{key}");
    }
}

#[test]
fn four_members_on_four_hosts_work_one_run_and_record_each_item_once() {
    let n = 1200;
    let Some(sb) = run_over(n) else {
        return;
    };
    let w = stream_worker(&sb, "0.005");
    let spawned: Vec<Spawned> = (0..4)
        .map(|i| member(&sb, &format!("node{i}"), &["-j", "4"], &w))
        .collect();
    for m in spawned {
        let out = m.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{n} of {n} ok, 0 errors, 0 remaining")),
            "{err}"
        );
    }
    assert_each_item_recorded_once(&sb, n);
    let members = members(&sb);
    let hosts: BTreeSet<&str> = members
        .iter()
        .map(|m| m["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        ["node0", "node1", "node2", "node3"].into_iter().collect()
    );
    let recorded: i64 = members
        .iter()
        .map(|m| m["recorded"].as_i64().unwrap())
        .sum();
    assert_eq!(recorded, n as i64);
    for m in &members {
        assert_eq!(m["stop_reason"], "done", "{m}");
    }
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["items"]["completed"], n as i64);
    // The text view lists them too.
    let text = sb.run(&["show", "latest"]).success().stdout.clone();
    assert_eq!(text.matches("\nmember ").count(), 4, "{text}");
}

#[test]
fn a_member_stopped_past_its_lease_loses_its_items_and_then_exits_recording_nothing_over_them() {
    let n = 400;
    let Some(sb) = run_over(n) else {
        return;
    };
    let w = stream_worker(&sb, "0.02");
    let victim = member(&sb, "victim", &["-j", "2", "--lease", "2s"], &w);
    let start = Instant::now();
    while members(&sb)
        .first()
        .is_none_or(|m| m["recorded"].as_i64() == Some(0))
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the victim never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(victim.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    // The others take over what it held once its lease ran out, and finish the run.
    let others: Vec<Spawned> = ["a", "b"]
        .iter()
        .map(|h| member(&sb, h, &["-j", "4", "--lease", "2s"], &w))
        .collect();
    for m in others {
        let out = m.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let out = victim.wait();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("this process lost its lease on the run's items (no heartbeat within 2s)"),
        "{err}"
    );
    assert!(err.contains("joins the run again"), "{err}");
    assert_each_item_recorded_once(&sb, n);
    let members = members(&sb);
    assert_eq!(members[0]["host"], "victim");
    assert_eq!(members[0]["stop_reason"], "lost-lease");
    let recorded: i64 = members
        .iter()
        .map(|m| m["recorded"].as_i64().unwrap())
        .sum();
    assert_eq!(recorded, n as i64, "{members:?}");
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(
        shown["status"], "completed",
        "the last member to end sets it"
    );
}

/// Alone and stopped past its lease, a member holds its claims still (no one took them), but
/// writes nothing on SIGCONT: not over what `record` wrote meanwhile (which frees those
/// items' claims), nor anything else.
#[test]
fn a_lone_member_stopped_past_its_lease_writes_nothing_on_sigcont_over_what_record_wrote() {
    let n = 60;
    let Some(sb) = run_over(n) else {
        return;
    };
    let w = stream_worker(&sb, "1");
    let victim = member(&sb, "victim", &["-j", "3", "--lease", "2s"], &w);
    let start = Instant::now();
    while members(&sb).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "never joined");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(victim.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let lines: String = (0..20)
        .map(|i| format!("{{\"key\": \"k{i:05}\", \"ok\": {{\"from\": \"record\"}}}}\n"))
        .collect();
    let out = sb.cmd().args(["record", "latest"]).write_stdin(lines).run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "presumed dead: {}",
        stderr(&out)
    );
    let before: i64 = sb.tables().one("SELECT count(*) FROM results", &[]);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    let out = victim.wait();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let after: i64 = sb.tables().one("SELECT count(*) FROM results", &[]);
    assert_eq!(after, before, "nothing written after its lease ran out");
    let by_record: i64 = sb.tables().one(
        "SELECT count(*) FROM results WHERE output LIKE '%record%' AND attempt_count = 1",
        &[],
    );
    assert_eq!(by_record, 20, "record's results stand");
    let out = sb.run(&["resume", "latest"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_each_item_recorded_once(&sb, n);
    let by_record: i64 = sb.tables().one(
        "SELECT count(*) FROM results WHERE output LIKE '%record%'",
        &[],
    );
    assert_eq!(by_record, 20, "not run again over record's results");
}

#[test]
fn a_member_of_another_selection_is_refused_while_the_pass_is_worked() {
    let Some(sb) = run_over(200) else {
        return;
    };
    let w = stream_worker(&sb, "0.05");
    let first = member(&sb, "one", &["-j", "1"], &w);
    let start = Instant::now();
    while members(&sb).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "never joined");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = sb
        .cmd()
        .args(["resume", "latest", "--retry-errors"])
        .env("RUNCTL_HOST", "two")
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(
            "run m-dataset-full-run1 is being worked over its remaining items by other processes (on one)"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: join it with the same selection"),
        "{err}"
    );
    // A member of the same selection joins; the first is untouched by the refusal.
    let second = member(&sb, "two", &["-j", "2"], &w);
    for m in [first, second] {
        let out = m.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_each_item_recorded_once(&sb, 200);
    assert_eq!(members(&sb).len(), 2, "the refused one never joined");
}

#[test]
fn members_killed_and_cut_off_from_the_server_lose_nothing_and_record_each_item_once() {
    let n = 2000;
    let Some(sb) = run_over(n) else {
        return;
    };
    let server = crate::pg::server().unwrap();
    let db = sb
        .db_url
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let w = stream_worker(&sb, "0.004");
    let args = ["-j", "3", "--lease", "3s"];
    let mut members: Vec<Spawned> = (0..4)
        .map(|i| member(&sb, &format!("node{i}"), &args, &w))
        .collect();
    let done = |sb: &Sandbox| -> i64 { sb.tables().one("SELECT count(*) FROM results", &[]) };
    let mut restarts = 0;
    for round in 0..6usize {
        let start = Instant::now();
        let goal = ((round + 1) * n / 8) as i64;
        while done(&sb) < goal && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if round % 2 == 0 {
            // The server drops every connection of this database (the members reconnect).
            server.psql(
                "postgres",
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
                ),
            );
        } else {
            // A member is killed outright and started again, as a requeued job would be.
            let victim = members.remove(round % members.len());
            let pid = nix::unistd::Pid::from_raw(victim.id() as i32);
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
            let _ = victim.wait();
            restarts += 1;
            members.push(member(&sb, &format!("restart{restarts}"), &args, &w));
        }
    }
    for m in members {
        let out = m.wait();
        // 3: it lost its lease (a batch whose commit answer was lost with its connection).
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{:?}: {}",
            out.status,
            stderr(&out)
        );
    }
    // A member that lost its lease leaves its last items to the others or, when it was the
    // last, to the next pass (rare): one more pass ends it.
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    if shown["status"] != "completed" {
        let out = sb.run(&["resume", "latest"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let rows = exported(&sb);
    assert_eq!(rows.len(), n);
    assert!(
        rows.iter().all(|r| r.1 == "ok"),
        "every item has its result"
    );
    let keys: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(keys.len(), n);
    let results: i64 = sb.tables().one("SELECT count(*) FROM results", &[]);
    assert_eq!(results, n as i64, "one result per item");
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(
        shown["items"]["completed"], n as i64,
        "the counters are exact"
    );
    assert_eq!(shown["status"], "completed");
}

#[test]
fn a_killed_member_is_presumed_dead_past_its_lease_and_holds_nothing_back() {
    let Some(sb) = run_over(60) else {
        return;
    };
    let w = stream_worker(&sb, "0.05");
    let doomed = member(&sb, "doomed", &["-j", "1", "--lease", "1s"], &w);
    let start = Instant::now();
    while members(&sb)
        .first()
        .is_none_or(|m| m["recorded"].as_i64() == Some(0))
    {
        assert!(start.elapsed() < Duration::from_secs(30), "never recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    // While it works, results from outside are refused (its lock holds on its host only).
    let out = sb
        .cmd()
        .args(["record", "latest"])
        .write_stdin("{\"key\":\"k00059\",\"ok\":{\"by\":\"hand\"}}\n")
        .run();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a member on doomed"),
        "{}",
        stderr(&out)
    );
    let pid = nix::unistd::Pid::from_raw(doomed.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = doomed.wait();
    std::thread::sleep(Duration::from_millis(1500));
    let text = sb.run(&["show", "latest"]).success().stdout.clone();
    assert!(text.contains("presumed dead: no heartbeat for"), "{text}");
    assert_eq!(members(&sb)[0]["live"], false);
    // Another member finishes; the dead one holds back neither it nor archive.
    let out = member(&sb, "rescuer", &["-j", "2"], &w).wait();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_each_item_recorded_once(&sb, 60);
    sb.run(&["archive", "latest"]).success();
}

#[test]
fn a_member_with_a_short_lease_judges_the_others_by_their_own() {
    let Some(sb) = run_over(300) else {
        return;
    };
    let w = stream_worker(&sb, "0.02");
    // A beats every 5 s (a quarter of its 60 s lease, at most 5 s); B's lease is 1 s.
    let a = member(&sb, "a", &["-j", "2", "--lease", "60s"], &w);
    std::thread::sleep(Duration::from_millis(1500));
    let b = member(&sb, "b", &["-j", "2", "--lease", "1s"], &w);
    for m in [a, b] {
        let out = m.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert_each_item_recorded_once(&sb, 300);
    for m in members(&sb) {
        assert_eq!(m["stop_reason"], "done", "{m}");
    }
}
