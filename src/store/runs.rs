//! Runs (table `runs`): the row, lookups, listing and status (allocation is `allocation.rs`).

use super::sql::{Db, DbError, Row, Value};
use super::{Store, StoreError};
use crate::state::RunStatus;

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: String,
    pub name: String,
    pub dir_name: String,
    pub model: String,
    pub dataset: String,
    pub size: String,
    pub number: Option<u32>,
    pub scope: String,
    pub status: crate::state::Stored<RunStatus>,
    pub superseded: bool,
    pub moved_to: Option<String>,
    pub outputs_dir: String,
    pub logs_dir: String,
    pub command: Option<String>,
    pub config: Option<String>,
    pub config_path: Option<String>,
    pub exit_code: Option<i32>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// When `runctl archive` moved the run's folders under the archive.
    pub archived_at: Option<String>,
}

pub(super) const COLUMNS: &str = "id, name, dir_name, model, dataset, size, number, scope, status, superseded, \
     moved_to, outputs_dir, logs_dir, command, config, config_path, exit_code, created_at, \
     started_at, finished_at, archived_at";

pub(super) fn from_row(row: &Row<'_>) -> Result<RunRow, DbError> {
    Ok(RunRow {
        id: row.text(0)?,
        name: row.text(1)?,
        dir_name: row.text(2)?,
        model: row.text(3)?,
        dataset: row.text(4)?,
        size: row.text(5)?,
        number: row.opt_int(6)?.and_then(|n| u32::try_from(n).ok()),
        scope: row.text(7)?,
        status: row.stored(8)?,
        superseded: row.int(9)? != 0,
        moved_to: row.opt_text(10)?,
        outputs_dir: row.text(11)?,
        logs_dir: row.text(12)?,
        command: row.opt_text(13)?,
        config: row.opt_text(14)?,
        config_path: row.opt_text(15)?,
        exit_code: row.opt_int(16)?.and_then(|n| i32::try_from(n).ok()),
        created_at: row.text(17)?,
        started_at: row.opt_text(18)?,
        finished_at: row.opt_text(19)?,
        archived_at: row.opt_text(20)?,
    })
}

/// The runs `sql` selects (its columns [`COLUMNS`]).
pub(super) fn runs_of(db: Db<'_>, sql: &str, params: &[Value<'_>]) -> Result<Vec<RunRow>, DbError> {
    db.query(sql, params, from_row)
}

/// Filters of `runctl list`.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub model: Option<String>,
    pub dataset: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    /// Only runs with every one of these tags.
    pub tags: Vec<(String, String)>,
    /// Only runs created before this stored time.
    pub created_before: Option<String>,
    /// Archived runs too.
    pub archived: bool,
}

impl Store {
    /// A run by exact id.
    pub fn run_by_id(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        Ok(self
            .query_runs(
                &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                &[id.into()],
            )?
            .into_iter()
            .next())
    }

    /// Runs with this name, live first, then newest first.
    pub fn runs_named(&self, name: &str) -> Result<Vec<RunRow>, StoreError> {
        // The few rows of one name are sorted here: no sort in SQL (the query-plan test).
        let mut runs = self.query_runs(
            &format!("SELECT {COLUMNS} FROM runs WHERE name = ?1 OR dir_name = ?1"),
            &[name.into()],
        )?;
        runs.sort_by(|a, b| {
            (a.superseded, &b.created_at, &b.id).cmp(&(b.superseded, &a.created_at, &a.id))
        });
        Ok(runs)
    }

    /// Runs whose id starts with `prefix` (at most `limit`).
    pub fn runs_with_id_prefix(&self, prefix: &str, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        // A range of the primary key: every id from the prefix up to (not with) the prefix
        // whose last character is the next one.
        let Some(last) = prefix.chars().last() else {
            return Ok(Vec::new());
        };
        let Some(next) = char::from_u32(u32::from(last) + 1) else {
            return Ok(Vec::new());
        };
        let upper = format!("{}{next}", &prefix[..prefix.len() - last.len_utf8()]);
        self.query_runs(
            &format!("SELECT {COLUMNS} FROM runs WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3"),
            &[prefix.into(), (&upper).into(), limit.into()],
        )
    }

    /// The newest live run that is not archived.
    pub fn latest_run(&self) -> Result<Option<RunRow>, StoreError> {
        let newest = newest_index(self.db());
        Ok(self
            .query_runs(
                &format!(
                    "SELECT {COLUMNS} FROM runs {newest} WHERE superseded = 0 AND archived_at IS NULL \
                     ORDER BY created_at DESC, id DESC LIMIT 1"
                ),
                &[],
            )?
            .into_iter()
            .next())
    }

    /// Runs matching the filter, newest first.
    pub fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let tags = serde_json::Value::Array(
            filter
                .tags
                .iter()
                .map(|(k, v)| serde_json::json!([k, v]))
                .collect(),
        )
        .to_string();
        // The tags to have, as a JSON array of [key, value] pairs, each to be found.
        let tag_rows = match self.db() {
            Db::Sqlite(_) => {
                "json_each(?7) AS t JOIN run_tags AS g \
                 ON g.run_id = runs.id AND g.key = t.value ->> 0 AND g.value = t.value ->> 1"
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => {
                "jsonb_array_elements(CAST(CAST(?7 AS TEXT) AS jsonb)) AS t (value) JOIN run_tags AS g \
                 ON g.run_id = runs.id AND g.key = t.value ->> 0 AND g.value = t.value ->> 1"
            }
        };
        let count = match self.db() {
            Db::Sqlite(_) => "json_array_length(?7)",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "jsonb_array_length(CAST(CAST(?7 AS TEXT) AS jsonb))",
        };
        // No limit is -1 on SQLite, NULL on PostgreSQL.
        let limit = match (self.db(), filter.limit) {
            (Db::Sqlite(_), None) => Value::Int(-1),
            (_, limit) => limit.into(),
        };
        // The casts tell PostgreSQL the parameters' types where only IS NULL sees them.
        self.query_runs(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE (CAST(?1 AS TEXT) IS NULL OR model = ?1) \
                 AND (CAST(?2 AS TEXT) IS NULL OR dataset = ?2) \
                 AND (CAST(?3 AS TEXT) IS NULL OR status = ?3 OR (?3 = 'superseded' AND superseded = 1)) \
                 AND (?5 = 1 OR archived_at IS NULL) \
                 AND (CAST(?6 AS TEXT) IS NULL OR created_at < ?6) \
                 AND (SELECT count(*) FROM {tag_rows}) = {count} \
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            &[
                filter.model.as_deref().into(),
                filter.dataset.as_deref().into(),
                filter.status.as_deref().into(),
                limit,
                filter.archived.into(),
                filter.created_before.as_deref().into(),
                (&tags).into(),
            ],
        )
    }

    /// Record that the run's command started.
    pub fn mark_run_started(&self, id: &str, at: &str) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE runs SET status = ?3, started_at = coalesce(started_at, ?2), \
                 finished_at = NULL, exit_code = NULL WHERE id = ?1",
                &[id.into(), at.into(), RunStatus::Running.as_str().into()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// The newest run with work items that is not completed (what a bare `runctl resume` takes).
    pub fn newest_unfinished_run(&self) -> Result<Option<RunRow>, StoreError> {
        let newest = newest_index(self.db());
        let sql = format!(
            "SELECT {COLUMNS} FROM runs {newest} WHERE source_id IS NOT NULL \
             AND superseded = 0 AND archived_at IS NULL AND status <> ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        Ok(self
            .query_runs(&sql, &[RunStatus::Completed.as_str().into()])?
            .into_iter()
            .next())
    }

    /// The worker settings stored with a run (JSON), if any.
    pub fn run_work(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.db()
            .query_opt("SELECT work FROM runs WHERE id = ?1", &[id.into()], |r| {
                r.opt_text(0)
            })
            .map(Option::flatten)
            .map_err(|e| self.db_err(e))
    }

    /// Store the worker settings of a run (JSON).
    pub fn set_run_work(&self, id: &str, work: &str) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE runs SET work = ?2 WHERE id = ?1",
                &[id.into(), work.into()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Record how the run's command ended.
    pub fn mark_run_finished(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        at: &str,
    ) -> Result<(), StoreError> {
        // Other members still at work end the run themselves (members.rs).
        if self.others_at_work(id)? {
            return Ok(());
        }
        self.db()
            .execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, finished_at = ?4 WHERE id = ?1",
                &[
                    id.into(),
                    status.as_str().into(),
                    exit_code.map(i64::from).into(),
                    at.into(),
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    fn query_runs(&self, sql: &str, params: &[Value<'_>]) -> Result<Vec<RunRow>, StoreError> {
        runs_of(self.db(), sql, params).map_err(|e| self.db_err(e))
    }
}

/// SQLite's `INDEXED BY runs_newest` (its planner would otherwise scan a run's name index
/// for `ORDER BY created_at`; the query-plan test); PostgreSQL chooses by itself.
pub(super) fn newest_index(db: Db<'_>) -> &'static str {
    match db {
        Db::Sqlite(_) => "INDEXED BY runs_newest",
        #[cfg(feature = "postgres")]
        Db::Postgres(_) => "",
    }
}
