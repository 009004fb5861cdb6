# Shared by the benchmarks (sourced, not run): the release build, a throwaway lab with one device,
# one timed OTA job through ota_mqtt and ota_cloud, and the statistics helpers.
# The caller sets `root` (the repository) and `name` (for messages) before sourcing.

# bench_setup LAB_PREFIX DEVICE_NAME: builds ota_mqtt and ota_cloud (Release) into build-release,
# starts a lab in a new directory (stopped and removed on exit) and adds the device. Sets build,
# lab, out, pk, dn, ds and everything lab.env holds (ports, CA, cloud credentials, WWW_DIR).
bench_setup() {
  ./scripts/deps.sh time python3
  command -v stdbuf >/dev/null || { echo "$name: needs stdbuf (coreutils)" >&2; exit 1; }
  build="build-release"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target ota_mqtt ota_cloud >/dev/null
  lab=$(mktemp -d "/tmp/$1.XXXXXX")
  trap bench_cleanup EXIT
  ./scripts/lab.sh start "$lab" >/dev/null
  # shellcheck disable=SC1091
  . "$lab/lab.env"
  pk=a1BenchProduct
  dn=$2
  ds=$(openssl rand -hex 16)
  ./scripts/lab.sh add-device "$lab" "$pk" "$dn" "$ds"
  out=$lab/out
  mkdir -p "$out"
}

bench_cleanup() {
  "$root/scripts/lab.sh" stop "$lab" >/dev/null 2>&1 || true
  rm -rf "$lab"
}

# Prefixes every line read with the wall-clock time it arrived (bash's $EPOCHREALTIME, no fork).
stamp_lines() {
  local line
  while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done
}

# run_ota_job FILE CLOUD_LOG CLOUD_ARGS...: the device (ota_mqtt with the options in the array
# `device_args`, default none, run through the command in `device_wrapper`, e.g. a heap
# profiler) waits, then
# ota_cloud pushes version 2.0.0 of $WWW_DIR/FILE with CLOUD_ARGS (the download source and
# digest). Timed from the moment ota_cloud publishes the push (its own --timestamps stamp, taken
# just before the publish) to the moment the device prints "verified and stored" (its stdout is
# line-buffered with stdbuf and stamped as each line arrives). Neither process's start-up (MQTT
# connect, hashing the image for the push) nor its teardown is counted. Prints "<push->stored s>
# <device peak RSS KiB> <push->100% s> <100%->stored s>"; exits when the job fails or the stored
# image differs. A fifth field is the device's peak anonymous memory in KiB (RssAnon sampled by
# bench/peak_anon.py; the peak RSS is its VmHWM).
run_ota_job() {
  local file=$1 cloud_log=$2 dpid rc t0 t_done t_ok anon hwm
  shift 2
  rm -f "$out/ota.bin" "$out/ota.bin.part" "$lab/device.rc"
  (
    set +e
    "$root/bench/peak_anon.py" "$lab/mem" stdbuf -oL "${device_wrapper[@]}" "$build/bin/ota_mqtt" --product-key "$pk" \
      --device-name "$dn" --device-secret "$ds" --version 1.0.0 --host 127.0.0.1 \
      --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" --http-ca-file "$CA_FILE" \
      --output "$out/ota.bin" --wait 60 "${device_args[@]}" 2>&1
    echo $? >"$lab/device.rc"
  ) | stamp_lines >"$lab/device.log" &
  dpid=$!
  for _ in $(seq 1 200); do
    grep -q "waiting for an upgrade job" "$lab/device.log" && break
    sleep 0.05
  done
  OTA_CLOUD_PASSWORD=$CLOUD_PASSWORD "$build/bin/ota_cloud" push --timestamps \
    --file "$WWW_DIR/$file" "$@" --version 2.0.0 --product-key "$pk" --device-name "$dn" \
    --host 127.0.0.1 --port "$MQTT_TLS_PORT" --ca-file "$CA_FILE" --user "$CLOUD_USER" \
    --timeout 300 --settle 0.2 >"$cloud_log" &
  wait "$dpid" || true
  wait || true
  rc=$(cat "$lab/device.rc" 2>/dev/null || echo "?")
  t0=$(awk '/ pushed version /{print $1; exit}' "$cloud_log")
  t_done=$(awk '/ progress 100% /{print $1; exit}' "$lab/device.log")
  t_ok=$(awk '/ verified and stored /{print $1; exit}' "$lab/device.log")
  if [ "$rc" != 0 ] || [ -z "$t0" ] || [ -z "$t_done" ] || [ -z "$t_ok" ] ||
    ! cmp -s "$out/ota.bin" "$WWW_DIR/$file"; then
    echo "$name: OTA run failed (device exit $rc)" >&2
    cat "$lab/device.log" "$cloud_log" >&2
    exit 1
  fi
  read -r anon hwm <"$lab/mem"
  awk -v a="$t0" -v b="$t_ok" -v c="$t_done" -v r="$hwm" -v m="$anon" \
    'BEGIN{printf "%.3f %s %.3f %.3f %s\n", b-a, r, c-a, b-c, m}'
}
device_args=()
device_wrapper=()

# Share (percent) of CPU time that was busy during the next second, from /proc/stat.
busy_percent() {
  local a b c d e f g h t1 i1 t2 i2
  read -r _ a b c d e f g h _ </proc/stat
  t1=$((a + b + c + d + e + f + g + h)); i1=$((d + e))
  sleep 1
  read -r _ a b c d e f g h _ </proc/stat
  t2=$((a + b + c + d + e + f + g + h)); i2=$((d + e))
  echo $((100 - 100 * (i2 - i1) / (t2 - t1)))
}

# await_quiet WHAT: with idle_wait (seconds) > 0, waits at most that long for a second in which
# the CPUs were less than 15 % busy (for shared machines); logs how busy the machine was and
# appends it to busy_log.
await_quiet() {
  local what=$1 b end=$((SECONDS + idle_wait))
  [ "$idle_wait" -gt 0 ] || return 0
  b=$(busy_percent)
  while [ "$b" -ge 15 ] && [ "$SECONDS" -lt "$end" ]; do b=$(busy_percent); done
  echo "  $what: CPUs ${b}% busy in the second before" >&2
  busy_log+="$b "
}
idle_wait=${idle_wait:-0}
busy_log=""

# Statistics of a space-separated list on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
max() { tr ' ' '\n' | grep -v '^$' | sort -n | tail -1; }
min() { tr ' ' '\n' | grep -v '^$' | sort -n | head -1; }

# replace_readme_block NAME FILE: puts FILE's text between the lines <!-- NAME:begin --> and
# <!-- NAME:end --> of README.md (results written by a script, never typed by hand).
replace_readme_block() {
  python3 - "$root/README.md" "$1" "$2" <<'PY'
import sys
readme, name, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
text = open(readme).read()
begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
i, j = text.find(begin), text.find(end)
if i < 0 or j < i:
    sys.exit(f"README.md has no {name} markers")
open(readme, "w").write(text[: i + len(begin)] + body + text[j:])
PY
  echo "$name: README.md updated" >&2
}
