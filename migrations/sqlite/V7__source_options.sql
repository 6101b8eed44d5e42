-- runctl schema version 7: how a source was read (the sheet of a workbook, the delimiter of a
-- CSV file, as given) is part of what the source is, so that the same file read another way is
-- ingested as another source instead of being taken for the one already ingested
-- (docs/resume.md). The table is rebuilt for its new unique key, as SQLite's ALTER TABLE page
-- says to: runctl runs migrations with foreign keys off, and the end of this file checks them
-- all before the commit, so items and runs keep pointing at the same ids.

CREATE TABLE sources_v7 (
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
    options     TEXT NOT NULL DEFAULT '{}',      -- JSON object: "sheet", "delimiter" when given
    UNIQUE (path, sha256, key_columns, unpivot, options)
);

INSERT INTO sources_v7 (id, path, format, md5, sha256, size, key_columns, unpivot, columns,
                        n_items, ingested_at, options)
SELECT id, path, format, md5, sha256, size, key_columns, unpivot, columns, n_items, ingested_at, '{}'
FROM sources;

DROP TABLE sources;
ALTER TABLE sources_v7 RENAME TO sources;

-- Every item and run still points at its source, or the whole migration is rolled back.
CREATE TEMP TABLE v7_foreign_keys_ok (broken INTEGER CHECK (broken = 0));
INSERT INTO v7_foreign_keys_ok SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE v7_foreign_keys_ok;
