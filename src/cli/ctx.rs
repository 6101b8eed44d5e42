//! What every command gets ([`Ctx`]): the global flags and the working directory, with the
//! steps every command shares: notes and warnings on stderr, finding the project, and opening
//! its store at the current schema (asking before a migration).

use std::path::PathBuf;

use super::{GlobalArgs, output, prompt};
use crate::error::{CliError, Result};
use crate::project::{self, Project};
use crate::store::{Access, Location, LocationError, Store};

/// What every command gets: the global flags and the working directory.
#[derive(Debug)]
pub struct Ctx {
    pub global: GlobalArgs,
    pub cwd: PathBuf,
}

impl Ctx {
    /// Whether stderr gets colour.
    pub fn color(&self) -> bool {
        self.global.color.enabled(&std::io::stderr())
    }

    /// A note for the user on stderr; silent with `--quiet`.
    pub fn note(&self, message: impl std::fmt::Display) {
        if !self.global.quiet {
            crate::say!("{}", crate::text::printable_lines(&message.to_string()));
        }
    }

    /// A warning on stderr; shown even with `--quiet`.
    pub fn warn(&self, message: impl std::fmt::Display) {
        output::warn(self.color(), message);
    }

    /// The project root: `--root`/`RUNCTL_ROOT`, else the first ancestor of the working
    /// directory with `runctl.toml` or `.runctl/`.
    pub fn project_root(&self) -> Result<Option<PathBuf>> {
        match &self.global.root {
            Some(root) => {
                let root = self.cwd.join(root);
                if !root.is_dir() {
                    return Err(CliError::not_found(format!(
                        "project root {} does not exist or is not a folder",
                        root.display()
                    ))
                    .hint("check --root / RUNCTL_ROOT, or create it with 'runctl init'"));
                }
                Ok(Some(root))
            }
            None => Ok(project::find_root(&self.cwd)),
        }
    }

    /// The project, loaded with its settings, if there is one.
    pub fn find_project(&self) -> Result<Option<Project>> {
        let Some(root) = self.project_root()? else {
            return Ok(None);
        };
        let project = Project::load(&root)?;
        for warning in &project.warnings {
            self.warn(warning);
        }
        Ok(Some(project))
    }

    /// The project for a read command: an error with a hint when there is none.
    pub fn require_project(&self) -> Result<Project> {
        self.find_project()?.ok_or_else(|| {
            CliError::not_found(format!(
                "no runctl project in {} or any folder above it",
                self.cwd.display()
            ))
            .hint("run 'runctl init' here, or pass --root DIR")
        })
    }

    /// The project for a write command: outside any project, it is the working directory
    /// (`.runctl/` is made there when the store is opened for writing, and the user is told).
    pub fn project_for_write(&self) -> Result<Project> {
        match self.find_project()? {
            Some(project) => Ok(project),
            None => Ok(Project::load(&self.cwd)?),
        }
    }

    /// Open the project's DB, at the current schema, for `access`. Pending migrations of an
    /// existing DB are asked about on a terminal (refused with a hint without one); the backup
    /// is written only when a migration is about to be applied. A read opens the DB read-only
    /// and creates nothing; a write creates `.runctl/` and the DB as needed.
    pub fn open_store(&self, project: &Project, access: Access) -> Result<Store> {
        let mut store = self.open_store_as_is(project, access)?;
        let status = store.schema_status().clone();
        if status.pending.is_empty() {
            return Ok(store);
        }
        // Migrating writes, even for a read command: not on a network filesystem.
        if let Location::Sqlite(_) = store_location(project)? {
            refuse_network_fs(project)?;
        }
        let question = format!(
            "{} is at schema version {}; this runctl needs version {}. Migrate now?",
            store.path().display(),
            status.current,
            status.latest
        );
        if !prompt::confirm(&question, "run 'runctl migrate --yes'")? {
            return Err(
                CliError::general("schema migration declined; the database is unchanged")
                    .hint("run 'runctl migrate --yes' when ready"),
            );
        }
        migrate_with_backup(self, &mut store)?;
        Ok(store)
    }

    /// Open the project's store (`.runctl/state.db`, or the PostgreSQL database of
    /// `RUNCTL_DATABASE_URL` or `store.url`) for `access`, its pending migrations left to the
    /// caller. For a write to SQLite, a `state.db` on a network filesystem is refused first and
    /// `.runctl/` made as needed.
    fn open_store_as_is(&self, project: &Project, access: Access) -> Result<Store> {
        let location = store_location(project)?;
        if let (Location::Sqlite(_), Access::Write) = (&location, access) {
            refuse_network_fs(project)?;
            self.ensure_state_dir(project)?;
        }
        Ok(Store::open_at(&location, access)?)
    }

    /// A file the command reads, relative to the working directory; a missing one is "not
    /// found" (exit 4), named as `<label><path>`.
    pub fn open_input(
        &self,
        path: &std::path::Path,
        label: &str,
    ) -> Result<Box<dyn std::io::BufRead>> {
        let path = self.cwd.join(path);
        let file = std::fs::File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                CliError::not_found(format!("{label}{} does not exist", path.display()))
            }
            _ => CliError::io("open", &path, e),
        })?;
        Ok(Box::new(std::io::BufReader::new(file)))
    }

    /// Create `.runctl/` if it is missing, saying so.
    fn ensure_state_dir(&self, project: &Project) -> Result<()> {
        if project.ensure_state_dir()? {
            self.note(format!(
                "note: created {} (no runctl project found above {}); 'runctl init' adds runctl.toml",
                project.state_dir().display(),
                self.cwd.display()
            ));
        }
        Ok(())
    }
}

/// Back up the DB, then apply its pending migrations; returns the backup's path (none when
/// another process migrated it meanwhile) and what was applied.
pub fn migrate_with_backup(
    ctx: &Ctx,
    store: &mut Store,
) -> Result<(Option<PathBuf>, Vec<crate::store::MigrationInfo>)> {
    let (backup, applied) = store.backup_and_migrate()?;
    if let Some(backup) = &backup {
        ctx.note(format!(
            "note: backed up {} to {}",
            store.path().display(),
            backup.display()
        ));
    }
    Ok((backup, applied))
}

/// Refuse a write to a `state.db` on a network filesystem unless the project's
/// `store.allow_network_fs` says one host alone uses it (docs/project.md).
pub fn refuse_network_fs(project: &Project) -> Result<()> {
    if !project.settings.store.allow_network_fs {
        crate::store::refuse_network_fs(&project.db_path())?;
    }
    Ok(())
}

/// Where the project's state is: `RUNCTL_DATABASE_URL`, else `store.url`, else
/// `.runctl/state.db` (docs/project.md).
pub fn store_location(project: &Project) -> Result<Location> {
    location_of(&project.settings.store, project.db_path())
}

/// Where the state is for these settings, `db` being the project's `.runctl/state.db`.
pub fn location_of(settings: &project::StoreSettings, db: PathBuf) -> Result<Location> {
    let env = crate::store::DATABASE_URL_ENV;
    let given = std::env::var_os(env);
    let given = match &given {
        Some(value) => Some(value.to_str().ok_or(LocationError::NotAUrl { from: env })?),
        None => None,
    };
    Ok(crate::store::choose_location(given, &settings.url, db)?)
}

/// Whether the project has state to read: its `state.db` exists, or a PostgreSQL database is
/// named (which is asked, not assumed empty, when opened).
pub fn has_state(project: &Project) -> Result<bool> {
    Ok(match store_location(project)? {
        Location::Sqlite(db) => db.exists(),
        Location::Postgres(_) => true,
    })
}

/// Whether `RUNCTL_DATABASE_URL` names a store (set and not blank).
pub fn database_url_given() -> bool {
    std::env::var_os(crate::store::DATABASE_URL_ENV)
        .is_some_and(|v| !v.to_string_lossy().trim().is_empty())
}
