//! `runctl init`: make a folder a runctl project.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::{Ctx, output};
use crate::error::{CliError, Result};
use crate::project::{
    DB_FILE, Project, SETTINGS_FILE, SETTINGS_TEMPLATE, STATE_DIR, StoreSettings,
};
use crate::store::{Access, Location, Store};

/// Create runctl.toml and .runctl/ here (or in --root DIR)
///
/// runctl.toml holds every setting at its default, commented; commit it. .runctl/ holds the
/// state (state.db, locks) and a .gitignore so that it is never committed. Running init again
/// changes nothing and says so.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl init\n  runctl init --example demo && cd demo   # the files the README's tour uses\n  runctl --root ~/projects/llm-eval init --json"
)]
pub struct InitArgs {
    /// The project folder [default: --root, else the working directory]; made if missing
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also write the example files of the README's tour (train.yaml, train.py, cases.csv,
    /// worker.py, stream_worker.py, a plugin, a long-named model folder); files there are kept
    #[arg(long)]
    example: bool,
    /// Print the result as JSON (docs/json.md)
    #[arg(long)]
    json: bool,
}

/// `runctl init --json`.
#[derive(Debug, Serialize)]
struct InitOutput {
    root: PathBuf,
    /// Where the state is.
    store: StoreOutput,
    created: Vec<String>,
    already_initialized: bool,
}

/// Write runctl.toml (unless it is there) and make the state.
fn make_project(
    ctx: &Ctx,
    root: &std::path::Path,
    location: &Location,
    created: &mut Vec<String>,
) -> Result<()> {
    let settings = root.join(SETTINGS_FILE);
    if !settings.exists() {
        std::fs::write(&settings, SETTINGS_TEMPLATE)
            .map_err(|e| CliError::io("write", &settings, e))?;
        created.push(SETTINGS_FILE.to_string());
    }
    let project = Project::load(root)?;
    for warning in &project.warnings {
        ctx.warn(warning);
    }
    make_state(&project, location, created)
}

/// Remove what a failed init made: `.runctl/` and runctl.toml when it made them, and the
/// folders it made for the project (from `made_from` down), each if it is empty again.
fn undo(root: &std::path::Path, made_from: Option<&std::path::Path>, created: &[String]) {
    if created.iter().any(|c| c == ".runctl/") {
        let _ = std::fs::remove_dir_all(root.join(STATE_DIR));
    }
    if created.iter().any(|c| c == SETTINGS_FILE) {
        let _ = std::fs::remove_file(root.join(SETTINGS_FILE));
    }
    if let Some(outermost) = made_from {
        for dir in root.ancestors() {
            let _ = std::fs::remove_dir(dir);
            if dir == outermost {
                break;
            }
        }
    }
}

/// Make the state where `location` says, unless it is there: `.runctl/` and its `state.db`,
/// or runctl's tables in an empty PostgreSQL database (migrated as it is opened for writing).
fn make_state(project: &Project, location: &Location, created: &mut Vec<String>) -> Result<()> {
    match location {
        Location::Sqlite(db) => {
            if project.ensure_state_dir()? {
                created.push(".runctl/".to_string());
            }
            if !db.exists() {
                Store::open(db, Access::Write)?;
                created.push(".runctl/state.db".to_string());
            }
        }
        Location::Postgres(_) => {
            // One connection: read where the schema stands, and migrate an empty database.
            let mut store = Store::open_at(location, Access::Read)?;
            if store.schema_status().fresh {
                store.migrate()?;
                created.push(format!(
                    "runctl's tables in {} (schema version {})",
                    location.shown(),
                    store.schema_status().current
                ));
            }
        }
    }
    Ok(())
}

/// Which store a project uses: `sqlite` with the DB file, or `postgres` with the URL without
/// its password.
#[derive(Debug, Serialize)]
struct StoreOutput {
    kind: &'static str,
    location: String,
}

pub fn run(ctx: &Ctx, args: InitArgs) -> Result<()> {
    let root = match (&args.dir, &ctx.global.root) {
        (Some(dir), _) => ctx.cwd.join(dir),
        (None, Some(root)) => ctx.cwd.join(root),
        (None, None) => ctx.cwd.clone(),
    };
    let settings = root.join(SETTINGS_FILE);
    // Before anything is made: where the state goes (an existing runctl.toml may say), and a
    // state.db that would be on a network filesystem refused unless that file allows it.
    let store_settings = match settings.exists() {
        true => Project::load(&root)?.settings.store,
        false => StoreSettings::default(),
    };
    let location = super::ctx::location_of(&store_settings, root.join(STATE_DIR).join(DB_FILE))?;
    if let (Location::Sqlite(db), false) = (&location, store_settings.allow_network_fs) {
        crate::store::refuse_network_fs(db)?;
    }
    // The outermost folder this init makes, if it makes any (removed again if it fails).
    let made_from = root
        .ancestors()
        .take_while(|dir| !dir.exists())
        .last()
        .map(std::path::Path::to_path_buf);
    std::fs::create_dir_all(&root).map_err(|e| CliError::io("create", &root, e))?;
    let mut created = Vec::new();
    let made = make_project(ctx, &root, &location, &mut created);
    if let Err(e) = made {
        // Nothing of a failed init stays: what it made is removed again.
        undo(&root, made_from.as_deref(), &created);
        return Err(e);
    }

    if args.example {
        let written = crate::project::example::write_example(&root)?;
        for kept in &written.kept {
            ctx.note(format!("{kept} is already there; kept as it is"));
        }
        created.extend(written.created);
    }
    let out = InitOutput {
        root: root.clone(),
        store: StoreOutput {
            kind: location.kind(),
            location: location.shown(),
        },
        already_initialized: created.is_empty(),
        created,
    };
    if args.json {
        return output::print_json(&out);
    }
    if out.already_initialized {
        ctx.note(format!(
            "{} is already a runctl project; nothing changed",
            root.display()
        ));
    } else {
        ctx.note(format!(
            "initialized runctl project in {} (created {})",
            root.display(),
            out.created.join(", ")
        ));
    }
    Ok(())
}
