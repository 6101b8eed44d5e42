//! The selected items of a run, read a page at a time ([`ItemPages`]): the one pager of the
//! engine and `runctl items`. Each page is a short read, so a long run never holds a read
//! snapshot open while results commit.

use super::ledger::{Prior, Selection, selection_filter};
#[cfg(feature = "postgres")]
use super::sql::DbError;
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
    /// As a member of a pass (PostgreSQL): how many items to claim next, when the last claim
    /// was, and when to look again after one that found nothing free.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    claims: ClaimPace,
}

/// How a member claims: pages sized to about a second of its own work at the pace of its last
/// page, between twice its slots and [`ItemPages::PAGE`]; a claim that found nothing free
/// while others hold items is tried again 200 ms later, when their items may have come free.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
struct ClaimPace {
    size: usize,
    /// Items the last claim got.
    got: usize,
    last: Option<std::time::Instant>,
    again_at: Option<std::time::Instant>,
}

impl ItemPages<'_> {
    /// Items per page.
    pub const PAGE: usize = 1000;

    /// The next page; empty once every selected item has been read.
    pub fn next_page(&mut self) -> Result<Vec<PageItem>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        #[cfg(feature = "postgres")]
        if let Some(page) = self.claim()? {
            return Ok(page);
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
                |row| page_item(row, prior),
            )
            .map_err(|e| store.db_err(e))
    }
}

#[cfg(feature = "postgres")]
impl ItemPages<'_> {
    /// As a member of a pass: the next page claimed, or nothing while none is free (and
    /// done once no one holds any); `None` when the store is no member's.
    fn claim(&mut self) -> Result<Option<Vec<PageItem>>, StoreError> {
        let store = self.store;
        let (super::Engine::Postgres(conn, _), Some(me)) =
            (&store.engine, store.claimant.borrow().clone())
        else {
            return Ok(None);
        };
        let now = std::time::Instant::now();
        if self.claims.again_at.is_some_and(|at| now < at) {
            return Ok(Some(Vec::new()));
        }
        let least = (2 * me.slots).clamp(8, Self::PAGE);
        let pace = &mut self.claims;
        // The last page went in `d`: a second of work at that pace, so that at the end of a
        // run no member holds more than about a second's worth the others wait for.
        pace.size = match pace.last.map(|t| now.duration_since(t).as_secs_f64()) {
            Some(d) if d > 0.0 => (pace.got as f64 / d) as usize,
            _ => least,
        }
        .clamp(least, Self::PAGE);
        let n = i64::try_from(pace.size).unwrap_or(1000);
        let after = self.after.clone();
        let (rows, others) = claim_rows(store, conn, self.run_id, &me, n, after.as_deref())?;
        if rows.is_empty() {
            self.done = others == 0;
            let wait =
                std::time::Duration::from_millis(u64::try_from(me.lease_ms / 4).unwrap_or(0));
            self.claims.again_at = Some(now + wait.min(std::time::Duration::from_millis(200)));
            return Ok(Some(Vec::new()));
        }
        self.claims.last = Some(now);
        self.claims.got = rows.len();
        self.claims.again_at = None;
        let prior = match self.selection {
            Selection::Errors => Prior::Error,
            _ => Prior::Unknown,
        };
        let page = rows
            .iter()
            .map(|row| page_item(&super::sql::Row::Postgres(row), prior))
            .collect::<Result<Vec<_>, DbError>>()
            .map_err(|e| store.db_err(e))?;
        if let Some(last) = page.last() {
            self.after = Some(last.key.clone());
        }
        Ok(Some(page))
    }
}

/// Claim up to `n` items as member `me` (members_pg.rs); with none, how many others hold.
#[cfg(feature = "postgres")]
fn claim_rows(
    store: &Store,
    conn: &std::cell::RefCell<super::pg::PgConn>,
    run_id: &str,
    me: &super::members::Claimant,
    n: i64,
    after: Option<&str>,
) -> Result<(Vec<postgres::Row>, i64), StoreError> {
    use super::members_pg::{claim, unclaim};
    let mut again = store.reconnecting();
    let stamp = super::now_text();
    let mut retry = false;
    loop {
        let mut c = conn.borrow_mut();
        // A claim tried again first frees what a try whose answer was lost had claimed.
        let claimed = (if retry {
            unclaim(&mut c, run_id, me.id, &stamp)
        } else {
            Ok(())
        })
        .and_then(|()| claim(&mut c, run_id, me.id, n, after, &stamp))
        .and_then(|rows| match (rows.is_empty(), after) {
            // Nothing past the last key: from the start, before saying none is free.
            (true, Some(_)) => claim(&mut c, run_id, me.id, n, None, &stamp),
            _ => Ok(rows),
        })
        .and_then(|rows| match rows.is_empty() {
            true => super::members_pg::held_by_others(&mut c, run_id, me.id)
                .map(|others| (rows, others)),
            false => Ok((rows, 0)),
        })
        .map_err(|e| store.db_err(e));
        drop(c);
        match claimed {
            Err(e) if again.after(store, &e) => retry = true,
            claimed => return claimed,
        }
    }
}

/// An item of a page: key, data, location, attempts, last error and its category.
fn page_item(row: &super::sql::Row<'_>, prior: Prior) -> Result<PageItem, super::sql::DbError> {
    Ok(PageItem {
        key: row.text(0)?,
        data: row.text(1)?,
        location: row.text(2)?,
        attempts: row.int(3)?,
        last_error: row.opt_text(4)?,
        category: row.opt_stored(5)?,
        prior,
    })
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
            claims: ClaimPace::default(),
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
