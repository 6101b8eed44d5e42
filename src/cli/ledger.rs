//! Work items and results: `runctl items` and `runctl record`, the API for loops that a user's
//! own program drives (docs/resume.md). `new --source` is in `source_args.rs`.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::run_view;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::project::Project;
use crate::state::{ErrorCategory, Stored};
use crate::store::{Access, Keys, Prior, Progress, RecordError, ResultIn, Selection, Store};
use crate::text::count;

/// Print a run's items as JSON lines: remaining (default), errors, or all
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl items latest | python worker.py | runctl record latest\n  runctl items my-run --errors --json"
)]
pub struct ItemsArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// Items with no result yet (the default)
    #[arg(long, group = "which")]
    remaining: bool,
    /// Items whose result is an error [env: RETRY_ERRORS_ONLY=1]
    #[arg(long, group = "which")]
    errors: bool,
    /// Every item
    #[arg(long, group = "which")]
    all: bool,
    /// JSON lines {"key", "data", "location"} (the default output; kept for symmetry)
    #[arg(long)]
    json: bool,
}

/// Record results as JSON lines {"key": .., "ok": ..} or {"key": .., "error": ..}
///
/// One result per item: recording an item again replaces its result and counts an attempt.
/// Results are committed every 1,000 lines and at the end; a bad line stops the command after
/// committing the lines before it. Holds the run's lock while it runs.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl record latest --from results.jsonl\n  python worker.py | runctl record my-run\n  runctl record my-run --from results.jsonl --json | jq .items.remaining"
)]
pub struct RecordArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// Read results from FILE instead of stdin
    #[arg(long, value_name = "FILE|-")]
    from: Option<PathBuf>,
    /// Print what was recorded as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl record --json`: what this call recorded, and the run's items after it.
#[derive(Debug, Serialize)]
struct RecordOutput {
    run: String,
    id: String,
    /// Results recorded by this call (an item recorded twice counts twice).
    recorded: usize,
    ok: usize,
    errors: usize,
    items: Option<run_view::ItemsOutput>,
}

fn open_run(
    ctx: &Ctx,
    reference: &str,
    access: Access,
) -> Result<(Project, Store, crate::store::RunRow)> {
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, access)?;
    let run = run_view::find_run(&store, reference)?;
    if store.source_of_run(&run.id)?.is_none() {
        return Err(
            CliError::usage(format!("run {} has no work items", run.name))
                .hint("make one with 'runctl new --source FILE --key COLUMN'"),
        );
    }
    Ok((project, store, run))
}

pub fn items(ctx: &Ctx, args: ItemsArgs) -> Result<()> {
    let (_, store, run) = open_run(ctx, &args.run, Access::Read)?;
    let retry = std::env::var("RETRY_ERRORS_ONLY").is_ok_and(|v| v == "1");
    let selection = if args.all {
        Selection::All
    } else if args.errors || (retry && !args.remaining) {
        Selection::Errors
    } else {
        Selection::Remaining
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failure: Option<std::io::Error> = None;
    store.for_each_item(&run.id, selection, |item| {
        let failed = (selection == Selection::Errors).then(|| crate::work::protocol::Failure {
            attempts: item.attempts,
            error: item.last_error.as_deref(),
            category: item.category.as_ref().map(|c| c.as_str()),
        });
        let line = crate::work::protocol::item_line_with(
            &item.key,
            &item.data,
            &item.location,
            None,
            failed,
        );
        match out.write_all(line.as_bytes()) {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    out.flush()?;
    Ok(())
}

/// One line of `record` input.
fn parse_result(line: &str) -> std::result::Result<ResultIn, String> {
    let parsed = crate::work::protocol::parse_result_line(line)?;
    let (ok, payload) = match parsed.outcome {
        Ok(output) => (true, output),
        Err(message) => (false, message),
    };
    Ok(ResultIn {
        key: parsed.key,
        ok,
        payload,
        category: match parsed.category {
            Some(given) => Some(Stored::parse(&given)),
            None => (!ok).then_some(ErrorCategory::Exit.into()),
        },
        duration_ms: parsed.duration_ms,
        worker: parsed.worker,
        attempts: 1,
        first_error: None,
        started_at: None,
        finished_at: None,
        prior: Prior::Unknown,
    })
}

const RECORD_BATCH: usize = 1_000;
/// The longest result line `record` reads: a worker's output of up to 64 MiB, JSON-escaped.
const RECORD_LINE_MAX: u64 = 128 << 20;

/// The results read but not yet committed, with their line numbers.
struct Batch {
    results: Vec<ResultIn>,
    lines: Vec<usize>,
    recorded: usize,
    /// Of `recorded`, the ok results.
    recorded_ok: usize,
}

impl Batch {
    /// Commit the batch. A key that is not an item of the run: the lines before it are
    /// committed, and the error names its line and how many results were recorded.
    fn flush(&mut self, store: &mut Store, run: &crate::store::RunRow) -> Result<()> {
        if self.results.is_empty() {
            return Ok(());
        }
        let mut upto = |n: usize| {
            unknown_item(store.record_results(&run.id, Keys::Unchecked, &self.results[..n], None))
        };
        let Some(key) = upto(self.results.len())? else {
            self.recorded += self.results.len();
            self.recorded_ok += self.results.iter().filter(|r| r.ok).count();
            self.results.clear();
            self.lines.clear();
            return Ok(());
        };
        let at = self.results.iter().position(|r| r.key == key).unwrap_or(0);
        let line = self.lines.get(at).copied().unwrap_or(0);
        if at > 0 && upto(at)?.is_none() {
            self.recorded += at;
            self.recorded_ok += self.results[..at].iter().filter(|r| r.ok).count();
        }
        store.refresh_progress(&run.id)?;
        Err(CliError::not_found(format!(
            "line {line}: '{key}' is not an item of run {}",
            run.name
        ))
        .hint(format!(
            "{}; 'runctl items {} --all' lists the keys",
            recorded_before(self.recorded),
            run.name
        )))
    }

    /// Stop at a bad line: commit the results before it, and fail with `message`.
    fn stop(
        &mut self,
        store: &mut Store,
        run: &crate::store::RunRow,
        message: String,
    ) -> Result<()> {
        self.flush(store, run)?;
        store.refresh_progress(&run.id)?;
        Err(CliError::general(message).hint(recorded_before(self.recorded)))
    }
}

/// The key a batch was refused for, if it was refused; a store failure is an error.
fn unknown_item(recorded: std::result::Result<Progress, RecordError>) -> Result<Option<String>> {
    match recorded {
        Ok(_) => Ok(None),
        Err(RecordError::UnknownItem { key }) => Ok(Some(key)),
        Err(RecordError::Store(e)) => Err(e.into()),
    }
}

/// Where `record` reads its results: FILE, or stdin (none given or `-`).
fn input(ctx: &Ctx, from: Option<&PathBuf>) -> Result<Box<dyn BufRead>> {
    Ok(match from {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(std::io::stdin().lock()),
        Some(p) if ctx.cwd.join(p).is_dir() => {
            return Err(CliError::usage(format!(
                "{} is a folder; --from takes a file of result lines",
                ctx.cwd.join(p).display()
            )));
        }
        Some(p) => ctx.open_input(p, "")?,
    })
}

/// Line `number` of `record`'s input as a result; `None` for a blank line. One rule for bytes
/// that are not UTF-8, here and from a stream worker: bad output. A byte-order mark some editors
/// put first is not part of the line.
fn parse_line(number: usize, line: &[u8]) -> Option<std::result::Result<ResultIn, String>> {
    let bytes = match (number, line.strip_prefix(b"\xEF\xBB\xBF")) {
        (1, Some(rest)) => rest,
        _ => line,
    };
    match std::str::from_utf8(bytes) {
        Ok(text) if text.trim().is_empty() => None,
        Ok(text) => Some(parse_result(text.trim())),
        Err(e) => Some(Err(format!(
            "not valid UTF-8 (at byte {}); results are JSON lines",
            e.valid_up_to()
        ))),
    }
}

pub fn record(ctx: &Ctx, args: RecordArgs) -> Result<()> {
    let (project, mut store, run) = open_run(ctx, &args.run, Access::Write)?;
    let mut lock = crate::lock::lock_run(&project.state_dir().join("locks"), &run.id, &run.name)?;
    // On PostgreSQL the lock holds on this host only: members elsewhere are asked too.
    if let Some(host) = store.worked_from(&run.id)? {
        return Err(crate::lock::held_by_member(&run.name, &host).into());
    }
    let mut reader = input(ctx, args.from.as_ref())?;
    let mut batch = Batch {
        results: Vec::with_capacity(RECORD_BATCH),
        lines: Vec::with_capacity(RECORD_BATCH),
        recorded: 0,
        recorded_ok: 0,
    };
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        // A line is read up to just past the limit, never whole, however long it is.
        let n = (&mut reader)
            .take(RECORD_LINE_MAX + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| CliError::general("cannot read the results").cause(e))?;
        if n == 0 {
            break;
        }
        if line.len() as u64 > RECORD_LINE_MAX {
            let message = format!(
                "line {number}: longer than {} MiB, the most runctl takes for one result",
                RECORD_LINE_MAX >> 20
            );
            return batch.stop(&mut store, &run, message);
        }
        match parse_line(number, &line) {
            None => continue,
            Some(Ok(result)) => {
                batch.results.push(result);
                batch.lines.push(number);
            }
            Some(Err(reason)) => {
                return batch.stop(&mut store, &run, format!("line {number}: {reason}"));
            }
        }
        if batch.results.len() >= RECORD_BATCH {
            lock.keep()?; // a lock file removed meanwhile is taken again, as a pass does

            batch.flush(&mut store, &run)?;
        }
    }
    lock.keep()?;
    batch.flush(&mut store, &run)?;
    report(ctx, &mut store, &run, &batch, args.json)
}

/// What a finished `record` recorded: JSON on stdout with `--json`, else a note on stderr.
fn report(
    ctx: &Ctx,
    store: &mut Store,
    run: &crate::store::RunRow,
    batch: &Batch,
    json: bool,
) -> Result<()> {
    let recorded = batch.recorded;
    let p = store.refresh_progress(&run.id)?;
    if json {
        return output::print_json(&RecordOutput {
            run: run.name.clone(),
            id: run.id.clone(),
            recorded,
            ok: batch.recorded_ok,
            errors: recorded - batch.recorded_ok,
            items: run_view::ItemsOutput::of(store, &run.id)?,
        });
    }
    ctx.note(format!(
        "recorded {}; run {}: {} of {} done, {}",
        count(recorded as u64, "result"),
        run.name,
        p.n_completed,
        p.n_items,
        count(p.n_errors, "error")
    ));
    Ok(())
}

/// What a stopped `record` kept: "the 3 results before it were recorded", "the 1 result
/// before it was recorded", "no result before it was recorded".
fn recorded_before(n: usize) -> String {
    match n {
        0 => "no result before it was recorded".into(),
        1 => "the 1 result before it was recorded".into(),
        n => format!("the {n} results before it were recorded"),
    }
}
