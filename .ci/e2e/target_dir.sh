#!/usr/bin/env bash
# End to end: the scripts of .ci/ and bench/ find cargo's binaries where cargo puts them, with
# CARGO_TARGET_DIR set or not: they ask cargo (.ci/target-dir.sh) and none spells target/ out.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
[ "$(cargo_target_dir "$REPO")" = "$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')" ]
ELSEWHERE="$(mktemp -d)"
trap 'rm -rf "$ELSEWHERE"' EXIT
[ "$(CARGO_TARGET_DIR="$ELSEWHERE/t" cargo_target_dir "$REPO")" = "$ELSEWHERE/t" ]
if grep -rnE 'target/(debug|release|x86_64)' "$REPO/.ci" "$REPO/bench"/*.sh "$REPO/fuzz/run.sh" \
  | grep -v '^[^:]*target_dir.sh:'; then
  echo "a script above spells out target/ instead of asking cargo_target_dir"
  exit 1
fi
echo "target dir: all good"
