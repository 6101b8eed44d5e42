//! Write transactions on either engine ([`Txn`]): SQLite's own, or `BEGIN` on a PostgreSQL
//! connection; dropped without [`Txn::commit`], one rolls back.

use super::sql::{Db, DbError};
use super::{Engine, Store, StoreError, classify};

/// A write transaction; dropped without [`Txn::commit`], it rolls back.
pub(super) enum Txn<'s> {
    Sqlite(rusqlite::Transaction<'s>),
    #[cfg(feature = "postgres")]
    Postgres(PgTxn<'s>),
}

/// A transaction begun on a PostgreSQL connection with `BEGIN`.
#[cfg(feature = "postgres")]
pub(super) struct PgTxn<'s> {
    client: &'s std::cell::RefCell<super::pg::PgConn>,
    open: bool,
}

#[cfg(feature = "postgres")]
impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            self.client.borrow_mut().rollback();
        }
    }
}

impl Txn<'_> {
    /// Make this transaction the only writer of its kind (`key`) until it ends, across
    /// processes and hosts: on PostgreSQL a transaction-level advisory lock; on SQLite nothing
    /// more, as `BEGIN IMMEDIATE` already lets one writer in at a time.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub fn serialize_writers(&self, key: i64) -> Result<(), DbError> {
        match self {
            Txn::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Txn::Postgres(tx) => {
                tx.client
                    .borrow_mut()
                    .client
                    .execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
                Ok(())
            }
        }
    }

    /// Make this transaction the only one recording into (or recounting) run `run_id` until
    /// it ends, on every host: nothing more on SQLite, whose writers take turns already.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub fn lock_run_results(&self, run_id: &str) -> Result<(), DbError> {
        match self {
            Txn::Sqlite(_) => Ok(()),
            #[cfg(feature = "postgres")]
            Txn::Postgres(tx) => {
                super::ledger_pg::lock_results(&mut tx.client.borrow_mut(), run_id)
            }
        }
    }

    /// Statements inside the transaction.
    pub fn db(&self) -> Db<'_> {
        match self {
            Txn::Sqlite(tx) => Db::Sqlite(tx),
            #[cfg(feature = "postgres")]
            Txn::Postgres(tx) => Db::Postgres(tx.client),
        }
    }

    pub fn commit(self) -> Result<(), DbError> {
        match self {
            Txn::Sqlite(tx) => Ok(tx.commit()?),
            #[cfg(feature = "postgres")]
            Txn::Postgres(mut tx) => {
                tx.client.borrow_mut().commit()?;
                tx.open = false;
                Ok(())
            }
        }
    }
}

impl Store {
    /// A write transaction: on SQLite one that takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so that its first write cannot fail as busy.
    pub(super) fn txn(&mut self) -> Result<Txn<'_>, StoreError> {
        self.txn_for(true)
    }

    /// A write transaction on a shared store (`&self`): for operations that read and write
    /// through [`Store::db`] otherwise. On SQLite it takes the write lock at once.
    pub(super) fn txn_shared(&self) -> Result<Txn<'_>, StoreError> {
        match &self.engine {
            Engine::Sqlite(conn) => {
                rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)
                    .map(Txn::Sqlite)
                    .map_err(|e| classify(&self.path, e))
            }
            #[cfg(feature = "postgres")]
            Engine::Postgres(client, _) => pg_begin(client, &self.path),
        }
    }

    /// A transaction that takes SQLite's write lock at once when `write`, else at its first
    /// write (`BEGIN DEFERRED`: a read-only one holds none).
    pub(super) fn txn_for(&mut self, write: bool) -> Result<Txn<'_>, StoreError> {
        let behavior = match write {
            true => rusqlite::TransactionBehavior::Immediate,
            false => rusqlite::TransactionBehavior::Deferred,
        };
        match &mut self.engine {
            Engine::Sqlite(conn) => conn
                .transaction_with_behavior(behavior)
                .map(Txn::Sqlite)
                .map_err(|e| classify(&self.path, e)),
            #[cfg(feature = "postgres")]
            Engine::Postgres(client, _) => pg_begin(client, &self.path),
        }
    }
}

/// `BEGIN` on a PostgreSQL connection, as a [`Txn`].
#[cfg(feature = "postgres")]
fn pg_begin<'s>(
    client: &'s std::cell::RefCell<super::pg::PgConn>,
    path: &std::path::Path,
) -> Result<Txn<'s>, StoreError> {
    client
        .borrow_mut()
        .begin()
        .map_err(|e| super::pg::pg_err(path, e))?;
    Ok(Txn::Postgres(PgTxn { client, open: true }))
}
