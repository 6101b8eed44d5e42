//! PostgreSQL's own floor for a stream pass, for bench/pg.sh: the claims and the recording
//! transactions a member makes, with the store's own statements (`runctl::store::pg_floor`:
//! the claim, the results upsert from arrays, the results lock) and nothing else: no workers,
//! no threads, no heartbeat, no progress. The newest run of the database is joined as one
//! member, its items laid out as claims, then claimed 1,000 at a time (the largest page a
//! member takes) on one connection while a second records each page in one transaction, as
//! runctl's recorder thread does on its own connection (the run's
//! results lock, the held claims locked, the statuses replaced read, the upsert, the claims
//! deleted, the member's and the run's counts). Prints items per second.
//!
//! Usage: cargo run --release --example pg_floor -- URL
use std::time::Instant;

use postgres::{Client, NoTls};
use runctl::store::pg_floor::{RESULTS_LOCK, UPSERT_RESULTS_PG, claim_sql};

const PAGE: i64 = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("usage: pg_floor URL")?;
    let mut db = Client::connect(&url, NoTls)?;
    let run: String = db
        .query_one("SELECT id FROM runs ORDER BY created_at DESC LIMIT 1", &[])?
        .get(0);
    let me: i64 = db
        .query_one(
            "INSERT INTO members (run_id, host, pid, jobs, lease_ms, selection, started_at, \
             heartbeat_at) VALUES ($1, 'floor', 0, 2, 60000, 'remaining', now()::text, now()) \
             RETURNING id",
            &[&run],
        )?
        .get(0);
    db.execute("DELETE FROM claims WHERE run_id = $1", &[&run])?;
    db.execute(
        "INSERT INTO claims (run_id, key) SELECT $1, i.key FROM items i \
         WHERE i.source_id = (SELECT source_id FROM runs WHERE id = $1) \
         AND NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = $1 AND r.key = i.key)",
        &[&run],
    )?;
    db.batch_execute("ANALYZE claims")?;
    let (claim_first, claim_after) = (
        db.prepare(&claim_sql(false))?,
        db.prepare(&claim_sql(true))?,
    );
    // The recorder on a connection of its own, as runctl's: claims and recording overlap.
    let (pages, recorder) = std::sync::mpsc::sync_channel::<Vec<String>>(2);
    let (url2, run2) = (url.clone(), run.clone());
    let recording = std::thread::spawn(move || -> Result<usize, postgres::Error> {
        let mut db = Client::connect(&url2, NoTls)?;
        let upsert = db.prepare(UPSERT_RESULTS_PG)?;
        let mut done = 0;
        for keys in recorder {
            record(&mut db, &upsert, &run2, me, &keys)?;
            done += keys.len();
        }
        Ok(done)
    });
    let start = Instant::now();
    let mut after: Option<String> = None;
    loop {
        let stamp = format!("{:?}", Instant::now());
        let rows = match &after {
            Some(last) => db.query(&claim_after, &[&run, &me, &PAGE, &stamp, last])?,
            None => db.query(&claim_first, &[&run, &me, &PAGE, &stamp])?,
        };
        if rows.is_empty() {
            break;
        }
        let keys: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        after = keys.last().cloned();
        if pages.send(keys).is_err() {
            break;
        }
    }
    drop(pages);
    let done = recording
        .join()
        .map_err(|_| "the recorder thread panicked")??;
    let took = start.elapsed().as_secs_f64();
    println!(
        "{done} items in {took:.3} s: {:.0} items/s",
        done as f64 / took
    );
    Ok(())
}

/// One recording transaction of a page, as the recorder's (store/ledger.rs, ledger_pg.rs).
fn record(
    db: &mut Client,
    upsert: &postgres::Statement,
    run: &str,
    me: i64,
    keys: &[String],
) -> Result<(), postgres::Error> {
    let n = keys.len();
    let now = "2026-12-04T00:00:00.000000Z";
    let mut tx = db.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&RESULTS_LOCK, &run],
    )?;
    tx.query(
        "SELECT key FROM claims WHERE run_id = $1 AND member_id = $2 AND key = ANY($3::text[]) \
         FOR UPDATE",
        &[&run, &me, &keys],
    )?;
    tx.query(
        "SELECT status FROM results WHERE run_id = $1 AND key = ANY($2::text[])",
        &[&run, &keys],
    )?;
    let statuses = vec!["ok"; n];
    let outputs: Vec<Option<String>> = keys
        .iter()
        .map(|k| Some(format!("{{\"key\":\"{k}\"}}")))
        .collect();
    let none: Vec<Option<&str>> = vec![None; n];
    let attempts = vec![1i64; n];
    let stamps: Vec<Option<&str>> = vec![Some(now); n];
    let finished = vec![now; n];
    let durations: Vec<Option<i64>> = vec![Some(1); n];
    let workers: Vec<Option<i64>> = vec![Some(1); n];
    tx.execute(
        upsert,
        &[
            &run, &keys, &statuses, &outputs, &attempts, &none, &none, &none, &stamps, &finished,
            &durations, &workers,
        ],
    )?;
    tx.execute(
        "DELETE FROM claims WHERE run_id = $1 AND key = ANY($2::text[])",
        &[&run, &keys],
    )?;
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE members SET n_done = n_done + $2 WHERE id = $1",
        &[&me, &n],
    )?;
    tx.execute(
        "UPDATE runs SET n_completed = n_completed + $2, last_progress_at = $3 WHERE id = $1",
        &[&run, &n, &now],
    )?;
    tx.commit()
}
