#!/usr/bin/env bash
# Run the benchmarks and write docs/benchmarks.md.
# Usage: bash bench/run.sh [NAME...]   (no names: all; with names: only those are re-run, the
# other sections are kept from their last run in bench/out/)
source "$(dirname "$0")/lib.sh"
build_release
sections=()
ran=()
for bench in "$BENCH_DIR"/*.sh; do
  case "$(basename "$bench")" in run.sh|lib.sh|compare.sh) continue ;; esac
  name="$(basename "$bench" .sh)"
  if [ $# -eq 0 ] || [[ " $* " == *" $name "* ]]; then
    echo "== $name" >&2
    bash "$bench" >/dev/null
    ran+=("$name")
  fi
  [ -f "$OUT/$name.md" ] && sections+=("$OUT/$name.md")
done
{
  cat <<MD
# Benchmarks

Produced by \`bash bench/run.sh\` (release build, whole processes, medians; machines are shared
and noisy, so read the ratios). Each script under \`bench/\` measures runctl against its peer or
floor in the same run.

Last run: $(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -sm), $("$RUNCTL" --version), of:
${ran[*]:-nothing}$([ $# -gt 0 ] && echo "; the other sections are from their own last run").

MD
  for s in "${sections[@]}"; do cat "$s"; echo; done
  cat "$BENCH_DIR/notes.md"
} > "$REPO/docs/benchmarks.md"
echo "wrote docs/benchmarks.md" >&2
