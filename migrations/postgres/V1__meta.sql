-- runctl schema version (PostgreSQL) 1: project metadata.
-- Text columns compare and sort byte by byte (COLLATE "C"), as SQLite's do, so that lookups
-- by range and listings come out the same on both stores.
CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value TEXT COLLATE "C" NOT NULL
);

INSERT INTO meta (key, value) VALUES ('created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
