//! The versions JSON file (`{"versions": [...]}`, the seed's `training_versions.json`): its
//! entries, who each is (family and version name), the version each would add (a draft, its
//! status still the file's text), and the pairs of entries that are one version seen twice.

use serde::{Deserialize, Serialize};

use super::{SYNCED_DESCRIPTION, Template, VersionDraft, VersionStatus, file_name};

/// One entry of the versions JSON file (`{"versions": [...]}`), in its own field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FileVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced: Option<String>,
    /// What `version fail` recorded. The fields from here on are runctl's own: the seed's
    /// file has no place for them, and without them a round trip through export and import
    /// would lose them (and the next sync would "update" every entry for its etag and size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

/// The versions JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VersionsFile {
    pub versions: Vec<FileVersion>,
}

/// Family and clean version name of a file entry: from its artifact URL, its name, or its id
/// parsed with the template; else its name as it is, with `default_family`.
pub fn entry_identity(
    template: &Template,
    entry: &FileVersion,
    default_family: Option<&str>,
) -> Option<(String, String)> {
    let parsed = |text: &str| -> Option<(String, String)> {
        let file = file_name(text);
        let own = |name: &str| {
            template
                .parse_name(name)
                .map(|(f, v)| (f.to_string(), v.to_string()))
        };
        // An id such as `style_1_vV8` is a file name without its extension.
        own(file).or_else(|| own(&format!("{file}{}", template.suffix)))
    };
    let from_name = entry.name.as_deref().and_then(parsed);
    let from_url = entry.lora_url.as_deref().and_then(parsed);
    let from_id = entry.id.as_deref().and_then(parsed);
    let family = entry
        .family
        .clone()
        .or_else(|| from_url.as_ref().map(|p| p.0.clone()))
        .or_else(|| from_name.as_ref().map(|p| p.0.clone()))
        .or_else(|| from_id.as_ref().map(|p| p.0.clone()))
        .or_else(|| default_family.map(str::to_string))?;
    let name = from_name
        .map(|p| p.1)
        .or_else(|| entry.name.clone())
        .or_else(|| from_url.map(|p| p.1))
        .or_else(|| from_id.map(|p| p.1))?;
    Some((family, name))
}

/// The version an entry adds, as a draft whose status is the file's text (else completed with
/// an artifact URL, pending without); `None` when the entry tells no family or no name.
pub fn entry_draft(
    template: &Template,
    entry: &FileVersion,
    default_family: Option<&str>,
) -> Option<VersionDraft> {
    let (family, name) = entry_identity(template, entry, default_family)?;
    let status = entry.status.clone().unwrap_or_else(|| {
        let status = match entry.lora_url {
            Some(_) => VersionStatus::Completed,
            None => VersionStatus::Pending,
        };
        status.as_str().into()
    });
    Some(VersionDraft {
        family,
        name: Some(name),
        job_id: entry.id.clone(),
        status,
        artifact_url: entry.lora_url.clone(),
        parameters: entry.parameters.as_ref().map(|p| p.to_string()),
        description: entry.description.clone(),
        error: entry.error.clone(),
        etag: entry.etag.clone(),
        size: entry.size,
        last_modified: entry.last_modified.clone(),
        created_at: entry.timestamp.clone(),
        last_synced: entry.last_synced.clone(),
    })
}

/// The duplicate pairs of a versions file: an entry that still waits for its artifact (pending,
/// failed, or without URL) and a synced-from-storage entry for the same family and version.
/// Returns (waiting index, synced index) pairs.
pub fn duplicate_pairs(
    template: &Template,
    entries: &[FileVersion],
    default_family: Option<&str>,
) -> Vec<(usize, usize)> {
    let synced = |e: &FileVersion| {
        e.lora_url.is_some()
            && e.description.as_deref().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d.starts_with("synced from s3") || d.starts_with(SYNCED_DESCRIPTION)
            })
    };
    let waiting = |e: &FileVersion| {
        !synced(e)
            && (e.lora_url.is_none()
                || matches!(
                    e.status.as_deref().and_then(VersionStatus::parse),
                    Some(VersionStatus::Pending | VersionStatus::Failed)
                ))
    };
    let identities: Vec<_> = entries
        .iter()
        .map(|e| entry_identity(template, e, default_family))
        .collect();
    let mut pairs = Vec::new();
    let mut used = vec![false; entries.len()];
    for (w, we) in entries.iter().enumerate() {
        if !waiting(we) {
            continue;
        }
        // A waiting entry often names only its version (`V8`): it takes its family from the
        // synced entry it pairs with.
        let partner = entries.iter().enumerate().position(|(s, se)| {
            let Some((family, name)) = &identities[s] else {
                return false;
            };
            s != w
                && !used[s]
                && synced(se)
                && entry_identity(template, we, default_family.or(Some(family.as_str())))
                    .is_some_and(|(f, n)| f == *family && n == *name)
        });
        if let Some(s) = partner {
            used[s] = true;
            used[w] = true;
            pairs.push((w, s));
        }
    }
    pairs
}
