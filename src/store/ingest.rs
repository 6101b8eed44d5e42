//! The items of one ingest as they are written (`store.ingest`): on SQLite one insert an item,
//! on PostgreSQL one insert from arrays for each thousand, so that a source of a million rows
//! is a thousand round trips, not a million. A key seen before is the first duplicate in file
//! order on both.

use super::sources::IngestError;
use super::sql::{Db, db_error};
use crate::source::{Item, SourceError};

/// Items sent to PostgreSQL together.
#[cfg(feature = "postgres")]
const BATCH: usize = 1000;

/// Writes the items of one ingest. A row the reader must stop at is an error to it; why (a
/// duplicate key, or a write the DB refused, such as on a full disk) is kept in `failure`.
pub(super) struct ItemWriter<'a> {
    db: Db<'a>,
    source_id: i64,
    /// The store, as its errors name it.
    store: &'a std::path::Path,
    /// The source file, as its errors name it.
    source: &'a str,
    /// Items written (or, on PostgreSQL, waiting to be).
    pub n: i64,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pending: Vec<Item>,
    failure: Option<IngestError>,
}

/// The longest item key a PostgreSQL store takes: its B-tree indexes hold entries up to 2,704
/// bytes (a third of a page), the key's row with the run id or source id beside it.
#[cfg(feature = "postgres")]
pub const PG_KEY_BYTES: usize = 2_600;

impl<'a> ItemWriter<'a> {
    pub fn new(
        db: Db<'a>,
        source_id: i64,
        store: &'a std::path::Path,
        source: &'a str,
    ) -> ItemWriter<'a> {
        ItemWriter {
            db,
            source_id,
            store,
            source,
            n: 0,
            pending: Vec::new(),
            failure: None,
        }
    }

    /// Write (or queue) one item; an error stops the reader.
    pub fn add(&mut self, item: Item) -> Result<(), SourceError> {
        if self.failure.is_some() {
            return Err(self.stop(item.location));
        }
        match self.db {
            Db::Sqlite(_) => self.add_now(item)?,
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => {
                if item.key.len() > PG_KEY_BYTES {
                    self.failure = Some(IngestError::KeyTooLong {
                        path: self.source.to_string(),
                        location: item.location.clone(),
                        bytes: item.key.len(),
                        most: PG_KEY_BYTES,
                    });
                    return Err(self.stop(item.location));
                }
                self.pending.push(item);
                if self.pending.len() >= BATCH {
                    self.flush();
                }
            }
        }
        self.n += 1;
        match &self.failure {
            Some(_) => Err(self.stop(String::new())),
            None => Ok(()),
        }
    }

    /// What the reader ended with, after the last items are written: its columns, or the
    /// first failure in file order (a duplicate before a bad row is the one reported).
    pub fn finish(
        &mut self,
        read: Result<Vec<String>, SourceError>,
    ) -> Result<Vec<String>, IngestError> {
        #[cfg(feature = "postgres")]
        self.flush();
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        Ok(read?)
    }

    /// The error the reader stops at; the reason is in `failure`.
    fn stop(&self, location: String) -> SourceError {
        SourceError::Bad {
            path: self.source.into(),
            location,
            reason: self
                .failure
                .as_ref()
                .map_or_else(String::new, ToString::to_string),
        }
    }

    fn add_now(&mut self, item: Item) -> Result<(), SourceError> {
        let data = serde_json::Value::Object(item.data).to_string();
        let sql = "INSERT INTO items (source_id, key, location, data) VALUES (?1, ?2, ?3, ?4) \
                   ON CONFLICT DO NOTHING";
        let params = [
            self.source_id.into(),
            item.key.as_str().into(),
            item.location.as_str().into(),
            data.as_str().into(),
        ];
        match self.db.execute(sql, &params) {
            Ok(0) => {
                let first = self
                    .db
                    .query_opt(
                        "SELECT location FROM items WHERE source_id = ?1 AND key = ?2",
                        &[self.source_id.into(), item.key.as_str().into()],
                        |r| r.text(0),
                    )
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                self.failure = Some(IngestError::Duplicate {
                    path: self.source.to_string(),
                    location: item.location.clone(),
                    key: item.key,
                    first,
                });
            }
            Ok(_) => {}
            // The DB's failure, not a bad row.
            Err(e) => self.failure = Some(IngestError::Store(db_error(self.store, e))),
        }
        match self.failure {
            Some(_) => Err(self.stop(item.location)),
            None => Ok(()),
        }
    }

    /// Write the queued items in one statement; a duplicate among them (or with an earlier
    /// batch) becomes the failure.
    #[cfg(feature = "postgres")]
    fn flush(&mut self) {
        let (Db::Postgres(client), false) = (self.db, self.pending.is_empty()) else {
            return;
        };
        let items = std::mem::take(&mut self.pending);
        let found = client.borrow_mut().insert_items(self.source_id, &items);
        match found {
            Ok(None) => {}
            Ok(Some((at, first))) => {
                let item = &items[at];
                self.failure = Some(IngestError::Duplicate {
                    path: self.source.to_string(),
                    location: item.location.clone(),
                    key: item.key.clone(),
                    first,
                });
            }
            Err(e) => self.failure = Some(IngestError::Store(db_error(self.store, e))),
        }
    }
}
