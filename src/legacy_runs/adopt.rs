//! Adopting legacy runs: [`propose`] names every candidate (numbered in time order, as `new`
//! would, without writing anything) and [`adopt`] renames one candidate's folders and records
//! its run, all or nothing.

use super::{Candidate, LegacyError, Result, rename_folders, run_row, undo};
use crate::naming;
use crate::project::Scope;
use crate::runs::{self, Layout, NameRequest};
use crate::store::Store;

/// The proposed name (and run number) of every candidate; nothing is written: each proposal
/// is held in a rolled-back transaction so that the next one counts it.
pub fn propose(
    store: &mut Store,
    candidates: &[Candidate],
    scope: Scope,
    layout: &Layout,
) -> Result<Vec<(String, Option<u32>)>> {
    store.plan_with_writes(|a| {
        let mut names = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            let request = NameRequest {
                segments: c.segments.clone(),
                scope,
                forced: None,
                force: false,
            };
            let p = match &c.renamed_to {
                // Already renamed by a stopped run of this command: that name is kept.
                Some(to) => runs::Plan {
                    name: to.clone(),
                    number: naming::run_number(to),
                    fitted: c.segments.clone(),
                    shortened: Vec::new(),
                    supersede: None,
                    seen: Vec::new(),
                },
                None => runs::plan(a, &request, layout, "00000000000000", "0000")?,
            };
            a.insert(&run_row(
                c,
                &p.name,
                p.number,
                format!("plan-{i}"),
                &scope.to_string(),
                layout,
            ))?;
            names.push((p.name, p.number));
        }
        Ok(names)
    })
}

/// Rename one candidate's folders (in outputs/ and logs/) to `name`, leave symlinks at the
/// old names, and record the run; returns its run id. On any failure the folders go back.
pub fn adopt(
    store: &mut Store,
    c: &Candidate,
    name: &str,
    number: Option<u32>,
    scope: &str,
    layout: &Layout,
) -> Result<String> {
    let resuming = c.renamed_to.as_deref() == Some(name);
    let mut done = Vec::new();
    let mut made = crate::undo::Undo::default();
    let recorded = store.allocate(true, |a| {
        let on_disk = !resuming
            && [&layout.outputs, &layout.logs]
                .iter()
                .any(|b| std::fs::symlink_metadata(b.join(name)).is_ok());
        if a.live_run_named(name)?.is_some() || on_disk {
            return Err(LegacyError::NameTaken {
                name: name.to_string(),
            });
        }
        let id = match &c.run_id {
            Some(id) if a.run_id_free(id)? => id.clone(),
            _ => {
                let mut random = [0u8; 2];
                getrandom::fill(&mut random).map_err(|e| LegacyError::Randomness(e.to_string()))?;
                naming::run_id(&c.time, random)
            }
        };
        if let Some(to) = c.renamed_to.as_deref().filter(|to| *to != name) {
            // Renamed to `to` by a stopped run, and now given another name: move it on.
            done = rename_folders(layout, to, name)?;
        }
        done.extend(rename_folders(layout, &c.folder, name)?);
        make_missing_folder(layout, name, &mut made)?;
        a.insert(&run_row(c, name, number, id.clone(), scope, layout))?;
        Ok(id)
    });
    if recorded.is_err() {
        // The insert or the commit failed: the folders go back to their old names.
        let _ = made.undo();
        undo(&done);
    }
    recorded
}

/// A run has both folders, as `new` makes them: the one a legacy run never had (its logs,
/// say) is made empty, so RUN_DIR and RUN_LOG_DIR both name a folder.
fn make_missing_folder(layout: &Layout, name: &str, made: &mut crate::undo::Undo) -> Result<()> {
    for base in [&layout.outputs, &layout.logs] {
        let dir = base.join(name);
        if std::fs::symlink_metadata(&dir).is_err() {
            std::fs::create_dir_all(base).map_err(|e| super::io_error("create", base, e))?;
            std::fs::create_dir(&dir).map_err(|e| super::io_error("create", &dir, e))?;
            made.made_dir(&dir);
        }
    }
    Ok(())
}
