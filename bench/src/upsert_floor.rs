//! SQLite's own floor for recording results, for bench/engine.sh: the same upsert runctl's
//! recorder makes (the store's own `UPSERT_RESULT_SQL`, so the floor measures what runctl runs),
//! one prepared statement, committed every 100 rows, on a copy of a project DB,
//! with nothing else (no workers, no channels, no counters). Prints rows per second.
//!
//! Usage: cargo run --release --example upsert_floor -- STATE_DB RUN_ID
use std::time::Instant;

use rusqlite::{Connection, params};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (db, run_id) = (&args[1], &args[2]);
    let mut conn = Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let keys: Vec<String> = conn
        .prepare("SELECT i.key FROM items i JOIN runs r ON r.source_id = i.source_id WHERE r.id = ?1 ORDER BY i.key")?
        .query_map([run_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for chunk in keys.chunks(100) {
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(runctl::store::UPSERT_RESULT_SQL)?;
            for key in chunk {
                upsert.execute(params![
                    run_id,
                    key,
                    "ok",
                    "1",
                    1,
                    None::<String>,
                    None::<String>,
                    None::<String>,
                    "2026-01-01T00:00:00.000000Z",
                    "2026-01-01T00:00:00.000000Z",
                    0,
                    1
                ])?;
            }
        }
        tx.commit()?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rows in {secs:.3} s: {:.0} rows/s",
        keys.len(),
        keys.len() as f64 / secs
    );
    Ok(())
}
