//! Choosing a run's name and making its folders: the counter over the DB and the folders on
//! disk, forced indexes, the timestamp fallback, the length guards, and the `latest` pointers.
//!
//! Everything here runs inside the store's allocation transaction (see [`crate::store::Allocation`]),
//! so concurrent `runctl new` processes are serialized and a hand-made folder is never reused.
//! SQL stays in the store; this module does the folder work.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};
use crate::naming::{self, Segments, Shortened};
use crate::project::Scope;
use crate::store::{Allocation, RunRow};
use crate::undo::{self, Previous, Undo};

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
}

impl Plan {
    pub fn prefix(&self) -> String {
        self.fitted.prefix()
    }
}

/// The largest `run<N>` among the folders of `dirs` that fall in the scope.
fn folder_max(dirs: &[&Path], scope: Scope, segments: &[&Segments]) -> Option<u32> {
    let prefixes: Vec<String> = segments
        .iter()
        .map(|s| naming::scope_prefix(scope, s))
        .collect();
    let mut max = None;
    for dir in dirs {
        // nix's iterator lends each name instead of allocating two strings per entry, as
        // `std::fs::read_dir` does: a project can have thousands of run folders.
        let flags = nix::fcntl::OFlag::O_RDONLY
            | nix::fcntl::OFlag::O_DIRECTORY
            | nix::fcntl::OFlag::O_CLOEXEC;
        let Ok(mut entries) = nix::dir::Dir::open(*dir, flags, nix::sys::stat::Mode::empty())
        else {
            continue;
        };
        for entry in entries.iter().flatten() {
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            if !prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                continue;
            }
            if let Some(n) = naming::run_number(name) {
                max = max.max(Some(n));
            }
        }
    }
    max
}

fn folder_taken(layout: &Layout, name: &str) -> bool {
    std::fs::symlink_metadata(layout.outputs.join(name)).is_ok()
        || std::fs::symlink_metadata(layout.logs.join(name)).is_ok()
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
        }
    };
    let taken = |name: &str| -> Result<bool> {
        Ok(a.live_run_named(name)?.is_some() || folder_taken(layout, name))
    };

    if let Some(n) = req.forced {
        let mut plan = plan_for(&naming::run_suffix(n), Some(n));
        let live = a.live_run_named(&plan.name)?;
        if (live.is_some() || folder_taken(layout, &plan.name)) && !req.force {
            let holder = match &live {
                Some(run) => format!("run {} (id {})", run.name, run.id),
                None => format!(
                    "a folder in {} or {}",
                    layout.outputs.display(),
                    layout.logs.display()
                ),
            };
            return Err(CliError::conflict(format!(
                "run index {n} is taken: the name {} belongs to {holder}",
                plan.name
            ))
            .hint("drop --run-index / FORCE_RUN_INDEX for the next free number, or add --force to take the name (the old run is kept and its folder moved aside)"));
        }
        plan.supersede = live;
        return Ok(plan);
    }

    let db_max = a.max_number(req.scope, &seg.model, &seg.dataset)?;
    let fitted_guess = plan_for(&naming::run_suffix(1), None).fitted;
    let disk_max = folder_max(
        &[&layout.outputs, &layout.logs],
        req.scope,
        &[seg, &fitted_guess],
    );
    let mut n = db_max.max(disk_max).unwrap_or(0).saturating_add(1);
    while n <= naming::RUN_MAX {
        let plan = plan_for(&naming::run_suffix(n), Some(n));
        // Another scope may hold the same name (a folder made by hand, say): take the next.
        if !taken(&plan.name)? {
            return Ok(plan);
        }
        n += 1;
    }
    let plan = plan_for(&format!("ts{stamp}"), None);
    if taken(&plan.name)? {
        return Ok(plan_for(&format!("ts{stamp}-{salt}"), None));
    }
    Ok(plan)
}

/// Move a superseded run's folders aside (never deleting them); returns the new outputs path.
pub fn move_aside(
    layout: &Layout,
    dir_name: &str,
    stamp: &str,
    undo: &mut Undo,
) -> Result<Option<PathBuf>> {
    let mut moved_outputs = None;
    for base in [&layout.outputs, &layout.logs] {
        let from = base.join(dir_name);
        if std::fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let mut to = base.join(format!("{dir_name}.superseded-{stamp}"));
        let mut k = 2;
        while std::fs::symlink_metadata(&to).is_ok() {
            to = base.join(format!("{dir_name}.superseded-{stamp}-{k}"));
            k += 1;
        }
        std::fs::rename(&from, &to).map_err(|e| CliError::io("move aside", &from, e))?;
        undo.renamed(&from, &to);
        if base == &layout.outputs {
            moved_outputs = Some(to);
        }
    }
    Ok(moved_outputs)
}

/// Make a folder and every missing parent, recording each one made.
fn make_dir_all(dir: &Path, undo: &mut Undo) -> Result<()> {
    let mut missing = Vec::new();
    for d in dir.ancestors() {
        if std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => undo.made_dir(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CliError::io("create", d, e)),
        }
    }
    Ok(())
}

/// Make a run's folders. A folder that appeared meanwhile is a conflict, never reused.
pub fn make_folders(
    layout: &Layout,
    dir_name: &str,
    undo: &mut Undo,
) -> Result<(PathBuf, PathBuf)> {
    let outputs = layout.outputs.join(dir_name);
    let logs = layout.logs.join(dir_name);
    for dir in [&outputs, &logs] {
        if let Some(parent) = dir.parent() {
            make_dir_all(parent, undo)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => undo.made_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(
                    CliError::conflict(format!("{} already exists", dir.display()))
                        .hint("runctl never reuses a run folder; try again for the next number"),
                );
            }
            Err(e) => return Err(CliError::io("create", dir, e)),
        }
    }
    Ok((outputs, logs))
}

/// Point `outputs/latest` (a relative symlink, or `latest.txt` where symlinks are refused) and
/// `logs/latest.txt` at the run, each replaced atomically by a rename. A pointer that is
/// something else (a folder a user made and named `latest`) is left alone: returned as a
/// warning, not an error, since the run itself is fine.
pub fn update_pointers(layout: &Layout, dir_name: &str, undo: &mut Undo) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    for dir in [&layout.outputs, &layout.logs] {
        make_dir_all(dir, undo)?;
    }
    let latest = layout.outputs.join("latest");
    let tmp = undo::temp_beside(&latest);
    let _ = std::fs::remove_file(&tmp);
    let linked = std::os::unix::fs::symlink(dir_name, &tmp).is_ok();
    if linked {
        // runctl's `outputs/latest` is a symlink: a file or folder there is someone else's.
        let previous = match undo::previous_of(&latest) {
            Ok(Some(Previous::File(_))) => None,
            other => other.map_err(|e| CliError::io("read", &latest, e))?,
        };
        match previous {
            Some(previous) => {
                if let Err(e) = std::fs::rename(&tmp, &latest) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(CliError::io("replace", &latest, e));
                }
                undo.replaced(&latest, previous);
            }
            None => {
                let _ = std::fs::remove_file(&tmp);
                warnings.push(not_a_pointer(&latest));
            }
        }
    } else {
        write_pointer(
            &layout.outputs.join("latest.txt"),
            dir_name,
            undo,
            &mut warnings,
        )?;
    }
    write_pointer(
        &layout.logs.join("latest.txt"),
        dir_name,
        undo,
        &mut warnings,
    )?;
    Ok(warnings)
}

fn not_a_pointer(path: &Path) -> String {
    format!(
        "{} is not a pointer runctl made (a file or a folder of someone else's): left as it is, not pointed at the new run",
        path.display()
    )
}

fn write_pointer(
    path: &Path,
    dir_name: &str,
    undo: &mut Undo,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let Some(previous) = undo::previous_of(path).map_err(|e| CliError::io("read", path, e))? else {
        warnings.push(not_a_pointer(path));
        return Ok(());
    };
    let tmp = undo::temp_beside(path);
    if let Err(e) = undo::write_new(&tmp, format!("{dir_name}\n").as_bytes()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io("write", &tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::io("replace", path, e));
    }
    undo.replaced(path, previous);
    Ok(())
}
