//! The logs of a run's command: its stdout and stderr copied, as they come, to the terminal
//! (or wherever runctl's own stdout and stderr go) and to `<logs>/stdout.log` and
//! `<logs>/stderr.log`, each line optionally stamped with the time it arrived.
//!
//! A log that cannot be opened (a symlink or hard link planted at its name, a folder that
//! cannot be written) is said once and skipped: the command still runs and its output still
//! reaches the terminal. A write to the terminal that fails (a closed pipe) stops only that
//! copy; the log keeps being written, and the command is never blocked by a reader that left.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout};
use std::sync::mpsc;
use std::time::Duration;

/// The two copying threads of one command.
pub struct Tee {
    done: mpsc::Receiver<()>,
    threads: usize,
    /// Logs that could not be opened, for the caller to warn about.
    pub unwritable: Vec<PathBuf>,
}

/// The log file names of a run's command, in its logs folder.
pub const STDOUT_LOG: &str = "stdout.log";
pub const STDERR_LOG: &str = "stderr.log";

impl Tee {
    /// Start copying the child's piped stdout and stderr.
    pub fn start(child: &mut Child, logs: &Path, timestamps: bool) -> Tee {
        let (tx, done) = mpsc::channel();
        let mut unwritable = Vec::new();
        let mut threads = 0;
        let mut open = |name: &str| {
            let path = logs.join(name);
            let file = open_log(&path);
            if file.is_none() {
                unwritable.push(path);
            }
            file
        };
        if let Some(out) = child.stdout.take() {
            let log = open(STDOUT_LOG).map(|f| (f, logs.join(STDOUT_LOG)));
            spawn_copy(out, Sink::Stdout, log, timestamps, tx.clone());
            threads += 1;
        }
        if let Some(err) = child.stderr.take() {
            let log = open(STDERR_LOG).map(|f| (f, logs.join(STDERR_LOG)));
            spawn_copy(err, Sink::Stderr, log, timestamps, tx.clone());
            threads += 1;
        }
        Tee {
            done,
            threads,
            unwritable,
        }
    }

    /// Wait for both copies to reach the end of their pipes, at most `grace` once the command
    /// has ended: a process it left in the background may hold the pipes open for ever.
    pub fn finish(self, grace: Duration) {
        let deadline = std::time::Instant::now() + grace;
        for _ in 0..self.threads {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if self.done.recv_timeout(left).is_err() {
                return;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Sink {
    Stdout,
    Stderr,
}

trait Pipe: Read + Send + 'static {}
impl Pipe for ChildStdout {}
impl Pipe for ChildStderr {}

/// Copy `pipe` to `sink` and to `log` until the end of the pipe. When the sink is closed (the
/// reader of `runctl new -- CMD | head -1` left), the pipe is closed too, so that CMD gets
/// SIGPIPE as it would without runctl between them; a log that cannot be written any more (a
/// full disk) is said once and dropped, and the copy to the sink goes on.
fn spawn_copy(
    mut pipe: impl Pipe,
    sink: Sink,
    mut log: Option<(std::fs::File, PathBuf)>,
    timestamps: bool,
    done: mpsc::Sender<()>,
) {
    let _ = std::thread::Builder::new()
        .name("runctl-tee".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut at_line_start = true;
            loop {
                let n = match pipe.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let chunk = &buf[..n];
                if let Some((file, path)) = &mut log {
                    let written = if timestamps {
                        write_stamped(file, chunk, &mut at_line_start)
                    } else {
                        file.write_all(chunk)
                    };
                    if let Err(e) = written {
                        crate::say!(
                            "warning: {} cannot be written ({e}); the rest of this output is not kept",
                            crate::text::printable(&path.to_string_lossy())
                        );
                        log = None;
                    }
                }
                if let Err(e) = write_sink(sink, chunk)
                    && e.kind() == std::io::ErrorKind::BrokenPipe
                {
                    break; // dropping the pipe: CMD's next write gets SIGPIPE
                }
            }
            drop(pipe);
            let _ = done.send(());
        });
}

fn write_sink(sink: Sink, chunk: &[u8]) -> std::io::Result<()> {
    match sink {
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(chunk)?;
            out.flush()
        }
        Sink::Stderr => std::io::stderr().lock().write_all(chunk),
    }
}

/// Write `chunk`, putting the time before each line that starts in it.
fn write_stamped(
    file: &mut std::fs::File,
    chunk: &[u8],
    at_line_start: &mut bool,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(chunk.len() + 32);
    let stamp = crate::store::now_text();
    for piece in chunk.split_inclusive(|b| *b == b'\n') {
        if *at_line_start {
            out.extend_from_slice(stamp.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(piece);
        *at_line_start = piece.ends_with(b"\n");
    }
    file.write_all(&out)
}

/// A log appended to; none when a symlink or a hard link is at its name (project folders are
/// often group-writable) or it cannot be opened.
fn open_log(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    if let Some(dir) = path.parent()
        && !dir.is_dir()
    {
        std::fs::create_dir(dir).ok()?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .ok()?;
    (file.metadata().ok()?.nlink() == 1).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_go_before_each_line_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut file = std::fs::File::create(&path).unwrap();
        let mut start = true;
        write_stamped(&mut file, b"one\ntw", &mut start).unwrap();
        write_stamped(&mut file, b"o\nthree", &mut start).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].ends_with("Z one\n"), "{text}");
        assert!(lines[1].ends_with("Z two\n"), "{text}");
        assert!(lines[2].ends_with("Z three"), "{text}");
        assert!(lines.iter().all(|l| l.starts_with("20")), "{text}");
    }

    #[test]
    fn a_symlink_at_the_log_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("stdout.log")).unwrap();
        assert!(open_log(&dir.path().join("stdout.log")).is_none());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
}
