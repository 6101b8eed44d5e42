-- runctl schema version 11: each result keeps the status it replaced, written by the upsert
-- itself, so that recording a result is one statement that also says how the run's ok and
-- error counts change (`RETURNING previous_status`) instead of a lookup and an upsert
-- (docs/benchmarks.md, "Worker engine"). NULL for a first result, and for results recorded
-- before this version.
ALTER TABLE results ADD COLUMN previous_status TEXT;
