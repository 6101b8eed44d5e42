//! `runctl init --example`: the files the README's tour uses, written into a project so that
//! every line of the tour runs by copy-paste: a pipeline config, a training script, a source
//! file, a per-item and a stream worker in Python, a listing as `aws s3 ls` prints it, the
//! `runctl-hello` plugin, and a model folder whose name is too long for some filesystems.
//!
//! A file already there is kept as it is (never overwritten, never followed if it is a link);
//! when a write fails, the files this call made are removed again.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ProjectError;

/// The example files: path in the project, contents, executable.
const FILES: &[(&str, &str, bool)] = &[
    (
        "train.yaml",
        include_str!("../../examples/tour/train.yaml"),
        false,
    ),
    (
        "train.py",
        include_str!("../../examples/tour/train.py"),
        false,
    ),
    (
        "cases.csv",
        include_str!("../../examples/tour/cases.csv"),
        false,
    ),
    (
        "worker.py",
        include_str!("../../examples/tour/worker.py"),
        false,
    ),
    (
        "stream_worker.py",
        include_str!("../../examples/tour/stream_worker.py"),
        false,
    ),
    (
        "bucket-listing.txt",
        include_str!("../../examples/tour/bucket-listing.txt"),
        false,
    ),
    (
        "plugins/runctl-hello",
        include_str!("../../plugins/examples/runctl-hello"),
        true,
    ),
    (
        "models/DyRCNNx8:tsteps=20+dt=2+tau=5_42_imagenette/weights.txt",
        "a stand-in for model weights\n",
        false,
    ),
];

/// What [`write_example`] did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files made, relative to the root.
    pub created: Vec<String>,
    /// Files left as they were (something was already there).
    pub kept: Vec<String>,
}

/// Write the example files under `root`.
pub fn write_example(root: &Path) -> Result<Written, ProjectError> {
    let mut written = Written::default();
    let mut made: Vec<PathBuf> = Vec::new();
    for (name, contents, executable) in FILES {
        let path = root.join(name);
        match write_new(root, &path, contents, *executable, &mut made) {
            Ok(true) => written.created.push((*name).to_string()),
            Ok(false) => written.kept.push((*name).to_string()),
            Err((what, source)) => {
                for p in made.iter().rev() {
                    let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir(p));
                }
                return Err(ProjectError::Io { what, path, source });
            }
        }
    }
    Ok(written)
}

/// Make `path` (and its missing folders, each recorded in `made`) holding `contents`; false
/// when something is already at `path`.
fn write_new(
    root: &Path,
    path: &Path,
    contents: &str,
    executable: bool,
    made: &mut Vec<PathBuf>,
) -> Result<bool, (&'static str, std::io::Error)> {
    use std::os::unix::fs::OpenOptionsExt;
    // A folder on the way that is a link (plugins -> /elsewhere) is not written through.
    if path
        .ancestors()
        .skip(1)
        .take_while(|d| *d != root)
        .any(|d| std::fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()))
    {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        let mut missing: Vec<&Path> = parent
            .ancestors()
            .take_while(|d| std::fs::symlink_metadata(d).is_err())
            .collect();
        missing.reverse();
        for dir in missing {
            std::fs::create_dir(dir).map_err(|e| ("create", e))?;
            made.push(dir.to_path_buf());
        }
    }
    // O_EXCL: an existing file, or a symlink planted at the name, is never written through.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(("create", e)),
    };
    made.push(path.to_path_buf());
    file.write_all(contents.as_bytes())
        .map_err(|e| ("write", e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_once_and_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cases.csv"), "mine\n").unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "keep").unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("train.py")).unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("plugins")).unwrap();
        let written = write_example(dir.path()).unwrap();
        assert_eq!(
            written.kept,
            ["train.py", "cases.csv", "plugins/runctl-hello"]
        );
        assert_eq!(written.created.len(), FILES.len() - 3);
        assert_eq!(
            std::fs::read_dir(elsewhere.path()).unwrap().count(),
            0,
            "wrote through a link"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("cases.csv")).unwrap(),
            "mine\n"
        );
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep");
        let again = write_example(dir.path()).unwrap();
        assert!(again.created.is_empty());
    }

    #[test]
    fn the_plugin_is_executable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        write_example(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("plugins/runctl-hello"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111);
    }
}
