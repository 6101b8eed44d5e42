//! The versions as the sync plan leaves them entry by entry (by name, by artifact file name,
//! by job id), and what one usable listing entry does to them: update the version it matches,
//! leave it in sync, or create one.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use foldhash::{HashMap, HashMapExt};
use hashbrown::HashTable;

use super::super::VersionStatus;
use super::super::listing::{Candidate, ends_with_key};
use super::super::{Template, file_name, has_scheme};
use super::{SyncAction, SyncOptions, VersionView};

/// What `by_key` hashes a version by: its family and name.
fn key_hash(state: &RandomState, v: &VersionView) -> u64 {
    state.hash_one((v.family.as_str(), v.name.as_str()))
}

fn needs_artifact(v: &VersionView) -> bool {
    matches!(
        v.status.known(),
        Some(VersionStatus::Pending | VersionStatus::Failed)
    ) || v.artifact_url.is_none()
}

/// The versions as the plan leaves them so far, each once in `views` (unique by family and
/// name, as the table's key makes them), found by family and name, by artifact file name and
/// by job id. The two tables hold only indexes into `views` and hash the view's own strings, so
/// a sync of 100,000 entries copies no key to find a version.
pub(super) struct Known {
    views: Vec<VersionView>,
    /// By `(family, name)` of the view.
    by_key: HashTable<usize>,
    /// By artifact file name: the file of the URL a version had, and of every URL the plan
    /// gave it (an updated version is still found by its old file name).
    by_file: HashMap<String, usize>,
    /// By the view's job id.
    by_job: HashTable<usize>,
    state: RandomState,
}

impl Known {
    /// The versions, with room for `more` that the plan may create.
    pub(super) fn new(versions: Vec<VersionView>, more: usize) -> Known {
        let room = versions.len() + more;
        let mut known = Known {
            views: Vec::with_capacity(room),
            by_key: HashTable::with_capacity(room),
            by_file: HashMap::with_capacity(room),
            by_job: HashTable::with_capacity(room),
            state: RandomState::default(),
        };
        for v in versions {
            let i = known.add(v);
            let file = known.views.get(i).and_then(|v| v.artifact_url.as_deref());
            if let Some(file) = file.map(file_name)
                && !known.by_file.contains_key(file)
            {
                known.by_file.insert(file.to_string(), i);
            }
        }
        known
    }

    /// Add `v` (in place of a version of its family and name, if any); its index.
    fn add(&mut self, v: VersionView) -> usize {
        let i = match self.find_key(&v.family, &v.name) {
            Some(i) => {
                if let Some(slot) = self.views.get_mut(i) {
                    *slot = v;
                }
                i
            }
            None => {
                let i = self.views.len();
                let hash = key_hash(&self.state, &v);
                self.views.push(v);
                let (views, state) = (&self.views, &self.state);
                self.by_key
                    .insert_unique(hash, i, |&j| views.get(j).map_or(0, |v| key_hash(state, v)));
                i
            }
        };
        if let Some(job) = self.views.get(i).and_then(|v| v.job_id.as_deref())
            && self.find_job(job).is_none()
        {
            let hash = self.state.hash_one(job);
            let (views, state) = (&self.views, &self.state);
            self.by_job.insert_unique(hash, i, |&j| {
                state.hash_one(views.get(j).and_then(|v| v.job_id.as_deref()).unwrap_or(""))
            });
        }
        i
    }

    fn find_key(&self, family: &str, name: &str) -> Option<usize> {
        // As `key_hash` hashes a view: the same tuple of two `&str`.
        let hash = self.state.hash_one((family, name));
        self.by_key
            .find(hash, |&i| {
                self.views
                    .get(i)
                    .is_some_and(|v| v.family == family && v.name == name)
            })
            .copied()
    }

    fn find_job(&self, job: &str) -> Option<usize> {
        self.by_job
            .find(self.state.hash_one(job), |&i| {
                self.views.get(i).and_then(|v| v.job_id.as_deref()) == Some(job)
            })
            .copied()
    }

    /// The version whose artifact has this file name, if any.
    pub(super) fn by_file(&self, file: &str) -> Option<&VersionView> {
        self.by_file.get(file).and_then(|&i| self.views.get(i))
    }

    /// The version an artifact file belongs to, and the rule that matched. First pass: a
    /// version of this name that still needs its artifact. Second pass: a version already
    /// synced to this artifact, by its url, by the file name as its name, or by its job id.
    fn matching(&self, c: &Candidate, stem: &str) -> Option<(usize, &'static str)> {
        if let Some(i) = self.find_key(&c.family, &c.name)
            && self.views.get(i).is_some_and(needs_artifact)
        {
            return Some((i, "pending by name"));
        }
        if let Some(&i) = self.by_file.get(&c.file) {
            return Some((i, "synced by url"));
        }
        if let Some(i) = self.find_key(&c.family, &c.file) {
            return Some((i, "synced by file name"));
        }
        self.find_job(&c.file)
            .or_else(|| self.find_job(stem))
            .map(|i| (i, "synced by id"))
    }
}

/// The action for one usable listing entry, recorded in `known` for the entries after it.
pub(super) fn plan_entry(
    template: &Template,
    known: &mut Known,
    mut c: Candidate,
    options: SyncOptions<'_>,
) -> SyncAction {
    let stem = c.file.strip_suffix(&template.suffix).unwrap_or(&c.file);
    let Some((i, rule)) = known.matching(&c, stem) else {
        let stem = stem.to_string();
        return create(known, c, stem);
    };
    let file = std::mem::take(&mut c.file);
    let Some(v) = known.views.get_mut(i) else {
        return SyncAction::Skip {
            location: c.location,
            reason: "internal error: a matched version is missing".into(),
        };
    };
    let action = update(v, c, rule, options);
    if matches!(action, SyncAction::Update { .. }) {
        known.by_file.insert(file, i);
    }
    action
}

/// A new completed version for a file no version matched; a skip when the family already has
/// a version of that name (its artifact elsewhere: that one is never replaced by a guess).
fn create(known: &mut Known, c: Candidate, stem: String) -> SyncAction {
    if let Some(existing) = known
        .find_key(&c.family, &c.name)
        .and_then(|i| known.views.get(i))
    {
        let reason = match &existing.artifact_url {
            Some(url) => format!(
                "{} {} already exists with its artifact at {url}; this file is left alone",
                c.family, c.name
            ),
            None => format!(
                "{} {} already exists and matched this file by no rule; it is left alone",
                c.family, c.name
            ),
        };
        return SyncAction::Skip {
            location: c.location,
            reason,
        };
    }
    // The stem is free as a job id: a version holding it would have matched by id.
    let job_id = known.find_job(&stem).is_none().then_some(stem);
    let i = known.add(VersionView {
        family: c.family.clone(),
        name: c.name.clone(),
        job_id: job_id.clone(),
        status: VersionStatus::Completed.into(),
        artifact_url: Some(c.location.clone()),
        etag: c.entry.etag.clone(),
        size: c.entry.size,
    });
    known.by_file.insert(c.file, i);
    SyncAction::Create {
        family: c.family,
        name: c.name,
        job_id,
        url: c.location,
        entry: c.entry,
    }
}

/// What a matched version `v` does with the entry: nothing when it
/// already has it, else take its URL, etag and size (recorded in `v`).
fn update(
    v: &mut VersionView,
    c: Candidate,
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
                    v.family, v.name
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
            family: v.family.clone(),
            name: v.name.clone(),
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
        family: v.family.clone(),
        name: v.name.clone(),
        url,
        entry,
        rule,
    }
}
