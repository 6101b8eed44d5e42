//! Sources and their items (tables `sources`, `items`): a source file is ingested once, in one
//! transaction, so that a bad row anywhere leaves nothing behind; runs point at it.

use super::ingest::ItemWriter;
use super::sql::{DbError, Row, db_error};
use super::{Allocation, Store, StoreError, now_text};
use crate::source::{Checksums, Item, SourceError, Spec};

/// A source as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub id: i64,
    pub path: String,
    pub sha256: String,
    pub md5: String,
    pub n_items: i64,
}

/// What is known of a file before it is read.
#[derive(Debug, Clone)]
pub struct SourceMeta {
    pub path: String,
    pub format: String,
    pub md5: String,
    pub sha256: String,
    pub size: u64,
    pub key_columns: String,
    pub unpivot: String,
    /// How the file is read, as given: `{"delimiter": ";", "sheet": "S0"}` (keys only when
    /// given; `{}` for neither). Part of the source's identity: the same file read with another
    /// sheet or delimiter is another source.
    pub options: String,
}

impl SourceMeta {
    /// What is recorded of a source about to be read as `spec` says: its path, format,
    /// checksums, and key and unpivot columns (as JSON arrays).
    pub fn of(spec: &Spec, sums: Checksums) -> SourceMeta {
        let json = |columns: &[String]| serde_json::to_string(columns).unwrap_or_default();
        SourceMeta {
            path: super::path_to_text(&spec.path),
            format: spec.format.as_str().into(),
            md5: sums.md5,
            sha256: sums.sha256,
            size: sums.size,
            key_columns: json(&spec.key),
            unpivot: json(&spec.unpivot),
            options: options_json(spec),
        }
    }
}

/// A spec's reading options as stored, keys in order.
fn options_json(spec: &Spec) -> String {
    let mut options = serde_json::Map::new();
    if let Some(d) = spec.delimiter {
        options.insert("delimiter".into(), char::from(d).to_string().into());
    }
    if let Some(sheet) = &spec.sheet {
        options.insert("sheet".into(), sheet.clone().into());
    }
    serde_json::Value::Object(options).to_string()
}

/// Why an ingest failed; the DB is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{path}:{location}: the item's key is {bytes} bytes; a PostgreSQL store takes keys of up to {most} bytes (SQLite's, up to 32 MiB)"
    )]
    KeyTooLong {
        path: String,
        location: String,
        bytes: usize,
        most: usize,
    },
    #[error("{path}:{location}: duplicate key {key} (first at {first})")]
    Duplicate {
        path: String,
        location: String,
        key: String,
        first: String,
    },
}

fn source_row(r: &Row<'_>) -> Result<SourceRow, DbError> {
    Ok(SourceRow {
        id: r.int(0)?,
        path: r.text(1)?,
        sha256: r.text(2)?,
        md5: r.text(3)?,
        n_items: r.int(4)?,
    })
}

impl Allocation<'_> {
    /// Tie a new run to its source.
    pub fn attach_source(
        &self,
        run_id: &str,
        source_id: i64,
        n_items: i64,
    ) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE runs SET source_id = ?2, n_items = ?3 WHERE id = ?1",
                &[run_id.into(), source_id.into(), n_items.into()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl Store {
    /// The source already ingested from this path with this content and keying.
    pub fn find_source(&self, meta: &SourceMeta) -> Result<Option<SourceRow>, StoreError> {
        self.db()
            .query_opt(
                "SELECT id, path, sha256, md5, n_items FROM sources \
                 WHERE path = ?1 AND sha256 = ?2 AND key_columns = ?3 AND unpivot = ?4 \
                 AND options = ?5",
                &[
                    (&meta.path).into(),
                    (&meta.sha256).into(),
                    (&meta.key_columns).into(),
                    (&meta.unpivot).into(),
                    (&meta.options).into(),
                ],
                source_row,
            )
            .map_err(|e| self.db_err(e))
    }

    /// The paths of every source ingested in the project, distinct: files runctl must not write
    /// over (a run's drift check reads them again).
    pub fn source_paths(&self) -> Result<Vec<String>, StoreError> {
        self.db()
            .query("SELECT DISTINCT path FROM sources", &[], |r| r.text(0))
            .map_err(|e| self.db_err(e))
    }

    /// Remove a source and its items if no run uses it (a `new` that ingested it and then failed
    /// to make its run); returns whether it was removed.
    pub fn forget_unused_source(&mut self, source_id: i64) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let tx = self.txn()?;
        let db = tx.db();
        let used = db
            .query_opt(
                "SELECT 1 FROM runs WHERE source_id = ?1 LIMIT 1",
                &[source_id.into()],
                |r| r.int(0),
            )
            .map_err(err)?
            .is_some();
        if used {
            return Ok(false);
        }
        db.execute(
            "DELETE FROM items WHERE source_id = ?1",
            &[source_id.into()],
        )
        .map_err(err)?;
        db.execute("DELETE FROM sources WHERE id = ?1", &[source_id.into()])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    /// The source of a run, if it has one.
    pub fn source_of_run(&self, run_id: &str) -> Result<Option<SourceRow>, StoreError> {
        self.db()
            .query_opt(
                "SELECT s.id, s.path, s.sha256, s.md5, s.n_items FROM sources s \
                 JOIN runs r ON r.source_id = s.id WHERE r.id = ?1",
                &[run_id.into()],
                source_row,
            )
            .map_err(|e| self.db_err(e))
    }

    /// Ingest a source in one transaction: `read` feeds every item; any error rolls it all back.
    pub fn ingest(
        &mut self,
        meta: &SourceMeta,
        read: impl FnOnce(
            &mut dyn FnMut(Item) -> Result<(), SourceError>,
        ) -> Result<Vec<String>, SourceError>,
    ) -> Result<SourceRow, IngestError> {
        let path = self.path.clone();
        let err = |e| db_error(&path, e);
        let tx = self.txn()?;
        let db = tx.db();
        let size = i64::try_from(meta.size).unwrap_or(i64::MAX);
        let id = db
            .query_opt(
                "INSERT INTO sources (path, format, md5, sha256, size, key_columns, unpivot, columns, n_items, ingested_at, options) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]', 0, ?8, ?9) RETURNING id",
                &[
                    (&meta.path).into(),
                    (&meta.format).into(),
                    (&meta.md5).into(),
                    (&meta.sha256).into(),
                    size.into(),
                    (&meta.key_columns).into(),
                    (&meta.unpivot).into(),
                    now_text().as_str().into(),
                    (&meta.options).into(),
                ],
                |r| r.int(0),
            )
            .map_err(err)?
            .unwrap_or_default();
        let mut writer = ItemWriter::new(db, id, &path, &meta.path);
        let read = read(&mut |item| writer.add(item));
        let columns = writer.finish(read)?;
        let n = writer.n;
        let columns = serde_json::to_string(&columns).unwrap_or_else(|_| "[]".into());
        db.execute(
            "UPDATE sources SET n_items = ?2, columns = ?3 WHERE id = ?1",
            &[id.into(), n.into(), columns.as_str().into()],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(SourceRow {
            id,
            path: meta.path.clone(),
            sha256: meta.sha256.clone(),
            md5: meta.md5.clone(),
            n_items: n,
        })
    }

    /// The data columns of a run's items, in file order (unpivoted columns become `column`
    /// and `value`).
    pub fn item_columns(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        let (columns, unpivot) = self
            .db()
            .query_opt(
                "SELECT s.columns, s.unpivot FROM sources s JOIN runs r ON r.source_id = s.id WHERE r.id = ?1",
                &[run_id.into()],
                |r| Ok((r.text(0)?, r.text(1)?)),
            )
            .map_err(|e| self.db_err(e))?
            .unwrap_or_default();
        let columns: Vec<String> = serde_json::from_str(&columns).unwrap_or_default();
        let unpivot: Vec<String> = serde_json::from_str(&unpivot).unwrap_or_default();
        if unpivot.is_empty() {
            return Ok(columns);
        }
        let mut kept: Vec<String> = columns
            .into_iter()
            .filter(|c| !unpivot.contains(c))
            .collect();
        kept.extend(["column".to_string(), "value".to_string()]);
        Ok(kept)
    }
}
