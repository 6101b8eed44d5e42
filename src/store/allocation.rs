//! The allocation transaction: one write transaction (`BEGIN IMMEDIATE`) in which a run's
//! name is chosen, its record inserted and its source attached, so that many processes
//! allocating at once are serialized and no two get the same name; and a plan's transaction,
//! which holds proposals as rows and is always rolled back.

use super::runs::{COLUMNS, from_row};
use super::sql::{Db, DbError, Value, db_error};
use super::txn::Txn;
use super::{RunRow, Store, StoreError};
use crate::project::Scope;

/// The allocation transaction: the lookups and writes that choose and record a run's name.
pub struct Allocation<'a> {
    txn: Txn<'a>,
    path: &'a std::path::Path,
    commit: bool,
}

/// The advisory lock (PostgreSQL) under which runs are allocated, one at a time across hosts
/// as `BEGIN IMMEDIATE` has it on SQLite: "runs" in ASCII.
pub(super) const RUNS_LOCK: i64 = 0x7275_6E73;

impl<'a> Allocation<'a> {
    pub(super) fn err(&self, e: DbError) -> StoreError {
        db_error(self.path, e)
    }

    /// Statements inside the transaction.
    pub(super) fn db(&self) -> Db<'_> {
        self.txn.db()
    }

    /// Whether this allocation commits (a dry run's does not).
    pub(super) fn commits(&self) -> bool {
        self.commit
    }

    /// The largest run number in the counter scope, from the DB (removed runs too).
    pub fn max_number(
        &self,
        scope: Scope,
        model: &str,
        dataset: &str,
    ) -> Result<Option<u32>, StoreError> {
        // Removed runs keep counting: a name is never given again. Each max() is its own
        // scalar subquery, so that each is one step down an index; the larger of the two is
        // SQLite's max(a, b) and PostgreSQL's greatest(a, b).
        let larger = match self.db() {
            Db::Sqlite(_) => "max",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "greatest",
        };
        let filter = match scope {
            Scope::Global => "",
            Scope::Model => "WHERE model = ?1",
            Scope::ModelDataset => "WHERE model = ?1 AND dataset = ?2",
        };
        let sql = format!(
            "SELECT nullif({larger}(coalesce((SELECT max(number) FROM runs {filter}), 0), \
             coalesce((SELECT max(number) FROM removed_runs {filter}), 0)), 0) \
             WHERE CAST(?1 AS TEXT) IS NOT NULL OR CAST(?2 AS TEXT) IS NOT NULL"
        );
        self.db()
            .query_opt(&sql, &[model.into(), dataset.into()], |row| row.opt_int(0))
            .map(|n| n.flatten().and_then(|n| u32::try_from(n).ok()))
            .map_err(|e| self.err(e))
    }

    /// The live run with this name, if any.
    pub fn live_run_named(&self, name: &str) -> Result<Option<RunRow>, StoreError> {
        self.db()
            .query_opt(
                &format!("SELECT {COLUMNS} FROM runs WHERE name = ?1 AND superseded = 0"),
                &[name.into()],
                from_row,
            )
            .map_err(|e| self.err(e))
    }

    /// The id of the newest removed run that had this name, if any.
    pub fn removed_run_named(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.db()
            .query_opt(
                "SELECT max(id) FROM removed_runs WHERE name = ?1",
                &[name.into()],
                |r| r.opt_text(0),
            )
            .map(Option::flatten)
            .map_err(|e| self.err(e))
    }

    /// Whether no run has this id.
    pub fn run_id_free(&self, id: &str) -> Result<bool, StoreError> {
        self.db()
            .query_opt(
                "SELECT count(*) FROM runs WHERE id = ?1",
                &[id.into()],
                |r| r.int(0),
            )
            .map(|n| n.unwrap_or(0) == 0)
            .map_err(|e| self.err(e))
    }

    /// Mark a run superseded (its name given to a newer run), its outputs moved to `moved_to`.
    pub fn supersede(&self, id: &str, moved_to: Option<&str>) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE runs SET superseded = 1, moved_to = ?2 WHERE id = ?1",
                &[id.into(), moved_to.into()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Register the full form of a segment that naming shortened, under its short form; a
    /// different full form with the same short form is a collision.
    pub fn record_shortened(&self, short: &str, full: &str) -> Result<(), StoreError> {
        super::hashes::insert_hashes(
            self.db(),
            self.path,
            "md5",
            &[(short.to_string(), full.to_string())],
            "naming",
        )
        .map(|_| ())
    }

    /// Give the new run its tags.
    pub fn tag(&self, run_id: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        super::annotations::insert_tags(self.db(), run_id, tags).map_err(|e| self.err(e))
    }

    /// Insert the run's record.
    pub fn insert(&self, run: &RunRow) -> Result<(), StoreError> {
        self.db()
            .execute(
                &format!(
                    "INSERT INTO runs ({COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
                ),
                &[
                    Value::from(&run.id),
                    Value::from(&run.name),
                    Value::from(&run.dir_name),
                    Value::from(&run.model),
                    Value::from(&run.dataset),
                    Value::from(&run.size),
                    Value::from(run.number),
                    Value::from(&run.scope),
                    Value::from(run.status.as_str()),
                    Value::from(run.superseded),
                    Value::from(run.moved_to.as_deref()),
                    Value::from(&run.outputs_dir),
                    Value::from(&run.logs_dir),
                    Value::from(run.command.as_deref()),
                    Value::from(run.config.as_deref()),
                    Value::from(run.config_path.as_deref()),
                    Value::from(run.exit_code.map(i64::from)),
                    Value::from(&run.created_at),
                    Value::from(run.started_at.as_deref()),
                    Value::from(run.finished_at.as_deref()),
                    Value::from(run.archived_at.as_deref()),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Store {
    /// Run `f` inside one write transaction (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL, one
    /// that holds the runs' advisory lock), committing when `commit` is true and `f` succeeds;
    /// rolled back otherwise.
    pub fn allocate<T, E: From<StoreError>>(
        &mut self,
        commit: bool,
        f: impl FnOnce(&Allocation<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        // A dry run only reads: no write lock for it.
        let txn = self.txn_for(commit)?;
        if commit {
            txn.serialize_writers(RUNS_LOCK)
                .map_err(|e| db_error(&path, e))?;
        }
        let allocation = Allocation {
            txn,
            path: &path,
            commit,
        };
        let value = f(&allocation)?;
        if commit {
            allocation.txn.commit().map_err(|e| db_error(&path, e))?;
        }
        Ok(value)
    }

    /// Run `f` inside one write transaction that is always rolled back: for a plan that holds
    /// its proposals as rows (so that each next one counts them) and must change nothing. The
    /// write lock is taken first (`BEGIN IMMEDIATE`, waiting out other writers), so a commit
    /// by another process cannot make the plan's first insert fail as busy.
    pub fn plan_with_writes<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Allocation<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let txn = self.txn()?;
        txn.serialize_writers(RUNS_LOCK)
            .map_err(|e| db_error(&path, e))?;
        let allocation = Allocation {
            txn,
            path: &path,
            commit: false,
        };
        f(&allocation)
    }
}
