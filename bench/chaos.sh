#!/usr/bin/env bash
# Chaos: a stream run SIGKILLed 200 times at random moments and resumed each time, then compared
# item for item with an uninterrupted run of the same items. Reports kills, items, lost and
# duplicated results (both must be 0). The test suite runs the 10-kill version
# (tests/it/resume.rs, chaos_ten_sigkills_then_resume_equals_an_uninterrupted_run).
source "$(dirname "$0")/lib.sh"
build_release
command -v sqlite3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
KILLS=${CHAOS_KILLS:-200}
N=${CHAOS_ITEMS:-400000}

W="$OUT/chaos"
rm -rf "$W" && mkdir -p "$W" && cd "$W"
python3 - "$N" <<'PY'
import sys
n = int(sys.argv[1])
with open("items.csv", "w") as f:
    f.write("id,text\n")
    for i in range(n):
        f.write(f"k{i:07d},item text number {i}\n")
PY
# The worker answers from the item alone, so two runs must agree on every output.
cat > worker.sh <<'SH'
#!/bin/sh
while IFS= read -r line; do
  key=${line#*\"key\":\"}; key=${key%%\"*}
  printf '{"key":"%s","ok":{"k":"%s"}}\n' "$key" "$key"
done
SH
chmod +x worker.sh
export_of() { (cd "$1" && "$RUNCTL" export latest | python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(r["item_key"], r["result_status"], json.dumps(r["result_output"], sort_keys=True))
'); }

mkdir reference chaos
(cd reference && "$RUNCTL" -q init && "$RUNCTL" -q new --model c --source ../items.csv --key id >/dev/null \
  && "$RUNCTL" -q resume -j 2 --stream --window 64 -- ../worker.sh)
export_of reference > reference.txt

cd chaos
"$RUNCTL" -q init
"$RUNCTL" -q new --model c --source ../items.csv --key id >/dev/null
kills=0
passes=0
start=$(date +%s)
while [ "$kills" -lt "$KILLS" ]; do
  passes=$((passes + 1))
  "$RUNCTL" -q resume -j 2 --stream --window 64 -- ../worker.sh 2>/dev/null &
  pid=$!
  sleep "$(python3 -c 'import random; print(random.uniform(0.02, 0.15))')"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null && kills=$((kills + 1))
  fi
  wait "$pid" 2>/dev/null || true
  status=$("$RUNCTL" show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [ "$status" = completed ] && break
done
"$RUNCTL" -q resume -j 2 --stream --window 64 -- ../worker.sh 2>/dev/null || true
seconds=$(( $(date +%s) - start ))
cd ..
export_of chaos > chaos.txt
rows=$(sqlite3 chaos/.runctl/state.db 'SELECT count(*) FROM results')
distinct=$(sqlite3 chaos/.runctl/state.db 'SELECT count(DISTINCT key) FROM results')
ok=$(sqlite3 chaos/.runctl/state.db "SELECT count(*) FROM results WHERE status = 'ok'")
lost=$((N - ok))
duplicated=$((rows - distinct))
if cmp -s reference.txt chaos.txt; then same="identical"; else same="DIFFERENT ($(diff reference.txt chaos.txt | grep -c '^[<>]') lines)"; fi
cat > "$OUT/chaos.md" <<MD
### Chaos: SIGKILL and resume

\`bench/chaos.sh\`: ${N} items through a stream worker (sh, 2 slots, window 64), SIGKILLed at
random moments (20 to 150 ms into each resume) and resumed each time, then resumed to the end.

| kills (mid-run) | resumes | items | results | lost | duplicated | export vs an uninterrupted run | time |
|---|---|---|---|---|---|---|---|
| ${kills} | ${passes} | ${N} | ${rows} | ${lost} | ${duplicated} | ${same} | ${seconds} s |
MD
cat "$OUT/chaos.md"
