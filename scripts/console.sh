#!/usr/bin/env bash
# The local OTA console in one command: installs what is missing, builds ota_console and ota_mqtt
# (Release, as scripts/demo.sh does), starts a throwaway lab broker (scripts/lab.sh: private CA,
# mosquitto with TLS, passwords and ACL), the console, and three `ota_mqtt --serve` devices at
# version 1.0.0 registered with both; prints the page's URL and the API token and stays until
# Ctrl-C. Everything started here is stopped on exit, also on failure.
#
#   --data DIR      keep the console's data (store, files, token) in DIR (default: a temp dir)
#   --db URL        use PostgreSQL (postgresql://...) instead of SQLite in the data dir
#   --port N        the console's HTTPS port (default 8443; 0 = a random free port)
#   --build-dir DIR take ota_console and ota_mqtt from DIR/bin instead of building them
#   --smoke         run one verify rollout (of a new version 1.1.<now>) end to end with curl, exit
#                   (0 = the three devices installed it and the firmware is marked verified)
#
# Usage: scripts/console.sh [--data DIR] [--db URL] [--port N] [--build-dir DIR] [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

data=""
db=""
port=8443
build=""
smoke=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=${2:?--data needs a directory}; shift ;;
    --db) db=${2:?--db needs a postgresql:// URL}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift ;;
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "console.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$port" in ''|*[!0-9]*) echo "console.sh: --port needs a number from 0 to 65535" >&2; exit 2 ;; esac
[ "$port" -le 65535 ] || { echo "console.sh: --port needs a number from 0 to 65535" >&2; exit 2; }
[ "$smoke" -eq 1 ] && port=0

step() { printf '\n== %s\n' "$*"; }

step "Installing missing packages"
./scripts/deps.sh jq

if [ -n "$build" ]; then
  for b in ota_console ota_mqtt; do
    [ -x "$build/bin/$b" ] || { echo "console.sh: no $build/bin/$b (build it first)" >&2; exit 2; }
  done
else
  step "Building ota_console and ota_mqtt (Release)"
  build="build-release"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target ota_console ota_mqtt
fi
build=$(cd "$build" && pwd)

work=$(mktemp -d /tmp/ota-console.XXXXXX)
lab="$work/lab"
mkdir -p "$lab"
kept=""
if [ -z "$data" ]; then data="$work/data"; else kept=1; fi
mkdir -p "$data"
data=$(cd "$data" && pwd)
CC_NAME=console.sh
CC_BIN="$build/bin"
CC_WORK="$work"
CC_HTTP_PORT=$port
# shellcheck source=scripts/console_lib.sh
. "$root/scripts/console_lib.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cc_stop_all
  "$root/scripts/lab.sh" stop "$lab" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'echo; echo "console.sh: stopping"; exit 0' INT TERM

step "Starting the lab broker (mosquitto with TLS, private CA) on a random loopback port"
"$root/scripts/lab.sh" start "$lab" >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
echo "broker mqtts://127.0.0.1:$MQTT_TLS_PORT (CA $CA_FILE)"

# The URL may hold a password: name the store only.
step "Starting ota_console (data in $data${db:+, store PostgreSQL})"
db_args=()
[ -n "$db" ] && db_args=(--db "$db")
cc_start_console "$data" "${db_args[@]}"

pk=a1ConsoleDemo
devices=(console-dev-1 console-dev-2 console-dev-3)
step "Starting three devices (ota_mqtt --serve, version 1.0.0) and registering them"
for dn in "${devices[@]}"; do cc_add_device "$pk" "$dn"; done
cc_register "$pk" "${devices[@]}"
for dn in "${devices[@]}"; do
  cc_start_device "$pk" "$dn" 1.0.0
  echo "device $pk/$dn (log $work/$dn.log)"
done
cc_check_no_secret_on_argv "${devices[@]}"

# Waits (<= $2 s) until the jq filter $3 on GET $1 prints "true".
wait_for() {
  local path=$1 secs=$2 filter=$3 i
  for ((i = 0; i < secs * 4; i++)); do
    [ "$(cc_api GET "$path" | jq -r "$filter" 2>/dev/null)" = "true" ] && return 0
    sleep 0.25
  done
  return 1
}

wait_for "/devices?product_key=$pk&version=1.0.0" 20 '.items | length == 3' ||
  cc_die "the console did not see the three devices report 1.0.0 (log: $work/console.log)"

if [ "$smoke" -eq 1 ]; then
  # A version of its own per run: a kept --data directory already holds earlier ones.
  v="1.1.$(date +%s)"
  step "Smoke test: upload $v, verify rollout on the three devices"
  head -c 262144 /dev/urandom >"$work/firmware.bin"
  fw=$(cc_api POST "/firmware?product_key=$pk&version=$v" \
    -H 'Content-Type: application/octet-stream' --data-binary @"$work/firmware.bin")
  fw_id=$(jq -r .id <<<"$fw")
  [ "$(jq -r .sha256 <<<"$fw")" = "$(sha256sum "$work/firmware.bin" | cut -d' ' -f1)" ] ||
    cc_die "the console's sha256 of the upload is wrong: $fw"
  echo "firmware #$fw_id: $(jq -c '{size, sha256}' <<<"$fw")"
  names=$(printf '"%s",' "${devices[@]}")
  rollout=$(cc_api POST "/firmware/$fw_id/verify" -H 'Content-Type: application/json' \
    --data "{\"device_names\":[${names%,}]}")
  rid=$(jq -r .id <<<"$rollout")
  echo "verify rollout #$rid started"
  if ! wait_for "/rollouts/$rid" 45 '.rollout.state == "completed" and .counts.by_state.succeeded == 3'; then
    cc_api GET "/rollouts/$rid" | jq -c '{state: .rollout.state, counts: .counts.by_state, failure_reasons}' >&2 || true
    cc_die "the verify rollout did not complete with 3 successes within 45 s"
  fi
  cc_api GET "/rollouts/$rid" | jq -c '{state: .rollout.state, counts: .counts.by_state}'
  [ "$(cc_api GET "/firmware/$fw_id" | jq -r .verified)" = "true" ] || cc_die "firmware #$fw_id is not marked verified"
  wait_for "/versions?product_key=$pk" 10 ".versions[\"$v\"] == 3" || cc_die "the devices do not all report $v"
  for dn in "${devices[@]}"; do
    cmp -s "$work/$dn.bin" "$work/firmware.bin" || cc_die "$dn did not store the image"
  done
  echo "CONSOLE SMOKE OK"
  exit 0
fi

step "Ready"
cat <<EOF
page     $CC_URL/
token    $(cat "$CC_TOKEN_FILE")
devices  ${devices[*]} (product $pk, version 1.0.0)
api      curl --cacert $CA_FILE -H "Authorization: Bearer \$(cat $CC_TOKEN_FILE)" $CC_URL/api/v1/devices
logs     $work/*.log

The console's certificate is signed by this run's lab CA ($CA_FILE): the browser warns once;
accept it, or import that CA. Upload a firmware for product $pk on the page, verify it on the
devices, then roll it out. Ctrl-C stops everything${kept:+ (the data stays in $data)}.
EOF
while kill -0 "$CC_CONSOLE_PID" 2>/dev/null; do sleep 1; done
cc_die "ota_console stopped (log: $work/console.log)"
