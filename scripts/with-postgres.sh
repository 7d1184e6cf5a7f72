#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL 15:
#   scripts/with-postgres.sh swift test --filter ClusterTests
# Starts a private server (data directory in a fresh temporary folder, loopback only, a free port, trust auth),
# exports SWIFTLET_TEST_PG=postgres://swiftlet@127.0.0.1:<port>/swiftlet, runs the command, and stops the server
# and deletes its folder when the command ends, whatever its outcome (the command's exit status is kept).
# initdb refuses to run as root, so as root the server runs as `nobody` (via runuser).
# Needs /usr/lib/postgresql/15/bin (Debian: apt-get install postgresql-15; scripts/setup.sh does it with
# SWIFTLET_WITH_POSTGRES=1). Set PG_BIN to use other binaries.
set -euo pipefail
if [ $# -eq 0 ]; then echo "usage: $0 <command> [args...]" >&2; exit 2; fi
bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bin/initdb" ]; then
  echo "with-postgres: $bin/initdb not found; install postgresql-15 (SWIFTLET_WITH_POSTGRES=1 scripts/setup.sh)" >&2
  exit 1
fi

as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u nobody --); fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/swiftlet-pg.XXXXXX")
chmod 755 "$dir"
if [ ${#as_pg[@]} -gt 0 ]; then chown nobody "$dir"; fi
data="$dir/data"
log="$dir/postgres.log"

stop() {
  local status=$?
  "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ] && [ -f "$log" ] && [ -n "${WITH_POSTGRES_SHOW_LOG:-}" ]; then tail -50 "$log" >&2; fi
  if [ -n "${WITH_POSTGRES_KEEP_LOG:-}" ] && [ -f "$log" ]; then cp "$log" "$WITH_POSTGRES_KEEP_LOG" || true; fi
  rm -rf "$dir"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

"${as_pg[@]}" "$bin/initdb" -D "$data" -U swiftlet --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
  cat "$dir/initdb.log" >&2; exit 1; }
# A throwaway server: no durability needed, so no fsync; room for many test connections.
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
# WITH_POSTGRES_KEEP_LOG=<file>: keep the server's log (copied there at the end), with statements slower than 1 s,
# lock waits, checkpoints and connections logged, to see why the server was slow.
if [ -n "${WITH_POSTGRES_KEEP_LOG:-}" ]; then
  cat >>"$data/postgresql.conf" <<EOF
log_min_duration_statement = 1000
log_lock_waits = on
deadlock_timeout = 1s
log_checkpoints = on
log_autovacuum_min_duration = 1000
log_line_prefix = '%m [%p] %d '
EOF
fi

started=0
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  if "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $port" -w -t 30 start >/dev/null 2>&1; then
    started=1; break
  fi
done
if [ "$started" != 1 ]; then echo "with-postgres: PostgreSQL did not start:" >&2; tail -20 "$log" >&2; exit 1; fi
"$bin/createdb" -h 127.0.0.1 -p "$port" -U swiftlet swiftlet

export SWIFTLET_TEST_PG="postgres://swiftlet@127.0.0.1:$port/swiftlet"
echo "with-postgres: PostgreSQL 15 on 127.0.0.1:$port (data in $dir)" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
