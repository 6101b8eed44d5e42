//! Runs (table `runs`): the row, lookups, listing and status (allocation is `allocation.rs`).

use rusqlite::{OptionalExtension, Row, params};

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

pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        id: row.get(0)?,
        name: row.get(1)?,
        dir_name: row.get(2)?,
        model: row.get(3)?,
        dataset: row.get(4)?,
        size: row.get(5)?,
        number: row.get(6)?,
        scope: row.get(7)?,
        status: row.get(8)?,
        superseded: row.get(9)?,
        moved_to: row.get(10)?,
        outputs_dir: row.get(11)?,
        logs_dir: row.get(12)?,
        command: row.get(13)?,
        config: row.get(14)?,
        config_path: row.get(15)?,
        exit_code: row.get(16)?,
        created_at: row.get(17)?,
        started_at: row.get(18)?,
        finished_at: row.get(19)?,
        archived_at: row.get(20)?,
    })
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
        self.conn()?
            .query_row(
                &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                from_row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// Runs with this name, live first, then newest first.
    pub fn runs_named(&self, name: &str) -> Result<Vec<RunRow>, StoreError> {
        // The few rows of one name are sorted here: no sort in SQL (the query-plan test).
        let mut runs = self.query_runs(
            &format!("SELECT {COLUMNS} FROM runs WHERE name = ?1 OR dir_name = ?1"),
            params![name],
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
            params![prefix, upper, limit],
        )
    }

    /// The newest live run that is not archived.
    pub fn latest_run(&self) -> Result<Option<RunRow>, StoreError> {
        Ok(self
            .query_runs(
                &format!(
                    "SELECT {COLUMNS} FROM runs INDEXED BY runs_newest WHERE superseded = 0 AND archived_at IS NULL \
                     ORDER BY created_at DESC, id DESC LIMIT 1"
                ),
                [],
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
        self.query_runs(
            &format!(
                "SELECT {COLUMNS} FROM runs WHERE (?1 IS NULL OR model = ?1) \
                 AND (?2 IS NULL OR dataset = ?2) \
                 AND (?3 IS NULL OR status = ?3 OR (?3 = 'superseded' AND superseded = 1)) \
                 AND (?5 OR archived_at IS NULL) \
                 AND (?6 IS NULL OR created_at < ?6) \
                 AND (SELECT count(*) FROM json_each(?7) AS t JOIN run_tags AS g \
                      ON g.run_id = runs.id AND g.key = t.value ->> 0 AND g.value = t.value ->> 1) \
                     = json_array_length(?7) \
                 ORDER BY created_at DESC, id DESC LIMIT ?4"
            ),
            params![
                filter.model,
                filter.dataset,
                filter.status,
                filter.limit.map_or(-1, i64::from),
                filter.archived,
                filter.created_before,
                tags
            ],
        )
    }

    /// Record that the run's command started.
    pub fn mark_run_started(&self, id: &str, at: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "UPDATE runs SET status = ?3, started_at = coalesce(started_at, ?2), \
                 finished_at = NULL, exit_code = NULL WHERE id = ?1",
                params![id, at, RunStatus::Running],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// The newest run with work items that is not completed (what a bare `runctl resume` takes).
    pub fn newest_unfinished_run(&self) -> Result<Option<RunRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM runs INDEXED BY runs_newest WHERE source_id IS NOT NULL \
             AND superseded = 0 AND archived_at IS NULL AND status <> ?1 ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        Ok(self
            .query_runs(&sql, [RunStatus::Completed])?
            .into_iter()
            .next())
    }

    /// The worker settings stored with a run (JSON), if any.
    pub fn run_work(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.conn()?
            .query_row("SELECT work FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|e| self.sql_err(e))
    }

    /// Store the worker settings of a run (JSON).
    pub fn set_run_work(&self, id: &str, work: &str) -> Result<(), StoreError> {
        self.conn()?
            .execute("UPDATE runs SET work = ?2 WHERE id = ?1", params![id, work])
            .map_err(|e| self.sql_err(e))?;
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
        self.conn()?
            .execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, finished_at = ?4 WHERE id = ?1",
                params![id, status, exit_code, at],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    fn query_runs(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<RunRow>, StoreError> {
        let mut stmt = self.conn()?.prepare(sql).map_err(|e| self.sql_err(e))?;
        stmt.query_map(params, from_row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql_err(e))
    }
}
