//! The run counter's view of the folders on disk: the largest `run<N>` among the entries of
//! `outputs/` and `logs/` in a counter scope. A folder's entries are read only when the folder
//! changed since the last `new` (its device, inode, modification time or link count differ from
//! what the store's folder cache holds); the folder a `new` makes moves the cache along, so a
//! project of 100,000 run folders costs a `stat` per folder, not a read of every entry.
//!
//! Whatever the cache says, a name is never reused: each candidate name is checked on disk
//! before it is taken (`plan`), and a folder that appears meanwhile is a conflict (`folders`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Result;
use crate::naming;
use crate::store::{Allocation, FolderStat};

/// A folder the counter looked at, as it was then: what `note_made` compares against.
#[derive(Debug, Clone)]
pub struct Seen {
    dir: PathBuf,
    stat: Option<FolderStat>,
}

/// The largest run number in `dirs` among the entries whose names start with one of
/// `prefixes`, and what each folder was when it was looked at.
pub fn folder_max(
    a: &Allocation<'_>,
    dirs: &[&Path],
    prefixes: &[String],
) -> Result<(Option<u32>, Vec<Seen>)> {
    let mut max = None;
    let mut seen = Vec::with_capacity(dirs.len());
    for dir in dirs {
        // Stat first: a change made while the entries are read then shows next time.
        let stat = FolderStat::of(dir);
        seen.push(Seen {
            dir: dir.to_path_buf(),
            stat,
        });
        let Some(stat) = stat else { continue };
        if let Some(cached) = a.cached_folder_max(dir, &stat, prefixes)? {
            max = max.max(cached);
            continue;
        }
        let Some(numbers) = read_numbers(dir) else {
            continue;
        };
        for (stem, n) in &numbers {
            if prefixes.iter().any(|p| stem.starts_with(p.as_str())) {
                max = max.max(Some(*n));
            }
        }
        a.record_folder_scan(dir, &stat, numbers.iter().map(|(s, n)| (s.as_str(), *n)))?;
    }
    Ok((max, seen))
}

/// The largest run number under each stem among the entries of `dir` (names that are not
/// UTF-8 name no run); `None` when it cannot be read.
fn read_numbers(dir: &Path) -> Option<HashMap<String, u32>> {
    // nix's iterator lends each name instead of allocating two strings per entry, as
    // `std::fs::read_dir` does: a project can have thousands of run folders.
    let flags =
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC;
    let mut entries = nix::dir::Dir::open(dir, flags, nix::sys::stat::Mode::empty()).ok()?;
    let mut numbers: HashMap<String, u32> = HashMap::new();
    for entry in entries.iter().flatten() {
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        let Some((stem, n)) = naming::run_stem(name) else {
            continue;
        };
        match numbers.get_mut(stem) {
            Some(max) => *max = (*max).max(n),
            None => {
                numbers.insert(stem.to_string(), n);
            }
        }
    }
    Some(numbers)
}

/// This allocation made the folder `dir_name` in each folder it looked at: move the cache
/// along (a folder changed by anyone else meanwhile is left for the next `new` to read).
pub fn note_made(a: &Allocation<'_>, seen: &[Seen], dir_name: &str) -> Result<()> {
    let made = naming::run_stem(dir_name);
    for s in seen {
        let (Some(before), Some(after)) = (s.stat, FolderStat::of(&s.dir)) else {
            continue;
        };
        a.record_folder_made(&s.dir, &before, &after, made)?;
    }
    Ok(())
}
