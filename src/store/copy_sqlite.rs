//! The SQLite side of a store copy (copy.rs): a table's columns, its rows read in one
//! statement (in the copy's snapshot), a batch written with one prepared insert, and the new
//! file made self-contained once committed.

use rusqlite::Connection;

use super::copy::{BATCH, Cell, CopyError, Sink, quoted};

/// Why reading a table failed.
pub(super) enum Failed {
    Db(rusqlite::Error),
    Copy(CopyError),
}

/// A table's columns, in order.
pub(super) fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
    statement
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect()
}

/// Every row of `table` (its `columns`), handed to `f` a batch at a time.
pub(super) fn read_rows(
    conn: &Connection,
    table: &str,
    columns: &[String],
    f: Sink<'_>,
) -> Result<(), Failed> {
    let sql = format!("SELECT {} FROM {table}", quoted(columns));
    let mut statement = conn.prepare(&sql).map_err(Failed::Db)?;
    let mut rows = statement.query([]).map_err(Failed::Db)?;
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(row) = rows.next().map_err(Failed::Db)? {
        let cells = (0..columns.len())
            .map(|i| row.get_ref(i).map(cell_of))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failed::Db)?;
        batch.push(cells);
        if batch.len() == BATCH {
            f(&batch).map_err(Failed::Copy)?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        f(&batch).map_err(Failed::Copy)?;
    }
    Ok(())
}

/// Insert a batch of rows into `table`; how many went in.
pub(super) fn write_rows(
    conn: &Connection,
    table: &str,
    columns: &[String],
    batch: &[Vec<Cell>],
) -> rusqlite::Result<u64> {
    let marks = vec!["?"; columns.len()].join(", ");
    let sql = format!("INSERT INTO {table} ({}) VALUES ({marks})", quoted(columns));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut n = 0;
    for row in batch {
        let values = row.iter().map(|c| c as &dyn rusqlite::ToSql);
        n += statement.execute(rusqlite::params_from_iter(values))?;
    }
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

/// The new file as one file: its `-wal` folded in and gone (rollback journal mode; runctl
/// puts it back in WAL mode when it opens it as a project's state.db).
pub(super) fn self_contained(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
    Ok(())
}

fn cell_of(value: rusqlite::types::ValueRef<'_>) -> Cell {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(r) => Cell::Real(r),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(text) => Cell::Text(text.to_string()),
            Err(_) => Cell::RawText(t.to_vec()),
        },
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    }
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(i) => ValueRef::Integer(*i),
            Cell::Real(r) => ValueRef::Real(*r),
            Cell::Text(t) => ValueRef::Text(t.as_bytes()),
            Cell::RawText(t) => ValueRef::Text(t),
            Cell::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::copy::{NOT_COPIED, TABLES};
    use super::super::{Engine, Store};

    fn sqlite(store: &Store) -> &rusqlite::Connection {
        match &store.engine {
            Engine::Sqlite(conn) => conn,
            #[cfg(feature = "postgres")]
            Engine::Postgres(..) => unreachable!("an in-memory store is SQLite"),
        }
    }

    #[test]
    fn every_table_of_the_schema_is_copied_or_named_as_not_and_parents_come_first() {
        let store = Store::in_memory().unwrap();
        let conn = sqlite(&store);
        let mut statement = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'refinery_schema_history'",
            )
            .unwrap();
        let tables: Vec<String> = statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for table in &tables {
            assert!(
                TABLES.contains(&table.as_str()) || NOT_COPIED.contains(&table.as_str()),
                "a new table, {table}: copy it (TABLES) or say why not (NOT_COPIED)"
            );
        }
        for (at, table) in TABLES.iter().enumerate() {
            assert!(
                tables.iter().any(|t| t == table),
                "{table} is not in the schema"
            );
            let mut parents = conn
                .prepare("SELECT \"table\" FROM pragma_foreign_key_list(?1)")
                .unwrap();
            let parents: Vec<String> = parents
                .query_map([table], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for parent in parents {
                let before = TABLES.iter().position(|t| *t == parent);
                assert!(
                    before.is_some_and(|p| p < at),
                    "{table} names {parent}, copied after it"
                );
            }
        }
    }
}
