#!/usr/bin/env bash
# The worker engine. Targets (issue: resumable runs, part 2):
# - per-item with the worker `true` at -j 2: at least 3x the jobs/s of `parallel -j2 --joblog`
#   (GNU parallel from Debian) and at least 90% of a bare spawn loop of `true` at 2 threads
#   (issue: cost that does not grow; it was 80%);
# - --stream with a trivial compiled worker and a window of 64: at least 100,000 items/s
#   recorded, and at least 25% of SQLite's own batched-upsert floor (bench/src/upsert_floor.rs:
#   the same upserts, committed every 100, nothing else) measured in the same run;
# - peak RSS under 100 MB for a 1,000,000-item resume.
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
command -v parallel >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq parallel >/dev/null; }
command -v sqlite3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
(cd "$REPO" && cargo build --release --quiet --example upsert_floor)
FLOOR="$TARGET/release/examples/upsert_floor"

W="$OUT/engine"
rm -rf "$W" && mkdir -p "$W" && cd "$W"
rustc -O -o spawn_floor "$BENCH_DIR/src/spawn_floor.rs"
rustc -O -o stream_worker "$BENCH_DIR/src/stream_worker.rs"
TRUE="$(command -v true)"
"$RUNCTL" -q init
python3 - <<'PY'
for name, n in (("items-5k.csv", 5_000), ("items-200k.csv", 200_000), ("items-1m.csv", 1_000_000)):
    with open(name, "w") as f:
        f.write("id,text\n")
        for i in range(n):
            f.write(f"k{i:07d},item text number {i}\n")
PY
# Ingest each source once; every run below makes a new run over an already ingested source.
for f in items-5k.csv items-200k.csv items-1m.csv; do "$RUNCTL" -q new --model ingest --source "$f" --key id >/dev/null; done

# 1. Per-item: 5,000 starts of `true` at 2 slots, against GNU parallel and a bare spawn loop.
N=5000
hyperfine -N --warmup 1 --runs 7 \
  --prepare "$RUNCTL -q new --model p --source items-5k.csv --key id" \
  "$RUNCTL -q resume -j 2 -- $TRUE" \
  "$W/spawn_floor 2 $N $TRUE" \
  --export-json "$OUT/engine-per-item.json" >&2
hyperfine --runs 3 \
  "seq $N | parallel -j2 --joblog $W/joblog $TRUE" \
  --export-json "$OUT/engine-parallel.json" >&2

# 2. Stream: 200,000 items through a compiled worker, 2 slots, window 64.
S=200000
hyperfine -N --runs 5 \
  --prepare "$RUNCTL -q new --model s --source items-200k.csv --key id" \
  "$RUNCTL -q resume -j 2 --stream --window 64 -- $W/stream_worker" \
  --export-json "$OUT/engine-stream.json" >&2
# SQLite's floor: the same 200,000 upserts on a copy of the project DB, nothing else.
"$RUNCTL" -q new --model f --source items-200k.csv --key id >/dev/null
RUN=$("$RUNCTL" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
sqlite3 .runctl/state.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
floor_rates=()
for _ in 1 2 3 4 5; do
  copy_db .runctl/state.db floor.db
  floor_rates+=("$("$FLOOR" floor.db "$RUN" | sed 's/.*: \([0-9]*\) rows.*/\1/')")
done
floor_rate=$(printf '%s\n' "${floor_rates[@]}" | sort -n | sed -n 3p)
# The floor as a whole process too (its own start, reading the keys, the upserts), each run on
# a fresh copy, for wall time and CPU (user + system) against runctl's stream pass.
cat > "$W/fresh_floor_db.py" <<'PY'
import sqlite3, sys, os
for f in ("floor.db", "floor.db-wal", "floor.db-shm"):
    if os.path.exists(f):
        os.remove(f)
s = sqlite3.connect(".runctl/state.db"); d = sqlite3.connect("floor.db"); s.backup(d); d.close(); s.close()
PY
hyperfine -N --runs 5 --prepare "$PYTHON $W/fresh_floor_db.py" "$FLOOR floor.db $RUN" \
  --export-json "$OUT/engine-floor.json" >&2

# 3. Peak RSS of a 1,000,000-item stream resume.
"$RUNCTL" -q new --model r --source items-1m.csv --key id >/dev/null
rss_kb=$(/usr/bin/time -f "%M" "$RUNCTL" -q resume -j 2 --stream --window 64 -- "$W/stream_worker" 2>&1 >/dev/null | tail -1)
done_1m=$("$RUNCTL" show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"]["completed"])')

per_item=$(median_ms "$OUT/engine-per-item.json" 0)
spawn=$(median_ms "$OUT/engine-per-item.json" 1)
par=$(median_ms "$OUT/engine-parallel.json" 0)
stream=$(median_ms "$OUT/engine-stream.json" 0)
floor_whole=$(median_ms "$OUT/engine-floor.json" 0)
cpu() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.0f" % ((r["user"]+r["system"])*1000))' "$1"; }
stream_cpu=$(cpu "$OUT/engine-stream.json")
floor_cpu=$(cpu "$OUT/engine-floor.json")
py() { python3 -c "print($1)"; }
cat > "$OUT/engine.md" <<MD
### Worker engine

\`bench/engine.sh\`: whole processes, 2 slots, on a project whose sources are already ingested
(each timed command works through a new run's items). Jobs/s = items / median wall time.

| what | runctl | peer or floor (same run) | ratio | target |
|---|---|---|---|---|
| per-item, worker \`true\`, 5,000 items, \`-j 2\` | ${per_item} ms, $(py "'%.0f' % ($N / $per_item * 1000)") jobs/s | \`parallel -j2 --joblog\`: ${par} ms, $(py "'%.0f' % ($N / $par * 1000)") jobs/s | $(py "'%.1f' % ($par / $per_item)")x faster | >= 3x |
| (the same) | | bare spawn loop of \`true\`, 2 threads (bench/src/spawn_floor.rs): ${spawn} ms | $(py "'%.0f' % (100 * $spawn / $per_item)")% of its jobs/s | >= 90% |
| \`--stream\`, compiled worker (bench/src/stream_worker.rs), window 64, 200,000 items | ${stream} ms, $(py "'%.0f' % ($S / $stream * 1000)") items/s recorded | SQLite's upsert floor (bench/src/upsert_floor.rs): ${floor_rate} rows/s | $(py "'%.0f' % (100 * $S / $stream * 1000 / $floor_rate)")% of the floor | >= 100,000 items/s, >= 25% |
| (the same, whole processes) | CPU ${stream_cpu} ms | the floor as a whole process: ${floor_whole} ms, CPU ${floor_cpu} ms | $(py "'%.0f' % (100 * $floor_whole / $stream)")% of its speed, $(py "'%.1f' % ($stream_cpu / $floor_cpu)")x its CPU | >= 80%, <= 2x |
| peak RSS, \`--stream\` resume of 1,000,000 items (${done_1m} recorded) | $(py "'%.0f' % ($rss_kb / 1024)") MB | | | < 100 MB |
MD
cat "$OUT/engine.md"
