//! `runctl version sync`: a bucket listing in, duplicate-free updates out (the plan is
//! `versions::plan_sync`, applied by the store in one transaction).

use std::io::BufRead;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::version::open;
use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::versions::{self, SyncAction};

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

#[derive(Debug, Serialize)]
struct Skipped {
    location: String,
    reason: String,
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

fn read_listing(ctx: &Ctx, path: &PathBuf) -> Result<(Vec<versions::ListingEntry>, Vec<Skipped>)> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let path = ctx.cwd.join(path);
        let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                CliError::not_found(format!("listing {} does not exist", path.display()))
            }
            _ => CliError::io("open", &path, e),
        })?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line = line.map_err(|e| CliError::general("cannot read the listing").cause(e))?;
        let Ok(line) = std::str::from_utf8(&line) else {
            skipped.push(Skipped {
                location: format!("line {}", i + 1),
                reason: "not valid UTF-8".into(),
            });
            continue;
        };
        match versions::parse_listing_line(line) {
            Ok(Some(entry)) => entries.push(entry),
            Ok(None) => {}
            Err(reason) => skipped.push(Skipped {
                location: format!("line {}", i + 1),
                reason,
            }),
        }
    }
    Ok((entries, skipped))
}

pub fn sync(ctx: &Ctx, args: SyncArgs) -> Result<()> {
    let (template, mut store) = open(ctx, true)?;
    let (listing, mut skipped) = read_listing(ctx, &args.listing)?;
    let plan = versions::plan_sync(
        &template,
        store.version_views()?,
        listing,
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
    out.skipped.append(&mut skipped);
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
    for c in &out.updated {
        text.push_str(&format!(
            "{update} {} {} <- {} ({})\n",
            c.family, c.name, c.url, c.rule
        ));
    }
    for c in &out.created {
        text.push_str(&format!(
            "{create} {} {} <- {} (no version matched)\n",
            c.family, c.name, c.url
        ));
    }
    for s in &out.skipped {
        text.push_str(&format!("skipped {}: {}\n", s.location, s.reason));
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
