-- runctl schema version (PostgreSQL) 6: the worker settings of a run with items (command, mode, slots,
-- timeout, retries, rate), stored by `new --source ... -- CMD` and `resume`, so that a plain
-- `runctl resume` goes on as the run started (docs/resume.md).

ALTER TABLE runs ADD COLUMN work TEXT COLLATE "C";                -- JSON object, see src/work/settings.rs
