//! The per-item dispatcher where a retry meets a busy slot: a retry that is due while the only
//! slot holds a long item is waited for, not polled (with a queue of short items ahead of it or
//! not), and a retry already handed to a slot when a stop comes is recorded with its error like
//! the retries still waiting.

use nix::sys::signal::Signal;

use crate::common::*;
use crate::resume::{count, results, run_with_items, signal, spawn_resume, status, worker};
use crate::stream_faults::cpu_of;

/// A per-item worker: the keys matching the shell pattern `flaky` fail their first attempt,
/// `slow_key` takes `secs` seconds, every other item (and every retry) is done at once.
fn flaky_then_slow(sb: &Sandbox, flaky: &str, slow_key: &str, secs: u32) -> String {
    worker(
        sb,
        "flaky.sh",
        &format!(
            r#"#!/bin/sh
read -r line
echo "$RUNCTL_ITEM_KEY" >> runs.log
case "$RUNCTL_ITEM_KEY" in
  {flaky}) case "$line" in *'"attempt":1}}'*) echo "flaky $RUNCTL_ITEM_KEY" >&2; exit 3;; esac ;;
  {slow_key}) sleep {secs} ;;
esac
echo '{{}}'
"#
        ),
    )
}

#[test]
fn a_due_retry_behind_a_long_item_is_waited_for_not_polled() {
    // -j 1: the five first attempts fail at once, then k00005 holds the only slot for 3 s
    // while their retries are due and, with a short delay, short items fill the queue.
    for delay in ["1ms", "1s"] {
        let sb = Sandbox::new();
        run_with_items(&sb, 200);
        let w = flaky_then_slow(&sb, "k0000[0-4]", "k00005", 3);
        let (cpu, out) = cpu_of(
            &sb,
            &format!("{RUNCTL} resume -j 1 --retries 1 --retry-delay {delay} -- {w}"),
        );
        assert_eq!(out.status.code(), Some(0), "{delay}: {}", stderr(&out));
        assert_eq!(
            count(&sb, "SELECT count(*) FROM results WHERE status = 'ok'"),
            200
        );
        assert_eq!(
            count(&sb, "SELECT count(*) FROM results WHERE attempt_count = 2"),
            5
        );
        // 205 starts of sh take well under a second of CPU; spinning through the 3 s would
        // take about 3 s more.
        assert!(
            cpu < 1.5,
            "--retry-delay {delay}: {cpu} s of CPU for a 3 s wait"
        );
    }
}

#[test]
fn a_retry_handed_to_a_slot_before_a_stop_is_recorded_with_its_error() {
    // -j 1: k00000 fails its first attempt; k00001 then holds the only slot for 4 s, and the
    // retry of k00000, due 200 ms later, goes to the queue ahead of the slot. The first SIGINT
    // comes while it waits there.
    let sb = Sandbox::new();
    run_with_items(&sb, 2);
    let w = flaky_then_slow(&sb, "k00000", "k00001", 4);
    let args = [
        "-j",
        "1",
        "--retries",
        "3",
        "--retry-delay",
        "200ms",
        "--",
        &w,
    ];
    let child = spawn_resume(&sb, &args);
    let log = sb.work().join("runs.log");
    wait_for_line(&log, "k00001");
    std::thread::sleep(std::time::Duration::from_millis(700));
    signal(&child, Signal::SIGINT);
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(status(&sb), "interrupted");
    let rows = results(&sb);
    // k00000 failed once and never ran again: its row is an error with that attempt's
    // message, as for a retry still waiting at the stop; k00001 finished.
    let row = rows.iter().find(|r| r.key == "k00000");
    let row = row.unwrap_or_else(|| panic!("k00000 has no result: {rows:?}"));
    assert_eq!(row.status, "error", "{row:?}");
    assert_eq!(row.attempt_count, 1, "{row:?}");
    let error = row.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("exit code 3"), "{row:?}");
    assert!(
        rows.iter().any(|r| r.key == "k00001" && r.status == "ok"),
        "{rows:?}"
    );
    let runs = std::fs::read_to_string(&log).unwrap();
    assert_eq!(runs.lines().filter(|l| *l == "k00000").count(), 1, "{runs}");
}

/// Wait until `path` has a line `line`.
fn wait_for_line(path: &std::path::Path, line: &str) {
    crate::resume::wait_for(&format!("{line} to start"), || {
        std::fs::read_to_string(path).is_ok_and(|s| s.lines().any(|l| l == line))
    });
}
