//! Where run folders go: `paths.outputs` and `paths.logs` joined to the project root, refused
//! when they name the root, its `.runctl/`, or (unless `paths.allow_outside`) a folder
//! outside it. The check is on the setting's text and, where the folder exists, on where it
//! really leads.

use std::path::{Path, PathBuf};

use super::{Project, ProjectError, STATE_DIR};

impl Project {
    /// Where run folders go (`paths.outputs`), refused when it points outside the project.
    pub fn outputs_dir(&self) -> Result<PathBuf, ProjectError> {
        self.inside("paths.outputs", &self.settings.paths.outputs)
    }

    /// Where run logs go (`paths.logs`), refused when it points outside the project.
    pub fn logs_dir(&self) -> Result<PathBuf, ProjectError> {
        self.inside("paths.logs", &self.settings.paths.logs)
    }

    /// Where `runctl archive` moves run folders (`paths.archive`), refused when it points
    /// outside the project.
    pub fn archive_dir(&self) -> Result<PathBuf, ProjectError> {
        let archive = self.inside("paths.archive", &self.settings.paths.archive)?;
        // Inside the outputs or logs folder, only a hidden folder: run folders and `latest`
        // never start with a dot, so the archive is never in a run (nor a run in it). Checked
        // on the setting's text and on where it really leads (a link on the way).
        for base in [self.outputs_dir()?, self.logs_dir()?] {
            for (archive, base) in [
                (archive.clone(), base.clone()),
                (real(&archive), real(&base)),
            ] {
                let hidden = archive.strip_prefix(&base).ok().map(|rest| {
                    rest.components()
                        .next()
                        .is_some_and(|c| c.as_os_str().as_encoded_bytes().starts_with(b"."))
                });
                if hidden == Some(false) || base.starts_with(&archive) {
                    return Err(ProjectError::ArchiveInRuns {
                        value: self.settings.paths.archive.to_string_lossy().into_owned(),
                        settings: self.settings_path(),
                    });
                }
            }
        }
        Ok(archive)
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
}

/// Where `path` really leads: its deepest existing ancestor with every link resolved, and the
/// rest of it as written (the folders may not exist yet).
fn real(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut at = path;
    loop {
        if let Ok(resolved) = at.canonicalize() {
            return rest.iter().rev().fold(resolved, |p, c| p.join(c));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::super::Settings;
    use super::*;

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
}
