#!/usr/bin/env bash
# The PostgreSQL store against SQLite and against PostgreSQL's own floor (issue 23), in one run
# on a private PostgreSQL 15 (fsync on, as a real server has it), hyperfine alternating:
# - per-item with the worker `true`, 5,000 items at -j 2: PostgreSQL at least 60% of SQLite's
#   jobs/s;
# - stream, 200,000 items through a compiled worker at -j 2 --window 64: PostgreSQL beside
#   SQLite, and at least 30% of PostgreSQL's own floor (bench/src/pg_floor.rs: the same claims
#   and recording transactions, with the store's own statements, and nothing else);
# - `runctl new` on PostgreSQL within 2x of `psql` running a one-row insert in one transaction
#   (psql's own start-up, connection and commit: the floor of a command that must connect).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
start_postgres bench
W="$OUT/pgstore"
rm -rf "$W" && mkdir -p "$W/sqlite" "$W/pg"
rustc -O -o "$W/stream_worker" "$BENCH_DIR/src/stream_worker.rs"
(cd "$REPO" && cargo build --release --quiet --example pg_floor)
FLOOR="$TARGET/release/examples/pg_floor"
TRUE="$(command -v true)"
python3 - "$W" <<'PY'
import sys
for name, n in (("items-5k.csv", 5_000), ("items-200k.csv", 200_000)):
    with open(f"{sys.argv[1]}/{name}", "w") as f:
        f.write("id,text\n")
        for i in range(n):
            f.write(f"k{i:07d},item text number {i}\n")
PY
URL="$(pg_db_url bench)"
(cd "$W/sqlite" && "$RUNCTL" -q init)
(cd "$W/pg" && RUNCTL_DATABASE_URL="$URL" "$RUNCTL" -q init)
for f in items-5k.csv items-200k.csv; do
  (cd "$W/sqlite" && "$RUNCTL" -q new --model ingest --source "../$f" --key id >/dev/null)
  (cd "$W/pg" && RUNCTL_DATABASE_URL="$URL" "$RUNCTL" -q new --model ingest --source "../$f" --key id >/dev/null)
done
S="cd $W/sqlite &&"
P="cd $W/pg && RUNCTL_DATABASE_URL=$URL"
hyperfine --warmup 1 --runs 7 \
  --prepare "$S $RUNCTL -q new --model p --source ../items-5k.csv --key id; $P $RUNCTL -q new --model p --source ../items-5k.csv --key id" \
  "$S $RUNCTL -q resume -j 2 -- $TRUE" \
  "$P $RUNCTL -q resume -j 2 -- $TRUE" \
  --export-json "$OUT/pg-per-item.json" >&2
hyperfine --runs 5 \
  --prepare "$S $RUNCTL -q new --model s --source ../items-200k.csv --key id; $P $RUNCTL -q new --model s --source ../items-200k.csv --key id" \
  "$S $RUNCTL -q resume -j 2 --stream --window 64 -- $W/stream_worker" \
  "$P $RUNCTL -q resume -j 2 --stream --window 64 -- $W/stream_worker" \
  --export-json "$OUT/pg-stream.json" >&2
# The floor takes the newest run of the database: a new one before each of its runs.
hyperfine --runs 5 \
  --prepare "$P $RUNCTL -q new --model f --source ../items-200k.csv --key id" \
  "$FLOOR $URL" \
  --export-json "$OUT/pg-floor.json" >&2
"$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PGPORT_BENCH" -U runctl -d bench \
  -c "CREATE TABLE floor_runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL)"
cd "$W/pg"
RUNCTL_DATABASE_URL="$URL" hyperfine -N --warmup 10 --runs 200 \
  "$RUNCTL -q new --model n" \
  "$PG_BIN/psql -X -q -h 127.0.0.1 -p $PGPORT_BENCH -U runctl -d bench -c \"BEGIN; INSERT INTO floor_runs VALUES (gen_random_uuid()::text, 'n', now()::text); COMMIT\"" \
  --export-json "$OUT/pg-new.json" >&2
per_sqlite=$(median_ms "$OUT/pg-per-item.json" 0)
per_pg=$(median_ms "$OUT/pg-per-item.json" 1)
st_sqlite=$(median_ms "$OUT/pg-stream.json" 0)
st_pg=$(median_ms "$OUT/pg-stream.json" 1)
floor=$(median_ms "$OUT/pg-floor.json" 0)
new_pg=$(median_ms "$OUT/pg-new.json" 0)
psql_floor=$(median_ms "$OUT/pg-new.json" 1)
py() { python3 -c "print($1)"; }
cat > "$OUT/pg.md" <<MD
### The PostgreSQL store

One run on a private PostgreSQL 15 on this machine (fsync on), hyperfine alternating the two
stores (\`bench/pg.sh\`); medians. Per-item and stream are whole passes (\`resume\`) over runs made
beforehand.

| what | SQLite | PostgreSQL | PostgreSQL against | target |
|---|---|---|---|---|
| per-item, worker \`true\`, 5,000 items, \`-j 2\` | ${per_sqlite} ms, $(py "'%.0f' % (5000 / $per_sqlite * 1000)") jobs/s | ${per_pg} ms, $(py "'%.0f' % (5000 / $per_pg * 1000)") jobs/s | $(py "'%.0f' % (100 * $per_sqlite / $per_pg)")% of SQLite's jobs/s | >= 60% |
| stream, 200,000 items, \`-j 2 --window 64\` | ${st_sqlite} ms, $(py "'%.0f' % (200000 / $st_sqlite * 1000)") items/s | ${st_pg} ms, $(py "'%.0f' % (200000 / $st_pg * 1000)") items/s | $(py "'%.0f' % (100 * $st_sqlite / $st_pg)")% of SQLite's items/s | |
| stream on PostgreSQL against its floor (bench/src/pg_floor.rs, the same claims and recording transactions, nothing else) | | floor ${floor} ms, $(py "'%.0f' % (200000 / $floor * 1000)") items/s | $(py "'%.0f' % (100 * $floor / $st_pg)")% of the floor | >= 30% |
| \`runctl new\` | | ${new_pg} ms | \`psql\` one-row insert in one transaction: ${psql_floor} ms, $(py "'%.2f' % ($new_pg / $psql_floor)")x | <= 2x |
MD
cat "$OUT/pg.md"
