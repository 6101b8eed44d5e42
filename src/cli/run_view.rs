//! How a run is shown: the `--json` shape, the runtime metadata variables (RUN_ID, RUN_NAME, ...)
//! in env, shell and JSON form, and finding a run from what the user typed.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{CliError, Result};
use crate::store::{RunRow, Store};

pub use crate::runs::{metadata, prefix_of};

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
    /// When `runctl archive` moved the run's folders under the archive.
    pub archived_at: Option<String>,
    /// `runctl tag`, by key.
    pub tags: std::collections::BTreeMap<String, String>,
    /// `runctl note`, oldest first.
    pub notes: Vec<NoteOutput>,
    /// Which store holds the run, `sqlite` or `postgres`: in `show --json` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<&'static str>,
    /// The processes that worked the run's passes on PostgreSQL, oldest first (`[]` on
    /// SQLite): in `show --json` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<super::members_view::MemberOutput>>,
}

/// A note in `--json` output.
#[derive(Debug, Serialize)]
pub struct NoteOutput {
    pub text: String,
    pub created_at: String,
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
            "{}/{} done, {}",
            self.completed,
            self.total,
            crate::text::count(self.errors, "error")
        )
    }
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
            archived_at: row.archived_at.clone(),
            tags: Default::default(),
            notes: Vec::new(),
            store: None,
            members: None,
        }
    }

    /// With the run's items, tags and notes and, for a run whose worker was first given at
    /// `resume`, that worker command (stored with its work settings).
    pub fn with_items(mut self, store: &crate::store::Store) -> crate::error::Result<RunOutput> {
        self.items = ItemsOutput::of(store, &self.id)?;
        self.tags = store.tags_of(&self.id)?.into_iter().collect();
        self.notes = store
            .notes_of(&self.id)?
            .into_iter()
            .map(|n| NoteOutput {
                text: n.text,
                created_at: n.created_at,
            })
            .collect();
        if self.command.is_none()
            && let Some(text) = store.run_work(&self.id)?
            && let Ok(work) = serde_json::from_str::<crate::work::WorkSettings>(&text)
            && !work.command.is_empty()
        {
            self.command = Some(work.command);
        }
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

/// The new run on stdout in the asked format (the name, JSON, env or shell lines), or the
/// note that its command is starting.
pub fn print_new(
    ctx: &super::Ctx,
    store: &Store,
    row: &RunRow,
    format: Format,
    command: &[std::ffi::OsString],
) -> Result<()> {
    use super::output;
    match format {
        Format::Text if command.is_empty() => {
            ctx.note(format!(
                "created run {} (id {})\n  outputs: {}\n  logs:    {}",
                row.name, row.id, row.outputs_dir, row.logs_dir
            ));
            output::print(&format!("{}\n", row.name))?;
        }
        Format::Text => ctx.note(format!(
            "run {} (id {}): running {}",
            row.name,
            row.id,
            shown_command(command)
        )),
        Format::Json => output::print_json(&RunOutput::from_row(row).with_items(store)?)?,
        Format::Env | Format::Shell => output::print(&render_metadata(row, format)?)?,
    }
    Ok(())
}

/// A command as one line a terminal shows safely.
fn shown_command(command: &[std::ffi::OsString]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|w| w.to_string_lossy().into_owned())
        .collect();
    super::output::printable(&words.join(" ")).into_owned()
}

/// A reference as an error message shows it: at most 80 characters.
fn shown_reference(reference: &str) -> String {
    let mut shown: String = reference.chars().take(80).collect();
    if shown.len() < reference.len() {
        shown.push_str("...");
    }
    shown
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
    // A run id is 27 characters: a longer reference is no prefix of one.
    let candidates = if reference.is_empty()
        || reference.len() > 64
        || !reference
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'_')
    {
        Vec::new()
    } else {
        store.runs_with_id_prefix(reference, 11)?
    };
    match candidates.len() {
        0 => Err(CliError::not_found(format!(
            "no run named or with id '{}'",
            shown_reference(reference)
        ))
        .hint("'runctl list' shows the runs; 'latest' is the newest")),
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
