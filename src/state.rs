//! The typed states of runctl's records: a run's status, a result's status, why an item
//! failed, and a model version's status.
//!
//! Each is an enum with exactly one text spelling, the one stored in the DB and shown in
//! `--json` (docs/json.md): `as_str` and `parse` are the only mapping between the two, serde
//! uses the same words, and the store converts them at its edge (`store/state_sql.rs`), so no
//! status travels as a string literal. Pure: no I/O.

use std::fmt;

/// Declares a state enum with its one spelling per variant, and the conversions every state
/// shares (text, `Display`, serde).
macro_rules! state {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The one spelling of this state, as stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The state a text names, spelled exactly as [`Self::as_str`] writes it.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl State for $name {
            fn parse(text: &str) -> Option<Self> {
                $name::parse(text)
            }
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    let known: Vec<&str> = $name::ALL.iter().map(|s| s.as_str()).collect();
                    serde::de::Error::custom(format!(
                        "unknown {} {text:?} (known: {})",
                        stringify!($name),
                        known.join(", ")
                    ))
                })
            }
        }
    };
}

/// What every state enum can do: be read from and written as its one spelling.
pub trait State: Copy {
    fn parse(text: &str) -> Option<Self>;
    fn as_str(self) -> &'static str;
}

/// A state as the DB holds it: one this runctl knows, or the text of one it does not, kept
/// and shown as it is. Model versions imported before statuses were checked can hold any
/// text, `record` keeps a category a worker names, and a hand-edited DB can hold anything;
/// such a row is listed, shown and exported as it always was, and hides no other row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored<T> {
    Known(T),
    Unknown(String),
}

impl<T: State> Stored<T> {
    /// The text as stored.
    pub fn parse(text: &str) -> Stored<T> {
        T::parse(text).map_or_else(|| Stored::Unknown(text.to_string()), Stored::Known)
    }

    /// The state, when it is one this runctl knows.
    pub fn known(&self) -> Option<T> {
        match self {
            Stored::Known(s) => Some(*s),
            Stored::Unknown(_) => None,
        }
    }

    /// The text as stored and shown.
    pub fn as_str(&self) -> &str {
        match self {
            Stored::Known(s) => s.as_str(),
            Stored::Unknown(text) => text,
        }
    }
}

impl<T> From<T> for Stored<T> {
    fn from(state: T) -> Self {
        Stored::Known(state)
    }
}

impl<T: State> fmt::Display for Stored<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: State> serde::Serialize for Stored<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

state! {
    /// Where a run is in its life. Whether it was superseded by `new --force` is a flag beside
    /// this, not a status: a superseded run keeps the status it had.
    RunStatus {
        /// Allocated; nothing has run yet.
        Created = "created",
        /// Its command or a pass over its items has started and not ended.
        Running = "running",
        /// Its command exited 0, or every item is ok.
        Completed = "completed",
        /// Every item has a result and some are errors (`resume --retry-errors` may mend them).
        CompletedWithErrors = "completed_with_errors",
        /// Its command exited non-zero or could not start, or a pass ended with failed items.
        Failed = "failed",
        /// Stopped by SIGINT/SIGTERM before it ended.
        Interrupted = "interrupted",
        /// Adopted by `migrate runs` from a folder made before runctl kept records.
        Migrated = "migrated",
    }
}

state! {
    /// The recorded result of one work item.
    ResultStatus {
        /// The worker produced an output.
        Ok = "ok",
        /// Every attempt failed; the error and its category are kept.
        Error = "error",
    }
}

state! {
    /// Why an attempt failed: the `error_category` of the ledger.
    ErrorCategory {
        /// The worker exited with a non-zero code, or answered with an error.
        Exit = "exit",
        /// The worker was killed by a signal.
        Signal = "signal",
        /// The item ran past `--timeout`.
        Timeout = "timeout",
        /// The worker's output could not be read as a result.
        BadOutput = "bad-output",
        /// The worker could not be started.
        Spawn = "spawn",
    }
}

state! {
    /// Where a model version is: registered, training, its artifact published, or failed.
    VersionStatus {
        Pending = "pending",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_its_own_spelling_and_nothing_else() {
        fn check<T: Copy + PartialEq + fmt::Debug>(
            all: &[T],
            text: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &s in all {
                assert_eq!(parse(text(s)), Some(s));
                assert_eq!(parse(&text(s).to_uppercase()), None);
            }
            assert_eq!(parse(""), None);
        }
        check(RunStatus::ALL, RunStatus::as_str, RunStatus::parse);
        check(ResultStatus::ALL, ResultStatus::as_str, ResultStatus::parse);
        check(
            ErrorCategory::ALL,
            ErrorCategory::as_str,
            ErrorCategory::parse,
        );
        check(
            VersionStatus::ALL,
            VersionStatus::as_str,
            VersionStatus::parse,
        );
    }

    #[test]
    fn a_stored_text_no_state_spells_is_kept_as_it_is() {
        let known: Stored<VersionStatus> = Stored::parse("failed");
        assert_eq!(known.known(), Some(VersionStatus::Failed));
        let odd: Stored<VersionStatus> = Stored::parse("done");
        assert_eq!((odd.known(), odd.as_str()), (None, "done"));
        assert_eq!(serde_json::to_string(&odd).unwrap(), "\"done\"");
    }

    #[test]
    fn serde_uses_the_same_words() {
        assert_eq!(
            serde_json::to_string(&ErrorCategory::BadOutput).unwrap(),
            "\"bad-output\""
        );
        let s: RunStatus = serde_json::from_str("\"interrupted\"").unwrap();
        assert_eq!(s, RunStatus::Interrupted);
        let err = serde_json::from_str::<VersionStatus>("\"done\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("known: pending, running, completed, failed")
        );
    }
}
