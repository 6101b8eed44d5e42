//! `runctl version sync`: a bucket listing in, duplicate-free updates out (the plan is
//! `versions::plan_sync`, applied by the store in one transaction).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::version::open;
use super::version_listing::{Listing, Skipped, read_listing};
use super::{Ctx, output};
use crate::error::Result;
use crate::versions::{self, SyncAction, printable};

/// Match a bucket listing to the versions: give waiting versions their artifacts, no duplicates
///
/// The listing has one object key or URL per line, or JSON lines {"key"|"url", "etag", "size",
/// "last_modified"}. For each file that fits versions.artifact_template: first a version of that
/// name that is pending, failed or without URL gets it; else a version already synced to it (by
/// URL, file name, then id) is left alone; only when nothing matched is a completed version
/// created. Files that do not fit are reported and skipped. Running it twice changes nothing.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  runctl version sync --listing keys.txt --dry-run
  aws s3 ls s3://loras/ | awk '{print $4}' | runctl version sync --listing -
  runctl s3sync --bucket loras     # the S3 plugin feeds this command")]
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

/// `runctl version sync --json`.
#[derive(Debug, Serialize)]
struct SyncOutput {
    dry_run: bool,
    updated: Vec<Change>,
    created: Vec<Change>,
    in_sync: usize,
    skipped: Vec<Skipped>,
}

pub fn sync(ctx: &Ctx, args: SyncArgs) -> Result<()> {
    let (template, mut store) = open(ctx, true)?;
    let Listing {
        entries,
        unreadable,
    } = read_listing(ctx, &args.listing)?;
    let plan = versions::plan_sync(
        &template,
        store.version_views()?,
        entries,
        args.family.as_deref(),
    );
    if !args.dry_run {
        store.apply_sync(&plan, versions::version_number)?;
    }
    let mut out = SyncOutput {
        dry_run: args.dry_run,
        updated: Vec::new(),
        created: Vec::new(),
        in_sync: 0,
        skipped: Vec::new(),
    };
    out.skipped.extend(unreadable);
    for action in plan {
        match action {
            SyncAction::Update {
                family,
                name,
                entry,
                rule,
            } => out.updated.push(Change {
                family,
                name,
                url: entry.location().to_string(),
                rule,
            }),
            SyncAction::Create {
                family,
                name,
                entry,
            } => out.created.push(Change {
                family,
                name,
                url: entry.location().to_string(),
                rule: "no match",
            }),
            SyncAction::InSync { .. } => out.in_sync += 1,
            SyncAction::Skip { location, reason } => out.skipped.push(Skipped { location, reason }),
        }
    }
    if args.json {
        return output::print_json(&out);
    }
    output::print(&render_sync(&out))
}

fn render_sync(out: &SyncOutput) -> String {
    let (update, create) = if out.dry_run {
        ("would update", "would create")
    } else {
        ("updated", "created")
    };
    let mut text = String::new();
    // Keys come from outside; what an older runctl stored may hold control characters.
    let p = |s: &str| printable(s).into_owned();
    for c in &out.updated {
        text.push_str(&format!(
            "{update} {} {} <- {} ({})\n",
            p(&c.family),
            p(&c.name),
            p(&c.url),
            c.rule
        ));
    }
    for c in &out.created {
        text.push_str(&format!(
            "{create} {} {} <- {} (no version matched)\n",
            p(&c.family),
            p(&c.name),
            p(&c.url)
        ));
    }
    for s in &out.skipped {
        text.push_str(&format!("skipped {}: {}\n", p(&s.location), p(&s.reason)));
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
