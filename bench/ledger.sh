#!/usr/bin/env bash
# The result ledger. Targets (issue: resumable runs, part 1):
# - ingest of a generated 1,000,000-row CSV with checksums under 5 s;
# - selecting the 100,000 remaining items of 1,000,000 with 900,000 done under 1 s, within 3x
#   of the same anti-join run directly in the sqlite3 shell;
# - `runctl record` of 1,000,000 results within 2x of SQLite's own batched-insert floor;
# - peak RSS under 100 MB in all three.
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
command -v sqlite3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

W="$OUT/ledger"
rm -rf "$W" && mkdir -p "$W" && cd "$W"
"$RUNCTL" -q init
python3 - <<'PY'
import random
random.seed(3)
with open("rows.csv", "w") as f:
    f.write("case_id,narrative,site\n")
    for i in range(1_000_000):
        f.write(f"c{i:07d},narrative text number {i} with some words,site{random.randint(1, 50)}\n")
with open("results-900k.jsonl", "w") as f:
    for i in range(900_000):
        f.write('{"key":"c%07d","ok":{"label":"L%d"}}\n' % (i, i % 7))
with open("results-1m.jsonl", "w") as f:
    for i in range(1_000_000):
        f.write('{"key":"c%07d","ok":{"label":"L%d"}}\n' % (i, i % 7))
PY

peak_kb() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }

# 1. Ingest (a fresh project each time, so the file is really read).
hyperfine --runs 3 \
  --prepare "rm -rf $W/p && mkdir -p $W/p && cd $W/p && $RUNCTL -q init" \
  "cd $W/p && $RUNCTL -q new --model m --source $W/rows.csv --key case_id" \
  --export-json "$OUT/ledger-ingest.json" >&2
rm -rf p && mkdir p && cd p && "$RUNCTL" -q init
ingest_rss=$(peak_kb "$RUNCTL" -q new --model m --source "$W/rows.csv" --key case_id)
RUN=$("$RUNCTL" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# 2. Record 900,000 results, then select the 100,000 remaining.
"$RUNCTL" -q record "$RUN" --from "$W/results-900k.jsonl"
copy_db .runctl/state.db "$W/after-900k.db"
SQL="SELECT i.key, i.data FROM items i JOIN runs ru ON ru.source_id = i.source_id WHERE ru.id = '$RUN' AND NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = ru.id AND r.key = i.key) ORDER BY i.key"
hyperfine --warmup 1 --runs 10 \
  "$RUNCTL items $RUN > /dev/null" \
  "sqlite3 $W/p/.runctl/state.db \"$SQL\" > /dev/null" \
  --export-json "$OUT/ledger-select.json" >&2
remaining=$("$RUNCTL" items "$RUN" | wc -l)
select_rss=$(peak_kb "$RUNCTL" items "$RUN")

# 3. Record 1,000,000 results into a clean ledger, against SQLite's own batched insert of the
#    same rows (one transaction, a prepared INSERT ... ON CONFLICT DO UPDATE) in the sqlite3 shell.
python3 - "$RUN" <<'PY'
import sys
run = sys.argv[1]
with open("floor.sql", "w") as f:
    f.write("BEGIN;\n")
    for i in range(1_000_000):
        f.write("INSERT INTO results (run_id, key, status, output) VALUES ('%s','c%07d','ok','{\"label\":\"L%d\"}') "
                "ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, output = excluded.output, attempt_count = attempt_count + 1;\n" % (run, i, i % 7))
    f.write("COMMIT;\n")
PY
# A tighter floor: one prepared statement run 1M times in one transaction (Python's
# executemany, in C), reading the same JSON lines.
cat > floor.py <<'PY'
import json, sqlite3, sys
db, run, path = sys.argv[1:4]
conn = sqlite3.connect(db)
def rows():
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            yield (run, r["key"], json.dumps(r["ok"]))
conn.executemany("INSERT INTO results (run_id, key, status, output) VALUES (?, ?, 'ok', ?) "
                 "ON CONFLICT (run_id, key) DO UPDATE SET status = excluded.status, output = excluded.output, "
                 "attempt_count = attempt_count + 1", rows())
conn.commit()
PY
hyperfine --runs 3 \
  --prepare "sqlite3 $W/p/.runctl/state.db 'DELETE FROM results'" \
  "$RUNCTL -q record $RUN --from $W/results-1m.jsonl" \
  "sqlite3 $W/p/.runctl/state.db < $W/p/floor.sql" \
  "$PYTHON $W/p/floor.py $W/p/.runctl/state.db $RUN $W/results-1m.jsonl" \
  --export-json "$OUT/ledger-record.json" >&2
sqlite3 .runctl/state.db 'DELETE FROM results'
record_rss=$(peak_kb "$RUNCTL" -q record "$RUN" --from "$W/results-1m.jsonl")

ingest=$(median_ms "$OUT/ledger-ingest.json" 0)
select=$(median_ms "$OUT/ledger-select.json" 0)
select_floor=$(median_ms "$OUT/ledger-select.json" 1)
record=$(median_ms "$OUT/ledger-record.json" 0)
record_floor=$(median_ms "$OUT/ledger-record.json" 1)
record_py=$(median_ms "$OUT/ledger-record.json" 2)
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
mb() { python3 -c "print('%.0f' % ($1 / 1024))"; }
cat > "$OUT/ledger.md" <<MD
### Result ledger

\`bench/ledger.sh\`: a generated CSV of 1,000,000 rows (three columns, 61 MB), whole processes;
peak RSS from \`/usr/bin/time -f %M\`.

| command | median | floor (same run) | ratio | peak RSS | target |
|---|---|---|---|---|---|
| \`runctl new --source rows.csv --key case_id\` (read, MD5 + SHA-256, 1M items in one transaction) | ${ingest} ms | | | $(mb "$ingest_rss") MB | < 5,000 ms, < 100 MB |
| \`runctl items RUN\` (the ${remaining} remaining of 1M, 900k done) | ${select} ms | sqlite3 shell, same anti-join: ${select_floor} ms | $(ratio "$select" "$select_floor")x | $(mb "$select_rss") MB | < 1,000 ms, <= 3x, < 100 MB |
| \`runctl record RUN\` of 1M results (JSON lines) | ${record} ms | sqlite3 shell, 1M upsert statements in one transaction: ${record_floor} ms | $(ratio "$record" "$record_floor")x | $(mb "$record_rss") MB | <= 2x, < 100 MB |
| (the same) | | one prepared upsert run 1M times in one transaction (Python sqlite3 \`executemany\`, same JSON lines): ${record_py} ms | $(ratio "$record" "$record_py")x | | <= 2x |
MD
cat "$OUT/ledger.md"
