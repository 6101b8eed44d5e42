//! `runs::allocate`: a new run from start to record, in one write transaction. It chooses the
//! name, takes it over with `--force` (moving the old folders aside), records shortened
//! segments, makes the folders, inserts the row (attached to its items' source, if any) and
//! points `latest` at it. Every folder step is undone if a later one, the insert or the commit
//! fails, so a failed allocation leaves the DB and the disk as they were.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Layout, NameRequest, Plan, Result, RunsError};
use crate::naming::{self, Shortened};
use crate::state::RunStatus;
use crate::store::{Allocation, RunRow, SourceRow, Store};
use crate::undo::Undo;

/// The time and randomness a new name needs: the run id, the `-ts` fallback's stamp and
/// salt, and the creation time.
#[derive(Debug, Clone)]
pub struct Clock {
    pub id: String,
    pub stamp: String,
    pub salt: String,
    pub now: String,
}

impl Clock {
    /// Now, with fresh randomness for the id and the salt.
    pub fn now() -> Result<Clock> {
        let now = jiff::Timestamp::now();
        let civil = jiff::tz::TimeZone::UTC.to_datetime(now);
        let mut random = [0u8; 4];
        getrandom::fill(&mut random).map_err(|e| RunsError::Randomness(e.to_string()))?;
        Ok(Clock {
            id: naming::run_id(&civil, [random[0], random[1]]),
            stamp: civil.strftime("%Y%m%d%H%M%S").to_string(),
            salt: hex::encode(&random[2..]),
            now: crate::store::time_text(now),
        })
    }
}

/// What a new run is made from.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub request: &'a NameRequest,
    pub layout: &'a Layout,
    /// Name the folders by run id (legacy naming) instead of by run name.
    pub legacy: bool,
    /// Segments cut to their length limit before planning (recorded with the plan's own).
    pub capped: &'a [Shortened],
    /// The pipeline config (JSON text) and where it was read.
    pub config: Option<&'a (String, PathBuf)>,
    /// The run's command, if it has one.
    pub command: &'a [OsString],
    /// The items the run works through, if any.
    pub source: Option<&'a SourceRow>,
    /// Whether this command ingested the source: a failed allocation then forgets it again
    /// (unless another run took it up meanwhile), so the DB is left as it was.
    pub source_fresh: bool,
    /// Tags the run starts with (`new --tag`).
    pub tags: &'a [(String, String)],
}

/// A run that was made.
#[derive(Debug)]
pub struct Allocated {
    pub row: RunRow,
    pub plan: Plan,
    /// Where `--force` moved the folder that held the name, if it moved one.
    pub moved: Option<PathBuf>,
    /// Pointers left alone because they are not runctl's (the run itself is fine).
    pub warnings: Vec<String>,
}

impl Allocated {
    /// What `--force` did, as a note for the user: the run kept and superseded, or the folder
    /// that held the name moved aside.
    pub fn take_over_note(&self) -> Option<String> {
        let moved = self.moved.as_ref()?;
        Some(match &self.plan.supersede {
            Some(old) => format!(
                "note: run {} (id {}) is kept, marked superseded; its folder moved to {}",
                old.name,
                old.id,
                moved.display()
            ),
            None => format!(
                "note: the folder that held the name was moved to {}",
                moved.display()
            ),
        })
    }
}

/// An allocation that failed, with what could not be undone (each a sentence for the user).
#[derive(Debug)]
pub struct AllocateError {
    pub error: RunsError,
    pub not_undone: Vec<String>,
}

/// Allocate a run: see the module doc.
pub fn allocate(
    store: &mut Store,
    new: NewRun<'_>,
    clock: &Clock,
) -> std::result::Result<Allocated, AllocateError> {
    let mut undo = Undo::default();
    let made = store.allocate(true, |a| in_transaction(a, new, clock, &mut undo));
    made.map_err(|error| {
        let not_undone = undo.undo();
        if let (Some(source), true) = (new.source, new.source_fresh) {
            let _ = store.forget_unused_source(source.id);
        }
        AllocateError { error, not_undone }
    })
}

fn in_transaction(
    a: &Allocation<'_>,
    new: NewRun<'_>,
    clock: &Clock,
    undo: &mut Undo,
) -> Result<Allocated> {
    let plan = super::plan(a, new.request, new.layout, &clock.stamp, &clock.salt)?;
    let moved = if new.request.force {
        take_over(a, new.layout, &plan, &clock.stamp, undo)?
    } else {
        None
    };
    for s in new.capped.iter().chain(&plan.shortened) {
        a.record_shortened(&s.to, &s.from)?;
    }
    let dir_name = if new.legacy {
        clock.id.clone()
    } else {
        plan.name.clone()
    };
    let (outputs_dir, logs_dir) = super::make_folders(new.layout, &dir_name, undo)?;
    let row = run_row(new, clock, &plan, dir_name.clone(), &outputs_dir, &logs_dir);
    a.insert(&row)?;
    a.tag(&row.id, new.tags)?;
    if let Some(s) = new.source {
        a.attach_source(&row.id, s.id, s.n_items)?;
    }
    let warnings = super::update_pointers(new.layout, &dir_name, undo)?;
    // After the pointers, which change the folders' times too (not their link counts).
    super::counter::note_made(a, &plan.seen, &dir_name)?;
    Ok(Allocated {
        row,
        plan,
        moved,
        warnings,
    })
}

/// `--force`: move the folder holding the name aside (never deleting it) and mark the run
/// that held it superseded; returns where its outputs folder went.
fn take_over(
    a: &Allocation<'_>,
    layout: &Layout,
    plan: &Plan,
    stamp: &str,
    undo: &mut Undo,
) -> Result<Option<PathBuf>> {
    let old_dir = plan
        .supersede
        .as_ref()
        .map_or(plan.name.as_str(), |r| r.dir_name.as_str());
    let moved = super::move_aside(layout, old_dir, stamp, undo)?;
    if let Some(old) = &plan.supersede {
        let moved_text = moved.as_ref().map(|p| p.to_string_lossy().into_owned());
        a.supersede(&old.id, moved_text.as_deref())?;
    }
    Ok(moved)
}

/// The record of a new run.
fn run_row(
    new: NewRun<'_>,
    clock: &Clock,
    plan: &Plan,
    dir_name: String,
    outputs_dir: &Path,
    logs_dir: &Path,
) -> RunRow {
    let command = (!new.command.is_empty()).then(|| {
        let words: Vec<serde_json::Value> = new
            .command
            .iter()
            .map(|w| w.to_string_lossy().into_owned().into())
            .collect();
        serde_json::Value::Array(words).to_string()
    });
    let segments = &new.request.segments;
    RunRow {
        id: clock.id.clone(),
        name: plan.name.clone(),
        dir_name,
        model: segments.model.clone(),
        dataset: segments.dataset.clone(),
        size: segments.size.clone(),
        number: plan.number,
        scope: new.request.scope.to_string(),
        status: RunStatus::Created.into(),
        superseded: false,
        moved_to: None,
        outputs_dir: outputs_dir.to_string_lossy().into_owned(),
        logs_dir: logs_dir.to_string_lossy().into_owned(),
        command,
        config: new.config.map(|(c, _)| c.clone()),
        config_path: new.config.map(|(_, p)| p.to_string_lossy().into_owned()),
        exit_code: None,
        created_at: clock.now.clone(),
        started_at: None,
        finished_at: None,
        archived_at: None,
    }
}
