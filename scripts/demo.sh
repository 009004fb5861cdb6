#!/usr/bin/env bash
# A complete OTA on loopback: installs what is missing, builds (Release), starts a throwaway lab
# (private CA, mosquitto with TLS + passwords + ACL, nginx over HTTPS), runs the ota_mqtt example
# as a device at version 1.0.0, publishes a 1.1.0 job for a generated image with the ota_cloud
# tool, and checks the stored image. Everything started here is stopped on exit, also on failure
# or Ctrl-C. With --mqtt the job is an MQTT download (dProtocol "mqtt"): the device fetches the
# image in blocks over its MQTT connection and ota_cloud answers them; nginx is not used.
# --build-dir takes ota_mqtt and ota_cloud from another build (scripts/cross.sh: an ARM build,
# whose binaries then run through --emulator, e.g. qemu-aarch64) instead of building them.
#
# Usage: scripts/demo.sh [--size MIB] [--sha256] [--mqtt] [--build-dir DIR [--emulator CMD]]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size_mib=32
sign_method=md5
mqtt=0
build=""
emulator=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --sha256) sign_method=sha256 ;;
    --mqtt) mqtt=1 ;;
    --build-dir) build=$2; shift ;;
    --emulator) emulator=("$2"); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n== %s\n' "$*"; }

step "Installing missing packages"
./scripts/deps.sh

if [ -n "$build" ]; then
  for b in ota_mqtt ota_cloud; do
    [ -x "$build/bin/$b" ] || { echo "demo.sh: no $build/bin/$b (build it first)" >&2; exit 2; }
  done
else
  step "Building (Release)"
  build=build-release
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target ota_mqtt ota_cloud
fi

lab=$(mktemp -d /tmp/ota-demo.XXXXXX)
device_pid=""
cloud_pid=""
cleanup() {
  local rc=$?
  [ -n "$device_pid" ] && kill "$device_pid" 2>/dev/null || true
  [ -n "$cloud_pid" ] && kill "$cloud_pid" 2>/dev/null || true
  "$root/scripts/lab.sh" stop "$lab" >/dev/null 2>&1 || true
  rm -rf "$lab"
  exit $rc
}
trap cleanup EXIT
trap 'echo "demo.sh: interrupted" >&2; exit 130' INT TERM

step "Starting the lab (CA, mosquitto, nginx) on random loopback ports"
./scripts/lab.sh start "$lab" >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
pk=a1DemoProduct
dn=demo-device-01
ds=$(openssl rand -hex 16)
./scripts/lab.sh add-device "$lab" "$pk" "$dn" "$ds"
echo "broker   mqtts://127.0.0.1:$MQTT_TLS_PORT (password auth, per-device ACL)"
echo "firmware https://127.0.0.1:$HTTPS_PORT/"

step "Generating a ${size_mib} MiB firmware image (version 1.1.0)"
image="$WWW_DIR/firmware-1.1.0.bin"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$image"
out="$lab/device/ota.bin"
mkdir -p "$lab/device"

step "Starting the device (${emulator[*]:+${emulator[*]} }$build/bin/ota_mqtt, version 1.0.0)"
"${emulator[@]}" "$build/bin/ota_mqtt" --product-key "$pk" --device-name "$dn" --device-secret "$ds" \
  --version 1.0.0 --host 127.0.0.1 --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" \
  --http-ca-file "$CA_FILE" --output "$out" --wait 120 >"$lab/device.log" 2>&1 &
device_pid=$!
tail -n +1 -f "$lab/device.log" --pid="$device_pid" 2>/dev/null | sed -u 's/^/[device] /' &
# 30 s: under qemu the device's start and TLS handshake take a few seconds.
for _ in $(seq 1 300); do
  grep -q "waiting for an upgrade job" "$lab/device.log" && break
  kill -0 "$device_pid" 2>/dev/null || break
  sleep 0.1
done
grep -q "waiting for an upgrade job" "$lab/device.log" || { echo "the device did not start" >&2; exit 1; }

if [ "$mqtt" -eq 1 ]; then
  step "Publishing the 1.1.0 job as an MQTT download (ota_cloud push --mqtt-stream)"
  source_args=(--mqtt-stream)
else
  step "Publishing the 1.1.0 job (ota_cloud push)"
  source_args=(--url "https://127.0.0.1:$HTTPS_PORT/firmware-1.1.0.bin")
fi
start_ns=$(date +%s%N)
OTA_CLOUD_PASSWORD=$CLOUD_PASSWORD "${emulator[@]}" "$build/bin/ota_cloud" push --file "$image" \
  "${source_args[@]}" --version 1.1.0 \
  --sign-method "$sign_method" --product-key "$pk" --device-name "$dn" \
  --host 127.0.0.1 --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" --user "$CLOUD_USER" \
  --timeout 120 >"$lab/cloud.log" 2>&1 &
cloud_pid=$!
tail -n +1 -f "$lab/cloud.log" --pid="$cloud_pid" 2>/dev/null | sed -u 's/^/[cloud]  /' &
set +e
wait "$device_pid"
device_rc=$?
end_ns=$(date +%s%N)
device_pid=""
wait "$cloud_pid"
cloud_rc=$?
set -e
sleep 0.2

step "Checking the stored image"
expected=$(sha256sum "$image" | cut -d' ' -f1)
actual=$(sha256sum "$out" 2>/dev/null | cut -d' ' -f1 || true)
secs=$(awk -v ns=$((end_ns - start_ns)) 'BEGIN { printf "%.2f", ns / 1e9 }')
rate=$(awk -v mib="$size_mib" -v ns=$((end_ns - start_ns)) 'BEGIN { printf "%.1f", mib / (ns / 1e9) }')
if [ "$device_rc" -eq 0 ] && [ "$cloud_rc" -eq 0 ] && [ "$expected" = "$actual" ]; then
  echo "size      ${size_mib} MiB ($(stat -c %s "$out") bytes)"
  echo "time      ${secs} s (from the push to the verified image on disk)"
  echo "speed     ${rate} MiB/s"
  echo "transport $([ "$mqtt" -eq 1 ] && echo "MQTT blocks ($(grep -m1 '^blocks:' "$lab/cloud.log" || echo 'no summary'))" || echo HTTPS)"
  echo "digest    ${sign_method} OK; stored image sha256 ${actual:0:16}... matches the served file"
  echo "DEMO OK"
else
  echo "DEMO FAILED: device exit $device_rc, cloud exit $cloud_rc, image match: $([ "$expected" = "$actual" ] && echo yes || echo no)" >&2
  exit 1
fi
