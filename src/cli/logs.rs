//! `runctl logs`: a run's logs as runctl kept them: the stdout or stderr of its command
//! (`new -- CMD`), or the worker logs of a batch; with `--follow`, new lines as they come until
//! no process holds the run any more.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::Ctx;
use super::run_view::find_run;
use crate::error::{CliError, Result};
use crate::runs::RunDirs;
use crate::runs::tee::{STDERR_LOG, STDOUT_LOG};
use crate::state::RunStatus;
use crate::store::{Access, RunRow, Store};

/// How often `--follow` looks for new output.
const POLL: Duration = Duration::from_millis(100);

/// Print a run's logs: its command's stdout (or --stderr), or a batch's worker logs
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  runctl logs latest\n  runctl logs latest --follow          # new lines as they come, until the run ends\n  runctl logs qwen2-7b-drg_letters-full-run3 --stderr\n  runctl logs latest --worker 1        # slot 1's worker stderr, for a batch run"
)]
pub struct LogsArgs {
    /// A run name, run id, unique id prefix, or latest
    run: String,
    /// Keep printing what is added, until no process holds the run
    #[arg(short, long)]
    follow: bool,
    /// The command's stderr instead of its stdout
    #[arg(long, conflicts_with = "worker")]
    stderr: bool,
    /// The stderr log of the batch worker in slot N (1, 2, ...)
    #[arg(long, value_name = "N")]
    worker: Option<u32>,
}

pub fn run(ctx: &Ctx, args: LogsArgs) -> Result<()> {
    let project = ctx.require_project()?;
    let store = ctx.open_store(&project, Access::Read)?;
    let row = find_run(&store, &args.run)?;
    let dirs = RunDirs::of(&project, &row)?;
    let files = chosen(&dirs.logs, &args);
    let mut watch = Watch::default();
    let wanted_later = args.follow && !watch.finished(&project, &store, &row)?;
    if files.iter().all(|f| !f.exists()) && !wanted_later {
        return Err(missing(&row, &dirs.logs, &args));
    }
    if let Some(link) = files
        .iter()
        .find(|f| std::fs::symlink_metadata(f).is_ok_and(|m| !m.is_file()))
    {
        return Err(CliError::general(format!(
            "{} is not a log file runctl wrote (a link or something else was put there); not read",
            link.display()
        )));
    }
    let mut readers: Vec<Reader> = files.into_iter().map(Reader::new).collect();
    let several = readers.len() > 1;
    let mut out = std::io::stdout().lock();
    let mut last = None;
    loop {
        let ended = !args.follow || watch.finished(&project, &store, &row)?;
        for (i, reader) in readers.iter_mut().enumerate() {
            if reader.pending() == 0 {
                continue;
            }
            if several && last != Some(i) {
                let _ = writeln!(out, "==> {} <==", reader.path.display());
                last = Some(i);
            }
            if !reader.copy_to(&mut out)? {
                return Ok(()); // the reader went away (`| head`)
            }
        }
        // Ended before this last look: everything written before the end is shown.
        if ended {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// The log files asked for: a command's stdout.log or stderr.log, one worker's log, or, for a
/// batch without `--worker`, every worker log there is.
fn chosen(logs: &Path, args: &LogsArgs) -> Vec<PathBuf> {
    if let Some(n) = args.worker {
        return vec![logs.join(format!("worker-{n}.log"))];
    }
    let own = logs.join(if args.stderr { STDERR_LOG } else { STDOUT_LOG });
    if args.stderr || own.exists() {
        return vec![own];
    }
    let mut workers: Vec<(u64, PathBuf)> = std::fs::read_dir(logs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let n = name
                .to_str()?
                .strip_prefix("worker-")?
                .strip_suffix(".log")?;
            Some((n.parse().ok()?, e.path()))
        })
        .collect();
    workers.sort();
    if workers.is_empty() {
        return vec![own];
    }
    workers.into_iter().map(|(_, p)| p).collect()
}

/// How long a running run may go unheld before `--follow` takes it for ended (its lock file
/// was removed, and the process holding it takes a new one within a second).
const UNHELD_GRACE: Duration = Duration::from_secs(3);

/// What `--follow` has seen of the run's holder.
#[derive(Default)]
struct Watch {
    unheld_since: Option<std::time::Instant>,
}

impl Watch {
    /// Whether nothing will write to the run's logs any more: no process holds the run, and
    /// it is neither a run whose command is about to start nor one still `running` whose
    /// holder may be taking its lock again.
    fn finished(
        &mut self,
        project: &crate::project::Project,
        store: &Store,
        row: &RunRow,
    ) -> Result<bool> {
        let locks = project.state_dir().join("locks");
        if crate::lock::holder_of(&locks, &row.id).is_some() {
            self.unheld_since = None;
            return Ok(false);
        }
        let unheld = *self
            .unheld_since
            .get_or_insert_with(std::time::Instant::now);
        let now = store.run_by_id(&row.id)?.unwrap_or_else(|| row.clone());
        let status = now.status.known();
        // A run just made by `new -- CMD` holds its lock a moment after its record appears.
        let starting = status == Some(RunStatus::Created)
            && now.command.is_some()
            && now.started_at.is_none()
            && recently(&now.created_at);
        let regaining = status == Some(RunStatus::Running) && unheld.elapsed() < UNHELD_GRACE;
        Ok(!starting && !regaining)
    }
}

/// Whether a stored time is less than ten seconds ago.
fn recently(at: &str) -> bool {
    at.parse::<jiff::Timestamp>().is_ok_and(|t| {
        jiff::Timestamp::now().duration_since(t) < jiff::SignedDuration::from_secs(10)
    })
}

fn missing(row: &RunRow, logs: &Path, args: &LogsArgs) -> CliError {
    let what = match (args.worker, args.stderr) {
        (Some(n), _) => format!("log of worker {n}"),
        (None, true) => "stderr log".to_string(),
        (None, false) => "logs".to_string(),
    };
    CliError::not_found(format!(
        "run {} has no {what} in {}",
        row.name,
        logs.display()
    ))
    .hint("runctl keeps the output of 'runctl new ... -- CMD' (unless --no-log) and each batch worker's stderr (--worker N)")
}

/// One log file, read from where the last read stopped; a file that does not exist yet reads
/// as empty, and one that was truncated is read again from its start.
struct Reader {
    path: PathBuf,
    offset: u64,
}

impl Reader {
    fn new(path: PathBuf) -> Reader {
        Reader { path, offset: 0 }
    }

    /// Bytes there are to read (all of them again when the file was truncated).
    fn pending(&mut self) -> u64 {
        // The link itself, not what a link planted at the log's name points to.
        let len = std::fs::symlink_metadata(&self.path)
            .ok()
            .filter(|m| m.is_file())
            .map_or(0, |m| m.len());
        if len < self.offset {
            self.offset = 0;
        }
        len - self.offset
    }

    /// Copy what was added since the last copy to `out`, in pieces (a log may be larger than
    /// memory); false when `out` was closed.
    fn copy_to(&mut self, out: &mut impl Write) -> Result<bool> {
        let cannot = |e: std::io::Error| {
            CliError::general(format!("cannot read {}", self.path.display())).cause(e)
        };
        use std::os::unix::fs::OpenOptionsExt;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&self.path);
        let mut file = match opened {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(cannot(e)),
        };
        file.seek(SeekFrom::Start(self.offset)).map_err(cannot)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(cannot(e)),
            };
            if out.write_all(&buf[..n]).is_err() {
                return Ok(false);
            }
            self.offset += n as u64;
        }
        Ok(out.flush().is_ok())
    }
}
