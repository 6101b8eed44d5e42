#!/usr/bin/env bash
# Cost against project size: projects with 100, 10,000 and 100,000 runs (each with its outputs
# and logs folders), as many registered hashes and as many model versions, and the
# whole-process median of the lookups at each size: `show latest`, `show <id prefix>`, `show
# <name>`, `resolve HEX`, `list --limit 20`, `name`, `new` (beside `runctl --version`, its
# floor), and `version sync` of a 100,000-key listing. The goal is flat: growth from 10,000 to
# 100,000 under 1.3x; `new` within 1.5x of `--version`; the sync under 1 s.
# The projects are made fast: runctl creates and migrates the DB, then SQL inserts rows that
# follow its schema (as `runctl new` and `runctl hash --register` would write them).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
SIZES="${SCALE_SIZES:-100 10000 100000}"

make_project() { # DIR N
  rm -rf "$1" && mkdir -p "$1" && (cd "$1" && "$RUNCTL" -q init)
  python3 - "$1" "$2" <<'PY'
import os, sqlite3, sys, hashlib
root, n = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(os.path.join(root, ".runctl", "state.db"))
rows, hashes = [], []
for i in range(1, n + 1):
    ts = f"2026{(i // 86400) % 12 + 1:02d}{(i // 3600) % 28 + 1:02d}_{(i // 60) % 60:02d}{i % 60:02d}00"
    rid = f"{ts}_{i % 1000000:06d}_{i % 65536:04x}"
    name = f"m{i % 50}-d-full-run{i}"
    for base in ("outputs", "logs"):
        os.makedirs(os.path.join(root, base, name))
    rows.append((rid, name, name, f"m{i % 50}", "d", "full", i, "model_dataset", "completed",
                 os.path.join(root, "outputs", name), os.path.join(root, "logs", name),
                 f"2026-11-{(i % 28) + 1:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z"))
    ident = f"tsteps={i}+dt=2_42_imagenette"
    hashes.append(("md5", hashlib.md5(ident.encode()).hexdigest()[:8], ident, "hash", "2026-11-01T00:00:00.000000Z"))
db.executemany("INSERT INTO runs (id, name, dir_name, model, dataset, size, number, scope, status, "
               "outputs_dir, logs_dir, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
db.executemany("INSERT OR IGNORE INTO hashes (algo, hash, identifier, origin, created_at) VALUES (?,?,?,?,?)", hashes)
# n versions, 100 families (style_0..99) x V1..: completed, with the artifact a sync lists.
versions = []
for i in range(n):
    f, v = i % 100, i // 100 + 1
    versions.append((f"style_{f}", f"V{v}", v, "completed", f"s3://loras/style_{f}_vV{v}.safetensors",
                     f"e{f}-{v}", 1000 + v, "2026-11-01T00:00:00.000000Z", "2026-11-01T00:00:00.000000Z"))
db.executemany("INSERT INTO versions (family, name, number, status, artifact_url, etag, size, created_at, updated_at) "
               "VALUES (?,?,?,?,?,?,?,?,?)", versions)
db.commit()
# A 100,000-key listing: the n versions' artifacts as they are, then new ones up to 100,000.
with open(os.path.join(root, "listing.jsonl"), "w") as out:
    import json
    for i in range(100_000):
        f, v = i % 100, i // 100 + 1
        out.write(json.dumps({"url": f"s3://loras/style_{f}_vV{v}.safetensors", "etag": f"e{f}-{v}", "size": 1000 + v}) + "\n")
print(rows[n // 2][0][:-5], rows[n // 2][1], hashes[n // 2][1])
PY
}

{
cat <<'MD'
### Scale: cost against the number of runs

`bench/scale.sh`: projects with 100, 10,000 and 100,000 runs, each with its outputs and logs
folders, as many registered hashes and as many model versions; whole-process medians (hyperfine
-N; each lookup the median of 3 rounds of 10 runs over all sizes), against the project's size. The goal is flat: under 1.3x from
10,000 to 100,000. `--version` is the floor of any command (start and exit); `new / --version`
is their ratio in the same run (target 1.5x). `version sync` takes a 100,000-key listing that
holds the project's versions as they are plus new ones up to 100,000 (its first sync: it
creates them; 5 runs, each from a copy of the DB before it) and is timed again over the same
listing (nothing to change, 10 runs).

| runs | show latest | show PREFIX | show NAME | resolve HEX | list --limit 20 | name | new | --version | new / --version | first version sync | sync again |
|---|---|---|---|---|---|---|---|---|---|---|---|
MD
rm -f "$OUT/scale-cold.txt"
for n in $SIZES; do
  PROJ="$OUT/scale-$n"
  make_project "$PROJ" "$n" > "$OUT/scale-$n.ids"
  # One new first, as in any project whose runs runctl made: it reads the folders the SQL
  # inserts made and records them for the counter (its time, that first read, is shown apart).
  cold_new=$(cd "$PROJ" && python3 -c 'import subprocess,sys,time; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print("%.1f" % ((time.perf_counter()-t)*1000))' \
    "$RUNCTL" -q new --model m7 --dataset d)
  echo "$n $cold_new" >> "$OUT/scale-cold.txt"
done
# Every project is made before any is timed, and their pages are written out first: the
# writeback of 200,000 new folders is not a later command's (timed right after its own project
# was made, the 100,000-run lookups came out 1.2-1.6x those of 10,000, `--version` 1.2x too).
sync
sleep 5
# The lookups, in 3 rounds over the sizes (10 runs each, after 2 warm-ups), so that a busy
# spell of the machine falls on every size alike; each cell is the median of the 3 medians.
for r in 1 2 3; do
  for n in $SIZES; do
    read -r prefix name hex < "$OUT/scale-$n.ids"
    cd "$OUT/scale-$n"
    hyperfine -N --warmup 2 --runs 10 \
      "$RUNCTL show latest" "$RUNCTL show $prefix" "$RUNCTL show $name" "$RUNCTL resolve $hex" \
      "$RUNCTL list --limit 20" "$RUNCTL name --model m7 --dataset d" \
      "$RUNCTL new --model m7 --dataset d" "$RUNCTL --version" \
      --export-json "$OUT/scale-$n-r$r.json" >/dev/null 2>&1
  done
done
for n in $SIZES; do
  cd "$OUT/scale-$n"
  # The first sync (it creates what the listing holds beyond the project's versions), 5 times
  # from a copy of the DB before it, then the same listing again: nothing to change.
  python3 -c 'import sqlite3; sqlite3.connect(".runctl/state.db").execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()'
  cp .runctl/state.db "$OUT/scale-before-sync.db"
  hyperfine -N --runs 5 \
    --prepare "sh -c 'rm -f .runctl/state.db-wal .runctl/state.db-shm; cp $OUT/scale-before-sync.db .runctl/state.db'" \
    "$RUNCTL -q version sync --listing listing.jsonl" \
    --export-json "$OUT/scale-first-sync-$n.json" >/dev/null 2>&1
  hyperfine -N --warmup 1 --runs 10 "$RUNCTL -q version sync --listing listing.jsonl" \
    --export-json "$OUT/scale-sync-$n.json" >/dev/null 2>&1
  cd "$REPO"
done
python3 - "$OUT" $SIZES <<'PY'
import json, statistics, sys
out, sizes = sys.argv[1], sys.argv[2:]
def cells(n):
    rounds = [json.load(open(f"{out}/scale-{n}-r{r}.json"))["results"] for r in (1, 2, 3)]
    return [statistics.median(rd[i]["median"] for rd in rounds) for i in range(8)]
def sync(kind, n):
    return json.load(open(f"{out}/scale-{kind}-{n}.json"))["results"][0]["median"]
for n in sizes:
    c = cells(n)
    row = " | ".join(f"{x * 1000:.3f} ms" for x in c)
    print(f"| {n} | {row} | {c[6] / c[7]:.2f}x | {sync('first-sync', n) * 1000:.1f} ms | {sync('sync', n) * 1000:.1f} ms |")
if "10000" in sizes and "100000" in sizes:
    a, b = cells("10000"), cells("100000")
    growth = " | ".join(f"{y / x:.2f}x" for x, y in zip(a, b))
    print(f"| growth 10k -> 100k | {growth} | | {sync('first-sync', '100000') / sync('first-sync', '10000'):.2f}x | {sync('sync', '100000') / sync('sync', '10000'):.2f}x |")
PY
printf '\nThe first `new` in each project (it reads the folders the SQL inserts made, once, and records\nthem for the counter), size and ms: %s.\n' "$(paste -sd';' "$OUT/scale-cold.txt" | sed 's/;/; /g')"
cat <<'MD'

Every lookup is one step down an index since schema V9 (the query-plan test in
`src/store/plan_tests.rs`); since V10 `name` and `new` read `outputs/` and `logs/` only when a
folder changed (a `stat` each otherwise), and `new` keeps the `-wal` for the next command.
MD
} > "$OUT/scale.md"
cat "$OUT/scale.md"
