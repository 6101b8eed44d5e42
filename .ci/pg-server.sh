# Sourced by .ci/e2e/*.sh and bench/lib.sh: a private PostgreSQL server for a script, started
# into a directory of its own on 127.0.0.1 at a free port (initdb and the server run as the
# `postgres` user when the script runs as root, since initdb refuses root), fsync on as a real
# server has it. Installs Debian's postgresql when no server binaries are there.
#
#   pg_start DIR        start one (sets PG_BIN, PG_DIR, PG_PORT); stop it with pg_stop
#   pg_new_db NAME      create database NAME and print its URL
#   pg_psql DB SQL      run SQL in DB, print the rows unaligned
#   pg_restart          stop (fast: connections dropped) and start again on the same port

pg_start() {
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  PG_DIR="$1"
  rm -rf "$PG_DIR" && mkdir -p "$PG_DIR"
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; PG_AS=(runuser -u postgres --); fi
  PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U runctl >/dev/null
  pg_ctl_start
}

pg_ctl_start() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=400" \
    start >/dev/null
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
}

pg_restart() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
  pg_ctl_start
}

pg_psql() {
  "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U runctl -d "$1" -c "$2"
}

pg_new_db() {
  pg_psql postgres "CREATE DATABASE $1" >/dev/null
  echo "postgres://runctl@127.0.0.1:$PG_PORT/$1"
}
