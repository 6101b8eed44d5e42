-- runctl schema version (PostgreSQL) 9: an index for every lookup a command makes, so that none of them
-- reads a whole table as the project grows (docs/benchmarks.md; the query-plan test in
-- src/store/tests.rs fails on a full scan or a sort of a growing table).

-- `list` (newest first, ties by id), `show latest` and what `latest` points at after
-- archive/rm: walked from its end, it stops after the rows asked for. It replaces the index of
-- V3 on created_at alone, whose ties needed a sort of every row.
CREATE INDEX runs_newest ON runs (created_at, id);
DROP INDEX runs_created;
-- A run by name or by folder name, superseded runs too (`show NAME`, rm/archive).
CREATE INDEX runs_by_name ON runs (name);
CREATE INDEX runs_by_dir_name ON runs (dir_name);
-- `resolve HEX`: the hash whatever its digest (the key is (algo, hash)).
CREATE INDEX hashes_by_hash ON hashes (hash);
-- `resolve PATH`: the alias whose target is a folder.
CREATE INDEX links_by_target ON links USING hash (target_path);  -- paths may pass 2.7 kB
-- `new --run-index N` after `rm`: a removed run's name.
CREATE INDEX removed_runs_by_name ON removed_runs (name);
-- The next run number with `run_counter_scope = "global"`: max(number) over all runs.
CREATE INDEX runs_by_number ON runs (number);
CREATE INDEX removed_runs_by_number ON removed_runs (number);
