#!/usr/bin/env bash
# Model-version sync. Target (issue: model versions): `runctl version sync` of a 100,000-key
# listing against 10,000 versions under 2 s (whole process, median).
source "$(dirname "$0")/lib.sh"
ensure_hyperfine
build_release

PROJ="$OUT/versions-project"
rm -rf "$PROJ" && mkdir -p "$PROJ" && cd "$PROJ"
"$RUNCTL" -q init

# 10,000 versions: 100 families x V1..V100; every other one still pending without artifact.
python3 - <<'PY'
import json
versions = []
for f in range(1, 101):
    for v in range(1, 101):
        e = {"id": f"job-{f}-{v}", "name": f"V{v}", "family": f"style_{f}", "parameters": {"steps": v * 10}}
        if v % 2:
            e["status"] = "pending"
        else:
            e["status"] = "completed"
            e["loraUrl"] = f"s3://loras/style_{f}_vV{v}.safetensors"
        versions.append(e)
json.dump({"versions": versions}, open("versions.json", "w"))
# 100,000 keys: 100 families x V1..V1000, as JSON lines with etag and size.
with open("listing.jsonl", "w") as out:
    for f in range(1, 101):
        for v in range(1, 1001):
            out.write(json.dumps({"url": f"s3://loras/style_{f}_vV{v}.safetensors", "etag": f"e{f}-{v}", "size": 1000 + v}) + "\n")
PY
"$RUNCTL" -q version import versions.json >/dev/null
copy_db .runctl/state.db "$OUT/versions-baseline.db"
count=$("$RUNCTL" version list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

# First sync: 5,000 pending versions get their artifact, 5,000 get etag and size, 90,000 are
# created. Each timed run starts from the same 10,000-version DB.
hyperfine --warmup 1 --runs 10 \
  --prepare "cp $OUT/versions-baseline.db $PROJ/.runctl/state.db; rm -f $PROJ/.runctl/state.db-wal $PROJ/.runctl/state.db-shm" \
  "$RUNCTL -q version sync --listing $PROJ/listing.jsonl" \
  --export-json "$OUT/versions-first.json" >&2
# Second sync over the same listing: nothing to change.
"$RUNCTL" -q version sync --listing listing.jsonl >/dev/null
hyperfine --warmup 1 --runs 10 \
  "$RUNCTL -q version sync --listing $PROJ/listing.jsonl" \
  --export-json "$OUT/versions-again.json" >&2
again_out=$("$RUNCTL" version sync --listing listing.jsonl | tail -1)

first=$(median_ms "$OUT/versions-first.json" 0)
again=$(median_ms "$OUT/versions-again.json" 0)
cat > "$OUT/versions.md" <<MD
### Model-version sync

\`bench/versions.sh\`: a 100,000-key listing (JSON lines with etag and size) against ${count}
versions in 100 families, whole process, \`hyperfine\`, 10 runs each.

| command | median | target |
|---|---|---|
| first \`version sync\` (5,000 artifacts given to pending versions, 5,000 refreshed, 90,000 created) | ${first} ms | < 2,000 ms |
| second \`version sync\` over the same listing (${again_out}) | ${again} ms | < 2,000 ms |
MD
cat "$OUT/versions.md"
