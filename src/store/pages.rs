//! The selected items of a run, read a page at a time ([`ItemPages`]): the one pager of the
//! engine and `runctl items`. Each page is a short read, so a long run never holds a read
//! snapshot open while results commit.

use super::ledger::{Prior, Selection, selection_filter};
use super::{Store, StoreError};
use crate::state::{ErrorCategory, Stored};

/// One item as handed to a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageItem {
    pub key: String,
    /// The item's columns, a JSON object.
    pub data: String,
    /// Where it came from in the source file.
    pub location: String,
    /// Attempts recorded for it so far.
    pub attempts: i64,
    /// With [`Selection::Errors`]: its latest error and that error's category.
    pub last_error: Option<String>,
    pub category: Option<Stored<ErrorCategory>>,
    /// Its result when it was read, as far as the selection tells.
    pub prior: Prior,
}

/// The selected items of a run in key order, read a page at a time: each page is a short read,
/// so a long run never holds a read snapshot open while results commit.
pub struct ItemPages<'a> {
    store: &'a Store,
    run_id: &'a str,
    selection: Selection,
    /// The last key read.
    after: Option<String>,
    done: bool,
}

impl ItemPages<'_> {
    /// Items per page.
    pub const PAGE: usize = 1000;

    /// The next page; empty once every selected item has been read.
    pub fn next_page(&mut self) -> Result<Vec<PageItem>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        let page = self.read()?;
        self.done = page.len() < Self::PAGE;
        if let Some(last) = page.last() {
            self.after = Some(last.key.clone());
        }
        Ok(page)
    }

    /// Whether every selected item has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The page after `after` (exclusive), in key order.
    fn read(&self) -> Result<Vec<PageItem>, StoreError> {
        let (store, after) = (self.store, self.after.as_deref());
        let filter = selection_filter(self.selection);
        let from = if after.is_some() {
            "AND i.key > ?3"
        } else {
            // Typed, for PostgreSQL, which cannot tell a bare parameter's type.
            "AND CAST(?3 AS TEXT) IS NULL"
        };
        let prior = match self.selection {
            Selection::Remaining => "0",
            _ => {
                "coalesce((SELECT r.attempt_count FROM results r WHERE r.run_id = ?1 AND r.key = i.key), 0)"
            }
        };
        let error = match self.selection {
            Selection::Errors => {
                "(SELECT r.last_error FROM results r WHERE r.run_id = ?1 AND r.key = i.key), \
                 (SELECT r.error_category FROM results r WHERE r.run_id = ?1 AND r.key = i.key)"
            }
            _ => "NULL, NULL",
        };
        let sql = format!(
            "SELECT i.key, i.data, i.location, {prior}, {error} FROM items i \
             WHERE i.source_id = (SELECT source_id FROM runs WHERE id = ?1) {from} {filter} \
             ORDER BY i.key LIMIT ?2"
        );
        let limit = i64::try_from(Self::PAGE).unwrap_or(i64::MAX);
        let prior = match self.selection {
            Selection::Remaining => Prior::Nothing,
            Selection::Errors => Prior::Error,
            Selection::All => Prior::Unknown,
        };
        store
            .db()
            .query(
                &sql,
                &[self.run_id.into(), limit.into(), after.into()],
                |row| {
                    Ok(PageItem {
                        key: row.text(0)?,
                        data: row.text(1)?,
                        location: row.text(2)?,
                        attempts: row.int(3)?,
                        last_error: row.opt_text(4)?,
                        category: row.opt_stored(5)?,
                        prior,
                    })
                },
            )
            .map_err(|e| store.db_err(e))
    }
}

impl Store {
    /// The selected items of a run, a page at a time.
    pub fn item_pages<'a>(&'a self, run_id: &'a str, selection: Selection) -> ItemPages<'a> {
        ItemPages {
            store: self,
            run_id,
            selection,
            after: None,
            done: false,
        }
    }

    /// Stream the selected items of a run in key order, read a page at a time
    /// ([`ItemPages`]). `f` returns false to stop early.
    pub fn for_each_item(
        &self,
        run_id: &str,
        selection: Selection,
        mut f: impl FnMut(&PageItem) -> bool,
    ) -> Result<(), StoreError> {
        let mut pages = self.item_pages(run_id, selection);
        while !pages.is_done() {
            for item in &pages.next_page()? {
                if !f(item) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}
