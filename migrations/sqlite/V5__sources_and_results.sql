-- runctl schema version 5: sources ingested once, their work items, and the result ledger
-- (docs/resume.md).

-- A source file as ingested: the same path with the same SHA-256 and keying is ingested once.
CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL,                   -- absolute, as given at ingest
    format      TEXT NOT NULL,                   -- csv, jsonl, xlsx
    md5         TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    key_columns TEXT NOT NULL,                   -- JSON array
    unpivot     TEXT NOT NULL DEFAULT '[]',      -- JSON array
    columns     TEXT NOT NULL,                   -- JSON array of the file's columns
    n_items     INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    UNIQUE (path, sha256, key_columns, unpivot)
);

-- One row per work item; the DB, not the file, is authoritative after ingest.
CREATE TABLE items (
    source_id INTEGER NOT NULL REFERENCES sources (id),
    key       TEXT NOT NULL,                     -- the key value, or a JSON array of several
    location  TEXT NOT NULL,                     -- line, or sheet and row, in the file
    data      TEXT NOT NULL,                     -- JSON object
    PRIMARY KEY (source_id, key)
) WITHOUT ROWID;

-- The ledger: one result per (run, item), written by upsert.
CREATE TABLE results (
    run_id         TEXT NOT NULL REFERENCES runs (id),
    key            TEXT NOT NULL,
    status         TEXT NOT NULL,                -- ok, error
    output         TEXT,                         -- JSON
    attempt_count  INTEGER NOT NULL DEFAULT 1,
    first_error    TEXT,
    last_error     TEXT,
    error_category TEXT,                         -- exit, signal, timeout, bad-output, spawn
    started_at     TEXT,
    finished_at    TEXT,
    duration_ms    INTEGER,
    worker         INTEGER,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

CREATE INDEX results_errors ON results (run_id, key) WHERE status = 'error';

ALTER TABLE runs ADD COLUMN source_id INTEGER REFERENCES sources (id);
ALTER TABLE runs ADD COLUMN n_items INTEGER;
ALTER TABLE runs ADD COLUMN n_completed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN n_errors INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_progress_at TEXT;
ALTER TABLE runs ADD COLUMN eta TEXT;
