//! The one error type the CLI reports, its exit codes, and the one place that prints it.
//!
//! Layers below (`store`, `project`, `runs`, `lock`, `work`, `legacy_runs`, pure modules) have
//! their own `thiserror` enums; they convert into [`CliError`] in `layers.rs`, choosing the
//! [`Kind`] (mapped to DESIGN.md's exit codes) and the hints by variant. A [`CliError`] carries
//! the message, the chain of causes and the hints. Nothing else in runctl prints an `error:` line.

mod layers;

use std::fmt;
use std::io::{self, Write};

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Exit 1: anything that is not one of the kinds below.
    General,
    /// Exit 2: the command line itself is wrong.
    Usage,
    /// Exit 3: a name or index is taken, a lock is held, a checksum drifted, a hash collided.
    Conflict,
    /// Exit 4: the run, file, hash or plugin asked for does not exist.
    NotFound,
    /// Exit 130: the user pressed Ctrl-C.
    Interrupted,
    /// Exit 126: a command to run is there but cannot be executed (as a shell reports it).
    CannotExecute,
    /// Exit 127: a command to run is not there (as a shell reports it).
    CommandNotFound,
    /// stdout was closed by the reader (`runctl plugins | head -1`): exit 0, print nothing.
    BrokenPipe,
}

impl Kind {
    /// The process exit code for this kind, as DESIGN.md section 2 fixes it.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::General => 1,
            Kind::Usage => 2,
            Kind::Conflict => 3,
            Kind::NotFound => 4,
            Kind::Interrupted => 130,
            Kind::CannotExecute => 126,
            Kind::CommandNotFound => 127,
            Kind::BrokenPipe => 0,
        }
    }
}

/// An error on its way to the user: `error: <message>`, then `caused by:` and `hint:` lines.
#[derive(Debug)]
pub struct CliError {
    pub kind: Kind,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        CliError {
            kind,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
        }
    }

    /// An error of a layer below, as `kind`: its message, then each error of its source
    /// chain as a `caused by:` line.
    pub fn chain(kind: Kind, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut out = Self::new(kind, err.to_string());
        let mut source = err.source();
        while let Some(cause) = source {
            out.causes.push(cause.to_string());
            source = cause.source();
        }
        out
    }

    pub fn general(message: impl Into<String>) -> Self {
        Self::new(Kind::General, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }

    pub fn interrupted() -> Self {
        Self::new(Kind::Interrupted, "interrupted")
    }

    /// An I/O failure while doing `what` on `path`; a closed stdout becomes [`Kind::BrokenPipe`].
    pub fn io(what: impl fmt::Display, path: &std::path::Path, err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(format!("cannot {what} {}", path.display())).cause(err)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// Print the error to stderr, coloured when `color` is true. Quiet for a broken pipe.
    pub fn report(&self, color: bool) {
        if self.kind == Kind::BrokenPipe {
            return;
        }
        let mut err = io::stderr().lock();
        let (red, yellow, reset) = if color {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            let yellow = anstyle::AnsiColor::Yellow.on_default().bold();
            (
                red.render().to_string(),
                yellow.render().to_string(),
                anstyle::Reset.render().to_string(),
            )
        } else {
            (String::new(), String::new(), String::new())
        };
        // Ignore failures: there is nowhere left to report them.
        // A message may quote what it was given (a path, a name): nothing in it drives the
        // terminal.
        let shown = crate::text::printable_lines;
        let _ = writeln!(err, "{red}error:{reset} {}", shown(&self.message));
        for cause in &self.causes {
            let _ = writeln!(err, "caused by: {}", shown(cause));
        }
        for hint in &self.hints {
            let _ = writeln!(err, "{yellow}hint:{reset} {}", shown(hint));
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        if err.kind() == io::ErrorKind::BrokenPipe {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(err.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(err: serde_json::Error) -> Self {
        if err.io_error_kind() == Some(io::ErrorKind::BrokenPipe) {
            return Self::new(Kind::BrokenPipe, "broken pipe");
        }
        Self::general(format!("cannot write JSON: {err}"))
    }
}

/// Replace Rust's panic message (and any backtrace that `RUST_BACKTRACE` would add) by one
/// `error:` line. A panic is a bug in runctl; the user gets a clear line, never a trace.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        crate::say!("error: internal error: {payload}{location}");
        crate::say!(
            "hint: this is a bug in runctl; please report it with the command that caused it"
        );
    }));
}
