//! state.db: silent migration of a new DB, backup and refusal of pending migrations without a
//! terminal, `migrate`, a newer DB left byte-identical, and corrupt files.

use crate::common::*;

#[test]
fn pending_migrations_without_a_terminal_refuse_and_write_nothing() {
    let sb = Sandbox::on_sqlite();
    let original = project_at_v1(&sb);
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no terminal to ask on"), "{err}");
    assert!(err.contains("hint: run 'runctl migrate --yes'"), "{err}");
    assert_no_panic(&out);
    assert_eq!(
        std::fs::read(sb.db()).unwrap(),
        original,
        "DB must be untouched"
    );
    assert!(
        backups(&sb).is_empty(),
        "a backup only when a migration is applied"
    );
}

#[test]
fn dry_run_lists_and_yes_applies() {
    let sb = Sandbox::on_sqlite();
    let original = project_at_v1(&sb);
    let out = sb.cmd().args(["migrate", "--dry-run"]).run();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains(
            "is at schema version 1; would apply:\n  V2 hashes\n  V3 runs\n  V4 versions\n  V5 sources_and_results\n  V6 run_work\n  V7 source_options\n  V8 tags_notes_cleanup\n  V9 lookup_indexes\n  V10 folder_scans\n"
        )
    );
    assert_eq!(std::fs::read(sb.db()).unwrap(), original);
    assert!(backups(&sb).is_empty(), "a dry run writes nothing");

    let out = sb.cmd().args(["migrate", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
    assert_eq!(json["from_version"], 1);
    assert_eq!(json["to_version"], 11);
    assert_eq!(json["applied"][0]["name"], "hashes");
    let backup = json["backup"].as_str().unwrap();
    // The backup is a readable copy of the schema-1 DB.
    let conn = rusqlite::Connection::open(backup).unwrap();
    let max: i64 = conn
        .query_row(
            "SELECT max(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(max, 1);
    // The migrated DB keeps what the old one held.
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let created: String = conn
        .query_row("SELECT value FROM meta WHERE key = 'created_at'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(created.starts_with("20"));

    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("is up to date (schema version 11)"));
}

#[test]
fn a_newer_db_is_refused_and_left_byte_identical() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
             VALUES (99, 'future', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
    }
    let before = std::fs::read(sb.db()).unwrap();
    for args in [&["migrate"][..], &["migrate", "--yes"], &["init"]] {
        let out = sb.cmd().args(args).run();
        let err = stderr(&out);
        if args == ["init"] {
            // init only reports; it never opens an existing DB.
            assert_eq!(out.status.code(), Some(0));
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("schema version 99"), "{err}");
        assert!(err.contains("knows up to 11"), "{err}");
        assert!(err.contains("do not delete the file"), "{err}");
        assert_no_panic(&out);
    }
    assert_eq!(std::fs::read(sb.db()).unwrap(), before);
    assert!(backups(&sb).is_empty());
}

#[test]
fn garbage_and_truncated_files_get_clear_errors() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::write(
        sb.db(),
        b"this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("is not a SQLite database"), "{err}");
    assert!(
        err.contains("hint: restore it from a state.db.bak-*"),
        "{err}"
    );
    assert_no_panic(&out);

    // A real DB cut short: the header is right, the pages are gone.
    let sb = Sandbox::on_sqlite();
    sb.init();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute_batch(
            "CREATE TABLE filler (x TEXT); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO filler SELECT hex(randomblob(100)) FROM n;",
        )
        .unwrap();
    }
    let bytes = std::fs::read(sb.db()).unwrap();
    std::fs::write(sb.db(), &bytes[..bytes.len() / 3]).unwrap();
    let out = sb.cmd().arg("migrate").run();
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_no_panic(&out);

    // An empty file is a new DB.
    let sb = Sandbox::on_sqlite();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    std::fs::write(sb.db(), b"").unwrap();
    let out = sb.cmd().args(["migrate", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_foreign_sqlite_file_is_refused() {
    let sb = Sandbox::on_sqlite();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute_batch("CREATE TABLE mine (x)").unwrap();
    }
    let before = std::fs::read(sb.db()).unwrap();
    let out = sb.cmd().arg("migrate").run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a runctl state file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(sb.db()).unwrap(), before);
}

#[test]
fn many_processes_opening_a_new_db_migrate_it_once() {
    // Ten rounds: each of three races (the file appearing between two checks, the history
    // table appearing between two reads, two processes switching a new DB to WAL) came up
    // about once in 20-30 rounds.
    for _ in 0..10 {
        let sb = Sandbox::on_sqlite();
        std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
        let children: Vec<_> = (0..16).map(|_| sb.spawn(&["migrate", "--json"])).collect();
        for child in children {
            let out = child.wait();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 11);
    }
}

/// The schema's latest version, from the migrations folder (`V<n>__<what>.sql`, numbered 1..=n
/// without a gap): the store's own constant is not public, and the folder is what a new
/// migration adds to.
fn latest_schema_version() -> i64 {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut versions: Vec<i64> = std::fs::read_dir(&folder)
        .unwrap()
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let (number, rest) = name.strip_prefix('V')?.split_once("__")?;
            rest.ends_with(".sql").then(|| number.parse().unwrap())
        })
        .collect();
    versions.sort();
    let latest = versions.len() as i64;
    assert_eq!(versions, (1..=latest).collect::<Vec<_>>(), "{folder:?}");
    latest
}

/// A fixture for every version before the latest (written when the next migration lands), so
/// a migration that lands without the fixture of the version before it fails here.
#[test]
fn every_schema_fixture_still_migrates() {
    let latest = latest_schema_version();
    assert!(latest > 1);
    for version in 1..latest {
        let sb = Sandbox::on_sqlite();
        std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/state-v{version}.db"));
        assert!(
            fixture.is_file(),
            "V{latest} landed without {}: `cargo run --example write_fixture -- {version}`",
            fixture.display()
        );
        std::fs::copy(&fixture, sb.db()).unwrap();
        let out = sb.cmd().args(["migrate", "--yes", "--json"]).run();
        assert_eq!(out.status.code(), Some(0), "v{version}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.raw.stdout).unwrap();
        assert_eq!(json["from_version"], version);
        assert_eq!(json["to_version"], json["latest"]);
        assert_eq!(json["latest"], latest, "runctl's latest is the folder's");
        // The migrated DB works: a run can be made in it.
        let out = sb
            .cmd()
            .args(["new", "--model", "m", "--dataset", "d"])
            .run();
        assert_eq!(out.status.code(), Some(0), "v{version}: {}", stderr(&out));
    }
}

fn sha256(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// Not a check of its own: started again by the test below with RUNCTL_TEST_KILLED_WRITER
/// naming a DB, this test binary writes a future schema version into it and exits without
/// closing it, as a writer killed mid-way does, leaving its `-wal` behind.
#[test]
fn helper_a_killed_writer() {
    let Some(db) = std::env::var_os("RUNCTL_TEST_KILLED_WRITER") else {
        return;
    };
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = std::env::var("RUNCTL_TEST_KILLED_WRITER_SQL").unwrap_or_else(|_| {
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) \
         VALUES (99, 'future', '2030-01-01T00:00:00Z', '1');"
            .into()
    });
    conn.execute_batch(&format!("PRAGMA journal_mode=WAL; {sql}"))
        .unwrap();
    std::process::exit(0);
}

#[test]
fn a_newer_db_with_a_killed_writers_wal_is_refused_with_not_a_byte_changed() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    let helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store::helper_a_killed_writer", "--nocapture"])
        .env("RUNCTL_TEST_KILLED_WRITER", sb.db())
        .output()
        .unwrap();
    assert!(helper.status.success(), "{}", stderr(&helper));
    let wal = sb.work().join(".runctl/state.db-wal");
    assert!(wal.exists(), "the killed writer leaves its -wal");
    let (db_sum, wal_sum) = (sha256(&sb.db()), sha256(&wal));
    for args in [
        &["list"][..],
        &["show", "latest"],
        &["new", "--model", "m"],
        &["version", "list"],
        &["migrate", "--dry-run"],
        &["migrate", "--yes"],
    ] {
        let out = sb.cmd().args(args).run();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("schema version 99"), "{args:?}: {err}");
        assert_no_panic(&out);
        assert!(wal.exists(), "{args:?} removed the -wal");
        assert_eq!(sha256(&sb.db()), db_sum, "{args:?} changed state.db");
        assert_eq!(sha256(&wal), wal_sum, "{args:?} changed the -wal");
    }
    assert!(backups(&sb).is_empty());
}

#[test]
fn an_old_db_is_not_written_by_reads_declined_migrations_or_dry_runs() {
    let sb = Sandbox::on_sqlite();
    project_at_v1(&sb);
    // The fixture in rollback-journal mode, as older runctls and other tools leave a DB.
    rusqlite::Connection::open(sb.db())
        .unwrap()
        .pragma_update(None, "journal_mode", "DELETE")
        .unwrap();
    let original = std::fs::read(sb.db()).unwrap();
    let runctl_dir = sb.work().join(".runctl");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&runctl_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let files_before = listing();
    for args in [
        &["list"][..],
        &["show", "latest"],
        &["export", "latest"],
        &["migrate"],
        &["migrate", "--dry-run"],
        &["list"],
        &["list"],
        &["list"],
    ] {
        let out = sb.cmd().args(args).run();
        assert_no_panic(&out);
        assert_eq!(std::fs::read(sb.db()).unwrap(), original, "{args:?}");
        assert_eq!(listing(), files_before, "{args:?} made or removed files");
    }
    // Still in its rollback-journal mode: nobody switched it to WAL.
    let conn =
        rusqlite::Connection::open_with_flags(sb.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    drop(conn);

    // Eight migrations at once: one backup, of the old schema, and no "already exists".
    let children: Vec<_> = (0..8)
        .map(|_| sb.spawn(&["migrate", "--yes", "--json"]))
        .collect();
    for child in children {
        let out = child.wait();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let made = backups(&sb);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(std::fs::read(&made[0]).unwrap().len() % 4096, 0);
    let conn = rusqlite::Connection::open(&made[0]).unwrap();
    let max: i64 = conn
        .query_row(
            "SELECT max(version) FROM refinery_schema_history",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(max, 1);
}

#[test]
fn reads_work_on_a_read_only_project_and_writes_say_why_they_cannot() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    let state = sb.work().join(".runctl");
    // The run is still in the -wal (short commands do not checkpoint at close), and the -wal
    // and -shm are there: read through them without writing either.
    assert!(
        std::fs::metadata(state.join("state.db-wal")).unwrap().len() > 0,
        "the -wal is kept between commands"
    );
    let files: Vec<_> = ["state.db", "state.db-wal", "state.db-shm"]
        .iter()
        .map(|f| state.join(f))
        .collect();
    let before: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let _files: Vec<_> = files.iter().map(|f| Immutable::set(f)).collect();
    let _guard = Immutable::set(&state);
    for args in [
        &["list"][..],
        &["show", "latest"],
        &["name", "--model", "m"],
    ] {
        let out = sb.cmd().args(args).run();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        if args[0] == "list" {
            assert!(stdout(&out).contains("m-"), "{}", stdout(&out));
        }
    }
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error: cannot write"), "{err}");
    assert!(err.contains("hint: check that .runctl/"), "{err}");
    assert_no_panic(&out);
    drop(_guard);
    drop(_files);
    let after: Vec<_> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(
        before == after,
        "reads and a refused write changed the state files"
    );
    // A -wal holding commits, no -shm, and a folder SQLite cannot make one in: said so, never
    // read as the older state the DB file alone holds.
    let helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "store::helper_a_killed_writer", "--nocapture"])
        .env("RUNCTL_TEST_KILLED_WRITER", sb.db())
        .env(
            "RUNCTL_TEST_KILLED_WRITER_SQL",
            "UPDATE runs SET status = 'written-in-the-wal';",
        )
        .output()
        .unwrap();
    assert!(helper.status.success(), "{}", stderr(&helper));
    std::fs::remove_file(sb.work().join(".runctl/state.db-shm")).unwrap();
    let _guard = Immutable::set(&state);
    let out = sb.cmd().arg("list").run();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("its -wal holds commits"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_symlinked_wal_or_shm_is_refused_not_read_around() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    for companion in ["state.db-wal", "state.db-shm"] {
        let path = sb.work().join(".runctl").join(companion);
        let elsewhere = sb.tmp.path().join(companion);
        std::fs::rename(&path, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        for args in [&["list"][..], &["new", "--model", "m"]] {
            let out = sb.cmd().args(args).run();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{companion} {args:?}: {err}");
            assert!(err.contains("is not a regular file"), "{err}");
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(&elsewhere, &path).unwrap();
    }
    let out = sb.cmd().args(["list", "--json"]).run();
    assert!(stdout(&out).contains("m-"), "{}", stdout(&out));
}

#[test]
fn a_reader_holding_a_snapshot_makes_no_new_wait_for_the_fold() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    let wal = sb.work().join(".runctl/state.db-wal");
    let size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    sb.cmd().args(["new", "--model", "m"]).run().success();
    while size() < 1_000_000 {
        sb.cmd().args(["new", "--model", "m"]).run().success();
    }
    // Another process (an export, a follower) holds a read snapshot: the fold cannot happen.
    let reader = rusqlite::Connection::open(sb.db()).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    let start = std::time::Instant::now();
    for _ in 0..5 {
        sb.cmd().args(["new", "--model", "m"]).run().success();
    }
    // Waiting for the reader cost 200 ms a new (over 1 s for these five).
    let took = start.elapsed();
    assert!(took < std::time::Duration::from_millis(800), "{took:?}");
    // The snapshot let go (the connection still open, so that its own close cannot be what
    // folds), the next new folds the -wal.
    reader.execute_batch("COMMIT").unwrap();
    sb.cmd().args(["new", "--model", "m"]).run().success();
    assert!(size() < 1_000_000, "{}", size());
    drop(reader);
}

#[test]
fn a_fifo_or_a_folder_as_state_db_is_refused_at_once() {
    let sb = Sandbox::on_sqlite();
    sb.init();
    std::fs::remove_file(sb.db()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(sb.db())
        .status()
        .unwrap();
    assert!(made.success());
    for args in [&["list"][..], &["new", "--model", "m"]] {
        let out = sb
            .cmd()
            .args(args)
            .timeout(std::time::Duration::from_secs(20))
            .run();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("is not a regular file"), "{err}");
    }
    std::fs::remove_file(sb.db()).unwrap();
    std::fs::create_dir(sb.db()).unwrap();
    let out = sb.cmd().arg("list").run();
    assert!(
        stderr(&out).contains("is not a regular file"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir(sb.db()).unwrap();
    // A symlink to nothing: the DB is not created wherever it points.
    let elsewhere = sb.tmp.path().join("elsewhere.db");
    std::os::unix::fs::symlink(&elsewhere, sb.db()).unwrap();
    let out = sb.cmd().args(["new", "--model", "m"]).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not a regular file"),
        "{}",
        stderr(&out)
    );
    assert!(!elsewhere.exists());
    std::fs::remove_file(sb.db()).unwrap();
    // A FIFO as the -wal: named, not taken for a full disk.
    sb.cmd().args(["new", "--model", "m"]).run().success();
    let wal = sb.work().join(".runctl/state.db-wal");
    let _ = std::fs::remove_file(&wal);
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&wal)
            .status()
            .unwrap()
            .success()
    );
    let out = sb
        .cmd()
        .args(["new", "--model", "m"])
        .timeout(std::time::Duration::from_secs(20))
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("state.db-wal is not a regular file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_v6_db_with_sources_items_and_runs_migrates_to_v7_keeping_every_row() {
    let sb = Sandbox::on_sqlite();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v6.db");
    std::fs::copy(&fixture, sb.db()).unwrap();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO sources (id, path, format, md5, sha256, size, key_columns, unpivot, columns, n_items, ingested_at)
             VALUES (7, '/data/a.csv', 'csv', 'm', 's', 3, '[\"id\"]', '[]', '[\"id\"]', 2, '2026-01-01T00:00:00.000000Z');
             INSERT INTO items (source_id, key, location, data) VALUES (7, 'a', '2', '{\"id\":\"a\"}'), (7, 'b', '3', '{\"id\":\"b\"}');
             INSERT INTO runs (id, name, dir_name, model, dataset, size, number, scope, outputs_dir, logs_dir, created_at, source_id, n_items)
             VALUES ('20260101_000000_000000_aaaa', 'm-d-full-run1', 'm-d-full-run1', 'm', 'd', 'full', 1, 'model_dataset', '/o', '/l', '2026-01-01T00:00:00.000000Z', 7, 2);",
        )
        .unwrap();
    }
    let out = sb.cmd().args(["migrate", "--yes", "--json"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let violations: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(violations, 0);
    let (items, options): (i64, String) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM items WHERE source_id = 7), options FROM sources WHERE id = 7",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((items, options.as_str()), (2, "{}"));
    let out = sb.cmd().args(["items", "m-d-full-run1", "--all"]).run();
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stderr(&out));
}

#[test]
fn a_migration_killed_at_any_moment_leaves_the_db_whole_and_no_partial_backup() {
    let sb = Sandbox::on_sqlite();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v6.db");
    std::fs::copy(&fixture, sb.db()).unwrap();
    {
        let mut conn = rusqlite::Connection::open(sb.db()).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO sources (id, path, format, md5, sha256, size, key_columns, unpivot, columns, n_items, ingested_at) \
             VALUES (1, '/d/a.csv', 'csv', 'm', 's', 1, '[\"id\"]', '[]', '[\"id\"]', 100000, '2026')",
            [],
        )
        .unwrap();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO items (source_id, key, location, data) VALUES (1, ?1, ?2, ?3)",
                )
                .unwrap();
            let data = format!("{{\"x\":\"{}\"}}", "a".repeat(200));
            for i in 0..100_000 {
                insert
                    .execute(rusqlite::params![format!("k{i}"), i.to_string(), data])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let version = |path: &std::path::Path| -> (String, i64, i64) {
        let conn = rusqlite::Connection::open(path).unwrap();
        (
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap(),
            conn.query_row(
                "SELECT max(version) FROM refinery_schema_history",
                [],
                |r| r.get(0),
            )
            .unwrap(),
            conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
                .unwrap(),
        )
    };
    for delay_ms in [5, 20, 40, 80, 160, 320] {
        if version(&sb.db()).1 == 10 {
            break;
        }
        let mut child = sb.spawn(&["migrate", "--yes"]);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let (ok, v, items) = version(&sb.db());
        assert_eq!(
            (ok.as_str(), items),
            ("ok", 100_000),
            "after a kill at {delay_ms} ms"
        );
        assert!(v == 6 || v == 11);
        // Every backup there is whole, of the old schema.
        for backup in backups(&sb) {
            assert_eq!(
                version(&backup),
                ("ok".to_string(), 6, 100_000),
                "{backup:?}"
            );
        }
    }
    let out = sb.cmd().args(["migrate", "--yes"]).run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(version(&sb.db()), ("ok".to_string(), 11, 100_000));
}

#[test]
fn a_status_no_runctl_writes_is_shown_as_it_is_and_hides_no_other_run() {
    // A hand-edited DB (or another tool writing to it): the odd row is listed with its text,
    // the others as always, and show works on it.
    let sb = Sandbox::on_sqlite();
    sb.init();
    for dataset in ["d", "e"] {
        let out = sb.run(&["new", "--model", "m", "--dataset", dataset]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    conn.execute("UPDATE runs SET status = 'weird' WHERE dataset = 'e'", [])
        .unwrap();
    drop(conn);
    let out = sb.run(&["list", "--json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let runs: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let statuses: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["weird", "created"]);
    let out = sb.run(&["show", "latest"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("weird"), "{}", out.stdout);
    // Bytes that are not UTF-8, a blob, a terminal escape: shown (escaped), never an error.
    for odd in ["CAST(X'FFFE41' AS TEXT)", "X'41'", "char(27) || '[31mred'"] {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute(
            &format!("UPDATE runs SET status = {odd} WHERE dataset = 'e'"),
            [],
        )
        .unwrap();
        drop(conn);
        let out = sb.run(&["list"]);
        assert_eq!(out.code, Some(0), "{odd}: {}", out.stderr);
        assert!(!out.stdout.contains('\u{1b}'), "{odd}: {}", out.stdout);
        let out = sb.run(&["list", "--json"]);
        assert_eq!(out.code, Some(0), "{odd}: {}", out.stderr);
    }
}
