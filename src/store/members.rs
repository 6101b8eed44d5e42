//! Many processes, one run (tables `members`, `claims`; docs/cluster.md). On PostgreSQL any
//! number of processes on any number of hosts work one run's pass together: each joins as a
//! member ([`Store::join_run`]), keeps a heartbeat on a connection of its own (the server's
//! clock, so hosts' clocks do not matter), claims pages of the selected items with
//! `FOR UPDATE SKIP LOCKED` (pages.rs) and records only the results of items it still holds
//! (ledger_pg.rs). Items held by a member whose heartbeat is older than the lease are claimed
//! again by the others; a member that finds its own lease lost stops. On SQLite one process
//! works a run, by the run's lock, and [`Store::join_run`] says so (`None`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ledger::Selection;
use super::{Store, StoreError};

/// What a process joining a run's pass says of itself.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub host: String,
    pub pid: u32,
    /// Its slots, and items in flight per slot: how many items it claims at a time.
    pub jobs: usize,
    pub window: usize,
    pub selection: Selection,
    /// A member whose heartbeat is older than this has lost its items to the others.
    pub lease: Duration,
}

/// The member a store's pager claims as and its recorder records as (copied to the stores
/// opened from it by [`Store::open_another`]).
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(super) struct Claimant {
    pub id: i64,
    pub lease_ms: i64,
    /// Items in flight at most (slots times window): claims are sized from it.
    pub slots: usize,
    /// Set once this member knows its lease lost: a heartbeat found it stale, or results of
    /// items another member now holds were not recorded.
    pub lost: Arc<AtomicBool>,
}

/// How a member's part in a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberEnd {
    /// Nothing more to claim.
    Done,
    Interrupted,
    /// Stopped by an error (its own or the pass's).
    Failed,
    LostLease,
}

impl MemberEnd {
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    fn as_str(self) -> &'static str {
        match self {
            MemberEnd::Done => "done",
            MemberEnd::Interrupted => "interrupted",
            MemberEnd::Failed => "failed",
            MemberEnd::LostLease => "lost-lease",
        }
    }
}

/// A process's membership of a run's pass: its heartbeat thread, and whether its lease is
/// lost. [`Membership::end`] (or dropping it) stops the heartbeat, records how it ended and
/// frees the items it holds without a result.
#[derive(Debug)]
pub struct Membership {
    pub id: i64,
    lost: Arc<AtomicBool>,
    lease: Duration,
    beat: Option<beat::Beat>,
}

impl Membership {
    /// Whether this member's lease is lost (the others may hold its items): it must stop.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// The flag [`Membership::lost`] reads, for a thread that watches it.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.lost)
    }

    /// The lease, for messages.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Stop the heartbeat, record how this member ended, free its items without a result.
    pub fn end(mut self, how: MemberEnd) {
        if let Some(beat) = self.beat.take() {
            beat.stop(how);
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if let Some(beat) = self.beat.take() {
            beat.stop(MemberEnd::Failed);
        }
    }
}

/// A member as `runctl show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub jobs: i64,
    pub started_at: String,
    /// Its last heartbeat (UTC) and how many seconds before the server's now that was.
    pub heartbeat_at: String,
    pub heartbeat_age_s: i64,
    pub stopped_at: Option<String>,
    pub stop_reason: Option<String>,
    pub n_done: i64,
    pub lease_ms: i64,
    /// Not ended, and its last heartbeat within its lease; a member that neither ended nor
    /// beat within its lease is presumed dead (its items are the others').
    pub live: bool,
}

impl Store {
    /// Join the pass over `run_id` as a member, on a store many processes share
    /// (PostgreSQL); `None` on SQLite, where the run's lock keeps one process per run. The
    /// first member of a pass (no live member) lays out its items to claim; a member joining
    /// live ones must want the same selection.
    pub fn join_run(
        &self,
        run_id: &str,
        request: &JoinRequest,
    ) -> Result<Option<Membership>, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            let mut again = self.reconnecting();
            let joined = loop {
                let tried = super::members_pg::join(&mut conn.borrow_mut(), run_id, request);
                match tried {
                    Err(super::members_pg::JoinError::Db(e)) => {
                        let e = super::sql::db_error(&self.path, e);
                        if !again.after(self, &e) {
                            return Err(e);
                        }
                    }
                    joined => break joined,
                }
            };
            let id = joined.map_err(|e| match e {
                super::members_pg::JoinError::Db(e) => super::sql::db_error(&self.path, e),
                super::members_pg::JoinError::OtherPass(theirs, host) => StoreError::OtherPass {
                    run: self
                        .run_by_id(run_id)
                        .ok()
                        .flatten()
                        .map_or(run_id.into(), |r| r.name),
                    theirs: match theirs.as_str() {
                        "errors" => "with --retry-errors",
                        _ => "over its remaining items",
                    },
                    host: crate::text::printable(&host).into_owned(),
                },
            })?;
            let lost = Arc::new(AtomicBool::new(false));
            let lease_ms = i64::try_from(request.lease.as_millis()).unwrap_or(i64::MAX);
            let beat = beat::Beat::start(self.open_another(super::Access::Write)?, id, lease_ms, {
                Arc::clone(&lost)
            })
            .map_err(|e| StoreError::Io {
                what: "start the heartbeat thread for",
                path: self.path.clone(),
                source: e,
            })?;
            *self.claimant.borrow_mut() = Some(Claimant {
                id,
                lease_ms,
                slots: request.jobs.saturating_mul(request.window).max(1),
                lost: Arc::clone(&lost),
            });
            return Ok(Some(Membership {
                id,
                lost,
                lease: request.lease,
                beat: Some(beat),
            }));
        }
        let _ = (run_id, request);
        Ok(None)
    }

    /// The members of a run's passes, oldest first (none on SQLite).
    pub fn members(&self, run_id: &str) -> Result<Vec<MemberRow>, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            return super::members_pg::members(&mut conn.borrow_mut(), run_id)
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        let _ = run_id;
        Ok(Vec::new())
    }

    /// Whether members other than this store's own work the run now (a live heartbeat):
    /// then the run's status is theirs to set when they end.
    pub fn others_at_work(&self, run_id: &str) -> Result<bool, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            let me = self.claimant.borrow().as_ref().map(|c| c.id);
            return super::members_pg::others_at_work(&mut conn.borrow_mut(), run_id, me)
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        let _ = run_id;
        Ok(false)
    }
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
mod beat {
    //! The heartbeat thread of a member, on a connection of its own.

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
    use std::sync::{Arc, mpsc};
    use std::time::{Duration, Instant};

    use super::MemberEnd;
    use crate::store::Store;

    #[derive(Debug)]
    pub(super) struct Beat {
        stop: Sender<MemberEnd>,
        thread: std::thread::JoinHandle<()>,
    }

    impl Beat {
        pub fn start(
            store: Store,
            id: i64,
            lease_ms: i64,
            lost: Arc<AtomicBool>,
        ) -> std::io::Result<Beat> {
            let (stop, rx) = mpsc::channel();
            let thread = std::thread::Builder::new()
                .name("runctl-heartbeat".into())
                .spawn(move || beat(store, id, lease_ms, &lost, &rx))?;
            Ok(Beat { stop, thread })
        }

        pub fn stop(self, how: MemberEnd) {
            let _ = self.stop.send(how);
            let _ = self.thread.join();
        }
    }

    /// Beat every quarter of the lease (at most every 5 s) until told to stop; then record
    /// the end. A beat that finds this member stale, or beats failing for longer than the
    /// lease, lose the lease.
    fn beat(mut store: Store, id: i64, lease_ms: i64, lost: &AtomicBool, rx: &Receiver<MemberEnd>) {
        let lease = Duration::from_millis(u64::try_from(lease_ms).unwrap_or(0));
        let every = (lease / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        let mut last_ok = Instant::now();
        let how = loop {
            match rx.recv_timeout(every) {
                Ok(how) => break how,
                Err(RecvTimeoutError::Disconnected) => break MemberEnd::Failed,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if lost.load(Ordering::SeqCst) {
                continue;
            }
            match store.heartbeat(id) {
                Ok(true) => last_ok = Instant::now(),
                Ok(false) => lost.store(true, Ordering::SeqCst),
                Err(_) => {
                    // A connection the server dropped: a new one for the next beat.
                    if let Ok(again) = store.open_another(crate::store::Access::Write) {
                        store = again;
                    }
                }
            }
            if last_ok.elapsed() > lease {
                lost.store(true, Ordering::SeqCst);
            }
        };
        let how = if lost.load(Ordering::SeqCst) {
            MemberEnd::LostLease
        } else {
            how
        };
        let _ = store.member_ended(id, how);
    }
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl Store {
    /// One heartbeat of member `id`: false when it was stale already (past the lease, or
    /// ended), so that the others may hold its items.
    fn heartbeat(&self, id: i64) -> Result<bool, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            return super::members_pg::heartbeat(&mut conn.borrow_mut(), id)
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        let _ = id;
        Ok(true)
    }

    /// A host of a live member working the run (one that beat within its lease), on a store
    /// many processes share: such a run is not archived, removed or recorded into from
    /// outside. None on SQLite, where the run's lock says it.
    pub fn worked_from(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            // Escaped: the host is any text a member was given (RUNCTL_HOST).
            return super::members_pg::live_host(&mut conn.borrow_mut(), run_id)
                .map(|h| h.map(|h| crate::text::printable(&h).into_owned()))
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        let _ = run_id;
        Ok(None)
    }

    /// The live members of every run (run id, host, pid), on a store many processes share:
    /// such a store is not copied while it is worked. None on SQLite.
    pub fn live_members(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            return super::members_pg::live(&mut conn.borrow_mut())
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        Ok(Vec::new())
    }

    /// Record how member `id` ended and free the items it holds without a result.
    fn member_ended(&self, id: i64, how: MemberEnd) -> Result<(), StoreError> {
        #[cfg(feature = "postgres")]
        if let super::Engine::Postgres(conn, _) = &self.engine {
            return super::members_pg::ended(&mut conn.borrow_mut(), id, how.as_str())
                .map_err(|e| super::sql::db_error(&self.path, e));
        }
        let _ = (id, how);
        Ok(())
    }
}
