//! Model versions (table `versions`): atomic `V<n>` allocation, webhook updates by job id,
//! lookups, and adding an import in one transaction; applying a sync plan is in `sync`.

use super::sql::{Db, DbError, Row, Value, db_error};
use super::{Store, StoreError, now_text};
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

fn from_row(row: &Row<'_>) -> Result<VersionRow, DbError> {
    Ok(VersionRow {
        family: row.text(0)?,
        name: row.text(1)?,
        job_id: row.opt_text(2)?,
        status: row.stored(3)?,
        artifact_url: row.opt_text(4)?,
        parameters: row.opt_text(5)?,
        description: row.opt_text(6)?,
        error: row.opt_text(7)?,
        etag: row.opt_text(8)?,
        size: row.opt_int(9)?,
        last_modified: row.opt_text(10)?,
        created_at: row.text(11)?,
        updated_at: row.text(12)?,
        last_synced: row.opt_text(13)?,
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
        let tx = self.txn()?;
        // Versions are numbered by one writer at a time across hosts too.
        tx.serialize_writers(VERSIONS_LOCK)
            .map_err(|e| db_error(&path, e))?;
        let results = news
            .iter()
            .map(|new| insert_version(tx.db(), new, &number_of).map_err(|e| db_error(&path, e)))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().map_err(|e| db_error(&path, e))?;
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
        let now = now_text();
        let changed = self
            .db()
            .execute(
                "UPDATE versions SET status = ?2, artifact_url = coalesce(?3, artifact_url), \
                 error = ?4, updated_at = ?5 WHERE job_id = ?1",
                &[
                    job_id.into(),
                    status.as_str().into(),
                    url.into(),
                    error.into(),
                    (&now).into(),
                ],
            )
            .map_err(|e| self.db_err(e))?;
        if changed == 0 {
            return Ok(None);
        }
        self.version_by_job(job_id)
    }

    /// A version by external job id.
    pub fn version_by_job(&self, job_id: &str) -> Result<Option<VersionRow>, StoreError> {
        self.db()
            .query_opt(
                &format!("SELECT {COLUMNS} FROM versions WHERE job_id = ?1"),
                &[job_id.into()],
                from_row,
            )
            .map_err(|e| self.db_err(e))
    }

    /// A version by family and name.
    pub fn version(&self, family: &str, name: &str) -> Result<Option<VersionRow>, StoreError> {
        version_named(self.db(), family, name).map_err(|e| self.db_err(e))
    }

    /// Versions, by family then by number and name.
    pub fn list_versions(
        &self,
        family: Option<&str>,
        status: Option<VersionStatus>,
    ) -> Result<Vec<VersionRow>, StoreError> {
        // The casts tell PostgreSQL the parameters' type where only IS NULL sees them.
        self.db()
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM versions WHERE (CAST(?1 AS TEXT) IS NULL OR family = ?1) \
                     AND (CAST(?2 AS TEXT) IS NULL OR status = ?2) \
                     ORDER BY family, number IS NULL, number, name"
                ),
                &[family.into(), status.map(|s| s.as_str()).into()],
                from_row,
            )
            .map_err(|e| self.db_err(e))
    }
}

/// Insert one version inside the caller's transaction.
/// The version `family`/`name`, if there is one.
fn version_named(db: Db<'_>, family: &str, name: &str) -> Result<Option<VersionRow>, DbError> {
    db.query_opt(
        &format!("SELECT {COLUMNS} FROM versions WHERE family = ?1 AND name = ?2"),
        &[family.into(), name.into()],
        from_row,
    )
}

/// The advisory lock (PostgreSQL) under which versions are numbered: "versions" in ASCII.
pub(super) const VERSIONS_LOCK: i64 = 0x7665_7273_696F_6E73;

fn insert_version(
    db: Db<'_>,
    new: &NewVersion,
    number_of: &impl Fn(&str) -> Option<i64>,
) -> Result<Result<VersionRow, AddConflict>, DbError> {
    let name = match &new.name {
        Some(name) => name.clone(),
        None => match next_name(db, &new.family, number_of)? {
            Ok(name) => name,
            Err(conflict) => return Ok(Err(conflict)),
        },
    };
    if let Some(conflict) = conflict(db, &new.family, &name, new.job_id.as_deref())? {
        return Ok(Err(conflict));
    }
    let now = now_text();
    let created = new.created_at.clone().unwrap_or_else(|| now.clone());
    db.execute(
        "INSERT INTO versions (family, name, number, job_id, status, artifact_url, \
             parameters, description, error, etag, size, last_modified, created_at, updated_at, \
             last_synced) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        &[
            Value::from(&new.family),
            Value::from(&name),
            Value::from(number_of(&name)),
            Value::from(new.job_id.as_deref()),
            Value::from(new.status.as_str()),
            Value::from(new.artifact_url.as_deref()),
            Value::from(new.parameters.as_deref()),
            Value::from(new.description.as_deref()),
            Value::from(new.error.as_deref()),
            Value::from(new.etag.as_deref()),
            Value::from(new.size),
            Value::from(new.last_modified.as_deref()),
            Value::from(&created),
            Value::from(&now),
            Value::from(new.last_synced.as_deref()),
        ],
    )?;
    let row = version_named(db, &new.family, &name)?;
    Ok(row.ok_or(AddConflict::NameTaken { name }))
}

fn next_name(
    db: Db<'_>,
    family: &str,
    number_of: &impl Fn(&str) -> Option<i64>,
) -> Result<Result<String, AddConflict>, DbError> {
    let unnumbered = db.query(
        "SELECT name FROM versions WHERE family = ?1 AND number IS NULL",
        &[family.into()],
        |r| r.text(0),
    )?;
    for name in unnumbered {
        if let Some(number) = number_of(&name) {
            db.execute(
                "UPDATE versions SET number = ?3 WHERE family = ?1 AND name = ?2",
                &[family.into(), (&name).into(), number.into()],
            )?;
        }
    }
    let largest = db
        .query_opt(
            "SELECT max(number) FROM versions WHERE family = ?1",
            &[family.into()],
            |r| r.opt_int(0),
        )?
        .flatten();
    let largest = largest.unwrap_or(0).max(0);
    Ok(match largest.checked_add(1) {
        Some(next) => Ok(format!("V{next}")),
        None => Err(AddConflict::NoNextNumber { largest }),
    })
}

/// Why a version cannot be added: its name is taken in its family, or its job id belongs to
/// another version.
fn conflict(
    db: Db<'_>,
    family: &str,
    name: &str,
    job_id: Option<&str>,
) -> Result<Option<AddConflict>, DbError> {
    if version_named(db, family, name)?.is_some() {
        return Ok(Some(AddConflict::NameTaken {
            name: name.to_string(),
        }));
    }
    let Some(job) = job_id else {
        return Ok(None);
    };
    let holder = db.query_opt(
        "SELECT family, name FROM versions WHERE job_id = ?1",
        &[job.into()],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )?;
    Ok(holder.map(|(family, name)| AddConflict::JobTaken { family, name }))
}
