//! The rules of tags and notes: a tag is `KEY=VALUE` with a key of letters, digits and
//! `_ . - / :` (at most 128 bytes) and a value of at most 1,024 bytes without control
//! characters; a note is text of at most 64 KiB. Pure: nothing here touches the store.

/// The longest tag key, in bytes.
pub const MAX_KEY: usize = 128;
/// The longest tag value, in bytes.
pub const MAX_VALUE: usize = 1024;
/// The longest note, in bytes.
pub const MAX_NOTE: usize = 64 * 1024;

/// Why a tag or a note is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    #[error("tag '{0}' has no '=': give KEY=VALUE")]
    NoEquals(String),
    #[error("tag '{0}' has an empty key")]
    EmptyKey(String),
    #[error("tag key '{0}' may hold only letters, digits and _ . - / :")]
    BadKey(String),
    #[error("tag key '{key}' is {len} bytes; at most {MAX_KEY}")]
    LongKey { key: String, len: usize },
    #[error("the value of tag '{key}' is {len} bytes; at most {MAX_VALUE}")]
    LongValue { key: String, len: usize },
    #[error("the value of tag '{0}' holds a control character (a newline, a tab, an escape)")]
    ControlInValue(String),
    #[error("the note is empty")]
    EmptyNote,
    #[error("the note is {0} bytes; at most {MAX_NOTE}")]
    LongNote(usize),
}

/// A tag key's shape (also for `--delete KEY` and `list --tag KEY=VALUE`).
pub fn check_key(key: &str) -> Result<(), AnnotationError> {
    if key.is_empty() {
        return Err(AnnotationError::EmptyKey(key.to_string()));
    }
    if key.len() > MAX_KEY {
        return Err(AnnotationError::LongKey {
            key: shown(key),
            len: key.len(),
        });
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || "_.-/:".contains(c))
    {
        return Err(AnnotationError::BadKey(shown(key)));
    }
    Ok(())
}

/// `KEY=VALUE` (split at the first `=`; the value may be empty).
pub fn parse_tag(text: &str) -> Result<(String, String), AnnotationError> {
    let Some((key, value)) = text.split_once('=') else {
        return Err(AnnotationError::NoEquals(shown(text)));
    };
    if key.is_empty() {
        return Err(AnnotationError::EmptyKey(shown(text)));
    }
    check_key(key)?;
    if value.len() > MAX_VALUE {
        return Err(AnnotationError::LongValue {
            key: key.to_string(),
            len: value.len(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(AnnotationError::ControlInValue(key.to_string()));
    }
    Ok((key.to_string(), value.to_string()))
}

/// A note's text, trimmed of surrounding blank space.
pub fn check_note(text: &str) -> Result<String, AnnotationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AnnotationError::EmptyNote);
    }
    if text.len() > MAX_NOTE {
        return Err(AnnotationError::LongNote(text.len()));
    }
    Ok(text.to_string())
}

/// At most 60 characters of what the user typed, for a message.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push_str("...");
    }
    crate::text::printable(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_at_the_first_equals() {
        assert_eq!(parse_tag("lr=0.1").unwrap(), ("lr".into(), "0.1".into()));
        assert_eq!(
            parse_tag("expr=a=b").unwrap(),
            ("expr".into(), "a=b".into())
        );
        assert_eq!(
            parse_tag("empty=").unwrap(),
            ("empty".into(), String::new())
        );
        assert_eq!(parse_tag("team/owner:x=é").unwrap().0, "team/owner:x");
    }

    #[test]
    fn bad_tags_are_refused() {
        assert!(matches!(
            parse_tag("novalue"),
            Err(AnnotationError::NoEquals(_))
        ));
        assert!(matches!(parse_tag("=v"), Err(AnnotationError::EmptyKey(_))));
        assert!(matches!(
            parse_tag("a b=v"),
            Err(AnnotationError::BadKey(_))
        ));
        assert!(matches!(
            parse_tag("k=a\nb"),
            Err(AnnotationError::ControlInValue(_))
        ));
        assert!(matches!(
            parse_tag("k=\u{1b}[31m"),
            Err(AnnotationError::ControlInValue(_))
        ));
        let long_key = format!("{}=v", "k".repeat(MAX_KEY + 1));
        assert!(matches!(
            parse_tag(&long_key),
            Err(AnnotationError::LongKey { .. })
        ));
        let long_value = format!("k={}", "v".repeat(MAX_VALUE + 1));
        assert!(matches!(
            parse_tag(&long_value),
            Err(AnnotationError::LongValue { .. })
        ));
        assert!(parse_tag(&format!("k={}", "v".repeat(MAX_VALUE))).is_ok());
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(check_note("  baseline \n").unwrap(), "baseline");
        assert_eq!(check_note(" \n\t"), Err(AnnotationError::EmptyNote));
        assert!(matches!(
            check_note(&"x".repeat(MAX_NOTE + 1)),
            Err(AnnotationError::LongNote(_))
        ));
        assert!(check_note("line one\nline two").is_ok());
    }
}
