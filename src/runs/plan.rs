//! Choosing a run's name: the counter over the DB and the folders on disk, forced indexes,
//! the timestamp fallback and the length guards. Runs inside the store's allocation
//! transaction, so concurrent `runctl new` processes are serialized and a hand-made folder is
//! never reused. Reads folders; makes none.

use std::path::{Path, PathBuf};

use super::{Result, RunsError};
use crate::naming::{self, Segments, Shortened};
use crate::project::Scope;
use crate::store::{Allocation, RunRow};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct NameRequest {
    pub segments: Segments,
    pub scope: Scope,
    pub forced: Option<u32>,
    pub force: bool,
}

/// Where run folders go, as absolute paths, and the path-length guard.
#[derive(Debug, Clone)]
pub struct Layout {
    pub outputs: PathBuf,
    pub logs: PathBuf,
    pub max_path: usize,
}

impl Layout {
    /// The longest run folder name that keeps both run folders within `max_path` characters.
    fn name_budget(&self) -> usize {
        let room = |base: &Path| {
            self.max_path
                .saturating_sub(base.to_string_lossy().chars().count() + 1)
        };
        naming::NAME_MAX
            .min(room(&self.outputs))
            .min(room(&self.logs))
    }
}

/// The name chosen for a new run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub number: Option<u32>,
    /// The segments as used in the name (after any shortening).
    pub fitted: Segments,
    pub shortened: Vec<Shortened>,
    /// The live run that `--force` takes the name from.
    pub supersede: Option<RunRow>,
    /// The folders the counter looked at, as they were (see `counter::note_made`).
    pub seen: Vec<super::counter::Seen>,
}

impl Plan {
    pub fn prefix(&self) -> String {
        self.fitted.prefix()
    }
}

fn folder_taken(layout: &Layout, name: &str) -> bool {
    std::fs::symlink_metadata(layout.outputs.join(name)).is_ok()
        || std::fs::symlink_metadata(layout.logs.join(name)).is_ok()
}

/// The plan for a forced index `n`: taken only with `force` (superseding the live run that
/// holds it, if any).
fn forced(
    a: &Allocation<'_>,
    mut plan: Plan,
    n: u32,
    force: bool,
    layout: &Layout,
) -> Result<Plan> {
    let live = a.live_run_named(&plan.name)?;
    // A removed run keeps its name: it is not handed out again without --force.
    let removed = match live {
        None => a.removed_run_named(&plan.name)?,
        Some(_) => None,
    };
    if (live.is_some() || removed.is_some() || folder_taken(layout, &plan.name)) && !force {
        let holder = match (&live, &removed) {
            (Some(run), _) => format!("run {} (id {})", run.name, run.id),
            (None, Some(id)) => format!("the removed run {} (id {id})", plan.name),
            (None, None) => format!(
                "a folder in {} or {}",
                layout.outputs.display(),
                layout.logs.display()
            ),
        };
        return Err(RunsError::IndexTaken {
            removed: live.is_none() && removed.is_some(),
            number: n,
            name: plan.name,
            holder,
        });
    }
    plan.supersede = live;
    Ok(plan)
}

/// Choose the name of a new run. `stamp` is `YYYYmmddHHMMSS` (UTC) for the fallback, `salt`
/// random hex for a fallback that is itself taken.
pub fn plan(
    a: &Allocation<'_>,
    req: &NameRequest,
    layout: &Layout,
    stamp: &str,
    salt: &str,
) -> Result<Plan> {
    let seg = &req.segments;
    let budget = layout.name_budget();
    // The plan for a suffix (`run7`, `ts20261123...`): segments fitted to the budget, the name.
    let plan_for = |suffix: &str, number: Option<u32>| {
        let (fitted, shortened) = naming::fit(seg, suffix, budget);
        Plan {
            name: format!("{}-{suffix}", fitted.prefix()),
            number,
            fitted,
            shortened,
            supersede: None,
            seen: Vec::new(),
        }
    };
    // A removed run keeps its name too (whatever scope it was counted in, or a `-ts` name).
    let taken = |name: &str| -> Result<bool> {
        Ok(a.live_run_named(name)?.is_some()
            || folder_taken(layout, name)
            || a.removed_run_named(name)?.is_some())
    };

    if let Some(n) = req.forced {
        return forced(
            a,
            plan_for(&naming::run_suffix(n), Some(n)),
            n,
            req.force,
            layout,
        );
    }

    let db_max = a.max_number(req.scope, &seg.model, &seg.dataset)?;
    let fitted_guess = plan_for(&naming::run_suffix(1), None).fitted;
    let prefixes = [
        naming::scope_prefix(req.scope, seg),
        naming::scope_prefix(req.scope, &fitted_guess),
    ];
    let (disk_max, seen) =
        super::counter::folder_max(a, &[&layout.outputs, &layout.logs], &prefixes)?;
    let with_seen = |plan: Plan| Plan { seen, ..plan };
    let mut n = db_max.max(disk_max).unwrap_or(0).saturating_add(1);
    while n <= naming::RUN_MAX {
        let plan = plan_for(&naming::run_suffix(n), Some(n));
        // Another scope may hold the same name (a folder made by hand, say): take the next.
        if !taken(&plan.name)? {
            return Ok(with_seen(plan));
        }
        n += 1;
    }
    let fallback = timestamp_fallback(&|suffix| plan_for(suffix, None), &taken, stamp, salt)?;
    Ok(with_seen(fallback))
}

/// Past `run9999`: `-ts<stamp>`, else `-ts<stamp>-<salt>`, else that counted on; each checked
/// (a removed or live run, or a folder, may hold it).
fn timestamp_fallback(
    plan_for: &dyn Fn(&str) -> Plan,
    taken: &dyn Fn(&str) -> Result<bool>,
    stamp: &str,
    salt: &str,
) -> Result<Plan> {
    let mut suffix = format!("ts{stamp}");
    for k in 1..10_000u32 {
        let plan = plan_for(&suffix);
        if !taken(&plan.name)? {
            return Ok(plan);
        }
        suffix = match k {
            1 => format!("ts{stamp}-{salt}"),
            _ => format!("ts{stamp}-{salt}-{k}"),
        };
    }
    Err(RunsError::IndexTaken {
        number: naming::RUN_MAX,
        name: plan_for(&suffix).name,
        holder: "10,000 names tried after it".to_string(),
        removed: false,
    })
}
