-- runctl schema version 2: the identifier-hash registry and folder aliases (docs/hashing.md).

-- Every hash made by a write command, with the full identifier behind it. The primary key makes
-- a second identifier with the same hash a detectable collision.
CREATE TABLE hashes (
    algo       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    identifier TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (algo, hash)
);

CREATE INDEX hashes_by_identifier ON hashes (identifier);

-- Folder aliases made by `runctl link`.
CREATE TABLE links (
    alias_path  TEXT PRIMARY KEY NOT NULL,
    target_path TEXT NOT NULL,
    algo        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    mode        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    FOREIGN KEY (algo, hash) REFERENCES hashes (algo, hash)
);

CREATE INDEX links_by_hash ON links (hash);
