#!/usr/bin/env bash
# End to end, on a real Slurm: examples/slurm/work.sbatch, the array script of docs/cluster.md,
# as an array of 4 tasks on a single-node Slurm that this script starts (Debian's slurm-wlm and
# munge: slurmctld and slurmd on localhost, proctrack/linuxproc, no cgroups; the recipe in
# ../shared/recipes/slurm-single-node.md), works one 4,000-item run on a private PostgreSQL
# (.ci/pg-server.sh) to completion: each task joins as a member, every item gets one result.
# One task is requeued mid-run (`scontrol requeue`: SIGTERM, then it starts again) and joins
# the run again. Installs slurm-wlm and munge when they are missing; needs root (Slurm's
# daemons run as root here, as SlurmUser=root).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
source "$REPO/.ci/pg-server.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
if [ "$(id -u)" != 0 ]; then
  echo "error: .ci/e2e/slurm.sh starts Slurm's daemons and needs root" >&2
  exit 1
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
N=4000

W="$(mktemp -d)"
chmod 755 "$W" # the database server runs as `postgres`
MUNGED_PID=""
cleanup() {
  cd /
  if [ -n "${JOB:-}" ]; then scancel "$JOB" 2>/dev/null || true; fi
  for pidfile in "$W/slurmd.pid" "$W/slurmctld.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  if [ -n "$MUNGED_PID" ]; then kill "$MUNGED_PID" 2>/dev/null || true; fi
  pg_stop
  if [ "${KEEP:-}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT

# Munge (Slurm's authentication): the one running, else one of our own.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || mungekey -c
  mkdir -p /run/munge
  chown munge:munge /run/munge /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do [ -f /run/munge/munged.pid ] && break; sleep 0.1; done
  MUNGED_PID="$(cat /run/munge/munged.pid)"
  munge -n | unmunge >/dev/null
fi

# A one-node cluster on free ports.
H="$(hostname -s)"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
mkdir -p "$W/state" "$W/spool" "$W/log"
cat >"$W/slurm.conf" <<CONF
ClusterName=runctl-ci
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$H CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF="$W/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
  sinfo -h -o '%t' 2>/dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o '%t' | grep -q idle || {
  echo "error: the Slurm node did not come up idle:" >&2
  sinfo >&2 || true
  tail -20 "$W/log/slurmctld.log" "$W/log/slurmd.log" >&2
  exit 1
}
echo "slurm: node $H idle ($(sinfo -h -o '%c') CPUs)"

# The database, the project and its run.
pg_start "$W/pg"
export RUNCTL_DATABASE_URL
RUNCTL_DATABASE_URL="$(pg_new_db slurm)"
export PATH="$TARGET/debug:$PATH"
mkdir -p "$W/proj/examples/slurm"
cp "$REPO/examples/slurm/work.sbatch" "$W/proj/examples/slurm/"
cd "$W/proj"
python3 - "$N" <<'EOF'
import sys
with open("letters.csv", "w") as f:
    f.write("id,text\n")
    for i in range(int(sys.argv[1])):
        f.write(f"l{i:05},letter {i}\n")
EOF
cat >summarize.py <<'EOF'
import json, sys, time
for line in sys.stdin:
    item = json.loads(line)
    time.sleep(0.02)
    print(json.dumps({"key": item["key"], "ok": {"summary": item["data"]["text"][::-1]}}), flush=True)
EOF
runctl init >/dev/null 2>&1
runctl new --model qwen2-7b --dataset letters --source letters.csv --key id >/dev/null 2>&1
RUN="$(runctl show latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')"
echo "run $RUN: $N items"

# The array, as a user submits it.
JOB="$(RUN="$RUN" sbatch --parsable examples/slurm/work.sbatch)"
echo "submitted job $JOB (array 0-3)"
recorded() { pg_psql slurm "SELECT count(*) FROM results"; }
running() { squeue -h -j "$JOB" -t RUNNING -o '%i' 2>/dev/null | wc -l; }
for _ in $(seq 300); do
  [ "$(running)" -ge 4 ] && break
  sleep 0.1
done
echo "tasks running at once: $(running)"
[ "$(running)" -ge 4 ] || { echo "error: fewer than 4 tasks ran at once" >&2; squeue >&2; exit 1; }

# A task requeued mid-run (as preemption would): it stops, frees its items, starts again.
for _ in $(seq 300); do [ "$(recorded)" -ge $((N / 4)) ] && break; sleep 0.1; done
scontrol requeue "${JOB}_1"
for _ in $(seq 100); do
  squeue -h -j "${JOB}_1" -o '%r' 2>/dev/null | grep -q BeginTime && break
  sleep 0.1
done
# Not at once: slurmd refuses, for a moment, to launch a job it has just killed.
sleep 3
scontrol update jobid="${JOB}_1" StartTime=now
echo "requeued task 1 at $(recorded) of $N recorded"

# The array ends when the run does.
for _ in $(seq 1200); do
  [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
  sleep 0.25
done
if [ -n "$(squeue -h -j "$JOB" 2>/dev/null)" ]; then
  echo "error: the array did not end within 5 minutes:" >&2
  squeue >&2
  exit 1
fi
for f in slurm-"$JOB"_*.out; do
  if grep -q '^error:' "$f"; then echo "error: $f:" >&2; cat "$f" >&2; exit 1; fi
done

shown="$(runctl show "$RUN" --json)"
python3 - "$N" "$shown" <<'EOF'
import json, sys
n, shown = int(sys.argv[1]), json.loads(sys.argv[2])
assert shown["status"] == "completed", shown["status"]
assert shown["items"]["completed"] == n, shown["items"]
members = shown["members"]
tasks = {m["host"].rsplit("-task", 1)[1] for m in members}
assert tasks == {"0", "1", "2", "3"}, f"tasks that joined: {sorted(tasks)}"
assert len(members) >= 5, f"{len(members)} members: the requeued task did not join again"
assert all(not m["live"] for m in members), "a member still live"
done = sum(m["recorded"] for m in members)
assert done == n, f"members recorded {done} of {n}"
print(f"run completed: {n} of {n} ok, {len(members)} members (4 tasks, one requeued)")
for m in members:
    print(f"  {m['host']} pid {m['pid']}: {m['recorded']} recorded, {m['stop_reason']}")
EOF
results="$(pg_psql slurm "SELECT count(*) FROM results")"
keys="$(pg_psql slurm "SELECT count(DISTINCT key) FROM results")"
[ "$results" = "$N" ] && [ "$keys" = "$N" ] || {
  echo "error: $results results for $keys keys (of $N)" >&2
  exit 1
}
echo "ok: one result per item; the array ended with the run"
