#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang and runs each for a bounded time.
# Usage: scripts/fuzz.sh [SECONDS]      (default 60 per target)
#   Each target starts from a scratch copy of its seed corpus (tests/fuzz/corpus/<target>), so the
#   repository stays clean; crashes are written to build-fuzz/fuzz-out/<target>/.
#   Prints one line per target with the executions reached.
# Exit status: 0 when no target crashed, 1 when one did, 2 on usage or build errors.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2; exit 2 ;;
esac
if [ "$seconds" -lt 1 ]; then echo "fuzz.sh: SECONDS must be at least 1" >&2; exit 2; fi

if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang/clang++ not found; libFuzzer needs clang" >&2
  exit 2
fi

targets=(fuzz_decode fuzz_url fuzz_content_range fuzz_block_reply)
build_dir=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOTA_WARNINGS_AS_ERRORS=ON -DOTA_BUILD_FUZZERS=ON -DOTA_BUILD_TESTS=ON \
  -DOTA_BUILD_EXAMPLES=OFF >/dev/null || exit 2
cmake --build "$build_dir" -j2 --target "${targets[@]}" || exit 2

out_root="$PWD/$build_dir/fuzz-out"
rm -rf "$out_root"
mkdir -p "$out_root"

# UBSan findings must abort like ASan ones so libFuzzer records them as crashes.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

failed=0
summary=()
for t in "${targets[@]}"; do
  work="$out_root/$t"
  mkdir -p "$work/corpus" "$work/crashes"
  cp -R "tests/fuzz/corpus/$t/." "$work/corpus/"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$work/crashes/")
  if [ -f "tests/fuzz/$t.dict" ]; then args+=(-dict="tests/fuzz/$t.dict"); fi
  log="$work/fuzz.log"
  set +e
  "$build_dir/fuzz/$t" "${args[@]}" "$work/corpus" >"$log" 2>&1
  rc=$?
  set -e
  # libFuzzer ends with "Done <N> runs in <S> second(s)" (and "#<N> DONE ..." before it).
  execs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in.*/\1/p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
  fi
  cov=$(sed -n 's/^#[0-9][0-9]*[[:space:]]*DONE[[:space:]]*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
  units=$(find "$work/corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    line=$(printf '%-20s ok       %12s executions in %ss, coverage %s edges, corpus %s inputs' \
      "$t" "${execs:-?}" "$seconds" "${cov:-?}" "$units")
  else
    failed=1
    crash=$(find "$work/crashes" -type f | head -n 1)
    line=$(printf '%-20s CRASHED  after %s executions (exit %s): %s; log %s' \
      "$t" "${execs:-?}" "$rc" "${crash:-no artifact}" "$log")
    grep -E 'ERROR: |runtime error|SUMMARY' "$log" | head -n 5 >&2 || true
  fi
  echo "fuzz.sh: $line"
  summary+=("$line")
done

echo "fuzz.sh: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
