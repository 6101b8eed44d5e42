# Sourced by .ci/e2e/*.sh and bench/lib.sh: where cargo puts what it builds, as cargo itself
# says (CARGO_TARGET_DIR, build.target-dir in a config, or the default target/ of the
# workspace), so that no script assumes target/.
# Usage: TARGET="$(cargo_target_dir "$REPO")"
cargo_target_dir() {
  (cd "$1" && cargo metadata --format-version 1 --no-deps) \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}
