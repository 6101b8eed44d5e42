//! Hostile inputs to the project itself: settings files that are not files or never end, a
//! project whose path is not valid UTF-8, and settings that point outside the project.

use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use crate::common::*;

#[test]
fn a_settings_file_that_is_a_fifo_or_endless_is_refused_at_once() {
    let sb = Sandbox::new();
    sb.init();
    let settings = sb.work().join("runctl.toml");
    std::fs::remove_file(&settings).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&settings)
        .status()
        .unwrap();
    assert!(made.success());
    let check = |what: &str, expected: &str| {
        for args in [&["list"][..], &["new", "--model", "m"]] {
            let out = sb.cmd().args(args).timeout(Duration::from_secs(20)).run();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{what} {args:?}: {err}");
            assert!(err.contains("runctl.toml"), "{what}: {err}");
            assert!(err.contains(expected), "{what}: {err}");
            assert_no_panic(&out);
        }
    };
    check("fifo", "not a regular file");
    std::fs::remove_file(&settings).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &settings).unwrap();
    check("/dev/zero", "not a regular file");
    std::fs::remove_file(&settings).unwrap();
    std::fs::write(&settings, "#".repeat(2 * 1024 * 1024)).unwrap();
    check("2 MB", "larger than");
}

#[test]
fn a_project_whose_path_is_not_utf8_works_and_writes_only_inside_it() {
    let sb = Sandbox::on_sqlite();
    let parent = sb.work();
    let root = parent.join(std::ffi::OsStr::from_bytes(b"proj\xff\xfe"));
    std::fs::create_dir(&root).unwrap();
    let out = sb.cmd_in(&root).arg("init").run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(root.join(".runctl/state.db").is_file());
    let out = sb.cmd_in(&root).args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(root.join("items.csv"), "id\na\nb\n").unwrap();
    let out = sb
        .cmd_in(&root)
        .args([
            "new",
            "-q",
            "--model",
            "m",
            "--source",
            "items.csv",
            "--key",
            "id",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "cat >/dev/null; echo oops >&2; touch \"$RUN_DIR/$RUNCTL_ITEM_KEY\"; exit 3",
        ])
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_panic(&out);
    // The worker's stderr is logged in the run's own logs folder (in the log of whichever
    // slot took an item: with two slots, one may take both) ...
    let logs = root.join("logs/m-dataset-full-run2");
    let logged: String = entries(&logs, |n| n.starts_with("worker-"))
        .into_iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(logged.contains("oops"), "{logs:?}: {logged}");
    // ... the workers' $RUN_DIR is the run's real folder ...
    for key in ["a", "b"] {
        assert!(root.join("outputs/m-dataset-full-run2").join(key).exists());
    }
    let out = sb
        .cmd_in(&root)
        .args([
            "new",
            "-q",
            "--model",
            "m",
            "--",
            "sh",
            "-c",
            "touch \"$RUN_DIR/cmd\"",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(root.join("outputs/m-dataset-full-run3/cmd").exists());
    // ... and nothing was made beside the project (under a lossy copy of its name, say).
    let beside: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![root.file_name().unwrap().to_os_string()]);
    // The source's path is kept exactly: its drift is seen, and export will not overwrite it.
    let source = std::fs::read(root.join("items.csv")).unwrap();
    let out = sb
        .cmd_in(&root)
        .args(["export", "m-dataset-full-run2", "-o", "items.csv"])
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read(root.join("items.csv")).unwrap(), source);
    std::fs::write(
        root.join("items.csv"),
        "id
a
b
c
",
    )
    .unwrap();
    let out = sb
        .cmd_in(&root)
        .args(["resume", "m-dataset-full-run2", "--retry-errors"])
        .run();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("input drift"), "{}", stderr(&out));
    let out = sb.cmd_in(&root).args(["list", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 3, "{runs}");
}

#[test]
fn settings_that_point_run_folders_outside_the_project_are_refused() {
    let sb = Sandbox::new();
    sb.init();
    let victim = sb.tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::create_dir(victim.join("20240101_000000_000000_abcd")).unwrap();
    let settings = sb.work().join("runctl.toml");
    let template = std::fs::read_to_string(&settings).unwrap();
    for (outputs, logs) in [("../victim", "logs"), ("/", "logs"), ("outputs", "/tmp/..")] {
        let text = template
            .replace("outputs = \"outputs\"", &format!("outputs = \"{outputs}\""))
            .replace("logs = \"logs\"", &format!("logs = \"{logs}\""));
        std::fs::write(&settings, text).unwrap();
        for args in [
            &["new", "--model", "m", "--dataset", "d"][..],
            &["migrate", "runs", "--yes"],
            &["name", "--model", "m"],
        ] {
            let out = sb.cmd().args(args).run();
            assert_no_panic(&out);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{outputs} {args:?}: {err}");
            assert!(
                err.contains("points outside the project root")
                    && err.contains("paths.allow_outside")
                    || err.contains("a folder above it"),
                "{err}"
            );
        }
        assert!(!std::path::Path::new("/m-d-full-run1").exists());
    }
    let names: Vec<_> = std::fs::read_dir(&victim)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec!["20240101_000000_000000_abcd"],
        "the victim folder is untouched"
    );
    assert!(!victim.join("latest").exists());
    // The project root itself, or runctl's state folder: never a folder for runs.
    std::fs::create_dir_all(sb.work().join("docs")).unwrap();
    std::fs::write(sb.work().join("docs/config.yaml"), "a: 1\n").unwrap();
    for outputs in [".", "", "x/..", ".runctl"] {
        let text = template.replace("outputs = \"outputs\"", &format!("outputs = \"{outputs}\""));
        std::fs::write(&settings, text).unwrap();
        for args in [&["new", "--model", "m"][..], &["migrate", "runs", "--yes"]] {
            let out = sb.cmd().args(args).run();
            assert_eq!(
                out.status.code(),
                Some(1),
                "{outputs:?} {args:?}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out)
                    .contains("names the project root, a folder above it or its .runctl/ folder")
            );
        }
    }
    // Nor where it really leads: a symlink `outputs -> .`, or `..` even when outside is allowed.
    let allowed = template.replace("allow_outside = false", "allow_outside = true");
    std::fs::write(
        &settings,
        allowed.replace("outputs = \"outputs\"", "outputs = \"..\""),
    )
    .unwrap();
    let out = sb.cmd().args(["migrate", "runs", "--yes"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    std::fs::write(&settings, &template).unwrap();
    std::os::unix::fs::symlink(".", sb.work().join("outputs")).unwrap();
    for args in [&["new", "--model", "m"][..], &["migrate", "runs", "--yes"]] {
        let out = sb.cmd().args(args).run();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("a folder above it"),
            "{}",
            stderr(&out)
        );
    }
    std::fs::remove_file(sb.work().join("outputs")).unwrap();
    assert!(
        sb.work().join("docs/config.yaml").is_file(),
        "docs/ was taken for a run"
    );
    assert!(!sb.work().join("x").exists());
    // Said outright, it is allowed.
    let text = template
        .replace("outputs = \"outputs\"", "outputs = \"../victim\"")
        .replace("allow_outside = false", "allow_outside = true");
    std::fs::write(&settings, text).unwrap();
    let out = sb
        .cmd()
        .args(["new", "--model", "m", "--dataset", "d"])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(victim.join("m-d-full-run1").is_dir());
}

#[test]
fn symlinks_planted_at_the_lock_the_hash_file_and_the_worker_log_are_not_followed() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let victim = sb.tmp.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::write(sb.work().join("items.csv"), "id\na\nb\n").unwrap();
    sb.new_run_over("items.csv");
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let run: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    let id = run["id"].as_str().unwrap();
    let worker = sb.work().join("w.sh");
    write_exec(
        &worker,
        "#!/bin/sh\ncat >/dev/null\necho noise >&2\necho ok\n",
    );

    // The run's lock.
    let locks = sb.work().join(".runctl/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let lock = locks.join(format!("{id}.lock"));
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let out = sb.cmd().args(["resume", "-j", "1", "--", "./w.sh"]).run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing to follow it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_file(&lock).unwrap();

    // The worker's log.
    let log_dir = sb.work().join("logs/m-dataset-full-run1");
    std::os::unix::fs::symlink(&victim, log_dir.join("worker-1.log")).unwrap();
    let out = sb.cmd().args(["resume", "-j", "1", "--", "./w.sh"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");

    // Hard links to the victim at the lock and at a worker log: not written through either.
    let out = sb
        .cmd()
        .args([
            "new",
            "--model",
            "m2",
            "--source",
            "items.csv",
            "--key",
            "id",
        ])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let show = sb.cmd().args(["show", "latest", "--json"]).run();
    let run2: serde_json::Value = serde_json::from_slice(&show.raw.stdout).unwrap();
    let lock2 = locks.join(format!("{}.lock", run2["id"].as_str().unwrap()));
    std::fs::hard_link(&victim, &lock2).unwrap();
    let resume2 = || {
        sb.cmd()
            .args(["resume", "m2-dataset-full-run1", "-j", "1", "--", "./w.sh"])
            .run()
    };
    let out = resume2();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has other names"), "{}", stderr(&out));
    std::fs::remove_file(&lock2).unwrap();
    std::fs::hard_link(
        &victim,
        sb.work().join("logs/m2-dataset-full-run1/worker-1.log"),
    )
    .unwrap();
    let out = resume2();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(
        stderr(&out).contains("worker-1.log cannot be written"),
        "{}",
        stderr(&out)
    );

    // The hash file of a linked folder: replaced by a real file, the target untouched.
    let dir = sb.work().join("M:lr=0.1");
    std::fs::create_dir(&dir).unwrap();
    let out = sb.cmd().args(["hash", ":lr=0.1"]).run();
    let hex = stdout(&out).trim().trim_start_matches(":hash=").to_string();
    let hash_file = dir.join(format!("{hex}.hash"));
    std::os::unix::fs::symlink(&victim, &hash_file).unwrap();
    let out = sb.cmd().args(["link", "M:lr=0.1"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(&hash_file).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&hash_file).unwrap(), "lr=0.1\n");
}

#[test]
fn tables_print_cells_of_any_length() {
    let sb = Sandbox::new();
    sb.init();
    let job = "j".repeat(70_000);
    let url = format!("s3://b/{}", "u".repeat(70_000));
    sb.cmd()
        .args(["version", "new", "style_1", "--job-id", &job])
        .run()
        .success();
    sb.cmd()
        .args(["version", "complete", "--job-id", &job, "--url", &url])
        .run()
        .success();
    let out = sb.cmd().args(["version", "list"]).run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&url));
}

#[test]
fn terminal_escapes_in_a_command_line_never_reach_the_terminal() {
    let sb = Sandbox::new();
    sb.init();
    let evil = "\u{1b}]0;pwn\u{7}\u{1b}[2J\u{202e}";
    let out = sb
        .cmd()
        .args(["new", "--model", "m", "--", "true", evil])
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
    for args in [&["show", "latest"][..], &["list"]] {
        let out = sb.cmd().args(args).run();
        let text = stdout(&out);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?}: {text}"
        );
        assert!(!text.contains('\u{202e}'), "{args:?}: {text}");
    }
    let out = sb.cmd().args(["show", "latest"]).run();
    assert!(stdout(&out).contains("\\u{1b}]0;pwn"), "{}", stdout(&out));
    // Error lines that quote what they were given, and hidden characters beyond the controls.
    for args in [
        &["show", "x\u{1b}[31mred"][..],
        &["link", "M:x\u{1b}]0;t\u{7}"],
        &[
            "new",
            "--model",
            "m",
            "--source",
            "no\u{1b}[2J.csv",
            "--key",
            "id",
        ],
        &["show", "a\u{61c}b\u{ad}c\u{e0041}"],
    ] {
        let out = sb.cmd().args(args).run();
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        for hidden in ['\u{1b}', '\u{7}', '\u{61c}', '\u{ad}', '\u{e0041}'] {
            assert!(!err.contains(hidden), "{args:?}: {err:?}");
        }
    }
    // --json keeps the value as it is (JSON escapes it).
    let out = sb.cmd().args(["show", "latest", "--json"]).run();
    let run: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(run["command"][1], evil);
}

#[test]
fn write_commands_refused_for_their_arguments_make_no_state_folder() {
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("items.csv"), "id\na\n").unwrap();
    for args in [
        &["version", "new", ""][..],
        &["version", "new", "../f"],
        &["version", "import", "nope.json"],
        &["version", "complete", "--job-id", "zz", "--url", "s3://b/x"],
        &["version", "fail", "--job-id", "zz"],
        &["link", "no-such-folder"],
        &[
            "new",
            "--model",
            "m",
            "--source",
            "missing.csv",
            "--key",
            "id",
        ],
        &[
            "new",
            "--model",
            "m",
            "--source",
            "items.csv",
            "--key",
            "id",
            "--",
            "nosuchworker",
        ],
    ] {
        let out = sb.cmd().args(args).run();
        assert_no_panic(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            !sb.work().join(".runctl").exists(),
            "{args:?} made .runctl/"
        );
    }
}
