//! What `runctl version import` did, or with `--dry-run` would do: the text report, line by
//! line as each step happens, and the same facts as the `--json` shape. Deciding them is the
//! caller's.

use std::path::PathBuf;

use serde::Serialize;

/// `runctl version import --json`.
#[derive(Debug, Serialize)]
pub(super) struct ImportOutput {
    file: PathBuf,
    dry_run: bool,
    /// The versions added (with `--dry-run`: that would be added).
    imported: Vec<ImportedOutput>,
    /// Duplicate pairs merged into one version (with `--dry-run`: that would be).
    merged: Vec<PairOutput>,
    /// Duplicate pairs kept as two versions (answered no on a terminal).
    kept_apart: Vec<PairOutput>,
    skipped: Vec<SkippedOutput>,
}

#[derive(Debug, Serialize)]
struct ImportedOutput {
    family: String,
    name: String,
    status: String,
}

/// A duplicate pair by the entries' places in the file (1-based).
#[derive(Debug, Serialize)]
struct PairOutput {
    waiting: usize,
    synced: usize,
}

#[derive(Debug, Serialize)]
struct SkippedOutput {
    /// The entry's place in the file (1-based).
    entry: usize,
    /// Its id, else its name, else `#<entry>`.
    label: String,
    reason: String,
}

/// The report being made: its text and its JSON, from the same calls.
pub(super) struct Report {
    pub(super) text: String,
    pub(super) out: ImportOutput,
}

impl Report {
    pub(super) fn new(file: PathBuf, dry_run: bool) -> Report {
        Report {
            text: String::new(),
            out: ImportOutput {
                file,
                dry_run,
                imported: Vec::new(),
                merged: Vec::new(),
                kept_apart: Vec::new(),
                skipped: Vec::new(),
            },
        }
    }

    /// Entries `waiting` and `synced` (0-based) made one version; `describe` names them.
    pub(super) fn merged(&mut self, waiting: usize, synced: usize, describe: &str) {
        let verb = if self.out.dry_run {
            "would merge"
        } else {
            "merged"
        };
        self.text.push_str(&format!("{verb}: {describe}\n"));
        self.out.merged.push(pair(waiting, synced));
    }

    /// Entries `waiting` and `synced` (0-based) kept as two versions.
    pub(super) fn kept_apart(&mut self, waiting: usize, synced: usize, describe: &str) {
        self.text.push_str(&format!("kept apart: {describe}\n"));
        self.out.kept_apart.push(pair(waiting, synced));
    }

    /// Entry `index` (0-based), shown as `label`, not imported.
    pub(super) fn skipped(&mut self, index: usize, label: &str, reason: String) {
        self.text.push_str(&format!("skipped {label}: {reason}\n"));
        self.out.skipped.push(SkippedOutput {
            entry: index + 1,
            label: label.to_string(),
            reason,
        });
    }

    /// A version added (or, in a dry run, to be added).
    pub(super) fn imported(&mut self, family: &str, name: &str, status: String) {
        if self.out.dry_run {
            self.text
                .push_str(&format!("would import {family} {name}\n"));
        } else {
            self.text
                .push_str(&format!("imported {family} {name} ({status})\n"));
        }
        self.out.imported.push(ImportedOutput {
            family: family.to_string(),
            name: name.to_string(),
            status,
        });
    }

    /// The closing line: how many were imported and skipped.
    pub(super) fn finish(&mut self) {
        let verb = if self.out.dry_run {
            "would import"
        } else {
            "imported"
        };
        self.text.push_str(&format!(
            "{verb} {}, skipped {}\n",
            self.out.imported.len(),
            self.out.skipped.len()
        ));
    }
}

fn pair(waiting: usize, synced: usize) -> PairOutput {
    PairOutput {
        waiting: waiting + 1,
        synced: synced + 1,
    }
}
