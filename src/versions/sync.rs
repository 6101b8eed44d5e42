//! The two-pass sync plan of a bucket listing against the registry's versions: which version
//! each usable entry updates or creates, and which place wins when one file name is listed at
//! several. Pure: the CLI and the S3 plugin feed it, the store applies its actions.

// foldhash, not std's SipHash: a sync of 100,000 keys hashes each name several times.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::Template;
use super::VersionStatus;
use super::listing::{Candidate, ListingEntry, Unusable, candidate};

mod known;
#[cfg(test)]
mod tests;

use known::{Known, plan_entry};

/// A version as the sync plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionView {
    pub family: String,
    pub name: String,
    pub job_id: Option<String>,
    pub status: crate::state::Stored<VersionStatus>,
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

/// The sync plan for a listing against the current versions, in listing order. Each action is
/// planned against the state the earlier ones leave, so a listing that names a file twice does
/// not create it twice.
pub fn plan_sync(
    template: &Template,
    versions: Vec<VersionView>,
    listing: Vec<ListingEntry>,
    options: SyncOptions<'_>,
) -> SyncPlan {
    let mut known = Known::new(versions, listing.len());
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
    // Each file name's distinct places, in listing order: the first, then any others (a list
    // only for a name listed at several places; the set keeps 100,000 places of one name
    // linear).
    let mut places: Vec<(&str, &Candidate, Vec<&Candidate>)> = Vec::with_capacity(read.len());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(read.len());
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for c in read.iter().flatten() {
        let Some(&i) = index.get(c.file.as_str()) else {
            index.insert(c.file.as_str(), places.len());
            places.push((c.file.as_str(), c, Vec::new()));
            continue;
        };
        if let Some((_, first, more)) = places.get_mut(i)
            && c.location != first.location
            && seen.insert((c.file.as_str(), c.location.as_str()))
        {
            more.push(c);
        }
    }
    let mut chosen = HashMap::new();
    let mut ambiguous = Vec::new();
    for (file, first, more) in places {
        if more.is_empty() {
            continue;
        }
        let group = || std::iter::once(first).chain(more.iter().copied());
        let current = known.by_file(file).and_then(|v| v.artifact_url.as_deref());
        let pick = current
            .and_then(|url| group().find(|c| c.is_at(url)))
            .unwrap_or(first);
        ambiguous.push(Ambiguity {
            file: file.to_string(),
            chosen: pick.location.clone(),
            others: group()
                .filter(|c| c.location != pick.location)
                .map(|c| c.location.clone())
                .collect(),
        });
        chosen.insert(file.to_string(), pick.location.clone());
    }
    (chosen, ambiguous)
}
