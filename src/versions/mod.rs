//! Model versions, pure: artifact-name templates (format and parse back) here, a bucket
//! listing's entries in `listing` and the sync plan over them in `sync`, the versions JSON file
//! in `file`, and in `check` the one validation every version passes on its way in. No I/O, no
//! SQL.
//!
//! Sync matching follows docs/versions.md: for each artifact, first a version of that name that
//! still needs its artifact (pending, failed, or without URL); then one already synced to it (by
//! URL, then by file name, then by id); only when nothing matched, a new completed version.

mod check;
mod file;
mod listing;
mod sync;

pub use crate::state::VersionStatus;
pub use check::{
    Invalid, MAX_ARTIFACT_NAME, NewVersion, VersionDraft, check_family, check_job_id, check_name,
    check_text, check_url, check_url_base, parse_status, printable,
};
pub use file::{FileVersion, VersionsFile, duplicate_pairs, entry_draft, entry_identity};
pub use listing::{ListingEntry, parse_listing_line};
pub use sync::{Ambiguity, SyncAction, SyncOptions, SyncPlan, VersionView, plan_sync};

/// Description of versions created by `version sync`.
pub const SYNCED_DESCRIPTION: &str = "synced from storage";

/// A field of an artifact-name template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Family,
    Version,
}

/// An artifact-name template such as `{family}_v{version}.safetensors`, checked to parse back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    prefix: String,
    first: Field,
    middle: String,
    suffix: String,
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("artifact template '{template}' cannot be used: {reason}")]
pub struct TemplateError {
    pub template: String,
    pub reason: String,
}

impl Template {
    /// Check and compile a template: exactly one `{family}` and one `{version}`, separated by
    /// literal text, ending in a literal extension, with no `/` and no other `{...}`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let refuse = |reason: &str| TemplateError {
            template: text.to_string(),
            reason: reason.to_string(),
        };
        let (pieces, fields) = split_fields(text).map_err(|reason| refuse(&reason))?;
        if pieces.iter().any(|p| p.contains('}')) {
            return Err(refuse("a '}' has no matching '{'"));
        }
        let [first, second] = fields[..] else {
            return Err(refuse("it needs {family} and {version}, once each"));
        };
        if first == second {
            return Err(refuse("it needs {family} and {version}, once each"));
        }
        let [prefix, middle, suffix] = pieces[..] else {
            return Err(refuse("it needs {family} and {version}, once each"));
        };
        if middle.is_empty() {
            return Err(refuse(
                "{family} and {version} need literal text between them, or a name cannot be split back",
            ));
        }
        if suffix.is_empty() {
            return Err(refuse(
                "it must end in a literal extension such as .safetensors",
            ));
        }
        if text.contains('/') {
            return Err(refuse("it names a file, so it cannot contain '/'"));
        }
        Ok(Template {
            text: text.to_string(),
            prefix: prefix.to_string(),
            first,
            middle: middle.to_string(),
            suffix: suffix.to_string(),
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this version name can be parsed back out of a formatted file name.
    pub fn allows_version(&self, version: &str) -> Result<(), String> {
        if version.is_empty() {
            return Err("cannot be empty".into());
        }
        if version.contains('/') {
            return Err("cannot contain '/'".into());
        }
        // The separator must appear exactly once where the version meets it, or the split
        // point of a formatted name would be ambiguous.
        let joined = match self.first {
            Field::Family => format!("{}{version}", self.middle),
            Field::Version => format!("{version}{}", self.middle),
        };
        if overlaps(&joined, &self.middle) {
            return Err(format!(
                "runs into '{}', the template's separator, so its file name could not be parsed back",
                self.middle
            ));
        }
        Ok(())
    }

    /// Whether this family name can be parsed back out of a formatted file name.
    pub fn allows_family(&self, family: &str) -> Result<(), String> {
        if family.is_empty() || family.contains('/') {
            return Err("must be non-empty and cannot contain '/'".into());
        }
        Ok(())
    }

    /// The artifact file name of a version.
    pub fn format(&self, family: &str, version: &str) -> String {
        let (a, b) = match self.first {
            Field::Family => (family, version),
            Field::Version => (version, family),
        };
        format!("{}{a}{}{b}{}", self.prefix, self.middle, self.suffix)
    }

    /// Family and version of an artifact file name, or `None` when it does not fit. The
    /// version never contains the separator, so the split is at the separator nearest to it.
    pub fn parse_name<'a>(&self, file: &'a str) -> Option<(&'a str, &'a str)> {
        let inner = file
            .strip_prefix(&self.prefix)?
            .strip_suffix(&self.suffix)?;
        let (a, b) = match self.first {
            Field::Family => inner.rsplit_once(&self.middle)?,
            Field::Version => inner.split_once(&self.middle)?,
        };
        let (family, version) = match self.first {
            Field::Family => (a, b),
            Field::Version => (b, a),
        };
        (!family.is_empty() && !version.is_empty()).then_some((family, version))
    }
}

/// The literal pieces of a template and the `{...}` fields between them, in order; or why
/// they cannot be told apart.
fn split_fields(text: &str) -> Result<(Vec<&str>, Vec<Field>), String> {
    let mut pieces = Vec::new();
    let mut fields = Vec::new();
    let mut rest = text;
    loop {
        let Some(open) = rest.find('{') else {
            pieces.push(rest);
            break;
        };
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| "a '{' is not closed".to_string())?;
        pieces.push(&rest[..open]);
        fields.push(match &rest[open + 1..close] {
            "family" => Field::Family,
            "version" => Field::Version,
            other => {
                return Err(format!(
                    "unknown field {{{other}}}; use {{family}} and {{version}}"
                ));
            }
        });
        rest = &rest[close + 1..];
    }
    Ok((pieces, fields))
}

/// Whether `needle` occurs in `hay` at more than one position, overlapping occurrences included.
fn overlaps(hay: &str, needle: &str) -> bool {
    (0..hay.len())
        .filter(|&i| hay.is_char_boundary(i) && hay[i..].starts_with(needle))
        .count()
        > 1
}

/// The number of a `V<n>` name, for every `n` SQLite can store (up to `i64::MAX`): the next
/// `version new` takes the largest plus one, so a name whose number is not counted would be
/// handed out again.
pub fn version_number(name: &str) -> Option<i64> {
    let digits = name.strip_prefix('V').or_else(|| name.strip_prefix('v'))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether `text` starts with a URL scheme (`s3://`, `https://`): a URL, not a bare key.
pub fn has_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// The last path segment of a key or URL, without a query or fragment.
pub fn file_name(key_or_url: &str) -> &str {
    let end = key_or_url.find(['?', '#']).unwrap_or(key_or_url.len());
    let path = &key_or_url[..end];
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn default_template() -> Template {
        Template::parse("{family}_v{version}.safetensors").unwrap()
    }

    #[test]
    fn the_default_template_round_trips_the_seed() {
        let t = default_template();
        assert_eq!(t.format("style_1", "V8"), "style_1_vV8.safetensors");
        assert_eq!(
            t.parse_name("style_1_vV8.safetensors"),
            Some(("style_1", "V8"))
        );
        assert_eq!(
            t.parse_name("style_100_vV2.safetensors"),
            Some(("style_100", "V2"))
        );
        assert_eq!(t.parse_name("a_vb_vV3.safetensors"), Some(("a_vb", "V3")));
        assert_eq!(t.parse_name("style_1_vV8.ckpt"), None);
        assert_eq!(t.parse_name("readme.safetensors"), None);
        assert_eq!(t.parse_name("_vV8.safetensors"), None);
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        for (text, reason) in [
            ("{family}{version}.pt", "literal text between"),
            ("{family}_v{version}", "literal extension"),
            ("{family}.pt", "once each"),
            ("{family}_{family}.pt", "once each"),
            ("{family}_{tag}_{version}.pt", "unknown field"),
            ("{family}_v{version.pt", "not closed"),
            ("dir/{family}_v{version}.pt", "'/'"),
            ("{family}_v}{version}.pt", "no matching"),
        ] {
            let err = Template::parse(text).unwrap_err();
            assert!(err.reason.contains(reason), "{text}: {}", err.reason);
        }
        let t = Template::parse("lora-{version}--{family}.bin").unwrap();
        assert_eq!(t.parse_name(&t.format("a--b", "V2")), Some(("a--b", "V2")));
    }

    proptest! {
        #[test]
        fn templates_round_trip(
            prefix in "[a-z_.-]{0,4}",
            middle in "[a-z_.:-]{1,4}",
            ext in "\\.[a-z0-9]{1,12}",
            family_first in any::<bool>(),
            family in "[A-Za-z0-9_.:-]{1,30}",
            version in "[A-Za-z0-9_.:-]{1,12}",
        ) {
            let text = if family_first {
                format!("{prefix}{{family}}{middle}{{version}}{ext}")
            } else {
                format!("{prefix}{{version}}{middle}{{family}}{ext}")
            };
            let t = Template::parse(&text).unwrap();
            prop_assume!(t.allows_family(&family).is_ok() && t.allows_version(&version).is_ok());
            let file = t.format(&family, &version);
            prop_assert_eq!(t.parse_name(&file), Some((family.as_str(), version.as_str())), "{}", file);
        }
    }
}
