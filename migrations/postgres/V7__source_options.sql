-- runctl schema version (PostgreSQL) 7: a source's reading options ("sheet", "delimiter") are
-- part of what makes it the same source. (SQLite rebuilds the table for the new constraint;
-- PostgreSQL changes it in place.)
ALTER TABLE sources ADD COLUMN options TEXT COLLATE "C" NOT NULL DEFAULT '{}';  -- JSON object
ALTER TABLE sources DROP CONSTRAINT sources_identity;
ALTER TABLE sources ADD CONSTRAINT sources_identity
    UNIQUE (path, sha256, key_columns, unpivot, options);
