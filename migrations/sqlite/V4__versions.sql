-- runctl schema version 4: model versions (docs/versions.md).
CREATE TABLE versions (
    family        TEXT NOT NULL,                -- e.g. style_1
    name          TEXT NOT NULL,                -- e.g. V8, unique within the family
    number        INTEGER,                      -- 8 for V8; NULL for other names
    job_id        TEXT,                         -- the external (training) job id
    status        TEXT NOT NULL,                -- pending, running, completed, failed
    artifact_url  TEXT,
    parameters    TEXT,                         -- JSON object
    description   TEXT,
    error         TEXT,
    etag          TEXT,
    size          INTEGER,
    last_modified TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    last_synced   TEXT,
    PRIMARY KEY (family, name)
);

CREATE UNIQUE INDEX versions_by_job ON versions (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX versions_by_number ON versions (family, number);
