#!/usr/bin/env bash
# scripts/pg.sh stop removes only what pg.sh start made: the cluster under /tmp and DIR/pg.env,
# DIR itself only when start created it and nothing else is in it; a PG_CLUSTER in pg.env that
# pg.sh did not make (the file is plain text anyone may edit) is left alone.
#
# Why a test: `stop` used to `rm -rf` the caller's DIR (a build directory, a home directory
# given by mistake). Usage: pg_sh_test.sh PATH/TO/pg.sh WORK_DIR
set -euo pipefail

pg=$1
work=$2
fail() { echo "pg_sh_test: FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
decoy=""
cleanup() {
  "$pg" stop "$work/given" >/dev/null 2>&1 || true
  "$pg" stop "$work/made" >/dev/null 2>&1 || true
  [ -z "$decoy" ] || rm -rf "$decoy"
}
trap cleanup EXIT

# 1. A directory of the caller's, with a file in it: both stay.
mkdir "$work/given"
echo keep >"$work/given/keep.txt"
"$pg" start "$work/given" >/dev/null
cluster=$(sed -n 's/^PG_CLUSTER=//p' "$work/given/pg.env")
port=$(sed -n 's/^PG_PORT=//p' "$work/given/pg.env")
[ -d "$cluster/data" ] || fail "no cluster in $cluster"
"$pg" stop "$work/given"
[ -f "$work/given/keep.txt" ] || fail "stop removed the caller's file"
[ ! -e "$work/given/pg.env" ] || fail "stop left pg.env"
[ ! -e "$cluster" ] || fail "stop left the cluster $cluster"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "the server still listens"; fi
# An empty directory of the caller's stays too.
rm "$work/given/keep.txt"
"$pg" start "$work/given" >/dev/null
"$pg" stop "$work/given"
[ -d "$work/given" ] || fail "stop removed the caller's (empty) directory"

# 2. A directory start created: removed by stop, unless something else was put in it since.
"$pg" start "$work/made" >/dev/null
"$pg" stop "$work/made"
[ ! -e "$work/made" ] || fail "stop left the directory start made"
"$pg" start "$work/made" >/dev/null
echo mine >"$work/made/other.txt"
"$pg" stop "$work/made"
[ -f "$work/made/other.txt" ] || fail "stop removed a file it did not make"

# 3. pg.env naming a directory pg.sh did not make (same name pattern, or a path leaving /tmp):
# not removed.
decoy=$(mktemp -d /tmp/ota-pg.XXXXXX)
echo keep >"$decoy/keep.txt"
mkdir -p "$work/edited"
for target in "$decoy" "$decoy/.." "$work/edited"; do
  echo "PG_CLUSTER=$target" >"$work/edited/pg.env"
  "$pg" stop "$work/edited" 2>/dev/null
  [ -f "$decoy/keep.txt" ] || fail "stop removed $target"
done
[ -d "$work/edited" ] || fail "stop removed the caller's directory"

rm -rf "$work"
echo "pg_sh_test: ok"
