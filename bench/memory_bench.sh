#!/usr/bin/env bash
# Memory profiles side by side: the same 256 MiB HTTPS (TLS) job of ota_mqtt with
#   baseline    the buffer sizes ota_mqtt used before the memory profiles: --fetch-buffer 1 MiB,
#               --download-buffer 4 MiB, --receive-buffer 256 KiB
#   default     no options (ota::BufferProfile::standard())
#   low-memory  --low-memory (ota::BufferProfile::low_memory())
# in alternating rounds, timed like bench/ota_bench.sh (push to "verified and stored", MD5 job).
# Reports per profile the median wall time and MiB/s, the ratio to the baseline, and the peak
# anonymous memory (RssAnon of /proc/PID/status, sampled every millisecond by bench/peak_anon.py)
# and peak RSS (VmHWM) over all its runs.
#
# Usage: bench/memory_bench.sh [--size MIB] [--rounds N] [--idle-wait SECONDS] [--update-readme]
#        (defaults 256, 5, 0)
# --idle-wait S: before each timed run, wait up to S seconds for a second in which the CPUs were
# less than 15 % busy; the busy share before each run is reported. --update-readme puts the
# results between <!-- memory-bench:begin --> and <!-- memory-bench:end --> in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

size_mib=256
rounds=5
idle_wait=0
update=0
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size_mib=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --idle-wait) idle_wait=$2; shift ;;
    --update-readme) update=1 ;;
    *) echo "memory_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

name=memory_bench.sh
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
bench_setup memory-bench memory-bench-device
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WWW_DIR/big.bin"

profiles=(baseline default low-memory)
declare -A flags=(
  [baseline]="--fetch-buffer 1048576 --download-buffer 4194304 --receive-buffer 262144"
  [default]=""
  [low-memory]="--low-memory"
)
declare -A times rss anon
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  for p in "${profiles[@]}"; do
    # shellcheck disable=SC2206  # the flags are words on purpose
    device_args=(${flags[$p]})
    await_quiet "$p"
    read -r t m _ _ a < <(run_ota_job big.bin "$lab/cloud.log" \
      --url "https://127.0.0.1:$HTTPS_PORT/big.bin" --sign-method md5)
    times[$p]+="$t "; rss[$p]+="$m "; anon[$p]+="$a "
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

base=$(echo "${times[baseline]}" | median)
report="$lab/report.md"
{
printf '\n%s MiB image over HTTPS (TLS) on loopback, MD5 job, median of %d alternating rounds\n' \
  "$size_mib" "$rounds"
printf '%s, %s CPUs, load average %s before and %s after\n\n' \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" "$(nproc)" \
  "$load_before" "$load_after"
printf '| profile | ota_mqtt options | wall s (median) | MiB/s | x baseline | peak anonymous MiB | peak RSS MiB |\n'
printf '|---|---|---|---|---|---|---|\n'
for p in "${profiles[@]}"; do
  awk -v p="$p" -v f="${flags[$p]:-(none)}" -v t="$(echo "${times[$p]}" | median)" \
    -v mib="$size_mib" -v b="$base" -v a="$(echo "${anon[$p]}" | max)" \
    -v r="$(echo "${rss[$p]}" | max)" \
    'BEGIN{printf "| %s | `%s` | %.3f | %.1f | %.3f | %.2f | %.1f |\n", p, f, t, mib/t, t/b, a/1024, r/1024}'
done
echo
for p in "${profiles[@]}"; do
  echo "$p: wall s [${times[$p]}] peak anonymous KiB [${anon[$p]}]  "
done
[ -z "$busy_log" ] || echo "CPU busy % in the second before each timed run: [$busy_log]"
echo "Command: \`bench/memory_bench.sh --size $size_mib --rounds $rounds --idle-wait $idle_wait\`, commit $(git rev-parse --short HEAD)."
} >"$report"
cat "$report"
[ "$update" = 0 ] || replace_readme_block memory-bench "$report"
