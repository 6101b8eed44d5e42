//! Prompts through a real terminal (a PTY): answers typed as a user would, the screen checked.

use crate::common::*;

/// `runctl migrate` on the v1 fixture, in a PTY.
fn migrate_in_pty(sb: &Sandbox) -> Pty {
    sb.pty(&["migrate"], 20_000)
}

/// The exit code, from the Debug form of the wait status (`Exited(Pid(n), code)`).
fn exit_code(p: &Pty) -> String {
    let status = format!("{:?}", p.process().wait().unwrap());
    status
}

#[test]
fn answering_yes_migrates() {
    let sb = Sandbox::on_sqlite();
    project_at_v1(&sb);
    let mut p = migrate_in_pty(&sb);
    p.exp_string("Apply 10 migration(s)").unwrap();
    p.exp_string("(schema version 1 -> 11)?").unwrap();
    assert!(backups(&sb).is_empty(), "no backup before the answer");
    p.send("y").unwrap();
    p.flush().unwrap();
    p.exp_string("note: backed up").unwrap();
    p.exp_string("applied V2 hashes").unwrap();
    p.exp_string("is now at schema version 11").unwrap();
    p.exp_eof().unwrap();
    assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
    assert_eq!(backups(&sb).len(), 1);
    let out = sb.cmd().arg("migrate").run();
    assert!(stdout(&out).contains("up to date (schema version 11)"));
}

#[test]
fn answering_no_leaves_the_db_untouched() {
    let sb = Sandbox::on_sqlite();
    let original = project_at_v1(&sb);
    let mut p = migrate_in_pty(&sb);
    p.exp_string("Apply 10 migration(s)").unwrap();
    p.send("n").unwrap();
    p.flush().unwrap();
    let screen = p
        .exp_string("migration declined; the database is unchanged")
        .unwrap();
    assert!(screen.contains("error:"), "{screen}");
    p.exp_eof().unwrap();
    assert!(exit_code(&p).ends_with(", 1)"), "{}", exit_code(&p));
    assert_eq!(std::fs::read(sb.db()).unwrap(), original);
}

#[test]
fn ctrl_c_at_the_prompt_exits_130_and_changes_nothing() {
    let sb = Sandbox::on_sqlite();
    let original = project_at_v1(&sb);
    let mut p = migrate_in_pty(&sb);
    p.exp_string("Apply 10 migration(s)").unwrap();
    p.send_control('c').unwrap();
    p.exp_eof().unwrap();
    let status = exit_code(&p);
    assert!(status.ends_with(", 130)"), "{status}");
    assert_eq!(std::fs::read(sb.db()).unwrap(), original);
}

const BEFORE: &str = r#"{"versions": [
  {"id": "style_1_vV8", "name": "style_1_vV8.safetensors", "status": "completed",
   "loraUrl": "https://b/loras/style_1_vV8.safetensors", "description": "Synced from S3"},
  {"id": "ec487842-e2", "name": "V8", "status": "pending", "parameters": {"steps": 3000}}
]}"#;

fn import_in_pty(sb: &Sandbox) -> Pty {
    sb.init();
    std::fs::write(sb.work().join("training_versions.json"), BEFORE).unwrap();
    sb.pty(&["version", "import", "training_versions.json"], 20_000)
}

#[test]
fn import_asks_per_duplicate_pair() {
    for (answer, expected_versions) in [("y", 1), ("n", 2)] {
        let sb = Sandbox::new();
        let mut p = import_in_pty(&sb);
        p.exp_string("are the same version. Merge them into one?")
            .unwrap();
        p.send(answer).unwrap();
        p.flush().unwrap();
        p.exp_eof().unwrap();
        assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
        let out = sb.cmd().args(["version", "list", "--json"]).run();
        let list: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(
            list.as_array().unwrap().len(),
            expected_versions,
            "answer {answer}: {list}"
        );
    }
}

fn migrate_runs_in_pty(sb: &Sandbox) -> Pty {
    sb.init();
    for name in [
        "20251228_143025",
        "20251229_101500_123456_a3f9",
        "20251230_080000",
    ] {
        std::fs::create_dir_all(sb.work().join("outputs").join(name)).unwrap();
    }
    sb.pty(&["migrate", "runs"], 20_000)
}

const DOWN: &str = "\x1b[B";

fn key(p: &mut Pty, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn migrate_runs_asks_per_folder_accept_edit_skip() {
    let sb = Sandbox::new();
    let mut p = migrate_runs_in_pty(&sb);
    p.exp_string("20251228_143025 (timestamp) -> model-dataset-full-run1")
        .unwrap();
    key(&mut p, &format!("{DOWN}\r")); // edit the name
    p.exp_string("new name").unwrap();
    key(&mut p, "my-first-run\r");
    p.exp_string("20251229_101500_123456_a3f9 (run id) -> model-dataset-full-run2")
        .unwrap();
    key(&mut p, &format!("{DOWN}{DOWN}\r")); // skip
    p.exp_string("20251230_080000 (timestamp) -> model-dataset-full-run3")
        .unwrap();
    key(&mut p, "\r"); // accept
    p.exp_string("renamed 2, skipped 1, failed 0").unwrap();
    p.exp_eof().unwrap();
    assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
    let outputs = sb.work().join("outputs");
    assert_eq!(
        std::fs::read_link(outputs.join("20251228_143025")).unwrap(),
        std::path::Path::new("my-first-run")
    );
    assert_eq!(
        std::fs::read_link(outputs.join("20251230_080000")).unwrap(),
        std::path::Path::new("model-dataset-full-run3")
    );
    assert!(
        std::fs::symlink_metadata(outputs.join("20251229_101500_123456_a3f9"))
            .unwrap()
            .is_dir()
    );
}

#[test]
fn migrate_runs_accept_all_and_quit() {
    let sb = Sandbox::new();
    let mut p = migrate_runs_in_pty(&sb);
    p.exp_string("-> model-dataset-full-run1").unwrap();
    key(&mut p, &format!("{DOWN}{DOWN}{DOWN}\r")); // accept this and all the rest
    p.exp_string("renamed 3, skipped 0, failed 0").unwrap();
    p.exp_eof().unwrap();

    let sb = Sandbox::new();
    let mut p = migrate_runs_in_pty(&sb);
    p.exp_string("-> model-dataset-full-run1").unwrap();
    key(&mut p, &format!("{DOWN}{DOWN}{DOWN}{DOWN}\r")); // quit
    p.exp_string("renamed 0, skipped 3, failed 0").unwrap();
    p.exp_eof().unwrap();
    assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
    let out = sb.cmd().args(["list", "--json"]).run();
    assert_eq!(String::from_utf8_lossy(&out.raw.stdout).trim(), "[]");
}

/// A resume at a terminal: a progress bar with done/total and errors, then the summary; and a
/// Ctrl-C typed at the terminal reaches runctl (the workers are in their own process groups),
/// which lets the item in flight finish and exits 130.
#[test]
fn resume_at_a_terminal_shows_a_progress_bar_and_ctrl_c_stops_it_cleanly() {
    let sb = Sandbox::new();
    sb.init();
    let mut csv = String::from("id\n");
    for i in 0..40 {
        csv.push_str(&format!("k{i:02}\n"));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    write_exec(
        &sb.work().join("slow.sh"),
        "#!/bin/sh\ncat >/dev/null\nsleep 0.1\necho ok\n",
    );
    sb.new_run_over("items.csv");
    let mut p = sb.pty(&["resume", "-j", "1", "--", "./slow.sh"], 30_000);
    p.exp_string("/40 (").unwrap();
    p.exp_string("%), 0 errors, ").unwrap();
    p.exp_string(" elapsed, ETA ").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("stopping: no new items").unwrap();
    p.exp_string("interrupted:").unwrap();
    p.exp_eof().unwrap();
    let status = exit_code(&p);
    assert!(status.ends_with(", 130)"), "{status}");
    let tables = sb.tables();
    let done: i64 = tables.one("SELECT count(*) FROM results WHERE status = 'ok'", &[]);
    let state: String = tables.one("SELECT status FROM runs", &[]);
    assert!(done > 0 && done < 40, "{done}");
    assert_eq!(state, "interrupted");
}

#[test]
fn rm_at_a_terminal_asks_and_deletes_only_on_yes() {
    // A whole answer ended with Enter: a `y` inside another word is no yes.
    for (answer, kept) in [
        ("n\r", true),
        ("sorry, no\r", true),
        ("maybe\r", true),
        ("\r", true),
        ("yes\r", false),
    ] {
        let sb = Sandbox::new();
        sb.init();
        sb.run(&["new", "--model", "m"]).success();
        let mut p = sb.pty(&["rm", "latest"], 20_000);
        p.exp_string("delete run m-dataset-full-run1 and its folders?")
            .unwrap();
        p.send(answer).unwrap();
        p.flush().unwrap();
        p.exp_eof().unwrap();
        assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
        assert_eq!(
            sb.work().join("outputs/m-dataset-full-run1").is_dir(),
            kept,
            "answer {answer}"
        );
        assert_eq!(
            sb.runs_listed(&["--all"]),
            usize::from(kept),
            "answer {answer}"
        );
    }
}

#[test]
fn a_commands_output_reaches_the_terminal_and_its_log() {
    let sb = Sandbox::new();
    sb.init();
    let mut p = sb.pty(
        &[
            "new",
            "--model",
            "m",
            "--",
            "sh",
            "-c",
            "echo hello-terminal; echo oops >&2",
        ],
        20_000,
    );
    p.exp_string("hello-terminal").unwrap();
    p.exp_string("oops").unwrap();
    p.exp_eof().unwrap();
    assert!(exit_code(&p).ends_with(", 0)"), "{}", exit_code(&p));
    let log =
        std::fs::read_to_string(sb.work().join("logs/m-dataset-full-run1/stdout.log")).unwrap();
    assert_eq!(log, "hello-terminal\n");
}
