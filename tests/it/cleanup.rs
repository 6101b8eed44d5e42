//! Tags, notes, `archive` and `rm` over the binary: what `show`, `list` and the folders say
//! afterwards, a run a process holds refused, and dry runs and refusals that change nothing.

use std::time::{Duration, Instant};

use crate::common::*;

/// Everything in the project, `.runctl/` included: the DB's bytes and the files beside it (an
/// empty `-wal` and the `-shm` index any reader of a WAL database makes are not changes).
fn whole_tree(
    sb: &Sandbox,
) -> (
    std::collections::BTreeMap<String, String>,
    String,
    Vec<String>,
) {
    // On PostgreSQL there may be no .runctl/ (the run locks' folder) at all.
    let mut state: Vec<String> = match std::fs::read_dir(sb.work().join(".runctl")) {
        Ok(dir) => dir
            .map(|e| e.unwrap())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let empty_wal = name.ends_with("-wal") && e.metadata().unwrap().len() == 0;
                !(name.ends_with("-shm") || empty_wal)
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) if sb.db_url.is_some() => Vec::new(),
        Err(e) => panic!("{e}"),
    };
    state.sort();
    use sha2::Digest;
    let db = hex::encode(sha2::Sha256::digest(sb.whole_db()));
    (tree(&sb.work()), db, state)
}

fn new_run(sb: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["new", "--model", "m", "--dataset", "d"];
    all.extend_from_slice(args);
    sb.run(&all).success().stdout.trim().to_string()
}

fn show(sb: &Sandbox, run: &str) -> serde_json::Value {
    sb.run(&["show", run, "--json"]).success().json()
}

fn listed(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let mut all = vec!["list", "--names"];
    all.extend_from_slice(args);
    sb.run(&all)
        .success()
        .stdout
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn tags_are_set_replaced_deleted_and_select_runs_in_list() {
    let sb = Sandbox::new();
    sb.init();
    let a = new_run(&sb, &["--tag", "lr=0.1", "--tag", "owner=ana"]);
    let b = new_run(&sb, &["--tag", "lr=0.2"]);
    assert_eq!(
        show(&sb, &a)["tags"],
        serde_json::json!({"lr": "0.1", "owner": "ana"})
    );
    // Replace one value, add one, delete one; the command prints the tags afterwards.
    let out = sb.run(&["tag", &b, "lr=0.3", "baseline=yes=really"]);
    out.success();
    assert_eq!(out.stdout, "baseline=yes=really\nlr=0.3\n");
    let out = sb.run(&["tag", &b, "--delete", "baseline", "--json"]);
    out.success();
    assert_eq!(out.json()["tags"], serde_json::json!({"lr": "0.3"}));
    assert_eq!(out.json()["run"], b.as_str());
    assert_eq!(listed(&sb, &["--tag", "lr=0.3"]), vec![b.clone()]);
    assert_eq!(
        listed(&sb, &["--tag", "lr=0.1", "--tag", "owner=ana"]),
        vec![a.clone()]
    );
    assert!(listed(&sb, &["--tag", "lr=0.1", "--tag", "owner=bob"]).is_empty());
    assert_eq!(listed(&sb, &[]), vec![b.clone(), a.clone()]);
    // Without pairs: the tags, read only.
    assert_eq!(sb.run(&["tag", &a]).success().stdout, "lr=0.1\nowner=ana\n");
    let text = sb.run(&["show", &a]).success().stdout.clone();
    assert!(text.contains("tag          lr=0.1\n"), "{text}");
}

#[test]
fn a_bad_tag_or_note_is_a_usage_error_and_changes_nothing() {
    let sb = Sandbox::new();
    sb.init();
    let run = new_run(&sb, &["--tag", "keep=1"]);
    let before = whole_tree(&sb);
    let long = format!("k={}", "v".repeat(2000));
    let huge = "x".repeat(70 * 1024);
    for args in [
        vec!["tag", run.as_str(), "novalue"],
        vec!["tag", run.as_str(), "=v"],
        vec!["tag", run.as_str(), "a b=c"],
        vec!["tag", run.as_str(), "k=line\nbreak"],
        vec!["tag", run.as_str(), "ok=1", long.as_str()],
        vec!["tag", run.as_str(), "--delete", "bad key"],
        vec!["note", run.as_str(), "   "],
        vec!["note", run.as_str(), huge.as_str()],
        vec!["list", "--tag", "nope"],
        vec!["new", "--model", "m", "--tag", "x"],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert_no_panic(&out);
    }
    let out = sb
        .cmd()
        .args(["note", &run, "-"])
        .write_stdin(vec![0xff, 0xfe, b'x'])
        .run();
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("not UTF-8"), "{}", out.stderr);
    assert_eq!(
        whole_tree(&sb),
        before,
        "a refused tag or note changed the project"
    );
}

#[test]
fn notes_keep_their_order_and_lines_and_show_prints_them() {
    let sb = Sandbox::new();
    sb.init();
    let run = new_run(&sb, &[]);
    sb.run(&["note", &run, "first", "try"]).success();
    sb.cmd()
        .args(["note", &run, "-"])
        .write_stdin("diverged at 12k\nlr too high\n")
        .run()
        .success();
    let notes = show(&sb, &run)["notes"].clone();
    let texts: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["first try", "diverged at 12k\nlr too high"]);
    assert!(notes[0]["created_at"].as_str().unwrap().starts_with("20"));
    let text = sb.run(&["show", &run]).success().stdout.clone();
    assert!(text.contains("  first try\n"), "{text}");
    assert!(text.contains("  diverged at 12k\n"), "{text}");
    assert!(text.contains("  lr too high\n"), "{text}");
}

#[test]
fn archive_moves_the_folders_hides_the_run_and_list_all_shows_it() {
    let sb = Sandbox::new();
    sb.init();
    let old = new_run(&sb, &[]);
    std::fs::write(
        sb.work().join("outputs").join(&old).join("model.bin"),
        "weights",
    )
    .unwrap();
    let newest = new_run(&sb, &[]);
    sb.run(&["archive", &newest]).success();
    assert_eq!(listed(&sb, &[]), vec![old.clone()]);
    assert_eq!(listed(&sb, &["--all"]), vec![newest.clone(), old.clone()]);
    let view = show(&sb, &newest);
    assert!(view["archived_at"].as_str().unwrap().starts_with("20"));
    let archived = sb.work().join("outputs/.archive/outputs").join(&newest);
    assert_eq!(view["outputs_dir"], archived.to_string_lossy().as_ref());
    assert!(archived.is_dir());
    assert!(
        sb.work()
            .join("outputs/.archive/logs")
            .join(&newest)
            .is_dir()
    );
    assert!(!sb.work().join("outputs").join(&newest).exists());
    // `latest` now names the newest run still shown.
    let latest = std::fs::read_link(sb.work().join("outputs/latest")).unwrap();
    assert_eq!(latest.to_string_lossy(), old);
    assert_eq!(show(&sb, "latest")["name"], old.as_str());
    // Archived runs keep their numbers counted, and archiving again is a no-op.
    assert!(new_run(&sb, &[]).ends_with("-run3"));
    let out = sb.run(&["archive", &newest, "--json"]);
    out.success();
    assert_eq!(out.json()["runs"][0]["skipped"], true);
    // The old run's file moves with it.
    sb.run(&["archive", &old]).success();
    let moved = sb
        .work()
        .join("outputs/.archive/outputs")
        .join(&old)
        .join("model.bin");
    assert_eq!(std::fs::read_to_string(moved).unwrap(), "weights");
}

#[test]
fn dry_runs_change_nothing_and_say_what_would_happen() {
    let sb = Sandbox::new();
    sb.init();
    let a = new_run(&sb, &[]);
    let b = new_run(&sb, &[]);
    let before = whole_tree(&sb);
    let out = sb.run(&["archive", &a, &b, "--dry-run"]);
    out.success();
    assert!(
        out.stdout.contains(&format!(
            "would archive {a}\n  outputs/{a} -> outputs/.archive/outputs/{a}\n"
        )),
        "{}",
        out.stdout
    );
    let out = sb.run(&["rm", &a, "--dry-run", "--json"]);
    out.success();
    let json = out.json();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["action"], "rm");
    assert_eq!(json["runs"][0]["folders"].as_array().unwrap().len(), 2);
    assert_eq!(whole_tree(&sb), before);
}

#[test]
fn rm_deletes_folders_and_record_and_never_gives_the_name_again() {
    let sb = Sandbox::new();
    sb.init();
    let keep = new_run(&sb, &[]);
    let gone = new_run(&sb, &["--tag", "x=1"]);
    sb.run(&["note", &gone, "to delete"]).success();
    // A symlink in the run folder to a file outside: the link goes, the file stays.
    let outside = sb.work().join("precious.txt");
    std::fs::write(&outside, "keep me").unwrap();
    std::os::unix::fs::symlink(&outside, sb.work().join("outputs").join(&gone).join("link"))
        .unwrap();
    // Without a terminal and without --yes: refused, nothing deleted.
    let before = whole_tree(&sb);
    let out = sb.run(&["rm", &gone]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("hint: pass --yes"), "{}", out.stderr);
    assert_eq!(whole_tree(&sb), before);
    sb.run(&["rm", &gone, "--yes"]).success();
    assert!(!sb.work().join("outputs").join(&gone).exists());
    assert!(!sb.work().join("logs").join(&gone).exists());
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
    assert_eq!(listed(&sb, &["--all"]), vec![keep.clone()]);
    let out = sb.run(&["show", &gone]);
    assert_eq!(out.code, Some(4));
    assert_eq!(
        std::fs::read_link(sb.work().join("outputs/latest"))
            .unwrap()
            .to_string_lossy(),
        keep
    );
    // run2 was removed: the next run is run3, not run2 again.
    assert!(new_run(&sb, &[]).ends_with("-run3"));
    // No leftovers beside the folders.
    let names: Vec<String> = std::fs::read_dir(sb.work().join("outputs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("removing"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn list_names_feed_rm_from_stdin() {
    let sb = Sandbox::new();
    sb.init();
    let a = new_run(&sb, &[]);
    let b = new_run(&sb, &["--tag", "sweep=1"]);
    let c = new_run(&sb, &["--tag", "sweep=1"]);
    let names = sb
        .run(&["list", "--tag", "sweep=1", "--names"])
        .success()
        .stdout
        .clone();
    sb.cmd()
        .args(["rm", "-", "--yes"])
        .write_stdin(names)
        .run()
        .success();
    assert_eq!(listed(&sb, &["--all"]), vec![a.clone()]);
    let _ = (b, c);
    // Nothing selected: nothing to do, exit 0.
    let out = sb.cmd().args(["rm", "-", "--yes"]).write_stdin("").run();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // --older-than: a run made a moment ago is not older than a day.
    assert!(listed(&sb, &["--older-than", "1d"]).is_empty());
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(listed(&sb, &["--older-than", "1s"]), vec![a]);
}

#[test]
fn a_failing_step_puts_every_folder_back_and_changes_no_record() {
    let sb = Sandbox::new();
    sb.init();
    let a = new_run(&sb, &[]);
    let b = new_run(&sb, &[]);
    // The second run's place in the archive is taken: archiving both moves neither.
    std::fs::create_dir_all(sb.work().join("outputs/.archive/outputs").join(&b)).unwrap();
    let before = whole_tree(&sb);
    let out = sb.run(&["archive", &a, &b]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr.contains("already in the archive"),
        "{}",
        out.stderr
    );
    let after = whole_tree(&sb);
    assert_eq!(after.0, before.0, "folders moved by a refused archive");
    assert_eq!(listed(&sb, &[]), vec![b.clone(), a.clone()]);
    // A folder that cannot be moved (immutable): removing both deletes neither.
    let _guard = Immutable::set(&sb.work().join("logs").join(&b));
    let out = sb.run(&["rm", &a, &b, "--yes"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_no_panic(&out);
    drop(_guard);
    assert_eq!(tree(&sb.work()), before.0, "folders deleted by a failed rm");
    assert_eq!(listed(&sb, &[]), vec![b, a]);
}

#[test]
fn rm_and_archive_refuse_a_run_a_resume_holds_and_delete_nothing() {
    let sb = Sandbox::on_sqlite(); // the run lock; on PostgreSQL a member holds it: postgres::archive_and_rm_refuse_a_run_that_a_member_works_then_do_their_work;
    sb.init();
    let mut csv = String::from("id\n");
    for i in 0..40 {
        csv.push_str(&format!("{i}\n"));
    }
    std::fs::write(sb.work().join("items.csv"), csv).unwrap();
    let worker = write_exec(
        &sb.work().join("slow.sh"),
        "#!/bin/sh\nsleep 0.2\necho '{}'\n",
    );
    let worker = worker.to_string_lossy().into_owned();
    let mut child = sb.spawn(&[
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
        &worker,
    ]);
    let start = Instant::now();
    let run = loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the run never started"
        );
        let out = sb.run(&["list", "--names"]);
        if let Some(name) = out.stdout.lines().next()
            && sb.run(&["rm", name, "--dry-run"]).code == Some(3)
        {
            break name.to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let before = tree(&sb.work());
    for args in [
        vec!["rm", run.as_str(), "--yes"],
        vec!["archive", run.as_str()],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, Some(3), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("is held by a process (pid {}", child.id())),
            "{}",
            out.stderr
        );
    }
    assert!(sb.work().join("outputs").join(&run).is_dir());
    let _ = child.kill();
    child.wait();
    // Files the worker wrote meanwhile aside, the folders are as they were.
    assert_eq!(
        before
            .keys()
            .filter(|k| !k.starts_with("logs/"))
            .collect::<Vec<_>>(),
        tree(&sb.work())
            .keys()
            .filter(|k| !k.starts_with("logs/"))
            .collect::<Vec<_>>()
    );
    // The holder is gone: now it can go.
    sb.run(&["rm", &run, "--yes"]).success();
}

#[test]
fn a_running_command_holds_its_run() {
    let sb = Sandbox::new();
    sb.init();
    let child = sb.spawn(&["new", "--model", "m", "--", "sleep", "30"]);
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the lock was never taken"
        );
        if sb.run(&["rm", "latest", "--dry-run"]).code == Some(3) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = sb.run(&["rm", "latest", "--yes"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    // SIGTERM is forwarded to the command, which ends; then the run is free.
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait();
    assert_eq!(out.code, Some(143), "{}", out.stderr);
    let out = sb.run(&["rm", "latest", "--yes"]);
    out.success();
}

#[test]
fn new_source_dry_run_shows_the_items_and_bad_keys_and_makes_nothing() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(
        sb.work().join("s.csv"),
        "id,q1,q2\n1,a,b\n2,c,d\n,e,f\n2,g,h\n3,i,j\n",
    )
    .unwrap();
    std::fs::write(sb.work().join("ok.csv"), "id,x\n1,a\n2,b\n").unwrap();
    let before = whole_tree(&sb);
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "s.csv",
        "--key",
        "id",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stdout.contains("would ingest 5 items from "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("first keys: 1, 2, 2, 3\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("empty keys: 1 (at line 4)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("duplicate key 2 at line 5 (first at line 3)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("error: an ingest would refuse this source: 1 empty key and 1 duplicate key"),
        "{}",
        out.stderr
    );
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "s.csv",
        "--key",
        "id",
        "--unpivot",
        "q1,q2",
        "--dry-run",
        "--json",
    ]);
    let json = out.json();
    assert_eq!(json["items"], 10);
    assert_eq!(json["would_ingest"], false);
    assert_eq!(json["first_keys"][0], "[\"1\",\"q1\"]");
    assert!(out.stdout.contains("\"unpivot\""), "{}", out.stdout);
    // A clean file: exit 0. A key column that is not there: the ingest's own error.
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "ok.csv",
        "--key",
        "id",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("would ingest 2 items"),
        "{}",
        out.stdout
    );
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "ok.csv",
        "--key",
        "nope",
        "--dry-run",
    ]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("no column 'nope'"), "{}", out.stderr);
    let out = sb.run(&["new", "--model", "m", "--dry-run"]);
    assert_eq!(
        out.code,
        Some(2),
        "--dry-run without --source: {}",
        out.stderr
    );
    assert_eq!(whole_tree(&sb), before, "a dry run made something");
}

/// The id of the run `list` shows first for these arguments.
fn first_id(sb: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let out = sb.run(&all);
    out.json()[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn a_superseded_run_without_folders_never_takes_the_live_runs() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    let old = first_id(&sb, &[]);
    // Its folders were gone when --force gave its name to a new run.
    std::fs::remove_dir(sb.work().join("outputs/m-d-full-run1")).unwrap();
    std::fs::remove_dir(sb.work().join("logs/m-d-full-run1")).unwrap();
    new_run(&sb, &["--run-index", "1", "--force"]);
    std::fs::write(sb.work().join("outputs/m-d-full-run1/model.bin"), "live").unwrap();
    let out = sb.run(&["rm", &old, "--yes"]);
    out.success();
    assert!(
        out.stderr.contains("(no folders on disk)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(sb.work().join("outputs/m-d-full-run1/model.bin")).unwrap(),
        "live"
    );
    assert!(sb.work().join("logs/m-d-full-run1").is_dir());
    assert_eq!(listed(&sb, &["--all"]), vec!["m-d-full-run1".to_string()]);
}

#[test]
fn list_names_of_superseded_runs_feed_rm_the_superseded_runs_not_the_live_one() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb.run(&["new", "--model", "m", "--dataset", "d", "--", "false"]);
    assert_eq!(out.code, Some(1));
    let failed = first_id(&sb, &[]);
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--dataset",
        "d",
        "--run-index",
        "1",
        "--force",
        "--",
        "true",
    ]);
    out.success();
    let names = sb
        .run(&["list", "--status", "failed", "--names"])
        .stdout
        .clone();
    assert_eq!(
        names,
        format!("{failed}\n"),
        "a superseded run is listed by its id"
    );
    sb.cmd()
        .args(["rm", "-", "--yes"])
        .write_stdin(names)
        .run()
        .success();
    let left = sb.run(&["show", "m-d-full-run1", "--json"]);
    assert_eq!(left.json()["status"], "completed", "the live run is kept");
    assert!(sb.work().join("outputs/m-d-full-run1").is_dir());
    assert_eq!(sb.run(&["show", &failed]).code, Some(4));
}

#[test]
fn rm_and_archive_in_a_copied_project_never_touch_the_original() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    new_run(&sb, &[]);
    std::fs::write(sb.work().join("outputs/m-d-full-run1/f"), "original").unwrap();
    let copy = sb.work().with_file_name("copy");
    let status = std::process::Command::new("cp")
        .args(["-a"])
        .arg(sb.work())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let before = tree(&sb.work());
    let out = sb.run_in(&copy, &["rm", "m-d-full-run1", "--yes"]);
    out.success();
    let out = sb.run_in(&copy, &["archive", "m-d-full-run2"]);
    out.success();
    assert_eq!(tree(&sb.work()), before, "the original project changed");
    assert!(!copy.join("outputs/m-d-full-run1").exists());
    assert!(copy.join("outputs/.archive/outputs/m-d-full-run2").is_dir());
}

#[test]
fn an_archive_setting_inside_a_run_folder_or_latest_is_refused() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    new_run(&sb, &[]);
    let settings = sb.work().join("runctl.toml");
    let original = std::fs::read_to_string(&settings).unwrap();
    for bad in [
        "outputs/m-d-full-run1",
        "outputs/latest",
        "outputs",
        "logs/m-d-full-run1/x",
        "outputs/.archive/../m-d-full-run2",
    ] {
        let text = original.replace(
            "archive = \"outputs/.archive\"",
            &format!("archive = \"{bad}\""),
        );
        std::fs::write(&settings, text).unwrap();
        let before = tree(&sb.work());
        let out = sb.run(&["archive", "m-d-full-run2"]);
        assert_eq!(out.code, Some(1), "{bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("paths.archive"),
            "{bad}: {}",
            out.stderr
        );
        assert_eq!(tree(&sb.work()), before, "{bad}");
    }
    // A folder of its own is fine.
    let text = original.replace("archive = \"outputs/.archive\"", "archive = \"archive\"");
    std::fs::write(&settings, text).unwrap();
    sb.run(&["archive", "m-d-full-run2"]).success();
    assert!(sb.work().join("archive/outputs/m-d-full-run2").is_dir());
}

#[test]
fn a_run_whose_lock_file_was_deleted_is_held_again_while_its_command_runs() {
    let sb = Sandbox::new();
    sb.init();
    let child = sb.spawn(&["new", "--model", "m", "--", "sleep", "30"]);
    let locks = sb.work().join(".runctl/locks");
    let start = Instant::now();
    while sb.run(&["rm", "latest", "--dry-run"]).code != Some(3) {
        assert!(start.elapsed() < Duration::from_secs(30), "never held");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::remove_dir_all(&locks).unwrap();
    // Within a second or two the command's runctl holds the run again.
    let start = Instant::now();
    while sb.run(&["rm", "latest", "--dry-run"]).code != Some(3) {
        assert!(start.elapsed() < Duration::from_secs(10), "not held again");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = sb.run(&["rm", "latest", "--yes"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(sb.work().join("outputs/m-dataset-full-run1").is_dir());
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    child.wait();
}

#[test]
fn an_archive_killed_before_its_commit_is_finished_by_the_next_one() {
    let sb = Sandbox::new();
    sb.init();
    let run = new_run(&sb, &[]);
    std::fs::write(sb.work().join("outputs").join(&run).join("f"), "kept").unwrap();
    // As a kill between the rename and the commit leaves it: the folder moved, no record.
    std::fs::create_dir_all(sb.work().join("outputs/.archive/outputs")).unwrap();
    std::fs::rename(
        sb.work().join("outputs").join(&run),
        sb.work().join("outputs/.archive/outputs").join(&run),
    )
    .unwrap();
    sb.run(&["archive", &run]).success();
    let view = show(&sb, &run);
    let outputs = std::path::PathBuf::from(view["outputs_dir"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(outputs.join("f")).unwrap(), "kept");
    assert!(sb.work().join("outputs/.archive/logs").join(&run).is_dir());
}

#[test]
fn refusals_found_by_trying_the_new_flags() {
    let sb = Sandbox::new();
    sb.init();
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--dataset",
        "d",
        "--tag",
        "a=1",
        "--json",
    ]);
    assert_eq!(
        out.json()["tags"],
        serde_json::json!({"a": "1"}),
        "new --json shows its tags"
    );
    let run = "m-d-full-run1";
    // A place taken in the archive: the dry run says so as the real one would.
    std::fs::create_dir_all(sb.work().join("outputs/.archive/logs").join(run)).unwrap();
    let out = sb.run(&["archive", run, "--dry-run"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    std::fs::remove_dir(sb.work().join("outputs/.archive/logs").join(run)).unwrap();
    // A removed run's number is not handed out by --run-index either (unless --force).
    sb.run(&["rm", run, "--yes"]).success();
    let out = sb.run(&["new", "--model", "m", "--dataset", "d", "--run-index", "1"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr.contains("the removed run m-d-full-run1"),
        "{}",
        out.stderr
    );
    std::fs::write(sb.work().join("s.csv"), "id,q\n1,a\n").unwrap();
    std::fs::create_dir(sb.work().join("adir")).unwrap();
    let before = whole_tree(&sb);
    for args in [
        vec!["new", "--model", "m", "--source", "adir", "--key", "id"],
        vec![
            "new",
            "--model",
            "m",
            "--source",
            "s.csv",
            "--key",
            "id",
            "--unpivot",
            "id",
        ],
        vec!["new", "--model", "m", "--source", "s.csv", "--key", "id,id"],
        vec![
            "new",
            "--model",
            "m",
            "--source",
            "s.csv",
            "--key",
            "id",
            "--unpivot",
            "q,q",
        ],
        vec!["new", "--model", "m", "--no-log"],
        vec!["tag", "latest", "x=1", "--delete", "x"],
    ] {
        let out = sb.run(&args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    }
    let long = "r".repeat(100_000);
    let out = sb.run(&["show", &long]);
    assert_eq!(out.code, Some(4), "{}", out.stderr);
    assert!(out.stderr.len() < 400, "the reference is echoed whole");
    assert_eq!(whole_tree(&sb), before);
}

#[test]
fn errors_name_the_path_the_user_gave() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(sb.work().join("i.csv"), "id\n1\n").unwrap();
    sb.run(&["new", "--model", "m", "--source", "i.csv", "--key", "id"])
        .success();
    let out = sb.run(&["record", "latest", "--from", "/tmp"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: /tmp is a folder"),
        "{}",
        out.stderr
    );
    let out = sb.run(&["export", "latest", "-o", "/nonexistent/x.csv"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.starts_with(
            "error: cannot write /nonexistent/x.csv: its folder /nonexistent does not exist"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("export-tmp"), "{}", out.stderr);
}

#[test]
fn an_archive_setting_through_a_link_into_a_run_folder_is_refused() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    new_run(&sb, &[]);
    let settings = sb.work().join("runctl.toml");
    let original = std::fs::read_to_string(&settings).unwrap();
    std::os::unix::fs::symlink("m-d-full-run2", sb.work().join("outputs/.lnk")).unwrap();
    std::os::unix::fs::symlink("outputs", sb.work().join("arch")).unwrap();
    // The default name itself, made a link into a run.
    std::os::unix::fs::symlink("m-d-full-run2", sb.work().join("outputs/.archive")).unwrap();
    for archive in ["outputs/.archive", "outputs/.lnk", "arch"] {
        let text = original.replace(
            "archive = \"outputs/.archive\"",
            &format!("archive = \"{archive}\""),
        );
        std::fs::write(&settings, text).unwrap();
        let before = tree(&sb.work());
        let out = sb.run(&["archive", "m-d-full-run1"]);
        assert_eq!(out.code, Some(1), "{archive}: {}", out.stderr);
        assert!(
            out.stderr.contains("paths.archive"),
            "{archive}: {}",
            out.stderr
        );
        assert_eq!(tree(&sb.work()), before, "{archive}");
    }
}

#[test]
fn an_archived_run_keeps_its_archive_folders_when_its_name_is_taken() {
    let sb = Sandbox::new();
    sb.init();
    let run = new_run(&sb, &[]);
    let old = first_id(&sb, &[]);
    std::fs::write(sb.work().join("outputs").join(&run).join("A"), "archived").unwrap();
    sb.run(&["archive", &run]).success();
    new_run(&sb, &["--run-index", "1", "--force"]);
    // The new run's folders deleted by hand: its archive would find the old run's folder at
    // its place in the archive, which is not its own.
    std::fs::remove_dir(sb.work().join("outputs").join(&run)).unwrap();
    std::fs::remove_dir(sb.work().join("logs").join(&run)).unwrap();
    let out = sb.run(&["archive", &run]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let out = sb.run(&["rm", &run, "--yes"]);
    out.success();
    let kept = sb
        .work()
        .join("outputs/.archive/outputs")
        .join(&run)
        .join("A");
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "archived");
    // The old run still finds its archive folders, and rm of it deletes them.
    sb.run(&["rm", &old, "--yes"]).success();
    assert!(!kept.exists());
    assert!(!sb.work().join("outputs/.archive/logs").join(&run).exists());
}

#[test]
fn two_takeovers_in_one_second_keep_each_runs_logs_with_its_outputs() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    std::fs::write(sb.work().join("logs/m-d-full-run1/a.log"), "A").unwrap();
    new_run(&sb, &["--run-index", "1", "--force"]);
    let first = first_id(&sb, &["--status", "superseded"]);
    std::fs::write(sb.work().join("logs/m-d-full-run1/b.log"), "B").unwrap();
    new_run(&sb, &["--run-index", "1", "--force"]);
    let ids: Vec<String> = sb
        .run(&["list", "--status", "superseded", "--json"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let second = ids.into_iter().find(|id| *id != first).unwrap();
    sb.run(&["rm", &second, "--yes"]).success();
    // The first superseded run's logs are still there, with its own file.
    let left: String = entries(&sb.work().join("logs"), |n| n.contains(".superseded-"))
        .into_iter()
        .flat_map(|p| {
            std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(left, "a.log", "the logs left are the first run's only");
}

#[test]
fn a_recorded_path_naming_the_archive_or_a_pointer_is_no_folder_of_the_run() {
    let sb = Sandbox::new();
    sb.init();
    new_run(&sb, &[]);
    let b = new_run(&sb, &[]);
    sb.run(&["archive", &b]).success();
    let tables = sb.tables();
    for odd in ["/x/.archive", "/x/latest", "/x/m-d-full-run2"] {
        tables.exec(
            "UPDATE runs SET outputs_dir = ?1 WHERE name = 'm-d-full-run1'",
            &[odd],
        );
        let before = tree(&sb.work());
        let out = sb.run(&["rm", "m-d-full-run1", "--dry-run", "--json"]);
        let folders = out.json()["runs"][0]["folders"].clone();
        let outputs: Vec<&serde_json::Value> = folders
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "outputs")
            .collect();
        // The archived run2's folder is in the archive, not outputs/: no run is named so there.
        assert!(outputs.is_empty(), "{odd}: {folders}");
        assert_eq!(tree(&sb.work()), before);
    }
    // A live run's folder named by another run's record: refused, kept.
    let c = new_run(&sb, &[]);
    tables.exec(
        "UPDATE runs SET outputs_dir = ?1 WHERE name = 'm-d-full-run1'",
        &[&format!("/x/{c}")],
    );
    let out = sb.run(&["rm", "m-d-full-run1", "--yes"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("is also the folder of run {c}")),
        "{}",
        out.stderr
    );
    assert!(sb.work().join("outputs").join(&c).is_dir());
}

#[test]
fn a_removed_runs_name_is_not_given_again_from_another_scope() {
    let sb = Sandbox::new();
    sb.init();
    let new = |model: &str, dataset: &str| {
        sb.run(&["new", "--model", model, "--dataset", dataset])
            .success()
            .stdout
            .trim()
            .to_string()
    };
    assert_eq!(new("a-b", "c"), "a-b-c-full-run1");
    // Another scope whose names look the same.
    assert_eq!(new("a", "b-c"), "a-b-c-full-run2");
    let out = sb.cmd().args(["rm", "a-b-c-full-run2", "--yes"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(new("a-b", "c"), "a-b-c-full-run3");
}

#[test]
fn past_run9999_a_removed_salted_timestamp_name_is_not_given_again() {
    let sb = Sandbox::on_sqlite(); // the seeding SQL is SQLite's;
    sb.init();
    sb.run(&[
        "new",
        "--model",
        "t",
        "--dataset",
        "d",
        "--run-index",
        "9999",
    ])
    .success();
    // Every name the fallback could give in the next seconds, salted or not, held by removed
    // runs (as if each had been made and removed).
    let now = jiff::Timestamp::now();
    let db = rusqlite::Connection::open(sb.db()).unwrap();
    db.execute_batch("BEGIN").unwrap();
    // One statement per second: the name and its 65,536 salted forms, made by SQLite itself.
    let mut seed = db
        .prepare(
            "WITH RECURSIVE salt(n) AS (SELECT -1 UNION ALL SELECT n + 1 FROM salt WHERE n < 65535) \
             INSERT INTO removed_runs (id, name, model, dataset, number, removed_at) \
             SELECT 'seed-' || ?1 || '-' || n, \
                    ?1 || CASE WHEN n < 0 THEN '' ELSE printf('-%04x', n) END, \
                    't', 'd', NULL, 'x' FROM salt",
        )
        .unwrap();
    // Seconds are seeded until they run 3 s ahead of the clock (a busy machine can take more
    // than a second per second's names), at most a minute's worth.
    let mut second = now;
    while second < jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3)
        && second < now + jiff::SignedDuration::from_secs(60)
    {
        let stamp = second.strftime("%Y%m%d%H%M%S").to_string();
        second += jiff::SignedDuration::from_secs(1);
        seed.execute([format!("t-d-full-ts{stamp}")]).unwrap();
    }
    drop(seed);
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let name = sb
        .run(&["new", "--model", "t", "--dataset", "d"])
        .success()
        .stdout
        .trim()
        .to_string();
    assert!(name.starts_with("t-d-full-ts"), "{name}");
    // Salted and counted on: no removed run had that name.
    assert_eq!(name.matches('-').count(), 5, "{name}");
}
