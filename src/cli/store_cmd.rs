//! `runctl store copy`: copy the project's state into another, empty store (a PostgreSQL
//! database to share the project across hosts, or a new SQLite file to take it back).

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{Ctx, output};
use crate::error::Result;
use crate::store::{Access, Copied, Location, Store};

/// Work with the project's store (the database behind every command)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl store copy --to postgres://runctl@db.lab:5432/runctl\n  runctl store copy --to sqlite:state-copy.db"
)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    Copy(CopyArgs),
}

/// Copy the project's state into an empty store: PostgreSQL to share it, SQLite to take it back
///
/// Copies every run, source, item, result, hash, link, version, tag, note and member from one
/// consistent snapshot of the project's store, in one transaction of the target: a copy that
/// fails leaves the target empty. The target is a PostgreSQL database with no runctl state
/// (a new one is given runctl's tables) or a SQLite file that does not exist yet. The run
/// folders (outputs/, logs/) stay where they are. Refused while a process works one of the
/// runs (exit 3).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl store copy --to postgres://runctl@db.lab:5432/runctl      # then: export RUNCTL_DATABASE_URL=...\n  RUNCTL_DATABASE_URL=postgres://runctl@db.lab/runctl runctl store copy --to sqlite:back.db\n  runctl store copy --to sqlite:/backups/proj-state.db --json"
)]
pub struct CopyArgs {
    /// Where to: postgres://USER@HOST:PORT/DB (an empty database) or sqlite:PATH (a new file;
    /// PATH relative to the working directory)
    #[arg(long, value_name = "STORE")]
    to: String,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl store copy --json`.
#[derive(Debug, Serialize)]
struct CopyOutput {
    from: StoreRef,
    to: StoreRef,
    runs: u64,
    sources: u64,
    items: u64,
    results: u64,
    hashes: u64,
    links: u64,
    versions: u64,
    /// Every table copied, in order, with its rows.
    tables: Vec<TableRows>,
    total_rows: u64,
}

#[derive(Debug, Serialize)]
struct StoreRef {
    /// `sqlite` or `postgres`.
    store: &'static str,
    /// The DB file, or the URL without its password.
    db: String,
}

#[derive(Debug, Serialize)]
struct TableRows {
    table: &'static str,
    rows: u64,
}

pub fn run(ctx: &Ctx, args: StoreArgs) -> Result<()> {
    let StoreCommand::Copy(args) = args.command;
    let to = crate::store::parse_store(&args.to, "--to", &ctx.cwd)?;
    let project = ctx.require_project()?;
    let source: Store = ctx.open_store(&project, Access::Read)?;
    let locks = project.state_dir().join("locks");
    let copied = crate::state_copy::copy_state(&source, &locks, &to)?;
    let out = output_of(&source, &to, &copied);
    if args.json {
        return output::print_json(&out);
    }
    use crate::text::count;
    output::print(&format!(
        "copied {} into {} ({}): {}, {}, {}, {}, {}, {}, {}\n",
        crate::text::printable(&out.from.db),
        crate::text::printable(&out.to.db),
        count(out.total_rows, "row"),
        count(out.runs, "run"),
        count(out.sources, "source"),
        count(out.items, "item"),
        count(out.results, "result"),
        match out.hashes {
            1 => "1 hash".to_string(),
            n => format!("{n} hashes"),
        },
        count(out.links, "link"),
        count(out.versions, "version"),
    ))?;
    ctx.note(match &to {
        Location::Postgres(url) => format!(
            "to use it: export {}='{}' (a password in ~/.pgpass or PGPASSWORD), or set store.url in runctl.toml; the run folders stay where they are",
            crate::store::DATABASE_URL_ENV,
            url.without_password()
        ),
        Location::Sqlite(path) => format!(
            "to use it: put it at a project's .runctl/state.db (with {} and store.url unset): {}",
            crate::store::DATABASE_URL_ENV,
            crate::text::printable(&path.to_string_lossy())
        ),
    });
    Ok(())
}

fn output_of(source: &Store, to: &Location, copied: &Copied) -> CopyOutput {
    CopyOutput {
        from: StoreRef {
            store: source.kind(),
            db: source.path().display().to_string(),
        },
        to: StoreRef {
            store: to.kind(),
            db: to.shown(),
        },
        runs: copied.of("runs"),
        sources: copied.of("sources"),
        items: copied.of("items"),
        results: copied.of("results"),
        hashes: copied.of("hashes"),
        links: copied.of("links"),
        versions: copied.of("versions"),
        tables: copied
            .rows
            .iter()
            .map(|&(table, rows)| TableRows { table, rows })
            .collect(),
        total_rows: copied.rows.iter().map(|(_, n)| n).sum(),
    }
}
