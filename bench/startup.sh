#!/usr/bin/env bash
# Startup and plugin-dispatch overhead, whole process.
# Targets (issue: foundation): `runctl --version` median < 2 ms; `runctl <plugin>` minus running
# the plugin directly < 1 ms (median).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
build_static

BIN="$OUT/bin"
mkdir -p "$BIN"
# The plugin is /bin/true under a plugin name: it costs next to nothing itself, so the
# difference is runctl's own dispatch (parse, PATH lookup, project discovery, exec).
cp /bin/true "$BIN/runctl-true"
PROJ="$OUT/project"
rm -rf "$PROJ" && mkdir -p "$PROJ" && (cd "$PROJ" && "$RUNCTL" -q init)

cd "$PROJ"
export PATH="$BIN:$PATH"
static_cmds=()
[ -n "$RUNCTL_STATIC" ] && static_cmds=("$RUNCTL_STATIC --version" "$RUNCTL_STATIC true")
hyperfine -N --warmup 50 --runs 1000 \
  "$RUNCTL --version" \
  "$RUNCTL true" \
  "$BIN/runctl-true" \
  "${static_cmds[@]}" \
  --export-json "$OUT/startup.json" >&2

version=$(median_ms "$OUT/startup.json" 0)
via=$(median_ms "$OUT/startup.json" 1)
direct=$(median_ms "$OUT/startup.json" 2)
overhead=$(python3 -c "print('%.3f' % ($via - $direct))")
ratio=$(python3 -c "print('%.2f' % ($via / $direct))")
cat > "$OUT/startup.md" <<MD
### Startup and plugin dispatch

Whole process, \`hyperfine -N --warmup 50 --runs 1000\`, inside a project (\`bench/startup.sh\`).

| command | median | target |
|---|---|---|
| \`runctl --version\` | ${version} ms | < 2 ms |
| \`runctl true\` (dispatch to \`runctl-true\`, a copy of /bin/true) | ${via} ms | |
| \`runctl-true\` run directly | ${direct} ms | |
| dispatch overhead (difference of medians) | ${overhead} ms (ratio ${ratio}x) | < 1 ms |
MD
if [ -n "$RUNCTL_STATIC" ]; then
  s_version=$(median_ms "$OUT/startup.json" 3)
  s_via=$(median_ms "$OUT/startup.json" 4)
  s_overhead=$(python3 -c "print('%.3f' % ($s_via - $direct))")
  cat >> "$OUT/startup.md" <<MD
| static Linux build (README): \`runctl --version\` | ${s_version} ms | < 2 ms |
| static Linux build: \`runctl true\` | ${s_via} ms | |
| static Linux build: dispatch overhead | ${s_overhead} ms | < 1 ms |

The static build (\`-C target-feature=+crt-static -C relocation-model=static\`, the README's
Linux install) has no dynamic loader and no start-up relocations to process.
MD
fi
cat "$OUT/startup.md"
