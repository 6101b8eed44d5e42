//! Sources, their items, and the result ledger (tables `sources`, `items`, `results`).
//!
//! A source is ingested in one transaction: a bad row anywhere leaves nothing behind. Results
//! are upserted, one per (run, item), in batches.

use rusqlite::{OptionalExtension, params};

use super::{Allocation, Store, StoreError, classify, now_text};
use crate::source::{Item, SourceError};

/// A source as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub id: i64,
    pub path: String,
    pub sha256: String,
    pub md5: String,
    pub n_items: i64,
}

/// What is known of a file before it is read.
#[derive(Debug, Clone)]
pub struct SourceMeta {
    pub path: String,
    pub format: String,
    pub md5: String,
    pub sha256: String,
    pub size: u64,
    pub key_columns: String,
    pub unpivot: String,
}

/// Why an ingest failed; the DB is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}:{location}: duplicate key {key} (first at {first})")]
    Duplicate {
        path: String,
        location: String,
        key: String,
        first: String,
    },
}

/// Which items of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Items with no result yet.
    Remaining,
    /// Items whose result is an error.
    Errors,
    All,
}

/// One result to record.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultIn {
    pub key: String,
    pub ok: bool,
    /// The output (JSON text) when ok, the error message when not.
    pub payload: String,
    pub category: Option<String>,
    pub duration_ms: Option<i64>,
    pub worker: Option<i64>,
    /// Attempts this result stands for (1, or more when it was retried within one pass).
    pub attempts: i64,
    /// The first error of those attempts, when an earlier one failed.
    pub first_error: Option<String>,
    pub started_at: Option<String>,
    /// When it finished [default: when it is recorded].
    pub finished_at: Option<String>,
}

/// One item as handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageItem {
    pub key: String,
    /// The item's columns, a JSON object.
    pub data: String,
    /// Where it came from in the source file.
    pub location: String,
    /// Attempts recorded for it so far.
    pub attempts: i64,
}

/// Progress counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub n_items: i64,
    pub n_completed: i64,
    pub n_errors: i64,
    /// When the remaining items should be done at the rate so far (UTC), once there is a rate.
    pub eta: Option<String>,
}

/// The finish time of `remaining` items at the rate of `done` items since `first`.
fn eta(
    first: jiff::Timestamp,
    now: jiff::Timestamp,
    done: i64,
    remaining: i64,
) -> Option<jiff::Timestamp> {
    let elapsed = now.duration_since(first).as_secs_f64();
    if done < 2 || elapsed <= 0.0 || remaining <= 0 {
        return None;
    }
    finish_at(now, elapsed, done, remaining)
}

/// When `remaining` more items will be done, from `now`, at the rate of `done` items in
/// `elapsed_secs`; `None` before any is done.
pub fn finish_at(
    now: jiff::Timestamp,
    elapsed_secs: f64,
    done: i64,
    remaining: i64,
) -> Option<jiff::Timestamp> {
    if done <= 0 || elapsed_secs < 0.0 {
        return None;
    }
    let seconds = remaining.max(0) as f64 * elapsed_secs / done as f64;
    now.checked_add(jiff::SignedDuration::try_from_secs_f64(seconds).ok()?)
        .ok()
}

/// A time as `runs.eta` holds it.
pub fn eta_stamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn source_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceRow> {
    Ok(SourceRow {
        id: r.get(0)?,
        path: r.get(1)?,
        sha256: r.get(2)?,
        md5: r.get(3)?,
        n_items: r.get(4)?,
    })
}

impl Allocation<'_> {
    /// Tie a new run to its source.
    pub fn attach_source(
        &self,
        run_id: &str,
        source_id: i64,
        n_items: i64,
    ) -> Result<(), StoreError> {
        self.tx()
            .execute(
                "UPDATE runs SET source_id = ?2, n_items = ?3 WHERE id = ?1",
                params![run_id, source_id, n_items],
            )
            .map_err(|e| self.err_of(e))?;
        Ok(())
    }
}

impl Store {
    /// The source already ingested from this path with this content and keying.
    pub fn find_source(&self, meta: &SourceMeta) -> Result<Option<SourceRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT id, path, sha256, md5, n_items FROM sources \
                 WHERE path = ?1 AND sha256 = ?2 AND key_columns = ?3 AND unpivot = ?4",
                params![meta.path, meta.sha256, meta.key_columns, meta.unpivot],
                source_row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// The source of a run, if it has one.
    pub fn source_of_run(&self, run_id: &str) -> Result<Option<SourceRow>, StoreError> {
        self.conn
            .query_row(
                "SELECT s.id, s.path, s.sha256, s.md5, s.n_items FROM sources s \
                 JOIN runs r ON r.source_id = s.id WHERE r.id = ?1",
                [run_id],
                source_row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// Ingest a source in one transaction: `read` feeds every item; any error rolls it all back.
    pub fn ingest(
        &mut self,
        meta: &SourceMeta,
        read: impl FnOnce(
            &mut dyn FnMut(Item) -> Result<(), SourceError>,
        ) -> Result<Vec<String>, SourceError>,
    ) -> Result<SourceRow, IngestError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO sources (path, format, md5, sha256, size, key_columns, unpivot, columns, n_items, ingested_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', 0, ?8)",
            params![meta.path, meta.format, meta.md5, meta.sha256, meta.size as i64, meta.key_columns, meta.unpivot, now_text()],
        )
        .map_err(err)?;
        let id = tx.last_insert_rowid();
        let mut n = 0i64;
        let mut duplicate: Option<IngestError> = None;
        // A failed write is the DB's failure (a full disk, say), not a bad row.
        let mut failed_write: Option<StoreError> = None;
        let columns = {
            let mut insert = tx
                .prepare("INSERT INTO items (source_id, key, location, data) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING")
                .map_err(err)?;
            let mut first_at = tx
                .prepare("SELECT location FROM items WHERE source_id = ?1 AND key = ?2")
                .map_err(err)?;
            let mut sink = |item: Item| -> Result<(), SourceError> {
                let data = serde_json::Value::Object(item.data).to_string();
                let added = match insert.execute(params![id, item.key, item.location, data]) {
                    Ok(added) => added,
                    Err(e) => {
                        let e = classify(&path, e);
                        let reason = e.to_string();
                        failed_write = Some(e);
                        return Err(SourceError::Bad {
                            path: meta.path.clone().into(),
                            location: item.location.clone(),
                            reason,
                        });
                    }
                };
                if added == 0 {
                    let first: String = first_at
                        .query_row(params![id, item.key], |r| r.get(0))
                        .unwrap_or_default();
                    duplicate = Some(IngestError::Duplicate {
                        path: meta.path.clone(),
                        location: item.location.clone(),
                        key: item.key.clone(),
                        first,
                    });
                    return Err(SourceError::Bad {
                        path: meta.path.clone().into(),
                        location: item.location,
                        reason: "duplicate key".into(),
                    });
                }
                n += 1;
                Ok(())
            };
            match read(&mut sink) {
                Ok(columns) => columns,
                Err(e) => {
                    return Err(match (failed_write, duplicate) {
                        (Some(write), _) => IngestError::Store(write),
                        (None, Some(duplicate)) => duplicate,
                        (None, None) => IngestError::Source(e),
                    });
                }
            }
        };
        let columns = serde_json::to_string(&columns).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "UPDATE sources SET n_items = ?2, columns = ?3 WHERE id = ?1",
            params![id, n, columns],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(SourceRow {
            id,
            path: meta.path.clone(),
            sha256: meta.sha256.clone(),
            md5: meta.md5.clone(),
            n_items: n,
        })
    }

    /// Stream the selected items of a run in key order: `(key, data JSON, location)`, read a
    /// page at a time ([`Store::items_page`]). `f` returns false to stop early.
    pub fn for_each_item(
        &self,
        run_id: &str,
        selection: Selection,
        mut f: impl FnMut(&str, &str, &str) -> bool,
    ) -> Result<(), StoreError> {
        const PAGE: usize = 1000;
        let mut after: Option<String> = None;
        loop {
            let page = self.items_page(run_id, selection, after.as_deref(), PAGE)?;
            for item in &page {
                if !f(&item.key, &item.data, &item.location) {
                    return Ok(());
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.key.clone()),
                _ => return Ok(()),
            }
        }
    }

    /// Upsert results in one transaction, keeping the run's counters (`n_completed`,
    /// `n_errors`, `last_progress_at` and, when given, `eta`) in step in the same commit. Returns
    /// the run's progress after it, or the first key that is not an item of the run (nothing of
    /// the batch is written then).
    pub fn record_results(
        &mut self,
        run_id: &str,
        results: &[ResultIn],
        eta: Option<&str>,
    ) -> Result<Result<Progress, String>, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let now = now_text();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let source_id: Option<i64> = tx
            .prepare_cached("SELECT source_id FROM runs WHERE id = ?1")
            .and_then(|mut st| st.query_row([run_id], |r| r.get(0)))
            .optional()
            .map_err(err)?
            .flatten();
        let (mut d_ok, mut d_err) = (0i64, 0i64);
        {
            // One probe per result: is the key an item, and what is its result so far?
            let mut previous = tx
                .prepare_cached(
                    "SELECT r.status FROM items i LEFT JOIN results r ON r.run_id = ?1 AND r.key = i.key \
                     WHERE i.source_id = ?2 AND i.key = ?3",
                )
                .map_err(err)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO results (run_id, key, status, output, attempt_count, first_error, last_error, \
                     error_category, started_at, finished_at, duration_ms, worker) \
                     VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, ?7), ?7, ?8, ?9, ?10, ?11, ?12) \
                     ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, \
                     output = coalesce(excluded.output, output), \
                     attempt_count = attempt_count + excluded.attempt_count, \
                     first_error = coalesce(first_error, excluded.first_error), \
                     last_error = excluded.last_error, \
                     error_category = excluded.error_category, started_at = excluded.started_at, \
                     finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, \
                     worker = excluded.worker",
                )
                .map_err(err)?;
            for r in results {
                let before: Option<Option<String>> = previous
                    .query_row(params![run_id, source_id, r.key], |row| row.get(0))
                    .optional()
                    .map_err(err)?;
                let Some(before) = before else {
                    return Ok(Err(r.key.clone()));
                };
                match before.as_deref() {
                    Some("ok") => d_ok -= 1,
                    Some("error") => d_err -= 1,
                    _ => {}
                }
                let (status, output, error) = if r.ok {
                    d_ok += 1;
                    ("ok", Some(&r.payload), None)
                } else {
                    d_err += 1;
                    ("error", None, Some(&r.payload))
                };
                upsert
                    .execute(params![
                        run_id,
                        r.key,
                        status,
                        output,
                        r.attempts.max(1),
                        r.first_error,
                        error,
                        r.category,
                        r.started_at,
                        r.finished_at.as_deref().unwrap_or(&now),
                        r.duration_ms,
                        r.worker
                    ])
                    .map_err(err)?;
            }
        }
        tx.prepare_cached(
            "UPDATE runs SET n_completed = n_completed + ?2, n_errors = n_errors + ?3, \
             last_progress_at = ?4, eta = coalesce(?5, eta) WHERE id = ?1",
        )
        .and_then(|mut st| st.execute(params![run_id, d_ok, d_err, now, eta]))
        .map_err(err)?;
        let progress = tx
            .prepare_cached(
                "SELECT coalesce(n_items, 0), n_completed, n_errors, eta FROM runs WHERE id = ?1",
            )
            .and_then(|mut st| st.query_row([run_id], progress_row))
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Ok(progress))
    }

    /// One page of the selected items of a run, in key order, after `after` (exclusive): pages
    /// are short reads, so a long run never holds a read snapshot open while results commit.
    pub fn items_page(
        &self,
        run_id: &str,
        selection: Selection,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<PageItem>, StoreError> {
        let filter = selection_filter(selection);
        let from = if after.is_some() {
            "AND i.key > ?3"
        } else {
            "AND ?3 IS NULL"
        };
        let prior = match selection {
            Selection::Remaining => "0",
            _ => {
                "coalesce((SELECT r.attempt_count FROM results r WHERE r.run_id = ?1 AND r.key = i.key), 0)"
            }
        };
        let sql = format!(
            "SELECT i.key, i.data, i.location, {prior} FROM items i \
             WHERE i.source_id = (SELECT source_id FROM runs WHERE id = ?1) {from} {filter} \
             ORDER BY i.key LIMIT ?2"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(|e| self.sql_err(e))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        stmt.query_map(params![run_id, limit, after], |row| {
            Ok(PageItem {
                key: row.get(0)?,
                data: row.get(1)?,
                location: row.get(2)?,
                attempts: row.get(3)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.sql_err(e))
    }

    /// Count a run's results into its row (`n_completed`, `n_errors`, `last_progress_at`).
    /// A count over the run's results: call it once per batch of work, not per result.
    pub fn refresh_progress(&self, run_id: &str) -> Result<Progress, StoreError> {
        let mut progress = progress_of(&self.conn, run_id).map_err(|e| self.sql_err(e))?;
        let (first, last): (Option<String>, Option<String>) = self
            .conn
            .query_row(
                "SELECT min(finished_at), max(finished_at) FROM results WHERE run_id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql_err(e))?;
        let done = progress.n_completed + progress.n_errors;
        let parse = |t: Option<String>| t.and_then(|t| t.parse::<jiff::Timestamp>().ok());
        progress.eta = if done > 0 && done >= progress.n_items {
            // Done: the ETA becomes the finish time, as the engine leaves it.
            parse(last)
        } else {
            parse(first).and_then(|f| eta(f, jiff::Timestamp::now(), done, progress.n_items - done))
        }
        .map(eta_stamp);
        self.conn
            .execute(
                "UPDATE runs SET n_completed = ?2, n_errors = ?3, last_progress_at = ?4, eta = ?5 WHERE id = ?1",
                params![run_id, progress.n_completed, progress.n_errors, now_text(), progress.eta],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(progress)
    }

    /// Progress counts of a run, as last refreshed (cheap: no count over the results).
    pub fn progress(&self, run_id: &str) -> Result<Progress, StoreError> {
        self.conn
            .query_row(
                "SELECT coalesce(n_items, 0), n_completed, n_errors, eta FROM runs WHERE id = ?1",
                [run_id],
                progress_row,
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.sql_err(e))
    }
}

/// The SQL condition on item `i` (run `?1`) of a selection.
fn selection_filter(selection: Selection) -> &'static str {
    match selection {
        Selection::Remaining => {
            "AND NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = ?1 AND r.key = i.key)"
        }
        Selection::Errors => {
            "AND EXISTS (SELECT 1 FROM results r WHERE r.run_id = ?1 AND r.key = i.key AND r.status = 'error')"
        }
        Selection::All => "",
    }
}

fn progress_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Progress> {
    Ok(Progress {
        n_items: row.get(0)?,
        n_completed: row.get(1)?,
        n_errors: row.get(2)?,
        eta: row.get(3)?,
    })
}

fn progress_of(conn: &rusqlite::Connection, run_id: &str) -> rusqlite::Result<Progress> {
    conn.query_row(
        "SELECT coalesce(r.n_items, 0), \
         (SELECT count(*) FROM results WHERE run_id = ?1 AND status = 'ok'), \
         (SELECT count(*) FROM results WHERE run_id = ?1 AND status = 'error') \
         FROM runs r WHERE r.id = ?1",
        [run_id],
        |row| {
            Ok(Progress {
                n_items: row.get(0)?,
                n_completed: row.get(1)?,
                n_errors: row.get(2)?,
                eta: None,
            })
        },
    )
}

/// One row of `runctl export`: an item and its result, if any.
#[derive(Debug, Clone, Default)]
pub struct ExportRow {
    pub key: String,
    pub data: String,
    pub status: Option<String>,
    pub output: Option<String>,
    pub attempt_count: Option<i64>,
    pub last_error: Option<String>,
    pub error_category: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

impl Store {
    /// The data columns of a run's items, in file order (unpivoted columns become `column`
    /// and `value`).
    pub fn item_columns(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        let (columns, unpivot): (String, String) = self
            .conn
            .query_row(
                "SELECT s.columns, s.unpivot FROM sources s JOIN runs r ON r.source_id = s.id WHERE r.id = ?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.sql_err(e))?;
        let columns: Vec<String> = serde_json::from_str(&columns).unwrap_or_default();
        let unpivot: Vec<String> = serde_json::from_str(&unpivot).unwrap_or_default();
        if unpivot.is_empty() {
            return Ok(columns);
        }
        let mut kept: Vec<String> = columns
            .into_iter()
            .filter(|c| !unpivot.contains(c))
            .collect();
        kept.extend(["column".to_string(), "value".to_string()]);
        Ok(kept)
    }

    /// Stream every item of a run with its result, in key order.
    pub fn for_each_export(
        &self,
        run_id: &str,
        mut f: impl FnMut(ExportRow) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT i.key, i.data, r.status, r.output, r.attempt_count, r.last_error, r.error_category, \
                 r.finished_at, r.duration_ms FROM items i JOIN runs ru ON ru.source_id = i.source_id \
                 LEFT JOIN results r ON r.run_id = ru.id AND r.key = i.key WHERE ru.id = ?1 ORDER BY i.key",
            )
            .map_err(|e| self.sql_err(e))?;
        let mut rows = stmt.query([run_id]).map_err(|e| self.sql_err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.sql_err(e))? {
            let read = || -> rusqlite::Result<ExportRow> {
                Ok(ExportRow {
                    key: row.get(0)?,
                    data: row.get(1)?,
                    status: row.get(2)?,
                    output: row.get(3)?,
                    attempt_count: row.get(4)?,
                    last_error: row.get(5)?,
                    error_category: row.get(6)?,
                    finished_at: row.get(7)?,
                    duration_ms: row.get(8)?,
                })
            };
            if !f(read().map_err(|e| self.sql_err(e))?) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_follows_the_rate_so_far() {
        let first: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let now: jiff::Timestamp = "2026-01-01T00:10:00Z".parse().unwrap();
        // 100 done in 10 minutes, 300 to go: 30 more minutes.
        assert_eq!(
            eta(first, now, 100, 300).unwrap().to_string(),
            "2026-01-01T00:40:00Z"
        );
        assert_eq!(eta(first, now, 1, 300), None);
        assert_eq!(eta(first, now, 100, 0), None);
        assert_eq!(eta(now, now, 100, 5), None);
    }
}
