//! `runctl migrate runs` over a generated tree of legacy run folders.

use std::path::Path;

use crate::common::*;

fn legacy_tree(sb: &Sandbox) {
    sb.init();
    let out = sb.work().join("outputs");
    let logs = sb.work().join("logs");
    let mk = |dir: &Path, file: &str, text: &str| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
    };
    mk(
        &out.join("20251228_143025"),
        "metrics.json",
        "{\"acc\": 0.9}",
    );
    mk(&logs.join("20251228_143025"), "train.log", "epoch 1");
    mk(
        &out.join("20251229_101500_123456_a3f9"),
        "model.bin",
        "weights",
    );
    mk(
        &out.join("xgboost_h20_20251227_090000_000001_00ff"),
        "preds.csv",
        "a,b",
    );
    mk(
        &out.join("qwen-eval"),
        "config.yaml",
        "training:\n  model_name_or_path: Qwen/Qwen2-7B\ndata:\n  dataset_name: drg_letters\n  sample_size: 2048\n",
    );
    mk(
        &out.join("mistral-sweep"),
        "config.json",
        r#"{"training":{"model_name_or_path":"mistral-7b"},"data":{"dataset_name":"eval_set","sample_size":null}}"#,
    );
    // Folders named freely are ordered by their time on disk.
    let set_time = |dir: &Path, unix: u64| {
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
        std::fs::File::open(dir)
            .unwrap()
            .set_modified(when)
            .unwrap();
    };
    set_time(&out.join("mistral-sweep"), 1_767_096_000); // 2025-12-30T12:00:00Z
    set_time(&out.join("qwen-eval"), 1_767_182_400); // 2025-12-31T12:00:00Z
    mk(&out.join("notes"), "todo.txt", "not a run");
    mk(&out.join("broken-config"), "config.json", "{not json");
    // A folder made by hand that holds the name the first timestamp run would get.
    std::fs::create_dir_all(out.join("model-dataset-full-run1")).unwrap();
    // A read-only legacy folder.
    let ro = out.join("20251230_080000");
    mk(&ro, "result.txt", "read only");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
}

#[test]
fn dry_run_changes_nothing_and_shows_the_plan() {
    let sb = Sandbox::new();
    legacy_tree(&sb);
    let before = tree(&sb.work());
    let out = sb.cmd().args(["migrate", "runs", "--dry-run"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "would rename xgboost_h20_20251227_090000_000001_00ff -> xgboost-dataset-full-run1 (model_h id)",
            // run1 is taken by a folder made by hand, so the first timestamp run gets run2.
            "would rename 20251228_143025 -> model-dataset-full-run2 (timestamp)",
            "would rename 20251229_101500_123456_a3f9 -> model-dataset-full-run3 (run id)",
            "would rename 20251230_080000 -> model-dataset-full-run4 (timestamp)",
            "would rename mistral-sweep -> mistral-7b-eval_set-full-run1 (config)",
            "would rename qwen-eval -> qwen-qwen2-7b-drg_letters-n2048-run1 (config)",
        ],
        "{text}"
    );
    assert!(
        lines[6].starts_with("skipped broken-config: its config cannot be read: "),
        "{text}"
    );
    assert!(stdout(&out).contains("skipped notes: not a legacy run folder"));
    assert!(
        stdout(&out).ends_with("would rename 6, skipped 3\n"),
        "{}",
        stdout(&out)
    );
    assert_eq!(tree(&sb.work()), before);
    let runs = sb.cmd().args(["list", "--json"]).run();
    assert_eq!(String::from_utf8_lossy(&runs.raw.stdout).trim(), "[]");
}

#[test]
fn yes_renames_leaves_symlinks_records_runs_and_loses_nothing() {
    let sb = Sandbox::new();
    legacy_tree(&sb);
    let before = tree(&sb.work());
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let renamed: Vec<(String, String)> = json["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap().to_string(),
                r["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(renamed.len(), 6);
    assert_eq!(json["failed"], serde_json::json!([]));
    let outputs = sb.work().join("outputs");
    for (from, to) in &renamed {
        assert_eq!(
            std::fs::read_link(outputs.join(from)).unwrap(),
            Path::new(to),
            "{from}"
        );
        assert!(
            std::fs::symlink_metadata(outputs.join(to))
                .unwrap()
                .is_dir(),
            "{to}"
        );
    }
    // logs/ moved with its run, and the old path still reads.
    assert_eq!(
        std::fs::read_to_string(sb.work().join("logs/model-dataset-full-run2/train.log")).unwrap(),
        "epoch 1"
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("logs/20251228_143025/train.log")).unwrap(),
        "epoch 1"
    );
    // Nothing is lost: every file of before reads the same through its old path.
    for (path, content) in &before {
        if content != "dir" && !content.starts_with("-> ") {
            assert_eq!(
                &std::fs::read_to_string(sb.work().join(path)).unwrap(),
                content,
                "{path}"
            );
        }
    }
    // Runs are recorded with their original ids and times.
    let show = sb
        .cmd()
        .args(["show", "model-dataset-full-run3", "--json"])
        .run();
    let run: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    assert_eq!(run["id"], "20251229_101500_123456_a3f9");
    assert_eq!(run["status"], "migrated");
    assert_eq!(run["created_at"], "2025-12-29T10:15:00.123456Z");
    let show = sb
        .cmd()
        .args(["show", "qwen-qwen2-7b-drg_letters-n2048-run1", "--json"])
        .run();
    let run: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    assert_eq!(run["config"]["data"]["sample_size"], 2048);
    // The pointers name the newest run.
    let latest = sb.cmd().args(["show", "latest", "--json"]).run();
    let latest: serde_json::Value = serde_json::from_slice(&latest.raw.stdout).unwrap();
    assert_eq!(
        std::fs::read_link(outputs.join("latest")).unwrap(),
        Path::new(latest["dir_name"].as_str().unwrap())
    );

    // A second run changes nothing and says so.
    let after = tree(&sb.work());
    let again = sb.cmd().args(["migrate", "runs", "--yes"]).run();
    assert_eq!(again.status.code(), Some(0));
    assert!(
        stdout(&again).ends_with("nothing to migrate: every run folder is already known\n"),
        "{}",
        stdout(&again)
    );
    assert_eq!(tree(&sb.work()), after);
}

#[test]
fn without_a_terminal_it_asks_for_yes_instead_of_hanging() {
    let sb = Sandbox::new();
    legacy_tree(&sb);
    let before = tree(&sb.work());
    let out = sb.cmd().args(["migrate", "runs"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: pass --yes to apply every proposal, or --dry-run to see them"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(&sb.work()), before);
}

/// Makes a folder immutable (even root cannot rename it) until dropped.
struct Immutable(std::path::PathBuf);

impl Immutable {
    fn new(path: std::path::PathBuf) -> Immutable {
        let status = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "chattr +i must work on this filesystem for this test"
        );
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_folder_that_cannot_be_renamed_fails_alone() {
    let sb = Sandbox::new();
    sb.init();
    let outputs = sb.work().join("outputs");
    for name in ["20251201_000000", "20251202_000000", "20251203_000000"] {
        std::fs::create_dir_all(outputs.join(name)).unwrap();
        std::fs::write(outputs.join(name).join("data.txt"), name).unwrap();
    }
    let stuck = Immutable::new(outputs.join("20251202_000000"));
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    drop(stuck);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 folder(s) could not be migrated"));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["failed"][0]["folder"], "20251202_000000");
    assert!(
        json["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot rename"),
        "{json}"
    );
    let renamed: Vec<&str> = json["renamed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["from"].as_str().unwrap())
        .collect();
    assert_eq!(renamed, vec!["20251201_000000", "20251203_000000"]);
    // The failed folder is untouched and unrecorded; a later run migrates it.
    assert_eq!(
        std::fs::read_to_string(outputs.join("20251202_000000/data.txt")).unwrap(),
        "20251202_000000"
    );
    let out = sb.cmd().args(["migrate", "runs", "--yes"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // run2 was its slot in the first pass; numbers are never reused, so it takes the next.
    assert!(
        stdout(&out).contains("renamed 20251202_000000 -> model-dataset-full-run4"),
        "{}",
        stdout(&out)
    );
}

/// One legacy folder, `outputs/20251228_143025_789456_a3f9` and its logs, with a config.
fn one_legacy_folder(sb: &Sandbox) {
    sb.init();
    for base in ["outputs", "logs"] {
        let dir = sb.work().join(base).join("20251228_143025_789456_a3f9");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("note.txt"), base).unwrap();
    }
    std::fs::write(
        sb.work()
            .join("outputs/20251228_143025_789456_a3f9/config.json"),
        r#"{"training": {"model_name_or_path": "Qwen2-7B"}, "data": {"dataset_name": "drg"}}"#,
    )
    .unwrap();
}

/// (id, name, created_at) of the migrated runs by name, as the DB holds them and as
/// `list --status migrated --json` shows them (the two must agree).
fn migrated(sb: &Sandbox) -> Vec<(String, String, String)> {
    let stored: Vec<(String, String, String)> = sb
        .tables()
        .rows(
            "SELECT id, name, created_at FROM runs WHERE status = 'migrated' ORDER BY name",
            &[],
        )
        .into_iter()
        .map(|mut r| {
            (
                r[0].take().unwrap(),
                r[1].take().unwrap(),
                r[2].take().unwrap(),
            )
        })
        .collect();
    let listed = sb.run(&["list", "--status", "migrated", "--json"]);
    listed.success();
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let mut shown: Vec<(String, String, String)> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|run| {
            (
                text(&run["id"]),
                text(&run["name"]),
                text(&run["created_at"]),
            )
        })
        .collect();
    shown.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(shown, stored, "list --status migrated --json");
    stored
}

#[test]
fn a_failed_record_puts_the_folders_back_and_a_stopped_rename_is_finished_by_a_rerun() {
    let name = "qwen2-7b-drg-full-run1";
    // The insert fails (a trigger stands in for a failed commit): both folders go back.
    let sb = Sandbox::on_sqlite();
    one_legacy_folder(&sb);
    let before = tree(&sb.work());
    rusqlite::Connection::open(sb.db())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse AFTER INSERT ON runs BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .unwrap();
    let out = sb.cmd().args(["migrate", "runs", "--yes"]).run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(tree(&sb.work()), before);

    // A run killed between the renames and the commit leaves both renames and a symlink at
    // each old name, and no row (made here by hand, as the kill leaves it).
    let sb = Sandbox::new();
    one_legacy_folder(&sb);
    let plan = sb
        .cmd()
        .args(["migrate", "runs", "--dry-run", "--json"])
        .run();
    let plan: serde_json::Value = serde_json::from_slice(&plan.raw.stdout).unwrap();
    assert_eq!(plan["planned"][0]["name"], name, "{plan}");
    for base in ["outputs", "logs"] {
        let dir = sb.work().join(base);
        std::fs::rename(dir.join("20251228_143025_789456_a3f9"), dir.join(name)).unwrap();
        std::os::unix::fs::symlink(name, dir.join("20251228_143025_789456_a3f9")).unwrap();
    }
    let stopped = tree(&sb.work());
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(
        json["renamed"][0]["from"], "20251228_143025_789456_a3f9",
        "{json}"
    );
    assert_eq!(json["renamed"][0]["to"], name, "{json}");
    // The legacy id and time are kept, and the folders were not moved again.
    assert_eq!(
        migrated(&sb),
        vec![(
            "20251228_143025_789456_a3f9".to_string(),
            name.to_string(),
            "2025-12-28T14:30:25.789456Z".to_string()
        )]
    );
    let mut now = tree(&sb.work());
    now.remove("outputs/latest");
    now.remove("logs/latest.txt");
    assert_eq!(now, stopped);
    // Converged: a re-run finds nothing and changes nothing.
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["planned"], serde_json::json!([]), "{json}");
    assert_eq!(json["skipped"], serde_json::json!([]), "{json}");
    assert_eq!(migrated(&sb).len(), 1);
}

#[test]
fn a_rename_stopped_half_way_in_either_folder_is_finished_once() {
    let name = "qwen2-7b-drg-full-run1";
    let legacy = "20251228_143025_789456_a3f9";
    // A: killed after outputs/ was renamed (symlink in place), before logs/ was.
    // B: killed between the rename and putting the symlink in place: the marker is left.
    for case in ["A", "B"] {
        let sb = Sandbox::on_sqlite();
        one_legacy_folder(&sb);
        let outputs = sb.work().join("outputs");
        std::fs::rename(outputs.join(legacy), outputs.join(name)).unwrap();
        let link = if case == "A" {
            outputs.join(legacy)
        } else {
            outputs.join(format!(".{legacy}.runctl-migrating"))
        };
        std::os::unix::fs::symlink(name, link).unwrap();
        let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
        assert_eq!(out.status.code(), Some(0), "{case}: {}", stderr(&out));
        assert_eq!(
            migrated(&sb),
            vec![(
                legacy.to_string(),
                name.to_string(),
                "2025-12-28T14:30:25.789456Z".to_string()
            )],
            "{case}"
        );
        for base in ["outputs", "logs"] {
            let dir = sb.work().join(base);
            assert_eq!(
                std::fs::read_to_string(dir.join(name).join("note.txt")).unwrap(),
                base,
                "{case}"
            );
            assert_eq!(
                std::fs::read_link(dir.join(legacy)).unwrap(),
                Path::new(name)
            );
            assert!(!dir.join(format!(".{legacy}.runctl-migrating")).exists());
        }
        let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(json["planned"], serde_json::json!([]), "{case}: {json}");
    }
}

#[test]
fn a_code_folder_with_a_manifest_is_not_taken_for_a_run() {
    let sb = Sandbox::new();
    sb.init();
    for (folder, file) in [("mylib", "Cargo.toml"), ("tool", "pyproject.toml")] {
        let dir = sb.work().join("outputs").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), "[package]\nname = \"x\"\n").unwrap();
    }
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["renamed"], serde_json::json!([]), "{json}");
    assert!(sb.work().join("outputs/mylib/Cargo.toml").is_file());
}

#[test]
fn markers_runctl_did_not_make_are_left_alone() {
    let sb = Sandbox::new();
    sb.init();
    let outputs = sb.work().join("outputs");
    std::fs::create_dir_all(outputs.join("userdir")).unwrap();
    std::os::unix::fs::symlink("..", outputs.join(".A.runctl-migrating")).unwrap();
    std::os::unix::fs::symlink("/etc", outputs.join(".C.runctl-migrating")).unwrap();
    std::os::unix::fs::symlink("userdir", outputs.join(".B.runctl-migrating")).unwrap();
    std::fs::write(outputs.join(".E.runctl-migrating"), "a file of someone's").unwrap();
    let out = sb.cmd().args(["migrate", "runs", "--yes"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in ["A", "B", "C"] {
        assert!(
            std::fs::symlink_metadata(outputs.join(name)).is_err(),
            "{name} was made"
        );
    }
    assert_eq!(
        std::fs::read_to_string(outputs.join(".E.runctl-migrating")).unwrap(),
        "a file of someone's"
    );
}

#[test]
fn dry_runs_beside_busy_writers_are_never_refused_as_busy() {
    let sb = Sandbox::new();
    one_legacy_folder(&sb);
    let writers: Vec<_> = (0..24)
        .map(|_| sb.spawn(&["new", "-q", "--model", "m"]))
        .collect();
    let planners: Vec<_> = (0..12)
        .map(|_| sb.spawn(&["migrate", "runs", "--dry-run", "-q"]))
        .collect();
    for child in writers.into_iter().chain(planners) {
        let out = child.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

#[test]
fn a_legacy_run_with_only_outputs_gets_an_empty_logs_folder() {
    let sb = Sandbox::new();
    sb.init();
    let legacy = sb.work().join("outputs/20251228_143025_789456_a3f9");
    std::fs::create_dir_all(&legacy).unwrap();
    std::fs::write(legacy.join("metrics.json"), "{}").unwrap();
    let out = sb.cmd().args(["migrate", "runs", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let name = json["renamed"][0]["to"].as_str().unwrap().to_string();
    let env = sb.cmd().args(["env", &name, "--format", "json"]).run();
    let env: serde_json::Value = serde_json::from_slice(&env.raw.stdout).unwrap();
    for key in ["RUN_DIR", "RUN_LOG_DIR"] {
        let dir = env[key].as_str().unwrap();
        assert!(std::path::Path::new(dir).is_dir(), "{key} {dir}");
    }
}
