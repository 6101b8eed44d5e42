//! A pass's errors in words, for its summary: how many failed for each reason, with the exit
//! codes of those that exited non-zero (`3 exited non-zero (2 x code 2, 1 x code 1)`). An error
//! that a stream worker answered has no exit code and is counted apart, in words with no number
//! that could read as one.

use crate::state::ErrorCategory;
use crate::work;

/// Exit codes named one by one, at most; the rest are `...`.
const CODES_SHOWN: usize = 3;

/// `3 exited non-zero (code 2), 1 answered an error, 1 timed out`: one phrase per reason, in
/// the order of the categories.
pub(super) fn phrases(summary: &work::Summary) -> Vec<String> {
    let mut out = Vec::new();
    for (category, n) in &summary.errors {
        match category {
            ErrorCategory::Exit => out.extend(exit_phrases(*n, &summary.exits)),
            other => out.push(category_phrase(*other, *n)),
        }
    }
    for (name, n) in &summary.named_errors {
        out.push(format!("{n} answered {}", crate::text::printable(name)));
    }
    out
}

/// How many items of a pass failed for one reason other than an exit, in words: "4 timed out".
fn category_phrase(category: ErrorCategory, n: u64) -> String {
    let what = match category {
        ErrorCategory::Exit => "exited non-zero",
        ErrorCategory::Signal => "killed by a signal",
        ErrorCategory::Timeout => "timed out",
        ErrorCategory::BadOutput => "with output that is not a result",
        ErrorCategory::Spawn => "could not start",
    };
    format!("{n} {what}")
}

/// The `n` errors of the `exit` category by where they came from: an exit code (non-zero, or
/// a stream worker that exited 0 with items in flight), a stream worker's answer, or neither.
fn exit_phrases(n: u64, exits: &work::Exits) -> Vec<String> {
    let codes: Vec<(i32, u64)> = exits
        .most_common()
        .into_iter()
        .filter(|(code, _)| *code != 0)
        .collect();
    let exited: u64 = codes.iter().map(|(_, k)| k).sum();
    let zero = exits.codes.get(&0).copied().unwrap_or(0);
    let mut out = Vec::new();
    if exited > 0 {
        out.push(format!("{exited} exited non-zero ({})", codes_text(&codes)));
    }
    if zero > 0 {
        out.push(format!(
            "{zero} unanswered when their worker exited with code 0"
        ));
    }
    if exits.answered > 0 {
        out.push(format!("{} answered an error", exits.answered));
    }
    let rest = n.saturating_sub(exited + zero + exits.answered);
    if rest > 0 {
        out.push(format!("{rest} ended without an exit code"));
    }
    out
}

/// `code 2` for one code; `2 x code 2, 1 x code 1` for several, most common first, at most
/// [`CODES_SHOWN`] then `...`.
fn codes_text(codes: &[(i32, u64)]) -> String {
    if let [(code, _)] = codes {
        return format!("code {code}");
    }
    let mut shown: Vec<String> = codes
        .iter()
        .take(CODES_SHOWN)
        .map(|(code, k)| format!("{k} x code {code}"))
        .collect();
    if codes.len() > CODES_SHOWN {
        shown.push("...".to_string());
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        errors: &[(ErrorCategory, u64)],
        codes: &[(i32, u64)],
        answered: u64,
    ) -> work::Summary {
        work::Summary {
            errors: errors.iter().copied().collect(),
            exits: work::Exits {
                codes: codes.iter().copied().collect(),
                answered,
            },
            ..work::Summary::default()
        }
    }

    #[test]
    fn exit_errors_name_their_codes_most_common_first_and_answers_apart() {
        use ErrorCategory::{Exit, Timeout};
        let cases: [(work::Summary, &str); 6] = [
            (
                summary(&[(Exit, 4)], &[(2, 4)], 0),
                "4 exited non-zero (code 2)",
            ),
            (
                summary(&[(Exit, 4), (Timeout, 1)], &[(1, 1), (2, 3)], 0),
                "4 exited non-zero (3 x code 2, 1 x code 1), 1 timed out",
            ),
            (
                summary(&[(Exit, 9)], &[(1, 1), (2, 2), (3, 1), (4, 5)], 0),
                "9 exited non-zero (5 x code 4, 2 x code 2, 1 x code 1, ...)",
            ),
            (summary(&[(Exit, 2)], &[], 2), "2 answered an error"),
            (
                summary(&[(Exit, 5)], &[(0, 1), (-1, 1)], 2),
                "1 exited non-zero (code -1), 1 unanswered when their worker exited with code 0, \
                 2 answered an error, 1 ended without an exit code",
            ),
            // Counts that disagree (more codes than errors) still read.
            (
                summary(&[(Exit, 1)], &[(2, 3)], 0),
                "3 exited non-zero (code 2)",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(phrases(&s).join(", "), want);
        }
    }
}
