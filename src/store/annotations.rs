//! A run's tags (`run_tags`, one value per key) and notes (`run_notes`, newest last), and the
//! write transaction in which a run is archived or removed (`runctl archive`, `runctl rm`).

use super::txn::Txn;

use super::sql::{Db, DbError, db_error};
use super::{Store, StoreError};

/// A note on a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    pub text: String,
    pub created_at: String,
}

impl Store {
    /// Set `set` (replacing a key's value) and delete the keys `delete`, in one transaction;
    /// returns the run's tags afterwards.
    pub fn change_tags(
        &mut self,
        run_id: &str,
        set: &[(String, String)],
        delete: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        let path = self.path.clone();
        let tx = self.txn()?;
        let err = |e| db_error(&path, e);
        for key in delete {
            tx.db()
                .execute(
                    "DELETE FROM run_tags WHERE run_id = ?1 AND key = ?2",
                    &[run_id.into(), key.into()],
                )
                .map_err(err)?;
        }
        insert_tags(tx.db(), run_id, set).map_err(err)?;
        let tags = tags_in(tx.db(), run_id).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(tags)
    }

    /// The runs whose folder name is `dir_name` (a live run and the ones it superseded).
    pub fn runs_with_dir_name(&self, dir_name: &str) -> Result<Vec<super::RunRow>, StoreError> {
        super::runs::runs_of(
            self.db(),
            &format!(
                "SELECT {} FROM runs WHERE dir_name = ?1",
                super::runs::COLUMNS
            ),
            &[dir_name.into()],
        )
        .map_err(|e| self.db_err(e))
    }

    /// A run's tags, by key.
    pub fn tags_of(&self, run_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        tags_in(self.db(), run_id).map_err(|e| self.db_err(e))
    }

    /// Add a note to a run.
    pub fn add_note(&self, run_id: &str, text: &str, at: &str) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO run_notes (run_id, text, created_at) VALUES (?1, ?2, ?3)",
                &[run_id.into(), text.into(), at.into()],
            )
            .map_err(|e| self.db_err(e))?;
        Ok(())
    }

    /// A run's notes, oldest first.
    pub fn notes_of(&self, run_id: &str) -> Result<Vec<NoteRow>, StoreError> {
        self.db()
            .query(
                "SELECT text, created_at FROM run_notes WHERE run_id = ?1 ORDER BY id",
                &[run_id.into()],
                |r| {
                    Ok(NoteRow {
                        text: r.text(0)?,
                        created_at: r.text(1)?,
                    })
                },
            )
            .map_err(|e| self.db_err(e))
    }

    /// Run `f` in one write transaction, committed when `f` succeeds: the filesystem steps of
    /// an archive or a removal happen inside it, so that a failed commit can undo them. On
    /// PostgreSQL it is the one writer of runs across hosts meanwhile (as `new` is).
    pub fn cleanup<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&Cleanup<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let path = self.path.clone();
        let tx = self.txn()?;
        tx.serialize_writers(super::allocation::RUNS_LOCK)
            .map_err(|e| db_error(&path, e))?;
        let cleanup = Cleanup { tx, path: &path };
        let value = f(&cleanup)?;
        cleanup.tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(value)
    }
}

/// Insert or replace tags of a run.
pub(super) fn insert_tags(
    db: Db<'_>,
    run_id: &str,
    tags: &[(String, String)],
) -> Result<(), DbError> {
    for (key, value) in tags {
        db.execute(
            "INSERT INTO run_tags (run_id, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value",
            &[run_id.into(), key.into(), value.into()],
        )?;
    }
    Ok(())
}

fn tags_in(db: Db<'_>, run_id: &str) -> Result<Vec<(String, String)>, DbError> {
    db.query(
        "SELECT key, value FROM run_tags WHERE run_id = ?1 ORDER BY key",
        &[run_id.into()],
        |r| Ok((r.text(0)?, r.text(1)?)),
    )
}

/// The write transaction of `runctl archive` / `runctl rm`.
pub struct Cleanup<'a> {
    tx: Txn<'a>,
    path: &'a std::path::Path,
}

impl Cleanup<'_> {
    fn err(&self, e: DbError) -> StoreError {
        db_error(self.path, e)
    }

    /// Record that a run's folders are now `outputs_dir` and `logs_dir` in the archive.
    pub fn archived(
        &self,
        run_id: &str,
        outputs_dir: &str,
        logs_dir: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.tx
            .db()
            .execute(
                "UPDATE runs SET outputs_dir = ?2, logs_dir = ?3, archived_at = ?4, \
                 moved_to = CASE WHEN moved_to IS NULL THEN NULL ELSE ?2 END WHERE id = ?1",
                &[
                    run_id.into(),
                    outputs_dir.into(),
                    logs_dir.into(),
                    at.into(),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Delete a run with its results, tags and notes, keeping its name and number counted.
    pub fn removed(&self, run_id: &str, at: &str) -> Result<(), StoreError> {
        let steps = [
            "INSERT INTO removed_runs (id, name, model, dataset, number, removed_at) \
             SELECT id, name, model, dataset, number, ?2 FROM runs WHERE id = ?1 \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, model = excluded.model, \
             dataset = excluded.dataset, number = excluded.number, removed_at = excluded.removed_at",
            "DELETE FROM results WHERE run_id = ?1",
            "DELETE FROM claims WHERE run_id = ?1",
            "DELETE FROM members WHERE run_id = ?1",
            "DELETE FROM run_tags WHERE run_id = ?1",
            "DELETE FROM run_notes WHERE run_id = ?1",
            "DELETE FROM runs WHERE id = ?1",
        ];
        for sql in steps {
            let with_at = [run_id.into(), at.into()];
            let params = if sql.contains("?2") {
                &with_at[..]
            } else {
                &with_at[..1]
            };
            self.tx.db().execute(sql, params).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// A run by id, as this transaction sees it.
    pub fn run_by_id(&self, id: &str) -> Result<Option<super::RunRow>, StoreError> {
        let sql = format!("SELECT {} FROM runs WHERE id = ?1", super::runs::COLUMNS);
        super::runs::runs_of(self.tx.db(), &sql, &[id.into()])
            .map(|runs| runs.into_iter().next())
            .map_err(|e| self.err(e))
    }

    /// The runs whose folder name is `dir_name` (a live run and the ones it superseded).
    pub fn runs_with_dir_name(&self, dir_name: &str) -> Result<Vec<super::RunRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM runs WHERE dir_name = ?1",
            super::runs::COLUMNS
        );
        super::runs::runs_of(self.tx.db(), &sql, &[dir_name.into()]).map_err(|e| self.err(e))
    }

    /// The newest live run that is not archived, once this transaction's changes are counted
    /// (what `latest` points at afterwards).
    pub fn newest_shown(&self) -> Result<Option<super::RunRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM runs {} WHERE superseded = 0 AND archived_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1",
            super::runs::COLUMNS,
            super::runs::newest_index(self.tx.db())
        );
        super::runs::runs_of(self.tx.db(), &sql, &[])
            .map(|runs| runs.into_iter().next())
            .map_err(|e| self.err(e))
    }

    /// A host of a live member working the run, on a store many processes share (members.rs):
    /// a run being worked is neither archived nor removed.
    #[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
    pub fn worked_from(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        match self.tx.db() {
            Db::Sqlite(_) => Ok(None),
            #[cfg(feature = "postgres")]
            Db::Postgres(conn) => super::members_pg::live_host(&mut conn.borrow_mut(), run_id)
                .map_err(|e| self.err(e)),
        }
    }
}
