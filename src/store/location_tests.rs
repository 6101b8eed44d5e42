//! Tests of location.rs: choosing the store, URLs shown without their passwords.

use super::*;

fn url(s: &str) -> PgUrl {
    PgUrl(s.to_string())
}

#[test]
fn a_url_is_shown_without_its_password() {
    let shown = |s: &str| url(s).to_string();
    assert_eq!(
        shown("postgres://ana:s3cr@t@db.lab:5432/runs"),
        "postgres://ana:***@db.lab:5432/runs"
    );
    assert_eq!(
        shown("postgres://ana@db.lab/runs"),
        "postgres://ana@db.lab/runs"
    );
    assert_eq!(
        shown("postgresql://db/runs?sslmode=require&password=x&user=ana"),
        "postgresql://db/runs?sslmode=require&password=***&user=ana"
    );
    assert_eq!(shown("postgres://:pw@db"), "postgres://:***@db");
    assert_eq!(shown("postgres://db"), "postgres://db");
    for secret in [
        "postgres://a:hunter2@h/d",
        "postgres://h/d?password=hunter2",
    ] {
        assert!(!shown(secret).contains("hunter2"), "{}", shown(secret));
        assert!(!format!("{:?}", url(secret)).contains("hunter2"));
    }
}

#[test]
fn the_environment_wins_over_the_setting_and_either_over_the_file() {
    let db = PathBuf::from("/p/.runctl/state.db");
    assert_eq!(
        choose(None, "", db.clone()),
        Ok(Location::Sqlite(db.clone()))
    );
    assert_eq!(
        choose(Some(" "), " ", db.clone()),
        Ok(Location::Sqlite(db.clone()))
    );
    assert_eq!(
        choose(None, "postgres://h/d", db.clone()),
        Ok(Location::Postgres(url("postgres://h/d")))
    );
    assert_eq!(
        choose(Some("postgres://e/d"), "postgres://h/d", db.clone()),
        Ok(Location::Postgres(url("postgres://e/d")))
    );
    // A password is fine in the environment, never in runctl.toml.
    assert!(choose(Some("postgres://a:pw@h/d"), "", db.clone()).is_ok());
    let err = choose(None, "postgres://a:pw@h/d", db.clone()).unwrap_err();
    assert!(matches!(err, LocationError::PasswordInSettings { .. }));
    assert!(!err.to_string().contains(":pw@"), "{err}");
    let err = choose(None, "postgres://h/d?password=pw", db.clone()).unwrap_err();
    assert!(matches!(err, LocationError::PasswordInSettings { .. }));
    // Refused in runctl.toml even while the environment names another database.
    let err = choose(Some("postgres://e/d"), "postgres://a:pw@h/d", db.clone()).unwrap_err();
    assert!(matches!(err, LocationError::PasswordInSettings { .. }));
}

#[test]
fn anything_but_a_postgres_url_is_refused_and_shown_safely() {
    let db = PathBuf::from("/p/.runctl/state.db");
    for bad in [
        "mysql://a:pw@h/d",
        "sqlite:x.db",
        "db.lab:5432",
        "host=h password=pw",
    ] {
        let err = choose(Some(bad), "", db.clone()).unwrap_err();
        assert!(matches!(err, LocationError::NotAUrl { .. }), "{bad}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
    let err = choose(None, "post\u{1b}[2Jgres", db).unwrap_err();
    assert_eq!(err, LocationError::NotAUrl { from: "store.url" });
}

#[test]
fn a_url_to_paste_leaves_its_password_out_altogether() {
    let pasted = |s: &str| url(s).without_password();
    assert_eq!(
        pasted("postgres://ana:pw@db:5432/r"),
        "postgres://ana@db:5432/r"
    );
    assert_eq!(
        pasted("postgres://ana@db/r?sslmode=disable&password=pw"),
        "postgres://ana@db/r?sslmode=disable"
    );
    assert_eq!(pasted("postgres://db/r?password=pw"), "postgres://db/r");
    assert_eq!(pasted("postgres://ana:p@w/x@db/r"), "postgres://ana@db/r");
}

#[test]
fn a_store_named_on_the_command_line_is_a_url_or_sqlite_and_a_path() {
    let cwd = Path::new("/proj");
    let parsed = |s: &str| parse_store(s, "--to", cwd);
    assert_eq!(
        parsed("sqlite:copy.db").unwrap(),
        Location::Sqlite(PathBuf::from("/proj/copy.db"))
    );
    assert_eq!(
        parsed("sqlite:/abs/c.db").unwrap(),
        Location::Sqlite(PathBuf::from("/abs/c.db"))
    );
    assert!(matches!(
        parsed("postgres://h/db").unwrap(),
        Location::Postgres(_)
    ));
    for bad in ["sqlite:", "sqlite://x.db", "mysql://h/db", "copy.db", ""] {
        assert!(parsed(bad).is_err(), "{bad}");
    }
}
