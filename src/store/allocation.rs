//! The allocation transaction: one write transaction (`BEGIN IMMEDIATE`) in which a run's
//! name is chosen, its record inserted and its source attached, so that many processes
//! allocating at once are serialized and no two get the same name; and a plan's transaction,
//! which holds proposals as rows and is always rolled back.

use rusqlite::{OptionalExtension, Transaction, params};

use super::runs::{COLUMNS, from_row};
use super::{RunRow, Store, StoreError, classify};
use crate::project::Scope;

/// A write transaction in which a run name is chosen and the run inserted; many processes
/// allocating at once are serialized by it, so no two get the same name.
pub struct Allocation<'a> {
    tx: Transaction<'a>,
    path: &'a std::path::Path,
    /// Whether the transaction is committed when it succeeds (a dry run, `name` and a plan
    /// are rolled back, and may be on a read-only connection: caches are not written there).
    commit: bool,
}

impl<'a> Allocation<'a> {
    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(self.path, e)
    }

    pub(super) fn tx(&self) -> &Transaction<'a> {
        &self.tx
    }

    pub(super) fn commits(&self) -> bool {
        self.commit
    }

    /// The largest run number stored in this scope (superseded runs included).
    pub fn max_number(
        &self,
        scope: Scope,
        model: &str,
        dataset: &str,
    ) -> Result<Option<u32>, StoreError> {
        // Removed runs keep counting: a name is never given again. Each max() is its own
        // scalar subquery, so that each is one step down an index.
        let sql = match scope {
            Scope::Global => {
                "SELECT nullif(max(coalesce((SELECT max(number) FROM runs), 0), \
                 coalesce((SELECT max(number) FROM removed_runs), 0)), 0) \
                 WHERE ?1 IS NOT NULL OR ?2 IS NOT NULL"
            }
            Scope::Model => {
                "SELECT nullif(max(coalesce((SELECT max(number) FROM runs WHERE model = ?1), 0), \
                 coalesce((SELECT max(number) FROM removed_runs WHERE model = ?1), 0)), 0) \
                 WHERE ?2 IS NOT NULL"
            }
            Scope::ModelDataset => {
                "SELECT nullif(max(\
                 coalesce((SELECT max(number) FROM runs WHERE model = ?1 AND dataset = ?2), 0), \
                 coalesce((SELECT max(number) FROM removed_runs WHERE model = ?1 AND dataset = ?2), 0)), 0)"
            }
        };
        self.tx
            .query_row(sql, params![model, dataset], |row| row.get(0))
            .map_err(|e| self.err(e))
    }

    /// The live (not superseded) run holding this name.
    pub fn live_run_named(&self, name: &str) -> Result<Option<RunRow>, StoreError> {
        self.tx
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE name = ?1 AND superseded = 0"),
                [name],
                from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The id of a run `runctl rm` deleted that had this name, if one did.
    pub fn removed_run_named(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_row(
                "SELECT max(id) FROM removed_runs WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Whether no run has this id yet.
    pub fn run_id_free(&self, id: &str) -> Result<bool, StoreError> {
        self.tx
            .query_row("SELECT count(*) FROM runs WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n == 0)
            .map_err(|e| self.err(e))
    }

    /// Mark a run superseded by a newer run of the same name.
    pub fn supersede(&self, id: &str, moved_to: Option<&str>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE runs SET superseded = 1, moved_to = ?2 WHERE id = ?1",
                params![id, moved_to],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Register the full form of a segment that naming shortened, under its short form; a
    /// different full form with the same short form is a collision.
    pub fn record_shortened(&self, short: &str, full: &str) -> Result<(), StoreError> {
        super::hashes::insert_hashes(
            super::sql::Db::Sqlite(&self.tx),
            self.path,
            "md5",
            &[(short.to_string(), full.to_string())],
            "naming",
        )
        .map(|_| ())
    }

    /// Set tags of the run being made.
    pub fn tag(&self, run_id: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        super::annotations::insert_tags(&self.tx, run_id, tags).map_err(|e| self.err(e))
    }

    /// Insert a new run.
    pub fn insert(&self, run: &RunRow) -> Result<(), StoreError> {
        self.tx
            .execute(
                &format!(
                    "INSERT INTO runs ({COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
                ),
                params![
                    run.id,
                    run.name,
                    run.dir_name,
                    run.model,
                    run.dataset,
                    run.size,
                    run.number,
                    run.scope,
                    run.status,
                    run.superseded,
                    run.moved_to,
                    run.outputs_dir,
                    run.logs_dir,
                    run.command,
                    run.config,
                    run.config_path,
                    run.exit_code,
                    run.created_at,
                    run.started_at,
                    run.finished_at,
                    run.archived_at
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Store {
    /// Run `f` inside one write transaction (`BEGIN IMMEDIATE`), committing when `commit` is
    /// true and `f` succeeds; rolled back otherwise.
    pub fn allocate<T, E: From<StoreError>>(
        &mut self,
        commit: bool,
        f: impl FnOnce(&Allocation<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        // A dry run only reads: no write lock for it.
        let behavior = if commit {
            rusqlite::TransactionBehavior::Immediate
        } else {
            rusqlite::TransactionBehavior::Deferred
        };
        let tx = self
            .conn_mut()?
            .transaction_with_behavior(behavior)
            .map_err(|e| classify(&path, e))?;
        let allocation = Allocation {
            tx,
            path: &path,
            commit,
        };
        let value = f(&allocation)?;
        if commit {
            allocation.tx.commit().map_err(|e| classify(&path, e))?;
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
        let tx = self.write_tx()?;
        let allocation = Allocation {
            tx,
            path: &path,
            commit: false,
        };
        f(&allocation)
    }
}
