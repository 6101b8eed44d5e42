//! How a run is shown: the `--json` shape, the runtime metadata variables (RUN_ID, RUN_NAME, ...)
//! in env, shell and JSON form, and finding a run from what the user typed.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{CliError, Result};
use crate::store::{RunRow, Store};

/// `--format` of `new` and `env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The run name on stdout, details on stderr
    Text,
    /// One JSON document (docs/json.md)
    Json,
    /// KEY=value lines, for an env file (docker --env-file, systemd)
    Env,
    /// export KEY='value' lines, for eval in bash or zsh
    Shell,
}

/// A run in `--json` output (docs/json.md). Fields may be added, never renamed or removed.
#[derive(Debug, Serialize)]
pub struct RunOutput {
    pub id: String,
    pub name: String,
    pub number: Option<u32>,
    pub prefix: String,
    pub dir_name: String,
    pub outputs_dir: PathBuf,
    pub logs_dir: PathBuf,
    pub model: String,
    pub dataset: String,
    pub size: String,
    pub scope: String,
    pub status: String,
    pub superseded: bool,
    pub moved_to: Option<String>,
    pub command: Option<Vec<String>>,
    pub config_path: Option<String>,
    pub config: Option<serde_json::Value>,
    pub exit_code: Option<i32>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub env: serde_json::Map<String, serde_json::Value>,
    /// Work items and their results, for a run made with `--source`.
    pub items: Option<ItemsOutput>,
}

/// The `items` field of a run in `--json` output.
#[derive(Debug, Serialize)]
pub struct ItemsOutput {
    pub total: i64,
    pub completed: i64,
    pub errors: i64,
    pub remaining: i64,
    /// When the remaining items should be done at the rate so far (UTC); null before a rate.
    pub eta: Option<String>,
}

impl ItemsOutput {
    /// The counts of a run, or `None` when it has no items.
    pub fn of(
        store: &crate::store::Store,
        run_id: &str,
    ) -> crate::error::Result<Option<ItemsOutput>> {
        let p = store.progress(run_id)?;
        Ok((p.n_items > 0).then(|| ItemsOutput {
            total: p.n_items,
            completed: p.n_completed,
            errors: p.n_errors,
            remaining: p.remaining().max(0),
            eta: p.eta.clone(),
        }))
    }

    /// `2/6 done, 1 error`.
    pub fn short(&self) -> String {
        format!(
            "{}/{} done, {} errors",
            self.completed, self.total, self.errors
        )
    }
}

/// The name without its `-run<N>` / `-ts<...>` suffix.
pub fn prefix_of(row: &RunRow) -> String {
    let suffix_at = match row.number {
        Some(n) => row.name.strip_suffix(&format!("-run{n}")).map(str::len),
        None => row.name.rfind("-ts"),
    };
    suffix_at
        .and_then(|at| row.name.get(..at))
        .unwrap_or(&row.name)
        .to_string()
}

/// A run's folders as they are on disk: as recorded, or where the settings put them when the
/// recorded path names no folder (a project path that is not valid UTF-8 is recorded lossily,
/// and a child process must get the real folder, not a mangled copy of its name).
#[derive(Debug, Clone)]
pub struct RunDirs {
    pub outputs: PathBuf,
    pub logs: PathBuf,
}

impl RunDirs {
    pub fn of(project: &crate::project::Project, row: &RunRow) -> Result<RunDirs> {
        let real = |recorded: &str, base: PathBuf| {
            let recorded = project.root.join(recorded);
            if recorded.is_dir() {
                recorded
            } else {
                base.join(&row.dir_name)
            }
        };
        Ok(RunDirs {
            outputs: real(&row.outputs_dir, project.outputs_dir()?),
            logs: real(&row.logs_dir, project.logs_dir()?),
        })
    }
}

/// [`metadata`] as a child process's environment, with the run's real folders.
pub fn metadata_env(row: &RunRow, dirs: &RunDirs) -> Vec<(String, std::ffi::OsString)> {
    metadata(row)
        .into_iter()
        .map(|(key, value)| {
            let value = match key {
                "RUN_DIR" => dirs.outputs.clone().into_os_string(),
                "RUN_LOG_DIR" => dirs.logs.clone().into_os_string(),
                _ => value.into(),
            };
            (key.to_string(), value)
        })
        .collect()
}

/// The runtime metadata contract (docs/naming.md), in order.
pub fn metadata(row: &RunRow) -> Vec<(&'static str, String)> {
    vec![
        ("RUN_ID", row.id.clone()),
        ("RUN_NAME", row.name.clone()),
        (
            "RUN_NUMBER",
            row.number.map(|n| n.to_string()).unwrap_or_default(),
        ),
        ("RUN_NAME_PREFIX", prefix_of(row)),
        ("RUN_DIR_NAME", row.dir_name.clone()),
        ("RUN_DIR", row.outputs_dir.clone()),
        ("RUN_LOG_DIR", row.logs_dir.clone()),
        ("SERVED_MODEL_NAME", row.model.clone()),
    ]
}

impl RunOutput {
    pub fn from_row(row: &RunRow) -> RunOutput {
        let env = metadata(row)
            .into_iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
            .collect();
        RunOutput {
            id: row.id.clone(),
            name: row.name.clone(),
            number: row.number,
            prefix: prefix_of(row),
            dir_name: row.dir_name.clone(),
            outputs_dir: PathBuf::from(&row.outputs_dir),
            logs_dir: PathBuf::from(&row.logs_dir),
            model: row.model.clone(),
            dataset: row.dataset.clone(),
            size: row.size.clone(),
            scope: row.scope.clone(),
            status: if row.superseded {
                "superseded".into()
            } else {
                row.status.to_string()
            },
            superseded: row.superseded,
            moved_to: row.moved_to.clone(),
            command: row
                .command
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            config_path: row.config_path.clone(),
            config: row
                .config
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok()),
            exit_code: row.exit_code,
            created_at: row.created_at.clone(),
            started_at: row.started_at.clone(),
            finished_at: row.finished_at.clone(),
            env,
            items: None,
        }
    }

    /// With the item counts from the store.
    pub fn with_items(mut self, store: &crate::store::Store) -> crate::error::Result<RunOutput> {
        self.items = ItemsOutput::of(store, &self.id)?;
        Ok(self)
    }
}

/// Single-quote a value for bash and zsh: `'` becomes `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The metadata in env, shell or JSON form (text falls back to env).
pub fn render_metadata(row: &RunRow, format: Format) -> Result<String> {
    let vars = metadata(row);
    Ok(match format {
        Format::Shell => vars
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect(),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = vars
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                .collect();
            let mut text = serde_json::to_string_pretty(&map)?;
            text.push('\n');
            text
        }
        Format::Env | Format::Text => vars
            .iter()
            .map(|(k, v)| format!("{k}={}\n", v.replace('\n', " ")))
            .collect(),
    })
}

/// Find a run by name, id, unique id prefix, or `latest`.
pub fn find_run(store: &Store, reference: &str) -> Result<RunRow> {
    if reference == "latest" {
        return store.latest_run()?.ok_or_else(|| {
            CliError::not_found("there are no runs yet").hint("create one with 'runctl new'")
        });
    }
    if let Some(row) = store.run_by_id(reference)? {
        return Ok(row);
    }
    if let Some(row) = store.runs_named(reference)?.into_iter().next() {
        return Ok(row);
    }
    let candidates = if reference.is_empty()
        || !reference
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'_')
    {
        Vec::new()
    } else {
        store.runs_with_id_prefix(reference, 11)?
    };
    match candidates.len() {
        0 => Err(
            CliError::not_found(format!("no run named or with id '{reference}'"))
                .hint("'runctl list' shows the runs; 'latest' is the newest"),
        ),
        1 => candidates
            .into_iter()
            .next()
            .ok_or_else(|| CliError::not_found(reference.to_string())),
        _ => {
            let mut err = CliError::usage(format!("'{reference}' matches more than one run id"));
            for run in candidates.iter().take(10) {
                err = err.hint(format!("{}  {}", run.id, run.name));
            }
            Err(err.hint("give more of the id, or the run name"))
        }
    }
}
