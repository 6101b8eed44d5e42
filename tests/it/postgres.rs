//! The PostgreSQL store over the binary, against the private server of `pg.rs`: choosing it,
//! migrating it (silently when empty, once when many processes open it at once), refusing a
//! newer or foreign database untouched, passwords never shown nor taken from runctl.toml, and
//! a schema with SQLite's tables, columns and indexes. (Each test returns early, having said
//! so, where no server can run and `CI` is not set.)

use std::collections::BTreeMap;

use crate::common::*;
use crate::pg;

fn db_of(sb: &Sandbox) -> String {
    let url = sb.db_url.as_deref().unwrap();
    url.rsplit('/').next().unwrap().to_string()
}

#[test]
fn init_makes_runctls_tables_in_an_empty_database_and_says_which_store() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let server = pg::server().unwrap();
    let db = db_of(&sb);
    let out = sb.run(&["init", "--json"]).success().json();
    assert_eq!(out["store"]["kind"], "postgres");
    assert_eq!(out["store"]["location"], sb.db_url.as_deref().unwrap());
    let created: Vec<String> = serde_json::from_value(out["created"].clone()).unwrap();
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(created[0], "runctl.toml");
    assert!(
        created[1].starts_with("runctl's tables in postgres://"),
        "{created:?}"
    );
    assert_eq!(
        server.psql(&db, "SELECT max(version) FROM refinery_schema_history"),
        "11\n"
    );
    assert!(
        !sb.work().join(".runctl").exists(),
        "no state.db beside a PostgreSQL store"
    );
    let again = sb.run(&["init", "--json"]).success().json();
    assert_eq!(again["already_initialized"], true);
    let migrate = sb.run(&["migrate", "--json"]).success().json();
    assert_eq!(migrate["store"], "postgres");
    assert_eq!(migrate["pending"], serde_json::json!([]));
    assert_eq!(migrate["to_version"], 11);
    let text = sb.run(&["migrate"]).success().stdout.clone();
    assert!(text.contains("is up to date (schema version 11)"), "{text}");
}

#[test]
fn many_first_opens_of_an_empty_database_at_once_migrate_it_once() {
    for _ in 0..3 {
        let Some(sb) = Sandbox::on_postgres() else {
            return;
        };
        std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
        let running: Vec<Spawned> = (0..8)
            .map(|_| sb.spawn(&["migrate", "--yes", "--json"]))
            .collect();
        for run in running {
            let out = run.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        let versions = pg::server().unwrap().psql(
            &db_of(&sb),
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM refinery_schema_history",
        );
        assert_eq!(versions, "1,2,3,4,5,6,7,8,9,10,11\n");
    }
}

#[test]
fn a_database_from_a_newer_runctl_is_refused_and_left_unchanged() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let server = pg::server().unwrap();
    let db = db_of(&sb);
    sb.run(&["init"]).success();
    server.psql(
        &db,
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (12, 'from_the_future', '2027-01-01T00:00:00Z', '1')",
    );
    let before = server.dump(&db);
    for args in [
        &["migrate"][..],
        &["migrate", "--yes"],
        &["migrate", "--dry-run"],
        &["init"],
        &["new", "--model", "m"],
        &["list"],
        &["show", "latest"],
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(
                "was written by a newer runctl (schema version 12; this runctl knows up to 11)"
            ),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: upgrade runctl"), "{err}");
    }
    assert!(before == server.dump(&db), "a refused database changed");
}

#[test]
fn a_database_holding_other_tables_is_refused_untouched() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let server = pg::server().unwrap();
    let db = db_of(&sb);
    server.psql(
        &db,
        "CREATE TABLE theirs (x int); INSERT INTO theirs VALUES (1)",
    );
    let before = server.dump(&db);
    let out = sb.run(&["init"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has tables but no runctl schema history"));
    // The failed init took back the runctl.toml it wrote.
    assert!(
        !sb.work().join("runctl.toml").exists(),
        "a failed init left runctl.toml"
    );
    std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
    for args in [
        &["migrate", "--yes"][..],
        &["new", "--model", "m"],
        &["list"],
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("has tables but no runctl schema history"),
            "{err}"
        );
    }
    assert!(before == server.dump(&db), "a refused database changed");
    assert!(!sb.work().join("outputs").exists());
    // init --root of folders still to be made takes them all back when it fails.
    let base = tempfile::tempdir().unwrap();
    let deep = base.path().join("a/b/c");
    let out = sb
        .cmd()
        .args(["--root", deep.to_str().unwrap(), "init"])
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        !base.path().join("a").exists(),
        "a failed init left its folders"
    );
    // Another program's refinery history, empty, beside its own tables.
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let db = db_of(&sb);
    server.psql(
        &db,
        "CREATE TABLE refinery_schema_history (version int4 PRIMARY KEY, name varchar(255), \
         applied_on varchar(255), checksum varchar(255)); CREATE TABLE users (id int)",
    );
    let before = server.dump(&db);
    std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
    let out = sb.run(&["migrate", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has tables but no runctl schema history"));
    assert!(before == server.dump(&db), "a refused database changed");
    // Tables this role may not read count too (information_schema would hide them).
    let theirs = server.new_database_of_password_role();
    server.psql(
        &theirs,
        "CREATE TABLE secrets (id int); REVOKE ALL ON secrets FROM PUBLIC",
    );
    let before = server.dump(&theirs);
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{theirs}",
        pg::PASSWORD_ROLE,
        server.port
    );
    let other = Sandbox::new();
    let out = other
        .cmd()
        .args(["init"])
        .env("RUNCTL_DATABASE_URL", &url)
        .env("PGPASSWORD", pg::PASSWORD)
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("has tables but no runctl schema history"));
    assert!(before == server.dump(&theirs), "a refused database changed");
}

#[test]
fn a_server_that_never_answers_is_given_up_on() {
    // Accepts the connection, never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = std::thread::spawn(move || {
        let mut open = Vec::new();
        for conn in listener.incoming() {
            open.push(conn);
        }
    });
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
    let start = std::time::Instant::now();
    let out = sb
        .cmd()
        .args(["migrate", "--dry-run"])
        .env(
            "RUNCTL_DATABASE_URL",
            format!("postgres://runctl@127.0.0.1:{port}/x?connect_timeout=2"),
        )
        .timeout(std::time::Duration::from_secs(30))
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no answer within 2 s"), "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_password_is_never_shown_and_never_taken_from_runctl_toml() {
    // No server is needed: the refusals come before any connection.
    let sb = Sandbox::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        sb.work().join("runctl.toml"),
        format!("[store]\nurl = \"postgres://ana:hunter2@127.0.0.1:{closed}/x\"\n"),
    )
    .unwrap();
    for args in [
        &["init"][..],
        &["migrate"],
        &["new", "--model", "m"],
        &["list"],
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("store.url in runctl.toml holds a password"),
            "{err}"
        );
        assert!(err.contains("ana:***@"), "{err}");
        assert!(
            err.contains("hint: remove the password from runctl.toml"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
    // In the environment a password is the user's to give, and still never shown.
    for url in [
        format!("postgres://ana:hunter2@127.0.0.1:{closed}/x"),
        format!("postgresql://127.0.0.1:{closed}/x?user=ana&password=hunter2"),
    ] {
        let out = sb
            .cmd()
            .args(["migrate"])
            .env("RUNCTL_DATABASE_URL", &url)
            .run();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("error: cannot connect to postgres"), "{err}");
        assert!(err.contains("***"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
    for bad in [
        "mysql://ana:hunter2@h/x",
        "host=h password=hunter2",
        "sqlite:state.db",
    ] {
        let out = sb
            .cmd()
            .args(["list"])
            .env("RUNCTL_DATABASE_URL", bad)
            .run();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("RUNCTL_DATABASE_URL is not a PostgreSQL URL"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert!(!sb.work().join(".runctl").exists());
}

#[test]
fn archive_and_rm_refuse_a_run_that_a_member_works_then_do_their_work() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    sb.init();
    std::fs::write(sb.work().join("in.csv"), "id\na\nb\nc\n").unwrap();
    sb.new_run_over("in.csv");
    let w = sb.work().join("slow.sh");
    crate::common::write_exec(&w, "#!/bin/sh\ncat >/dev/null\nsleep 1\necho '{}'\n");
    let member = sb
        .cmd()
        .args(["resume", "latest", "-j", "1", "--", w.to_str().unwrap()])
        .env("RUNCTL_HOST", "node3")
        .spawn();
    let start = std::time::Instant::now();
    while sb.run(&["show", "latest", "--json"]).success().json()["members"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for args in [&["archive", "latest"][..], &["rm", "latest", "--yes"]] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("is held by a process (a member on node3)"),
            "{err}"
        );
    }
    assert_eq!(member.wait().status.code(), Some(0));
    let name = sb.run(&["show", "latest", "--json"]).success().json()["name"]
        .as_str()
        .unwrap()
        .to_string();
    sb.run(&["archive", "latest"]).success();
    assert!(
        sb.work()
            .join("outputs/.archive/outputs")
            .join(&name)
            .is_dir()
    );
    sb.run(&["rm", &name, "--yes"]).success();
    assert_eq!(sb.runs_listed(&[]), 0);
    // Its number stays counted: the next run of the scope is run2.
    sb.new_run_over("in.csv");
    let next = sb.run(&["show", "latest", "--json"]).success().json();
    assert!(next["name"].as_str().unwrap().ends_with("-run2"), "{next}");
}

#[test]
fn many_processes_registering_hashes_at_once_keep_one_identifier_each() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let server = pg::server().unwrap();
    sb.run(&["init"]).success();
    let lines: String = (0..100)
        .map(|i| format!("model_{i}\tdataset_{i}\n"))
        .collect();
    std::fs::write(sb.work().join("ids.tsv"), &lines).unwrap();
    let running: Vec<Spawned> = (0..8)
        .map(|_| {
            let ids = std::fs::File::open(sb.work().join("ids.tsv")).unwrap();
            sb.cmd()
                .args(["hash", "--record", "--batch"])
                .stdin(ids.into())
                .spawn()
        })
        .collect();
    let outputs: Vec<String> = running
        .into_iter()
        .map(|r| {
            let out = r.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            stdout(&out)
        })
        .collect();
    assert!(
        outputs.iter().all(|o| *o == outputs[0]),
        "the processes disagree"
    );
    assert_eq!(
        server.psql(&db_of(&sb), "SELECT count(*) FROM hashes"),
        "100\n"
    );
    // Two identifiers with one 1-digit hash, registered at once: one wins, the other is a
    // collision (exit 3), never both.
    let names: Vec<String> = (0..40).map(|i| format!("id{i}")).collect();
    let hashes: Vec<String> = names
        .iter()
        .map(|n| {
            stdout(sb.run(&["hash", "--length", "1", n]).success())
                .trim()
                .to_string()
        })
        .collect();
    let (i, j) = (0..names.len())
        .flat_map(|i| (i + 1..names.len()).map(move |j| (i, j)))
        .find(|&(i, j)| hashes[i] == hashes[j])
        .unwrap();
    let racing: Vec<Spawned> = [&names[i], &names[j]]
        .iter()
        .map(|n| sb.spawn(&["hash", "--record", "--length", "1", n]))
        .collect();
    let mut codes: Vec<i32> = racing
        .into_iter()
        .map(|r| r.wait().status.code().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec![0, 3]);
    // Two batches of the same 3,000 identifiers in opposite orders, at once: both succeed
    // (inserted in key order, neither waits for the other in a circle).
    let forward: String = (0..3000).map(|i| format!("d={i}\n")).collect();
    let backward: String = (0..3000).rev().map(|i| format!("d={i}\n")).collect();
    for round in 0..3 {
        let paths = [format!("f{round}.txt"), format!("b{round}.txt")];
        std::fs::write(sb.work().join(&paths[0]), &forward).unwrap();
        std::fs::write(sb.work().join(&paths[1]), &backward).unwrap();
        let racing: Vec<Spawned> = paths
            .iter()
            .map(|p| {
                let file = std::fs::File::open(sb.work().join(p)).unwrap();
                sb.cmd()
                    .args(["hash", "--record", "--batch"])
                    .stdin(file.into())
                    .spawn()
            })
            .collect();
        for r in racing {
            let out = r.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
    }
    assert_eq!(
        server.psql(&db_of(&sb), "SELECT count(*) FROM hashes"),
        "3101\n"
    );
    // An identifier longer than a B-tree entry may be (about 2.7 kB), as on SQLite.
    let long = "x".repeat(3000);
    sb.run(&["hash", "--record", &long]).success();
    // Outside any project, resolve reads the store the environment names, as the writes did.
    let hex = stdout(sb.run(&["hash", "--record", "qq"]).success())
        .trim()
        .trim_start_matches(":hash=")
        .to_string();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = sb.cmd_in(elsewhere.path()).args(["resolve", &hex]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("identifier: qq"), "{}", stdout(&out));
}

#[test]
fn a_password_comes_from_the_url_pgpassword_or_a_private_pgpass_file() {
    let Some(server) = pg::server() else {
        return;
    };
    let db = server.new_database_of_password_role();
    let sb = Sandbox::new();
    std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
    let bare = format!(
        "postgres://{}@127.0.0.1:{}/{db}",
        pg::PASSWORD_ROLE,
        server.port
    );
    let migrate = |url: &str, env: &[(&str, &str)]| {
        let mut cmd = sb.cmd();
        cmd.args(["migrate", "--yes"])
            .env("RUNCTL_DATABASE_URL", url);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.run()
    };
    let refused = |out: &Run| {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("error: cannot connect to postgres://pwuser"),
            "{err}"
        );
        assert!(!err.contains(pg::PASSWORD), "{err}");
    };
    // No password anywhere; a wrong one in the URL (never shown).
    refused(&migrate(&bare, &[]));
    let wrong = format!(
        "postgres://{}:nope-nope@127.0.0.1:{}/{db}",
        pg::PASSWORD_ROLE,
        server.port
    );
    let out = migrate(&wrong, &[]);
    refused(&out);
    assert!(stderr(&out).contains("pwuser:***@"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("nope-nope"), "{}", stderr(&out));
    // PGPASSWORD, then the password file: one others may read is ignored, as libpq does.
    migrate(&bare, &[("PGPASSWORD", pg::PASSWORD)]).success();
    let pgpass = sb.tmp.path().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "# runctl test\n127.0.0.1:{}:{db}:{}:{}\n",
            server.port,
            pg::PASSWORD_ROLE,
            pg::PASSWORD
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(&migrate(&bare, &[]));
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = migrate(&bare, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // PGPASSFILE names another file.
    std::fs::rename(&pgpass, sb.tmp.path().join("elsewhere")).unwrap();
    refused(&migrate(&bare, &[]));
    let elsewhere = sb.tmp.path().join("elsewhere");
    let out = migrate(&bare, &[("PGPASSFILE", elsewhere.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn sixty_four_concurrent_news_get_sixty_four_names_and_show_and_list_see_them() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    sb.run(&["init"]).success();
    let running: Vec<Spawned> = (0..64)
        .map(|_| {
            sb.spawn(&[
                "new",
                "--model",
                "qwen2-7b",
                "--dataset",
                "drg",
                "--tag",
                "sweep=a",
            ])
        })
        .collect();
    let mut names: Vec<String> = running
        .into_iter()
        .map(|r| {
            let out = r.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            stdout(&out).trim().to_string()
        })
        .collect();
    names.sort_by_key(|n| n.rsplit("run").next().unwrap().parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=64)
        .map(|n| format!("qwen2-7b-drg-full-run{n}"))
        .collect();
    assert_eq!(names, expected);
    let listed = sb
        .run(&["list", "--json", "--tag", "sweep=a"])
        .success()
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 64);
    let latest = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(latest["tags"]["sweep"], "a");
    sb.run(&["tag", "latest", "best=yes"]).success();
    sb.run(&["note", "latest", "the one"]).success();
    let shown = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(shown["tags"]["best"], "yes");
    assert_eq!(shown["store"], "postgres");
    // Each run's folders, as on SQLite.
    for name in &expected {
        assert!(sb.work().join("outputs").join(name).is_dir(), "{name}");
    }
    // A run of a command: its end recorded.
    sb.run(&["new", "--model", "m", "--", "sh", "-c", "exit 3"]);
    let ran = sb.run(&["show", "latest", "--json"]).success().json();
    assert_eq!(
        (ran["status"].as_str(), ran["exit_code"].as_i64()),
        (Some("failed"), Some(3))
    );
}

/// A key too long for PostgreSQL's indexes is refused with the row named, nothing kept.
#[test]
fn an_item_key_too_long_for_postgresql_is_refused_naming_its_row() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    sb.init();
    let long = "k".repeat(3000);
    std::fs::write(sb.work().join("in.csv"), format!("id\na\n{long}\n")).unwrap();
    let out = sb.run(&["new", "--model", "m", "--source", "in.csv", "--key", "id"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.starts_with("error: ingest failed: "), "{err}");
    assert!(
        err.contains(
            "the item's key is 3000 bytes; a PostgreSQL store takes keys of up to 2600 bytes"
        ),
        "{err}"
    );
    assert_eq!(sb.runs_listed(&[]), 0, "no run made");
    let n: i64 = sb.tables().one("SELECT count(*) FROM items", &[]);
    assert_eq!(n, 0, "nothing of the file kept");
}

/// From four hosts at once (`RUNCTL_HOST`), twenty times, each time on a new empty database:
/// its first opens migrate it once, 64 concurrent `new` get run1..run64 and 32 concurrent
/// `version new` get V1..V32.
#[test]
fn from_four_hosts_news_and_version_news_at_once_get_distinct_names_twenty_times() {
    for round in 0..20 {
        let Some(sb) = Sandbox::on_postgres() else {
            return;
        };
        std::fs::write(sb.work().join("runctl.toml"), "").unwrap();
        let spawn_as = |i: usize, args: &[&str]| {
            sb.cmd()
                .args(args)
                .env("RUNCTL_HOST", format!("node{}", i % 4))
                .spawn()
        };
        let wait_all = |running: Vec<Spawned>| -> Vec<String> {
            let mut names: Vec<String> = running
                .into_iter()
                .map(|r| {
                    let out = r.wait();
                    assert_eq!(
                        out.status.code(),
                        Some(0),
                        "round {round}: {}",
                        stderr(&out)
                    );
                    stdout(&out).trim().to_string()
                })
                .collect();
            names.sort_by_key(|n| n.rsplit(['n', 'V']).next().unwrap().parse::<u32>().unwrap());
            names
        };
        let news = (0..64)
            .map(|i| spawn_as(i, &["new", "--model", "m", "--dataset", "d"]))
            .collect();
        let expected: Vec<String> = (1..=64).map(|n| format!("m-d-full-run{n}")).collect();
        assert_eq!(wait_all(news), expected, "round {round}");
        let versions = (0..32)
            .map(|i| spawn_as(i, &["version", "new", "style", "--quiet"]))
            .collect();
        let expected: Vec<String> = (1..=32).map(|n| format!("V{n}")).collect();
        assert_eq!(wait_all(versions), expected, "round {round}");
        let history = pg::server().unwrap().psql(
            &db_of(&sb),
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM refinery_schema_history",
        );
        assert_eq!(
            history, "1,2,3,4,5,6,7,8,9,10,11\n",
            "round {round}: migrated once"
        );
    }
}

/// Table -> its columns in order, and the names of the indexes made by `CREATE INDEX`.
type Schema = (BTreeMap<String, Vec<String>>, Vec<String>);

fn sqlite_schema() -> Schema {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let mut tables = BTreeMap::new();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for table in names {
        let columns: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        tables.insert(table, columns);
    }
    let mut indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    indexes.sort();
    (tables, indexes)
}

#[test]
fn the_postgresql_schema_has_sqlites_tables_columns_and_indexes() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    let server = pg::server().unwrap();
    let db = db_of(&sb);
    sb.run(&["init"]).success();
    let rows = server.psql(
        &db,
        "SELECT table_name || ':' || string_agg(column_name, ',' ORDER BY ordinal_position) \
         FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name",
    );
    let tables: BTreeMap<String, Vec<String>> = rows
        .lines()
        .map(|line| {
            let (table, columns) = line.split_once(':').unwrap();
            (
                table.to_string(),
                columns.split(',').map(str::to_string).collect(),
            )
        })
        .collect();
    // Indexes of CREATE INDEX, not those PostgreSQL makes for a key or a UNIQUE constraint.
    let indexes = server.psql(
        &db,
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' \
         AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname",
    );
    let indexes: Vec<String> = indexes.lines().map(str::to_string).collect();
    let (sqlite_tables, mut sqlite_indexes) = sqlite_schema();
    assert_eq!(tables, sqlite_tables);
    sqlite_indexes.sort();
    let mut indexes = indexes;
    indexes.sort();
    assert_eq!(indexes, sqlite_indexes);
}
