#!/usr/bin/env bash
# Start (or reuse) a throw-away PostgreSQL server on loopback for the test suite and print its URL.
# Prints nothing (exit 0) when no PostgreSQL server binaries are installed: the PostgreSQL tests then skip.
set -euo pipefail
PORT="${ZHIXING_PG_PORT:-54329}"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$BIN" ] && [ -x "$BIN/initdb" ] || exit 0
DIR="${TMPDIR:-/tmp}/zhixing-pgtest-$PORT"
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then echo "$URL"; exit 0; fi
if [ ! -f "$DIR/PG_VERSION" ]; then
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
  as_owner "$BIN/initdb" -D "$DIR" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
fi
as_owner "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w -s start \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
echo "$URL"
