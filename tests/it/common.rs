//! A sandbox per test: a temp folder as working directory, a clean environment and a private
//! PATH directory for fake plugins.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub const RUNCTL: &str = env!("CARGO_BIN_EXE_runctl");

pub struct Sandbox {
    pub tmp: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let tmp = tempfile::Builder::new()
            .prefix("runctl-it")
            .tempdir()
            .unwrap();
        std::fs::create_dir(tmp.path().join("bin")).unwrap();
        std::fs::create_dir(tmp.path().join("work")).unwrap();
        Sandbox { tmp }
    }

    /// The working directory of commands (not a project until a test makes it one).
    pub fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    /// A PATH directory holding only what the test puts there.
    pub fn bin(&self) -> PathBuf {
        self.tmp.path().join("bin")
    }

    pub fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.bin().display())
    }

    /// runctl in `work/`, with a cleared environment (and RUST_BACKTRACE=1, as on these
    /// machines, to prove no backtrace leaks).
    pub fn cmd(&self) -> Command {
        self.cmd_in(&self.work())
    }

    pub fn cmd_in(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(RUNCTL);
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", self.path_var())
            .env("HOME", self.tmp.path())
            .env("RUST_BACKTRACE", "1");
        cmd
    }

    /// runctl ARGS started in the background in `work/`, environment as [`Sandbox::cmd`] (less
    /// RUST_BACKTRACE), stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(RUNCTL)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", self.path_var())
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Make `work/` a project.
    pub fn init(&self) {
        self.cmd().arg("init").assert().success();
    }

    /// `runctl new --model m --source SOURCE --key id`, which must succeed: a run over the
    /// items of a file in `work/`.
    pub fn new_run_over(&self, source: &str) {
        let out = self
            .cmd()
            .args(["new", "--model", "m", "--source", source, "--key", "id"])
            .output()
            .unwrap();
        assert_no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }

    /// Write an executable into the private PATH directory.
    pub fn plugin(&self, name: &str, script: &str) -> PathBuf {
        write_exec(&self.bin().join(format!("runctl-{name}")), script)
    }

    pub fn db(&self) -> PathBuf {
        self.work().join(".runctl/state.db")
    }
}

pub fn write_exec(path: &Path, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Stderr must never carry a panic or a backtrace.
pub fn assert_no_panic(output: &std::process::Output) {
    let err = stderr(output);
    for bad in [
        "panicked",
        "stack backtrace",
        "RUST_BACKTRACE",
        "internal error",
    ] {
        assert!(!err.contains(bad), "stderr shows {bad:?}:\n{err}");
    }
}

/// The schema-v1 fixture, as an older runctl left it.
pub fn fixture_v1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.db")
}

/// A project in `work/` whose DB is the v1 fixture.
pub fn project_at_v1(sb: &Sandbox) -> Vec<u8> {
    std::fs::create_dir_all(sb.work().join(".runctl")).unwrap();
    std::fs::copy(fixture_v1(), sb.db()).unwrap();
    std::fs::read(sb.db()).unwrap()
}

pub fn backups(sb: &Sandbox) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(sb.work().join(".runctl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("state.db.bak-")
        })
        .collect();
    found.sort();
    found
}

/// `chattr +i` on a path for as long as the guard lives (tests run as root, for whom plain
/// permissions refuse nothing); `chattr -i` again on drop, even when the test fails.
pub struct Immutable(PathBuf);

impl Immutable {
    pub fn set(path: &Path) -> Immutable {
        chattr("+i", path);
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

pub fn chattr(flag: &str, path: &Path) {
    let ok = std::process::Command::new("chattr")
        .arg(flag)
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "chattr {flag} {} failed", path.display());
}

/// Wait for a spawned child and gather what it printed: std's `wait_with_output` unwraps a
/// read error inside the standard library, and with dozens of children at once on a loaded
/// machine a read of a pipe can come back `EAGAIN`; here each pipe is drained on its own
/// thread, retrying what is only "not yet", so only the child's real output decides a test.
pub fn collect(mut child: std::process::Child) -> std::process::Output {
    fn drain<R: std::io::Read + Send + 'static>(
        pipe: Option<R>,
    ) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            let Some(mut pipe) = pipe else { return got };
            let mut buf = [0u8; 64 * 1024];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) => return got,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                        ) =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(e) => panic!("reading a child's output: {e}"),
                }
            }
        })
    }
    drop(child.stdin.take());
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let status = child.wait().unwrap();
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}
