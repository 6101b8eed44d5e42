//! A failed attempt: the category stored with its result, its message, and where it came from
//! (the exit code of the process that ended it, or a stream worker's answer), and the counts of
//! those origins that a pass keeps for its summary. The origin is not stored: it is in the
//! message (`exit code 2`), and the summary only needs it for the pass at hand.

use std::collections::BTreeMap;

use crate::state::{ErrorCategory, Stored};

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// One of runctl's categories, or the one a stream worker named (`http-429`).
    pub category: Stored<ErrorCategory>,
    pub message: String,
    pub origin: Origin,
}

impl Failure {
    /// A failure with no exit code to tell (a signal, a timeout, bad output, a spawn error).
    pub fn new(category: ErrorCategory, message: String) -> Failure {
        Failure {
            category: category.into(),
            message,
            origin: Origin::Other,
        }
    }

    /// The worker process exited with `code`.
    pub fn exited(code: i32, message: String) -> Failure {
        Failure {
            category: ErrorCategory::Exit.into(),
            message,
            origin: Origin::Code(code),
        }
    }

    /// The worker process was killed by `signal`.
    pub fn signaled(signal: i32, message: String) -> Failure {
        Failure {
            category: ErrorCategory::Signal.into(),
            message,
            origin: Origin::Signal(signal),
        }
    }

    /// Whether the worker was killed by a signal that stops a job (SIGTERM, SIGINT, SIGHUP,
    /// SIGKILL): during an interrupted pass it came with runctl's own (a scheduler such as
    /// Slurm signals every process of a preempted job), so the item is not the worker's
    /// failure: it is left without a result, as the other items not done.
    pub fn stopped_with_the_job(&self) -> bool {
        use nix::sys::signal::Signal;
        let stops = [
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGKILL,
        ];
        matches!(self.origin, Origin::Signal(s) if stops.iter().any(|x| *x as i32 == s))
    }

    /// A stream worker answered the item with an error, in `category`.
    pub fn answered(category: Stored<ErrorCategory>, message: String) -> Failure {
        Failure {
            category,
            message,
            origin: Origin::Answered,
        }
    }
}

/// Where a failure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The worker process exited with this code (for a stream worker: while it held the item).
    Code(i32),
    /// A stream worker answered the item with an error line: there is no exit code.
    Answered,
    /// The worker process was killed by this signal.
    Signal(i32),
    /// Anything else.
    Other,
}

/// Of a pass's errors in the `exit` category: how many ended with each exit code, and how many
/// a stream worker answered with an error. The rest of them ended without an exit code (a worker
/// that runctl lost track of).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exits {
    pub codes: BTreeMap<i32, u64>,
    pub answered: u64,
}

impl Exits {
    /// Count one recorded error.
    pub(crate) fn count(&mut self, category: ErrorCategory, origin: Origin) {
        if category != ErrorCategory::Exit {
            return;
        }
        match origin {
            Origin::Code(code) => *self.codes.entry(code).or_default() += 1,
            Origin::Answered => self.answered += 1,
            Origin::Signal(_) | Origin::Other => {}
        }
    }

    /// The exit codes by how often they came, most common first (ties by code).
    pub fn most_common(&self) -> Vec<(i32, u64)> {
        let mut all: Vec<(i32, u64)> = self.codes.iter().map(|(c, n)| (*c, *n)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exit_errors_are_counted_by_origin_most_common_code_first() {
        let mut exits = Exits::default();
        for (category, origin) in [
            (ErrorCategory::Exit, Origin::Code(1)),
            (ErrorCategory::Exit, Origin::Code(2)),
            (ErrorCategory::Exit, Origin::Code(2)),
            (ErrorCategory::Exit, Origin::Code(-3)),
            (ErrorCategory::Exit, Origin::Answered),
            (ErrorCategory::Exit, Origin::Other),
            (ErrorCategory::Timeout, Origin::Answered),
            (ErrorCategory::Signal, Origin::Other),
        ] {
            exits.count(category, origin);
        }
        assert_eq!(exits.most_common(), [(2, 2), (-3, 1), (1, 1)]);
        assert_eq!(exits.answered, 1);
    }
}
