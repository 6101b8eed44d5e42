-- runctl schema version (PostgreSQL) 3: runs (docs/naming.md).
CREATE TABLE runs (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,      -- YYYYmmdd_HHMMSS_ffffff_xxxx
    name        TEXT COLLATE "C" NOT NULL,                  -- <model>-<dataset>-<size>-run<N>
    dir_name    TEXT COLLATE "C" NOT NULL,                  -- the folder name (the id in legacy mode)
    model       TEXT COLLATE "C" NOT NULL,                  -- segments as normalized, before any shortening
    dataset     TEXT COLLATE "C" NOT NULL,
    size        TEXT COLLATE "C" NOT NULL,
    number      BIGINT,                        -- N of run<N>; NULL for a -ts<...> name
    scope       TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL DEFAULT 'created',
    superseded  BIGINT NOT NULL DEFAULT 0,     -- 1 once --force gave the name to a newer run
    moved_to    TEXT COLLATE "C",                           -- where --force moved its outputs folder
    outputs_dir TEXT COLLATE "C" NOT NULL,
    logs_dir    TEXT COLLATE "C" NOT NULL,
    command     TEXT COLLATE "C",                           -- JSON array
    config      TEXT COLLATE "C",                           -- JSON snapshot of --config
    config_path TEXT COLLATE "C",
    exit_code   BIGINT,
    created_at  TEXT COLLATE "C" NOT NULL,
    started_at  TEXT COLLATE "C",
    finished_at TEXT COLLATE "C"
);

-- One live run per name; superseded rows keep theirs.
CREATE UNIQUE INDEX runs_live_name ON runs (name) WHERE superseded = 0;
CREATE INDEX runs_scope ON runs (model, dataset, number);
CREATE INDEX runs_created ON runs (created_at);
