#!/usr/bin/env bash
# Run every fuzz target for a bounded time (FUZZ_SECONDS, default 60) and keep what it finds.
#   bash fuzz/run.sh [TARGET...]
# Installs cargo-fuzz from crates.io if missing. Uses the nightly toolchain when rustup has one,
# else the stable compiler with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly-only flags).
# New interesting inputs are merged into fuzz/corpus/<target>/ (minimized with -merge=1); a
# crash is copied to fuzz/regressions/<target>/, where `cargo test` checks it from then on
# (tests/it/fuzz_corpus.rs), and the script exits 1.
set -euo pipefail
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
cd "$FUZZ_DIR"
SECONDS_EACH="${FUZZ_SECONDS:-60}"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz (crates.io)" >&2
  cargo install cargo-fuzz --locked --quiet
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  FUZZ=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  FUZZ=(cargo fuzz)
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^runctl-fuzz$')
fi
found=0
summary=()
for t in "${targets[@]}"; do
  echo "== $t (${SECONDS_EACH}s)" >&2
  mkdir -p "corpus/$t" "regressions/$t" "artifacts/$t" "new/$t"
  # Fuzz into a scratch corpus seeded with the kept one; merge back only what adds coverage.
  if "${FUZZ[@]}" run "$t" "new/$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" \
      -artifact_prefix="artifacts/$t/" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      >"artifacts/$t.log" 2>&1; then
    status="ok"
  else
    status="FOUND"
    found=1
    cp artifacts/"$t"/* "regressions/$t/" 2>/dev/null || true
    tail -30 "artifacts/$t.log" >&2
  fi
  "${FUZZ[@]}" run "$t" "corpus/$t" "new/$t" -- -merge=1 >/dev/null 2>&1 || true
  runs=$(grep -o 'Done [0-9]* runs' "artifacts/$t.log" | tail -1 | grep -o '[0-9]*' || echo "?")
  summary+=("$t: $status, $runs runs in ${SECONDS_EACH}s, $(ls "corpus/$t" | wc -l) kept inputs")
  rm -rf "new/$t"
done
printf '%s\n' "${summary[@]}"
exit "$found"
