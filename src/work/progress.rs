//! Progress of a pass: an indicatif bar on a terminal, a plain line at an interval otherwise
//! (10 s; `RUNCTL_PROGRESS_SECS` changes it), nothing when quiet. Both show the same status,
//! worded in `text.rs`. Always on stderr; notes are silent when quiet, warnings are not.

pub mod text;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    /// A line at this interval.
    Lines(Duration),
    Quiet,
}

impl Style {
    /// The bar on a terminal, else lines, unless quiet.
    pub fn detect(quiet: bool) -> Style {
        use std::io::IsTerminal;
        if quiet {
            Style::Quiet
        } else if std::io::stderr().is_terminal() {
            Style::Bar
        } else {
            let secs = std::env::var("RUNCTL_PROGRESS_SECS")
                .ok()
                .and_then(|v| v.parse::<f64>().ok())
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .unwrap_or(Duration::from_secs(10));
            Style::Lines(secs)
        }
    }
}

/// Prints notes and warnings without tearing the bar; cheap to clone into other threads.
#[derive(Debug, Clone)]
pub struct Notifier {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Notifier {
    /// A warning (shown even when quiet).
    pub fn warn(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| crate::say!("{message}")),
            None => crate::say!("{message}"),
        }
    }

    /// A note (silent when quiet).
    pub fn note(&self, message: &str) {
        if !self.quiet {
            self.warn(message);
        }
    }
}

/// The display, owned by the recorder thread.
#[derive(Debug)]
pub struct Display {
    style: Style,
    bar: Option<ProgressBar>,
    total: u64,
    done: u64,
    /// Shared with the bar, which words its status as it draws.
    errors: Arc<AtomicU64>,
    start: Instant,
    last_line: Instant,
}

impl Display {
    pub fn new(style: Style, total: u64) -> Display {
        let errors = Arc::new(AtomicU64::new(0));
        let bar = (style == Style::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let shown = Arc::clone(&errors);
            let status = move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let counts = text::Counts {
                    done: state.pos(),
                    total: state.len().unwrap_or(0),
                    errors: shown.load(Ordering::Relaxed),
                    elapsed: state.elapsed(),
                };
                let _ = w.write_str(&text::status(&counts, &jiff::ZonedDateTime::now()));
            };
            // The bar takes what the status leaves of the terminal's width.
            let style = ProgressStyle::with_template("{wide_bar} {status}")
                .map(|s| s.with_key("status", status))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Display {
            style,
            bar,
            total,
            done: 0,
            errors,
            start: Instant::now(),
            last_line: Instant::now(),
        }
    }

    pub fn notifier(&self) -> Notifier {
        Notifier {
            bar: self.bar.clone(),
            quiet: self.style == Style::Quiet,
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// One more result.
    pub fn result(&mut self, ok: bool) {
        self.done += 1;
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Results counted so far.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The run's own count since the pass began, when other processes record into it too
    /// (members of one pass): what is shown is run-wide, never below this process's own.
    pub fn catch_up(&mut self, done: u64, errors: u64) {
        if done > self.done {
            if let Some(bar) = &self.bar {
                bar.inc(done - self.done);
            }
            self.done = done;
        }
        self.errors.fetch_max(errors, Ordering::Relaxed);
    }

    /// Called after each wait or commit: the plain line, when it is due.
    pub fn tick(&mut self) {
        let Style::Lines(every) = self.style else {
            return;
        };
        if self.last_line.elapsed() < every {
            return;
        }
        self.last_line = Instant::now();
        let counts = text::Counts {
            done: self.done,
            total: self.total,
            errors: self.errors.load(Ordering::Relaxed),
            elapsed: self.start.elapsed(),
        };
        let now = jiff::ZonedDateTime::now();
        crate::say!("progress: {}", text::status(&counts, &now));
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
