//! The result ledger's writes on PostgreSQL: a batch of results is one upsert from arrays per
//! round (a key twice in a batch goes in a second round, as an upsert may touch a row once),
//! and its effect on the run's counters is read from the results it replaces, under a lock
//! on the run's results, so that any number of processes on any number of hosts recording
//! into one run keep its counters exact.

use super::ledger::{Keys, ResultIn};
use super::members::Claimant;
use super::pg::PgConn;
use super::sql::DbError;
use crate::state::{ResultStatus, Stored};

/// The class of the advisory locks on a run's results (`pg_advisory_xact_lock(class, run)`).
pub const RESULTS_LOCK: i32 = 0x7265_7331;

/// The run's results lock: one recording transaction at a time per run, on every host.
pub(super) fn lock_results(conn: &mut PgConn, run_id: &str) -> Result<(), DbError> {
    conn.exec(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&RESULTS_LOCK, &run_id],
    )?;
    Ok(())
}

/// Upsert the results; the changes to the run's ok and error counts, or (for keys from
/// outside) the first key that is not an item of the run, with nothing written.
///
/// As a member of a pass (`claimant`), only the results of items it still holds are written
/// (the others' claims came after its lease was lost: it learns so here), and their claims go.
pub(super) fn upsert_results(
    conn: &mut PgConn,
    run_id: &str,
    keys: Keys,
    source_id: Option<i64>,
    results: &[ResultIn],
    now: &str,
    claimant: Option<&Claimant>,
) -> Result<Result<(i64, i64), String>, DbError> {
    lock_results(conn, run_id)?;
    let held;
    let results = match claimant {
        Some(me) if keys == Keys::OfThisRun => {
            let keys: Vec<&str> = results.iter().map(|r| r.key.as_str()).collect();
            held = super::members_pg::held(conn, run_id, me.id, &keys)?;
            if results.iter().all(|r| held.contains(&r.key)) {
                std::borrow::Cow::Borrowed(results)
            } else {
                me.lost.store(true, std::sync::atomic::Ordering::SeqCst);
                let kept = results.iter().filter(|r| held.contains(&r.key));
                std::borrow::Cow::Owned(kept.cloned().collect())
            }
        }
        _ => std::borrow::Cow::Borrowed(results),
    };
    let results: &[ResultIn] = &results;
    let rounds = rounds(results);
    let distinct: Vec<&str> = rounds
        .first()
        .map(|r| r.iter().map(|r| r.key.as_str()).collect())
        .unwrap_or_default();
    if keys == Keys::Unchecked {
        let unknown = conn.rows(
            "SELECT t.k FROM unnest($2::text[]) WITH ORDINALITY AS t (k, n) \
             WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.source_id = $1 AND i.key = t.k COLLATE \"C\") \
             ORDER BY t.n LIMIT 1",
            &[&source_id, &distinct],
        )?;
        if let Some(row) = unknown.first() {
            return Ok(Err(row.get(0)));
        }
    }
    let (mut d_ok, mut d_err, _) = super::ledger::batch_deltas(results);
    for row in conn.rows(
        "SELECT status FROM results WHERE run_id = $1 AND key = ANY($2::text[])",
        &[&run_id, &distinct],
    )? {
        match Stored::<ResultStatus>::parse(&row.try_get::<_, String>(0)?).known() {
            Some(ResultStatus::Ok) => d_ok -= 1,
            Some(ResultStatus::Error) => d_err -= 1,
            None => {}
        }
    }
    for round in &rounds {
        upsert_round(conn, run_id, round, now)?;
    }
    match (claimant, keys) {
        (Some(me), Keys::OfThisRun) => super::members_pg::recorded(conn, run_id, me.id, &distinct)?,
        (_, Keys::Unchecked) => super::members_pg::drop_claims(conn, run_id, &distinct)?,
        _ => {}
    }
    Ok(Ok((d_ok, d_err)))
}

/// The results in rounds: the first result of each key in the first, its second in the
/// second, and so on, each in the batch's order.
fn rounds(results: &[ResultIn]) -> Vec<Vec<&ResultIn>> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut rounds: Vec<Vec<&ResultIn>> = Vec::new();
    for r in results {
        let n = seen.entry(r.key.as_str()).or_insert(0);
        if rounds.len() <= *n {
            rounds.push(Vec::new());
        }
        rounds[*n].push(r);
        *n += 1;
    }
    rounds
}

/// One upsert of results with distinct keys, from arrays.
fn upsert_round(
    conn: &mut PgConn,
    run_id: &str,
    round: &[&ResultIn],
    now: &str,
) -> Result<(), DbError> {
    let mut keys = Vec::with_capacity(round.len());
    let mut statuses = Vec::with_capacity(round.len());
    let mut outputs: Vec<Option<&str>> = Vec::with_capacity(round.len());
    let mut errors: Vec<Option<&str>> = Vec::with_capacity(round.len());
    let mut categories: Vec<Option<&str>> = Vec::with_capacity(round.len());
    for r in round {
        keys.push(r.key.as_str());
        let status = if r.ok {
            ResultStatus::Ok
        } else {
            ResultStatus::Error
        };
        statuses.push(status.as_str());
        let payload = Some(r.payload.as_str());
        match r.ok {
            true => (outputs.push(payload), errors.push(None)),
            false => (outputs.push(None), errors.push(payload)),
        };
        categories.push(r.category.as_ref().map(Stored::as_str));
    }
    let attempts: Vec<i64> = round.iter().map(|r| r.attempts.max(1)).collect();
    let firsts: Vec<Option<&str>> = round.iter().map(|r| r.first_error.as_deref()).collect();
    let started: Vec<Option<&str>> = round.iter().map(|r| r.started_at.as_deref()).collect();
    let finished: Vec<&str> = round
        .iter()
        .map(|r| r.finished_at.as_deref().unwrap_or(now))
        .collect();
    let durations: Vec<Option<i64>> = round.iter().map(|r| r.duration_ms).collect();
    let workers: Vec<Option<i64>> = round.iter().map(|r| r.worker).collect();
    conn.exec(
        UPSERT_RESULTS_PG,
        &[
            &run_id,
            &keys,
            &statuses,
            &outputs,
            &attempts,
            &firsts,
            &errors,
            &categories,
            &started,
            &finished,
            &durations,
            &workers,
        ],
    )?;
    Ok(())
}

/// The upsert of `UPSERT_RESULT_SQL` (ledger.rs) over arrays: the same columns, the same rules.
/// Public for the floor of bench/pg.sh.
pub const UPSERT_RESULTS_PG: &str = "INSERT INTO results (run_id, key, status, output, attempt_count, \
     first_error, last_error, error_category, started_at, finished_at, duration_ms, worker) \
     SELECT $1, t.k, t.s, t.o, t.a, coalesce(t.f, t.e), t.e, t.c, t.st, t.fi, t.d, t.w \
     FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::text[], \
     $8::text[], $9::text[], $10::text[], $11::int8[], $12::int8[]) \
     AS t (k, s, o, a, f, e, c, st, fi, d, w) \
     ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, \
     output = coalesce(excluded.output, results.output), \
     attempt_count = results.attempt_count + excluded.attempt_count, \
     first_error = coalesce(results.first_error, excluded.first_error), \
     last_error = excluded.last_error, \
     error_category = excluded.error_category, started_at = excluded.started_at, \
     finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, \
     worker = excluded.worker";
