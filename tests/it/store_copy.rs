//! `runctl store copy` over the binary: a project's state copied from SQLite into an empty
//! PostgreSQL database and back reads the same through every command, and goes on there
//! (new runs and sources get new numbers and ids); a target that holds state, a file that is
//! there, a symlink, a bad `--to`, a copy that fails midway and a run being worked are refused
//! with the target left as it was. (Each test returns early, having said so, where no
//! PostgreSQL server can run and `CI` is not set.)

use std::collections::BTreeMap;

use crate::common::*;
use crate::pg;

/// A project on SQLite with some of everything: a run over items with an error among its
/// results, a tagged and noted run, a removed one, a recorded hash, a link, two versions.
fn rich_project() -> Sandbox {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::write(sb.work().join("in.csv"), "id,text\na,x\nb,bad\nc,z\n").unwrap();
    let worker = write_exec(
        &sb.work().join("w.sh"),
        "#!/bin/sh\nread -r line\ncase \"$line\" in *bad*) echo no >&2; exit 3;; esac\necho '{\"done\": 1}'\n",
    );
    let out = sb.run(&[
        "new",
        "--model",
        "m",
        "--source",
        "in.csv",
        "--key",
        "id",
        "--per-item",
        "--",
        worker.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one item fails: {}",
        stderr(&out)
    );
    sb.run(&["new", "--model", "plain"]).success();
    sb.run(&["tag", "latest", "lr=3e-4", "note=first"])
        .success();
    sb.run(&["note", "latest", "a note"]).success();
    sb.run(&["new", "--model", "gone"]).success();
    sb.run(&["rm", "latest", "--yes"]).success();
    sb.run(&["hash", ":lr=0.1+bs=32", "--record"]).success();
    std::fs::create_dir_all(sb.work().join("models/M:long=args")).unwrap();
    sb.run(&["link", "models/M:long=args"]).success();
    sb.run(&["version", "new", "style_1"]).success();
    sb.run(&["version", "new", "style_2"]).success();
    sb
}

/// What the commands show of the project, each keyed by its command line; `url` selects the
/// PostgreSQL store (else state.db). Which store it is (`store` in `--json`) is left out.
fn views(sb: &Sandbox, url: Option<&str>) -> BTreeMap<String, String> {
    let run = |args: &[&str]| {
        let mut cmd = sb.cmd();
        cmd.args(args);
        if let Some(url) = url {
            cmd.env("RUNCTL_DATABASE_URL", url);
        }
        let out = cmd.run();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    let mut shown = BTreeMap::new();
    let list: serde_json::Value = serde_json::from_str(&run(&["list", "--json", "--all"])).unwrap();
    for r in list.as_array().unwrap() {
        let id = r["id"].as_str().unwrap().to_string();
        let mut show: serde_json::Value =
            serde_json::from_str(&run(&["show", &id, "--json"])).unwrap();
        show.as_object_mut().unwrap().remove("store");
        shown.insert(format!("show {id}"), show.to_string());
        if r["items"].is_object() {
            for args in [&["export", &id][..], &["items", &id, "--json"]] {
                shown.insert(args.join(" "), run(args));
            }
        }
    }
    shown.insert("list".into(), list.to_string());
    for args in [
        &["version", "list", "--json"][..],
        &["resolve", "--json", "633ed2c0"],
        &["resolve", "--json", "models/M:hash=8efd49a2"],
        &["list", "--tag", "lr=3e-4"],
    ] {
        shown.insert(args.join(" "), run(args));
    }
    shown
}

fn copy(sb: &Sandbox, url: Option<&str>, to: &str) -> Run {
    let mut cmd = sb.cmd();
    cmd.args(["store", "copy", "--to", to]);
    if let Some(url) = url {
        cmd.env("RUNCTL_DATABASE_URL", url);
    }
    let out = cmd.run();
    assert_no_panic(&out);
    out
}

#[test]
fn a_project_copied_to_postgres_and_back_reads_the_same_and_goes_on_there() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let before = views(&sb, None);
    let url = server.new_database();
    let out = copy(&sb, None, &url);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(
        said.contains("2 runs, 1 source, 3 items, 3 results"),
        "{said}"
    );
    assert!(said.contains("2 versions"), "{said}");
    assert!(
        stderr(&out).contains("export RUNCTL_DATABASE_URL="),
        "{}",
        stderr(&out)
    );
    let on_pg = views(&sb, Some(&url));
    for (view, text) in &before {
        assert_eq!(on_pg.get(view), Some(text), "{view} differs on PostgreSQL");
    }
    assert_eq!(before.len(), on_pg.len());

    // Back to SQLite: one self-contained file, which a project reads the same.
    let out = copy(&sb, Some(&url), "sqlite:back.db");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let names = entries(&sb.work(), |n| n.starts_with("back.db"));
    assert_eq!(names.len(), 1, "only the file: {names:?}");
    let state = sb.db();
    std::fs::remove_file(&state).unwrap();
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", state.display()));
    }
    std::fs::rename(sb.work().join("back.db"), &state).unwrap();
    assert_eq!(
        views(&sb, None),
        before,
        "the copy back reads as the original"
    );

    // The copy goes on: the next run number, and new ids for a new source's rows.
    let pg_run = |args: &[&str]| {
        let out = sb.cmd().args(args).env("RUNCTL_DATABASE_URL", &url).run();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        out
    };
    let made = pg_run(&["new", "--model", "plain", "--json"]).json();
    assert_eq!(made["name"], "plain-dataset-full-run2");
    std::fs::write(sb.work().join("more.csv"), "id\nq\n").unwrap();
    pg_run(&["new", "--model", "m", "--source", "more.csv", "--key", "id"]);
    let version = pg_run(&["version", "new", "style_2", "--json"]).json();
    assert_eq!(version["name"], "V2", "after the copied style_2 V1");
}

#[test]
fn a_copy_into_a_store_with_state_or_onto_a_file_is_refused_and_changes_nothing() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let url = server.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    copy(&sb, None, &url).success();
    let dump = server.dump(&db);
    let out = copy(&sb, None, &url);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(server.dump(&db), dump, "the target is as it was");

    // SQLite: a file there, a symlink planted, a -wal left: refused, untouched.
    std::fs::write(sb.work().join("there.db"), b"mine").unwrap();
    std::fs::write(sb.work().join("victim"), b"keep").unwrap();
    std::os::unix::fs::symlink(sb.work().join("victim"), sb.work().join("link.db")).unwrap();
    std::fs::write(sb.work().join("stale.db-wal"), b"wal").unwrap();
    for target in ["there.db", "link.db", "stale.db"] {
        let out = copy(&sb, None, &format!("sqlite:{target}"));
        assert_eq!(out.status.code(), Some(3), "{target}: {}", stderr(&out));
        assert!(stderr(&out).contains("exists already"), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read(sb.work().join("there.db")).unwrap(), b"mine");
    assert_eq!(std::fs::read(sb.work().join("victim")).unwrap(), b"keep");
    assert!(!sb.work().join("stale.db").exists());

    // Not a store, or a folder that is not there: nothing made.
    for (to, code) in [
        ("mysql://h/db", 2),
        ("sqlite:", 2),
        ("sqlite:no/such/dir.db", 1),
    ] {
        let out = copy(&sb, None, to);
        assert_eq!(out.status.code(), Some(code), "{to}: {}", stderr(&out));
    }
    assert!(!sb.work().join("no").exists());
}

#[test]
fn a_copy_into_postgres_that_fails_midway_leaves_the_target_empty() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let url = server.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    // runctl's empty tables, and a trigger that fails the copy at the results.
    let empty = Sandbox::on_sqlite();
    let out = empty
        .cmd()
        .args(["init"])
        .env("RUNCTL_DATABASE_URL", &url)
        .run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    server.psql(
        &db,
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'no results here'; END $$; \
         CREATE TRIGGER refuse BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION refuse()",
    );
    let out = copy(&sb, None, &url);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no results here"), "{}", stderr(&out));
    for table in ["runs", "items", "hashes", "versions"] {
        let n = server.psql(&db, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(n, "0\n", "{table} after a failed copy");
    }
    server.psql(&db, "DROP TRIGGER refuse ON results");
    copy(&sb, None, &url).success();
    assert_eq!(server.psql(&db, "SELECT count(*) FROM results"), "3\n");
}

/// The target's disk full midway (a file-size limit, SIGXFSZ ignored): exit 1, and the new
/// file and what SQLite made beside it are gone.
#[test]
fn a_copy_into_a_new_sqlite_file_that_fails_midway_leaves_no_file() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let mut csv = String::from("id,text\n");
    for i in 0..20_000 {
        csv.push_str(&format!("k{i:05},{}\n", "x".repeat(100)));
    }
    std::fs::write(sb.work().join("big.csv"), csv).unwrap();
    sb.new_run_over("big.csv");
    let before = sb.whole_db();
    let out = sb
        .sh(&format!(
            "trap '' XFSZ; ulimit -f 2048; exec {RUNCTL} store copy --to sqlite:copy.db"
        ))
        .run();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    let left = entries(&sb.work(), |n| n.starts_with("copy.db"));
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(sb.whole_db(), before, "the source is as it was");
}

/// Refused while a `resume` works a run, on either store (PostgreSQL: a live member; SQLite:
/// the run's lock); once that process is killed, at once (its lock is gone; a member of this
/// host whose process is gone does not count, lease or not).
#[test]
fn a_copy_is_refused_while_a_process_works_a_run_and_not_once_it_is_killed() {
    let stores = [Some(Sandbox::on_sqlite()), Sandbox::on_postgres()];
    for sb in stores.into_iter().flatten() {
        sb.init();
        std::fs::write(sb.work().join("in.csv"), "id\na\nb\n").unwrap();
        sb.new_run_over("in.csv");
        let slow = write_exec(&sb.work().join("slow.sh"), "#!/bin/sh\nexec sleep 30\n");
        let member = sb.spawn(&[
            "resume",
            "latest",
            "--per-item",
            "--",
            slow.to_str().unwrap(),
        ]);
        let start = std::time::Instant::now();
        let out = loop {
            let out = sb.run(&["store", "copy", "--to", "sqlite:copy.db"]);
            if out.status.code() != Some(0) || start.elapsed().as_secs() > 30 {
                break out;
            }
            // Not working yet when it was copied: again, into a new file.
            std::fs::remove_file(sb.work().join("copy.db")).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(stderr(&out).contains("is being worked"), "{}", stderr(&out));
        assert!(!sb.work().join("copy.db").exists());
        let pid = nix::unistd::Pid::from_raw(member.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        let _ = member.wait();
        let out = sb.run(&["store", "copy", "--to", "sqlite:copy.db"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

/// Killed midway (SIGKILL), a copy into SQLite leaves no file under the name asked for (only
/// its hidden temporary one), and the next copy makes it.
#[test]
fn a_copy_killed_midway_leaves_nothing_under_the_name_asked_for() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let mut csv = String::from("id,text\n");
    for i in 0..40_000 {
        csv.push_str(&format!("k{i:05},{}\n", "x".repeat(50)));
    }
    std::fs::write(sb.work().join("big.csv"), csv).unwrap();
    sb.new_run_over("big.csv");
    let copying = sb.spawn(&["store", "copy", "--to", "sqlite:big-copy.db"]);
    let temp = sb.work().join(format!(".runctl-copy-{}", copying.id()));
    let start = std::time::Instant::now();
    while !temp.exists() && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let pid = nix::unistd::Pid::from_raw(copying.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let out = copying.wait();
    assert_eq!(out.status.code(), None, "killed: {}", stderr(&out));
    assert!(
        !sb.work().join("big-copy.db").exists(),
        "no half copy under its name"
    );
    let out = sb.run(&["store", "copy", "--to", "sqlite:big-copy.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("40000 items"), "{}", stdout(&out));
}

/// Two copies into one empty database at once: one copies, the other is refused (exit 3).
#[test]
fn two_copies_into_one_database_at_once_give_one_copy_and_one_refusal() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let url = server.new_database();
    let copies: Vec<Spawned> = (0..2)
        .map(|_| sb.spawn(&["store", "copy", "--to", &url]))
        .collect();
    let mut codes: Vec<Option<i32>> = copies.into_iter().map(|c| c.wait().status.code()).collect();
    codes.sort();
    assert_eq!(codes, [Some(0), Some(3)]);
    let db = url.rsplit('/').next().unwrap();
    assert_eq!(server.psql(db, "SELECT count(*) FROM items"), "3\n");
}

/// The URL to use after a copy is printed without its password (not even as `***`), and a
/// file name with a newline cannot forge a line of output.
#[test]
fn what_a_copy_prints_holds_no_password_and_no_raw_control_characters() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let db = server.new_database_of_password_role();
    let port_db = server.url(&db).rsplit(':').next().unwrap().to_string();
    let url = format!(
        "postgres://{}:{}@127.0.0.1:{port_db}",
        pg::PASSWORD_ROLE,
        pg::PASSWORD
    );
    let out = copy(&sb, None, &url);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(pg::PASSWORD), "{all}");
    let hint = stderr(&out);
    assert!(
        !hint.contains("***"),
        "a URL to paste holds no stand-in: {hint}"
    );
    assert!(
        all.contains(&format!(
            "export RUNCTL_DATABASE_URL='postgres://{}@127.0.0.1:",
            pg::PASSWORD_ROLE
        )),
        "{all}"
    );
    let out = copy(&sb, None, "sqlite:odd\nerror: forged.db");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    // A name as long as a name may be (255 bytes): its temporary name is a short one.
    let longest = format!("sqlite:{}.db", "n".repeat(252));
    assert_eq!(copy(&sb, None, &longest).status.code(), Some(0));
    // A URL's spelling is not a path (it would name /x.db).
    assert_eq!(copy(&sb, None, "sqlite://x.db").status.code(), Some(2));
}

#[test]
fn store_copy_json_names_both_stores_and_counts_each_table() {
    let Some(server) = pg::server() else { return };
    let sb = rich_project();
    let url = server.new_database();
    let out = sb
        .run(&["store", "copy", "--to", &url, "--json"])
        .success()
        .json();
    assert_eq!(out["from"]["store"], "sqlite");
    assert_eq!(out["to"]["store"], "postgres");
    assert_eq!(out["to"]["db"], url.as_str());
    assert_eq!(out["runs"], 2, "the removed run is in removed_runs");
    assert_eq!(out["items"], 3);
    assert_eq!(out["versions"], 2);
    let tables = out["tables"].as_array().unwrap();
    let total: u64 = tables.iter().map(|t| t["rows"].as_u64().unwrap()).sum();
    assert_eq!(out["total_rows"], total);
    assert!(
        tables
            .iter()
            .any(|t| t["table"] == "removed_runs" && t["rows"] == 1)
    );
}
