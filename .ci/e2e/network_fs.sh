#!/usr/bin/env bash
# End to end: on a real network filesystem (sshfs, through an sshd on 127.0.0.1 that this
# script starts), write commands refuse a .runctl/state.db with exit 3 and change nothing; read
# commands still work; `store.allow_network_fs = true` lets them write; a .runctl/ on a local
# disk inside such a project is accepted. (This machine kind's kernel has no NFS client, so NFS
# itself cannot be mounted here; sshfs is a FUSE network filesystem, found through
# /proc/self/mountinfo, while NFS, SMB, Lustre, GPFS and the others are found by statfs's
# magic number, which the unit tests of src/store/network_fs.rs cover.)
# Installs openssh-server and sshfs when they are missing.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
source "$REPO/.ci/target-dir.sh"
TARGET="$(cargo_target_dir "$REPO")"
(cd "$REPO" && cargo build --quiet --bin runctl)
RUNCTL="$TARGET/debug/runctl"
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! command -v sshfs >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server sshfs >/dev/null
fi

WORK="$(mktemp -d)"
MNT="$WORK/mnt"
cleanup() {
  cd /
  $SUDO umount "$MNT/bound/.runctl" 2>/dev/null || true
  umount "$WORK/ov" 2>/dev/null || true
  umount "$WORK/ov/inner" 2>/dev/null || true
  umount "$WORK/ov" 2>/dev/null || true
  umount "$WORK/bad$(printf '\377')" 2>/dev/null || true
  fusermount3 -u "$MNT" 2>/dev/null || fusermount -u "$MNT" 2>/dev/null || umount "$MNT" 2>/dev/null || true
  if [ -f "$WORK/sshd.pid" ]; then kill "$(cat "$WORK/sshd.pid")" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/export" "$MNT" "$WORK/local"
ssh-keygen -q -t ed25519 -N "" -f "$WORK/hostkey"
ssh-keygen -q -t ed25519 -N "" -f "$WORK/userkey"
cp "$WORK/userkey.pub" "$WORK/authorized_keys"
chmod 600 "$WORK/authorized_keys"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$WORK/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/hostkey
AuthorizedKeysFile $WORK/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $WORK/sshd.pid
Subsystem sftp internal-sftp
EOF
$SUDO mkdir -p /run/sshd
/usr/sbin/sshd -f "$WORK/sshd_config" -E "$WORK/sshd.log"
for _ in $(seq 50); do [ -f "$WORK/sshd.pid" ] && break; sleep 0.1; done
sshfs -p "$PORT" \
  -o "IdentityFile=$WORK/userkey,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes" \
  "$(id -un)@127.0.0.1:$WORK/export" "$MNT" || {
  echo "could not mount sshfs over 127.0.0.1:$PORT; sshd said:"
  cat "$WORK/sshd.log"
  exit 1
}
grep -q " $MNT .* fuse.sshfs " /proc/self/mountinfo || {
  echo "$MNT is not an sshfs mount:"
  cat /proc/self/mountinfo
  exit 1
}

fail() { echo "FAIL: $*"; exit 1; }
# expect CODE CMD...: run CMD, which must exit with CODE; its stderr is kept in $WORK/err.
expect() {
  local want="$1"; shift
  set +e
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  set -e
  [ "$got" = "$want" ] || { cat "$WORK/err"; fail "$* exited $got, not $want"; }
}

# A fresh project on the network filesystem: init refuses and makes nothing.
P="$MNT/project"
mkdir "$P"
cd "$P"
expect 3 "$RUNCTL" init
grep -q "is on a network filesystem (fuse.sshfs)" "$WORK/err" || fail "init: $(cat "$WORK/err")"
grep -q "hint: .*allow_network_fs = true under \[store\]" "$WORK/err" || fail "no hint: $(cat "$WORK/err")"
[ -z "$(ls -A "$P")" ] || fail "init made $(ls -A "$P")"
expect 3 "$RUNCTL" new --model m --dataset d
[ -z "$(ls -A "$P")" ] || fail "new made $(ls -A "$P")"
expect 3 "$RUNCTL" init sub
[ ! -e "$P/sub" ] || fail "init --dir made the folder"

# Allowed by the project's settings: every command works.
printf '[store]\nallow_network_fs = true\n' >runctl.toml
expect 0 "$RUNCTL" init
expect 0 "$RUNCTL" new --model m --dataset d
expect 0 "$RUNCTL" -q new --model m --dataset d -- true
expect 0 "$RUNCTL" list --json
grep -q '"m-d-full-run2"' "$WORK/out" || fail "list: $(cat "$WORK/out")"

# The setting taken back: writes refused with the DB left byte for byte; reads still work.
printf '[store]\nallow_network_fs = false\n' >runctl.toml
sum() { { cat .runctl/state.db; cat .runctl/state.db-wal 2>/dev/null || true; } | sha256sum; }
before="$(sum)"
for cmd in "new --model m --dataset d" "tag m-d-full-run1 a=b" "note m-d-full-run1 hello" \
  "archive m-d-full-run2" "version new style" "migrate --yes" "rm m-d-full-run1 --yes"; do
  # shellcheck disable=SC2086
  expect 3 "$RUNCTL" $cmd
  grep -q "is on a network filesystem" "$WORK/err" || fail "$cmd: $(cat "$WORK/err")"
done
[ "$(sum)" = "$before" ] || fail "a refused write changed state.db or its -wal"
[ ! -e outputs/m-d-full-run3 ] || fail "a refused new made its folder"
[ -d outputs/m-d-full-run2 ] && [ -d outputs/m-d-full-run1 ] || fail "a refused archive or rm moved a folder"
expect 0 "$RUNCTL" list
expect 0 "$RUNCTL" show latest --json
expect 0 "$RUNCTL" migrate --dry-run
expect 0 "$RUNCTL" version sync --listing /dev/null --allow-empty --dry-run

# A pending migration is a write too, even for a read command: refused, the DB unchanged.
python3 - <<'PY'
import sqlite3
db = sqlite3.connect(".runctl/state.db")
db.executescript("DROP TABLE folder_numbers; DROP TABLE folder_scans; "
                 "DELETE FROM refinery_schema_history WHERE version = 10;")
db.close()
PY
before="$(sum)"
expect 3 "$RUNCTL" list
grep -q "is on a network filesystem" "$WORK/err" || fail "list migrated: $(cat "$WORK/err")"
[ "$(sum)" = "$before" ] || fail "a read command migrated the DB on sshfs"

# A mount point elsewhere that is not UTF-8 does not blind the check.
BAD="$WORK/bad$(printf '\377')"
mkdir "$BAD"
$SUDO mount -t tmpfs tmpfs "$BAD"
expect 3 "$RUNCTL" tag m-d-full-run1 x=y
$SUDO umount "$BAD"

# sshfs mounted over a folder whose own mounts it hides: the device, not the longest mount
# point, tells which mount a path is on.
mkdir -p "$WORK/ov" "$WORK/export/inner/proj2"
$SUDO mount -t tmpfs tmpfs "$WORK/ov"
mkdir "$WORK/ov/inner"
$SUDO mount -t tmpfs tmpfs "$WORK/ov/inner"
sshfs -p "$PORT" \
  -o "IdentityFile=$WORK/userkey,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes" \
  "$(id -un)@127.0.0.1:$WORK/export" "$WORK/ov"
cd "$WORK/ov/inner/proj2"
expect 3 "$RUNCTL" init
[ -z "$(ls -A .)" ] || fail "init under an overmount made $(ls -A .)"
cd /
umount "$WORK/ov"

# .runctl/ on a local disk inside the network project (a bind mount here; a symlink to a local
# folder is the same to runctl, but this sshfs cannot read symlinks): writes go ahead.
Q="$MNT/bound"
mkdir -p "$Q/.runctl"
$SUDO mount --bind "$WORK/local" "$Q/.runctl"
cd "$Q"
expect 0 "$RUNCTL" init
expect 0 "$RUNCTL" new --model m --dataset d
[ -f "$WORK/local/state.db" ] || fail "the DB is not in the local folder"
echo "network filesystem guard: refused on sshfs, allowed by store.allow_network_fs, a local .runctl/ accepted"
