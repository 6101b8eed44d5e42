//! `runctl version sync`: a bucket listing in, duplicate-free updates out (the plan is
//! `versions::plan_sync`, applied by the store in one transaction).

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::version::{open_project, url_base};
use super::version_listing::{Listing, Skipped, read_listing};
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::versions::{self, SyncAction, SyncOptions, SyncPlan, printable};

/// Match a bucket listing to the versions: give waiting versions their artifacts, no duplicates
///
/// The listing has one object key or URL per line, or JSON lines {"key"|"url", "etag", "size",
/// "last_modified"}. For each file that fits versions.artifact_template: first a version of that
/// name that is pending, failed or without URL gets it; else a version already synced to it (by
/// URL, file name, then id) is left alone; only when nothing matched is a completed version
/// created. Files that do not fit are reported and skipped. Running it twice changes nothing.
/// An empty listing is refused unless --allow-empty.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl version sync --listing keys.txt --dry-run
  aws s3 ls s3://loras/ | awk '{print $4}' | runctl version sync --listing -
  runctl s3sync --bucket loras     # the S3 plugin feeds this command

A bare key (no scheme://) never replaces a URL that ends with it; with versions.url_base
(e.g. \"s3://loras/\") in runctl.toml, bare keys become URLs under that base.")]
pub struct SyncArgs {
    /// The listing file, or - for stdin
    #[arg(long, value_name = "FILE|-")]
    listing: PathBuf,
    /// Only files of this family
    #[arg(long, value_name = "F")]
    family: Option<String>,
    /// Show the plan; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Accept a listing with no keys (an empty bucket) instead of refusing it
    #[arg(long)]
    allow_empty: bool,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Change {
    family: String,
    name: String,
    url: String,
    rule: &'static str,
}

/// An artifact file name listed at more than one place.
#[derive(Debug, Serialize)]
struct Ambiguous {
    file: String,
    chosen: String,
    others: Vec<String>,
}

/// `runctl version sync --json`.
#[derive(Debug, Serialize)]
struct SyncOutput {
    dry_run: bool,
    updated: Vec<Change>,
    created: Vec<Change>,
    in_sync: usize,
    skipped: Vec<Skipped>,
    ambiguous: Vec<Ambiguous>,
}

pub fn sync(ctx: &Ctx, args: SyncArgs) -> Result<()> {
    // A dry run only reads: it works where writing is refused (a read-only or network folder).
    let (project, template, mut store) = open_project(ctx, !args.dry_run)?;
    let url_base = url_base(&project)?;
    let Listing {
        entries,
        unreadable,
        any_line,
    } = read_listing(ctx, &args.listing)?;
    if !any_line && !args.allow_empty {
        // `aws s3 ls ... | runctl version sync --listing -` feeds nothing when `aws` fails
        // (no credentials, a typo in the bucket): "nothing to change" would hide that.
        return Err(
            CliError::general("the listing is empty: there is nothing to sync")
                .hint("if a command wrote the listing (`aws s3 ls ...`), check that it succeeded")
                .hint("pass --allow-empty when an empty bucket is expected"),
        );
    }
    let plan = versions::plan_sync(
        &template,
        store.version_views()?,
        entries,
        SyncOptions {
            family: args.family.as_deref(),
            url_base: url_base.as_deref(),
        },
    );
    if !args.dry_run {
        store.apply_sync(&plan.actions, versions::version_number)?;
    }
    for a in &plan.ambiguous {
        ctx.warn(ambiguity_warning(a));
    }
    let out = outcome(plan, unreadable, args.dry_run);
    if args.json {
        return output::print_json(&out);
    }
    output::print(&render_sync(&out))
}

/// The plan as the command reports it.
fn outcome(plan: SyncPlan, unreadable: Vec<Skipped>, dry_run: bool) -> SyncOutput {
    let mut out = SyncOutput {
        dry_run,
        updated: Vec::new(),
        created: Vec::new(),
        in_sync: 0,
        skipped: Vec::new(),
        ambiguous: Vec::new(),
    };
    out.skipped.extend(unreadable);
    for action in plan.actions {
        match action {
            SyncAction::Update {
                family,
                name,
                url,
                rule,
                ..
            } => out.updated.push(Change {
                family,
                name,
                url,
                rule,
            }),
            SyncAction::Create {
                family, name, url, ..
            } => out.created.push(Change {
                family,
                name,
                url,
                rule: "no match",
            }),
            SyncAction::InSync { .. } => out.in_sync += 1,
            SyncAction::Skip { location, reason } => out.skipped.push(Skipped { location, reason }),
        }
    }
    out.ambiguous = plan
        .ambiguous
        .into_iter()
        .map(|a| Ambiguous {
            file: a.file,
            chosen: a.chosen,
            others: a.others,
        })
        .collect();
    out
}

/// The once-per-file warning about a file name listed at several places; it names at most
/// three of the places skipped (`--json` has them all).
fn ambiguity_warning(a: &versions::Ambiguity) -> String {
    const NAMED: usize = 3;
    let mut skipped: Vec<String> = a
        .others
        .iter()
        .take(NAMED)
        .map(|o| printable(o).into_owned())
        .collect();
    if a.others.len() > NAMED {
        skipped.push(format!("{} more", a.others.len() - NAMED));
    }
    format!(
        "{} is listed at {} places; sync uses {} and skips {}",
        printable(&a.file),
        a.others.len() + 1,
        printable(&a.chosen),
        skipped.join(", ")
    )
}

fn render_sync(out: &SyncOutput) -> String {
    let (update, create) = if out.dry_run {
        ("would update", "would create")
    } else {
        ("updated", "created")
    };
    // One line per change, written in place (a first sync of a bucket has 100,000 of them).
    let mut text = String::with_capacity(64 * (out.updated.len() + out.created.len() + 1));
    // Keys come from outside; what an older runctl stored may hold control characters.
    let p = printable;
    for c in &out.updated {
        let (f, n, u) = (p(&c.family), p(&c.name), p(&c.url));
        let _ = writeln!(text, "{update} {f} {n} <- {u} ({})", c.rule);
    }
    for c in &out.created {
        let (f, n, u) = (p(&c.family), p(&c.name), p(&c.url));
        let _ = writeln!(text, "{create} {f} {n} <- {u} (no version matched)");
    }
    for s in &out.skipped {
        let _ = writeln!(text, "skipped {}: {}", p(&s.location), p(&s.reason));
    }
    if out.updated.is_empty() && out.created.is_empty() {
        text.push_str(&format!(
            "nothing to change: {} already in sync, {} skipped\n",
            out.in_sync,
            out.skipped.len()
        ));
    } else {
        text.push_str(&format!(
            "{update} {}, already in sync {}, {create} {}, skipped {}\n",
            out.updated.len(),
            out.in_sync,
            out.created.len(),
            out.skipped.len()
        ));
    }
    text
}
