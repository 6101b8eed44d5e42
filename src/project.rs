//! Finding the project root and reading `runctl.toml`.
//!
//! A project is a folder holding `runctl.toml` (settings, for version control) and/or `.runctl/`
//! (state, never committed). It is found by walking up from the working directory as git finds
//! `.git`. This module owns the settings with their defaults and the commented template that
//! `runctl init` writes; it knows nothing of SQL or the terminal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::hashing::HashAlgo;
pub use crate::naming::Scope;

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
    #[error("{key} = \"{value}\" in {settings} points outside the project root {root}")]
    Outside {
        key: &'static str,
        value: String,
        settings: PathBuf,
        root: PathBuf,
    },
}

/// Every setting of `runctl.toml`, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub naming: NamingSettings,
    pub paths: PathSettings,
    pub hashing: HashingSettings,
    pub versions: VersionSettings,
}

/// `[naming]`: run names (docs/naming.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamingSettings {
    pub run_counter_scope: Scope,
    pub max_path: usize,
    pub use_legacy: bool,
    pub model_key: String,
    pub dataset_key: String,
    pub sample_size_key: String,
}

impl Default for NamingSettings {
    fn default() -> Self {
        NamingSettings {
            run_counter_scope: Scope::ModelDataset,
            max_path: 240,
            use_legacy: false,
            model_key: "training.model_name_or_path".into(),
            dataset_key: "data.dataset_name".into(),
            sample_size_key: "data.sample_size".into(),
        }
    }
}

/// `[paths]`: where run folders go, relative to the project root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathSettings {
    pub outputs: PathBuf,
    pub logs: PathBuf,
    /// Let `outputs`/`logs` point outside the project root (runctl.toml is meant for version
    /// control, so a clone must not be able to send writes anywhere without saying so).
    pub allow_outside: bool,
}

impl Default for PathSettings {
    fn default() -> Self {
        PathSettings {
            outputs: "outputs".into(),
            logs: "logs".into(),
            allow_outside: false,
        }
    }
}

/// How `runctl link` makes a folder alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LinkMode {
    /// A symlink, else a folder of hard links, else a copy.
    #[default]
    Auto,
    Symlink,
    Hardlink,
    Copy,
}

impl LinkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkMode::Auto => "auto",
            LinkMode::Symlink => "symlink",
            LinkMode::Hardlink => "hardlink",
            LinkMode::Copy => "copy",
        }
    }
}

/// `[hashing]`: identifier hashes (docs/hashing.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HashingSettings {
    pub length: usize,
    pub algo: HashAlgo,
    pub link_mode: LinkMode,
}

impl Default for HashingSettings {
    fn default() -> Self {
        HashingSettings {
            length: 8,
            algo: HashAlgo::Md5,
            link_mode: LinkMode::Auto,
        }
    }
}

/// `[versions]`: the model-version registry (docs/versions.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VersionSettings {
    pub artifact_template: String,
    /// What `version sync` appends a bare key to, to make it a URL; empty: keys stay keys.
    pub url_base: String,
}

impl Default for VersionSettings {
    fn default() -> Self {
        VersionSettings {
            artifact_template: "{family}_v{version}.safetensors".into(),
            url_base: String::new(),
        }
    }
}

/// The file `runctl init` writes: every setting, commented, at its default.
pub const SETTINGS_TEMPLATE: &str = r#"# runctl project settings. Every key is shown at its default; delete or change any of them.
# Reference: docs/ in the runctl repository. State lives in .runctl/ (never commit it).

[naming]
# Counter scope for run<N>: "model_dataset" (default), "model" or "global".
run_counter_scope = "model_dataset"
# A run folder's full path must stay under this many characters (the Windows guard).
max_path = 240
# true: name run folders by run id instead of <model>-<dataset>-<size>-run<N>.
use_legacy = false
# Dotted keys read from a pipeline config given with --config (YAML, TOML or JSON).
model_key = "training.model_name_or_path"
dataset_key = "data.dataset_name"
sample_size_key = "data.sample_size"

[paths]
# Run folders, relative to the project root.
outputs = "outputs"
logs = "logs"
# true: let outputs and logs point outside the project root (an absolute path or "..").
allow_outside = false

[hashing]
# Hex digits in :hash=xxxxxxxx, and the digest behind them ("md5" or "sha256").
length = 8
algo = "md5"
# How `runctl link` makes an alias: "auto" (symlink, else hard links, else copy),
# "symlink", "hardlink" or "copy".
link_mode = "auto"

[versions]
# Artifact file name of a model version; must contain {family} and {version}.
artifact_template = "{family}_v{version}.safetensors"
# What `version sync` puts before a bare key (`style_1_vV8.safetensors`, as `aws s3 ls`
# prints it) to make it a URL, e.g. "s3://loras/". Empty: a bare key stays a key.
url_base = ""
"#;

/// Settings parsed from text, with the dotted paths of keys runctl does not know.
#[derive(Debug)]
pub struct ParsedSettings {
    pub settings: Settings,
    pub unknown_keys: Vec<String>,
}

/// Parse `runctl.toml` text; `path` is only used in error messages.
pub fn parse_settings(text: &str, path: &Path) -> Result<ParsedSettings, ProjectError> {
    let malformed = |err: toml::de::Error| {
        let (line, column) = err
            .span()
            .map(|span| line_column(text, span.start))
            .unwrap_or((1, 1));
        ProjectError::Malformed {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    };
    let de = toml::de::Deserializer::parse(text).map_err(malformed)?;
    let mut unknown_keys = Vec::new();
    let settings: Settings =
        serde_ignored::deserialize(de, |key| unknown_keys.push(key.to_string()))
            .map_err(malformed)?;
    Ok(ParsedSettings {
        settings,
        unknown_keys,
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// `path` with `.` dropped and each `..` taking away the component before it, without asking
/// the filesystem (the folders may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The largest `runctl.toml` read; a settings file is a few hundred bytes.
pub const SETTINGS_MAX_BYTES: u64 = 1024 * 1024;

/// The bytes of the settings file: a regular file (a FIFO would hang, `/dev/zero` read without
/// end) of at most [`SETTINGS_MAX_BYTES`].
fn read_settings_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(SETTINGS_MAX_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > SETTINGS_MAX_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} bytes",
            SETTINGS_MAX_BYTES
        )));
    }
    Ok(bytes)
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

    /// Where run folders go (`paths.outputs`), refused when it points outside the project.
    pub fn outputs_dir(&self) -> Result<PathBuf, ProjectError> {
        self.inside("paths.outputs", &self.settings.paths.outputs)
    }

    /// Where run logs go (`paths.logs`), refused when it points outside the project.
    pub fn logs_dir(&self) -> Result<PathBuf, ProjectError> {
        self.inside("paths.logs", &self.settings.paths.logs)
    }

    /// `root/value`, unless it leaves the root (an absolute path elsewhere, or `..` past it)
    /// and `paths.allow_outside` is not set. The check is on the setting's text: a symlink a
    /// user made on disk (outputs -> /scratch/...) is their own choice and is followed.
    fn inside(&self, key: &'static str, value: &Path) -> Result<PathBuf, ProjectError> {
        // The lexical form: `x/..` must not make a stray `x/` when the folders are made.
        let joined = lexical(&self.root.join(value));
        let root = lexical(&self.root);
        // Never the root itself (run folders and `migrate runs` would take the project's own
        // folders for runs) nor runctl's state folder, whatever else is allowed.
        if joined == root || joined.starts_with(root.join(STATE_DIR)) {
            return Err(ProjectError::NotARunFolder {
                key,
                value: value.to_string_lossy().into_owned(),
                settings: self.settings_path(),
            });
        }
        // Where it really leads, when it exists (a symlink `outputs -> .`, or `..` allowed):
        // never the root, a folder above it, or inside `.runctl/`.
        if let (Ok(real), Ok(real_root)) = (joined.canonicalize(), root.canonicalize())
            && (real_root.starts_with(&real) || real.starts_with(real_root.join(STATE_DIR)))
        {
            return Err(ProjectError::NotARunFolder {
                key,
                value: value.to_string_lossy().into_owned(),
                settings: self.settings_path(),
            });
        }
        if self.settings.paths.allow_outside || joined.starts_with(&root) {
            return Ok(joined);
        }
        Err(ProjectError::Outside {
            key,
            value: value.to_string_lossy().into_owned(),
            settings: self.settings_path(),
            root: self.root.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_every_default() {
        let parsed = parse_settings(SETTINGS_TEMPLATE, Path::new("runctl.toml")).unwrap();
        assert_eq!(parsed.unknown_keys, Vec::<String>::new());
        assert_eq!(parsed.settings, Settings::default());
        // Every key of the defaults appears in the template, so nothing is left undocumented.
        let defaults = toml::Value::try_from(Settings::default()).unwrap();
        let template: toml::Value = toml::from_str(SETTINGS_TEMPLATE).unwrap();
        assert_eq!(defaults, template);
    }

    #[test]
    fn unknown_keys_are_reported_with_their_path() {
        let parsed =
            parse_settings("[naming]\nmax_pat = 3\n[extra]\nx = 1\n", Path::new("r")).unwrap();
        assert_eq!(parsed.unknown_keys, vec!["extra", "naming.max_pat"]);
        assert_eq!(parsed.settings, Settings::default());
    }

    #[test]
    fn malformed_names_line_and_column() {
        let err =
            parse_settings("[naming]\nmax_path = = 3\n", Path::new("runctl.toml")).unwrap_err();
        match err {
            ProjectError::Malformed { line, column, .. } => assert_eq!((line, column), (2, 12)),
            other => panic!("unexpected {other:?}"),
        }
        let err = parse_settings("[naming]\nmax_path = \"x\"\n", Path::new("r")).unwrap_err();
        assert!(
            matches!(err, ProjectError::Malformed { line: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn run_folders_stay_inside_the_root_unless_allowed() {
        let mut project = Project {
            root: PathBuf::from("/home/u/proj"),
            settings: Settings::default(),
            warnings: Vec::new(),
        };
        assert_eq!(
            project.outputs_dir().unwrap(),
            PathBuf::from("/home/u/proj/outputs")
        );
        for (value, ok) in [
            ("../victim", false),
            ("/", false),
            ("/home/u/projX", false),
            ("a/../../b", false),
            ("a/../b", true),
            (".", false),
            ("", false),
            ("x/..", false),
            (".runctl", false),
            (".runctl/runs", false),
            ("./runs/./x", true),
        ] {
            project.settings.paths.outputs = value.into();
            assert_eq!(project.outputs_dir().is_ok(), ok, "{value}");
        }
        project.settings.paths.allow_outside = true;
        project.settings.paths.logs = "/scratch/logs".into();
        assert_eq!(project.logs_dir().unwrap(), PathBuf::from("/scratch/logs"));
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 10), (1, 1));
    }
}
