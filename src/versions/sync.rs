//! The two-pass sync plan of a bucket listing against the registry's versions, and the
//! listing's lines. Pure: the CLI and the S3 plugin feed it, the store applies its actions.

use std::collections::HashMap;

use serde::Deserialize;

use super::check::{
    Status, check_artifact_name, check_family, check_key, check_name, check_short, check_size,
    check_url,
};
use super::{Template, file_name};

/// One object of a bucket listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ListingEntry {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub last_modified: Option<String>,
}

impl ListingEntry {
    /// What is stored as the artifact URL: the URL if given, else the key.
    pub fn location(&self) -> &str {
        self.url.as_deref().or(self.key.as_deref()).unwrap_or("")
    }
}

/// A listing line: a key or URL, or a JSON object with `key` or `url`. Empty lines are `None`.
pub fn parse_listing_line(line: &str) -> Result<Option<ListingEntry>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if line.starts_with('{') {
        let entry: ListingEntry =
            serde_json::from_str(line).map_err(|e| format!("not a valid JSON object: {e}"))?;
        if entry.location().is_empty() {
            return Err("the JSON object has neither \"key\" nor \"url\"".into());
        }
        return Ok(Some(entry));
    }
    Ok(Some(ListingEntry {
        key: Some(line.to_string()),
        ..ListingEntry::default()
    }))
}

/// A version as the sync plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionView {
    pub family: String,
    pub name: String,
    pub job_id: Option<String>,
    pub status: String,
    pub artifact_url: Option<String>,
    pub etag: Option<String>,
    pub size: Option<i64>,
}

/// What sync does with one listing entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncAction {
    /// Give an existing version its artifact (or refresh its etag and size).
    Update {
        family: String,
        name: String,
        entry: ListingEntry,
        /// Which rule matched: "pending by name", "synced by url", ...
        rule: &'static str,
    },
    /// Already synced to this artifact; nothing to change.
    InSync { family: String, name: String },
    /// No version matched: a new completed one.
    Create {
        family: String,
        name: String,
        entry: ListingEntry,
    },
    /// The entry was not used.
    Skip { location: String, reason: String },
}

fn needs_artifact(v: &VersionView) -> bool {
    matches!(
        Status::parse(&v.status),
        Some(Status::Pending | Status::Failed)
    ) || v.artifact_url.is_none()
}

/// Why an entry breaks a rule of `check` (its key, URL, etag, size), if it does.
fn unusable(entry: &ListingEntry) -> Option<String> {
    let checked = entry
        .url
        .as_deref()
        .map_or(Ok(()), check_url)
        .and_then(|()| {
            entry
                .key
                .as_deref()
                .filter(|k| !k.is_empty())
                .map_or(Ok(()), check_key)
        })
        .and_then(|()| {
            entry
                .etag
                .as_deref()
                .map_or(Ok(()), |e| check_short("etag", e))
        })
        .and_then(|()| {
            entry
                .last_modified
                .as_deref()
                .map_or(Ok(()), |t| check_short("last_modified", t))
        })
        .and_then(|()| entry.size.map_or(Ok(()), check_size));
    checked.err().map(|e| e.to_string())
}

/// The sync plan for a listing against the current versions, in listing order. Each action is
/// planned against the state the earlier ones leave, so a listing that names a file twice does
/// not create it twice.
pub fn plan_sync(
    template: &Template,
    versions: Vec<VersionView>,
    listing: Vec<ListingEntry>,
    family_filter: Option<&str>,
) -> Vec<SyncAction> {
    let mut known = Known::new(versions);
    listing
        .into_iter()
        .filter_map(|entry| plan_entry(template, &mut known, entry, family_filter))
        .collect()
}

/// A version's family and name.
type Key = (String, String);

/// The versions as the plan leaves them so far: by family and name, by artifact file name,
/// by job id.
struct Known {
    by_key: HashMap<Key, VersionView>,
    by_file: HashMap<String, Key>,
    by_job: HashMap<String, Key>,
}

impl Known {
    fn new(versions: Vec<VersionView>) -> Known {
        let mut known = Known {
            by_key: HashMap::new(),
            by_file: HashMap::new(),
            by_job: HashMap::new(),
        };
        for v in versions {
            let key = (v.family.clone(), v.name.clone());
            if let Some(url) = &v.artifact_url {
                known
                    .by_file
                    .entry(file_name(url).to_string())
                    .or_insert_with(|| key.clone());
            }
            if let Some(job) = &v.job_id {
                known.by_job.insert(job.clone(), key.clone());
            }
            known.by_key.insert(key, v);
        }
        known
    }

    /// The version an artifact file belongs to, and the rule that matched. First pass: a
    /// version of this name that still needs its artifact. Second pass: a version already
    /// synced to this artifact, by its url, by the file name as its name, or by its job id.
    fn matching(&self, key: &Key, file: &str, stem: &str) -> Option<(Key, &'static str)> {
        if self.by_key.get(key).is_some_and(needs_artifact) {
            return Some((key.clone(), "pending by name"));
        }
        self.by_file
            .get(file)
            .map(|k| (k.clone(), "synced by url"))
            .or_else(|| {
                let k = (key.0.clone(), file.to_string());
                self.by_key
                    .contains_key(&k)
                    .then_some((k, "synced by file name"))
            })
            .or_else(|| {
                self.by_job
                    .get(file)
                    .or_else(|| self.by_job.get(stem))
                    .map(|k| (k.clone(), "synced by id"))
            })
    }
}

/// The action for one listing entry, recorded in `known` for the entries after it.
fn plan_entry(
    template: &Template,
    known: &mut Known,
    entry: ListingEntry,
    family_filter: Option<&str>,
) -> Option<SyncAction> {
    let location = entry.location().to_string();
    if let Some(reason) = unusable(&entry) {
        return Some(SyncAction::Skip { location, reason });
    }
    let file = file_name(&location).to_string();
    let Some((family, version)) = template.parse_name(&file) else {
        return Some(SyncAction::Skip {
            location,
            reason: format!(
                "the file name does not fit the template {}",
                template.as_str()
            ),
        });
    };
    // What a sync creates passes the checks `version new` makes.
    if let Err(e) = check_family(template, family)
        .and_then(|()| check_name(template, version))
        .and_then(|()| check_artifact_name(template, family, version))
    {
        return Some(SyncAction::Skip {
            location,
            reason: e.to_string(),
        });
    }
    let key: Key = (family.to_string(), version.to_string());
    if family_filter.is_some_and(|f| f != key.0) {
        return Some(SyncAction::Skip {
            location,
            reason: format!("family {} is not the one asked for", key.0),
        });
    }
    let stem = file
        .strip_suffix(&template.suffix)
        .unwrap_or(&file)
        .to_string();
    let Some((k, rule)) = known.matching(&key, &file, &stem) else {
        known.by_file.insert(file, key.clone());
        let created = VersionView {
            family: key.0.clone(),
            name: key.1.clone(),
            job_id: None,
            status: Status::Completed.as_str().into(),
            artifact_url: Some(location),
            etag: entry.etag.clone(),
            size: entry.size,
        };
        known.by_key.insert(key.clone(), created);
        return Some(SyncAction::Create {
            family: key.0,
            name: key.1,
            entry,
        });
    };
    let v = known.by_key.get_mut(&k)?;
    let same = v.artifact_url.as_deref() == Some(location.as_str())
        && Status::parse(&v.status) == Some(Status::Completed)
        && (entry.etag.is_none() || v.etag == entry.etag)
        && (entry.size.is_none() || v.size == entry.size);
    if same {
        return Some(SyncAction::InSync {
            family: k.0,
            name: k.1,
        });
    }
    v.artifact_url = Some(location);
    v.status = Status::Completed.as_str().into();
    if entry.etag.is_some() {
        v.etag = entry.etag.clone();
    }
    if entry.size.is_some() {
        v.size = entry.size;
    }
    known.by_file.insert(file, k.clone());
    Some(SyncAction::Update {
        family: k.0,
        name: k.1,
        entry,
        rule,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_template() -> Template {
        Template::parse("{family}_v{version}.safetensors").unwrap()
    }

    #[test]
    fn listing_lines() {
        assert_eq!(parse_listing_line("  ").unwrap(), None);
        let e = parse_listing_line("s3://b/loras/style_1_vV8.safetensors")
            .unwrap()
            .unwrap();
        assert_eq!(file_name(e.location()), "style_1_vV8.safetensors");
        let e = parse_listing_line(r#"{"key":"a/x.safetensors","etag":"\"e1\"","size":12}"#)
            .unwrap()
            .unwrap();
        assert_eq!((e.etag.as_deref(), e.size), (Some("\"e1\""), Some(12)));
        assert!(parse_listing_line("{not json").is_err());
        assert!(parse_listing_line(r#"{"etag":"x"}"#).is_err());
        assert_eq!(
            file_name("https://h/p/f.safetensors?sig=1"),
            "f.safetensors"
        );
    }

    fn view(name: &str, job: Option<&str>, status: &str, url: Option<&str>) -> VersionView {
        VersionView {
            family: "style_1".into(),
            name: name.into(),
            job_id: job.map(str::to_string),
            status: status.into(),
            artifact_url: url.map(str::to_string),
            etag: None,
            size: None,
        }
    }

    fn listing(keys: &[&str]) -> Vec<ListingEntry> {
        keys.iter()
            .map(|k| parse_listing_line(k).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn two_pass_matching() {
        let t = default_template();
        let versions = vec![
            view("V8", Some("job8"), "pending", None),
            view(
                "V7",
                Some("job7"),
                "completed",
                Some("https://x/style_1_vV7.safetensors"),
            ),
            view(
                "style_1_vV6.safetensors",
                None,
                "completed",
                Some("https://old/elsewhere"),
            ),
            view(
                "legacy",
                Some("style_1_vV5"),
                "completed",
                Some("https://old/other"),
            ),
        ];
        let keys = [
            "https://x/style_1_vV8.safetensors",
            "https://x/style_1_vV7.safetensors",
            "https://x/style_1_vV6.safetensors",
            "https://x/style_1_vV5.safetensors",
            "https://x/style_1_vV9.safetensors",
            "https://x/style_1_vV9.safetensors",
            "https://x/notes.txt",
        ];
        let plan = plan_sync(&t, versions, listing(&keys), None);
        let rules: Vec<String> = plan
            .iter()
            .map(|a| match a {
                SyncAction::Update { name, rule, .. } => format!("update {name} ({rule})"),
                SyncAction::InSync { name, .. } => format!("in sync {name}"),
                SyncAction::Create { name, .. } => format!("create {name}"),
                SyncAction::Skip { .. } => "skip".into(),
            })
            .collect();
        assert_eq!(
            rules,
            vec![
                "update V8 (pending by name)",
                "in sync V7",
                "update style_1_vV6.safetensors (synced by file name)",
                "update legacy (synced by id)",
                "create V9",
                "in sync V9",
                "skip",
            ]
        );
    }

    #[test]
    fn the_family_filter_skips_others() {
        let plan = plan_sync(
            &default_template(),
            vec![],
            listing(&["style_2_vV1.safetensors"]),
            Some("style_1"),
        );
        assert!(matches!(&plan[0], SyncAction::Skip { reason, .. } if reason.contains("style_2")));
    }

    #[test]
    fn unsafe_names_are_skipped() {
        let t = default_template();
        let entries = vec![
            ListingEntry {
                key: Some("st\u{1b}[31myle_vV1.safetensors".into()),
                ..ListingEntry::default()
            },
            ListingEntry {
                key: Some("ok_vV1.safetensors".into()),
                size: Some(-1),
                ..ListingEntry::default()
            },
            ListingEntry {
                key: Some("ok_vV2.safetensors".into()),
                etag: Some("\u{7}".into()),
                ..ListingEntry::default()
            },
            ListingEntry {
                key: Some(format!("{}_vV3.safetensors", "f".repeat(300))),
                ..ListingEntry::default()
            },
            ListingEntry {
                key: Some("../_vV4.safetensors".into()),
                url: Some("s3://b/\u{9b}x".into()),
                ..ListingEntry::default()
            },
        ];
        let plan = plan_sync(&t, vec![], entries, None);
        assert!(
            plan.iter().all(|a| matches!(a, SyncAction::Skip { .. })),
            "{plan:?}"
        );
    }
}
