//! `runctl tag` and `runctl note`: key=value tags and free-text notes on a run, shown by
//! `show` and `--json` and selected by `list --tag`.

use std::io::Read;

use clap::Args;
use serde::Serialize;

use super::run_view::{NoteOutput, find_run};
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::runs::annotations::{self, AnnotationError, MAX_NOTE};
use crate::store::{Access, now_text};

/// Set, change or delete a run's tags (KEY=VALUE); with none given, print them
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl tag latest lr=3e-4 baseline=yes\n  runctl tag qwen2-7b-drg_letters-full-run3 --delete baseline\n  runctl tag latest              # print its tags\n  runctl list --tag baseline=yes"
)]
pub struct TagArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// KEY=VALUE: set KEY (a value already there is replaced)
    #[arg(value_name = "KEY=VALUE")]
    tags: Vec<String>,
    /// Delete the tag KEY (repeatable)
    #[arg(short, long, value_name = "KEY")]
    delete: Vec<String>,
    /// Print the run's tags as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Add a note to a run (shown by `runctl show`)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl note latest \"diverged after step 12k; lr too high\"\n  git log -1 --format=%B | runctl note latest -"
)]
pub struct NoteArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// The note's words (joined by spaces); `-` reads the note from stdin
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
    /// Print the run's notes as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl tag --json`.
#[derive(Debug, Serialize)]
struct TagsOutput {
    run: String,
    id: String,
    tags: std::collections::BTreeMap<String, String>,
}

/// `runctl note --json`.
#[derive(Debug, Serialize)]
struct NotesOutput {
    run: String,
    id: String,
    notes: Vec<NoteOutput>,
}

/// A tag or note refused: a usage error.
pub fn refused(err: AnnotationError) -> CliError {
    CliError::usage(err.to_string())
        .hint("tags look like lr=3e-4 or owner=ana (keys: letters, digits, _ . - / :)")
}

/// The `KEY=VALUE` arguments, checked.
pub fn parse_tags(texts: &[String]) -> Result<Vec<(String, String)>> {
    texts
        .iter()
        .map(|t| annotations::parse_tag(t).map_err(refused))
        .collect()
}

pub fn tag(ctx: &Ctx, args: TagArgs) -> Result<()> {
    let set = parse_tags(&args.tags)?;
    for key in &args.delete {
        annotations::check_key(key).map_err(refused)?;
        if set.iter().any(|(k, _)| k == key) {
            return Err(CliError::usage(format!(
                "tag '{key}' is both set and deleted; give one of the two"
            )));
        }
    }
    let project = ctx.require_project()?;
    let changing = !set.is_empty() || !args.delete.is_empty();
    let access = if changing {
        Access::Write
    } else {
        Access::Read
    };
    let mut store = ctx.open_store(&project, access)?;
    let run = find_run(&store, &args.run)?;
    let tags = if changing {
        store.change_tags(&run.id, &set, &args.delete)?
    } else {
        store.tags_of(&run.id)?
    };
    if args.json {
        return output::print_json(&TagsOutput {
            run: run.name,
            id: run.id,
            tags: tags.into_iter().collect(),
        });
    }
    if tags.is_empty() {
        ctx.note(format!("run {} has no tags", run.name));
        return Ok(());
    }
    let text: String = tags
        .iter()
        .map(|(k, v)| format!("{k}={}\n", output::printable(v)))
        .collect();
    output::print(&text)
}

pub fn note(ctx: &Ctx, args: NoteArgs) -> Result<()> {
    let text = if args.text == ["-"] {
        read_stdin_note()?
    } else {
        args.text.join(" ")
    };
    let text = annotations::check_note(&text).map_err(|e| {
        CliError::usage(e.to_string()).hint("runctl note RUN \"what to remember about it\"")
    })?;
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Write)?;
    let run = find_run(&store, &args.run)?;
    store.add_note(&run.id, &text, &now_text())?;
    if args.json {
        let notes = store
            .notes_of(&run.id)?
            .into_iter()
            .map(|n| NoteOutput {
                text: n.text,
                created_at: n.created_at,
            })
            .collect();
        return output::print_json(&NotesOutput {
            run: run.name,
            id: run.id,
            notes,
        });
    }
    ctx.note(format!("noted on run {}", run.name));
    Ok(())
}

/// A note from stdin: UTF-8, at most [`MAX_NOTE`] bytes (read no further than one past it).
fn read_stdin_note() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_NOTE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::general("cannot read the note from stdin").cause(e))?;
    if bytes.len() > MAX_NOTE {
        return Err(CliError::usage(format!(
            "the note on stdin is over {MAX_NOTE} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| CliError::usage("the note on stdin is not UTF-8 text"))
}
