//! Model versions, pure: artifact-name templates (format and parse back), bucket-listing lines,
//! the two-pass sync plan, and the duplicate pairs of the versions JSON. No I/O, no SQL.
//!
//! Sync matching follows docs/versions.md: for each artifact, first a version of that name that
//! still needs its artifact (pending, failed, or without URL); then one already synced to it (by
//! URL, then by file name, then by id); only when nothing matched, a new completed version.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

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
                .ok_or_else(|| refuse("a '{' is not closed"))?;
            pieces.push(&rest[..open]);
            fields.push(match &rest[open + 1..close] {
                "family" => Field::Family,
                "version" => Field::Version,
                other => {
                    return Err(refuse(&format!(
                        "unknown field {{{other}}}; use {{family}} and {{version}}"
                    )));
                }
            });
            rest = &rest[close + 1..];
        }
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
            return Err("a version name cannot be empty".into());
        }
        if version.contains('/') {
            return Err("a version name cannot contain '/'".into());
        }
        // The separator must appear exactly once where the version meets it, or the split
        // point of a formatted name would be ambiguous.
        let joined = match self.first {
            Field::Family => format!("{}{version}", self.middle),
            Field::Version => format!("{version}{}", self.middle),
        };
        if overlaps(&joined, &self.middle) {
            return Err(format!(
                "the version name runs into '{}', the template's separator, so its file name could not be parsed back",
                self.middle
            ));
        }
        Ok(())
    }

    /// Whether this family name can be parsed back out of a formatted file name.
    pub fn allows_family(&self, family: &str) -> Result<(), String> {
        if family.is_empty() || family.contains('/') {
            return Err("a family name must be non-empty and cannot contain '/'".into());
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

/// Whether `needle` occurs in `hay` at more than one position, overlapping occurrences included.
fn overlaps(hay: &str, needle: &str) -> bool {
    (0..hay.len())
        .filter(|&i| hay.is_char_boundary(i) && hay[i..].starts_with(needle))
        .count()
        > 1
}

/// The number of a `V<n>` name.
pub fn version_number(name: &str) -> Option<u32> {
    let digits = name.strip_prefix('V').or_else(|| name.strip_prefix('v'))?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The last path segment of a key or URL, without a query or fragment.
pub fn file_name(key_or_url: &str) -> &str {
    let end = key_or_url.find(['?', '#']).unwrap_or(key_or_url.len());
    let path = &key_or_url[..end];
    path.rsplit('/').next().unwrap_or(path)
}

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
    matches!(v.status.as_str(), "pending" | "failed") || v.artifact_url.is_none()
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
            status: "completed".into(),
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
        && v.status == "completed"
        && (entry.etag.is_none() || v.etag == entry.etag)
        && (entry.size.is_none() || v.size == entry.size);
    if same {
        return Some(SyncAction::InSync {
            family: k.0,
            name: k.1,
        });
    }
    v.artifact_url = Some(location);
    v.status = "completed".into();
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
                || matches!(e.status.as_deref(), Some("pending") | Some("failed")))
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
