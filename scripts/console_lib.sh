# shellcheck shell=bash
# Shell functions shared by scripts/console.sh and the console's browser test: start ota_console
# against a lab (scripts/lab.sh), register devices with the broker and the console, start
# `ota_mqtt --serve` devices, call the API with curl, and stop everything again.
#
# Why a sourced file: both need the same careful start (bounded waits, the token kept out of
# process lists and logs) and the same cleanup. Source it after `. "$LAB/lab.env"`; set before:
#   CC_BIN   directory holding ota_console and ota_mqtt
#   CC_WORK  a private directory for logs, the curl header file and device state
#   CC_HTTP_PORT (optional) the console's HTTPS port; default 0 = a random free one
# After cc_start_console: CC_URL (https://127.0.0.1:PORT), CC_PORT, CC_TOKEN_FILE, CC_CONSOLE_PID.
# Secrets: the token is read by curl from a mode-600 header file, the devices read their secrets
# from mode-600 files (ota_mqtt --device-secret-file); neither is ever put on a command line.

CC_CONSOLE_PID=""
CC_DEVICE_PIDS=()
CC_LAB_SCRIPT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab.sh"

# cc_die MESSAGE: prints to stderr and exits 1 (the caller's EXIT trap cleans up).
cc_die() { echo "${CC_NAME:-console}: $*" >&2; exit 1; }

# cc_start_console DATA_DIR [ota_console options...]: starts the console on a random port with
# the lab's CA-signed server certificate and cloud user; waits (<= 60 s) for its ready file.
cc_start_console() {
  local data=$1
  shift
  local ready="$CC_WORK/console.ready"
  rm -f "$ready"
  mkdir -p "$data"
  OTA_CONSOLE_BROKER_PASSWORD=$CLOUD_PASSWORD "$CC_BIN/ota_console" --data "$data" \
    --broker-host 127.0.0.1 --broker-port "$MQTT_TLS_PORT" --broker-ca "$CA_FILE" \
    --broker-user "$CLOUD_USER" --http-bind 127.0.0.1 --http-port "${CC_HTTP_PORT:-0}" \
    --tls-cert "$LAB_DIR/pki/server.pem" --tls-key "$LAB_DIR/pki/server.key" \
    --ready-file "$ready" "$@" >"$CC_WORK/console.log" 2>&1 &
  CC_CONSOLE_PID=$!
  local i
  for ((i = 0; i < 600; i++)); do
    [ -s "$ready" ] && break
    kill -0 "$CC_CONSOLE_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$ready" ]; then
    grep -v "API token" "$CC_WORK/console.log" | tail -n 20 >&2 || true
    cc_die "ota_console did not become ready (log: $CC_WORK/console.log)"
  fi
  CC_PORT=$(sed -n 's/.*"port"[[:space:]]*:[[:space:]]*\([0-9]*\).*/\1/p' "$ready")
  CC_TOKEN_FILE=$(sed -n 's/.*"token_file"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$ready")
  [ -n "$CC_PORT" ] || cc_die "no port in $ready"
  [ -n "$CC_TOKEN_FILE" ] || CC_TOKEN_FILE="$data/api-token"
  [ -s "$CC_TOKEN_FILE" ] || cc_die "no token file $CC_TOKEN_FILE"
  CC_URL="https://127.0.0.1:$CC_PORT"
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(tr -d '\r\n' <"$CC_TOKEN_FILE")" >"$CC_WORK/auth.header")
}

# cc_api METHOD PATH [curl options...]: one API call; prints the body; fails on HTTP >= 400
# (printing the body, i.e. the {"code","message"} error, to stderr). Bounded: 30 s.
cc_api() {
  local method=$1 path=$2 out status
  shift 2
  out=$(curl -sS --max-time 30 --cacert "$CA_FILE" -H @"$CC_WORK/auth.header" -X "$method" \
    -w '\n%{http_code}' "$@" "$CC_URL/api/v1$path") || return 1
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  if [ "$status" -ge 400 ]; then
    echo "$method $path -> HTTP $status $out" >&2
    return 1
  fi
  printf '%s\n' "$out"
}

# cc_add_device PK DN: lets the device log in to the lab broker (its secret: CC_WORK/DN.secret).
cc_add_device() {
  local pk=$1 dn=$2 ds
  ds=$(openssl rand -hex 16)
  (umask 077 && printf '%s' "$ds" >"$CC_WORK/$dn.secret")
  "$CC_LAB_SCRIPT" add-device "$LAB_DIR" "$pk" "$dn" "$ds"
}

# cc_register PK DN...: registers the devices with the console (POST /devices).
cc_register() {
  local pk=$1 body="" dn
  shift
  for dn in "$@"; do
    body="$body${body:+,}{\"product_key\":\"$pk\",\"device_name\":\"$dn\"}"
  done
  cc_api POST /devices -H 'Content-Type: application/json' --data "{\"devices\":[$body]}" >/dev/null
}

# cc_start_device PK DN VERSION: starts `ota_mqtt --serve` as the device (log: CC_WORK/DN.log)
# and waits (<= 30 s) until it waits for jobs. Images go to CC_WORK/DN.bin.
cc_start_device() {
  local pk=$1 dn=$2 version=$3 pid i
  "$CC_BIN/ota_mqtt" --serve --product-key "$pk" --device-name "$dn" \
    --device-secret-file "$CC_WORK/$dn.secret" --version "$version" --host 127.0.0.1 \
    --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" --http-ca-file "$CA_FILE" \
    --output "$CC_WORK/$dn.bin" >"$CC_WORK/$dn.log" 2>&1 &
  pid=$!
  CC_DEVICE_PIDS+=("$pid")
  for ((i = 0; i < 300; i++)); do
    grep -q "waiting for an upgrade job" "$CC_WORK/$dn.log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$CC_WORK/$dn.log" >&2 || true
  cc_die "device $dn did not start (log: $CC_WORK/$dn.log)"
}

# cc_check_no_secret_on_argv DN...: fails when a device's secret (CC_WORK/DN.secret) shows in any
# process's command line (readable by every local user). grep takes the secret from its file, so
# it is not on grep's own command line either.
cc_check_no_secret_on_argv() {
  local dn hits
  for dn in "$@"; do
    hits=$(grep -laF -f "$CC_WORK/$dn.secret" /proc/[0-9]*/cmdline 2>/dev/null || true)
    [ -z "$hits" ] || cc_die "the secret of device $dn is visible on a command line ($hits)"
  done
}

# cc_wait_pid PID SECONDS: waits for a process to end; SIGKILL after SECONDS.
cc_wait_pid() {
  local pid=$1 i
  for ((i = 0; i < $2 * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# cc_stop_all: stops the devices and the console started here (SIGTERM, then SIGKILL after 10 s).
cc_stop_all() {
  local pid
  for pid in "${CC_DEVICE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [ -n "$CC_CONSOLE_PID" ] && kill -TERM "$CC_CONSOLE_PID" 2>/dev/null || true
  for pid in "${CC_DEVICE_PIDS[@]}"; do cc_wait_pid "$pid" 10; done
  [ -n "$CC_CONSOLE_PID" ] && cc_wait_pid "$CC_CONSOLE_PID" 10
  CC_DEVICE_PIDS=()
  CC_CONSOLE_PID=""
  rm -f "$CC_WORK/auth.header"
}
