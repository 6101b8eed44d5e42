//! What `runctl.toml` holds: every setting with its default, and the commented template
//! `runctl init` writes (every key at its default). Reading the file is `parse`'s.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{HashAlgo, Scope};

/// Every setting of `runctl.toml`, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Settings {
    pub naming: NamingSettings,
    pub paths: PathSettings,
    pub hashing: HashingSettings,
    pub versions: VersionSettings,
    pub store: StoreSettings,
}

/// `[store]`: where the project's state lives (docs/project.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct StoreSettings {
    /// A `postgres://` URL (without a password) for a PostgreSQL store; empty: `.runctl/state.db`.
    /// `RUNCTL_DATABASE_URL` wins over it.
    pub url: String,
    /// Let write commands use a `state.db` on a network filesystem, where SQLite's locks do not
    /// hold across hosts: for a project that one host alone uses.
    pub allow_network_fs: bool,
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
    /// Where `runctl archive` moves run folders (under `outputs/` and `logs/` of its own).
    pub archive: PathBuf,
    /// Let `outputs`/`logs`/`archive` point outside the project root (runctl.toml is meant for version
    /// control, so a clone must not be able to send writes anywhere without saying so).
    pub allow_outside: bool,
}

impl Default for PathSettings {
    fn default() -> Self {
        PathSettings {
            outputs: "outputs".into(),
            logs: "logs".into(),
            archive: "outputs/.archive".into(),
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
# Where `runctl archive` moves run folders (hidden from `runctl list` unless --all).
archive = "outputs/.archive"
# true: let outputs, logs and archive point outside the project root (an absolute path or "..").
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

[store]
# A PostgreSQL database for the state instead of .runctl/state.db, as a URL without a password
# ("postgres://runctl@db.lab:5432/runctl"; docs/project.md). RUNCTL_DATABASE_URL wins over it.
url = ""
# true: let write commands use a .runctl/state.db on a network filesystem (NFS, SMB, Lustre,
# GPFS, CephFS, sshfs, ...), where SQLite's locks do not hold across hosts. Only for a project
# that one host alone uses.
allow_network_fs = false
"#;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse_settings;
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
}
