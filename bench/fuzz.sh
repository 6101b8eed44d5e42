#!/usr/bin/env bash
# Fuzzing figures for docs/benchmarks.md: runs `fuzz/run.sh` (every target, FUZZ_SECONDS each,
# default 60) and tabulates its summary. FUZZ_LOG=FILE tabulates an earlier run's output instead.
source "$(dirname "$0")/lib.sh"
if [ -n "${FUZZ_LOG:-}" ]; then
  log="$FUZZ_LOG"
else
  log="$OUT/fuzz.log"
  bash "$REPO/fuzz/run.sh" >"$log" 2>&1 || true
fi
{
  cat <<'MD'
### Fuzzing

`bash fuzz/run.sh` (cargo-fuzz, libFuzzer): each target for its time budget, starting from the
kept corpus; "kept inputs" are what `cargo test` re-checks (fuzz/checks.rs has the properties,
docs/guarantees.md the list).

| target | result | executions | kept inputs |
|---|---|---|---|
MD
  grep -E '^[a-z_]+: (ok|FOUND)' "$log" | sed -E 's/^([a-z_]+): (ok|FOUND), ([0-9?]+) runs in ([0-9]+)s, ([0-9]+) kept inputs/| `\1` | \2 (\4 s) | \3 | \5 |/'
} >"$OUT/fuzz.md"
cat "$OUT/fuzz.md"
