//! The one check every version passes on its way into the registry, whichever door it comes
//! through (`version new`, the webhook updates, `version import`, `version sync`): names the
//! template parses back and that are safe to print and to use as a file name, a known status,
//! bounded text without control characters. Pure; the callers choose the exit code or skip.
//!
//! Also [`printable`], which escapes what an older runctl let into the registry before it
//! reaches a terminal: a check on the way in does not clean rows written before it existed.

use super::Template;
use crate::state::VersionStatus;
pub use crate::text::{is_hidden, printable};

mod rules;
#[cfg(test)]
mod tests;

use rules::invalid;
pub use rules::{
    Invalid, MAX_ARTIFACT_NAME, check_artifact_name, check_family, check_job_id, check_key,
    check_name, check_short, check_size, check_text, check_timestamp, check_url, check_url_base,
};

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
