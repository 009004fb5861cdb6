#!/usr/bin/env bash
# Download benchmark on loopback: the same nginx HTTPS server serves one image to
#   curl      `curl -o /dev/null URL`
#   curl+md5  `curl URL | tee FILE | md5sum`  (download, hash and store: what an OTA must do)
#   ota-md5   a full OTA job of this library with an MD5 job: from the moment ota_cloud publishes
#             the push to the moment ota_mqtt prints that the image is verified and stored (fsynced
#             and renamed into place); MQTT connects and disconnects are not counted
#   ota-sha256  the same with a SHA-256 job
# in alternating rounds, and reports for each the median wall time, MiB/s, peak RSS and the ratio
# to plain curl, and (to show how noisy the machine was) the best time and best-to-best ratio. It also reports ota_mqtt's peak RSS for a small image, to show that memory does
# not depend on the image size.
#
# Then bench/mqtt_bench.sh compares an MQTT download job with an HTTPS one of --mqtt-size MiB
# (TLS, device peak RSS; 0 skips it).
#
# Usage: bench/ota_bench.sh [--size MIB] [--small MIB] [--rounds N] [--idle-wait SECONDS]
#                           [--mqtt-size MIB]   (defaults 256, 4, 3, 0, 32)
# --idle-wait S: before each timed run, wait up to S seconds for a one-second window in which the
# CPUs are less than 15 % busy (for shared machines); the busy share before each run is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size_mib=256
small_mib=4
rounds=3
idle_wait=0
mqtt_mib=32
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --small) small_mib=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --idle-wait) idle_wait=$2; shift ;;
    --mqtt-size) mqtt_mib=$2; shift ;;
    *) echo "ota_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

name=ota_bench.sh
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_setup ota-bench bench-device
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/big.bin"
head -c "$((small_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/small.bin"
now_ns() { date +%s%N; }

# Each run prints "<seconds> <peak RSS KiB>".
run_curl() {
  local t0 t1
  t0=$(now_ns)
  /usr/bin/time -f '%M' -o "$lab/rss" curl -s --cacert "$CA_FILE" -o /dev/null "https://127.0.0.1:$HTTPS_PORT/big.bin"
  t1=$(now_ns)
  echo "$(awk -v n=$((t1 - t0)) 'BEGIN{printf "%.3f", n/1e9}') $(cat "$lab/rss")"
}

run_curl_md5() {
  local t0 t1
  t0=$(now_ns)
  /usr/bin/time -f '%M' -o "$lab/rss" sh -c \
    "curl -s --cacert '$CA_FILE' 'https://127.0.0.1:$HTTPS_PORT/big.bin' | tee '$out/curl.bin' | md5sum >/dev/null && sync -f '$out/curl.bin'"
  t1=$(now_ns)
  rm -f "$out/curl.bin"
  echo "$(awk -v n=$((t1 - t0)) 'BEGIN{printf "%.3f", n/1e9}') $(cat "$lab/rss")"
}

# run_ota FILE METHOD: an HTTPS job of FILE with a METHOD digest (run_ota_job in bench/lib.sh).
run_ota() {
  run_ota_job "$1" "$lab/cloud.log" --url "https://127.0.0.1:$HTTPS_PORT/$1" --sign-method "$2"
}

declare -A times rss phases
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  await_quiet curl
  read -r t m < <(run_curl);                         times[curl]+="$t "; rss[curl]+="$m "
  await_quiet curl_md5
  read -r t m < <(run_curl_md5);                     times[curl_md5]+="$t "; rss[curl_md5]+="$m "
  await_quiet ota_md5
  read -r t m dl cm _ < <(run_ota big.bin md5);       times[ota_md5]+="$t "; rss[ota_md5]+="$m "
  phases[ota_md5]+="$dl+$cm "
  await_quiet ota_sha256
  read -r t m dl cm _ < <(run_ota big.bin sha256);    times[ota_sha256]+="$t "; rss[ota_sha256]+="$m "
  phases[ota_sha256]+="$dl+$cm "
done
read -r _ small_rss _ _ < <(run_ota small.bin md5)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

base=$(echo "${times[curl]}" | median)
base_min=$(echo "${times[curl]}" | min)
printf '\n%s MiB image over HTTPS on loopback, median of %d alternating rounds\n' "$size_mib" "$rounds"
printf '%s, %s CPUs, load average %s before and %s after\n\n' \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(nproc)" \
  "$load_before" "$load_after"
printf '| run | wall s (median) | MiB/s | peak RSS MiB | x curl | best wall s | best x best curl |\n'
printf '|---|---|---|---|---|---|---|\n'
for k in curl curl_md5 ota_md5 ota_sha256; do
  med=$(echo "${times[$k]}" | median)
  best=$(echo "${times[$k]}" | min)
  peak=$(echo "${rss[$k]}" | max)
  awk -v k="$k" -v t="$med" -v mib="$size_mib" -v r="$peak" -v b="$base" -v m="$best" -v bm="$base_min" \
    'BEGIN{printf "| %s | %.2f | %.1f | %.1f | %.2f | %.2f | %.2f |\n", k, t, mib/t, r/1024, t/b, m, m/bm}'
done
big_rss=$(echo "${rss[ota_md5]}" | max)
awk -v s="$small_mib" -v a="$small_rss" -v b="$size_mib" -v c="$big_rss" \
  'BEGIN{printf "\nota_mqtt peak RSS: %.1f MiB for a %s MiB image, %.1f MiB for a %s MiB image (difference %.1f MiB)\n", a/1024, s, c/1024, b, (c-a)/1024}'
echo "raw times (s): curl=[${times[curl]}] curl_md5=[${times[curl_md5]}] ota_md5=[${times[ota_md5]}] ota_sha256=[${times[ota_sha256]}]"
[ -z "$busy_log" ] || echo "CPU busy % in the second before each timed run: [$busy_log]"
echo "ota phases (s, push->100% + 100%->stored): ota_md5=[${phases[ota_md5]}] ota_sha256=[${phases[ota_sha256]}]"
if [ "$mqtt_mib" -gt 0 ]; then
  "$root/bench/mqtt_bench.sh" --size "$mqtt_mib" --rounds "$rounds"
fi
