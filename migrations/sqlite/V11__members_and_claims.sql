-- runctl schema version 11: the processes working a run together and their claims on its
-- items (docs/cluster.md). Used by the PostgreSQL store, where any number of processes on any
-- number of hosts may work one run; on SQLite one process works a run (the run's lock), and
-- these tables stay empty. They are here so that both stores have one schema.

-- A process that worked, or works, a pass of a run: where it runs, what it was asked to do,
-- and its last heartbeat (the database server's clock).
CREATE TABLE members (
    id           INTEGER PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES runs (id),
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    jobs         INTEGER NOT NULL,
    lease_ms     INTEGER NOT NULL,                  -- its --lease: stale past it
    selection    TEXT NOT NULL,                  -- remaining, errors
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    stopped_at   TEXT,
    stop_reason  TEXT,                           -- done, interrupted, lost-lease, failed
    n_done       INTEGER NOT NULL DEFAULT 0      -- results it recorded
);
CREATE INDEX members_of_run ON members (run_id, id);

-- The selected items of a pass that have no result yet, each free (member_id NULL) or held by
-- the member that claimed it; a row goes when its result is recorded.
CREATE TABLE claims (
    run_id     TEXT NOT NULL REFERENCES runs (id),
    key        TEXT NOT NULL,
    member_id  INTEGER REFERENCES members (id),
    claims     INTEGER NOT NULL DEFAULT 0,       -- times claimed: more than 1 after a member died
    claimed_at TEXT,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
