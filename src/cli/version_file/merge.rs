//! The duplicate pairs of a versions file during `version import`: each pair (an entry still
//! waiting for its artifact and its synced twin) merged into one version or kept apart, asked
//! about on a terminal; then which entries are left to add. Checking and adding them is the
//! caller's.

use super::super::prompt;
use super::Report;
use crate::error::Result;
use crate::versions::{self, FileVersion, VersionDraft, VersionStatus, VersionsFile};

/// What merging the duplicate pairs of one file needs to know.
pub(super) struct Merging<'a> {
    pub(super) template: &'a versions::Template,
    pub(super) file: &'a VersionsFile,
    /// `--family`: the family of entries that do not tell theirs.
    pub(super) family: Option<&'a str>,
    /// Ask about each pair (else every pair is merged: `--yes`, `--dry-run`).
    pub(super) ask: bool,
}

impl Merging<'_> {
    /// Each entry as the version it will add (`None`: no family or no name), after the pairs of
    /// entries that are one version (a waiting one and its synced twin) are merged (asked about
    /// on a terminal) or kept apart; and which entries were merged into their partner.
    pub(super) fn merge_duplicates(
        &self,
        mut drafts: Vec<Option<VersionDraft>>,
        report: &mut Report,
    ) -> Result<(Vec<Option<VersionDraft>>, Vec<bool>)> {
        let mut merged_away = vec![false; self.file.versions.len()];
        let pairs = versions::duplicate_pairs(self.template, &self.file.versions, self.family);
        for (waiting, synced) in pairs {
            let describe = self.describe(waiting, synced);
            let merge = !self.ask
                || prompt::confirm(
                    &format!("{describe}. Merge them into one?"),
                    "pass --yes to merge every pair, or --dry-run to list them",
                )?;
            if !merge {
                report.kept_apart(waiting, synced, &describe);
                self.keep_apart(&mut drafts, waiting, synced);
                continue;
            }
            report.merged(waiting, synced, &describe);
            if self.merge_into(&mut drafts, waiting, synced) {
                merged_away[synced] = true;
            }
        }
        Ok((drafts, merged_away))
    }

    /// The pair as the report and the question name it.
    fn describe(&self, waiting: usize, synced: usize) -> String {
        let (w, s) = (&self.file.versions[waiting], &self.file.versions[synced]);
        let shown =
            |v: &Option<String>| versions::printable(v.as_deref().unwrap_or("-")).into_owned();
        format!(
            "entry {} ({}, {}) and entry {} ({}, {}) are the same version",
            shown(&w.id),
            shown(&w.name),
            shown(&w.status),
            shown(&s.id),
            shown(&s.name),
            shown(&s.lora_url),
        )
    }

    /// The family of the synced entry, which a waiting entry that names only its version
    /// (`V8`) takes.
    fn partner_family(&self, synced: &FileVersion) -> Option<String> {
        versions::entry_identity(self.template, synced, self.family).map(|(f, _)| f)
    }

    /// Both stay, as the file had them: the synced entry under its own name, the waiting one
    /// in the family it pairs with.
    fn keep_apart(&self, drafts: &mut [Option<VersionDraft>], waiting: usize, synced: usize) {
        let (w, s) = (&self.file.versions[waiting], &self.file.versions[synced]);
        if let (Some(Some(draft)), Some(raw)) = (drafts.get_mut(synced), &s.name) {
            draft.name = Some(raw.clone());
        }
        if let Some(slot @ None) = drafts.get_mut(waiting) {
            *slot = versions::entry_draft(self.template, w, self.partner_family(s).as_deref());
        }
    }

    /// The waiting entry's version takes the synced entry's artifact; false when the waiting
    /// entry makes no version (then the synced one is not merged away).
    fn merge_into(
        &self,
        drafts: &mut [Option<VersionDraft>],
        waiting: usize,
        synced: usize,
    ) -> bool {
        let (w, s) = (&self.file.versions[waiting], &self.file.versions[synced]);
        let Some(slot) = drafts.get_mut(waiting) else {
            return true;
        };
        let Some(draft) = slot
            .take()
            .or_else(|| versions::entry_draft(self.template, w, self.partner_family(s).as_deref()))
        else {
            return false;
        };
        let draft = slot.insert(draft);
        draft.artifact_url = s.lora_url.clone();
        draft.status = VersionStatus::Completed.to_string();
        // The synced entry saw the artifact: its etag and size come with its URL.
        draft.etag = s.etag.clone().or(draft.etag.take());
        draft.size = s.size.or(draft.size);
        draft.last_modified = s.last_modified.clone().or(draft.last_modified.take());
        draft.last_synced = s
            .last_synced
            .clone()
            .or_else(|| Some(crate::store::now_text()));
        true
    }
}

/// An entry of the file that will be added: its position, a label for the report (its id,
/// name or position) and the version, not yet checked.
pub(super) struct Addition {
    pub(super) index: usize,
    pub(super) label: String,
    pub(super) draft: VersionDraft,
}

/// The versions to add; the entries skipped for want of a family or a name are reported.
pub(super) fn additions(
    file: &VersionsFile,
    drafts: Vec<Option<VersionDraft>>,
    merged_away: &[bool],
    report: &mut Report,
) -> Vec<Addition> {
    let mut to_add = Vec::new();
    for (index, (entry, draft)) in file.versions.iter().zip(drafts).enumerate() {
        if merged_away.get(index).copied().unwrap_or(false) {
            continue;
        }
        let label = entry
            .id
            .as_deref()
            .or(entry.name.as_deref())
            .map(|l| versions::printable(l).into_owned())
            .unwrap_or_else(|| format!("#{}", index + 1));
        match draft {
            Some(draft) => to_add.push(Addition {
                index,
                label,
                draft,
            }),
            None => report.skipped(index, &label, "no family (pass --family) or no name".into()),
        }
    }
    to_add
}
