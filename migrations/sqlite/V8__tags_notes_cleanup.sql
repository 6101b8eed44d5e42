-- runctl schema version 8: tags and notes on runs, archived runs, and what is left of a removed
-- run so that its name is never given again (docs/runs.md).

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id),
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- `list --tag KEY=VALUE`.
CREATE INDEX run_tags_key ON run_tags (key, value);

CREATE TABLE run_notes (
    id         INTEGER PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id),
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE INDEX run_notes_run ON run_notes (run_id, id);

-- Set by `runctl archive`; outputs_dir and logs_dir then name the folders under the archive.
ALTER TABLE runs ADD COLUMN archived_at TEXT;

-- A run `runctl rm` deleted: its name and number keep counting, so no later run gets them.
CREATE TABLE removed_runs (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    model      TEXT NOT NULL,
    dataset    TEXT NOT NULL,
    number     INTEGER,
    removed_at TEXT NOT NULL
);

CREATE INDEX removed_runs_scope ON removed_runs (model, dataset, number);
