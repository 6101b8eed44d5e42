//! Logs of every run over the binary: `new -- CMD` keeps its output in files while passing it
//! on (exit codes and signals as before), and `runctl logs` shows them, `--follow` as they come.

use std::io::BufRead;
use std::time::{Duration, Instant};

use crate::common::*;

fn logs_dir(sb: &Sandbox) -> std::path::PathBuf {
    let name = std::fs::read_to_string(sb.work().join("logs/latest.txt")).unwrap();
    sb.work().join("logs").join(name.trim())
}

#[test]
fn a_commands_output_reaches_the_terminal_and_the_log_files_and_its_exit_code_passes_through() {
    let sb = Sandbox::new();
    sb.init();
    let script = "echo out one; echo err one >&2; printf 'no newline'; exit 3";
    let out = sb.run(&["new", "--model", "m", "--", "sh", "-c", script]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    // stdout carries the command's own output (the run's name goes to stderr).
    assert_eq!(out.stdout, "out one\nno newline");
    assert!(out.stderr.contains("err one\n"), "{}", out.stderr);
    let dir = logs_dir(&sb);
    assert_eq!(
        std::fs::read_to_string(dir.join("stdout.log")).unwrap(),
        "out one\nno newline"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("stderr.log")).unwrap(),
        "err one\n"
    );
    let shown = sb.run(&["logs", "latest"]);
    assert_eq!(shown.stdout, "out one\nno newline");
    let shown = sb.run(&["logs", "latest", "--stderr"]);
    assert_eq!(shown.stdout, "err one\n");
    assert_eq!(sb.run(&["show", "latest", "--json"]).json()["exit_code"], 3);
}

#[test]
fn log_timestamps_stamp_each_line_and_no_log_keeps_nothing() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--log-timestamps",
        "--",
        "sh",
        "-c",
        "echo a; echo b",
    ]);
    out.success();
    let text = std::fs::read_to_string(logs_dir(&sb).join("stdout.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("20") && lines[0].ends_with("Z a"),
        "{text}"
    );
    assert!(lines[1].ends_with("Z b"), "{text}");
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--no-log",
        "--",
        "sh",
        "-c",
        "echo direct",
    ]);
    out.success();
    assert!(out.stdout.ends_with("direct\n"), "{}", out.stdout);
    assert!(!logs_dir(&sb).join("stdout.log").exists());
    let shown = sb.run(&["logs", "latest"]);
    assert_eq!(shown.code, Some(4), "{}", shown.stderr);
    assert!(shown.stderr.contains("has no logs"), "{}", shown.stderr);
}

#[test]
fn a_signal_to_runctl_still_reaches_the_command_and_its_output_is_kept() {
    let sb = Sandbox::new();
    sb.init();
    let script = "trap 'echo got term; exit 7' TERM; echo ready; while :; do sleep 0.05; done";
    let mut child = sb.spawn(&["new", "--model", "m", "--", "sh", "-c", script]);
    let start = Instant::now();
    while !sb
        .work()
        .join("logs/m-dataset-full-run1/stdout.log")
        .exists()
        || std::fs::read_to_string(sb.work().join("logs/m-dataset-full-run1/stdout.log"))
            .unwrap()
            .is_empty()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let _ = &mut child;
    let out = child.wait();
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert!(out.stdout.contains("ready\ngot term\n"), "{}", out.stdout);
    let log =
        std::fs::read_to_string(sb.work().join("logs/m-dataset-full-run1/stdout.log")).unwrap();
    assert_eq!(log, "ready\ngot term\n");
    assert_eq!(
        sb.run(&["show", "latest", "--json"]).json()["status"],
        "interrupted"
    );
}

#[test]
fn logs_follow_shows_a_running_commands_lines_within_a_second_and_ends_with_it() {
    let sb = Sandbox::new();
    sb.init();
    let script =
        "echo one; while [ ! -f go ]; do sleep 0.05; done; echo two; sleep 0.3; echo three";
    let runner = sb.spawn(&["new", "--model", "m", "--", "sh", "-c", script]);
    let start = Instant::now();
    while sb.run(&["list", "--names"]).stdout.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "no run");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut follower = sb.spawn(&["logs", "latest", "--follow"]);
    let stdout = follower.stdout.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap());
        }
    });
    assert_eq!(lines.recv_timeout(Duration::from_secs(30)).unwrap(), "one");
    std::fs::write(sb.work().join("go"), "").unwrap();
    let written = Instant::now();
    assert_eq!(lines.recv_timeout(Duration::from_secs(5)).unwrap(), "two");
    assert!(
        written.elapsed() < Duration::from_secs(1),
        "a line took {:?} to show",
        written.elapsed()
    );
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(30)).unwrap(),
        "three"
    );
    // The command ended: so does --follow.
    let out = follower.wait();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    runner.wait().success();
}

#[test]
fn logs_of_a_batch_show_its_workers_and_bad_references_are_clear() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("items.csv"), "id\n1\n2\n3\n").unwrap();
    let w = write_exec(
        &sb.work().join("w.sh"),
        "#!/bin/sh\necho \"seen $RUN_NAME\" >&2\necho '{}'\n",
    );
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "items.csv",
        "--key",
        "id",
        "-j",
        "1",
        "--",
        &w.to_string_lossy(),
    ]);
    out.success();
    let shown = sb.run(&["logs", "latest", "--worker", "1"]);
    shown.success();
    assert_eq!(
        shown.stdout.matches("seen m-dataset-full-run1").count(),
        3,
        "{}",
        shown.stdout
    );
    // Without --worker: every worker's log (one slot here, so no headers).
    let all = sb.run(&["logs", "latest"]);
    assert_eq!(all.stdout, shown.stdout);
    for args in [
        vec!["logs", "latest", "--worker", "9"],
        vec!["logs", "no-such-run"],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, Some(4), "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    }
    let out = sb.run(&["logs", "latest", "--worker", "-1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "items.csv",
        "--key",
        "id",
        "--no-log",
        "--",
        &w.to_string_lossy(),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn a_reader_that_leaves_stops_the_command_as_it_would_without_runctl() {
    let sb = Sandbox::new();
    sb.init();
    // `yes` never ends by itself: only SIGPIPE, once `head` has its line, stops it.
    let out = sb
        .sh(&format!("'{RUNCTL}' new --model m -- yes | head -1"))
        .timeout(Duration::from_secs(60))
        .run();
    assert!(out.stdout.starts_with("y\n"), "{}", out.stdout);
    let shown = sb.run(&["show", "latest", "--json"]);
    assert_eq!(shown.json()["exit_code"], 141, "yes ends by SIGPIPE");
    let log = std::fs::metadata(logs_dir(&sb).join("stdout.log"))
        .unwrap()
        .len();
    assert!(
        log < 16 << 20,
        "the log kept growing after the reader left: {log} bytes"
    );
}
