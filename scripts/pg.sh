#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster on a random free 127.0.0.1 port, for the console's tests (the
# `pg` ctest fixture) and for trying ota_console --db by hand.
#
#   pg.sh start DIR   initdb + start a cluster, create database ota_console, write DIR/pg.env
#   pg.sh stop DIR    stop it at once (immediate shutdown: the data is thrown away), remove the
#                     cluster and DIR/pg.env, and DIR itself only when `start` created it and it
#                     is empty then (DIR is the caller's: nothing else in it is ever removed)
#
# DIR/pg.env (shell syntax): PG_URL=postgresql://ota@127.0.0.1:<port>/ota_console, PG_BIN, PG_PORT,
# PG_CLUSTER. Authentication is `trust` for the superuser "ota": the server listens on 127.0.0.1
# only (no other interface, a private Unix socket directory) and lives as long as a test run; never
# use this for data that matters. Durability is off too (fsync, synchronous_commit) for speed.
#
# Why the cluster is not inside DIR: PostgreSQL refuses to run as root, so under root the server
# runs as the `postgres` OS user, which must own the data directory and reach it (a build directory
# under /root is not traversable by others); and the Unix socket path must stay under ~100 bytes.
# So the cluster lives in its own directory under /tmp (owned by whoever runs the server), and
# DIR/pg.env names it. Both commands are idempotent: `start` on a running cluster keeps it, a stale
# one (killed machine, deleted /tmp) is cleaned up and started afresh; `stop` without a cluster
# does nothing. Every wait is bounded.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

[ $# -eq 2 ] || die "usage: pg.sh start|stop DIR"
cmd=$1
dir=$2

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
  die "PostgreSQL 15 not found in $PG_BIN (Debian: apt-get install postgresql-15)"

# The server must not run as root: run its commands as `postgres` then.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' OS user (Debian's postgresql package creates it)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# A port nobody listens on right now, below Linux's ephemeral range (see scripts/lab.sh).
free_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12768))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# Marks a directory as made by this script (start writes it; stop removes only marked ones).
MARK=.made-by-pg.sh

# True when $1 looks like a cluster directory of `start`: mktemp's name pattern, a plain
# directory (no symbolic link, no "..": pg.env is a file anyone may edit).
cluster_like() {
  [[ "$1" =~ ^/tmp/ota-pg\.[A-Za-z0-9]{6}$ ]] && [ -d "$1" ] && [ ! -L "$1" ]
}

# Stops the cluster named in DIR/pg.env (if any) and removes its directory if `start` made it.
# Never fails.
stop_cluster() {
  local cluster=""
  if [ -f "$dir/pg.env" ]; then
    cluster=$(sed -n 's/^PG_CLUSTER=//p' "$dir/pg.env")
  fi
  [ -n "$cluster" ] || { rm -f "$dir/pg.env"; return 0; }
  if cluster_like "$cluster" && [ -d "$cluster/data" ]; then
    as_server "$PG_BIN/pg_ctl" -D "$cluster/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  if cluster_like "$cluster" && [ -f "$cluster/$MARK" ]; then
    rm -rf "$cluster"
  else
    echo "pg.sh: not removing $cluster (not a cluster directory pg.sh made)" >&2
  fi
  rm -f "$dir/pg.env"
}

running() {
  [ -f "$dir/pg.env" ] || return 1
  local cluster port
  cluster=$(sed -n 's/^PG_CLUSTER=//p' "$dir/pg.env")
  port=$(sed -n 's/^PG_PORT=//p' "$dir/pg.env")
  [ -n "$cluster" ] && [ -n "$port" ] && [ -d "$cluster/data" ] || return 1
  as_server "$PG_BIN/pg_ctl" -D "$cluster/data" status >/dev/null 2>&1 || return 1
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 5
}

start() {
  if [ ! -e "$dir" ]; then
    mkdir -p "$dir"
    : >"$dir/$MARK"
  fi
  [ -d "$dir" ] || die "$dir is not a directory"
  if running; then
    echo "pg.sh: already running ($(sed -n 's/^PG_URL=//p' "$dir/pg.env"))"
    return 0
  fi
  stop_cluster  # a stale one

  local cluster port attempt started=0
  cluster=$(mktemp -d /tmp/ota-pg.XXXXXX)
  chmod 755 "$cluster"
  : >"$cluster/$MARK"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$cluster"
  as_server "$PG_BIN/initdb" -D "$cluster/data" -U ota --auth=trust --encoding=UTF8 --locale=C \
    --no-sync --no-instructions >"$cluster/initdb.log" 2>&1 ||
    { cat "$cluster/initdb.log" >&2; rm -rf "$cluster"; die "initdb failed"; }
  as_server mkdir -p "$cluster/sock"

  # A port can be taken between the probe and the server's bind: try a few.
  for attempt in 1 2 3; do
    port=$(free_port)
    if as_server "$PG_BIN/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $cluster/sock -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      started=1
      break
    fi
    echo "pg.sh: start on port $port failed (attempt $attempt)" >&2
  done
  if [ "$started" -ne 1 ]; then
    tail -n 20 "$cluster/server.log" >&2 2>/dev/null || true
    as_server "$PG_BIN/pg_ctl" -D "$cluster/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    rm -rf "$cluster"
    die "the server did not start (log above)"
  fi
  {
    echo "PG_URL=postgresql://ota@127.0.0.1:$port/ota_console"
    echo "PG_BIN=$PG_BIN"
    echo "PG_PORT=$port"
    echo "PG_CLUSTER=$cluster"
  } >"$dir/pg.env"
  if ! "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U ota ota_console; then
    stop_cluster
    die "createdb ota_console failed"
  fi
  echo "pg.sh: PostgreSQL on 127.0.0.1:$port (database ota_console), env in $dir/pg.env"
}

case "$cmd" in
  start) start ;;
  stop)
    stop_cluster
    if [ -f "$dir/$MARK" ]; then
      rm -f "$dir/$MARK"
      rmdir "$dir" 2>/dev/null || true  # only when nothing else is in it
    fi
    ;;
  *) die "unknown command '$cmd' (start|stop)" ;;
esac
