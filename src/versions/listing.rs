//! A bucket listing as sync reads it: its lines (a key, a URL, or a JSON object), and which of
//! its entries name an artifact that may enter the registry, under which URL. Pure: the CLI
//! reads the bytes, `sync` plans what the entries do.

use serde::Deserialize;

use super::check::{
    Invalid, check_artifact_name, check_family, check_key, check_name, check_short, check_size,
    check_url,
};
use super::sync::SyncOptions;
use super::{Template, file_name, has_scheme};

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

/// A listing entry sync cannot use: where it is and why.
pub(super) struct Unusable {
    pub(super) location: String,
    pub(super) reason: String,
}

/// A listing entry that fits the template: who it is and where it is.
pub(super) struct Candidate {
    pub(super) entry: ListingEntry,
    /// The artifact file name, from the key when there is one (a URL may be percent-encoded).
    pub(super) file: String,
    pub(super) family: String,
    pub(super) name: String,
    /// The URL to store: the entry's URL, else its key (joined to the URL base if it is bare).
    pub(super) location: String,
    /// The key, when the entry is only a key without a scheme.
    pub(super) bare_key: Option<String>,
}

/// The entry read against the template and the rules of `check`, or the skip that says why not.
pub(super) fn candidate(
    template: &Template,
    entry: ListingEntry,
    options: SyncOptions<'_>,
) -> Result<Candidate, Unusable> {
    let raw = entry.location();
    let skip = |reason: String| Unusable {
        location: raw.to_string(),
        reason,
    };
    check_entry(&entry).map_err(|e| skip(e.to_string()))?;
    let named_by = entry
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .unwrap_or(raw);
    let file = file_name(named_by);
    let Some((family, name)) = template.parse_name(file) else {
        return Err(skip(format!(
            "the file name does not fit the template {}",
            template.as_str()
        )));
    };
    check_family(template, family)
        .and_then(|()| check_name(template, name))
        .and_then(|()| check_artifact_name(template, family, name))
        .map_err(|e| skip(e.to_string()))?;
    if options.family.is_some_and(|f| f != family) {
        return Err(skip(format!("family {family} is not the one asked for")));
    }
    let bare = entry.url.is_none() && !has_scheme(raw);
    let location = match (bare, options.url_base) {
        (true, Some(base)) => join_base(base, raw),
        _ => raw.to_string(),
    };
    // Base and key are each within bounds; joined, they may not be.
    check_url(&location).map_err(|e| skip(e.to_string()))?;
    let bare_key = bare.then(|| raw.to_string());
    let (file, family, name) = (file.to_string(), family.to_string(), name.to_string());
    Ok(Candidate {
        entry,
        file,
        family,
        name,
        location,
        bare_key,
    })
}

/// The entry's own fields (URL, key, etag, last-modified time, size) against their rules.
fn check_entry(entry: &ListingEntry) -> Result<(), Invalid> {
    if let Some(url) = entry.url.as_deref() {
        check_url(url)?;
    }
    if let Some(key) = entry.key.as_deref().filter(|k| !k.is_empty()) {
        check_key(key)?;
    }
    let fields = [
        ("etag", entry.etag.as_deref()),
        ("last_modified", entry.last_modified.as_deref()),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            check_short(field, value)?;
        }
    }
    if let Some(size) = entry.size {
        check_size(size)?;
    }
    Ok(())
}

impl Candidate {
    /// Whether a version whose artifact URL is `url` already points at this object.
    pub(super) fn is_at(&self, url: &str) -> bool {
        url == self.location
            || self
                .bare_key
                .as_deref()
                .is_some_and(|k| ends_with_key(url, k))
    }
}

/// Whether the path of `url` (without query or fragment) is `key` or ends in `/key`: then the
/// bare key names the object the URL points at.
pub(super) fn ends_with_key(url: &str, key: &str) -> bool {
    let path = &url[..url.find(['?', '#']).unwrap_or(url.len())];
    path == key
        || path
            .strip_suffix(key)
            .is_some_and(|head| head.ends_with('/'))
}

/// `base` and `key` joined by one `/` (a base of `s3://` keeps both of its own).
pub(super) fn join_base(base: &str, key: &str) -> String {
    let key = key.trim_start_matches('/');
    if base.ends_with('/') {
        format!("{base}{key}")
    } else {
        format!("{base}/{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn bare_keys_and_bases() {
        assert_eq!(join_base("s3://", "k"), "s3://k");
        assert_eq!(join_base("s3://b/p", "/k"), "s3://b/p/k");
        assert!(ends_with_key("s3://b/loras/x.pt", "loras/x.pt"));
        assert!(ends_with_key("https://h/x.pt?sig=1", "x.pt"));
        assert!(!ends_with_key("s3://b/ax.pt", "x.pt"));
    }
}
