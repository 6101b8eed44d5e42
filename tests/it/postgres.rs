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
        "10\n"
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
    assert_eq!(migrate["to_version"], 10);
    let text = sb.run(&["migrate"]).success().stdout.clone();
    assert!(text.contains("is up to date (schema version 10)"), "{text}");
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
        assert_eq!(versions, "1,2,3,4,5,6,7,8,9,10\n");
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
         VALUES (11, 'from_the_future', '2027-01-01T00:00:00Z', '1')",
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
                "was written by a newer runctl (schema version 11; this runctl knows up to 10)"
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
    for args in [
        &["init"][..],
        &["migrate", "--yes"],
        &["new", "--model", "m"],
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
fn commands_not_on_postgresql_yet_say_so_and_make_nothing() {
    let Some(sb) = Sandbox::on_postgres() else {
        return;
    };
    sb.run(&["init"]).success();
    for args in [
        &["new", "--model", "m"][..],
        &["list"],
        &["version", "list"],
    ] {
        let out = sb.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("does not work on a PostgreSQL store yet"),
            "{err}"
        );
        assert!(
            err.contains("hint: the PostgreSQL store serves `init` and `migrate` so far"),
            "{err}"
        );
    }
    let made: Vec<_> = std::fs::read_dir(sb.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(made, vec!["runctl.toml"]);
}

/// Table -> its columns in order, and the names of the indexes made by `CREATE INDEX`.
type Schema = (BTreeMap<String, Vec<String>>, Vec<String>);

fn sqlite_schema() -> Schema {
    let sb = Sandbox::new();
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
