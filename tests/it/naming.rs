//! Run names over the binary: the seed's table, the counter (DB and hand-made folders), atomic
//! allocation under 64 concurrent processes, forced indexes, the limits, the runtime metadata,
//! and `new -- CMD` with its exit code and signals.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn new(sb: &Sandbox, args: &[&str]) -> String {
    let out = sb.cmd().arg("new").args(args).run();
    assert_eq!(out.status.code(), Some(0), "new {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

#[test]
fn the_seed_table_comes_out_exactly() {
    let sb = Sandbox::new();
    sb.init();
    // Row 1: nothing before it.
    assert_eq!(
        new(
            &sb,
            &[
                "--model",
                "Qwen2-7B",
                "--dataset",
                "drg_letters",
                "--sample-size",
                "full"
            ]
        ),
        "qwen2-7b-drg_letters-full-run1"
    );
    // Row 2: one earlier run of the same model and dataset (another size).
    new(
        &sb,
        &[
            "--model",
            "mistral-7b",
            "--dataset",
            "drg_letters-debug",
            "--sample-size",
            "512",
        ],
    );
    assert_eq!(
        new(
            &sb,
            &[
                "--model",
                "mistral-7b",
                "--dataset",
                "drg_letters-debug",
                "--sample-size",
                "2048"
            ]
        ),
        "mistral-7b-drg_letters-debug-n2048-run2"
    );
    // Row 3: scope model, four earlier runs of the model on other datasets.
    for d in ["a", "b", "c", "d"] {
        new(
            &sb,
            &[
                "--model",
                "phi-3-medium",
                "--dataset",
                d,
                "--scope",
                "model",
            ],
        );
    }
    assert_eq!(
        new(
            &sb,
            &[
                "--model",
                "phi-3-medium",
                "--sample-size",
                "32",
                "--scope",
                "model"
            ]
        ),
        "phi-3-medium-dataset-n32-run5"
    );
    // Row 4: scope global; the highest number anywhere is 16 (a folder from before runctl),
    // and the names come from the pipeline's YAML config.
    std::fs::create_dir_all(sb.work().join("outputs/old-model-data-full-run16")).unwrap();
    std::fs::write(
        sb.work().join("train.yaml"),
        "training:\n  model_name_or_path: meta/llama-3-8b\ndata:\n  dataset_name: drg_letters full\n  sample_size: null\n",
    )
    .unwrap();
    assert_eq!(
        new(&sb, &["--config", "train.yaml", "--scope", "global"]),
        "meta-llama-3-8b-drg_letters-full-run17"
    );
}

#[test]
fn segment_sources_in_order() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("c.json"), r#"{"training":{"model_name_or_path":"From-Config"},"data":{"dataset_name":"cfg_data","sample_size":64}}"#).unwrap();
    let name = |args: &[&str], served: Option<&str>| {
        let mut cmd = sb.cmd();
        if let Some(s) = served {
            cmd.env("SERVED_MODEL_NAME", s);
        }
        let out = cmd.arg("name").args(args).run();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    };
    assert_eq!(
        name(&["--model", "Flag", "--config", "c.json"], Some("served")),
        "flag-cfg_data-n64-run1"
    );
    assert_eq!(
        name(&["--config", "c.json"], Some("served")),
        "from-config-cfg_data-n64-run1"
    );
    assert_eq!(
        name(&[], Some("Served Model")),
        "served-model-dataset-full-run1"
    );
    assert_eq!(
        name(
            &[
                "--model-path",
                "/models/Llama-3-8B/",
                "--preprocess-dir",
                "prep/drg_letters_n2048"
            ],
            None
        ),
        "llama-3-8b-drg_letters-full-run1"
    );
    // runctl.toml can point at other config keys.
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replace(
            "model_key = \"training.model_name_or_path\"",
            "model_key = \"data.dataset_name\"",
        ),
    )
    .unwrap();
    assert_eq!(
        name(&["--config", "c.json"], None),
        "cfg_data-cfg_data-n64-run1"
    );
    // `name` allocated nothing.
    assert!(!sb.work().join("outputs").exists());
}

#[test]
fn a_hand_made_folder_is_never_reused() {
    let sb = Sandbox::new();
    sb.init();
    assert_eq!(
        new(&sb, &["--model", "m", "--dataset", "d"]),
        "m-d-full-run1"
    );
    std::fs::create_dir_all(sb.work().join("outputs/m-d-full-run7")).unwrap();
    assert_eq!(
        new(&sb, &["--model", "m", "--dataset", "d"]),
        "m-d-full-run8"
    );
    std::fs::create_dir_all(sb.work().join("logs/m-d-full-run12")).unwrap();
    assert_eq!(
        new(&sb, &["--model", "m", "--dataset", "d"]),
        "m-d-full-run13"
    );
    // The pointers name the newest run.
    assert_eq!(
        std::fs::read_link(sb.work().join("outputs/latest")).unwrap(),
        Path::new("m-d-full-run13")
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("logs/latest.txt")).unwrap(),
        "m-d-full-run13\n"
    );
}

#[test]
fn among_100000_folders_one_made_by_hand_is_seen() {
    let sb = Sandbox::new();
    sb.init();
    let outputs = sb.work().join("outputs");
    std::fs::create_dir(&outputs).unwrap();
    // 100,000 folders: 5,000 of this scope and 95,000 of 19 others (numbers end at 9999).
    for k in 0..20 {
        let dataset = if k == 0 {
            "d".to_string()
        } else {
            format!("x{k}")
        };
        for n in 1..=5_000 {
            std::fs::create_dir(outputs.join(format!("m-{dataset}-full-run{n}"))).unwrap();
        }
    }
    let next = |sb: &Sandbox| new(sb, &["--model", "m", "--dataset", "d"]);
    // A folder made by hand moves the folder's time on (past ext4's 65,000 subfolders its link
    // count says nothing; a folder made within the same tick of the file system's clock as the
    // last new is seen at the next change: docs/naming.md).
    let by_hand = |path: std::path::PathBuf| {
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::create_dir(path).unwrap();
    };
    assert_eq!(next(&sb), "m-d-full-run5001");
    by_hand(outputs.join("m-d-full-run6000"));
    assert_eq!(next(&sb), "m-d-full-run6001");
    by_hand(sb.work().join("logs/m-d-full-run7000"));
    assert_eq!(next(&sb), "m-d-full-run7001");
    assert_eq!(next(&sb), "m-d-full-run7002");
    // Another scope's counter is not taken in by these folders.
    assert_eq!(
        new(&sb, &["--model", "n", "--dataset", "d"]),
        "n-d-full-run1"
    );
    // The folder is read again only when it changed: files named like runs, made with the
    // folder's time put back, leave it as the cache knew it; the next number is then the
    // cache's, and the file's name is still never taken.
    let time = std::fs::metadata(&outputs).unwrap().modified().unwrap();
    std::fs::write(outputs.join("m-d-full-run7003"), "by hand").unwrap();
    std::fs::write(outputs.join("m-d-full-run8000"), "by hand").unwrap();
    std::fs::File::open(&outputs)
        .unwrap()
        .set_modified(time)
        .unwrap();
    assert_eq!(next(&sb), "m-d-full-run7004");
    // Once the folder's time moves, it is read again.
    std::fs::File::open(&outputs)
        .unwrap()
        .set_modified(time + std::time::Duration::from_secs(1))
        .unwrap();
    assert_eq!(next(&sb), "m-d-full-run8001");
}

#[test]
fn a_folder_made_by_hand_within_the_same_tick_is_seen_by_its_link_count() {
    let sb = Sandbox::new();
    sb.init();
    let next = |sb: &Sandbox| new(sb, &["--model", "m", "--dataset", "d"]);
    let outputs = sb.work().join("outputs");
    for round in 0..3 {
        let made = next(&sb);
        // Within the tick of the new's own folder the folder's time does not move (put back
        // here, so that it is so every time); its link count does.
        let time = std::fs::metadata(&outputs).unwrap().modified().unwrap();
        let by_hand = 1000 + round * 100;
        std::fs::create_dir(outputs.join(format!("m-d-full-run{by_hand}"))).unwrap();
        std::fs::File::open(&outputs)
            .unwrap()
            .set_modified(time)
            .unwrap();
        assert_eq!(
            next(&sb),
            format!("m-d-full-run{}", by_hand + 1),
            "after {made}"
        );
    }
}

#[test]
fn sixty_four_concurrent_news_get_distinct_names_twenty_times() {
    for round in 0..20 {
        let sb = Sandbox::new();
        sb.init();
        let children: Vec<_> = (0..64)
            .map(|_| sb.spawn(&["new", "--model", "qwen2-7b", "--dataset", "drg_letters"]))
            .collect();
        let mut names = Vec::new();
        for child in children {
            let out = child.wait();
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {}",
                stderr(&out)
            );
            names.push(stdout(&out).trim().to_string());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 64, "round {round}: duplicate names");
        let mut expected: Vec<String> = (1..=64)
            .map(|n| format!("qwen2-7b-drg_letters-full-run{n}"))
            .collect();
        expected.sort();
        assert_eq!(names, expected, "round {round}");
        let folders = std::fs::read_dir(sb.work().join("outputs"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
            .count();
        assert_eq!(folders, 64, "round {round}");
    }
}

#[test]
fn a_forced_index_on_a_taken_name_is_a_conflict_and_force_loses_nothing() {
    let sb = Sandbox::new();
    sb.init();
    new(&sb, &["--model", "m", "--dataset", "d"]);
    std::fs::write(
        sb.work().join("outputs/m-d-full-run1/weights.bin"),
        b"precious",
    )
    .unwrap();
    let out = sb
        .cmd()
        .args(["new", "--model", "m", "--dataset", "d", "--run-index", "1"])
        .run();
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains(
            "run index 1 is taken: the name m-d-full-run1 belongs to run m-d-full-run1 (id "
        ),
        "{err}"
    );
    let out = sb
        .cmd()
        .env("FORCE_RUN_INDEX", "1")
        .args(["new", "--model", "m", "--dataset", "d"])
        .run();
    assert_eq!(
        out.status.code(),
        Some(3),
        "FORCE_RUN_INDEX works like --run-index"
    );

    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "m",
            "--dataset",
            "d",
            "--run-index",
            "1",
            "--force",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("is kept, marked superseded; its folder moved to"),
        "{err}"
    );
    let moved: Vec<_> = std::fs::read_dir(sb.work().join("outputs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("m-d-full-run1.superseded-"))
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        std::fs::read(
            sb.work()
                .join("outputs")
                .join(&moved[0])
                .join("weights.bin")
        )
        .unwrap(),
        b"precious"
    );
    assert!(sb.work().join("outputs/m-d-full-run1").is_dir());
    let out = sb.cmd().args(["list", "--json"]).run();
    let runs: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["created", "superseded"]);
    assert!(
        runs[1]["moved_to"]
            .as_str()
            .unwrap()
            .contains(".superseded-")
    );
    // A forced index that is free just takes it.
    assert_eq!(
        new(
            &sb,
            &["--model", "m", "--dataset", "d", "--run-index", "42"]
        ),
        "m-d-full-run42"
    );
    assert_eq!(
        new(&sb, &["--model", "m", "--dataset", "d"]),
        "m-d-full-run43"
    );
}

#[test]
fn past_run9999_names_fall_back_to_a_timestamp() {
    let sb = Sandbox::new();
    sb.init();
    assert_eq!(
        new(&sb, &["--model", "m", "--run-index", "9999"]),
        "m-dataset-full-run9999"
    );
    let name = new(&sb, &["--model", "m"]);
    let stamp = name.strip_prefix("m-dataset-full-ts").unwrap();
    assert_eq!(stamp.len(), 14, "{name}");
    assert!(stamp.bytes().all(|b| b.is_ascii_digit()), "{name}");
    let out = sb.cmd().args(["show", "latest", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["number"], serde_json::Value::Null);
    assert_eq!(json["prefix"], "m-dataset-full");
}

#[test]
fn long_segments_and_paths_are_cut_to_the_limits() {
    let sb = Sandbox::new();
    sb.init();
    let long = "x".repeat(200);
    let name = new(&sb, &["--model", &long, "--dataset", &long]);
    assert!(name.len() <= 128, "{}", name.len());
    assert!(name.ends_with("-full-run1"), "{name}");
    // A tight naming.max_path: the folder path stays within it, and stderr says so.
    let root_len = sb.work().to_str().unwrap().len();
    let toml = sb.work().join("runctl.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let max_path = root_len + "/outputs/".len() + 40;
    std::fs::write(
        &toml,
        text.replace("max_path = 240", &format!("max_path = {max_path}")),
    )
    .unwrap();
    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "a-rather-long-model-name-for-this-test",
            "--dataset",
            "and-a-long-dataset-name-too",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("note: shortened the"),
        "{}",
        stderr(&out)
    );
    let name = stdout(&out).trim().to_string();
    let dir = sb.work().join("outputs").join(&name);
    assert!(dir.is_dir());
    assert!(
        dir.to_str().unwrap().len() <= max_path,
        "{} > {max_path}",
        dir.to_str().unwrap().len()
    );
}

#[test]
fn legacy_mode_names_folders_by_run_id() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb
        .cmd()
        .env("USE_LEGACY_NAMING", "1")
        .args(["new", "--model", "m", "--json"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["dir_name"], json["id"]);
    assert_eq!(json["name"], "m-dataset-full-run1");
    assert!(
        sb.work()
            .join("outputs")
            .join(json["id"].as_str().unwrap())
            .is_dir()
    );
    assert_eq!(json["env"]["RUN_DIR_NAME"], json["id"]);
}

#[test]
fn shell_format_evals_in_bash_and_zsh_whatever_the_path() {
    let sb = Sandbox::new();
    let root = sb.tmp.path().join("it's a \"q\" $HOME `x` dir");
    std::fs::create_dir_all(&root).unwrap();
    sb.cmd_in(&root).arg("init").run().success();
    let out = sb
        .cmd_in(&root)
        .args(["new", "--model", "m", "--format", "shell"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let script = stdout(&out);
    let expected_dir = root.join("outputs/m-dataset-full-run1");
    let shells: Vec<&str> = ["bash", "zsh"]
        .into_iter()
        .filter(|s| Command::new(s).arg("-c").arg("true").status().is_ok())
        .collect();
    assert!(shells.contains(&"bash"));
    if std::env::var_os("CI").is_some() {
        assert!(shells.contains(&"zsh"), "CI installs zsh for this test");
    }
    for shell in shells {
        let probe = format!(
            "{script}\nprintf '%s\\n' \"$RUN_NAME\" \"$RUN_NUMBER\" \"$RUN_DIR\" \"$SERVED_MODEL_NAME\""
        );
        let out = Command::new(shell).arg("-c").arg(&probe).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("m-dataset-full-run1\n1\n{}\nm\n", expected_dir.display()),
            "{shell}"
        );
    }
    // env and json forms carry the same values.
    let out = sb.cmd_in(&root).args(["env", "latest"]).run();
    assert!(stdout(&out).contains(&format!("RUN_DIR={}\n", expected_dir.display())));
    let out = sb
        .cmd_in(&root)
        .args(["env", "latest", "--format", "json"])
        .run();
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(
        json["RUN_LOG_DIR"],
        root.join("logs/m-dataset-full-run1").to_str().unwrap()
    );
    assert_eq!(json["RUN_NAME_PREFIX"], "m-dataset-full");
}

#[test]
fn new_runs_the_command_with_the_metadata_and_passes_its_exit_code() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "m",
            "--",
            "sh",
            "-c",
            "echo \"$RUN_NAME|$RUN_ID|$RUN_DIR\" > \"$RUN_DIR/env.txt\"; exit 7",
        ])
        .run();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(
        stdout(&out),
        "",
        "text format prints nothing on stdout when a command runs"
    );
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    assert_eq!(json["status"], "failed");
    assert_eq!(json["exit_code"], 7);
    assert!(json["started_at"].is_string() && json["finished_at"].is_string());
    let env =
        std::fs::read_to_string(sb.work().join("outputs/m-dataset-full-run1/env.txt")).unwrap();
    assert_eq!(
        env.trim(),
        format!(
            "m-dataset-full-run1|{}|{}",
            json["id"].as_str().unwrap(),
            json["outputs_dir"].as_str().unwrap()
        )
    );
    let out = sb.cmd().args(["new", "--model", "m", "--", "true"]).run();
    assert_eq!(out.status.code(), Some(0));
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    assert_eq!(json["status"], "completed");
    let out = sb
        .cmd()
        .args(["new", "--model", "m", "--", "/nonexistent/program"])
        .run();
    assert_eq!(out.status.code(), Some(127));
    assert!(stderr(&out).contains("error: cannot run /nonexistent/program"));
}

#[test]
fn sigint_to_runctl_reaches_the_command_and_the_run_ends_interrupted() {
    let sb = Sandbox::new();
    sb.init();
    let script = "trap 'echo got-int > \"$RUN_DIR/sig\"; exit 130' INT; touch \"$RUN_DIR/ready\"; while :; do sleep 0.05; done";
    let child = sb.spawn(&["new", "--model", "m", "--", "sh", "-c", script]);
    let ready = sb.work().join("outputs/m-dataset-full-run1/ready");
    let start = std::time::Instant::now();
    while !ready.exists() {
        assert!(start.elapsed().as_secs() < 20, "the command never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(sb.work().join("outputs/m-dataset-full-run1/sig")).unwrap(),
        "got-int\n"
    );
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let json: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    assert_eq!(json["status"], "interrupted");
    assert_eq!(json["exit_code"], 130);
}

#[test]
fn show_finds_runs_by_name_id_prefix_and_latest() {
    let sb = Sandbox::new();
    sb.init();
    new(&sb, &["--model", "a"]);
    new(&sb, &["--model", "b"]);
    let out = sb.cmd().args(["list", "--json"]).run();
    let runs: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let newest_id = runs[0]["id"].as_str().unwrap().to_string();
    assert_eq!(runs[0]["name"], "b-dataset-full-run1");
    for reference in [
        "b-dataset-full-run1",
        newest_id.as_str(),
        &newest_id[..24],
        "latest",
    ] {
        let out = sb.cmd().args(["show", "--json", reference]).run();
        assert_eq!(out.status.code(), Some(0), "{reference}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(json["id"], newest_id.as_str(), "{reference}");
    }
    // Both ids start with today's date: an ambiguous prefix lists the candidates.
    let out = sb.cmd().args(["show", &newest_id[..8]]).run();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("matches more than one run id"), "{err}");
    assert!(
        err.contains("a-dataset-full-run1") && err.contains("b-dataset-full-run1"),
        "{err}"
    );
    let out = sb.cmd().args(["show", "nope"]).run();
    assert_eq!(out.status.code(), Some(4));
    // list: aligned table, newest first, filters normalized like names.
    let out = sb.cmd().args(["list"]).run();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME                 STATUS   ITEMS  CREATED (UTC)"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("b-dataset-full-run1  created  -"),
        "{text}"
    );
    let out = sb.cmd().args(["list", "--model", "A", "--json"]).run();
    let runs: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let out = sb.cmd().args(["list", "--limit", "1", "--json"]).run();
    let runs: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[test]
fn bad_naming_input_gets_clear_errors() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb.cmd().args(["new", "--config", "missing.yaml"]).run();
    assert_eq!(out.status.code(), Some(4));
    std::fs::write(sb.work().join("bad.yaml"), "training: [unclosed\n").unwrap();
    let out = sb.cmd().args(["new", "--config", "bad.yaml"]).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not valid YAML"),
        "{}",
        stderr(&out)
    );
    let out = sb.cmd().args(["new", "--force"]).run();
    assert_eq!(out.status.code(), Some(2));
    let out = sb.cmd().env("FORCE_RUN_INDEX", "abc").arg("new").run();
    assert_eq!(out.status.code(), Some(2));
    let huge = "é\u{1}\u{7}日本".repeat(2500);
    let out = sb
        .cmd()
        .args(["new", "--model", &huge, "--dataset", &huge])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).trim().len() <= 128);
    assert_no_panic(&out);
    assert!(
        !sb.work().join("outputs").read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("--"))
    );
}

#[test]
fn shortened_segments_are_recorded_in_the_hash_registry() {
    let sb = Sandbox::new();
    sb.init();
    let long = "y".repeat(100);
    let out = sb.cmd().args(["new", "--model", &long, "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    let short = json["name"]
        .as_str()
        .unwrap()
        .strip_suffix("-dataset-full-run1")
        .unwrap()
        .to_string();
    assert_eq!(short.len(), 64);
    // SQL: that the name's hash was recorded by naming (its origin) is not something the CLI
    // shows.
    let rows: Vec<(String, String)> = sb
        .tables()
        .rows(
            "SELECT hash, identifier FROM hashes WHERE origin = 'naming'",
            &[],
        )
        .into_iter()
        .map(|mut r| (r[0].take().unwrap(), r[1].take().unwrap()))
        .collect();
    assert_eq!(rows, vec![(short, long)]);
}

#[test]
fn values_are_taken_as_the_docs_spell_them_and_unknown_ones_refused() {
    let sb = Sandbox::new();
    sb.init();
    // --scope as runctl.toml, show and --json spell it, and with a hyphen.
    for scope in ["model_dataset", "model-dataset"] {
        let out = sb.run(&["name", "--model", "m", "--scope", scope, "--json"]);
        assert_eq!(out.code, Some(0), "{scope}: {}", out.stderr);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(json["scope"], "model_dataset");
    }
    // list --status takes the statuses runctl writes, and refuses anything else, listing them.
    let out = sb.run(&["list", "--status", "completed_with_errors"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = sb.run(&["list", "--status", "bogus"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    for status in [
        "created",
        "running",
        "completed",
        "completed_with_errors",
        "failed",
        "interrupted",
        "migrated",
        "superseded",
    ] {
        assert!(out.stderr.contains(status), "{status}: {}", out.stderr);
    }
    // A config without any of the naming keys: a warning that names them.
    std::fs::write(sb.work().join("train.yaml"), "lr: 0.1\n").unwrap();
    let out = sb.run(&["name", "--config", "train.yaml"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "model-dataset-full-run1\n");
    for key in [
        "training.model_name_or_path",
        "data.dataset_name",
        "data.sample_size",
    ] {
        assert!(out.stderr.contains(key), "{key}: {}", out.stderr);
    }
    // With one of them, no warning.
    std::fs::write(
        sb.work().join("train.yaml"),
        "data:\n  dataset_name: letters\n",
    )
    .unwrap();
    let out = sb.run(&["name", "--config", "train.yaml"]);
    assert_eq!(out.stderr, "", "{}", out.stderr);
}
