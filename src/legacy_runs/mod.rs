//! Run folders made before runctl, on disk: finding the ones the DB does not know (by a run id
//! in their name, or a pipeline config inside) and their run records; proposing and adopting
//! canonical names (`adopt.rs`), renaming a folder with a symlink left at the old name and
//! repairing a rename a kill cut short (`rename.rs`). `crate::legacy` reads the names; the CLI
//! (`runctl migrate runs`) asks and reports.

mod adopt;
mod rename;

pub use adopt::{adopt, propose};
use rename::run_name_link;
pub use rename::{rename_folders, repair, undo};

use std::path::{Path, PathBuf};

use crate::store::StoreError;

/// Why legacy runs could not be found or adopted.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error(transparent)]
    Io(#[from] crate::io_error::IoError),
    #[error("the name {name} was taken meanwhile")]
    NameTaken { name: String },
    #[error("no OS randomness: {0}")]
    Randomness(String),
    #[error(transparent)]
    Runs(#[from] crate::runs::RunsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = LegacyError> = std::result::Result<T, E>;

fn io_error(what: &'static str, path: &Path, source: std::io::Error) -> LegacyError {
    crate::io_error::io(what, path)(source).into()
}
use crate::legacy;
use crate::naming::{self, Segments};
use crate::pipeline_config;
use crate::project::{NamingSettings, Project};
use crate::runs::Layout;
use crate::state::RunStatus;
use crate::store::{RunRow, Store};

/// A folder to migrate.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The folder's name in outputs/ (and logs/).
    pub folder: String,
    /// When the run started: from the name, else the folder's modification time.
    pub time: jiff::civil::DateTime,
    /// The run id in the name, kept when it is free.
    pub run_id: Option<String>,
    pub segments: Segments,
    /// The pipeline config found inside (JSON text, path).
    pub config: Option<(String, PathBuf)>,
    /// How it was recognized: "config", "model_h id", "run id" or "timestamp".
    pub found_by: &'static str,
    /// The canonical name it was already renamed to by a `migrate runs` stopped before it
    /// could record the run (killed, or its commit failed): the symlink left at the old name
    /// says so, and this run finishes the job under that name.
    pub renamed_to: Option<String>,
}

/// A folder left alone, and why.
#[derive(Debug, Clone)]
pub struct PassedOver {
    pub folder: String,
    pub reason: String,
}

const CONFIG_NAMES: [&str; 3] = ["config.yaml", "config.yml", "config.json"];

/// TOML files that are a project's manifest or a tool's settings, never a run's config: a
/// folder holding one is a code folder, not a run.
const NOT_CONFIGS: [&str; 8] = [
    "Cargo.toml",
    "pyproject.toml",
    "runctl.toml",
    "rustfmt.toml",
    "clippy.toml",
    "deny.toml",
    "Cross.toml",
    "taplo.toml",
];

/// The pipeline config inside a folder: `None` when there is none, `Err` when it cannot be read.
fn find_config(dir: &Path) -> Option<std::result::Result<(serde_json::Value, PathBuf), String>> {
    let named = CONFIG_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file());
    let toml = || {
        let mut tomls: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "toml")
                    && p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| NOT_CONFIGS.iter().any(|c| n == *c))
            })
            .collect();
        tomls.sort();
        tomls.into_iter().next()
    };
    let path = named.or_else(toml)?;
    Some(
        pipeline_config::load(&path)
            .map(|v| (v, path.clone()))
            .map_err(|e| e.to_string()),
    )
}

fn folder_time(dir: &Path) -> jiff::civil::DateTime {
    let modified = std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .unwrap_or_else(jiff::Timestamp::now);
    jiff::tz::TimeZone::UTC.to_datetime(modified)
}

/// Folders of outputs/ and logs/ that the DB does not know, oldest first, and the ones passed
/// over with the reason.
pub fn discover(
    project: &Project,
    store: &Store,
    layout: &Layout,
) -> Result<(Vec<Candidate>, Vec<PassedOver>)> {
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let unfinished = unfinished_renames(store, layout)?;
    for name in folder_names(layout) {
        if !store.runs_named(&name)?.is_empty() {
            continue; // a run runctl already knows
        }
        if unfinished
            .iter()
            .any(|(from, to)| *to == name || *from == name)
        {
            // Either end of an unfinished rename (in logs/ the old folder may still be real):
            // taken up once, under its old name, below.
            continue;
        }
        let dir = [&layout.outputs, &layout.logs]
            .into_iter()
            .map(|b| b.join(&name))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| layout.outputs.join(&name));
        match examine(name, &dir, &project.settings.naming) {
            Ok(candidate) => candidates.push(candidate),
            Err(passed) => skipped.push(passed),
        }
    }
    for (from, to) in unfinished {
        let dir = layout.outputs.join(&to);
        let dir = if dir.is_dir() {
            dir
        } else {
            layout.logs.join(&to)
        };
        // A symlink a user made that does not look like a legacy run is none of runctl's.
        if let Ok(mut candidate) = examine(from, &dir, &project.settings.naming) {
            candidate.renamed_to = Some(to);
            candidates.push(candidate);
        }
    }
    candidates.sort_by(|a, b| a.time.cmp(&b.time).then(a.folder.cmp(&b.folder)));
    Ok((candidates, skipped))
}

/// Renames a stopped `migrate runs` left unrecorded: `OLD -> NEW` symlinks in outputs/ or logs/
/// where NEW is a real folder beside it with a run name that no run of the DB holds, and OLD
/// is no run's name either. Returns (OLD, NEW) pairs.
pub(crate) fn unfinished_renames(store: &Store, layout: &Layout) -> Result<Vec<(String, String)>> {
    let mut found: Vec<(String, String)> = Vec::new();
    for base in [&layout.outputs, &layout.logs] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            let (Some(from), Some(to)) = (
                entry.file_name().to_str().map(str::to_string),
                run_name_link(&entry.path()),
            ) else {
                continue;
            };
            if from == "latest"
                || !base.join(&to).is_dir()
                || found.iter().any(|(f, _)| *f == from)
                || !store.runs_named(&to)?.is_empty()
                || !store.runs_named(&from)?.is_empty()
            {
                continue;
            }
            found.push((from, to));
        }
    }
    found.sort();
    Ok(found)
}

/// The names of the real folders of outputs/ and logs/, sorted, without hidden ones and
/// folders moved aside by `--force`.
fn folder_names(layout: &Layout) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for base in [&layout.outputs, &layout.logs] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_real_dir
                && !name.starts_with('.')
                && !name.contains(".superseded-")
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

/// Whether a folder is a run made before runctl (a run id in its name, or a readable config
/// inside), and what its name and config say of it.
fn examine(
    name: String,
    dir: &Path,
    keys: &NamingSettings,
) -> std::result::Result<Candidate, PassedOver> {
    let parsed = legacy::parse_name(&name);
    let config = match find_config(dir) {
        Some(Ok(config)) => Some(config),
        Some(Err(reason)) if parsed.is_none() => {
            return Err(PassedOver {
                folder: name,
                reason: format!("its config cannot be read: {reason}"),
            });
        }
        _ => None,
    };
    if parsed.is_none() && config.is_none() {
        return Err(PassedOver {
            folder: name,
            reason: "not a legacy run folder (no run id in its name, no config inside)".into(),
        });
    }
    let value = |key: &str| -> Option<String> {
        let (v, _) = config.as_ref()?;
        pipeline_config::lookup(v, key).and_then(pipeline_config::as_text)
    };
    let model = value(&keys.model_key)
        .or_else(|| parsed.as_ref().and_then(|p| p.model.clone()))
        .unwrap_or_default();
    let dataset = value(&keys.dataset_key).unwrap_or_default();
    let size = value(&keys.sample_size_key);
    let (segments, _) = naming::segments_from(&model, &dataset, size.as_deref());
    let found_by = match (&parsed, &config) {
        (_, Some(_)) => "config",
        (Some(p), None) if p.model.is_some() => "model_h id",
        (Some(p), None) if p.run_id.is_some() => "run id",
        _ => "timestamp",
    };
    Ok(Candidate {
        time: parsed.as_ref().map_or_else(|| folder_time(dir), |p| p.time),
        run_id: parsed.and_then(|p| p.run_id),
        config: config.map(|(v, p)| (v.to_string(), p)),
        segments,
        folder: name,
        found_by,
        renamed_to: None,
    })
}

/// A folder's time (UTC) as stored; every folder time is within the range of timestamps.
fn stamp(time: &jiff::civil::DateTime) -> String {
    jiff::tz::TimeZone::UTC
        .to_timestamp(*time)
        .map(crate::store::time_text)
        .unwrap_or_default()
}

/// The run record of a migrated folder under its new name.
pub fn run_row(
    c: &Candidate,
    name: &str,
    number: Option<u32>,
    id: String,
    scope: &str,
    layout: &Layout,
) -> RunRow {
    RunRow {
        id,
        name: name.to_string(),
        dir_name: name.to_string(),
        model: c.segments.model.clone(),
        dataset: c.segments.dataset.clone(),
        size: c.segments.size.clone(),
        number,
        scope: scope.to_string(),
        status: RunStatus::Migrated.into(),
        superseded: false,
        moved_to: None,
        outputs_dir: layout.outputs.join(name).to_string_lossy().into_owned(),
        logs_dir: layout.logs.join(name).to_string_lossy().into_owned(),
        command: None,
        config: c.config.as_ref().map(|(c, _)| c.clone()),
        config_path: c
            .config
            .as_ref()
            .map(|(_, p)| p.to_string_lossy().into_owned()),
        exit_code: None,
        created_at: stamp(&c.time),
        started_at: Some(stamp(&c.time)),
        finished_at: None,
        archived_at: None,
    }
}
