//! Finding the project root and reading `runctl.toml`.
//!
//! A project is a folder holding `runctl.toml` (settings, for version control) and/or `.runctl/`
//! (state, never committed). It is found by walking up from the working directory as git finds
//! `.git`. This module owns the settings with their defaults and the commented template that
//! `runctl init` writes; it knows nothing of SQL or the terminal.
//!
//! The settings are in `settings` (read by `parse`); the checks on where run folders may go
//! are in `paths`.

pub mod example;
mod parse;
mod paths;
mod settings;

use std::path::{Path, PathBuf};

pub use crate::hashing::HashAlgo;
pub use crate::naming::Scope;
use parse::read_settings_file;
pub use parse::{ParsedSettings, SETTINGS_MAX_BYTES, parse_settings};
pub use settings::{
    HashingSettings, LinkMode, NamingSettings, PathSettings, SETTINGS_TEMPLATE, Settings,
    StoreSettings, VersionSettings,
};

/// The settings file at the project root.
pub const SETTINGS_FILE: &str = "runctl.toml";
/// The state folder at the project root.
pub const STATE_DIR: &str = ".runctl";
/// The SQLite file inside the state folder.
pub const DB_FILE: &str = "state.db";

/// Errors of project discovery and settings.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}:{line}:{column}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("project root {0} does not exist or is not a folder")]
    RootMissing(PathBuf),
    #[error(
        "{key} = \"{value}\" in {settings} names the project root, a folder above it or its .runctl/ folder, not a folder for runs"
    )]
    NotARunFolder {
        key: &'static str,
        value: String,
        settings: PathBuf,
    },
    #[error(
        "paths.archive = \"{value}\" in {settings} is, or lies in, a run folder or a `latest` pointer: inside the outputs or logs folder it must be a hidden folder"
    )]
    ArchiveInRuns { value: String, settings: PathBuf },
    #[error("{key} = \"{value}\" in {settings} points outside the project root {root}")]
    Outside {
        key: &'static str,
        value: String,
        settings: PathBuf,
        root: PathBuf,
    },
}

/// Walk up from `start` to the first folder holding `runctl.toml` or `.runctl/`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(SETTINGS_FILE).exists() || dir.join(STATE_DIR).is_dir())
        .map(Path::to_path_buf)
}

/// A discovered project: its root and its settings.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub settings: Settings,
    /// Warnings met while loading (unknown keys), for the CLI to print.
    pub warnings: Vec<String>,
}

impl Project {
    /// Load the project at `root`; a missing `runctl.toml` means every default.
    pub fn load(root: &Path) -> Result<Project, ProjectError> {
        if !root.is_dir() {
            return Err(ProjectError::RootMissing(root.to_path_buf()));
        }
        let path = root.join(SETTINGS_FILE);
        let (settings, warnings) = match read_settings_file(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|e| ProjectError::Malformed {
                    path: path.clone(),
                    line: 1,
                    column: 1,
                    message: format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
                })?;
                let parsed = parse_settings(&text, &path)?;
                let warnings = parsed
                    .unknown_keys
                    .iter()
                    .map(|key| format!("unknown setting '{key}' in {} (ignored)", path.display()))
                    .collect();
                (parsed.settings, warnings)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Settings::default(), Vec::new()),
            Err(source) => {
                return Err(ProjectError::Io {
                    what: "read",
                    path,
                    source,
                });
            }
        };
        Ok(Project {
            root: root.to_path_buf(),
            settings,
            warnings,
        })
    }

    pub fn settings_path(&self) -> PathBuf {
        self.root.join(SETTINGS_FILE)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    pub fn db_path(&self) -> PathBuf {
        self.state_dir().join(DB_FILE)
    }

    /// Create `.runctl/` with a `.gitignore` for all of its contents. Returns true if it made it.
    pub fn ensure_state_dir(&self) -> Result<bool, ProjectError> {
        let dir = self.state_dir();
        let created = !dir.is_dir();
        std::fs::create_dir_all(&dir).map_err(|source| ProjectError::Io {
            what: "create",
            path: dir.clone(),
            source,
        })?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# runctl state: never commit it\n*\n").map_err(|source| {
                ProjectError::Io {
                    what: "write",
                    path: ignore,
                    source,
                }
            })?;
        }
        Ok(created)
    }
}
