//! A run's progress: its counters (`runs.n_completed`, `n_errors`, `eta`), recounted from its
//! results or read as last kept, and the ETA arithmetic shared with the engine.

use super::sql::{Db, DbError, Row};
use super::{Store, StoreError, now_text};

/// Progress counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub n_items: i64,
    pub n_completed: i64,
    pub n_errors: i64,
    /// When the remaining items should be done at the rate so far (UTC), once there is a rate.
    pub eta: Option<String>,
}

impl Progress {
    /// Items with no result yet, as the counters say (negative only when they disagree with
    /// `n_items`; callers that show it clamp it at 0).
    pub fn remaining(&self) -> i64 {
        self.n_items - self.n_completed - self.n_errors
    }
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

impl Store {
    /// Count a run's results into its row (`n_completed`, `n_errors`, `last_progress_at`).
    /// A count over the run's results: call it once per batch of work, not per result.
    pub fn refresh_progress(&self, run_id: &str) -> Result<Progress, StoreError> {
        let mut again = self.reconnecting();
        loop {
            match self.refresh_once(run_id) {
                Err(e) if again.after(self, &e) => {}
                done => return done,
            }
        }
    }

    fn refresh_once(&self, run_id: &str) -> Result<Progress, StoreError> {
        // The counts and their write in one write transaction: a batch another process commits
        // in between would otherwise be written over with the counts from before it.
        let err = |e| self.db_err(e);
        let tx = self.txn_shared()?;
        tx.lock_run_results(run_id).map_err(err)?;
        let db = tx.db();
        let mut progress = progress_of(db, run_id).map_err(err)?;
        let (first, last) = db
            .query_opt(
                "SELECT min(finished_at), max(finished_at) FROM results WHERE run_id = ?1",
                &[run_id.into()],
                |r| Ok((r.opt_text(0)?, r.opt_text(1)?)),
            )
            .map_err(err)?
            .unwrap_or_default();
        let done = progress.n_completed + progress.n_errors;
        let parse = |t: Option<String>| t.and_then(|t| t.parse::<jiff::Timestamp>().ok());
        progress.eta = if done > 0 && done >= progress.n_items {
            // Done: the ETA becomes the finish time, as the engine leaves it.
            parse(last)
        } else {
            parse(first).and_then(|f| eta(f, jiff::Timestamp::now(), done, progress.remaining()))
        }
        .map(eta_stamp);
        db.execute(
            "UPDATE runs SET n_completed = ?2, n_errors = ?3, last_progress_at = ?4, eta = ?5 WHERE id = ?1",
            &[
                run_id.into(),
                progress.n_completed.into(),
                progress.n_errors.into(),
                now_text().as_str().into(),
                progress.eta.as_deref().into(),
            ],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(progress)
    }

    /// Whether other processes record into this pass's run too (a member of a pass on
    /// PostgreSQL): then a pass shows the run's progress, not only its own.
    pub fn progress_is_shared(&self) -> bool {
        self.claimant.borrow().is_some()
    }

    /// Progress counts of a run, as last refreshed (cheap: no count over the results).
    pub fn progress(&self, run_id: &str) -> Result<Progress, StoreError> {
        self.db()
            .query_opt(
                "SELECT coalesce(n_items, 0), n_completed, n_errors, eta FROM runs WHERE id = ?1",
                &[run_id.into()],
                |r| {
                    Ok(Progress {
                        n_items: r.int(0)?,
                        n_completed: r.int(1)?,
                        n_errors: r.int(2)?,
                        eta: r.opt_text(3)?,
                    })
                },
            )
            .map(Option::unwrap_or_default)
            .map_err(|e| self.db_err(e))
    }
}

pub(super) fn progress_from(row: &Row<'_>) -> Result<Progress, DbError> {
    Ok(Progress {
        n_items: row.int(0)?,
        n_completed: row.int(1)?,
        n_errors: row.int(2)?,
        eta: row.opt_text(3)?,
    })
}

fn progress_of(db: Db<'_>, run_id: &str) -> Result<Progress, DbError> {
    db.query_opt(
        "SELECT coalesce(r.n_items, 0), \
         (SELECT count(*) FROM results WHERE run_id = ?1 AND status = 'ok'), \
         (SELECT count(*) FROM results WHERE run_id = ?1 AND status = 'error') \
         FROM runs r WHERE r.id = ?1",
        &[run_id.into()],
        |row| {
            Ok(Progress {
                n_items: row.int(0)?,
                n_completed: row.int(1)?,
                n_errors: row.int(2)?,
                eta: None,
            })
        },
    )
    .map(Option::unwrap_or_default)
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
