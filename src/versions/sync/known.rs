//! The versions as the sync plan leaves them entry by entry (by name, by artifact file name,
//! by job id), and what one usable listing entry does to them: update the version it matches,
//! leave it in sync, or create one.

use foldhash::{HashMap, HashMapExt};

use super::super::VersionStatus;
use super::super::listing::{Candidate, ends_with_key};
use super::super::{Template, file_name, has_scheme};
use super::{SyncAction, SyncOptions, VersionView};

fn needs_artifact(v: &VersionView) -> bool {
    matches!(
        v.status.known(),
        Some(VersionStatus::Pending | VersionStatus::Failed)
    ) || v.artifact_url.is_none()
}

/// A version's family and name.
pub(super) type Key = (String, String);

/// The versions as the plan leaves them so far: by family and name, by artifact file name,
/// by job id.
pub(super) struct Known {
    pub(super) by_key: HashMap<Key, VersionView>,
    pub(super) by_file: HashMap<String, Key>,
    by_job: HashMap<String, Key>,
}

impl Known {
    pub(super) fn new(versions: Vec<VersionView>) -> Known {
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

/// The action for one usable listing entry, recorded in `known` for the entries after it.
pub(super) fn plan_entry(
    template: &Template,
    known: &mut Known,
    c: Candidate,
    options: SyncOptions<'_>,
) -> SyncAction {
    let key: Key = (c.family.clone(), c.name.clone());
    let stem = c
        .file
        .strip_suffix(&template.suffix)
        .unwrap_or(&c.file)
        .to_string();
    let matched = known.matching(&key, &c.file, &stem);
    let Some((k, rule)) = matched else {
        return create(known, c, key, stem);
    };
    let Some(v) = known.by_key.get_mut(&k) else {
        return create(known, c, key, stem);
    };
    let file = c.file.clone();
    let action = update(v, c, k.clone(), rule, options);
    if matches!(action, SyncAction::Update { .. }) {
        known.by_file.insert(file, k);
    }
    action
}

/// A new completed version for a file no version matched; a skip when the family already has
/// a version of that name (its artifact elsewhere: that one is never replaced by a guess).
fn create(known: &mut Known, c: Candidate, key: Key, stem: String) -> SyncAction {
    if let Some(existing) = known.by_key.get(&key) {
        let reason = match &existing.artifact_url {
            Some(url) => format!(
                "{} {} already exists with its artifact at {url}; this file is left alone",
                key.0, key.1
            ),
            None => format!(
                "{} {} already exists and matched this file by no rule; it is left alone",
                key.0, key.1
            ),
        };
        return SyncAction::Skip {
            location: c.location,
            reason,
        };
    }
    known.by_file.insert(c.file, key.clone());
    // The stem is free as a job id: a version holding it would have matched by id.
    let job_id = (!known.by_job.contains_key(&stem)).then_some(stem);
    if let Some(job) = &job_id {
        known.by_job.insert(job.clone(), key.clone());
    }
    let created = VersionView {
        family: key.0.clone(),
        name: key.1.clone(),
        job_id: job_id.clone(),
        status: VersionStatus::Completed.into(),
        artifact_url: Some(c.location.clone()),
        etag: c.entry.etag.clone(),
        size: c.entry.size,
    };
    known.by_key.insert(key.clone(), created);
    SyncAction::Create {
        family: key.0,
        name: key.1,
        job_id,
        url: c.location,
        entry: c.entry,
    }
}

/// What a matched version `v` (family and name `k`) does with the entry: nothing when it
/// already has it, else take its URL, etag and size (recorded in `v`).
fn update(
    v: &mut VersionView,
    c: Candidate,
    k: Key,
    rule: &'static str,
    options: SyncOptions<'_>,
) -> SyncAction {
    // A bare key never replaces a URL that ends with it (`aws s3 ls` prints keys relative to
    // the bucket, the webhook stored the full URL); without a URL base it replaces no URL.
    let url = match (&v.artifact_url, &c.bare_key) {
        (Some(stored), Some(bare)) if ends_with_key(stored, bare) => stored.clone(),
        (Some(stored), Some(_)) if options.url_base.is_none() && has_scheme(stored) => {
            return SyncAction::Skip {
                reason: format!(
                    "a bare key does not replace the URL {stored} of {} {}; set versions.url_base to make keys URLs",
                    k.0, k.1
                ),
                location: c.location,
            };
        }
        _ => c.location,
    };
    let entry = c.entry;
    let same = v.artifact_url.as_deref() == Some(url.as_str())
        && v.status.known() == Some(VersionStatus::Completed)
        && (entry.etag.is_none() || v.etag == entry.etag)
        && (entry.size.is_none() || v.size == entry.size);
    if same {
        return SyncAction::InSync {
            family: k.0,
            name: k.1,
        };
    }
    v.artifact_url = Some(url.clone());
    v.status = VersionStatus::Completed.into();
    if entry.etag.is_some() {
        v.etag = entry.etag.clone();
    }
    if entry.size.is_some() {
        v.size = entry.size;
    }
    SyncAction::Update {
        family: k.0,
        name: k.1,
        url,
        entry,
        rule,
    }
}
