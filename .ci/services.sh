#!/usr/bin/env bash
# Throwaway Postgres and Redis on loopback ports, for the tests and for local work.
# Source this file, then call start_postgres DIR / start_redis; each exports the URL the tests
# read and appends its stop command to the STOPS array.
#   TRACE_INSPECTOR_PG_URL     postgresql://postgres@127.0.0.1:PORT/postgres (superuser, trust)
#   TRACE_INSPECTOR_REDIS_URL  redis://127.0.0.1:PORT/0

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Run a command as the postgres user when we are root (initdb and postgres refuse root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local dir="$1" port
  port="$(free_port)"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
  (cd "$dir" && as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 >"$dir/initdb.log" 2>&1) \
    || { cat "$dir/initdb.log"; return 1; }
  # Members of ti_password_users must log in with a password (tests of the password dialog);
  # everyone else is trusted on this throwaway loopback server.
  sed -i '1i host all +ti_password_users 127.0.0.1/32 scram-sha-256' "$dir/data/pg_hba.conf"
  # In the configuration file, not on pg_ctl's command line, so a restart (tests restart the
  # server mid-session) comes back on the same port.
  cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  (cd "$dir" && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null) \
    || { cat "$dir/server.log"; return 1; }
  export TRACE_INSPECTOR_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  export TRACE_INSPECTOR_PG_DATA="$dir/data"
  export TRACE_INSPECTOR_PG_BIN="$PG_BIN"
  STOPS+=("cd '$dir' && as_pg '$PG_BIN/pg_ctl' -D '$dir/data' -m immediate stop >/dev/null 2>&1")
  echo "postgres on 127.0.0.1:$port"
}

start_redis() {
  local port
  port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  export TRACE_INSPECTOR_REDIS_URL="redis://127.0.0.1:$port/0"
  STOPS+=("redis-cli -p $port shutdown nosave >/dev/null 2>&1")
  echo "redis on 127.0.0.1:$port"
}
