//! `runctl export`: every item of a run with its result, one line each, streaming.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Map, Value};

use super::{Ctx, run_view};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::store::{Access, ExportRow, Store};

/// Export a run's items with their results: JSON lines or CSV, one line per item
///
/// Each line holds the item key (item_key), the item's source columns, and the result columns
/// result_status (ok, error, or empty when not done), result_output, result_attempts,
/// result_error, result_error_category, result_finished_at and result_duration_ms.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl export latest -o results.jsonl\n  runctl export my-run --format csv -o results.csv"
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    Jsonl,
    Csv,
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
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let run = run_view::find_run(&store, &args.run)?;
    if store.source_of_run(&run.id)?.is_none() {
        return Err(CliError::usage(format!(
            "run {} has no work items to export",
            run.name
        )));
    }
    let (sink, target): (Sink, Target) = match &args.output {
        None => (Box::new(std::io::stdout().lock()), None),
        Some(path) => open_target(&project, &store, &ctx.cwd.join(path))?,
    };
    let mut out = std::io::BufWriter::new(sink);
    let written = match args.format {
        ExportFormat::Jsonl => write_jsonl(&store, &run.id, &mut out),
        ExportFormat::Csv => write_csv(&store, &run.id, &mut out),
    }
    .and_then(|n| out.flush().map(|()| n).map_err(CliError::from));
    drop(out);
    let n = match written {
        Ok(n) => n,
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
    if let Some((tmp, path)) = target {
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(CliError::io("write", &path, e));
        }
        ctx.note(format!(
            "exported {n} items of run {} to {}",
            run.name,
            path.display()
        ));
    }
    Ok(())
}

/// Where `-o PATH` is written: into a FIFO, a device or `/dev/stdout` directly (never replaced
/// by a file); else to a temporary file renamed over the file at the end. A symlink, even one
/// to a file not made yet, is written through (its file is replaced, the symlink stays).
/// runctl's own files and every source of the project are refused, checked on the file the
/// path leads to.
fn open_target(project: &Project, store: &Store, given: &Path) -> Result<(Sink, Target)> {
    // The process's own stdout, whatever it is (a file opened for appending by `>>` included):
    // written through fd 1, never reopened or replaced.
    let shown = given.to_string_lossy();
    if ["-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"].contains(&shown.as_ref()) {
        return Ok((Box::new(std::io::stdout().lock()), None));
    }
    let meta = std::fs::metadata(given);
    if meta.as_ref().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::usage(format!("{} is a folder", given.display()))
            .hint("give a file name with -o"));
    }
    let path = match &meta {
        Ok(m) if m.is_file() => std::fs::canonicalize(given).unwrap_or_else(|_| given.into()),
        Ok(_) => given.to_path_buf(),
        Err(_) => crate::protect::follow_symlinks(given),
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(CliError::usage(format!(
            "{} is a loop of symbolic links",
            given.display()
        )));
    }
    let sources: Vec<PathBuf> = store
        .source_paths()?
        .iter()
        .map(|p| crate::store::text_to_path(p))
        .collect();
    let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
    if let Some(what) = crate::protect::protected(project, &path, &sources) {
        return Err(CliError::usage(format!(
            "refusing to export to {}: it is {what}",
            given.display()
        ))
        .hint("give another file with -o, or leave -o out to write to stdout"));
    }
    if meta.is_ok_and(|m| !m.is_file()) {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| CliError::io("open", &path, e))?;
        // What was opened must still be what was checked: a regular file swapped in since (a
        // symlink to the DB, say) is refused, never written into.
        if file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(CliError::conflict(format!(
                "{} changed while it was being opened for the export; refusing it",
                given.display()
            )));
        }
        return Ok((Box::new(WriteTo(file, path)), None));
    }
    // A private name beside it, made afresh: nothing planted there is written through.
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".export-tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let file = crate::undo::create_fresh(&tmp).map_err(|e| CliError::io("create", &tmp, e))?;
    Ok((Box::new(file), Some((tmp, path))))
}

type Sink = Box<dyn Write>;

/// A FIFO or device written into directly; its write errors name it.
struct WriteTo(std::fs::File, PathBuf);

impl Write for WriteTo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(|e| self.named(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(|e| self.named(e))
    }
}

impl WriteTo {
    fn named(&self, e: std::io::Error) -> std::io::Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return e;
        }
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", self.1.display()))
    }
}
/// The temporary file and the file it becomes, when the export is renamed into place.
type Target = Option<(PathBuf, PathBuf)>;

/// One JSON object per item: its key, its columns, its result's columns; returns the count.
fn write_jsonl(store: &Store, run_id: &str, out: &mut impl Write) -> Result<usize> {
    let mut failure: Option<CliError> = None;
    let mut n = 0usize;
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
        n += 1;
        written.map_err(|e| failure = Some(e)).is_ok()
    })?;
    failure.map_or(Ok(n), Err)
}

/// A header row, then one row per item: its key, the source's columns, its result's columns;
/// returns the count.
fn write_csv(store: &Store, run_id: &str, out: &mut impl Write) -> Result<usize> {
    let columns = store.item_columns(run_id)?;
    let mut csv = csv::Writer::from_writer(out);
    let header = std::iter::once("item_key")
        .chain(columns.iter().map(String::as_str))
        .chain(RESULT_COLUMNS);
    csv.write_record(header)
        .map_err(|e| CliError::general(format!("cannot write CSV: {e}")))?;
    let mut failure: Option<CliError> = None;
    let mut n = 0usize;
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
        n += 1;
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
