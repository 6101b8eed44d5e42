#!/usr/bin/env bash
# End to end: the README's static Linux install (x86_64 only) builds, and the binary works:
# a project, a run over items with a stream worker, a hash, a plugin.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
if [ "$(uname -sm)" != "Linux x86_64" ]; then
  echo "not x86_64 Linux: the static install does not apply"
  exit 0
fi
PREFIX="$TARGET/e2e-static"
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo install --quiet --path "$REPO" --locked --target x86_64-unknown-linux-gnu \
  --root "$PREFIX" --target-dir "$TARGET" --bin runctl
RUNCTL="$PREFIX/bin/runctl"
file "$RUNCTL" 2>/dev/null | grep -q "statically linked" || ldd "$RUNCTL" 2>&1 | grep -q "not a dynamic"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
"$RUNCTL" -q init
printf 'id\na\nb\nc\n' > items.csv
"$RUNCTL" -q new --model m --source items.csv --key id --stream -j 2 \
  -- sh "$REPO/examples/workers/stream.sh"
"$RUNCTL" show latest --json | python3 -c '
import json, sys
run = json.load(sys.stdin)
assert run["status"] == "completed" and run["items"]["completed"] == 3, run'
[ "$("$RUNCTL" hash a b)" = ":hash=$(printf 'a_b' | md5sum | cut -c1-8)" ]
mkdir bin && printf '#!/bin/sh\necho "plugin $RUNCTL_VERSION"\n' > bin/runctl-hi && chmod +x bin/runctl-hi
PATH="$WORK/bin:$PATH" "$RUNCTL" hi | grep -q "^plugin "
echo "static build: all good"
