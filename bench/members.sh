#!/usr/bin/env bash
# Many members on one run (issue 23): stream workers that sleep 50 ms per item and do no other
# work (I/O-bound, as an API call is), on a private PostgreSQL; the items/s of 1 member at -j 8
# against 4 and 16 members at -j 8 each, all on one machine, each size on a run of 150 items
# per slot (so each pass lasts about 7.5 s at full speed). Wall time from starting the members
# to the last one's end, so start-up and the claims' tail count. Targets: 4 members >= 3.5x
# one member, 16 members >= 12x.
source "$(dirname "$0")/lib.sh"
build_release
start_postgres members

cat > "$OUT/sleep-worker.py" <<'PY'
import json, sys, time
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.05)
    sys.stdout.write(json.dumps({"key": item["key"], "ok": {"n": item["data"]["n"]}}) + "\n")
    sys.stdout.flush()
PY

declare -A RATE
for members in 1 4 16; do
  items=$((members * 8 * 150))
  export RUNCTL_DATABASE_URL
  RUNCTL_DATABASE_URL="$(pg_db_url "m$members")"
  dir="$OUT/members-$members"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  "$RUNCTL" -q init
  python3 -c "
import sys
print('id,n')
for i in range($items): print(f'k{i:06d},{i}')" > items.csv
  "$RUNCTL" -q new --model m --source items.csv --key id >/dev/null
  start=$(date +%s.%N)
  pids=()
  for m in $(seq 1 "$members"); do
    RUNCTL_HOST="host$m" "$RUNCTL" -q resume latest -j 8 --stream -- "$PYTHON" "$OUT/sleep-worker.py" \
      > "member-$m.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  done_items=$("$RUNCTL" show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"]["completed"])')
  [ "$done_items" = "$items" ] || { echo "members=$members: $done_items of $items done" >&2; exit 1; }
  RATE[$members]=$(python3 -c "print('%.1f' % ($items / ($end - $start)))")
  echo "members=$members items=$items rate=${RATE[$members]}/s" >&2
done
ratio() { python3 -c "print('%.2f' % ($2 / $1))"; }
cat > "$OUT/members.md" <<MD
### Many members on one run (PostgreSQL)

Stream workers that sleep 50 ms per item and do nothing else (I/O-bound), members at \`-j 8\`
each on one machine (2 cores), one run of 150 items per slot for each size, on a private
PostgreSQL 15 with fsync on; items/s over the wall time from starting the members to the last
one's end (\`bench/members.sh\`). The ceiling is 160 items/s per member.

| members | items | items/s | against one member | target |
|---|---|---|---|---|
| 1 | $((1 * 8 * 150)) | ${RATE[1]} | 1.00 | |
| 4 | $((4 * 8 * 150)) | ${RATE[4]} | $(ratio "${RATE[1]}" "${RATE[4]}") | >= 3.5 |
| 16 | $((16 * 8 * 150)) | ${RATE[16]} | $(ratio "${RATE[1]}" "${RATE[16]}") | >= 12 |
MD
cat "$OUT/members.md"
