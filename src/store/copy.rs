//! Copying a store's whole state into another, empty one (`runctl store copy`): every table
//! of the schema but the host-local caches, read from one consistent snapshot of the source and
//! written in one transaction of the target, so that a copy that fails leaves the target as
//! empty as it was. Both stores must be at this runctl's schema version (whose tables are the
//! same on both engines: a test compares them). The rows go as they are, ids included; on
//! PostgreSQL the identity sequences are moved past the copied ids (copy_pg.rs).

use super::schema::LATEST_VERSION;
use super::{Engine, Store, StoreError};

/// The tables copied, each before those whose foreign keys name it.
pub(super) const TABLES: [&str; 13] = [
    "meta",
    "hashes",
    "links",
    "sources",
    "items",
    "runs",
    "versions",
    "results",
    "run_tags",
    "run_notes",
    "removed_runs",
    "members",
    "claims",
];

/// Tables not copied: what `new` last saw of this host's run folders, read again by the target.
#[cfg(test)]
pub(super) const NOT_COPIED: [&str; 2] = ["folder_scans", "folder_numbers"];

/// Where the rows read go, a batch at a time.
pub(super) type Sink<'a> = &'a mut dyn FnMut(&[Vec<Cell>]) -> Result<(), CopyError>;

/// Rows sent to the target at a time.
pub(super) const BATCH: usize = 2000;

/// A value of a copied row, as either engine holds it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    /// Text that is not UTF-8 (SQLite keeps what it is given): copied to SQLite as it is;
    /// PostgreSQL's text refuses it.
    RawText(Vec<u8>),
    Bytes(Vec<u8>),
}

/// What a copy wrote: rows per table, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub rows: Vec<(&'static str, u64)>,
}

impl Copied {
    /// Rows copied into `table`.
    pub fn of(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target holds runctl state already.
    #[error("{shown} is not empty: it holds {what}")]
    NotEmpty { shown: String, what: String },
    /// A store is at another schema version than this runctl's.
    #[error("{shown} is at schema version {version}; this runctl copies at version {latest}")]
    Version {
        shown: String,
        version: i64,
        latest: i64,
        of_source: bool,
    },
    /// A value the target's column cannot hold.
    #[error("cannot copy {table}.{column} into {shown}: {why}")]
    Value {
        shown: String,
        table: &'static str,
        column: String,
        why: String,
    },
}

impl Store {
    /// Copy this store's state into `target`, which must be empty (no row in any copied table
    /// but `meta`, whose rows it takes from this one). One snapshot of this store, one
    /// transaction of the target: on any error the target is left as it was.
    pub fn copy_into(&self, target: &mut Store) -> Result<Copied, CopyError> {
        for (store, source) in [(self, true), (&*target, false)] {
            let version = store.status.current;
            if version != LATEST_VERSION || !store.status.pending.is_empty() {
                return Err(CopyError::Version {
                    shown: store.path.display().to_string(),
                    version,
                    latest: LATEST_VERSION,
                    of_source: source,
                });
            }
        }
        self.snapshot(true)?;
        let copied = target.write_begin().and_then(|()| {
            // Empty, and kept so: another copy into it waits, then finds this one's rows.
            let copied = target.refuse_rows().and_then(|()| self.copy_tables(target));
            match copied {
                Ok(copied) => target
                    .write_end(true)
                    .and_then(|()| target.self_contained())
                    .map(|()| copied),
                Err(e) => {
                    let _ = target.write_end(false);
                    Err(e)
                }
            }
        });
        let _ = self.snapshot(false);
        copied
    }

    fn copy_tables(&self, target: &mut Store) -> Result<Copied, CopyError> {
        target.exec_copy("DELETE FROM meta")?;
        let mut rows = Vec::new();
        for table in TABLES {
            let columns = self.columns(table)?;
            let mut n = 0u64;
            self.read_rows(table, &columns, &mut |batch| {
                n += target.write_rows(table, &columns, batch)?;
                Ok(())
            })?;
            rows.push((table, n));
        }
        #[cfg(feature = "postgres")]
        if let Engine::Postgres(conn, _) = &target.engine {
            super::copy_pg::move_identities(&mut conn.borrow_mut())
                .map_err(|e| target.db_err(e))?;
        }
        Ok(Copied { rows })
    }

    /// Refused unless every copied table but `meta` is empty; on PostgreSQL under a lock
    /// that the transaction holds, so that two copies into one database go one after the
    /// other (the second then finds rows).
    fn refuse_rows(&self) -> Result<(), CopyError> {
        #[cfg(feature = "postgres")]
        if let Engine::Postgres(conn, _) = &self.engine {
            super::copy_pg::lock_target(&mut conn.borrow_mut()).map_err(|e| self.db_err(e))?;
        }
        match self.first_rows()? {
            Some(what) => Err(CopyError::NotEmpty {
                shown: self.path.display().to_string(),
                what,
            }),
            None => Ok(()),
        }
    }

    /// The first copied table (`meta` aside) that holds a row, as "runs" or "items".
    fn first_rows(&self) -> Result<Option<String>, StoreError> {
        for table in TABLES.iter().skip(1) {
            let sql = format!("SELECT 1 FROM {table} LIMIT 1");
            let found = self
                .db()
                .query_opt(&sql, &[], |_| Ok(()))
                .map_err(|e| self.db_err(e))?;
            if found.is_some() {
                return Ok(Some(format!("rows in its {table} table")));
            }
        }
        Ok(None)
    }

    /// Begin (or end) the read snapshot the copy is made from.
    fn snapshot(&self, begin: bool) -> Result<(), StoreError> {
        match &self.engine {
            Engine::Sqlite(conn) => conn
                .execute_batch(if begin { "BEGIN" } else { "COMMIT" })
                .map_err(|e| super::classify(&self.path, e)),
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => {
                let sql = match begin {
                    true => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                    false => "COMMIT",
                };
                conn.borrow_mut()
                    .client
                    .batch_execute(sql)
                    .map_err(|e| super::pg::pg_err(&self.path, e))
            }
        }
    }

    fn write_begin(&mut self) -> Result<(), CopyError> {
        match &self.engine {
            Engine::Sqlite(conn) => conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| super::classify(&self.path, e).into()),
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => conn
                .borrow_mut()
                .begin()
                .map_err(|e| super::pg::pg_err(&self.path, e).into()),
        }
    }

    fn write_end(&mut self, commit: bool) -> Result<(), CopyError> {
        match &self.engine {
            Engine::Sqlite(conn) => conn
                .execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })
                .map_err(|e| super::classify(&self.path, e).into()),
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => {
                let mut conn = conn.borrow_mut();
                if !commit {
                    conn.rollback();
                    return Ok(());
                }
                conn.commit()
                    .map_err(|e| super::pg::pg_err(&self.path, e).into())
            }
        }
    }

    /// A SQLite target as one file: its `-wal` folded in and gone (rollback journal mode;
    /// runctl puts it back in WAL mode when it opens it as a project's state.db).
    fn self_contained(&self) -> Result<(), CopyError> {
        match &self.engine {
            Engine::Sqlite(conn) => super::copy_sqlite::self_contained(conn)
                .map_err(|e| CopyError::Store(super::classify(&self.path, e))),
            #[cfg(feature = "postgres")]
            Engine::Postgres(..) => Ok(()),
        }
    }

    fn exec_copy(&self, sql: &str) -> Result<(), CopyError> {
        self.db()
            .execute(sql, &[])
            .map_err(|e| CopyError::Store(self.db_err(e)))?;
        Ok(())
    }

    /// A table's columns, in order.
    fn columns(&self, table: &str) -> Result<Vec<String>, StoreError> {
        match &self.engine {
            Engine::Sqlite(conn) => {
                super::copy_sqlite::columns(conn, table).map_err(|e| super::classify(&self.path, e))
            }
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => super::copy_pg::columns(&mut conn.borrow_mut(), table)
                .map(|cols| cols.into_iter().map(|(name, _)| name).collect())
                .map_err(|e| self.db_err(e)),
        }
    }

    /// Every row of `table` (its `columns`), handed to `f` a batch at a time.
    fn read_rows(&self, table: &str, columns: &[String], f: Sink<'_>) -> Result<(), CopyError> {
        match &self.engine {
            Engine::Sqlite(conn) => {
                super::copy_sqlite::read_rows(conn, table, columns, f).map_err(|e| match e {
                    super::copy_sqlite::Failed::Db(e) => {
                        CopyError::Store(super::classify(&self.path, e))
                    }
                    super::copy_sqlite::Failed::Copy(e) => e,
                })
            }
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => {
                super::copy_pg::read_rows(&mut conn.borrow_mut(), table, f).map_err(|e| match e {
                    super::copy_pg::ReadError::Db(e) => CopyError::Store(self.db_err(e)),
                    super::copy_pg::ReadError::Copy(e) => e,
                })
            }
        }
    }

    /// Insert a batch of rows into `table`; how many went in.
    fn write_rows(
        &self,
        table: &'static str,
        columns: &[String],
        batch: &[Vec<Cell>],
    ) -> Result<u64, CopyError> {
        match &self.engine {
            Engine::Sqlite(conn) => super::copy_sqlite::write_rows(conn, table, columns, batch)
                .map_err(|e| CopyError::Store(super::classify(&self.path, e))),
            #[cfg(feature = "postgres")]
            Engine::Postgres(conn, _) => {
                super::copy_pg::write_rows(&mut conn.borrow_mut(), table, columns, batch).map_err(
                    |e| match e {
                        super::copy_pg::WriteError::Db(e) => CopyError::Store(self.db_err(e)),
                        super::copy_pg::WriteError::Value { column, why } => CopyError::Value {
                            shown: self.path.display().to_string(),
                            table,
                            column,
                            why,
                        },
                    },
                )
            }
        }
    }
}

/// Column names, quoted, comma-separated.
pub(super) fn quoted(columns: &[String]) -> String {
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    quoted.join(", ")
}
