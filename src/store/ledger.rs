//! The result ledger (table `results`): one result per (run, item), upserted in batches with
//! the run's counters in the same commit, and items with their results for export. The
//! selected items of a run are read a page at a time by `pages.rs` ([`ItemPages`]).

use rusqlite::{OptionalExtension, params};

pub use super::export::ExportRow;
pub use super::pages::{ItemPages, PageItem};
use super::progress::progress_from;
use super::sql::{Db, DbError, db_error};
use super::{Progress, Store, StoreError, now_text};
use crate::state::{ErrorCategory, ResultStatus, Stored};

/// Which items of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Items with no result yet.
    Remaining,
    /// Items whose result is an error.
    Errors,
    All,
}

/// The result a key had before a batch, when the caller knows it: a pass holds the run's lock
/// and read it with the item, so no one else can have recorded one since. Else the store looks
/// it up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prior {
    #[default]
    Unknown,
    Nothing,
    Ok,
    Error,
}

/// One result to record.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultIn {
    pub key: String,
    pub ok: bool,
    /// The output (JSON text) when ok, the error message when not.
    pub payload: String,
    /// Why it failed; `runctl record` keeps a category a worker names that is none of
    /// runctl's as its text.
    pub category: Option<Stored<ErrorCategory>>,
    pub duration_ms: Option<i64>,
    pub worker: Option<i64>,
    /// Attempts this result stands for (1, or more when it was retried within one pass).
    pub attempts: i64,
    /// The first error of those attempts, when an earlier one failed.
    pub first_error: Option<String>,
    pub started_at: Option<String>,
    /// When it finished [default: when it is recorded].
    pub finished_at: Option<String>,
    /// The result its key had before, if known.
    pub prior: Prior,
}

/// Why a batch of results was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The first key of the batch that is not an item of the run.
    #[error("'{key}' is not an item of this run")]
    UnknownItem { key: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The upsert of one result (`?1` run, `?2` key, `?3` status, `?4` output, `?5` attempts,
/// `?6` first error, `?7` error, `?8` category, `?9` started, `?10` finished, `?11` duration,
/// `?12` worker). Public for the upsert floor benchmark (`bench/src/upsert_floor.rs`), which
/// measures this very statement; nothing else outside the store uses SQL.
pub const UPSERT_RESULT_SQL: &str = "INSERT INTO results (run_id, key, status, output, attempt_count, first_error, last_error, \
     error_category, started_at, finished_at, duration_ms, worker) \
     VALUES (?1, ?2, ?3, ?4, ?5, coalesce(?6, ?7), ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, \
     output = coalesce(excluded.output, output), \
     attempt_count = attempt_count + excluded.attempt_count, \
     first_error = coalesce(first_error, excluded.first_error), \
     last_error = excluded.last_error, \
     error_category = excluded.error_category, started_at = excluded.started_at, \
     finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, \
     worker = excluded.worker";

/// Where the keys of a batch of results come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// From outside (`runctl record`): each is checked to be an item of the run.
    Unchecked,
    /// From this run's own items, as a pass read them: not checked again.
    OfThisRun,
}

impl Store {
    /// Upsert results in one transaction, keeping the run's counters (`n_completed`,
    /// `n_errors`, `last_progress_at` and, when given, `eta`) in step in the same commit. Returns
    /// the run's progress after it; with [`Keys::Unchecked`] a key that is not an item of the
    /// run is [`RecordError::UnknownItem`] (nothing of the batch is written then).
    ///
    /// A member of a pass (members.rs) whose connection the server dropped records the batch
    /// again over a new one, for as long as its lease.
    pub fn record_results(
        &mut self,
        run_id: &str,
        keys: Keys,
        results: &[ResultIn],
        eta: Option<&str>,
    ) -> Result<Progress, RecordError> {
        let mut again = self.reconnecting();
        loop {
            match self.record_once(run_id, keys, results, eta) {
                Err(RecordError::Store(e)) if again.after(self, &e) => {}
                done => return done,
            }
        }
    }

    fn record_once(
        &mut self,
        run_id: &str,
        keys: Keys,
        results: &[ResultIn],
        eta: Option<&str>,
    ) -> Result<Progress, RecordError> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let now = now_text();
        #[cfg(feature = "postgres")]
        let claimant = self.claimant.borrow().clone();
        let tx = self.txn()?;
        let db = tx.db();
        let source_id: Option<i64> = match keys {
            Keys::OfThisRun => None,
            Keys::Unchecked => db
                .query_opt(
                    "SELECT source_id FROM runs WHERE id = ?1",
                    &[run_id.into()],
                    |r| r.opt_int(0),
                )
                .map_err(err)?
                .flatten(),
        };
        let deltas = match db {
            Db::Sqlite(conn) => {
                upsert_results(conn, run_id, keys, source_id, results, &now).map_err(DbError::from)
            }
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => super::ledger_pg::upsert_results(
                &mut conn.borrow_mut(),
                run_id,
                keys,
                source_id,
                results,
                &now,
                claimant.as_ref(),
            ),
        };
        let (d_ok, d_err) = match deltas.map_err(err)? {
            Ok(deltas) => deltas,
            Err(key) => return Err(RecordError::UnknownItem { key }),
        };
        let progress = db
            .query_opt(
                "UPDATE runs SET n_completed = n_completed + ?2, n_errors = n_errors + ?3, \
                 last_progress_at = ?4, eta = coalesce(?5, eta) WHERE id = ?1 \
                 RETURNING coalesce(n_items, 0), n_completed, n_errors, eta",
                &[
                    run_id.into(),
                    d_ok.into(),
                    d_err.into(),
                    now.as_str().into(),
                    eta.into(),
                ],
                progress_from,
            )
            .map_err(err)?
            .unwrap_or_default();
        tx.commit().map_err(err)?;
        Ok(progress)
    }
}

/// Upsert each result; returns the changes to the run's ok and error counts, or (for keys
/// from outside) the first key that is not an item of the run. At most two statements per
/// batch, not per result, stand beside the upserts: the first unknown key, and the statuses
/// the batch's keys had before it, unless every result says it ([`Prior`]); a key twice in the
/// batch replaces its own earlier result the second time, which is counted here without the
/// DB.
fn upsert_results(
    tx: &rusqlite::Connection,
    run_id: &str,
    keys: Keys,
    source_id: Option<i64>,
    results: &[ResultIn],
    now: &str,
) -> rusqlite::Result<Result<(i64, i64), String>> {
    let (d_ok, d_err, firsts) = batch_deltas(results);
    let (d_ok, d_err) = match prior_deltas(tx, run_id, keys, source_id, &firsts)? {
        Ok((ok, err)) => (d_ok + ok, d_err + err),
        Err(unknown) => return Ok(Err(unknown)),
    };
    let mut upsert = tx.prepare_cached(UPSERT_RESULT_SQL)?;
    for r in results {
        let (status, output, error) = if r.ok {
            (ResultStatus::Ok, Some(&r.payload), None)
        } else {
            (ResultStatus::Error, None, Some(&r.payload))
        };
        upsert.execute(params![
            run_id,
            r.key,
            status,
            output,
            r.attempts.max(1),
            r.first_error,
            error,
            r.category,
            r.started_at,
            r.finished_at.as_deref().unwrap_or(now),
            r.duration_ms,
            r.worker
        ])?;
    }
    Ok(Ok((d_ok, d_err)))
}

/// What the results the batch replaces took from the counts (each distinct key's prior result,
/// from the results themselves when they all know it, else looked up), or (for keys from
/// outside) the first key that is not an item of the run.
fn prior_deltas(
    tx: &rusqlite::Connection,
    run_id: &str,
    keys: Keys,
    source_id: Option<i64>,
    firsts: &[&ResultIn],
) -> rusqlite::Result<Result<(i64, i64), String>> {
    let (mut d_ok, mut d_err) = (0i64, 0i64);
    if keys == Keys::OfThisRun && firsts.iter().all(|r| r.prior != Prior::Unknown) {
        for r in firsts {
            match r.prior {
                Prior::Ok => d_ok -= 1,
                Prior::Error => d_err -= 1,
                Prior::Nothing | Prior::Unknown => {}
            }
        }
        return Ok(Ok((d_ok, d_err)));
    }
    let distinct = json_chunks(&firsts.iter().map(|r| r.key.as_str()).collect::<Vec<_>>());
    if keys == Keys::Unchecked {
        // json_each walks the array in order: the first unknown key of the batch.
        let mut first_unknown = tx.prepare_cached(
            "SELECT j.value FROM json_each(?2) j WHERE NOT EXISTS \
             (SELECT 1 FROM items i WHERE i.source_id = ?1 AND i.key = j.value) LIMIT 1",
        )?;
        for chunk in &distinct {
            let unknown: Option<String> = first_unknown
                .query_row(params![source_id, chunk], |r| r.get(0))
                .optional()?;
            if let Some(key) = unknown {
                return Ok(Err(key));
            }
        }
    }
    let mut before = tx.prepare_cached(
        // CROSS JOIN keeps the batch's keys the outer loop: each is one step down the key.
        "SELECT r.status FROM json_each(?2) j CROSS JOIN results r ON r.run_id = ?1 AND r.key = j.value",
    )?;
    for chunk in &distinct {
        let statuses = before.query_map(params![run_id, chunk], |row| {
            row.get::<_, Stored<ResultStatus>>(0)
        })?;
        for status in statuses {
            match status?.known() {
                Some(ResultStatus::Ok) => d_ok -= 1,
                Some(ResultStatus::Error) => d_err -= 1,
                None => {}
            }
        }
    }
    Ok(Ok((d_ok, d_err)))
}

/// The batch's own changes to the ok and error counts (each result counted, and a key's
/// earlier result in the same batch taken back), and the first result of each distinct key.
pub(super) fn batch_deltas(results: &[ResultIn]) -> (i64, i64, Vec<&ResultIn>) {
    let (mut d_ok, mut d_err) = (0i64, 0i64);
    let mut latest: foldhash::HashMap<&str, bool> = foldhash::HashMap::default();
    latest.reserve(results.len());
    let mut distinct: Vec<&ResultIn> = Vec::with_capacity(results.len());
    for r in results {
        match latest.insert(r.key.as_str(), r.ok) {
            None => distinct.push(r),
            Some(true) => d_ok -= 1,
            Some(false) => d_err -= 1,
        }
        if r.ok {
            d_ok += 1;
        } else {
            d_err += 1;
        }
    }
    (d_ok, d_err, distinct)
}

/// The keys as JSON arrays of at most 16 MiB each (SQLite refuses a text over 1 GB, and a batch
/// of 1,000 keys of up to 32 MiB each would be one).
fn json_chunks(keys: &[&str]) -> Vec<String> {
    const CHUNK: usize = 16 << 20;
    let mut chunks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 0;
    for key in keys {
        if !current.is_empty() && size + key.len() > CHUNK {
            chunks.push(serde_json::to_string(&current).unwrap_or_else(|_| "[]".into()));
            current.clear();
            size = 0;
        }
        size += key.len() + 3;
        current.push(key);
    }
    if !current.is_empty() {
        chunks.push(serde_json::to_string(&current).unwrap_or_else(|_| "[]".into()));
    }
    chunks
}

/// The SQL condition on item `i` (run `?1`) of a selection.
pub(super) fn selection_filter(selection: Selection) -> &'static str {
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
