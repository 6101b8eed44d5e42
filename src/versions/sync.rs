//! The two-pass sync plan of a bucket listing against the registry's versions: which version
//! each usable entry updates or creates, and which place wins when one file name is listed at
//! several. Pure: the CLI and the S3 plugin feed it, the store applies its actions.

use std::collections::{HashMap, HashSet};

use super::VersionStatus;
use super::listing::{Candidate, ListingEntry, Unusable, candidate, ends_with_key};
use super::{Template, file_name, has_scheme};

/// A version as the sync plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionView {
    pub family: String,
    pub name: String,
    pub job_id: Option<String>,
    pub status: VersionStatus,
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
        /// The artifact URL the version has after the update.
        url: String,
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
        /// Its id: the artifact file name without the template's extension (`style_1_vV8`),
        /// as the seed's versions file gives entries made by a bucket sync.
        job_id: Option<String>,
        url: String,
        entry: ListingEntry,
    },
    /// The entry was not used.
    Skip { location: String, reason: String },
}

/// One artifact file name listed at several places (`a/style_1_vV1.safetensors` and
/// `b/style_1_vV1.safetensors`): the one sync uses, and the others, which it skips.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    pub file: String,
    pub chosen: String,
    pub others: Vec<String>,
}

/// The plan: one action per listing entry, in listing order, and the file names listed at
/// more than one place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncPlan {
    pub actions: Vec<SyncAction>,
    pub ambiguous: Vec<Ambiguity>,
}

/// What the plan is asked for besides the listing.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions<'a> {
    /// Only this family; other files are skipped.
    pub family: Option<&'a str>,
    /// `versions.url_base`: what a bare key (no `scheme://`) is appended to, to make it a URL.
    /// Without it a bare key is stored as it is, and only for a version without a URL.
    pub url_base: Option<&'a str>,
}

fn needs_artifact(v: &VersionView) -> bool {
    matches!(v.status, VersionStatus::Pending | VersionStatus::Failed) || v.artifact_url.is_none()
}

/// The sync plan for a listing against the current versions, in listing order. Each action is
/// planned against the state the earlier ones leave, so a listing that names a file twice does
/// not create it twice.
pub fn plan_sync(
    template: &Template,
    versions: Vec<VersionView>,
    listing: Vec<ListingEntry>,
    options: SyncOptions<'_>,
) -> SyncPlan {
    let mut known = Known::new(versions);
    let read: Vec<Result<Candidate, Unusable>> = listing
        .into_iter()
        .map(|entry| candidate(template, entry, options))
        .collect();
    let (chosen, ambiguous) = choose_locations(&known, &read);
    let actions = read
        .into_iter()
        .map(|c| match c {
            Err(Unusable { location, reason }) => SyncAction::Skip { location, reason },
            Ok(c) => match chosen.get(&c.file) {
                Some(place) if *place != c.location => SyncAction::Skip {
                    reason: format!("{} is also listed at {place}, which sync uses", c.file),
                    location: c.location,
                },
                _ => plan_entry(template, &mut known, c, options),
            },
        })
        .collect();
    SyncPlan { actions, ambiguous }
}

/// For each file name listed at more than one place, the place sync uses: where its version's
/// URL already points, so a second sync changes nothing, else the first in listing order.
fn choose_locations(
    known: &Known,
    read: &[Result<Candidate, Unusable>],
) -> (HashMap<String, String>, Vec<Ambiguity>) {
    // Each file name's distinct places, in listing order; the set keeps a listing of one name
    // at 100,000 places linear.
    let mut places: Vec<(&str, Vec<&Candidate>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for c in read.iter().flatten() {
        let i = *index.entry(c.file.as_str()).or_insert_with(|| {
            places.push((c.file.as_str(), Vec::new()));
            places.len() - 1
        });
        if seen.insert((c.file.as_str(), c.location.as_str()))
            && let Some((_, group)) = places.get_mut(i)
        {
            group.push(c);
        }
    }
    let mut chosen = HashMap::new();
    let mut ambiguous = Vec::new();
    for (file, group) in places {
        let [first, _, ..] = group[..] else {
            continue;
        };
        let current = known
            .by_file
            .get(file)
            .and_then(|k| known.by_key.get(k))
            .and_then(|v| v.artifact_url.as_deref());
        let pick = current
            .and_then(|url| group.iter().find(|c| c.is_at(url)))
            .unwrap_or(&first);
        ambiguous.push(Ambiguity {
            file: file.to_string(),
            chosen: pick.location.clone(),
            others: group
                .iter()
                .filter(|c| c.location != pick.location)
                .map(|c| c.location.clone())
                .collect(),
        });
        chosen.insert(file.to_string(), pick.location.clone());
    }
    (chosen, ambiguous)
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

/// The action for one usable listing entry, recorded in `known` for the entries after it.
fn plan_entry(
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

/// A new completed version for a file no version matched.
fn create(known: &mut Known, c: Candidate, key: Key, stem: String) -> SyncAction {
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
        status: VersionStatus::Completed,
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
        && v.status == VersionStatus::Completed
        && (entry.etag.is_none() || v.etag == entry.etag)
        && (entry.size.is_none() || v.size == entry.size);
    if same {
        return SyncAction::InSync {
            family: k.0,
            name: k.1,
        };
    }
    v.artifact_url = Some(url.clone());
    v.status = VersionStatus::Completed;
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

#[cfg(test)]
mod tests {
    use super::super::listing::parse_listing_line;
    use super::*;

    fn default_template() -> Template {
        Template::parse("{family}_v{version}.safetensors").unwrap()
    }

    fn view(name: &str, job: Option<&str>, status: &str, url: Option<&str>) -> VersionView {
        let status = VersionStatus::parse(status).unwrap();
        VersionView {
            family: "style_1".into(),
            name: name.into(),
            job_id: job.map(str::to_string),
            status,
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
        let plan = plan_sync(&t, versions, listing(&keys), SyncOptions::default());
        assert_eq!(
            rules(&plan),
            vec![
                "update V8 (pending by name) https://x/style_1_vV8.safetensors",
                "in sync V7",
                "update style_1_vV6.safetensors (synced by file name) https://x/style_1_vV6.safetensors",
                "update legacy (synced by id) https://x/style_1_vV5.safetensors",
                "create V9 https://x/style_1_vV9.safetensors",
                "in sync V9",
                "skip https://x/notes.txt",
            ]
        );
    }

    fn rules(plan: &SyncPlan) -> Vec<String> {
        plan.actions
            .iter()
            .map(|a| match a {
                SyncAction::Update {
                    name, rule, url, ..
                } => format!("update {name} ({rule}) {url}"),
                SyncAction::InSync { name, .. } => format!("in sync {name}"),
                SyncAction::Create { name, url, .. } => format!("create {name} {url}"),
                SyncAction::Skip { location, .. } => format!("skip {location}"),
            })
            .collect()
    }

    #[test]
    fn the_family_filter_skips_others() {
        let plan = plan_sync(
            &default_template(),
            vec![],
            listing(&["style_2_vV1.safetensors"]),
            SyncOptions {
                family: Some("style_1"),
                ..SyncOptions::default()
            },
        );
        assert!(
            matches!(&plan.actions[0], SyncAction::Skip { reason, .. } if reason.contains("style_2"))
        );
    }

    #[test]
    fn a_bare_key_never_replaces_a_url_that_ends_with_it() {
        let t = default_template();
        let url = "s3://loras/style_1_vV1.safetensors";
        let versions = vec![
            view("V1", Some("job-42"), "completed", Some(url)),
            view(
                "V2",
                None,
                "completed",
                Some("https://bucket.s3.amazonaws.com/loras/style_1_vV2.safetensors"),
            ),
            view(
                "V3",
                None,
                "completed",
                Some("s3://loras/old/style_1_vV3.safetensors"),
            ),
            view("V4", None, "pending", None),
        ];
        let keys = [
            "style_1_vV1.safetensors",
            "loras/style_1_vV2.safetensors",
            "new/style_1_vV3.safetensors",
            "style_1_vV4.safetensors",
        ];
        let plan = plan_sync(&t, versions.clone(), listing(&keys), SyncOptions::default());
        assert_eq!(
            rules(&plan),
            vec![
                "in sync V1",
                "in sync V2",
                "skip new/style_1_vV3.safetensors",
                "update V4 (pending by name) style_1_vV4.safetensors",
            ]
        );
        // With a URL base, a bare key becomes a URL; one that a stored URL ends with still
        // leaves it alone.
        let base = SyncOptions {
            url_base: Some("s3://loras"),
            ..SyncOptions::default()
        };
        let plan = plan_sync(&t, versions, listing(&keys), base);
        assert_eq!(
            rules(&plan),
            vec![
                "in sync V1",
                "in sync V2",
                "update V3 (synced by url) s3://loras/new/style_1_vV3.safetensors",
                "update V4 (pending by name) s3://loras/style_1_vV4.safetensors",
            ]
        );
        let plan = plan_sync(&t, vec![], listing(&["style_1_vV5.safetensors"]), base);
        assert_eq!(
            rules(&plan),
            vec!["create V5 s3://loras/style_1_vV5.safetensors"]
        );
        assert!(matches!(
            &plan.actions[0],
            SyncAction::Create { job_id: Some(j), .. } if j == "style_1_vV5"
        ));
    }

    #[test]
    fn one_file_under_two_prefixes_is_stable_and_reported() {
        let t = default_template();
        let keys = ["a/style_1_vV1.safetensors", "b/style_1_vV1.safetensors"];
        // Nothing yet: the first in listing order.
        let plan = plan_sync(&t, vec![], listing(&keys), SyncOptions::default());
        assert_eq!(
            rules(&plan),
            vec![
                "create V1 a/style_1_vV1.safetensors",
                "skip b/style_1_vV1.safetensors"
            ]
        );
        assert_eq!(
            plan.ambiguous,
            vec![Ambiguity {
                file: "style_1_vV1.safetensors".into(),
                chosen: "a/style_1_vV1.safetensors".into(),
                others: vec!["b/style_1_vV1.safetensors".into()],
            }]
        );
        // Already synced to the second: it stays there, whatever the order.
        let synced = vec![view(
            "V1",
            None,
            "completed",
            Some("b/style_1_vV1.safetensors"),
        )];
        let plan = plan_sync(&t, synced, listing(&keys), SyncOptions::default());
        assert_eq!(
            rules(&plan),
            vec!["skip a/style_1_vV1.safetensors", "in sync V1"]
        );
        // The same line twice is no ambiguity.
        let twice = ["a/style_1_vV1.safetensors", "a/style_1_vV1.safetensors"];
        let plan = plan_sync(&t, vec![], listing(&twice), SyncOptions::default());
        assert!(plan.ambiguous.is_empty());
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
        let plan = plan_sync(&t, vec![], entries, SyncOptions::default());
        assert!(
            plan.actions
                .iter()
                .all(|a| matches!(a, SyncAction::Skip { .. })),
            "{plan:?}"
        );
        assert!(has_scheme("s3://b/k") && has_scheme("https://h/k"));
        assert!(!has_scheme("loras/k") && !has_scheme("://k") && !has_scheme("a b://k"));
    }
}
