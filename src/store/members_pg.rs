//! The SQL of members and claims on PostgreSQL (members.rs says what they are for). Liveness is
//! judged by the server's clock: a member is live while it has not ended and its last
//! heartbeat is younger than the lease.

use super::ledger::Selection;
use super::members::{JoinRequest, MemberRow};
use super::pg::PgConn;
use super::sql::DbError;

/// The class of the advisory locks on a run's membership (`pg_advisory_xact_lock(class, run)`).
const MEMBERS_LOCK: i32 = 0x6d65_6d31;

/// Why a process could not join a run's pass.
#[derive(Debug)]
pub(super) enum JoinError {
    Db(DbError),
    /// Live members work the run with the other selection: (their selection, a host of theirs).
    OtherPass(String, String),
}

impl From<DbError> for JoinError {
    fn from(e: DbError) -> Self {
        JoinError::Db(e)
    }
}

impl From<postgres::Error> for JoinError {
    fn from(e: postgres::Error) -> Self {
        JoinError::Db(e.into())
    }
}

fn selection_text(selection: Selection) -> &'static str {
    match selection {
        Selection::Errors => "errors",
        Selection::Remaining | Selection::All => "remaining",
    }
}

/// Join the run's pass; the new member's id. With no live member, the claims left by earlier
/// members are dropped and the selected items laid out again, under the run's membership lock
/// (so that two first members do not both lay them out).
pub(super) fn join(
    conn: &mut PgConn,
    run_id: &str,
    request: &JoinRequest,
) -> Result<i64, JoinError> {
    let lease_ms = i64::try_from(request.lease.as_millis()).unwrap_or(i64::MAX);
    let selection = selection_text(request.selection);
    conn.begin()?;
    let joined = (|| -> Result<i64, JoinError> {
        conn.exec(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&MEMBERS_LOCK, &run_id],
        )?;
        let live = conn.rows(
            "SELECT selection, host FROM members WHERE run_id = $1 AND stopped_at IS NULL \
             AND heartbeat_at >= now() - lease_ms * interval '1 millisecond' ORDER BY id",
            &[&run_id],
        )?;
        if let Some(other) = live.iter().find(|r| r.get::<_, &str>(0) != selection) {
            return Err(JoinError::OtherPass(other.get(0), other.get(1)));
        }
        if live.is_empty() {
            lay_out(conn, run_id, request.selection)?;
        }
        let pid = i64::from(request.pid);
        let jobs = i64::try_from(request.jobs).unwrap_or(i64::MAX);
        let row = conn.rows(
            "INSERT INTO members (run_id, host, pid, jobs, lease_ms, selection, started_at, \
             heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now()) RETURNING id",
            &[
                &run_id,
                &request.host,
                &pid,
                &jobs,
                &lease_ms,
                &selection,
                &super::now_text(),
            ],
        )?;
        Ok(row.first().map_or(0, |r| r.get(0)))
    })();
    match joined {
        Ok(id) => {
            conn.commit()?;
            Ok(id)
        }
        Err(e) => {
            conn.rollback();
            Err(e)
        }
    }
}

/// The selected items of the run, laid out as free claims (the earlier ones dropped).
fn lay_out(conn: &mut PgConn, run_id: &str, selection: Selection) -> Result<(), DbError> {
    conn.exec("DELETE FROM claims WHERE run_id = $1", &[&run_id])?;
    let filter = match selection {
        Selection::Errors => {
            "EXISTS (SELECT 1 FROM results r WHERE r.run_id = $1 AND r.key = i.key AND r.status = 'error')"
        }
        Selection::Remaining | Selection::All => {
            "NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = $1 AND r.key = i.key)"
        }
    };
    let sql = format!(
        "INSERT INTO claims (run_id, key) SELECT $1, i.key FROM items i \
         WHERE i.source_id = (SELECT source_id FROM runs WHERE id = $1) AND {filter}"
    );
    conn.exec(&sql, &[&run_id])?;
    // Fresh statistics, so that claims walk the key index from the start rather than sort the
    // table (the planner's view of it is otherwise from before these rows).
    conn.exec("ANALYZE claims", &[])?;
    Ok(())
}

/// One heartbeat: false when the member was stale already (past its own lease) or has ended.
pub(super) fn heartbeat(conn: &mut PgConn, id: i64) -> Result<bool, DbError> {
    let beat = conn.exec(
        "UPDATE members SET heartbeat_at = now() WHERE id = $1 AND stopped_at IS NULL \
         AND heartbeat_at >= now() - lease_ms * interval '1 millisecond'",
        &[&id],
    )?;
    Ok(beat == 1)
}

/// A host of a live member of the run (one whose heartbeat is within its own lease).
pub(super) fn live_host(conn: &mut PgConn, run_id: &str) -> Result<Option<String>, DbError> {
    let rows = conn.rows(
        "SELECT host FROM members WHERE run_id = $1 AND stopped_at IS NULL \
         AND heartbeat_at >= now() - lease_ms * interval '1 millisecond' ORDER BY id DESC LIMIT 1",
        &[&run_id],
    )?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// The live members of every run: run id, host, pid.
pub(super) fn live(conn: &mut PgConn) -> Result<Vec<(String, String, i64)>, DbError> {
    let rows = conn.rows(
        "SELECT run_id, host, pid FROM members WHERE stopped_at IS NULL \
         AND heartbeat_at >= now() - lease_ms * interval '1 millisecond' ORDER BY id",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Record the member's end and free its items without a result.
pub(super) fn ended(conn: &mut PgConn, id: i64, how: &str) -> Result<(), DbError> {
    conn.begin()?;
    let ended = (|| -> Result<(), DbError> {
        conn.exec(
            "UPDATE claims SET member_id = NULL WHERE member_id = $1",
            &[&id],
        )?;
        conn.exec(
            "UPDATE members SET stopped_at = $2, stop_reason = $3 WHERE id = $1",
            &[&id, &super::now_text(), &how],
        )?;
        Ok(())
    })();
    match ended {
        Ok(()) => Ok(conn.commit()?),
        Err(e) => {
            conn.rollback();
            Err(e)
        }
    }
}

/// Whether live members other than `me` (id, lease) work the run: they do while items are
/// left to claim or held.
pub(super) fn others_at_work(
    conn: &mut PgConn,
    run_id: &str,
    me: Option<i64>,
) -> Result<bool, DbError> {
    let Some(me) = me else {
        return Ok(false);
    };
    // A member killed a moment ago looks live until its lease runs out: with nothing left to
    // claim, no one is at work whatever the heartbeats say.
    let rows = conn.rows(
        "SELECT 1 FROM members WHERE run_id = $1 AND id <> $2 AND stopped_at IS NULL \
         AND heartbeat_at >= now() - lease_ms * interval '1 millisecond' \
         AND EXISTS (SELECT 1 FROM claims WHERE run_id = $1) LIMIT 1",
        &[&run_id, &me],
    )?;
    Ok(!rows.is_empty())
}

/// The run's members, oldest first.
pub(super) fn members(conn: &mut PgConn, run_id: &str) -> Result<Vec<MemberRow>, DbError> {
    let rows = conn.rows(
        "SELECT id, host, pid, jobs, started_at, \
         to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
         floor(extract(epoch FROM now() - heartbeat_at))::bigint, stopped_at, stop_reason, n_done, \
         lease_ms, stopped_at IS NULL AND heartbeat_at >= now() - lease_ms * interval '1 millisecond' \
         FROM members WHERE run_id = $1 ORDER BY id",
        &[&run_id],
    )?;
    rows.iter()
        .map(|r| {
            Ok(MemberRow {
                id: r.try_get(0)?,
                host: r.try_get(1)?,
                pid: r.try_get(2)?,
                jobs: r.try_get(3)?,
                started_at: r.try_get(4)?,
                heartbeat_at: r.try_get(5)?,
                heartbeat_age_s: r.try_get(6)?,
                stopped_at: r.try_get(7)?,
                stop_reason: r.try_get(8)?,
                n_done: r.try_get(9)?,
                lease_ms: r.try_get(10)?,
                live: r.try_get(11)?,
            })
        })
        .collect()
}

/// Claim up to `n` free items of the run (or items of members stale past their lease) for
/// member `me`, in key order, skipping rows other members are claiming right now; the items
/// with their attempts and latest error so far. Nothing while `me` itself is not live. Each
/// member is judged by its own lease.
///
/// `after`: only keys past it (the member's last claimed key), so that a claim does not walk
/// the index entries of the claims already recorded and deleted before it; `None` looks from
/// the start (for items freed or left by dead members behind it).
///
/// `stamp` marks the claimed rows (`claimed_at`): a claim whose answer was lost with its
/// connection is taken back by it ([`unclaim`]) before the claim is sent again, so that no
/// item stays held by a member that never got it.
pub(super) fn claim(
    conn: &mut PgConn,
    run_id: &str,
    me: i64,
    n: i64,
    after: Option<&str>,
    stamp: &str,
) -> Result<Vec<postgres::Row>, DbError> {
    let params: Vec<&(dyn postgres::types::ToSql + Sync)> = match &after {
        Some(after) => vec![&run_id, &me, &n, &stamp, after],
        None => vec![&run_id, &me, &n, &stamp],
    };
    let sql = claim_sql(after.is_some());
    Ok(conn.rows_undoing(&sql, &params, (UNCLAIM, &[&run_id, &me, &stamp]))?)
}

/// The claim's text (parameters: run, member, how many, stamp, and with `after` the last
/// key): two texts, so that each prepared plan has a plain range on the key index. Public for
/// the floor of bench/pg.sh, which runs the same claims.
pub fn claim_sql(after: bool) -> String {
    let from = if after { "AND c.key > $5::text" } else { "" };
    format!(
        "WITH picked AS ( \
           SELECT c.key FROM claims c WHERE c.run_id = $1 {from} \
           AND EXISTS (SELECT 1 FROM members m WHERE m.id = $2 AND m.stopped_at IS NULL \
               AND m.heartbeat_at >= now() - m.lease_ms * interval '1 millisecond') \
           AND (c.member_id IS NULL OR c.member_id IN (SELECT m.id FROM members m \
               WHERE m.run_id = $1 AND (m.stopped_at IS NOT NULL \
               OR m.heartbeat_at < now() - m.lease_ms * interval '1 millisecond'))) \
           ORDER BY c.key LIMIT $3 FOR UPDATE OF c SKIP LOCKED), \
         claimed AS ( \
           UPDATE claims c SET member_id = $2, claims = c.claims + 1, claimed_at = $4 \
           FROM picked WHERE c.run_id = $1 AND c.key = picked.key RETURNING c.key) \
         SELECT i.key, i.data, i.location, coalesce(r.attempt_count, 0), r.last_error, \
           r.error_category \
         FROM claimed JOIN items i ON i.key = claimed.key \
           AND i.source_id = (SELECT source_id FROM runs WHERE id = $1) \
         LEFT JOIN results r ON r.run_id = $1 AND r.key = claimed.key \
         ORDER BY i.key"
    )
}

const UNCLAIM: &str = "UPDATE claims SET member_id = NULL, claims = claims - 1 \
    WHERE run_id = $1 AND member_id = $2 AND claimed_at = $3";

/// Free the items member `me` claimed with `stamp` (a claim whose answer it never got).
pub(super) fn unclaim(
    conn: &mut PgConn,
    run_id: &str,
    me: i64,
    stamp: &str,
) -> Result<(), DbError> {
    conn.exec(UNCLAIM, &[&run_id, &me, &stamp])?;
    Ok(())
}

/// How many items of the run other members hold (live ones: a stale member's would have been
/// claimed).
pub(super) fn held_by_others(conn: &mut PgConn, run_id: &str, me: i64) -> Result<i64, DbError> {
    let rows = conn.rows(
        "SELECT count(*) FROM claims WHERE run_id = $1 AND member_id IS DISTINCT FROM $2",
        &[&run_id, &me],
    )?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

/// Of `keys`, those member `me` holds, locked until the transaction ends (no one can claim
/// them from it meanwhile); none once its heartbeat is past its lease (or it ended), even
/// where no one has claimed them since: a member stopped past its lease writes nothing (an
/// outside `record` may have written them meanwhile).
pub(super) fn held(
    conn: &mut PgConn,
    run_id: &str,
    me: i64,
    keys: &[&str],
) -> Result<std::collections::HashSet<String>, DbError> {
    let rows = conn.rows(
        "SELECT key FROM claims WHERE run_id = $1 AND member_id = $2 AND key = ANY($3::text[]) \
         AND EXISTS (SELECT 1 FROM members m WHERE m.id = $2 AND m.stopped_at IS NULL \
             AND m.heartbeat_at >= now() - m.lease_ms * interval '1 millisecond') \
         FOR UPDATE",
        &[&run_id, &me, &keys],
    )?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The claims of recorded items go; the member's count of results grows.
pub(super) fn recorded(
    conn: &mut PgConn,
    run_id: &str,
    me: i64,
    keys: &[&str],
) -> Result<(), DbError> {
    drop_claims(conn, run_id, keys)?;
    let n = i64::try_from(keys.len()).unwrap_or(i64::MAX);
    conn.exec(
        "UPDATE members SET n_done = n_done + $2 WHERE id = $1",
        &[&me, &n],
    )?;
    Ok(())
}

/// The claims of `keys` go: their items have results (recorded by a member, or from outside
/// the pass by `record`, so that no member runs them again over those results).
pub(super) fn drop_claims(conn: &mut PgConn, run_id: &str, keys: &[&str]) -> Result<(), DbError> {
    conn.exec(
        "DELETE FROM claims WHERE run_id = $1 AND key = ANY($2::text[])",
        &[&run_id, &keys],
    )?;
    Ok(())
}
