//! The identifier-hash registry and folder aliases (tables `hashes` and `links`).
//!
//! Recording is an insert that keeps the first identifier of a hash; a second, different
//! identifier for the same hash is reported as a collision and nothing is written.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::{Store, StoreError};

/// One registered hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRecord {
    pub algo: String,
    pub hash: String,
    pub identifier: String,
    pub origin: String,
    pub created_at: String,
}

/// One folder alias made by `runctl link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    pub alias_path: PathBuf,
    pub target_path: PathBuf,
    pub algo: String,
    pub hash: String,
    pub mode: String,
}

fn now() -> String {
    super::now_text()
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Store {
    /// Register `identifier` under `hash`; a different identifier already there is a collision.
    pub fn record_hash(
        &mut self,
        algo: &str,
        hash: &str,
        identifier: &str,
        origin: &str,
    ) -> Result<(), StoreError> {
        let item = [(hash.to_string(), identifier.to_string())];
        self.record_hashes(algo, &item, origin)?;
        Ok(())
    }

    /// Register many (hash, identifier) pairs in one transaction; the first collision aborts it
    /// and nothing of this call is kept.
    pub fn record_hashes(
        &mut self,
        algo: &str,
        items: &[(String, String)],
        origin: &str,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let added = insert_hashes(&tx, &path, algo, items, origin)?;
        tx.commit().map_err(|e| super::classify(&path, e))?;
        Ok(added)
    }

    /// Every registered hash with these hex digits (one per digest at most).
    pub fn find_hash(&self, hash: &str) -> Result<Vec<HashRecord>, StoreError> {
        let mut stmt = self
            .conn()?
            .prepare(
                "SELECT algo, hash, identifier, origin, created_at FROM hashes WHERE hash = ?1",
            )
            .map_err(|e| self.sql_err(e))?;
        let mut found: Vec<HashRecord> = stmt
            .query_map([hash], |row| {
                Ok(HashRecord {
                    algo: row.get(0)?,
                    hash: row.get(1)?,
                    identifier: row.get(2)?,
                    origin: row.get(3)?,
                    created_at: row.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql_err(e))?;
        // One per digest at most: sorted here, not by a sort in SQL.
        found.sort_by(|a, b| a.algo.cmp(&b.algo));
        Ok(found)
    }

    /// Record (or refresh) a folder alias.
    pub fn record_link(&mut self, link: &LinkRecord) -> Result<(), StoreError> {
        self.conn()?
            .execute(
                "INSERT INTO links (alias_path, target_path, algo, hash, mode, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (alias_path) DO UPDATE SET target_path = excluded.target_path, \
                 algo = excluded.algo, hash = excluded.hash, mode = excluded.mode",
                params![
                    path_text(&link.alias_path),
                    path_text(&link.target_path),
                    link.algo,
                    link.hash,
                    link.mode,
                    now()
                ],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    /// Aliases whose hash is `hash`, or whose alias or target path is `path`.
    pub fn find_links(
        &self,
        hash: Option<&str>,
        path: Option<&Path>,
    ) -> Result<Vec<LinkRecord>, StoreError> {
        let path = path.map(path_text);
        let mut stmt = self
            .conn()?
            .prepare(
                "SELECT alias_path, target_path, algo, hash, mode FROM links \
                 WHERE hash = ?1 OR alias_path = ?2 OR target_path = ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        let mut links: Vec<LinkRecord> = stmt
            .query_map(params![hash, path], |row| {
                Ok(LinkRecord {
                    alias_path: PathBuf::from(row.get::<_, String>(0)?),
                    target_path: PathBuf::from(row.get::<_, String>(1)?),
                    algo: row.get(2)?,
                    hash: row.get(3)?,
                    mode: row.get(4)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql_err(e))?;
        links.sort_by(|a, b| a.alias_path.as_os_str().cmp(b.alias_path.as_os_str()));
        Ok(links)
    }
}

/// Insert (hash, identifier) pairs on `conn` (inside the caller's transaction); returns how many
/// were new. A hash already held by another identifier is a collision.
pub(super) fn insert_hashes(
    conn: &rusqlite::Connection,
    path: &Path,
    algo: &str,
    items: &[(String, String)],
    origin: &str,
) -> Result<usize, StoreError> {
    let err = |e| super::classify(path, e);
    let created = now();
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO hashes (algo, hash, identifier, origin, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (algo, hash) DO NOTHING",
        )
        .map_err(err)?;
    let mut lookup = conn
        .prepare_cached("SELECT identifier FROM hashes WHERE algo = ?1 AND hash = ?2")
        .map_err(err)?;
    let mut added = 0;
    for (hash, identifier) in items {
        let inserted = insert
            .execute(params![algo, hash, identifier, origin, created])
            .map_err(err)?;
        added += inserted;
        if inserted == 0 {
            let known: String = lookup
                .query_row(params![algo, hash], |row| row.get(0))
                .map_err(err)?;
            if known != *identifier {
                return Err(StoreError::Collision {
                    hash: hash.clone(),
                    existing: known,
                    new: identifier.clone(),
                });
            }
        }
    }
    Ok(added)
}
