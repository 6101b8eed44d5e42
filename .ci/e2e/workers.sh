#!/usr/bin/env bash
# End to end: the Python example workers (examples/workers/), per-item and stream, through
# `runctl new --source ... -- CMD` and `runctl resume`, with python3 (no packages needed).
# The sh stream worker is exercised by `cargo test` (tests/it/resume.rs).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
export PATH="$TARGET/debug:$PATH"
WORKERS="$REPO/examples/workers"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
runctl --quiet init
printf 'id,text\n1,hello world\n2,\n3,a b c\n4,one more line of text\n' > cases.csv

check() { # run-ref expected-ok expected-errors
  python3 - "$1" "$2" "$3" <<'PY'
import json, subprocess, sys
run, ok, errors = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [json.loads(l) for l in subprocess.run(["runctl", "export", run], check=True,
        capture_output=True, text=True).stdout.splitlines()]
got_ok = [r for r in rows if r["result_status"] == "ok"]
got_err = [r for r in rows if r["result_status"] == "error"]
assert (len(got_ok), len(got_err)) == (ok, errors), rows
for r in got_ok:
    assert r["result_output"]["words"] == len(r["text"].split()), r
for r in got_err:
    assert "no text" in r["result_error"], r
print(f"{run}: {len(got_ok)} ok, {len(got_err)} errors, as expected")
PY
}

# Per-item: one Python process per item; item 2 has no text and fails.
set +e
runctl --quiet new --model per-item --source cases.csv --key id -j 2 -- python3 "$WORKERS/per_item.py"
code=$?
set -e
[ "$code" = 1 ] || { echo "per-item: exit $code, expected 1 (one item failed)"; exit 1; }
check per-item-dataset-full-run1 3 1

# Stream: one Python process per slot, JSON lines both ways.
set +e
runctl --quiet new --model stream --source cases.csv --key id --stream -j 2 -- python3 "$WORKERS/stream.py"
code=$?
set -e
[ "$code" = 1 ] || { echo "stream: exit $code, expected 1"; exit 1; }
check stream-dataset-full-run1 3 1

# The failed item fixed in the source is still the ingested one: retrying it fails the same way,
# and a bare resume with nothing remaining says so.
set +e
runctl --quiet resume stream-dataset-full-run1 --retry-errors
code=$?
set -e
[ "$code" = 1 ] || { echo "retry: exit $code, expected 1"; exit 1; }
runctl resume stream-dataset-full-run1 2>&1 | grep -q "nothing remaining; 1 item failed (retry it with"
echo "workers: all good"
