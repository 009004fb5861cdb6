#!/usr/bin/env bash
# Where ota_mqtt's memory goes during a TLS download, for the default and the --low-memory
# profile, as the Markdown tables of README "Memory":
#   - heap allocations by owner at the heap's peak: one whole job under heaptrack, each allocation
#     attributed by its call stack (scripts/memory_report.py);
#   - anonymous memory by mapping and the resident pages of each shared library: /proc/PID/smaps
#     of a second run, copied in the middle of a download throttled by the lab's /slow/ URL (so
#     the ring has been filled and every buffer is in use), then stopped with SIGTERM.
# Heap bytes are what was asked of malloc; anonymous memory is the pages touched (a 256 KiB
# libcurl buffer of which TLS only ever fills 16 KiB counts 256 KiB in the first and about
# 16 KiB in the second).
#
# Usage: scripts/memory.sh [--size MIB] [--update-readme]   (default 16)
# --update-readme replaces the text between <!-- memory-breakdown:begin --> and
# <!-- memory-breakdown:end --> in README.md with the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size_mib=16
update=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --update-readme) update=1 ;;
    *) echo "memory.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

name=memory.sh
./scripts/deps.sh heaptrack python3
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_setup memory-breakdown memory-device
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/image.bin"

# smaps_during_download OUT DEVICE_ARGS...: copies ota_mqtt's /proc/PID/smaps to OUT once 30 %
# of a /slow/ download (2 MiB/s) is stored, then stops both sides.
smaps_during_download() {
  local snap=$1 dpid cpid
  shift
  rm -f "$out/slow.bin" "$out/slow.bin.part" "$out/slow.bin.resume"
  "$build/bin/ota_mqtt" --product-key "$pk" --device-name "$dn" --device-secret "$ds" \
    --version 1.0.0 --host 127.0.0.1 --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" \
    --http-ca-file "$CA_FILE" --output "$out/slow.bin" --wait 60 "$@" >"$lab/slow.log" 2>&1 &
  dpid=$!
  for _ in $(seq 1 200); do
    grep -q "waiting for an upgrade job" "$lab/slow.log" && break
    sleep 0.05
  done
  OTA_CLOUD_PASSWORD=$CLOUD_PASSWORD "$build/bin/ota_cloud" push --file "$WWW_DIR/image.bin" \
    --url "https://127.0.0.1:$HTTPS_PORT/slow/image.bin" --sign-method md5 --version 2.0.0 \
    --product-key "$pk" --device-name "$dn" --host 127.0.0.1 --port "$MQTT_TLS_PORT" \
    --ca-file "$CA_FILE" --user "$CLOUD_USER" --timeout 120 >"$lab/slow-cloud.log" 2>&1 &
  cpid=$!
  for _ in $(seq 1 600); do
    grep -qE "progress ([3-9][0-9]|100)%" "$lab/slow.log" && break
    sleep 0.05
  done
  if ! grep -qE "progress ([3-9][0-9]|100)%" "$lab/slow.log"; then
    echo "memory.sh: the download did not reach 30 %" >&2
    cat "$lab/slow.log" "$lab/slow-cloud.log" >&2
    exit 1
  fi
  cp "/proc/$dpid/smaps" "$snap"
  kill -TERM "$dpid" "$cpid" 2>/dev/null || true
  wait "$dpid" "$cpid" 2>/dev/null || true
}

report="$lab/report.md"
: >"$report"
for profile in default low-memory; do
  device_args=()
  [ "$profile" = default ] || device_args=(--low-memory)
  rm -f "$lab"/heaptrack.*
  device_wrapper=(heaptrack -o "$lab/heaptrack.$profile")
  run_ota_job image.bin "$lab/cloud.log" --url "https://127.0.0.1:$HTTPS_PORT/image.bin" \
    --sign-method md5 >/dev/null
  device_wrapper=()
  heaptrack_print -f "$lab"/heaptrack."$profile".* --print-flamegraph "$lab/flame.$profile" \
    --flamegraph-cost-type peak >/dev/null 2>&1
  smaps_during_download "$lab/smaps.$profile" "${device_args[@]}"
  title="**ota_mqtt ${device_args[*]:-(default profile)}**, $size_mib MiB HTTPS job with"
  title+=" --ca-file/--http-ca-file (the lab's CA):"
  python3 "$root/scripts/memory_report.py" "$title" "$lab/flame.$profile" "$lab/smaps.$profile" \
    >>"$report"
  echo >>"$report"
done
{
  echo "Produced by \`scripts/memory.sh\` at commit $(git rev-parse --short HEAD) on $(date -u +%Y-%m-%d)"
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(. /etc/os-release && echo "$PRETTY_NAME"))."
} >>"$report"
cat "$report"

[ "$update" = 0 ] || replace_readme_block memory-breakdown "$report"
