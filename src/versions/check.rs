//! The one check every version passes on its way into the registry, whichever door it comes
//! through (`version new`, the webhook updates, `version import`, `version sync`): names the
//! template parses back and that are safe to print and to use as a file name, a known status,
//! bounded text without control characters. Pure; the callers choose the exit code or skip.
//!
//! Also [`printable`], which escapes what an older runctl let into the registry before it
//! reaches a terminal: a check on the way in does not clean rows written before it existed.

use super::{Template, has_scheme};
use crate::state::VersionStatus;
pub use crate::text::{is_hidden, printable};

/// The longest artifact file name, in bytes: what common filesystems allow for one name, and
/// well under S3's 1,024-byte keys.
pub const MAX_ARTIFACT_NAME: usize = 255;
/// The longest etag or timestamp, in bytes.
pub const MAX_SHORT_TEXT: usize = 1024;
/// The longest job id, URL or text, in bytes: what one command-line argument can carry on Linux
/// (MAX_ARG_STRLEN), so whatever `version new --job-id` or `complete --url` can be given is
/// taken, and a file or a listing cannot bring in more.
pub const MAX_ARG: usize = 128 * 1024;
/// The longest artifact URL or key, in bytes.
pub const MAX_URL: usize = MAX_ARG;
/// The longest description or error text, in bytes.
pub const MAX_TEXT: usize = MAX_ARG;

/// A new version to add; `name: None` takes the next `V<n>` of the family. Text fields are
/// as they will be stored; `parameters` is a JSON object's text. The status is a
/// [`VersionStatus`]; a version read from outside (a versions file) is a [`VersionDraft`]
/// first, its status still the text it came with until it is checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewVersion<S = VersionStatus> {
    pub family: String,
    pub name: Option<String>,
    pub job_id: Option<String>,
    pub status: S,
    pub artifact_url: Option<String>,
    pub parameters: Option<String>,
    pub description: Option<String>,
    pub error: Option<String>,
    pub etag: Option<String>,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
    pub created_at: Option<String>,
    pub last_synced: Option<String>,
}

/// A version as a versions file gives it: every field checked as [`NewVersion`]'s are, and the
/// status too, which is still text (`"weird"` is refused by the check, not by the reader).
pub type VersionDraft = NewVersion<String>;

/// Why a value was refused: which field, the value (escaped and shortened for printing), and
/// the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} '{value}' {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        value: shortened(value),
        reason: reason.into(),
    }
}

/// A version is pending until its training job starts.
impl Default for NewVersion {
    fn default() -> NewVersion {
        VersionDraft::default().with_status(VersionStatus::Pending)
    }
}

impl NewVersion {
    /// Every field against its rule; the first that breaks one.
    pub fn check(&self, template: &Template) -> Result<(), Invalid> {
        self.check_identity(template)?;
        self.check_fields()
    }
}

impl VersionDraft {
    /// The version this draft is, once every field passes its rule (in the order
    /// [`NewVersion::check`] takes them, the status after the names); else the first rule
    /// broken.
    pub fn checked(&self, template: &Template) -> Result<NewVersion, Invalid> {
        self.check_identity(template)?;
        let status = parse_status(&self.status)?;
        let new = self.clone().with_status(status);
        new.check_fields()?;
        Ok(new)
    }
}

impl<S> NewVersion<S> {
    /// The same version with another status.
    pub fn with_status<T>(self, status: T) -> NewVersion<T> {
        NewVersion {
            family: self.family,
            name: self.name,
            job_id: self.job_id,
            status,
            artifact_url: self.artifact_url,
            parameters: self.parameters,
            description: self.description,
            error: self.error,
            etag: self.etag,
            size: self.size,
            last_modified: self.last_modified,
            created_at: self.created_at,
            last_synced: self.last_synced,
        }
    }

    /// Family, name and the artifact name they make.
    fn check_identity(&self, template: &Template) -> Result<(), Invalid> {
        check_family(template, &self.family)?;
        if let Some(name) = &self.name {
            check_name(template, name)?;
            check_artifact_name(template, &self.family, name)?;
        }
        Ok(())
    }

    /// Every field after the names and the status.
    fn check_fields(&self) -> Result<(), Invalid> {
        if let Some(job) = &self.job_id {
            check_job_id(job)?;
        }
        if let Some(url) = &self.artifact_url {
            check_url(url)?;
        }
        if let Some(p) = &self.parameters {
            let is_object = serde_json::from_str::<serde_json::Value>(p)
                .is_ok_and(|v: serde_json::Value| v.is_object());
            if !is_object {
                return Err(invalid("parameters", p, "must be a JSON object"));
            }
        }
        for (field, text) in [("description", &self.description), ("error", &self.error)] {
            if let Some(text) = text {
                check_text(field, text)?;
            }
        }
        for (field, text) in [("etag", &self.etag), ("last_modified", &self.last_modified)] {
            if let Some(text) = text {
                check_short(field, text)?;
            }
        }
        for (field, text) in [
            ("timestamp", &self.created_at),
            ("last_synced", &self.last_synced),
        ] {
            if let Some(text) = text {
                check_timestamp(field, text)?;
            }
        }
        if let Some(size) = self.size {
            check_size(size)?;
        }
        Ok(())
    }
}

/// The status a text from outside names, exactly as runctl writes it; else refused with the
/// statuses there are.
pub fn parse_status(text: &str) -> Result<VersionStatus, Invalid> {
    VersionStatus::parse(text).ok_or_else(|| invalid("status", text, status_reason()))
}

fn status_reason() -> String {
    let all: Vec<&str> = VersionStatus::ALL.iter().map(|s| s.as_str()).collect();
    format!("is not a status; use one of {}", all.join(", "))
}

/// The rules every name-like value (family, version name, job id, URL) shares.
fn check_identifier(field: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(invalid(field, value, "cannot be empty"));
    }
    if value.len() > max {
        return Err(invalid(
            field,
            value,
            format!("is {} bytes long; the limit is {max}", value.len()),
        ));
    }
    if let Some(c) = value.chars().find(|&c| is_hidden(c)) {
        return Err(invalid(
            field,
            value,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    if value.trim() != value {
        return Err(invalid(
            field,
            value,
            "starts or ends with white space, which no listing would show",
        ));
    }
    Ok(())
}

/// A family: one path segment (no `/`, not `.` or `..`) the template can parse back.
pub fn check_family(template: &Template, family: &str) -> Result<(), Invalid> {
    check_segment("family", family)?;
    template
        .allows_family(family)
        .map_err(|reason| invalid("family", family, reason))
}

/// A version name: one path segment the template can parse back out of its file name. A name
/// that is itself an artifact file name (`style_1_vV8.safetensors`, how older sync tools named
/// versions) is kept as it is: sync matches such a version by that name.
pub fn check_name(template: &Template, name: &str) -> Result<(), Invalid> {
    check_segment("name", name)?;
    if template.parse_name(name).is_some() {
        return Ok(());
    }
    template
        .allows_version(name)
        .map_err(|reason| invalid("name", name, reason))
}

fn check_segment(field: &'static str, value: &str) -> Result<(), Invalid> {
    check_identifier(field, value, MAX_ARTIFACT_NAME)?;
    if value.contains('/') {
        return Err(invalid(field, value, "cannot contain '/'"));
    }
    if value == "." || value == ".." {
        return Err(invalid(field, value, "cannot be '.' or '..'"));
    }
    Ok(())
}

/// The artifact file name of family and name fits in one file name.
pub fn check_artifact_name(template: &Template, family: &str, name: &str) -> Result<(), Invalid> {
    let file = template.format(family, name);
    if file.len() > MAX_ARTIFACT_NAME {
        return Err(invalid(
            "artifact name",
            &file,
            format!(
                "is {} bytes long; a file name is at most {MAX_ARTIFACT_NAME}",
                file.len()
            ),
        ));
    }
    Ok(())
}

pub fn check_job_id(job: &str) -> Result<(), Invalid> {
    check_identifier("job id", job, MAX_ARG)
}

/// An artifact URL (or the key stored in its place).
pub fn check_url(url: &str) -> Result<(), Invalid> {
    check_identifier("url", url, MAX_URL)
}

/// An object key of a listing.
pub fn check_key(key: &str) -> Result<(), Invalid> {
    check_identifier("key", key, MAX_URL)
}

/// `versions.url_base`: empty for none, else a URL with a scheme (`s3://loras/`) that bare
/// keys are appended to.
pub fn check_url_base(base: &str) -> Result<Option<&str>, Invalid> {
    if base.is_empty() {
        return Ok(None);
    }
    check_identifier("versions.url_base", base, MAX_URL)?;
    if !has_scheme(base) {
        return Err(invalid(
            "versions.url_base",
            base,
            "is not a URL: it needs a scheme such as s3:// or https://",
        ));
    }
    Ok(Some(base))
}

/// Free text (description, error): line breaks and tabs are text; other controls are not.
pub fn check_text(field: &'static str, text: &str) -> Result<(), Invalid> {
    if text.len() > MAX_TEXT {
        return Err(invalid(
            field,
            text,
            format!("is {} bytes long; the limit is {MAX_TEXT}", text.len()),
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|&c| is_hidden(c) && c != '\n' && c != '\t')
    {
        return Err(invalid(
            field,
            text,
            format!("contains the control character U+{:04X}", u32::from(c)),
        ));
    }
    Ok(())
}

/// A short value from a listing (etag, last-modified time): at most [`MAX_SHORT_TEXT`] bytes,
/// no control characters. Empty is allowed: some stores send an empty etag.
pub fn check_short(field: &'static str, text: &str) -> Result<(), Invalid> {
    if text.is_empty() {
        return Ok(());
    }
    check_identifier(field, text, MAX_SHORT_TEXT)
}

/// A time runctl stores and sorts: RFC 3339 (`2025-10-13T19:36:17.724Z`).
pub fn check_timestamp(field: &'static str, text: &str) -> Result<(), Invalid> {
    check_identifier(field, text, MAX_SHORT_TEXT)?;
    text.parse::<jiff::Timestamp>().map(|_| ()).map_err(|_| {
        invalid(
            field,
            text,
            "is not an RFC 3339 time such as 2025-10-13T19:36:17.724Z",
        )
    })
}

pub fn check_size(size: i64) -> Result<(), Invalid> {
    if size < 0 {
        return Err(invalid("size", &size.to_string(), "cannot be negative"));
    }
    Ok(())
}

/// A value for an error message: escaped, and cut to 80 characters so a 10 MB name does not
/// become a 10 MB error.
fn shortened(value: &str) -> String {
    const KEEP: usize = 80;
    let text = printable(value);
    match text.char_indices().nth(KEEP) {
        None => text.into_owned(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], value.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Template {
        Template::parse("{family}_v{version}.safetensors").unwrap()
    }

    fn new(family: &str, name: &str, status: &str) -> VersionDraft {
        VersionDraft {
            family: family.into(),
            name: Some(name.into()),
            status: status.into(),
            ..NewVersion::default()
        }
    }

    fn version(family: &str, name: &str, status: VersionStatus) -> NewVersion {
        NewVersion {
            family: family.into(),
            name: Some(name.into()),
            status,
            ..NewVersion::default()
        }
    }

    #[test]
    fn what_the_issue_found_is_refused() {
        let t = t();
        let reason = |n: VersionDraft| n.checked(&t).unwrap_err().to_string();
        assert_eq!(
            reason(new("style_1", "V1", "weird")),
            "status 'weird' is not a status; use one of pending, running, completed, failed"
        );
        assert_eq!(
            reason(new("../f", "V1", "pending")),
            "family '../f' cannot contain '/'"
        );
        assert_eq!(
            reason(new("f", "x/../../y", "pending")),
            "name 'x/../../y' cannot contain '/'"
        );
        assert_eq!(
            reason(new("st\u{1b}[31myle", "V1", "pending")),
            "family 'st\\u{1b}[31myle' contains the control character U+001B"
        );
        assert!(reason(new("..", "V1", "pending")).contains("'.' or '..'"));
        assert!(reason(new(" a", "V1", "pending")).contains("white space"));
        assert!(reason(new("a", "x_vy", "pending")).contains("parsed back"));
        assert!(reason(new("a\u{202e}b", "V1", "pending")).contains("U+202E"));
        assert!(reason(new("\u{feff}b", "V1", "pending")).contains("U+FEFF"));
        assert!(reason(new("a\u{200b}", "V1", "pending")).contains("U+200B"));
        let long = "f".repeat(10 * 1024 * 1024);
        let err = reason(new(&long, "V1", "pending"));
        assert!(err.len() < 300, "{err}");
        assert!(reason(new(&"f".repeat(250), "V1", "pending")).contains("artifact name"));
    }

    #[test]
    fn what_the_seed_has_passes() {
        let t = t();
        let mut ok = version("style_1", "V8", VersionStatus::Completed);
        ok.job_id = Some("ec487842-b853-4ca1-ba91-76bba6a59006-e2".into());
        ok.artifact_url = Some("https://bucket/loras/style_1_vV8.safetensors".into());
        ok.parameters = Some(r#"{"steps":3000}"#.into());
        ok.description = Some("more steps,\nhigher learning rate".into());
        ok.created_at = Some("2025-10-13T19:36:17.724Z".into());
        ok.etag = Some(String::new());
        ok.size = Some(0);
        assert_eq!(ok.check(&t), Ok(()));
        // The seed's older entries name a version by its file name.
        assert_eq!(
            version(
                "style_1",
                "style_1_vV8.safetensors",
                VersionStatus::Completed
            )
            .check(&t),
            Ok(())
        );
        let mut bad = ok.clone();
        bad.parameters = Some("[1]".into());
        assert!(bad.check(&t).is_err());
        let mut bad = ok.clone();
        bad.created_at = Some("yesterday".into());
        assert!(bad.check(&t).is_err());
        let mut bad = ok;
        bad.size = Some(-1);
        assert!(bad.check(&t).is_err());
    }

    proptest::proptest! {
        #[test]
        fn printable_leaves_nothing_that_acts_on_a_terminal(text in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{202a}-\\u{202e}a-z]*") {
            let shown = printable(&text);
            proptest::prop_assert!(!shown.chars().any(is_hidden), "{:?}", shown);
            // What passes the check is shown as it is.
            if check_text("description", &text).is_ok() && !text.contains(['\n', '\t']) {
                proptest::prop_assert_eq!(shown.as_ref(), text.as_str());
            }
        }
    }

    #[test]
    fn printable_escapes_controls_only() {
        assert!(matches!(
            printable("style_1 é"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(printable("a\u{1b}[31m\nb"), "a\\u{1b}[31m\\nb");
        assert_eq!(parse_status("completed"), Ok(VersionStatus::Completed));
        assert!(parse_status("Completed").is_err());
    }
}
