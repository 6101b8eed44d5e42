# Shared helpers for the benchmarks: a release build, hyperfine (installed from Debian if
# missing), and a results folder. Sourced by bench/*.sh.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
export TARGET
OUT="$BENCH_DIR/out"
mkdir -p "$OUT"

ensure_hyperfine() {
  if ! command -v hyperfine >/dev/null 2>&1; then
    echo "installing hyperfine (Debian package)" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq hyperfine >/dev/null
  fi
}

# installed_copy FILE KIND: FILE copied to $OUT/install/KIND/, as `cargo install` copies the
# binary it built into ~/.cargo/bin. The whole-process timings are of that copy, the file users
# run: the file the linker wrote takes more page faults to start here (239 against 217 for
# `runctl name`, the same bytes; `perf stat -r 300`), about 0.2 ms of a 2 ms command.
installed_copy() {
  mkdir -p "$OUT/install/$2"
  rm -f "$OUT/install/$2/runctl"
  cp "$1" "$OUT/install/$2/runctl"
  echo "$OUT/install/$2/runctl"
}

build_release() {
  (cd "$REPO" && cargo build --release --quiet)
  RUNCTL="$(installed_copy "$TARGET/release/runctl" default)"
  export RUNCTL
}

# The real interpreter, not a version-manager shim (pyenv's costs ~100 ms a start).
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
export PYTHON

# copy_db SRC DST: a whole copy of a project DB through SQLite's backup (runctl keeps the -wal
# between commands, so state.db alone may lack the newest commits).
copy_db() {
  rm -f "$2" "$2-wal" "$2-shm"
  python3 -c 'import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.close(); s.close()' "$1" "$2"
}

# median_ms JSON INDEX: the median of hyperfine's INDEX-th command, in milliseconds.
median_ms() {
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.3f" % (r["median"]*1000))' "$1" "$2"
}

# The static Linux build of the README (no dynamic loader, no relocations at start-up), when
# this is x86_64 Linux: RUNCTL_STATIC, else empty.
build_static() {
  RUNCTL_STATIC=""
  if [ "$(uname -sm)" = "Linux x86_64" ]; then
    (cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
      cargo build --release --quiet --target x86_64-unknown-linux-gnu --bin runctl)
    RUNCTL_STATIC="$(installed_copy "$TARGET/x86_64-unknown-linux-gnu/release/runctl" static)"
  fi
  export RUNCTL_STATIC
}

# start_postgres NAME: a private PostgreSQL for a benchmark (.ci/pg-server.sh), stopped when
# the script exits. Sets PGPORT_BENCH; pg_db_url NAME prints a new empty database's URL.
source "$REPO/.ci/pg-server.sh"
start_postgres() {
  pg_start "$OUT/pg-$1"
  PGPORT_BENCH="$PG_PORT"
  trap 'pg_stop' EXIT
  export PGPORT_BENCH
}

pg_db_url() {
  pg_new_db "$1"
}
