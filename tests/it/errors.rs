//! What a user sees on every error path, per command family and exit code (1 general, 2 usage,
//! 3 conflict, 4 not found, 130 interrupted, a child's code passed through): exit code, stdout
//! and stderr as insta snapshots, temp paths, ids, hashes, times and elapsed times masked
//! ([`Sandbox::transcript`]).

use std::time::{Duration, Instant};

use crate::common::*;

/// `runctl ARGS` in `work/`, its transcript snapshotted as `name`.
fn snap(sb: &Sandbox, name: &str, args: &[&str]) {
    let run = sb.run(args);
    insta::assert_snapshot!(name, sb.transcript(&run));
}

/// Wait until `path` exists, or fail after 20 s.
fn wait_for_file(path: &std::path::Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {path:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigint(child: &Spawned) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
}

/// A project with a run `m-dataset-full-run1` over the items a, b, c of `items.csv`.
fn project_with_items(sb: &Sandbox) {
    sb.init();
    std::fs::write(sb.work().join("items.csv"), "id\na\nb\nc\n").unwrap();
    sb.run(&[
        "new",
        "-q",
        "--model",
        "m",
        "--source",
        "items.csv",
        "--key",
        "id",
    ])
    .success();
}

#[test]
fn init_new_and_name_errors() {
    let sb = Sandbox::new();
    sb.init();
    snap(&sb, "name_bad_scope", &["name", "--scope", "bogus"]);
    snap(
        &sb,
        "name_missing_config",
        &["name", "--config", "missing.yaml"],
    );
    sb.run(&["new", "-q", "--model", "m"]).success();
    snap(
        &sb,
        "new_run_index_taken",
        &["new", "--model", "m", "--run-index", "1"],
    );
    snap(
        &sb,
        "new_child_exit_code",
        &["new", "--model", "m", "--", "sh", "-c", "echo out; exit 7"],
    );
    snap(
        &sb,
        "new_command_not_found",
        &["new", "--model", "m", "--", "/nonexistent/program"],
    );
    // Ctrl-C to runctl reaches the command, which ends; the run is interrupted.
    let script = "trap 'exit 130' INT; touch \"$RUN_DIR/ready\"; while :; do sleep 0.05; done";
    let child = sb.spawn(&["new", "--model", "m", "--", "sh", "-c", script]);
    wait_for_file(&sb.work().join("outputs/m-dataset-full-run4/ready"));
    sigint(&child);
    insta::assert_snapshot!("new_interrupted", sb.transcript(&child.wait()));
    let toml = sb.work().join("runctl.toml");
    std::fs::write(&toml, "[naming]\nmax_path = = 3\n").unwrap();
    snap(&sb, "new_malformed_settings", &["new", "--model", "m"]);
    snap(&sb, "init_malformed_settings", &["init"]);
}

#[test]
fn show_list_and_env_errors() {
    let sb = Sandbox::on_sqlite();
    snap(&sb, "list_outside_a_project", &["list"]);
    sb.init();
    snap(&sb, "show_no_such_run", &["show", "nothing"]);
    snap(&sb, "env_no_such_run", &["env", "nothing"]);
    snap(&sb, "show_bad_flag", &["show", "latest", "--bogus"]);
    for _ in 0..2 {
        sb.run(&["new", "-q", "--model", "m"]).success();
    }
    // Every id starts with the year: "2" is a prefix of both.
    snap(&sb, "show_ambiguous_id_prefix", &["show", "2"]);
    std::fs::write(
        sb.db(),
        b"this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    snap(&sb, "list_not_a_database", &["list"]);
}

#[test]
fn resume_record_items_and_export_errors() {
    let sb = Sandbox::new();
    project_with_items(&sb);
    snap(
        &sb,
        "resume_no_such_run",
        &["resume", "nothing", "--", "true"],
    );
    snap(&sb, "export_no_such_run", &["export", "nothing"]);
    snap(
        &sb,
        "items_conflicting_flags",
        &["items", "latest", "--errors", "--all"],
    );
    snap(
        &sb,
        "resume_zero_jobs",
        &["resume", "-j", "0", "--", "true"],
    );
    snap(
        &sb,
        "record_missing_file",
        &["record", "latest", "--from", "missing.jsonl"],
    );
    let run = sb
        .cmd()
        .args(["record", "latest"])
        .write_stdin("{\"key\":\"a\",\"ok\":1}\nnot json\n")
        .run();
    insta::assert_snapshot!("record_bad_line", sb.transcript(&run));
    // One item of three fails: exit 1, the worker's message kept, the way to list them named.
    let worker =
        "cat >/dev/null; [ \"$RUNCTL_ITEM_KEY\" = b ] && { echo no luck >&2; exit 5; }; echo ok";
    snap(
        &sb,
        "resume_an_item_failed",
        &["resume", "-j", "1", "--", "sh", "-c", worker],
    );
    snap(&sb, "items_errors", &["items", "latest", "--errors"]);
    // A run without items.
    sb.run(&["new", "-q", "--model", "bare"]).success();
    snap(&sb, "resume_no_items", &["resume", "latest", "--", "true"]);
    // The source changed since it was ingested.
    std::fs::write(sb.work().join("items.csv"), "id\na\nb\nc\nd\n").unwrap();
    snap(
        &sb,
        "resume_input_drift",
        &["resume", "m-dataset-full-run1", "--", "true"],
    );
}

#[test]
fn resume_interrupted_lets_the_item_in_flight_finish() {
    let sb = Sandbox::new();
    project_with_items(&sb);
    write_exec(
        &sb.work().join("slow.sh"),
        "#!/bin/sh\ncat >/dev/null\ntouch started\nwhile [ ! -e go ]; do sleep 0.02; done\necho ok\n",
    );
    let child = sb.spawn(&["resume", "-j", "1", "--", "./slow.sh"]);
    wait_for_file(&sb.work().join("started"));
    sigint(&child);
    // The first item ends well after runctl has seen the signal: no second one starts.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(sb.work().join("go"), "").unwrap();
    insta::assert_snapshot!("resume_interrupted", sb.transcript(&child.wait()));
}

#[test]
fn hash_path_link_and_resolve_errors() {
    let sb = Sandbox::new();
    sb.init();
    snap(&sb, "hash_no_parts", &["hash"]);
    snap(
        &sb,
        "hash_length_out_of_range",
        &["hash", "--length", "99", "x"],
    );
    let long = format!("/x/{}", "a".repeat(300));
    snap(&sb, "path_over_the_limits", &["path", "check", &long]);
    snap(&sb, "resolve_unknown_hash", &["resolve", ":hash=deadbeef"]);
    snap(&sb, "link_missing_folder", &["link", "nothing/here"]);
    // The alias's name is taken by a file: refused, nothing replaced.
    std::fs::create_dir_all(sb.work().join("m/M:x")).unwrap();
    let made = sb.run(&["link", "m/M:x"]);
    made.success();
    let alias = std::path::PathBuf::from(made.stdout.trim());
    std::fs::remove_file(&alias).unwrap();
    std::fs::write(&alias, "a file").unwrap();
    snap(&sb, "link_alias_taken", &["link", "m/M:x"]);
    assert_eq!(std::fs::read_to_string(&alias).unwrap(), "a file");
}

#[test]
fn version_errors() {
    let sb = Sandbox::new();
    sb.init();
    snap(&sb, "version_new_no_family", &["version", "new"]);
    sb.run(&["version", "new", "style_1", "--job-id", "j1"])
        .success();
    snap(
        &sb,
        "version_new_job_id_taken",
        &["version", "new", "style_1", "--job-id", "j1"],
    );
    snap(
        &sb,
        "version_new_name_taken",
        &["version", "new", "style_1", "--name", "V1"],
    );
    snap(
        &sb,
        "version_complete_unknown_job",
        &[
            "version", "complete", "--job-id", "nope", "--url", "http://x",
        ],
    );
    snap(
        &sb,
        "version_show_unknown",
        &["version", "show", "style_1", "V99"],
    );
    std::fs::write(sb.work().join("bad.json"), "{\n").unwrap();
    snap(
        &sb,
        "version_import_broken_file",
        &["version", "import", "bad.json"],
    );
}

#[test]
fn migrate_errors() {
    let sb = Sandbox::on_sqlite();
    snap(&sb, "migrate_outside_a_project", &["migrate"]);
    snap(&sb, "migrate_bad_flag", &["migrate", "--bogus"]);
    project_at_v1(&sb);
    snap(&sb, "migrate_pending_without_a_terminal", &["migrate"]);
    sb.run(&["migrate", "--yes"]).success();
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.execute_batch(
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (99, 'future', '2030-01-01T00:00:00Z', '1');",
    )
    .unwrap();
    drop(conn);
    snap(&sb, "migrate_newer_schema", &["migrate"]);
}

#[test]
fn plugin_and_dispatch_errors() {
    let sb = Sandbox::new();
    sb.plugin(
        "seven",
        "#!/bin/sh\necho from seven\necho to stderr >&2\nexit 7\n",
    );
    sb.plugin("badi", "#!/nonexistent/interpreter\n");
    sb.plugin("int", "#!/bin/sh\nkill -INT $$\n");
    snap(&sb, "plugin_exit_code", &["seven"]);
    snap(&sb, "plugin_unknown_did_you_mean", &["sevn"]);
    snap(&sb, "plugin_not_runnable", &["badi"]);
    // runctl execs the plugin: what kills the plugin is what ends runctl.
    snap(&sb, "plugin_killed_by_sigint", &["int"]);
    snap(&sb, "plugins_bad_flag", &["plugins", "--bogus"]);
}
