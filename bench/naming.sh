#!/usr/bin/env bash
# Run naming. Targets (issue: run names): `runctl new` whole process (allocate + folders +
# pointers) median < 5 ms; `runctl name` < 2 ms; compared in the same run with the Python floor
# for the same job (the seed's naming with os.listdir + mkdir, no database).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
build_static

# One project per build, each starting empty like the Python floor's, so that every `name` is
# timed over the same number of run folders (310: the 10 warmup and 300 timed `new`).
PROJ="$OUT/naming-project"
PROJ_STATIC="$OUT/naming-project-static"
PYPROJ="$OUT/naming-python"
rm -rf "$PROJ" "$PROJ_STATIC" "$PYPROJ" && mkdir -p "$PROJ" "$PROJ_STATIC" "$PYPROJ/outputs" "$PYPROJ/logs"
(cd "$PROJ" && "$RUNCTL" -q init)
(cd "$PROJ_STATIC" && "$RUNCTL" -q init)

cat > "$OUT/naming_floor.py" <<'PY'
# The seed's naming, as a pipeline would do it in Python: slug the segments, scan outputs/ and
# logs/ for the highest run<N> of the prefix, mkdir both folders, rewrite the pointers.
import os, re, sys
def slug(s):
    s = re.sub(r"[^a-z0-9_]+", "-", s.strip().lower())
    return s.strip("-_") or None
model, dataset, size = slug("Qwen2-7B") or "model", slug("drg_letters") or "dataset", "full"
prefix = f"{model}-{dataset}-{size}-run"
n = 0
for d in ("outputs", "logs"):
    for name in os.listdir(d):
        m = re.fullmatch(re.escape(prefix) + r"(\d+)", name)
        if m:
            n = max(n, int(m.group(1)))
name = f"{prefix}{n + 1}"
if len(sys.argv) > 1 and sys.argv[1] == "name":
    print(name); sys.exit()
os.mkdir(os.path.join("outputs", name)); os.mkdir(os.path.join("logs", name))
tmp = os.path.join("outputs", ".latest.tmp"); os.symlink(name, tmp); os.replace(tmp, os.path.join("outputs", "latest"))
with open("logs/.latest.tmp", "w") as f: f.write(name + "\n")
os.replace("logs/.latest.tmp", "logs/latest.txt")
print(name)
PY

# Each timed `new` really allocates a run: the project grows by one run per timing run, as it
# would in use. 300 runs of each.
cd "$PROJ"
hyperfine -N --warmup 10 --runs 300 \
  "$RUNCTL new --model Qwen2-7B --dataset drg_letters" \
  "$RUNCTL name --model Qwen2-7B --dataset drg_letters" \
  --export-json "$OUT/naming-runctl.json" >&2
if [ -n "$RUNCTL_STATIC" ]; then
  cd "$PROJ_STATIC"
  hyperfine -N --warmup 10 --runs 300 \
    "$RUNCTL_STATIC new --model Qwen2-7B --dataset drg_letters" \
    "$RUNCTL_STATIC name --model Qwen2-7B --dataset drg_letters" \
    --export-json "$OUT/naming-static.json" >&2
fi
# SQLite's own floor: a whole process (the sqlite3 shell) that opens the same WAL database and
# runs the counter's query, nothing else.
command -v sqlite3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
hyperfine -N --warmup 10 --runs 300 \
  "sqlite3 $PROJ/.runctl/state.db \"SELECT max(number) FROM runs WHERE model = 'qwen2-7b' AND dataset = 'drg_letters'\"" \
  --export-json "$OUT/naming-sqlite.json" >&2
cd "$PYPROJ"
hyperfine -N --warmup 10 --runs 300 \
  "$PYTHON $OUT/naming_floor.py" \
  "$PYTHON $OUT/naming_floor.py name" \
  --export-json "$OUT/naming-python.json" >&2

# How `name` grows with the folders it must read: 5,000 run folders in outputs/ and in logs/,
# made by hand, the same for runctl and the Python floor.
BIG="$OUT/naming-big"
rm -rf "$BIG" && mkdir -p "$BIG/outputs" "$BIG/logs"
(cd "$BIG" && "$RUNCTL" -q init)
for d in outputs logs; do
  (cd "$BIG/$d" && seq 1 5000 | sed 's/^/qwen2-7b-drg_letters-full-run/' | xargs mkdir)
done
BIG_RUNCTL="${RUNCTL_STATIC:-$RUNCTL}"
cd "$BIG"
# One new first, as in a project whose runs runctl made: it reads the folders once and records
# them for the counter (the first read, timed apart); `name` then reads them only if they change.
big_first=$(python3 -c 'import subprocess,sys,time; t=time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print("%.1f" % ((time.perf_counter()-t)*1000))' \
  "$BIG_RUNCTL" -q new --model other --dataset d)
hyperfine -N --warmup 10 --runs 200 \
  "$BIG_RUNCTL name --model Qwen2-7B --dataset drg_letters" \
  "$PYTHON $OUT/naming_floor.py name" \
  --export-json "$OUT/naming-big.json" >&2
big=$(median_ms "$OUT/naming-big.json" 0)
py_big=$(median_ms "$OUT/naming-big.json" 1)
big_kind=$([ -n "$RUNCTL_STATIC" ] && echo "static Linux build" || echo "default build")

new=$(median_ms "$OUT/naming-runctl.json" 0)
name=$(median_ms "$OUT/naming-runctl.json" 1)
py_new=$(median_ms "$OUT/naming-python.json" 0)
py_name=$(median_ms "$OUT/naming-python.json" 1)
floor=$(median_ms "$OUT/naming-sqlite.json" 0)
r_new=$(python3 -c "print('%.1f' % ($py_new / $new))")
r_name=$(python3 -c "print('%.1f' % ($py_name / $name))")
runs=$(cd "$PROJ" && "$RUNCTL" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
cat > "$OUT/naming.md" <<MD
### Run naming

\`bench/naming.sh\`: whole processes, \`hyperfine -N\`, 300 runs each; every timed \`new\` allocates
a real run (each build has its own project, which ends with ${runs} runs, so every \`name\` reads
as many run folders as the Python floor's). The binaries timed are installed copies, as
\`cargo install\` leaves them. The Python floor does the seed's naming with \`os.listdir\` +
\`mkdir\` and no database (so no atomicity, no record).

| command | median | Python floor | runctl faster by | target |
|---|---|---|---|---|
| \`runctl new\` (allocate in SQLite + 2 folders + pointers) | ${new} ms | ${py_new} ms | ${r_new}x | < 5 ms |
| \`runctl name\` (read-only) | ${name} ms | ${py_name} ms | ${r_name}x | < 2 ms |

STATIC_ROWS
With 5,000 run folders in \`outputs/\` and in \`logs/\` (made by hand, same for both): ${big_kind}
\`runctl name\` ${big} ms, the Python floor ${py_big} ms. Since schema V10 runctl reads the
folders only when they changed (the first \`new\` after they were made read them: ${big_first} ms);
the Python floor reads them every time, as any tool that keeps no record of them must.

SQLite's own floor on this machine, the \`sqlite3\` shell opening the same WAL database and running
the counter's query as a whole process: ${floor} ms (median, same run).
MD
if [ -n "$RUNCTL_STATIC" ]; then
  s_new=$(median_ms "$OUT/naming-static.json" 0)
  s_name=$(median_ms "$OUT/naming-static.json" 1)
  rows="| static Linux build (README): \`runctl new\` | ${s_new} ms | ${py_new} ms | $(python3 -c "print('%.1f' % ($py_new / $s_new))")x | < 5 ms |\n| static Linux build: \`runctl name\` | ${s_name} ms | ${py_name} ms | $(python3 -c "print('%.1f' % ($py_name / $s_name))")x | < 2 ms |\n"
else
  rows=""
fi
python3 - "$OUT/naming.md" "$rows" <<'PY'
import sys
path, rows = sys.argv[1], sys.argv[2].replace("\\n", "\n")
text = open(path).read()
# The static rows belong at the end of the table, before the floor paragraph.
text = text.replace("\nSTATIC_ROWS\n", rows + "\n" if rows else "\n")
open(path, "w").write(text)
PY
cat "$OUT/naming.md"
