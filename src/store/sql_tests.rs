//! The shared statement interface on SQLite, and its placeholders for PostgreSQL.

use super::*;

#[test]
#[cfg(feature = "postgres")]
fn placeholders_are_numbered_for_postgresql_outside_quotes() {
    assert_eq!(pg_text("SELECT 1"), "SELECT 1");
    assert_eq!(
        pg_text("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1"),
        "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1"
    );
    assert_eq!(pg_text("SELECT '?1', ?1"), "SELECT '?1', $1");
    assert_eq!(pg_text("SELECT 'it''s ?', ?2"), "SELECT 'it''s ?', $2");
}

#[test]
fn values_round_trip_through_sqlite() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let db = Db::Sqlite(&conn);
    db.execute("CREATE TABLE t (i INTEGER, s TEXT, b BLOB)", &[])
        .unwrap();
    let bytes: &[u8] = b"\x00\xff";
    db.execute(
        "INSERT INTO t VALUES (?1, ?2, ?3), (?4, ?5, ?6)",
        &[
            Value::from(-7i64),
            Value::from("x"),
            Value::from(bytes),
            Value::from(None::<i64>),
            Value::from(None::<&str>),
            Value::Null,
        ],
    )
    .unwrap();
    let rows = db
        .query("SELECT i, s FROM t ORDER BY rowid", &[], |r| {
            Ok((r.opt_int(0)?, r.opt_text(1)?))
        })
        .unwrap();
    assert_eq!(rows, vec![(Some(-7), Some("x".into())), (None, None)]);
    assert!(
        db.query_opt("SELECT i FROM t WHERE i = ?1", &[Value::from(3i64)], |r| r
            .int(0))
            .unwrap()
            .is_none()
    );
}
