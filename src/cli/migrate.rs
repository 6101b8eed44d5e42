//! `runctl migrate`: list and apply the schema migrations of `.runctl/state.db`.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{Ctx, output, prompt};
use crate::error::{CliError, Result};
use crate::store::{Access, Location, MigrationInfo, Store};

/// Apply pending schema migrations of .runctl/state.db (a backup is written just before)
///
/// Without --yes, asks on a terminal; without a terminal, refuses with a hint. All pending
/// migrations run in one transaction: on failure the database is unchanged.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl migrate --dry-run\n  runctl migrate --yes\n  runctl migrate --dry-run --json\n  runctl migrate runs --dry-run     # legacy run folders -> canonical names",
    args_conflicts_with_subcommands = true
)]
pub struct MigrateArgs {
    #[command(subcommand)]
    command: Option<MigrateCommand>,
    /// List what would be applied; change nothing
    #[arg(long)]
    dry_run: bool,
    /// Apply without asking
    #[arg(short, long)]
    yes: bool,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum MigrateCommand {
    Runs(super::migrate_runs::RunsArgs),
}

/// `runctl migrate --json`.
#[derive(Debug, Serialize)]
struct MigrateOutput {
    /// The DB file, or the PostgreSQL URL without its password.
    db: PathBuf,
    /// `sqlite` or `postgres`.
    store: &'static str,
    from_version: i64,
    to_version: i64,
    latest: i64,
    pending: Vec<MigrationInfo>,
    applied: Vec<MigrationInfo>,
    backup: Option<PathBuf>,
    dry_run: bool,
}

pub fn run(ctx: &Ctx, args: MigrateArgs) -> Result<()> {
    if let Some(MigrateCommand::Runs(runs)) = args.command {
        return super::migrate_runs::run(ctx, runs);
    }
    let project = ctx.require_project()?;
    let access = if args.dry_run {
        Access::Read
    } else {
        Access::Write
    };
    let location = super::ctx::store_location(&project)?;
    if let (Location::Sqlite(db), Access::Write) = (&location, access) {
        super::ctx::refuse_network_fs(&project)?;
        // Only for a DB still to be made: a migration declined changes nothing, not even
        // .runctl/'s .gitignore.
        if !db.exists() {
            project.ensure_state_dir()?;
        }
    }
    let mut store = Store::open_at(&location, access)?;
    let status = store.schema_status().clone();
    let mut out = MigrateOutput {
        db: store.path().to_path_buf(),
        store: store.kind(),
        from_version: status.current,
        to_version: status.current,
        latest: status.latest,
        pending: status.pending.clone(),
        applied: Vec::new(),
        backup: None,
        dry_run: args.dry_run,
    };
    if !status.pending.is_empty() && !args.dry_run {
        let question = format!(
            "Apply {} migration(s) to {} (schema version {} -> {})?",
            status.pending.len(),
            out.db.display(),
            status.current,
            status.latest
        );
        if !args.yes && !prompt::confirm(&question, "run 'runctl migrate --yes'")? {
            return Err(CliError::general(
                "migration declined; the database is unchanged",
            ));
        }
        let (backup, applied) = super::migrate_with_backup(ctx, &mut store)?;
        out.backup = backup;
        out.applied = applied;
        out.to_version = store.schema_status().current;
    }
    if args.json {
        return output::print_json(&out);
    }
    output::print(&render(&out))
}

/// The text of `runctl migrate`: up to date, what would be applied, or what was.
fn render(out: &MigrateOutput) -> String {
    let mut text = String::new();
    if out.pending.is_empty() {
        text.push_str(&format!(
            "{} is up to date (schema version {})\n",
            out.db.display(),
            out.from_version
        ));
    } else if out.dry_run {
        text.push_str(&format!(
            "{} is at schema version {}; would apply:\n",
            out.db.display(),
            out.from_version
        ));
        for m in &out.pending {
            text.push_str(&format!("  V{} {}\n", m.version, m.name));
        }
    } else {
        for m in &out.applied {
            text.push_str(&format!("applied V{} {}\n", m.version, m.name));
        }
        text.push_str(&format!(
            "{} is now at schema version {}\n",
            out.db.display(),
            out.to_version
        ));
    }
    text
}
