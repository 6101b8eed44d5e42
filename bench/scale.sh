#!/usr/bin/env bash
# Cost against project size: projects with 100, 10,000 and 100,000 runs (each with its outputs
# and logs folders) and as many registered hashes, and the whole-process median of the lookups
# at each size: `show latest`, `show <id prefix>`, `show <name>`, `resolve HEX`, `list --limit
# 20`, `name` and `new`. The goal is flat: growth from 10,000 to 100,000 under 1.3x.
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
db.commit()
print(rows[n // 2][0][:-5], rows[n // 2][1], hashes[n // 2][1])
PY
}

{
cat <<'MD'
### Scale: cost against the number of runs

`bench/scale.sh`: projects with 100, 10,000 and 100,000 runs, each with its outputs and logs
folders, and as many registered hashes; whole-process medians of 30 runs each (hyperfine -N),
the lookups against the project's size. The goal is flat: under 1.3x from 10,000 to 100,000.

| runs | show latest | show PREFIX | show NAME | resolve HEX | list --limit 20 | name | new |
|---|---|---|---|---|---|---|---|
MD
for n in $SIZES; do
  PROJ="$OUT/scale-$n"
  read -r prefix name hex < <(make_project "$PROJ" "$n")
  # The project's pages written out first: a writeback during the timings is not the command's.
  sync
  cd "$PROJ"
  hyperfine -N --warmup 3 --runs 30 \
    "$RUNCTL show latest" "$RUNCTL show $prefix" "$RUNCTL show $name" "$RUNCTL resolve $hex" \
    "$RUNCTL list --limit 20" "$RUNCTL name --model m7 --dataset d" \
    "$RUNCTL new --model m7 --dataset d" \
    --export-json "$OUT/scale-$n.json" >/dev/null 2>&1
  cells=""
  for i in 0 1 2 3 4 5 6; do cells="$cells | $(median_ms "$OUT/scale-$n.json" "$i") ms"; done
  printf '| %s%s |\n' "$n" "$cells"
  cd "$REPO"
done
python3 - "$OUT" $SIZES <<'PY'
import json, sys
out, sizes = sys.argv[1], sys.argv[2:]
if "10000" in sizes and "100000" in sizes:
    a = json.load(open(f"{out}/scale-10000.json"))["results"]
    b = json.load(open(f"{out}/scale-100000.json"))["results"]
    names = ["show latest", "show PREFIX", "show NAME", "resolve HEX", "list --limit 20", "name", "new"]
    cells = " | ".join(f"{y['median'] / x['median']:.2f}x" for x, y in zip(a, b))
    print(f"| growth 10k -> 100k | {cells} |")
PY
cat <<'MD'

`name` and `new` still read every entry of `outputs/` and `logs/` for the counter (the rest of
the scale issue); every lookup above them is one step down an index since schema V9, checked by
the query-plan test in `src/store/plan_tests.rs`.
MD
} > "$OUT/scale.md"
cat "$OUT/scale.md"
