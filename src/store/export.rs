//! The rows of `runctl export`: every item of a run with its result, if any, in key order, read
//! a page at a time.

use super::{Store, StoreError};
use crate::state::{ErrorCategory, ResultStatus, Stored};

/// One row of `runctl export`: an item and its result, if any.
#[derive(Debug, Clone, Default)]
pub struct ExportRow {
    pub key: String,
    pub data: String,
    pub status: Option<Stored<ResultStatus>>,
    pub output: Option<String>,
    pub attempt_count: Option<i64>,
    pub last_error: Option<String>,
    pub error_category: Option<Stored<ErrorCategory>>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
}

impl Store {
    /// Stream every item of a run with its result, in key order, a page at a time (short
    /// reads, as the pager's).
    pub fn for_each_export(
        &self,
        run_id: &str,
        mut f: impl FnMut(ExportRow) -> bool,
    ) -> Result<(), StoreError> {
        const PAGE: i64 = 1000;
        let mut after: Option<String> = None;
        loop {
            let from = match after {
                Some(_) => "AND i.key > ?3",
                None => "AND CAST(?3 AS TEXT) IS NULL",
            };
            let sql = format!(
                "SELECT i.key, i.data, r.status, r.output, r.attempt_count, r.last_error, \
                 r.error_category, r.finished_at, r.duration_ms FROM items i \
                 LEFT JOIN results r ON r.run_id = ?1 AND r.key = i.key \
                 WHERE i.source_id = (SELECT source_id FROM runs WHERE id = ?1) {from} \
                 ORDER BY i.key LIMIT ?2"
            );
            let page = self
                .db()
                .query(
                    &sql,
                    &[run_id.into(), PAGE.into(), after.as_deref().into()],
                    |row| {
                        Ok(ExportRow {
                            key: row.text(0)?,
                            data: row.text(1)?,
                            status: row.opt_stored(2)?,
                            output: row.opt_text(3)?,
                            attempt_count: row.opt_int(4)?,
                            last_error: row.opt_text(5)?,
                            error_category: row.opt_stored(6)?,
                            finished_at: row.opt_text(7)?,
                            duration_ms: row.opt_int(8)?,
                        })
                    },
                )
                .map_err(|e| self.db_err(e))?;
            let full = page.len() as i64 == PAGE;
            after = page.last().map(|r| r.key.clone());
            for row in page {
                if !f(row) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }
}
