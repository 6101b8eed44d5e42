//! The rule of each field a version holds: names that are one path segment the template
//! parses back, bounded text without control characters, RFC 3339 times, sizes that are not
//! negative; and [`Invalid`], which says which field broke which rule.

use super::super::{Template, has_scheme};
use super::{is_hidden, printable};

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

/// Why a value was refused: which field, the value (escaped and shortened for printing), and
/// the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} '{value}' {reason}")]
pub struct Invalid {
    pub field: &'static str,
    pub value: String,
    pub reason: String,
}

pub(super) fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        value: shortened(value),
        reason: reason.into(),
    }
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
    if let Some(c) = crate::text::first_hidden(value) {
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
