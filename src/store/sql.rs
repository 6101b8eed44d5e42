//! One statement interface over both engines, so that a store operation whose SQL is the same
//! on SQLite and PostgreSQL is written once: the SQL text with `?N` placeholders (turned into
//! `$N` for PostgreSQL), parameters as [`Value`]s, rows read through [`Row`]'s getters, and a
//! write transaction ([`Txn`]) that rolls back unless committed. An operation whose SQL must
//! differ keeps one statement per engine, chosen by matching on [`Db`].
//!
//! Values are what runctl stores: integers, text, bytes and NULL. On PostgreSQL an integer is
//! sent as the parameter's type asks (smallint, integer, bigint, boolean) and read from any of
//! them, as SQLite does without asking.

#[cfg(feature = "postgres")]
use std::borrow::Cow;

use super::{Engine, Store, StoreError, classify};

/// A parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub(super) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Blob(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// An error of either engine, or a NULL where a value must be.
#[derive(Debug)]
pub(super) enum DbError {
    Sqlite(rusqlite::Error),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Error),
    #[cfg(feature = "postgres")]
    NullAt(usize),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

#[cfg(feature = "postgres")]
impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// A row of a result.
pub(super) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Postgres(&'r postgres::Row),
}

// Getters and helpers the operations being moved onto both engines use as they come.
#[cfg_attr(not(test), allow(dead_code))]
impl Row<'_> {
    /// Column `i` as text (NULL is an error).
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// Column `i` as text, NULL as `None`.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => Ok(r.try_get(i)?),
        }
    }

    /// Column `i` as a stored state (a status): whatever the column holds becomes text, so
    /// that one odd row, however it was written, never hides the others (state_sql.rs).
    pub fn stored<T: crate::state::State>(
        &self,
        i: usize,
    ) -> Result<crate::state::Stored<T>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => Ok(crate::state::Stored::parse(&r.try_get::<_, String>(i)?)),
        }
    }

    /// Column `i` as a stored state, NULL as `None`.
    pub fn opt_stored<T: crate::state::State>(
        &self,
        i: usize,
    ) -> Result<Option<crate::state::Stored<T>>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => Ok(r
                .try_get::<_, Option<String>>(i)?
                .map(|s| crate::state::Stored::parse(&s))),
        }
    }

    /// Column `i` as an integer, NULL as `None` (a PostgreSQL smallint, integer or boolean
    /// too).
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => super::pg::int(r, i),
        }
    }

    /// Column `i` as an integer (NULL is an error).
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        match self {
            Row::Sqlite(r) => Ok(r.get(i)?),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => super::pg::int(r, i)?.ok_or(DbError::NullAt(i)),
        }
    }
}

/// A connection (or the transaction open on it) to run statements on.
#[derive(Clone, Copy)]
pub(super) enum Db<'c> {
    Sqlite(&'c rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(&'c std::cell::RefCell<super::pg::PgConn>),
}

impl Db<'_> {
    /// Run a statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<usize, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))?)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(client) => {
                let changed = client.borrow_mut().execute(&pg_text(sql), params)?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row of a query, each read by `f`.
    pub fn query<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row))?);
                }
                Ok(out)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(client) => {
                let rows = client.borrow_mut().query(&pg_text(sql), params)?;
                rows.iter().map(|r| f(&Row::Postgres(r))).collect()
            }
        }
    }

    /// The first row of a query, if any, read by `f`.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        Ok(self.query(sql, params, f)?.into_iter().next())
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// `sql` with each `?N` outside a quoted string written `$N`, as PostgreSQL numbers them.
#[cfg(feature = "postgres")]
fn pg_text(sql: &str) -> Cow<'_, str> {
    if !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

impl Store {
    /// The connection, to run statements written for both engines.
    pub(super) fn db(&self) -> Db<'_> {
        match &self.engine {
            Engine::Sqlite(conn) => Db::Sqlite(conn),
            #[cfg(feature = "postgres")]
            Engine::Postgres(client, _) => Db::Postgres(client.as_ref()),
        }
    }

    /// The store error a user can act on, for an error of either engine.
    pub(super) fn db_err(&self, e: DbError) -> StoreError {
        db_error(&self.path, e)
    }
}

/// The store error for an engine error on the store at `path`.
pub(super) fn db_error(path: &std::path::Path, e: DbError) -> StoreError {
    match e {
        DbError::Sqlite(e) => classify(path, e),
        #[cfg(feature = "postgres")]
        DbError::Postgres(e) => super::pg::pg_err(path, e),
        #[cfg(feature = "postgres")]
        DbError::NullAt(i) => StoreError::Sqlite {
            path: path.to_path_buf(),
            source: format!("column {i} is NULL where a value must be").into(),
        },
    }
}

#[cfg(test)]
#[path = "sql_tests.rs"]
mod tests;
