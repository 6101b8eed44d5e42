//! What a batch pass (`new --source ... -- CMD`, `resume`) prints, as insta snapshots over the
//! binary: the summary with errors by exit code, timeout and stream answer; the summary after
//! Ctrl-C; the plain progress line; `items --errors`; and `-q`, which leaves only the errors.
//! Temp paths, ids, times, rates and elapsed times are masked ([`Sandbox::transcript`]).

use std::time::{Duration, Instant};

use crate::common::*;

/// A project with `items.csv` holding the keys `keys` (no run yet).
fn project_with(sb: &Sandbox, keys: &[&str]) {
    sb.init();
    let csv: String = keys.iter().map(|k| format!("{k}\n")).collect();
    std::fs::write(sb.work().join("items.csv"), format!("id\n{csv}")).unwrap();
}

/// A worker script in `work/`; its name as a command.
fn worker(sb: &Sandbox, name: &str, script: &str) -> String {
    write_exec(&sb.work().join(name), script);
    format!("./{name}")
}

/// `runctl new --model MODEL --source items.csv --key id ARGS`.
fn new_over(model: &str, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = [
        "new",
        "--model",
        model,
        "--source",
        "items.csv",
        "--key",
        "id",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    all.extend(args.iter().map(|s| s.to_string()));
    all
}

fn run(sb: &Sandbox, args: &[String]) -> Run {
    sb.cmd().args(args).run()
}

fn wait_for_file(path: &std::path::Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {path:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigint(child: &Spawned) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
}

/// Per item: b and c exit 2, d exits 1, e never ends (the timeout ends it), the rest are ok.
const PER_ITEM: &str = "#!/bin/sh
cat >/dev/null
case \"$RUNCTL_ITEM_KEY\" in
  b|c) exit 2;;
  d) exit 1;;
  e) while :; do sleep 1; done;;
esac
echo '{\"ok\":true}'
";

/// A stream worker: b is answered with an error, c makes the worker exit 3, the rest are ok.
const STREAM: &str = "#!/bin/sh
while read -r line; do
  key=$(printf '%s' \"$line\" | sed 's/.*\"key\":\"\\([^\"]*\\)\".*/\\1/')
  case \"$key\" in
    b) printf '{\"key\":\"%s\",\"error\":\"the model refused\"}\\n' \"$key\";;
    c) exit 3;;
    *) printf '{\"key\":\"%s\",\"ok\":1}\\n' \"$key\";;
  esac
done
";

#[test]
fn a_summary_names_the_exit_codes_the_timeouts_and_the_answered_errors() {
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b", "c", "d", "e", "f"]);
    let w = worker(&sb, "w.sh", PER_ITEM);
    // A timeout long enough for any item that ends on its own, on a busy machine.
    let out = run(
        &sb,
        &new_over("m", &["-j", "2", "--timeout", "5s", "--", &w]),
    );
    insta::assert_snapshot!("per_item_errors", sb.transcript(&out));
    let out = sb.run(&["items", "latest", "--errors"]);
    insta::assert_snapshot!("items_errors_by_category", sb.transcript(&out));
    // A stream worker's answered error has no exit code; the worker's own exit has one.
    let w = worker(&sb, "s.sh", STREAM);
    let out = run(&sb, &new_over("s", &["--stream", "-j", "1", "--", &w]));
    insta::assert_snapshot!("stream_errors", sb.transcript(&out));
    // The same counts for a machine, after a retry of the failed items.
    let out = sb.run(&["resume", "latest", "--retry-errors", "--json"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let pass = &out.json()["pass"];
    assert_eq!(pass["errors_by_category"], serde_json::json!({"exit": 2}));
    assert_eq!(pass["exit_codes"], serde_json::json!({"3": 1}));
}

#[test]
fn an_interrupted_pass_ends_with_the_resume_that_goes_on() {
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b", "c"]);
    let w = worker(
        &sb,
        "slow.sh",
        "#!/bin/sh\ncat >/dev/null\ntouch started\nwhile [ ! -e go ]; do sleep 0.02; done\necho ok\n",
    );
    let child = sb.cmd().args(new_over("m", &["-j", "1", "--", &w])).spawn();
    wait_for_file(&sb.work().join("started"));
    sigint(&child);
    // The first item ends well after runctl has seen the signal: no second one starts.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(sb.work().join("go"), "").unwrap();
    let out = child.wait();
    let transcript = sb.transcript(&out);
    assert!(
        transcript.ends_with("go on where it stopped with 'runctl resume m-dataset-full-run1'\n"),
        "{transcript}"
    );
    insta::assert_snapshot!("new_interrupted_summary", transcript);
}

/// The first progress line with one item done of three (the line's rate, times and clock
/// masked). Item b waits until runctl has printed it, so no timing decides what it says.
#[test]
fn the_plain_progress_line_has_one_count_its_percent_the_rate_and_the_eta() {
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b", "c"]);
    let w = worker(
        &sb,
        "w.sh",
        "#!/bin/sh
cat >/dev/null
case \"$RUNCTL_ITEM_KEY\" in
  a) exit 2;;
  b) n=0
     until grep -q '^progress: 1/3 ' progress.log; do
       n=$((n + 1)); [ $n -gt 1500 ] && exit 9; sleep 0.02
     done;;
esac
echo ok
",
    );
    let script = format!("RUNCTL_PROGRESS_SECS=0.05 '{RUNCTL}' resume -j 1 -- {w} 2>progress.log");
    run(&sb, &new_over("m", &[])).success();
    let out = sb.sh(&script).run();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, "");
    let log = std::fs::read_to_string(sb.work().join("progress.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    let line = log
        .lines()
        .find(|l| l.starts_with("progress: 1/3 "))
        .unwrap_or_else(|| panic!("no progress line:\n{log}"));
    insta::assert_snapshot!("progress_line", mask_progress(line));
    // Every line has one count; the last summary counts the pass again.
    assert!(log.lines().all(|l| !l.contains(" of 3 done")), "{log}");
    assert!(log.contains("errors: 1 exited non-zero (code 2)"), "{log}");
}

/// A progress line with its rate, durations and clock time masked; the clock checked first.
fn mask_progress(line: &str) -> String {
    let parts: Vec<String> = line
        .split(", ")
        .map(|part| {
            if part.ends_with("/s") || part.ends_with("/min") || part.ends_with("/h") {
                "[RATE]".to_string()
            } else if let Some(time) = part.strip_suffix(" elapsed") {
                assert!(time.ends_with('s') || time.ends_with('m') || time.ends_with('h'));
                "[DURATION] elapsed".to_string()
            } else if let Some(eta) = part.strip_prefix("ETA ") {
                let (_, clock) = eta.split_once(" (at ").unwrap();
                let clock = clock.strip_suffix(')').unwrap();
                let hm = clock.rsplit(' ').next().unwrap();
                assert!(
                    hm.len() == 5 && hm.as_bytes()[2] == b':',
                    "not a clock time: {line}"
                );
                "ETA [DURATION] (at [CLOCK])".to_string()
            } else {
                part.to_string()
            }
        })
        .collect();
    parts.join(", ")
}

#[test]
fn odd_progress_intervals_do_no_harm() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b"]);
    let w = worker(&sb, "ok.sh", "#!/bin/sh\ncat >/dev/null\necho ok\n");
    // Each a new run over the two items; none of these is an interval but 0, which prints a
    // line whenever a result comes in.
    let odd: [&[u8]; 7] = [b"0", b"-1", b"1e300", b"nan", b"inf", b"", b"\xff\xfe"];
    for (i, value) in odd.into_iter().enumerate() {
        let out = sb
            .cmd()
            .args(new_over(&format!("m{i}"), &["--", &w]))
            .env("RUNCTL_PROGRESS_SECS", std::ffi::OsStr::from_bytes(value))
            .run();
        assert_eq!(out.code, Some(0), "{value:?}: {}", out.stderr);
        let mut lines = out.stderr.lines().filter(|l| l.starts_with("progress: "));
        if value == b"0" {
            let last = lines.next_back().unwrap_or_default();
            assert!(
                last.starts_with("progress: 2/2 (100%), 0 errors, "),
                "{}",
                out.stderr
            );
        } else {
            assert_eq!(lines.count(), 0, "{value:?}: {}", out.stderr);
        }
    }
}

/// `-q`: a pass with a failed item prints the error and its hint, nothing else, on stderr,
/// and nothing on stdout; `--json` still prints the pass; after Ctrl-C nothing at all.
#[test]
fn quiet_passes_print_only_their_errors() {
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b", "c"]);
    let w = worker(&sb, "w.sh", PER_ITEM);
    let out = sb
        .cmd()
        .arg("-q")
        .args(new_over("m", &["-j", "1", "--", &w]))
        .env("RUNCTL_PROGRESS_SECS", "0")
        .run();
    insta::assert_snapshot!("quiet_new_with_errors", sb.transcript(&out));
    let out = sb
        .cmd()
        .args(["resume", "--quiet", "latest", "--retry-errors", "--json"])
        .env("RUNCTL_PROGRESS_SECS", "0")
        .run();
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.json()["pass"]["exit_codes"],
        serde_json::json!({"2": 2})
    );
    assert!(
        out.stderr.starts_with("error: 2 of 3 items"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.stderr);
    // Interrupted: exit 130, and no note.
    let slow = worker(
        &sb,
        "slow.sh",
        "#!/bin/sh\ncat >/dev/null\ntouch started\nwhile [ ! -e go ]; do sleep 0.02; done\necho ok\n",
    );
    let child = sb
        .cmd()
        .arg("-q")
        .args(new_over("q", &["-j", "1", "--", &slow]))
        .spawn();
    wait_for_file(&sb.work().join("started"));
    sigint(&child);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(sb.work().join("go"), "").unwrap();
    let out = child.wait();
    assert_eq!(out.code, Some(130), "{}", out.stderr);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

#[test]
fn a_stream_workers_own_category_is_kept_counted_and_shown_as_it_named_it() {
    let sb = Sandbox::new();
    project_with(&sb, &["a", "b", "c"]);
    let w = worker(
        &sb,
        "s.sh",
        "#!/bin/sh
while read -r line; do
  key=$(printf '%s' \"$line\" | sed 's/.*\"key\":\"\\([^\"]*\\)\".*/\\1/')
  case \"$key\" in
    a) printf '{\"key\":\"%s\",\"error\":\"rate limited\",\"category\":\"http-429\"}\\n' \"$key\";;
    b) printf '{\"key\":\"%s\",\"error\":\"too slow\",\"category\":\"timeout\"}\\n' \"$key\";;
    *) printf '{\"key\":\"%s\",\"ok\":1}\\n' \"$key\";;
  esac
done
",
    );
    let out = run(&sb, &new_over("s", &["--stream", "-j", "1", "--", &w]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("1 timed out, 1 answered http-429"),
        "{}",
        out.stderr
    );
    let items = sb.run(&["items", "latest", "--errors"]);
    let categories: Vec<String> = items
        .json_lines()
        .iter()
        .map(|l| l["category"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(categories, ["http-429", "timeout"]);
    // A stored category as `record` keeps it: the same for the same line.
    let out = sb.run(&["resume", "latest", "--retry-errors", "--json"]);
    let pass = &out.json()["pass"];
    assert_eq!(
        pass["errors_by_category"],
        serde_json::json!({"http-429": 1, "timeout": 1})
    );
    assert_eq!(pass["exit_codes"], serde_json::json!({}));
}
