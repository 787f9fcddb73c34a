#!/usr/bin/env bash
# A throwaway PostgreSQL server for the label-store tests: its own cluster in a temp dir, on a
# free port of 127.0.0.1, with a role and database "mualign" (random password). Nothing outside
# the temp dir is touched, so it never disturbs a PostgreSQL the machine already runs, and
# several checkouts can each start one at once.
#
#   source .ci/postgres.sh && postgres_start    # exports MUALIGN_TEST_POSTGRES_URL (and MUALIGN_PG_DIR)
#   .venv/bin/python -m pytest -q tests/test_db_labels.py tests/test_db_migrations.py
#   postgres_stop                               # stops the server, deletes the temp dir
#
# or without sourcing:  eval "$(bash .ci/postgres.sh start)"  ...  bash .ci/postgres.sh stop
#
# PostgreSQL refuses to run as root, so under root (CI) the cluster belongs to the "postgres"
# user that Debian's package creates, and every server command runs as that user. If no
# PostgreSQL is installed, Debian's "postgresql" package is installed first (apt-get).
# fsync is off: the data is thrown away at stop, and the tests run faster.

postgres_bindir() {
  # The directory holding pg_ctl: from PATH (through symlinks, so psql is found beside it),
  # else the newest /usr/lib/postgresql/<version>/bin.
  local found
  if found=$(command -v pg_ctl 2>/dev/null); then
    dirname "$(readlink -f "$found")"
    return 0
  fi
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found/pg_ctl" ] && echo "$found"
}

postgres_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
  [ "$(id -u)" -eq 0 ] || apt=(sudo "${apt[@]}")
  # try the cached package lists first; update them only if postgresql is not found there
  "${apt[@]}" install -y -q postgresql || { "${apt[@]}" update -q && "${apt[@]}" install -y -q postgresql; }
}

_postgres_as_owner() {
  # Run a server command as the cluster's owner: "postgres" under root, else ourselves.
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgres_start() {
  local bindir dir port password
  if [ -n "${MUALIGN_PG_DIR:-}" ] && [ -d "${MUALIGN_PG_DIR}" ]; then
    echo "postgres.sh: a server from this shell is already running in $MUALIGN_PG_DIR (postgres_stop first)" >&2
    return 1
  fi
  bindir=$(postgres_bindir) || bindir=""
  if [ -z "$bindir" ]; then
    echo "postgres.sh: no PostgreSQL found; installing Debian's postgresql package" >&2
    postgres_install >&2 || return 1
    bindir=$(postgres_bindir) || { echo "postgres.sh: pg_ctl still not found after installing" >&2; return 1; }
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "postgres.sh: running as root but there is no 'postgres' user to own the cluster" >&2
    return 1
  fi

  dir=$(mktemp -d "${TMPDIR:-/tmp}/mualign-pg.XXXXXX") || return 1
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || return 1
  password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

  # Local (socket) connections trust the OS user, TCP ones need the password.
  if ! _postgres_as_owner "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1; then
    echo "postgres.sh: initdb failed:" >&2; cat "$dir/initdb.log" >&2; rm -rf "$dir"; return 1
  fi
  if ! _postgres_as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    echo "postgres.sh: the server did not start:" >&2; tail -n 30 "$dir/server.log" >&2; rm -rf "$dir"; return 1
  fi
  export MUALIGN_PG_DIR="$dir"
  if ! _postgres_as_owner "$bindir/psql" -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
      -c "CREATE ROLE mualign LOGIN PASSWORD '$password'" -c "CREATE DATABASE mualign OWNER mualign"; then
    echo "postgres.sh: could not create the mualign role and database" >&2; postgres_stop; return 1
  fi
  export MUALIGN_TEST_POSTGRES_URL="postgresql+psycopg://mualign:$password@127.0.0.1:$port/mualign"
  echo "postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, data in $dir" >&2
}

postgres_stop() {
  # Stop the server started by postgres_start (MUALIGN_PG_DIR) and delete its temp dir.
  local dir="${MUALIGN_PG_DIR:-}" bindir
  [ -n "$dir" ] || return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    bindir=$(postgres_bindir)
    _postgres_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null \
      || echo "postgres.sh: pg_ctl stop failed for $dir/data" >&2
  fi
  case "$dir" in */mualign-pg.*) rm -rf "$dir" ;; esac  # only ever a dir postgres_start made
  unset MUALIGN_PG_DIR MUALIGN_TEST_POSTGRES_URL
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then  # executed, not sourced
  set -euo pipefail
  case "${1:-}" in
    start)
      postgres_start
      printf 'export MUALIGN_PG_DIR=%q MUALIGN_TEST_POSTGRES_URL=%q\n' "$MUALIGN_PG_DIR" "$MUALIGN_TEST_POSTGRES_URL"
      ;;
    stop)
      MUALIGN_PG_DIR="${2:-${MUALIGN_PG_DIR:-}}"
      [ -n "$MUALIGN_PG_DIR" ] || { echo "usage: bash .ci/postgres.sh stop [DIR] (or set MUALIGN_PG_DIR)" >&2; exit 2; }
      postgres_stop
      ;;
    *)
      echo "usage: eval \"\$(bash .ci/postgres.sh start)\"  |  bash .ci/postgres.sh stop [DIR]" >&2
      exit 2
      ;;
  esac
fi
