-- runctl schema version 3: runs (docs/naming.md).
CREATE TABLE runs (
    id          TEXT PRIMARY KEY NOT NULL,      -- YYYYmmdd_HHMMSS_ffffff_xxxx
    name        TEXT NOT NULL,                  -- <model>-<dataset>-<size>-run<N>
    dir_name    TEXT NOT NULL,                  -- the folder name (the id in legacy mode)
    model       TEXT NOT NULL,                  -- segments as normalized, before any shortening
    dataset     TEXT NOT NULL,
    size        TEXT NOT NULL,
    number      INTEGER,                        -- N of run<N>; NULL for a -ts<...> name
    scope       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'created',
    superseded  INTEGER NOT NULL DEFAULT 0,     -- 1 once --force gave the name to a newer run
    moved_to    TEXT,                           -- where --force moved its outputs folder
    outputs_dir TEXT NOT NULL,
    logs_dir    TEXT NOT NULL,
    command     TEXT,                           -- JSON array
    config      TEXT,                           -- JSON snapshot of --config
    config_path TEXT,
    exit_code   INTEGER,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);

-- One live run per name; superseded rows keep theirs.
CREATE UNIQUE INDEX runs_live_name ON runs (name) WHERE superseded = 0;
CREATE INDEX runs_scope ON runs (model, dataset, number);
CREATE INDEX runs_created ON runs (created_at);
