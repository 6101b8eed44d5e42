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
            let out = sb
                .cmd()
                .args(args)
                .timeout(Duration::from_secs(20))
                .output()
                .unwrap();
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
    let sb = Sandbox::new();
    let parent = sb.work();
    let root = parent.join(std::ffi::OsStr::from_bytes(b"proj\xff\xfe"));
    std::fs::create_dir(&root).unwrap();
    let out = sb.cmd_in(&root).arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(root.join(".runctl/state.db").is_file());
    let out = sb
        .cmd_in(&root)
        .args(["new", "--model", "m"])
        .output()
        .unwrap();
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
        .args(["--", "sh", "-c", "cat >/dev/null; echo oops >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_no_panic(&out);
    // The worker's stderr is logged in the run's own logs folder ...
    let log = root.join("logs/m-dataset-full-run2/worker-1.log");
    assert!(
        std::fs::read_to_string(&log).unwrap().contains("oops"),
        "{log:?}"
    );
    // ... and nothing was made beside the project (under a lossy copy of its name, say).
    let beside: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![root.file_name().unwrap().to_os_string()]);
    let out = sb.cmd_in(&root).args(["list", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
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
            let out = sb.cmd().args(args).output().unwrap();
            assert_no_panic(&out);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{outputs} {args:?}: {err}");
            assert!(err.contains("points outside the project root"), "{err}");
            assert!(err.contains("paths.allow_outside"), "{err}");
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
    // Said outright, it is allowed.
    let text = template
        .replace("outputs = \"outputs\"", "outputs = \"../victim\"")
        .replace("allow_outside = false", "allow_outside = true");
    std::fs::write(&settings, text).unwrap();
    let out = sb
        .cmd()
        .args(["new", "--model", "m", "--dataset", "d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(victim.join("m-d-full-run1").is_dir());
}
