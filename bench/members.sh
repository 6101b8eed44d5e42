#!/usr/bin/env bash
# Many members on one run (issue 23): stream workers that sleep 50 ms per item and do no other
# work (I/O-bound, as an API call is), on a private PostgreSQL; the items/s of 1 member at -j 8
# against 4 and 16 members at -j 8 each, all on one machine, on the same run size (19,200
# items: 16 members at full speed take 7.5 s, one member 2 minutes). Wall time from starting
# the members to the last one's end, so start-up and the claims' tail count. Targets: 4
# members >= 3.5x one member, 16 members >= 12x.
#
# The worker is a small Perl loop (Perl is in every Debian): a Python worker costs 0.1-0.15 s
# of CPU to start on this machine, and 16 members start 128 of them (15 s of CPU on 2 cores)
# before the first item; the last row repeats 16 members with Python workers to show it.
source "$(dirname "$0")/lib.sh"
build_release
start_postgres members
ITEMS="${ITEMS:-19200}"

cat > "$OUT/sleep-worker.pl" <<'PL'
$| = 1;
while (my $line = <STDIN>) {
    my ($key) = $line =~ /"key":"([^"]*)"/;
    my ($n) = $line =~ /"n":"?(\d+)/;
    select(undef, undef, undef, 0.05);
    print "{\"key\":\"$key\",\"ok\":{\"n\":$n}}\n";
}
PL
cat > "$OUT/sleep-worker.py" <<'PY'
import json, sys, time
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.05)
    sys.stdout.write(json.dumps({"key": item["key"], "ok": {"n": item["data"]["n"]}}) + "\n")
    sys.stdout.flush()
PY

declare -A RATE
# pass NAME MEMBERS WORKER...: the items/s of MEMBERS members on a new run of $ITEMS items.
pass() {
  local name="$1" members="$2"
  shift 2
  export RUNCTL_DATABASE_URL
  RUNCTL_DATABASE_URL="$(pg_db_url "$name")"
  local dir="$OUT/members-$name"
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  "$RUNCTL" -q init
  python3 -c "
print('id,n')
for i in range($ITEMS): print(f'k{i:06d},{i}')" > items.csv
  "$RUNCTL" -q new --model m --source items.csv --key id >/dev/null
  local start end pids=()
  start=$(date +%s.%N)
  for m in $(seq 1 "$members"); do
    RUNCTL_HOST="host$m" "$RUNCTL" -q resume latest -j 8 --stream -- "$@" > "member-$m.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  local done_items
  done_items=$("$RUNCTL" show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"]["completed"])')
  [ "$done_items" = "$ITEMS" ] || { echo "$name: $done_items of $ITEMS done" >&2; exit 1; }
  RATE[$name]=$(python3 -c "print('%.1f' % ($ITEMS / ($end - $start)))")
  echo "$name: members=$members items=$ITEMS rate=${RATE[$name]}/s" >&2
}
for members in 1 4 16; do
  pass "m$members" "$members" perl "$OUT/sleep-worker.pl"
done
pass py16 16 "$PYTHON" "$OUT/sleep-worker.py"
ratio() { python3 -c "print('%.2f' % ($2 / $1))"; }
cat > "$OUT/members.md" <<MD
### Many members on one run (PostgreSQL)

Stream workers that sleep 50 ms per item and do nothing else (I/O-bound; a Perl loop),
members at \`-j 8\` each on one machine (2 cores), one run of $ITEMS items for each size, on a
private PostgreSQL 15 with fsync on; items/s over the wall time from starting the members to
the last one's end (\`bench/members.sh\`). The ceiling is 160 items/s per member.

| members | worker | items/s | against one member | target |
|---|---|---|---|---|
| 1 | perl | ${RATE[m1]} | 1.00 | |
| 4 | perl | ${RATE[m4]} | $(ratio "${RATE[m1]}" "${RATE[m4]}") | >= 3.5 |
| 16 | perl | ${RATE[m16]} | $(ratio "${RATE[m1]}" "${RATE[m16]}") | >= 12 |
| 16 | python3 | ${RATE[py16]} | $(ratio "${RATE[m1]}" "${RATE[py16]}") | |
MD
cat "$OUT/members.md"
