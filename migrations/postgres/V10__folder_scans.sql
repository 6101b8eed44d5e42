-- runctl schema version (PostgreSQL) 10: what `new` last saw of the folders that hold run folders
-- (outputs/ and logs/), so that it reads a folder's entries again only when the folder changed
-- (docs/naming.md, "The counter"). A cache: rows may be missing or stale, never trusted beyond
-- the folder's identity, modification time and link count recorded with them.

-- A folder as last read: its path (bytes, any encoding), device, inode, modification time in
-- nanoseconds and link count (a subfolder made or removed changes it, even within the same
-- clock tick as the last change).
CREATE TABLE folder_scans (
    dir BYTEA PRIMARY KEY,
    dev BIGINT NOT NULL,
    ino BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    nlink BIGINT NOT NULL
);

-- The largest run number among the folder's entries named `<stem>run<N>` (the stem ends in
-- `-`), by stem: a counter scope's prefix selects a range of stems.
CREATE TABLE folder_numbers (
    dir BYTEA NOT NULL,
    stem TEXT COLLATE "C" NOT NULL,
    max_number BIGINT NOT NULL,
    PRIMARY KEY (dir, stem)
);
