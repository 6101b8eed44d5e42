//! state.db: silent migration of a new DB, backup and refusal of pending migrations without a
//! terminal, `migrate`, a newer DB left byte-identical, and corrupt files.

use crate::common::*;

#[test]
fn pending_migrations_without_a_terminal_back_up_and_refuse() {
    let sb = Sandbox::new();
    let original = project_at_v1(&sb);
    let out = sb.cmd().arg("migrate").output().unwrap();
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
    let backups = backups(&sb);
    assert_eq!(backups.len(), 1, "a backup is written before asking");
    assert_eq!(std::fs::read(&backups[0]).unwrap().len() % 4096, 0);
}

#[test]
fn dry_run_lists_and_yes_applies() {
    let sb = Sandbox::new();
    let original = project_at_v1(&sb);
    let out = sb.cmd().args(["migrate", "--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains(
            "is at schema version 1; would apply:\n  V2 hashes\n  V3 runs\n  V4 versions\n  V5 sources_and_results\n  V6 run_work\n"
        )
    );
    assert_eq!(std::fs::read(sb.db()).unwrap(), original);
    assert!(backups(&sb).is_empty(), "a dry run writes nothing");

    let out = sb
        .cmd()
        .args(["migrate", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["from_version"], 1);
    assert_eq!(json["to_version"], 6);
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

    let out = sb.cmd().arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("is up to date (schema version 6)"));
}

#[test]
fn a_newer_db_is_refused_and_left_byte_identical() {
    let sb = Sandbox::new();
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
        let out = sb.cmd().args(args).output().unwrap();
        let err = stderr(&out);
        if args == ["init"] {
            // init only reports; it never opens an existing DB.
            assert_eq!(out.status.code(), Some(0));
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("schema version 99"), "{err}");
        assert!(err.contains("knows up to 6"), "{err}");
        assert!(err.contains("do not delete the file"), "{err}");
        assert_no_panic(&out);
    }
    assert_eq!(std::fs::read(sb.db()).unwrap(), before);
    assert!(backups(&sb).is_empty());
}

#[test]
fn garbage_and_truncated_files_get_clear_errors() {
    let sb = Sandbox::new();
    sb.init();
    std::fs::write(
        sb.db(),
        b"this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let out = sb.cmd().arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("is not a SQLite database"), "{err}");
    assert!(
        err.contains("hint: restore it from a state.db.bak-*"),
        "{err}"
    );
    assert_no_panic(&out);

    // A real DB cut short: the header is right, the pages are gone.
    let sb = Sandbox::new();
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
    let out = sb.cmd().arg("migrate").output().unwrap();
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_no_panic(&out);

    // An empty file is a new DB.
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    std::fs::write(sb.db(), b"").unwrap();
    let out = sb.cmd().args(["migrate", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_foreign_sqlite_file_is_refused() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    {
        let conn = rusqlite::Connection::open(sb.db()).unwrap();
        conn.execute_batch("CREATE TABLE mine (x)").unwrap();
    }
    let before = std::fs::read(sb.db()).unwrap();
    let out = sb.cmd().arg("migrate").output().unwrap();
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
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    let children: Vec<_> = (0..16)
        .map(|_| {
            std::process::Command::new(RUNCTL)
                .current_dir(sb.work())
                .env_clear()
                .env("PATH", sb.path_var())
                .args(["migrate", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let conn = rusqlite::Connection::open(sb.db()).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 6);
}

#[test]
fn every_schema_fixture_still_migrates() {
    for version in 1..=5 {
        let sb = Sandbox::new();
        std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/state-v{version}.db"));
        std::fs::copy(&fixture, sb.db()).unwrap();
        let out = sb
            .cmd()
            .args(["migrate", "--yes", "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "v{version}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["from_version"], version);
        assert_eq!(json["to_version"], json["latest"]);
        // The migrated DB works: a run can be made in it.
        let out = sb
            .cmd()
            .args(["new", "--model", "m", "--dataset", "d"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "v{version}: {}", stderr(&out));
    }
}
