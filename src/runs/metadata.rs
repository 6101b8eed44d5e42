//! The runtime metadata contract (docs/naming.md): the variables a run's command and workers
//! get (`RUN_ID`, `RUN_NAME`, `RUN_DIR`, ...), and the run's real folders on disk.

use std::path::PathBuf;

use crate::project::{Project, ProjectError};
use crate::store::RunRow;

/// The name without its `-run<N>` / `-ts<...>` suffix.
pub fn prefix_of(row: &RunRow) -> String {
    let suffix_at = match row.number {
        Some(n) => row.name.strip_suffix(&format!("-run{n}")).map(str::len),
        None => row.name.rfind("-ts"),
    };
    suffix_at
        .and_then(|at| row.name.get(..at))
        .unwrap_or(&row.name)
        .to_string()
}

/// A run's folders as they are on disk: as recorded, or where the settings put them when the
/// recorded path names no folder (a project path that is not valid UTF-8 is recorded lossily,
/// and a child process must get the real folder, not a mangled copy of its name).
#[derive(Debug, Clone)]
pub struct RunDirs {
    pub outputs: PathBuf,
    pub logs: PathBuf,
}

impl RunDirs {
    pub fn of(project: &Project, row: &RunRow) -> Result<RunDirs, ProjectError> {
        let real = |recorded: &str, base: PathBuf| {
            let recorded = project.root.join(recorded);
            if recorded.is_dir() {
                recorded
            } else {
                base.join(&row.dir_name)
            }
        };
        Ok(RunDirs {
            outputs: real(&row.outputs_dir, project.outputs_dir()?),
            logs: real(&row.logs_dir, project.logs_dir()?),
        })
    }
}

/// [`metadata`] as a child process's environment, with the run's real folders.
pub fn metadata_env(row: &RunRow, dirs: &RunDirs) -> Vec<(String, std::ffi::OsString)> {
    metadata(row)
        .into_iter()
        .map(|(key, value)| {
            let value = match key {
                "RUN_DIR" => dirs.outputs.clone().into_os_string(),
                "RUN_LOG_DIR" => dirs.logs.clone().into_os_string(),
                _ => value.into(),
            };
            (key.to_string(), value)
        })
        .collect()
}

/// The runtime metadata contract (docs/naming.md), in order.
pub fn metadata(row: &RunRow) -> Vec<(&'static str, String)> {
    vec![
        ("RUN_ID", row.id.clone()),
        ("RUN_NAME", row.name.clone()),
        (
            "RUN_NUMBER",
            row.number.map(|n| n.to_string()).unwrap_or_default(),
        ),
        ("RUN_NAME_PREFIX", prefix_of(row)),
        ("RUN_DIR_NAME", row.dir_name.clone()),
        ("RUN_DIR", row.outputs_dir.clone()),
        ("RUN_LOG_DIR", row.logs_dir.clone()),
        ("SERVED_MODEL_NAME", row.model.clone()),
    ]
}
