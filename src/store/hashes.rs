//! The identifier-hash registry and folder aliases (tables `hashes` and `links`).
//!
//! Recording is an insert that keeps the first identifier of a hash; a second, different
//! identifier for the same hash is reported as a collision and nothing is written.

use std::path::{Path, PathBuf};

use super::sql::{Db, Value, db_error};
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
    /// and nothing of this call is kept. (On PostgreSQL, as on SQLite, two processes that
    /// register one hash at once keep the first: the insert does nothing on the key's
    /// conflict, and the loser reads the winner's identifier.)
    pub fn record_hashes(
        &mut self,
        algo: &str,
        items: &[(String, String)],
        origin: &str,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let tx = self.txn()?;
        let added = insert_hashes(tx.db(), &path, algo, items, origin)?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(added)
    }

    /// Every registered hash with these hex digits (one per digest at most).
    pub fn find_hash(&self, hash: &str) -> Result<Vec<HashRecord>, StoreError> {
        let mut found = self
            .db()
            .query(
                "SELECT algo, hash, identifier, origin, created_at FROM hashes WHERE hash = ?1",
                &[hash.into()],
                |row| {
                    Ok(HashRecord {
                        algo: row.text(0)?,
                        hash: row.text(1)?,
                        identifier: row.text(2)?,
                        origin: row.text(3)?,
                        created_at: row.text(4)?,
                    })
                },
            )
            .map_err(|e| self.db_err(e))?;
        // One per digest at most: sorted here, not by a sort in SQL.
        found.sort_by(|a, b| a.algo.cmp(&b.algo));
        Ok(found)
    }

    /// Record (or refresh) a folder alias.
    pub fn record_link(&mut self, link: &LinkRecord) -> Result<(), StoreError> {
        let (alias, target, created) = (
            path_text(&link.alias_path),
            path_text(&link.target_path),
            now(),
        );
        self.db()
            .execute(
                "INSERT INTO links (alias_path, target_path, algo, hash, mode, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT (alias_path) DO UPDATE SET target_path = excluded.target_path, \
                 algo = excluded.algo, hash = excluded.hash, mode = excluded.mode",
                &[
                    Value::from(&alias),
                    Value::from(&target),
                    Value::from(&link.algo),
                    Value::from(&link.hash),
                    Value::from(&link.mode),
                    Value::from(&created),
                ],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// Aliases whose hash is `hash`, or whose alias or target path is `path`.
    pub fn find_links(
        &self,
        hash: Option<&str>,
        path: Option<&Path>,
    ) -> Result<Vec<LinkRecord>, StoreError> {
        let path = path.map(path_text);
        let mut links = self
            .db()
            .query(
                "SELECT alias_path, target_path, algo, hash, mode FROM links \
                 WHERE hash = ?1 OR alias_path = ?2 OR target_path = ?2",
                &[hash.into(), path.as_ref().into()],
                |row| {
                    Ok(LinkRecord {
                        alias_path: PathBuf::from(row.text(0)?),
                        target_path: PathBuf::from(row.text(1)?),
                        algo: row.text(2)?,
                        hash: row.text(3)?,
                        mode: row.text(4)?,
                    })
                },
            )
            .map_err(|e| self.db_err(e))?;
        links.sort_by(|a, b| a.alias_path.as_os_str().cmp(b.alias_path.as_os_str()));
        Ok(links)
    }
}

/// Insert (hash, identifier) pairs on `db` (inside the caller's transaction); returns how many
/// were new. A hash already held by another identifier is a collision.
pub(super) fn insert_hashes(
    db: Db<'_>,
    path: &Path,
    algo: &str,
    items: &[(String, String)],
    origin: &str,
) -> Result<usize, StoreError> {
    let err = |e| db_error(path, e);
    let created = now();
    let mut added = 0;
    // In key order: two processes registering overlapping batches at once take the rows'
    // locks in one order, so that neither waits for the other in a circle (PostgreSQL's
    // "deadlock detected").
    let mut ordered: Vec<&(String, String)> = items.iter().collect();
    ordered.sort_unstable();
    #[cfg(feature = "postgres")]
    if let Db::Postgres(conn) = db {
        // Two statements for the whole batch, not two round trips a line.
        let (added, clash) = conn
            .borrow_mut()
            .insert_hash_pairs(algo, origin, &created, &ordered)
            .map_err(err)?;
        return collision(clash).map(|()| added);
    }
    for (hash, identifier) in ordered {
        let inserted = db
            .execute(
                "INSERT INTO hashes (algo, hash, identifier, origin, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (algo, hash) DO NOTHING",
                &[
                    algo.into(),
                    hash.into(),
                    identifier.into(),
                    origin.into(),
                    (&created).into(),
                ],
            )
            .map_err(err)?;
        added += inserted;
        if inserted == 0 {
            let known = db
                .query_opt(
                    "SELECT identifier FROM hashes WHERE algo = ?1 AND hash = ?2",
                    &[algo.into(), hash.into()],
                    |row| row.text(0),
                )
                .map_err(err)?
                .unwrap_or_default();
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

/// The collision error for a clash found on PostgreSQL.
#[cfg(feature = "postgres")]
fn collision(clash: Option<super::pg_conn::Clash>) -> Result<(), StoreError> {
    match clash {
        Some((hash, existing, new)) => Err(StoreError::Collision {
            hash,
            existing,
            new,
        }),
        None => Ok(()),
    }
}
