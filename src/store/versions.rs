//! Model versions (table `versions`): atomic `V<n>` allocation, webhook updates by job id,
//! lookups, and adding an import in one transaction; applying a sync plan is in `sync`.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError, classify, now_text};
pub use crate::versions::NewVersion;
use crate::versions::VersionStatus;

mod sync;

pub use sync::Applied;

/// A version as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRow {
    pub family: String,
    pub name: String,
    pub job_id: Option<String>,
    pub status: crate::state::Stored<VersionStatus>,
    pub artifact_url: Option<String>,
    pub parameters: Option<String>,
    pub description: Option<String>,
    pub error: Option<String>,
    pub etag: Option<String>,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_synced: Option<String>,
}

const COLUMNS: &str = "family, name, job_id, status, artifact_url, parameters, description, error, \
     etag, size, last_modified, created_at, updated_at, last_synced";

fn from_row(row: &Row<'_>) -> rusqlite::Result<VersionRow> {
    Ok(VersionRow {
        family: row.get(0)?,
        name: row.get(1)?,
        job_id: row.get(2)?,
        status: row.get(3)?,
        artifact_url: row.get(4)?,
        parameters: row.get(5)?,
        description: row.get(6)?,
        error: row.get(7)?,
        etag: row.get(8)?,
        size: row.get(9)?,
        last_modified: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
        last_synced: row.get(13)?,
    })
}

/// Why a version could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddConflict {
    /// The family already has a version of this name.
    NameTaken {
        name: String,
    },
    JobTaken {
        family: String,
        name: String,
    },
    /// The family's largest `V<n>` is `i64::MAX`: there is no next number to take.
    NoNextNumber {
        largest: i64,
    },
}

impl Store {
    /// Add a version in one write transaction; the name, when not given, is `V<n+1>` for the
    /// largest `n` of the family. Returns the stored row, or the conflict.
    pub fn add_version(
        &mut self,
        new: &NewVersion,
        number_of: impl Fn(&str) -> Option<i64>,
    ) -> Result<Result<VersionRow, AddConflict>, StoreError> {
        let mut results = self.add_versions(std::slice::from_ref(new), number_of)?;
        Ok(results.pop().unwrap_or(Err(AddConflict::NameTaken {
            name: new.name.clone().unwrap_or_default(),
        })))
    }

    /// Add many versions in one write transaction (an import), each with its own outcome.
    pub fn add_versions(
        &mut self,
        news: &[NewVersion],
        number_of: impl Fn(&str) -> Option<i64>,
    ) -> Result<Vec<Result<VersionRow, AddConflict>>, StoreError> {
        let path = self.path.clone();
        let tx = self.write_tx()?;
        let results = news
            .iter()
            .map(|new| insert_version(&tx, &path, new, &number_of))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(|e| classify(&path, e))?;
        Ok(results)
    }

    /// The webhook's update by external job id: a new status, and optionally the artifact URL
    /// or the error (kept only for a failed version, cleared for any other status). Name and
    /// parameters are kept. `None` when no version has this job id.
    pub fn update_version_by_job(
        &self,
        job_id: &str,
        status: VersionStatus,
        url: Option<&str>,
        error: Option<&str>,
    ) -> Result<Option<VersionRow>, StoreError> {
        let error = error.filter(|_| status == VersionStatus::Failed);
        let changed = self
            .conn()?
            .execute(
                "UPDATE versions SET status = ?2, artifact_url = coalesce(?3, artifact_url), \
                 error = ?4, updated_at = ?5 WHERE job_id = ?1",
                params![job_id, status, url, error, now_text()],
            )
            .map_err(|e| self.sql_err(e))?;
        if changed == 0 {
            return Ok(None);
        }
        self.version_by_job(job_id)
    }

    /// A version by external job id.
    pub fn version_by_job(&self, job_id: &str) -> Result<Option<VersionRow>, StoreError> {
        self.conn()?
            .query_row(
                &format!("SELECT {COLUMNS} FROM versions WHERE job_id = ?1"),
                [job_id],
                from_row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// A version by family and name.
    pub fn version(&self, family: &str, name: &str) -> Result<Option<VersionRow>, StoreError> {
        self.conn()?
            .query_row(
                &format!("SELECT {COLUMNS} FROM versions WHERE family = ?1 AND name = ?2"),
                params![family, name],
                from_row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// Versions, by family then by number and name.
    pub fn list_versions(
        &self,
        family: Option<&str>,
        status: Option<VersionStatus>,
    ) -> Result<Vec<VersionRow>, StoreError> {
        let mut stmt = self
            .conn()?
            .prepare(&format!(
                "SELECT {COLUMNS} FROM versions WHERE (?1 IS NULL OR family = ?1) \
                 AND (?2 IS NULL OR status = ?2) ORDER BY family, number IS NULL, number, name"
            ))
            .map_err(|e| self.sql_err(e))?;
        stmt.query_map(params![family, status], from_row)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.sql_err(e))
    }
}

/// Insert one version inside the caller's transaction.
fn insert_version(
    tx: &rusqlite::Connection,
    path: &std::path::Path,
    new: &NewVersion,
    number_of: &impl Fn(&str) -> Option<i64>,
) -> Result<Result<VersionRow, AddConflict>, StoreError> {
    let err = |e| classify(path, e);
    let name = match &new.name {
        Some(name) => name.clone(),
        None => match next_name(tx, &new.family, number_of).map_err(err)? {
            Ok(name) => name,
            Err(conflict) => return Ok(Err(conflict)),
        },
    };
    if let Some(conflict) = conflict(tx, &new.family, &name, new.job_id.as_deref()).map_err(err)? {
        return Ok(Err(conflict));
    }
    let now = now_text();
    tx.execute(
        "INSERT INTO versions (family, name, number, job_id, status, artifact_url, \
             parameters, description, error, etag, size, last_modified, created_at, updated_at, \
             last_synced) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            new.family,
            name,
            number_of(&name),
            new.job_id,
            new.status,
            new.artifact_url,
            new.parameters,
            new.description,
            new.error,
            new.etag,
            new.size,
            new.last_modified,
            new.created_at.clone().unwrap_or_else(|| now.clone()),
            now,
            new.last_synced
        ],
    )
    .map_err(err)?;
    let row = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM versions WHERE family = ?1 AND name = ?2"),
            params![new.family, name],
            from_row,
        )
        .map_err(err)?;
    Ok(Ok(row))
}

/// The family's next `V<n>`: one more than its largest number. Rows an older runctl stored
/// without their number (it counted only up to nine digits, so `V1000000000` was handed out
/// again and again) get it first, or they would still be missed.
fn next_name(
    tx: &rusqlite::Connection,
    family: &str,
    number_of: &impl Fn(&str) -> Option<i64>,
) -> rusqlite::Result<Result<String, AddConflict>> {
    let unnumbered: Vec<String> = tx
        .prepare("SELECT name FROM versions WHERE family = ?1 AND number IS NULL")?
        .query_map([family], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for name in unnumbered {
        if let Some(number) = number_of(&name) {
            tx.execute(
                "UPDATE versions SET number = ?3 WHERE family = ?1 AND name = ?2",
                params![family, name, number],
            )?;
        }
    }
    let largest: Option<i64> = tx.query_row(
        "SELECT max(number) FROM versions WHERE family = ?1",
        [family],
        |r| r.get(0),
    )?;
    let largest = largest.unwrap_or(0).max(0);
    Ok(match largest.checked_add(1) {
        Some(next) => Ok(format!("V{next}")),
        None => Err(AddConflict::NoNextNumber { largest }),
    })
}

/// Why a version cannot be added: its name is taken in its family, or its job id belongs to
/// another version.
fn conflict(
    tx: &rusqlite::Connection,
    family: &str,
    name: &str,
    job_id: Option<&str>,
) -> rusqlite::Result<Option<AddConflict>> {
    let taken: i64 = tx.query_row(
        "SELECT count(*) FROM versions WHERE family = ?1 AND name = ?2",
        params![family, name],
        |r| r.get(0),
    )?;
    if taken > 0 {
        return Ok(Some(AddConflict::NameTaken {
            name: name.to_string(),
        }));
    }
    let Some(job) = job_id else {
        return Ok(None);
    };
    let holder: Option<(String, String)> = tx
        .query_row(
            "SELECT family, name FROM versions WHERE job_id = ?1",
            [job],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(holder.map(|(family, name)| AddConflict::JobTaken { family, name }))
}
