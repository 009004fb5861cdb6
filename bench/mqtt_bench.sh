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

./scripts/deps.sh time
command -v stdbuf >/dev/null || { echo "mqtt_bench.sh: needs stdbuf (coreutils)" >&2; exit 1; }
build="build-release"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTA_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target ota_mqtt ota_cloud >/dev/null

lab=$(mktemp -d /tmp/ota-mqtt-bench.XXXXXX)
cleanup() {
  "$root/scripts/lab.sh" stop "$lab" >/dev/null 2>&1 || true
  rm -rf "$lab"
}
trap cleanup EXIT
./scripts/lab.sh start "$lab" >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
pk=a1BenchProduct
dn=mqtt-bench-device
ds=$(openssl rand -hex 16)
./scripts/lab.sh add-device "$lab" "$pk" "$dn" "$ds"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/image.bin"
out=$lab/out
mkdir -p "$out"

stamp_lines() {
  local line
  while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

# run_job https|mqtt: prints "<push->stored s> <peak RSS KiB> <push->100% s>".
run_job() {
  local kind=$1 dpid rc t0 t_done t_ok src
  rm -f "$out/ota.bin" "$out/ota.bin.part" "$lab/device.rc"
  (
    set +e
    /usr/bin/time -f '%M' -o "$lab/rss" stdbuf -oL "$build/bin/ota_mqtt" --product-key "$pk" \
      --device-name "$dn" --device-secret "$ds" --version 1.0.0 --host 127.0.0.1 \
      --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" --http-ca-file "$CA_FILE" \
      --output "$out/ota.bin" --wait 60 2>&1
    echo $? >"$lab/device.rc"
  ) | stamp_lines >"$lab/device.log" &
  dpid=$!
  for _ in $(seq 1 200); do
    grep -q "waiting for an upgrade job" "$lab/device.log" && break
    sleep 0.05
  done
  if [ "$kind" = mqtt ]; then
    src=(--mqtt-stream)
  else
    src=(--url "https://127.0.0.1:$HTTPS_PORT/image.bin")
  fi
  OTA_CLOUD_PASSWORD=$CLOUD_PASSWORD "$build/bin/ota_cloud" push --timestamps \
    --file "$WWW_DIR/image.bin" "${src[@]}" --version 2.0.0 --product-key "$pk" \
    --device-name "$dn" --host 127.0.0.1 --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" \
    --user "$CLOUD_USER" --timeout 300 --settle 0.2 >"$lab/cloud-$kind.log" &
  wait "$dpid" || true
  wait || true
  rc=$(cat "$lab/device.rc" 2>/dev/null || echo "?")
  t0=$(awk '/ pushed version /{print $1; exit}' "$lab/cloud-$kind.log")
  t_done=$(awk '/ progress 100% /{print $1; exit}' "$lab/device.log")
  t_ok=$(awk '/ verified and stored /{print $1; exit}' "$lab/device.log")
  if [ "$rc" != 0 ] || [ -z "$t0" ] || [ -z "$t_done" ] || [ -z "$t_ok" ] ||
    ! cmp -s "$out/ota.bin" "$WWW_DIR/image.bin"; then
    echo "mqtt_bench.sh: $kind run failed (device exit $rc)" >&2
    cat "$lab/device.log" "$lab/cloud-$kind.log" >&2
    exit 1
  fi
  awk -v a="$t0" -v b="$t_ok" -v c="$t_done" -v r="$(cat "$lab/rss")" \
    'BEGIN{printf "%.3f %s %.3f\n", b-a, r, c-a}'
}

declare -A times rss dl
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for kind in https mqtt; do
    read -r t m d < <(run_job "$kind")
    times[$kind]+="$t "; rss[$kind]+="$m "; dl[$kind]+="$d "
  done
done
blocks=$(grep -m1 '^blocks:' "$lab/cloud-mqtt.log" || true)

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
max() { tr ' ' '\n' | grep -v '^$' | sort -n | tail -1; }

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
