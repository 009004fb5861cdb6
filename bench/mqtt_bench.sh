#!/usr/bin/env bash
# MQTT download beside HTTPS (issue 11), on loopback with TLS: one image is downloaded by
# ota_mqtt as an HTTPS job (nginx) and as an MQTT job (blocks through mosquitto, answered by
# ota_cloud push --mqtt-stream), in alternating rounds. For each: the median wall time from the
# push to the verified, stored image, MiB/s, the download-only time (push -> "progress 100%") and
# the device process's peak RSS. The device runs with its default MQTT window (4 x 32 KiB).
#
# Usage: bench/mqtt_bench.sh [--size MIB] [--rounds N]   (defaults 32, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size_mib=32
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "mqtt_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

name=mqtt_bench.sh
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_setup ota-mqtt-bench mqtt-bench-device
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/image.bin"

# run_job https|mqtt: the same image as an HTTPS job or an MQTT job (run_ota_job in bench/lib.sh).
run_job() {
  if [ "$1" = mqtt ]; then
    run_ota_job image.bin "$lab/cloud-mqtt.log" --mqtt-stream
  else
    run_ota_job image.bin "$lab/cloud-https.log" --url "https://127.0.0.1:$HTTPS_PORT/image.bin"
  fi
}

declare -A times rss dl
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for kind in https mqtt; do
    read -r t m d _ < <(run_job "$kind")
    times[$kind]+="$t "; rss[$kind]+="$m "; dl[$kind]+="$d "
  done
done
blocks=$(grep -m1 '^blocks:' "$lab/cloud-mqtt.log" || true)

printf '\n%s MiB image, ota_mqtt over TLS to the local mosquitto, median of %d alternating rounds\n' \
  "$size_mib" "$rounds"
printf '%s, %s CPUs\n\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(nproc)"
printf '| job | push->stored s | MiB/s | push->100%% s | download MiB/s | device peak RSS MiB |\n'
printf '|---|---|---|---|---|---|\n'
for k in https mqtt; do
  awk -v k="$k" -v t="$(echo "${times[$k]}" | median)" -v d="$(echo "${dl[$k]}" | median)" \
    -v mib="$size_mib" -v r="$(echo "${rss[$k]}" | max)" \
    'BEGIN{printf "| %s | %.2f | %.1f | %.2f | %.1f | %.1f |\n", k, t, mib/t, d, mib/d, r/1024}'
done
awk -v a="$(echo "${rss[https]}" | max)" -v b="$(echo "${rss[mqtt]}" | max)" \
  'BEGIN{printf "\npeak RSS, MQTT minus HTTPS: %+.2f MiB\n", (b-a)/1024}'
echo "raw push->stored (s): https=[${times[https]}] mqtt=[${times[mqtt]}]"
echo "last MQTT run, ota_cloud: ${blocks:-no summary}"
