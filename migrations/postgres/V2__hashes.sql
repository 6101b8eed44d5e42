-- runctl schema version (PostgreSQL) 2: the identifier-hash registry and folder aliases (docs/hashing.md).

-- Every hash made by a write command, with the full identifier behind it. The primary key makes
-- a second identifier with the same hash a detectable collision.
CREATE TABLE hashes (
    algo       TEXT COLLATE "C" NOT NULL,
    hash       TEXT COLLATE "C" NOT NULL,
    identifier TEXT COLLATE "C" NOT NULL,
    origin     TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (algo, hash)
);

-- A hash index (equality only, as the lookups are): a B-tree entry may not exceed about 2.7 kB,
-- and an identifier may be far longer.
CREATE INDEX hashes_by_identifier ON hashes USING hash (identifier);

-- Folder aliases made by `runctl link`.
CREATE TABLE links (
    alias_path  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    target_path TEXT COLLATE "C" NOT NULL,
    algo        TEXT COLLATE "C" NOT NULL,
    hash        TEXT COLLATE "C" NOT NULL,
    mode        TEXT COLLATE "C" NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (algo, hash) REFERENCES hashes (algo, hash)
);

CREATE INDEX links_by_hash ON links (hash);
