#!/usr/bin/env bash
# Before and after a change, in one run: the release build of BASE (a commit, default the one
# before the restructuring of the code's shape) and of the working tree, the same commands
# timed side by side with hyperfine, alternating, on the same machine state. Writes
# bench/out/compare.md (not a section of docs/benchmarks.md: quote it where a change is judged).
# Usage: BASE=<commit> bash bench/compare.sh
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
BASE="${BASE:-fd18e2b}"
build_release
AFTER="$RUNCTL"
W="$OUT/compare"
rm -rf "$W" && mkdir -p "$W"

# The base, built in a worktree of its own (its own target dir: the two builds never mix).
BASE_TREE="$W/base-tree"
git -C "$REPO" worktree remove --force "$BASE_TREE" 2>/dev/null || true
git -C "$REPO" worktree add --detach -q "$BASE_TREE" "$BASE"
trap 'git -C "$REPO" worktree remove --force "$BASE_TREE" 2>/dev/null || true' EXIT
BASE_BUILD="$OUT/compare-build"
(cd "$BASE_TREE" && CARGO_TARGET_DIR="$BASE_BUILD" cargo build --release --quiet --bin runctl)
mkdir -p "$W/bin-before"
cp "$BASE_BUILD/release/runctl" "$W/bin-before/runctl"
BEFORE="$W/bin-before/runctl"

rustc -O -o "$W/stream_worker" "$BENCH_DIR/src/stream_worker.rs"
TRUE="$(command -v true)"
cd "$W"
python3 - <<'PY'
for name, n in (("items-2k.csv", 2_000), ("items-100k.csv", 100_000)):
    with open(name, "w") as f:
        f.write("id,text\n")
        for i in range(n):
            f.write(f"k{i:07d},item text number {i}\n")
with open("results-100k.jsonl", "w") as f:
    for i in range(100_000):
        f.write('{"key":"k%07d","ok":{"n":%d}}\n' % (i, i))
PY

# One project per binary, each holding 500 runs and the two sources, so that no command is
# timed on an empty project.
for side in before after; do
  bin="$BEFORE"; [ "$side" = after ] && bin="$AFTER"
  mkdir -p "$W/$side" && (cd "$W/$side" && "$bin" -q init \
    && for i in $(seq 1 500); do "$bin" -q new --model m --dataset "d$((i % 5))" >/dev/null; done \
    && "$bin" -q new --model ingest --source ../items-2k.csv --key id >/dev/null \
    && "$bin" -q new --model ingest --source ../items-100k.csv --key id >/dev/null)
done

rows=()
# compare LABEL PREPARE COMMAND: COMMAND (and PREPARE before each timing) run with $R as the
# binary in its own project; hyperfine alternates the two sides.
compare() {
  local label="$1" prepare="$2" command="$3"
  local json
  json="$W/$(echo "$label" | tr -c 'a-z0-9' '_').json"
  local args=(--warmup 3 --min-runs 15 --export-json "$json" -N)
  [ -n "$prepare" ] && args=(--warmup 1 --min-runs 10 --export-json "$json")
  if [ -n "$prepare" ]; then
    hyperfine "${args[@]}" \
      --prepare "cd $W/before && R=$BEFORE && $prepare" -n before "cd $W/before && R=$BEFORE && $command" \
      --prepare "cd $W/after && R=$AFTER && $prepare" -n after "cd $W/after && R=$AFTER && $command" \
      >/dev/null
  else
    hyperfine "${args[@]}" \
      -n before "sh -c 'cd $W/before && R=$BEFORE && $command'" \
      -n after "sh -c 'cd $W/after && R=$AFTER && $command'" >/dev/null
  fi
  local b a
  b=$(median_ms "$json" 0)
  a=$(median_ms "$json" 1)
  rows+=("| $label | $b | $a | $(python3 -c "print('%.2f' % ($a / $b))") |")
}

compare "runctl name (500 runs)" "" '$R name --model m --dataset d1'
compare "runctl show latest --json" "" '$R show latest --json >/dev/null'
compare "runctl list --json (500 runs)" "" '$R list --json >/dev/null'
compare "runctl new (500 runs)" "" '$R -q new --model m --dataset d1 >/dev/null'
compare "resume, 2,000 items, per-item true, -j 2" \
  '$R -q new --model p --source ../items-2k.csv --key id >/dev/null' \
  "\$R -q resume -j 2 -- $TRUE"
compare "resume, 100,000 items, --stream --window 64, -j 2" \
  '$R -q new --model s --source ../items-100k.csv --key id >/dev/null' \
  "\$R -q resume -j 2 --stream --window 64 -- $W/stream_worker"
compare "record, 100,000 result lines" \
  '$R -q new --model r --source ../items-100k.csv --key id >/dev/null' \
  '$R -q record latest < ../results-100k.jsonl'
compare "export, 100,000 items" "" '$R export latest >/dev/null'

{
  echo "## Before and after: $BASE against the working tree"
  echo
  echo "\`BASE=$BASE bash bench/compare.sh\`, $(date -u +%Y-%m-%d), $(nproc) cores, release builds"
  echo "(default, not static), each in its own project of 500 runs; hyperfine alternates the two"
  echo "sides. Medians in ms; the ratio is after / before (under 1 is faster)."
  echo
  echo "| command | before | after | ratio |"
  echo "|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} > "$OUT/compare.md"
cat "$OUT/compare.md"
