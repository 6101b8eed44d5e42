//! The stream engine against workers that misbehave as real ones do: one that exits while a
//! child it left keeps its pipes, one that leaves its process group and hangs, one that closes
//! its stdin and lives on, one that lingers after its input ends, one that prints a banner,
//! retries that cannot start yet (no spinning), a closed stderr, and a shortage of file
//! descriptors. Each ends the pass in bounded time with every item accounted for.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::resume::{
    count, gone, results, resume, run_with_items, signal, spawn_resume, status, wait_for, worker,
};

/// A stream worker in sh that answers every item ok.
const ANSWERS: &str = r#"while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#;

/// The CPU time (user + system, seconds) that `sh -c SCRIPT` and its children used, as the
/// shell's `times` reports it for its children; the script's own output is kept too.
pub(crate) fn cpu_of(sb: &Sandbox, script: &str) -> (f64, Run) {
    // `times` itself, not in a `$(...)` subshell (which has no children of its own).
    let out = sb
        .sh(&format!("{script}; times"))
        .timeout(Duration::from_secs(60))
        .run();
    let line = out.stdout.lines().last().unwrap_or_default().to_string();
    // `times` prints "0m1.234s 0m0.100s" for the children's user and system time.
    let secs = line
        .split_whitespace()
        .map(|t| {
            let (m, s) = t
                .trim_end_matches('s')
                .split_once('m')
                .unwrap_or(("0", "0"));
            m.parse::<f64>().unwrap_or(0.0) * 60.0 + s.parse::<f64>().unwrap_or(0.0)
        })
        .sum();
    (secs, out)
}

#[test]
fn a_worker_that_exits_while_its_child_holds_the_pipes_is_seen_to_exit() {
    let sb = Sandbox::new();
    run_with_items(&sb, 6);
    // The first worker leaves a child holding its stdout, answers two items and exits 1.
    let w = worker(
        &sb,
        "leaves_child.sh",
        &format!(
            r#"#!/bin/sh
if [ ! -e started ]; then
  touch started
  sleep 300 &
  echo $! > child.pid
  n=0
  while IFS= read -r line; do
    key=${{line#*\"key\":\"}}; key=${{key%%\"*}}
    n=$((n+1))
    if [ $n -gt 2 ]; then echo "giving up on $key" >&2; exit 1; fi
    printf '{{"key":"%s","ok":1}}\n' "$key"
  done
fi
{ANSWERS}"#
        ),
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "1", "--", &w]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows.iter().filter(|r| r.status == "ok").count(), 5);
    assert_eq!(
        rows[2].last_error.as_deref(),
        Some("the worker exited with code 1: giving up on k00002")
    );
    // The child it left was killed with its group.
    let pid: i32 = std::fs::read_to_string(sb.work().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for("the left child to be killed", || gone(pid));
}

#[test]
fn a_worker_that_leaves_its_process_group_is_still_killed_at_its_timeout() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    // It joins its parent's process group (so killing its own group misses it) and hangs on
    // the first item.
    let w = worker(
        &sb,
        "leaves_group.py",
        r#"#!/usr/bin/env python3
import json, os, sys, time
os.setpgid(0, os.getpgid(os.getppid()))
for line in sys.stdin:
    key = json.loads(line)["key"]
    if key == "k00000":
        time.sleep(60)
    print(json.dumps({"key": key, "ok": 1}), flush=True)
"#,
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "1", "--timeout", "1s", "--", &w]);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = results(&sb);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].error_category.as_deref(), Some("timeout"));
    assert_eq!(rows.iter().filter(|r| r.status == "ok").count(), 2);
}

#[test]
fn a_worker_that_closes_its_stdin_and_lives_on_is_replaced() {
    let sb = Sandbox::new();
    run_with_items(&sb, 10);
    // Answers three items, closes its input, and sleeps.
    let w = worker(
        &sb,
        "closes_stdin.py",
        r#"#!/usr/bin/env python3
import json, os, sys, time
for n in range(3):
    line = sys.stdin.readline()
    if not line:
        break
    print(json.dumps({"key": json.loads(line)["key"], "ok": 1}), flush=True)
os.close(0)
time.sleep(60)
"#,
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "1", "--", &w]);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    // Every item ends with a result: ok, or (an item written into the pipe it closed) an
    // error that says what the worker did; a resume finishes those.
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results"),
        10,
        "{}",
        stderr(&out)
    );
    for r in results(&sb).iter().filter(|r| r.status != "ok") {
        assert_eq!(
            r.last_error.as_deref(),
            Some("the worker closed its input (stdin) while it still had items to read"),
        );
    }
}

#[test]
fn workers_that_linger_after_their_input_ends_get_five_seconds_together() {
    let sb = Sandbox::new();
    run_with_items(&sb, 8);
    let w = worker(
        &sb,
        "lingers.sh",
        &format!("#!/bin/sh\n{ANSWERS}sleep 60\n"),
    );
    let start = Instant::now();
    let child = spawn_resume(&sb, &["--stream", "-j", "4", "--", &w]);
    // Every result is committed before the workers are waited for.
    wait_for("all eight results", || {
        count(&sb, "SELECT count(*) FROM results") == 8
    });
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    // An interrupt now, while the workers are being closed, interrupts nothing.
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = child.wait();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "{took:?}: 4 x 5 s one after another?"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(status(&sb), "completed");
}

#[test]
fn a_worker_that_prints_a_banner_stops_the_run_after_three_starts_not_its_whole_window() {
    let sb = Sandbox::new();
    run_with_items(&sb, 300);
    let w = worker(
        &sb,
        "banner.sh",
        &format!("#!/bin/sh\necho 'Loading model... done'\n{ANSWERS}"),
    );
    let out = resume(&sb, &["--stream", "-j", "2", "--window", "50", "--", &w]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed 3 times in a row before answering any item"),
        "{err}"
    );
    assert!(err.contains("Loading model... done"), "{err}");
    assert_eq!(status(&sb), "failed");
    // At most one item per failed start (3 per slot), not 50.
    let errors = count(&sb, "SELECT count(*) FROM results");
    assert!(errors <= 6, "{errors} items failed");
}

#[test]
fn a_retry_that_cannot_start_yet_is_waited_for_not_polled() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    // k00000 fails its first attempt; k00001 takes 3 s, holding the only slot while the
    // retry of k00000 is due.
    let w = worker(
        &sb,
        "slow.sh",
        r#"#!/bin/sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  case "$line" in
    *'"attempt":2'*) printf '{"key":"%s","ok":2}\n' "$key" ;;
    *k00000*) printf '{"key":"%s","error":"flaky"}\n' "$key" ;;
    *k00001*) sleep 3; printf '{"key":"%s","ok":1}\n' "$key" ;;
    *) printf '{"key":"%s","ok":1}\n' "$key" ;;
  esac
done
"#,
    );
    let (cpu, out) = cpu_of(
        &sb,
        &format!(
            "{RUNCTL} resume --stream -j 1 --retries 1 --retry-delay 100ms -- {w}",
            RUNCTL = RUNCTL
        ),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        3
    );
    // Spinning for the 3 s would take about 3 s of CPU.
    assert!(cpu < 1.5, "{cpu} s of CPU for a 3 s wait");
}

#[test]
fn a_closed_or_full_stderr_does_not_stop_the_pass() {
    let sb = Sandbox::new();
    run_with_items(&sb, 50);
    let w = worker(&sb, "answers.sh", &format!("#!/bin/sh\n{ANSWERS}"));
    let out = sb
        .sh(&format!(
            "RUNCTL_PROGRESS_SECS=0 {RUNCTL} resume --stream -j 2 -- {w} 2>/dev/full; echo \"exit $?\""
        ))
        .run();
    let text = out.stdout.clone();
    assert!(text.contains("exit 0"), "{text}");
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        50
    );
    assert_eq!(status(&sb), "completed");
}

#[test]
fn workers_that_cannot_start_for_want_of_file_descriptors_fail_no_item() {
    let sb = Sandbox::new();
    run_with_items(&sb, 300);
    let w = worker(&sb, "answers.sh", &format!("#!/bin/sh\n{ANSWERS}"));
    // Too few file descriptors for any worker's pipes: each slot tries three times and gives
    // up; nothing is recorded, so nothing is lost.
    let out = sb
        .sh(&format!(
            "ulimit -n 32; {RUNCTL} resume --stream -j 30 --window 2 -- {w}"
        ))
        .timeout(Duration::from_secs(60))
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("could not start 3 times in a row"), "{err}");
    assert!(err.contains("no worker could be started"), "{err}");
    assert_eq!(count(&sb, "SELECT count(*) FROM results"), 0);
    let out = resume(&sb, &["--stream", "-j", "30", "--window", "2", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        300
    );
}

#[test]
fn a_worker_that_dies_before_reading_an_item_larger_than_a_pipe_counts_as_a_death() {
    let sb = Sandbox::new();
    sb.init();
    // Ten items of 100 KB: more than a pipe holds, so none is ever written whole.
    let mut csv = String::from("id,text\n");
    for i in 0..10 {
        csv.push_str(&format!("k{i:05},{}\n", "x".repeat(100_000)));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    sb.new_run_over("items.csv");
    let w = worker(
        &sb,
        "oom.sh",
        "#!/bin/sh\nsleep 0.2\necho 'CUDA out of memory' >&2\nexit 3\n",
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "1", "--", &w]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CUDA out of memory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&sb), "failed");
    assert!(count(&sb, "SELECT count(*) FROM results") <= 3);
}

#[test]
fn an_item_that_kills_its_worker_on_every_retry_fails_alone_and_the_run_goes_on() {
    let sb = Sandbox::new();
    run_with_items(&sb, 6);
    let w = worker(
        &sb,
        "poison.sh",
        r#"#!/bin/sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  if [ "$key" = k00002 ]; then kill -SEGV $$; fi
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#,
    );
    let out = resume(
        &sb,
        &[
            "--stream",
            "-j",
            "1",
            "--retries",
            "3",
            "--retry-delay",
            "0s",
            "--",
            &w,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(status(&sb), "completed_with_errors");
    let rows = results(&sb);
    assert_eq!(rows.len(), 6);
    assert_eq!(rows.iter().filter(|r| r.status == "ok").count(), 5);
    assert_eq!(rows[2].attempt_count, 4);
    assert_eq!(rows[2].error_category.as_deref(), Some("signal"));
}

#[test]
fn a_worker_that_closes_stdout_and_lingers_holds_up_no_other_slot() {
    let sb = Sandbox::new();
    run_with_items(&sb, 30);
    // The first worker answers two items, closes its stdout and sleeps; the others answer
    // each item in 50 ms.
    let w = worker(
        &sb,
        "stalls.sh",
        r#"#!/bin/sh
first=
if mkdir first.lock 2>/dev/null; then first=1; fi
n=0
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  n=$((n+1))
  if [ -n "$first" ] && [ $n -gt 2 ]; then exec 1>&-; sleep 30; fi
  sleep 0.05
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#,
    );
    let start = Instant::now();
    let out = resume(&sb, &["--stream", "-j", "2", "--timeout", "1s", "--", &w]);
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    let rows = results(&sb);
    assert_eq!(rows.len(), 30, "{}", stderr(&out));
    // Only the item the stalled worker held fails; no healthy worker's item times out.
    let failed: Vec<_> = rows.iter().filter(|r| r.status != "ok").collect();
    assert!(failed.len() <= 1, "{failed:?}");
}

#[test]
fn a_last_answer_without_a_newline_counts_when_a_child_holds_the_pipe() {
    let sb = Sandbox::new();
    run_with_items(&sb, 3);
    let w = worker(
        &sb,
        "no_newline.sh",
        r#"#!/bin/sh
sleep 300 &
n=0
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  n=$((n+1))
  if [ $n -eq 3 ]; then printf '{"key":"%s","ok":1}' "$key"; exit 0; fi
  printf '{"key":"%s","ok":1}\n' "$key"
done
"#,
    );
    let out = resume(&sb, &["--stream", "-j", "1", "--window", "3", "--", &w]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
        3
    );
}
