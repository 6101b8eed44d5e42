//! The end of a `runctl resume` pass: the run's final status, the summary on stderr, the
//! `--json` output (docs/json.md), and the exit code (0 completed, 1 with errors or stopped, 130
//! interrupted).

mod errors;

use std::process::ExitCode;

use serde::Serialize;

use super::{Ctx, output, run_view};
use crate::error::{CliError, Kind, Result};
use crate::state::RunStatus;
use crate::store::{RunRow, Store};
use crate::work;

/// `runctl resume --json`.
#[derive(Debug, Serialize)]
struct ResumeOutput {
    run: String,
    id: String,
    status: RunStatus,
    pass: PassOutput,
    items: Option<run_view::ItemsOutput>,
}

#[derive(Debug, Serialize)]
struct PassOutput {
    selected: u64,
    ok: u64,
    errors: u64,
    errors_by_category: std::collections::BTreeMap<String, u64>,
    /// Of the `exit` errors, how many ended with each exit code.
    exit_codes: std::collections::BTreeMap<i32, u64>,
    /// The most common error messages of the pass (at most 3).
    top_errors: Vec<TopError>,
    retried: u64,
    seconds: f64,
    items_per_second: f64,
    interrupted: bool,
}

#[derive(Debug, Serialize)]
struct TopError {
    message: String,
    count: u64,
}

pub fn nothing_to_do(
    ctx: &Ctx,
    store: &Store,
    run: &RunRow,
    retry_errors: bool,
    p: &crate::store::Progress,
    json: bool,
) -> Result<ExitCode> {
    let status = if p.n_errors > 0 {
        RunStatus::CompletedWithErrors
    } else {
        RunStatus::Completed
    };
    store.mark_run_finished(&run.id, status, None, &crate::store::now_text())?;
    if json {
        let out = ResumeOutput {
            run: run.name.clone(),
            id: run.id.clone(),
            status,
            pass: PassOutput {
                selected: 0,
                ok: 0,
                errors: 0,
                errors_by_category: Default::default(),
                exit_codes: Default::default(),
                top_errors: Vec::new(),
                retried: 0,
                seconds: 0.0,
                items_per_second: 0.0,
                interrupted: false,
            },
            items: run_view::ItemsOutput::of(store, &run.id)?,
        };
        output::print_json(&out)?;
    }
    if retry_errors {
        ctx.note(format!("run {}: no failed items to retry", run.name));
    } else if p.n_errors > 0 {
        ctx.note(format!(
            "run {}: nothing remaining; {} failed (retry {} with 'runctl resume {} --retry-errors')",
            run.name,
            crate::text::count(p.n_errors, "item"),
            if p.n_errors == 1 { "it" } else { "them" },
            run.name
        ));
    } else {
        ctx.note(format!("run {}: nothing remaining", run.name));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn finish(
    ctx: &Ctx,
    store: &Store,
    run: &RunRow,
    selected: u64,
    summary: &work::Summary,
    json: bool,
) -> Result<ExitCode> {
    let status = status_of(summary);
    // A member that lost its lease has no say in the run's status: the others set it.
    if !matches!(summary.fatal, Some(work::WorkError::LostLease { .. })) {
        store.mark_run_finished(&run.id, status, None, &crate::store::now_text())?;
    }
    let secs = summary.elapsed.as_secs_f64();
    let done = summary.ok + summary.n_errors();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    if json {
        output::print_json(&ResumeOutput {
            run: run.name.clone(),
            id: run.id.clone(),
            status,
            pass: PassOutput {
                selected,
                ok: summary.ok,
                errors: summary.n_errors(),
                errors_by_category: summary
                    .errors
                    .iter()
                    .map(|(c, n)| (c.as_str().to_string(), *n))
                    .chain(summary.named_errors.iter().map(|(c, n)| (c.clone(), *n)))
                    .collect(),
                exit_codes: summary.exits.codes.clone(),
                top_errors: summary
                    .top_errors
                    .iter()
                    .map(|(message, count)| TopError {
                        message: message.clone(),
                        count: *count,
                    })
                    .collect(),
                retried: summary.retried,
                seconds: secs,
                items_per_second: rate,
                interrupted: summary.interrupted,
            },
            items: run_view::ItemsOutput::of(store, &run.id)?,
        })?;
    }
    ctx.note(summary_text(run, status, summary, rate));
    outcome(run, summary)
}

/// The note a pass starts with: how many items (of how many the run has, when that is more:
/// the progress counts these), slots and which mode.
pub fn starting(
    ctx: &Ctx,
    run: &RunRow,
    selected: u64,
    retry_errors: bool,
    options: &work::Options,
    n_items: i64,
) {
    ctx.note(format!(
        "run {}: {selected} {} {}{}, {}, {} mode",
        run.name,
        if retry_errors { "failed" } else { "remaining" },
        if selected == 1 { "item" } else { "items" },
        if u64::try_from(n_items).is_ok_and(|n| n > selected) {
            format!(" of {n_items}")
        } else {
            String::new()
        },
        crate::text::count(options.jobs as u64, "slot"),
        match options.mode {
            work::Mode::PerItem => "per-item",
            work::Mode::Stream => "stream",
        }
    ));
}

/// The run's status after a pass.
fn status_of(summary: &work::Summary) -> RunStatus {
    let p = &summary.progress;
    let remaining = p.remaining();
    if summary.interrupted {
        RunStatus::Interrupted
    } else if summary.fatal.is_some() || remaining > 0 {
        RunStatus::Failed
    } else if p.n_errors > 0 {
        RunStatus::CompletedWithErrors
    } else {
        RunStatus::Completed
    }
}

/// The summary on stderr: this pass (time, rate, retries, errors by reason), then the run.
fn summary_text(run: &RunRow, status: RunStatus, summary: &work::Summary, rate: f64) -> String {
    use work::progress::text;
    let p = &summary.progress;
    let mut text = format!(
        "run {} {status}: {} ok, {} in {} ({}){}",
        run.name,
        summary.ok,
        crate::text::count(summary.n_errors(), "error"),
        text::took(summary.elapsed),
        text::rate(rate),
        match summary.retried {
            0 => String::new(),
            1 => ", 1 retry".to_string(),
            n => format!(", {n} retries"),
        },
    );
    let by_reason = errors::phrases(summary);
    if !by_reason.is_empty() {
        text.push_str(&format!("\n  errors: {}", by_reason.join(", ")));
    }
    text.push_str(&format!(
        "\n  all items: {} of {} ok, {}, {} remaining",
        p.n_completed,
        p.n_items,
        crate::text::count(p.n_errors, "error"),
        p.remaining().max(0),
    ));
    if !summary.top_errors.is_empty() {
        let top: Vec<String> = summary
            .top_errors
            .iter()
            .map(|(message, n)| format!("{n} x {message}"))
            .collect();
        text.push_str(&format!("\n  most common errors: {}", top.join("; ")));
    }
    if summary.interrupted {
        text.push_str(&format!(
            "\n  go on where it stopped with 'runctl resume {}'",
            run.name
        ));
    }
    text
}

/// The exit of a pass: a stop's cause, 130 after an interrupt, 1 with the failed items named
/// and how to retry them, else success.
fn outcome(run: &RunRow, summary: &work::Summary) -> Result<ExitCode> {
    if let Some(fatal @ work::WorkError::LostLease { .. }) = &summary.fatal {
        return Err(
            CliError::conflict(format!("run {} stopped: {fatal}", run.name)).hint(format!(
                "this process was stopped, suspended or cut off from the database for longer than the lease (--lease); 'runctl resume {}' joins the run again",
                run.name
            )),
        );
    }
    if let Some(fatal) = &summary.fatal {
        return Err(
            CliError::general(format!("run {} stopped: {fatal}", run.name)).hint(format!(
                "fix the worker, then 'runctl resume {}' goes on where it stopped",
                run.name
            )),
        );
    }
    if summary.interrupted {
        return Ok(ExitCode::from(Kind::Interrupted.exit_code()));
    }
    let p = &summary.progress;
    if p.n_errors > 0 {
        return Err(CliError::general(format!(
            "{} of {} items of run {} failed",
            p.n_errors, p.n_items, run.name
        ))
        .hint(format!(
            "'runctl items {} --errors' lists them; 'runctl resume {} --retry-errors' retries them",
            run.name, run.name
        )));
    }
    Ok(ExitCode::SUCCESS)
}
