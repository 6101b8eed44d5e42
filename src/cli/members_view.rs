//! The members of a run in `runctl show`: the processes that worked, or work, its passes on a
//! store many processes share (PostgreSQL), with their hosts, rates and last heartbeats.

use serde::Serialize;

use crate::store::{MemberRow, Store};

/// A member in `runctl show --json` (docs/json.md). Fields may be added, never renamed or
/// removed.
#[derive(Debug, Serialize)]
pub struct MemberOutput {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub jobs: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    /// Seconds since its last heartbeat, by the database server's clock.
    pub heartbeat_age_seconds: i64,
    /// `null` while it works.
    pub stopped_at: Option<String>,
    /// `done`, `interrupted`, `failed` or `lost-lease`; `null` while it works.
    pub stop_reason: Option<String>,
    /// Results it recorded.
    pub recorded: i64,
    /// Results it recorded per second, from its start to its end (while it works: its last
    /// heartbeat).
    pub items_per_second: f64,
    /// Its `--lease`, in seconds.
    pub lease_seconds: f64,
    /// Not ended and its last heartbeat within its lease. A member that neither ended nor
    /// beat within its lease (it was killed, its host died) is presumed dead: the others take
    /// its items.
    pub live: bool,
}

impl MemberOutput {
    fn of(row: MemberRow) -> MemberOutput {
        let parse = |t: &str| t.parse::<jiff::Timestamp>().ok();
        let end = row.stopped_at.as_deref().unwrap_or(&row.heartbeat_at);
        let secs = match (parse(&row.started_at), parse(end)) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => 0.0,
        };
        MemberOutput {
            items_per_second: if secs > 0.0 {
                row.n_done as f64 / secs
            } else {
                0.0
            },
            id: row.id,
            host: row.host,
            pid: row.pid,
            jobs: row.jobs,
            started_at: row.started_at,
            heartbeat_at: row.heartbeat_at,
            heartbeat_age_seconds: row.heartbeat_age_s,
            stopped_at: row.stopped_at,
            stop_reason: row.stop_reason,
            recorded: row.n_done,
            lease_seconds: row.lease_ms as f64 / 1000.0,
            live: row.live,
        }
    }

    /// `#3 node07 pid 4121, 8 slots: 1,204 recorded (40.1/s), heartbeat 2s ago`.
    fn line(&self) -> String {
        let state = match (&self.stop_reason, self.live) {
            (Some(reason), _) => format!(
                "ended ({reason}) at {}",
                self.stopped_at.as_deref().unwrap_or("?")
            ),
            (None, true) => format!("heartbeat {}s ago", self.heartbeat_age_seconds),
            (None, false) => format!(
                "presumed dead: no heartbeat for {}s (lease {}s)",
                self.heartbeat_age_seconds, self.lease_seconds
            ),
        };
        format!(
            "#{} {} pid {}, {}: {} recorded ({:.1}/s), {state}",
            self.id,
            self.host,
            self.pid,
            crate::text::count(u64::try_from(self.jobs).unwrap_or(0), "slot"),
            self.recorded,
            self.items_per_second
        )
    }
}

/// The members of a run, oldest first.
pub fn members_of(store: &Store, run_id: &str) -> crate::error::Result<Vec<MemberOutput>> {
    Ok(store
        .members(run_id)?
        .into_iter()
        .map(MemberOutput::of)
        .collect())
}

/// The `member` lines of `runctl show`: the newest 16 (all in `--json`).
pub fn lines(members: &[MemberOutput]) -> Vec<String> {
    let skip = members.len().saturating_sub(16);
    let mut lines: Vec<String> = members[skip..].iter().map(MemberOutput::line).collect();
    if skip > 0 {
        lines.insert(0, format!("({skip} older members not shown; see --json)"));
    }
    lines
}
