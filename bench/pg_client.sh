#!/usr/bin/env bash
# What linking the PostgreSQL client costs a command that does not use it: `runctl --version`
# and `runctl name` (SQLite) of the default build against a build without the `postgres`
# feature, alternated in one run, 3 rounds of 300 runs each; medians of the rounds' medians.
# Target (issue 23): not slower by more than noise, else the client sits behind a default-on
# feature (it does: `cargo build --no-default-features` leaves it out).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release
(cd "$REPO" && cargo build --release --quiet --no-default-features --target-dir "$TARGET/no-pg")
BARE="$(installed_copy "$TARGET/no-pg/release/runctl" no-pg)"

PROJ="$OUT/pg-client-project"
rm -rf "$PROJ" && mkdir -p "$PROJ" && cd "$PROJ"
"$RUNCTL" -q init
for _ in 1 2 3; do "$RUNCTL" -q new --model m >/dev/null; done
for round in 1 2 3; do
  hyperfine -N --warmup 20 --runs 300 \
    "$BARE --version" "$RUNCTL --version" "$BARE name --model m" "$RUNCTL name --model m" \
    --export-json "$OUT/pg-client-$round.json" >&2
done
read -r v_bare v_with n_bare n_with <<<"$(python3 - "$OUT" <<'PY'
import json, statistics, sys
rounds = [json.load(open(f"{sys.argv[1]}/pg-client-{r}.json"))["results"] for r in (1, 2, 3)]
print(" ".join("%.3f" % (statistics.median(r[i]["median"] for r in rounds) * 1000) for i in range(4)))
PY
)"
size_bare=$(stat -c %s "$BARE")
size_with=$(stat -c %s "$RUNCTL")
ratio() { python3 -c "print('%.3f' % ($2 / $1))"; }
cat > "$OUT/pg-client.md" <<MD
### Start-up with and without the PostgreSQL client

Whole process, the default build against \`--no-default-features\` (no \`postgres\` crate),
alternated in one run: 3 rounds of \`hyperfine -N --warmup 20 --runs 300\`, medians of the
rounds' medians (\`bench/pg_client.sh\`). Target: not slower by more than noise.

| command | without the client | with it (default) | ratio |
|---|---|---|---|
| \`runctl --version\` | ${v_bare} ms | ${v_with} ms | $(ratio "$v_bare" "$v_with") |
| \`runctl name --model m\` (SQLite) | ${n_bare} ms | ${n_with} ms | $(ratio "$n_bare" "$n_with") |
| binary size | ${size_bare} bytes | ${size_with} bytes | $(ratio "$size_bare" "$size_with") |
MD
cat "$OUT/pg-client.md"
