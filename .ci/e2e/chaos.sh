#!/usr/bin/env bash
# End to end: many members on one run through kills, dropped connections and a PostgreSQL
# restart (docs/cluster.md, docs/guarantees.md "Many processes, one run").
#
# Four supervised `runctl resume` processes with distinct host ids (RUNCTL_HOST) work one
# 20,000-item run with a stream worker on a private PostgreSQL server (.ci/pg-server.sh). While
# they work: 40 SIGKILLs of a member's whole process tree (runctl's process group and its
# workers' groups), each member started again at once as a requeued job would be; 3 times
# every connection of the database terminated (pg_terminate_backend); one restart of the
# server (`pg_ctl stop -m fast`, then start). Then the run is complete and its export equals,
# item for item, an uninterrupted run of the same items on SQLite: 0 lost, 0 duplicated, one
# result per item, exact counters. A member may exit 0 (done), 3 (it lost its lease: stopped or
# cut off past it) or be killed by the script; any other exit fails the check.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
source "$REPO/.ci/pg-server.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
RUNCTL="$TARGET/debug/runctl"
N=20000
KILLS=40

W="$(mktemp -d)"
chmod 755 "$W" # the server runs as `postgres`
cleanup() {
  touch "$W/stop"
  pkill -9 -f "$W/worker.py" 2>/dev/null || true
  pg_stop
  rm -rf "$W"
}
trap cleanup EXIT
pg_start "$W/pg"
export RUNCTL_DATABASE_URL
RUNCTL_DATABASE_URL="$(pg_new_db chaos)"

# The items, and a stream worker that answers each after 30 ms with text derived from it.
python3 - "$W/items.csv" "$N" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,text\n")
    for i in range(int(sys.argv[2])):
        f.write(f"k{i:05},text {i}\n")
EOF
cat >"$W/worker.py" <<'EOF'
import json, os, sys, time
pause = float(os.environ.get("PAUSE", "0.03"))
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(pause)
    out = {"text": item["data"]["text"].upper(), "n": int(item["key"][1:]) * 7}
    print(json.dumps({"key": item["key"], "ok": out}), flush=True)
EOF

mkdir -p "$W/proj" "$W/ref"
cd "$W/proj"
"$RUNCTL" init >/dev/null
"$RUNCTL" new --model chaos --source "$W/items.csv" --key id >/dev/null 2>&1
RUN="$("$RUNCTL" show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')"
echo "run $RUN: $N items, 4 members"

# A member slot: `runctl resume` again each time it ends, until the run is complete. Each
# start gets a host id of its own; its exit code goes to $W/exits.
slot() {
  local slot="$1" start=0 rc
  while [ ! -e "$W/stop" ]; do
    start=$((start + 1))
    RUNCTL_HOST="node$slot-$start" PAUSE=0.03 setsid "$RUNCTL" resume "$RUN" -j 4 --lease 5s \
      --stream -- python3 "$W/worker.py" >>"$W/slot$slot.out" 2>"$W/err.$slot.$start" &
    echo $! >"$W/slot$slot.pid"
    rc=0
    wait $! || rc=$?
    # Exit 1 only as the server refused a new connection while it restarted.
    if [ "$rc" = 1 ] && grep -q '^error: cannot connect to' "$W/err.$slot.$start"; then rc=refused; fi
    echo "slot$slot start$start exit $rc" >>"$W/exits"
    if [ "$rc" = 0 ] && [ "$(status)" = completed ]; then
      break
    fi
    sleep 0.2
  done
  rm -f "$W/slot$slot.pid"
}
status() {
  "$RUNCTL" show "$RUN" --json 2>/dev/null \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo unknown
}
done_count() {
  pg_psql chaos "SELECT count(*) FROM results" 2>/dev/null || echo 0
}
# A node dying: runctl's process group and each of its workers' groups, at once.
kill_tree() {
  local pid="$1" child
  for child in $(pgrep -P "$pid" || true); do kill -9 -- "-$child" 2>/dev/null || true; done
  kill -9 -- "-$pid" 2>/dev/null || true
}

# (The shells' "Killed" notices go to a log.)
for s in 1 2 3 4; do slot "$s" 2>>"$W/shells.log" & done

# The chaos: 44 events about every 0.6 s while the run goes on; terminations at events 10, 20
# and 30, the server's restart at 25, kills otherwise (a random live member).
kills=0 terms=0 restarts=0 event=0
while [ "$event" -lt $((KILLS + 4)) ]; do
  sleep "0.$((RANDOM % 5 + 4))"
  if [ "$(done_count)" -ge "$N" ]; then
    echo "error: the run finished after $event of $((KILLS + 4)) events: make the worker slower" >&2
    exit 1
  fi
  event=$((event + 1))
  case "$event" in
    10 | 20 | 30)
      pg_psql postgres "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
        WHERE datname = 'chaos' AND pid <> pg_backend_pid()" >/dev/null
      terms=$((terms + 1)) ;;
    25)
      pg_restart
      restarts=$((restarts + 1)) ;;
    *)
      pids=()
      for f in "$W"/slot*.pid; do [ -e "$f" ] && pids+=("$(cat "$f")"); done
      if [ "${#pids[@]}" -eq 0 ]; then continue; fi
      kill_tree "${pids[$((RANDOM % ${#pids[@]}))]}"
      kills=$((kills + 1)) ;;
  esac
done
echo "chaos done: $kills kills, $terms terminations, $restarts restart; $(done_count) of $N recorded"
[ "$kills" -eq "$KILLS" ] || { echo "error: only $kills kills" >&2; exit 1; }
wait
echo "exits: $(sort "$W/exits" | awk '{print $4}' | sort | uniq -c | tr '\n' ' ')"
bad="$(awk '$4 != 0 && $4 != 3 && $4 != 137 && $4 != "refused" {print $1 "." $2}' "$W/exits")"
if [ -n "$bad" ]; then
  echo "error: a member ended otherwise than done (0), lost lease (3) or killed (137):" >&2
  for b in $bad; do
    s="${b%%.*}"; n="${b#*.start}"
    echo "$b: $(cat "$W/err.${s#slot}.$n")" >&2
  done
  exit 1
fi
[ "$(status)" = completed ] || { echo "error: the run is $(status)" >&2; exit 1; }

# The same items, uninterrupted, on SQLite.
cd "$W/ref"
env -u RUNCTL_DATABASE_URL "$RUNCTL" init >/dev/null 2>&1
env -u RUNCTL_DATABASE_URL "$RUNCTL" new --model chaos --source "$W/items.csv" --key id >/dev/null 2>&1
env -u RUNCTL_DATABASE_URL PAUSE=0 "$RUNCTL" resume latest -j 4 --stream -- python3 "$W/worker.py" >/dev/null 2>&1
env -u RUNCTL_DATABASE_URL "$RUNCTL" export latest >"$W/ref.jsonl"
cd "$W/proj"
"$RUNCTL" export "$RUN" >"$W/chaos.jsonl"

python3 - "$W/ref.jsonl" "$W/chaos.jsonl" "$N" <<'EOF'
import json, sys
def rows(path):
    out = {}
    for line in open(path):
        r = json.loads(line)
        key = r["item_key"]
        assert key not in out, f"{path}: {key} twice"
        out[key] = (r["result_status"], json.dumps(r.get("result_output"), sort_keys=True))
    return out
ref, got, n = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3])
assert len(ref) == n, f"reference has {len(ref)} items"
lost = sorted(set(ref) - set(got))
extra = sorted(set(got) - set(ref))
differ = sorted(k for k in ref if k in got and ref[k] != got[k])
assert not lost and not extra and not differ, f"lost {lost[:5]}, extra {extra[:5]}, differ {differ[:5]}"
assert all(s == "ok" for s, _ in got.values())
print(f"export equals the uninterrupted run's: {len(got)} items, 0 lost, 0 duplicated")
EOF
results="$(pg_psql chaos "SELECT count(*) FROM results")"
dupes="$(pg_psql chaos "SELECT count(*) FROM (SELECT key FROM results GROUP BY run_id, key HAVING count(*) > 1) d")"
counted="$("$RUNCTL" show "$RUN" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"]["completed"])')"
[ "$results" = "$N" ] && [ "$dupes" = 0 ] && [ "$counted" = "$N" ] || {
  echo "error: $results results, $dupes keys with more than one, counter $counted (of $N)" >&2
  exit 1
}
members="$(pg_psql chaos "SELECT count(*) FROM members")"
echo "ok: $N results, one per item, counters exact; $members members joined over the run"
