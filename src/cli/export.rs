//! `runctl export`: every item of a run with its result, one line each, streaming.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use serde_json::{Map, Value};

use super::export_target::{Sink, Target, is_stdout, open_target};
use super::{Ctx, output, run_view};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::state::ResultStatus;
use crate::store::{Access, ExportRow, Store};

/// Export a run's items with their results: JSON lines or CSV, one line per item
///
/// Each line holds the item key (item_key), the item's source columns, and the result columns
/// result_status (ok, error, or empty when not done), result_output, result_attempts,
/// result_error, result_error_category, result_finished_at and result_duration_ms.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl export latest -o results.jsonl\n  runctl export my-run --format csv -o results.csv\n  runctl export my-run -o results.jsonl --json | jq .errors"
)]
pub struct ExportArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// jsonl (default) or csv
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print a summary of the export as JSON on stdout (docs/json.md); needs -o FILE, since
    /// without it the export itself is on stdout
    #[arg(long)]
    json: bool,
}

/// `runctl export -o FILE --json`: where the export went and what it holds.
#[derive(Debug, Serialize)]
struct ExportOutput {
    run: String,
    id: String,
    format: &'static str,
    output: PathBuf,
    #[serde(flatten)]
    counts: Counts,
}

/// The item lines an export wrote, by their result (a status this runctl does not know counts
/// in `items` only).
#[derive(Debug, Default, Serialize)]
struct Counts {
    items: usize,
    ok: usize,
    errors: usize,
    not_done: usize,
}

impl Counts {
    fn add(&mut self, row: &ExportRow) {
        self.items += 1;
        match row.status.as_ref().map(|s| s.known()) {
            None => self.not_done += 1,
            Some(Some(ResultStatus::Ok)) => self.ok += 1,
            Some(Some(ResultStatus::Error)) => self.errors += 1,
            Some(None) => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

const RESULT_COLUMNS: [&str; 7] = [
    "result_status",
    "result_output",
    "result_attempts",
    "result_error",
    "result_error_category",
    "result_finished_at",
    "result_duration_ms",
];

fn result_values(row: &ExportRow) -> [Value; 7] {
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let num = |v: Option<i64>| v.map_or(Value::Null, Value::from);
    [
        row.status
            .as_ref()
            .map_or(Value::Null, |s| Value::from(s.as_str())),
        row.output.as_deref().map_or(Value::Null, |o| {
            serde_json::from_str(o).unwrap_or_else(|_| Value::String(o.into()))
        }),
        num(row.attempt_count),
        text(&row.last_error),
        row.error_category
            .as_ref()
            .map_or(Value::Null, |c| Value::from(c.as_str())),
        text(&row.finished_at),
        num(row.duration_ms),
    ]
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn run(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    if args.json && args.output.as_deref().is_none_or(is_stdout) {
        return Err(CliError::usage(
            "--json prints the export's summary on stdout, where the export itself goes without -o FILE",
        )
        .hint("give -o FILE to write the export to a file, or leave --json out"));
    }
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let run = run_view::find_run(&store, &args.run)?;
    if store.source_of_run(&run.id)?.is_none() {
        return Err(CliError::usage(format!(
            "run {} has no work items to export",
            run.name
        )));
    }
    let (counts, renamed) = write_export(ctx, &project, &store, &run.id, &args)?;
    if args.json {
        // -o is given and is not stdout (checked first): a file renamed into place, or a FIFO
        // or device written into.
        let given = args.output.as_ref().map(|given| ctx.cwd.join(given));
        return output::print_json(&ExportOutput {
            run: run.name,
            id: run.id,
            format: args.format.name(),
            output: renamed.or(given).unwrap_or_default(),
            counts,
        });
    }
    if let Some(path) = renamed {
        ctx.note(format!(
            "exported {} items of run {} to {}",
            counts.items,
            run.name,
            path.display()
        ));
    }
    Ok(())
}

/// Write the export where `-o` says (stdout without it); its counts, and the file it was
/// renamed into when it was written to a temporary file first.
fn write_export(
    ctx: &Ctx,
    project: &Project,
    store: &Store,
    run_id: &str,
    args: &ExportArgs,
) -> Result<(Counts, Option<PathBuf>)> {
    let (sink, target): (Sink, Target) = match &args.output {
        None => (Box::new(std::io::stdout().lock()), None),
        Some(path) if is_stdout(path) => (Box::new(std::io::stdout().lock()), None),
        Some(path) => open_target(project, store, &ctx.cwd.join(path))?,
    };
    let mut out = std::io::BufWriter::new(sink);
    let written = match args.format {
        ExportFormat::Jsonl => write_jsonl(store, run_id, &mut out),
        ExportFormat::Csv => write_csv(store, run_id, &mut out),
    }
    .and_then(|counts| out.flush().map(|()| counts).map_err(CliError::from));
    drop(out);
    let counts = match written {
        Ok(counts) => counts,
        Err(e) => {
            // A half-written export is not left behind.
            return Err(match &target {
                Some((tmp, path)) => {
                    let _ = std::fs::remove_file(tmp);
                    CliError::general(format!("cannot write {}", path.display())).cause(e.message)
                }
                None => e,
            });
        }
    };
    match target {
        Some((tmp, path)) => {
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(CliError::io("write", &path, e));
            }
            Ok((counts, Some(path)))
        }
        None => Ok((counts, None)),
    }
}

/// One JSON object per item: its key, its columns, its result's columns; returns the counts.
fn write_jsonl(store: &Store, run_id: &str, out: &mut impl Write) -> Result<Counts> {
    let mut failure: Option<CliError> = None;
    let mut n = Counts::default();
    store.for_each_export(run_id, |row| {
        let mut line = Map::new();
        line.insert("item_key".into(), Value::String(row.key.clone()));
        if let Ok(Value::Object(data)) = serde_json::from_str::<Value>(&row.data) {
            line.extend(data);
        }
        for (name, value) in RESULT_COLUMNS.iter().zip(result_values(&row)) {
            line.insert((*name).into(), value);
        }
        let written = serde_json::to_writer(&mut *out, &Value::Object(line))
            .map_err(CliError::from)
            .and_then(|()| out.write_all(b"\n").map_err(CliError::from));
        n.add(&row);
        written.map_err(|e| failure = Some(e)).is_ok()
    })?;
    failure.map_or(Ok(n), Err)
}

/// A header row, then one row per item: its key, the source's columns, its result's columns;
/// returns the counts.
fn write_csv(store: &Store, run_id: &str, out: &mut impl Write) -> Result<Counts> {
    let columns = store.item_columns(run_id)?;
    let mut csv = csv::Writer::from_writer(out);
    let header = std::iter::once("item_key")
        .chain(columns.iter().map(String::as_str))
        .chain(RESULT_COLUMNS);
    csv.write_record(header)
        .map_err(|e| CliError::general(format!("cannot write CSV: {e}")))?;
    let mut failure: Option<CliError> = None;
    let mut n = Counts::default();
    store.for_each_export(run_id, |row| {
        let data: Map<String, Value> = serde_json::from_str(&row.data).unwrap_or_default();
        let results = result_values(&row);
        let record = std::iter::once(row.key.clone())
            .chain(
                columns
                    .iter()
                    .map(|c| data.get(c).map(cell).unwrap_or_default()),
            )
            .chain(results.iter().map(cell));
        n.add(&row);
        csv.write_record(record)
            .map_err(|e| failure = Some(CliError::general(format!("cannot write CSV: {e}"))))
            .is_ok()
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    csv.flush()?;
    Ok(n)
}
