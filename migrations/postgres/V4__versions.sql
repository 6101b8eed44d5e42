-- runctl schema version (PostgreSQL) 4: model versions (docs/versions.md).
CREATE TABLE versions (
    family        TEXT COLLATE "C" NOT NULL,                -- e.g. style_1
    name          TEXT COLLATE "C" NOT NULL,                -- e.g. V8, unique within the family
    number        BIGINT,                      -- 8 for V8; NULL for other names
    job_id        TEXT COLLATE "C",                         -- the external (training) job id
    status        TEXT COLLATE "C" NOT NULL,                -- pending, running, completed, failed
    artifact_url  TEXT COLLATE "C",
    parameters    TEXT COLLATE "C",                         -- JSON object
    description   TEXT COLLATE "C",
    error         TEXT COLLATE "C",
    etag          TEXT COLLATE "C",
    size          BIGINT,
    last_modified TEXT COLLATE "C",
    created_at    TEXT COLLATE "C" NOT NULL,
    updated_at    TEXT COLLATE "C" NOT NULL,
    last_synced   TEXT COLLATE "C",
    PRIMARY KEY (family, name)
);

CREATE UNIQUE INDEX versions_by_job ON versions (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX versions_by_number ON versions (family, number);
