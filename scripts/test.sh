#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs the whole test suite.
# Usage: scripts/test.sh [--sanitize | --tsan] [--no-fuzz] [--fuzz-seconds N] [-- <ctest args>]
#   (default)        the format check (scripts/format.sh --check), then build/: unit, install
#                    and integration tests, then the libFuzzer pass
#                    (scripts/fuzz.sh, N seconds per target, default 60) when clang is installed
#   --sanitize       build-sanitize/: every test (the install test excepted) under ASan+UBSan,
#                    leak suppressions in tests/lsan.supp
#   --tsan           build-tsan/: the unit tests and the threaded integration suites (broker
#                    channel, HTTPS fetcher) under ThreadSanitizer, suppressions in tests/tsan.supp
#   --no-fuzz        skip the fuzz pass (also: OTA_FUZZ_SECONDS=0)
#   --fuzz-seconds N run each fuzz target for N seconds (also: OTA_FUZZ_SECONDS=N)
# Exit status: 0 when every test passed (and no fuzz target crashed).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=plain
fuzz_seconds="${OTA_FUZZ_SECONDS:-60}"
ctest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) mode=asan ;;
    --tsan) mode=tsan ;;
    --no-fuzz) fuzz_seconds=0 ;;
    --fuzz-seconds)
      [ $# -ge 2 ] || { echo "test.sh: --fuzz-seconds needs a value" >&2; exit 2; }
      fuzz_seconds="$2"; shift ;;
    --) shift; ctest_extra=("$@"); break ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$fuzz_seconds" in
  ''|*[!0-9]*) echo "test.sh: fuzz seconds must be a non-negative integer" >&2; exit 2 ;;
esac

./scripts/deps.sh

if [ "$mode" = plain ]; then
  ./scripts/format.sh --check
fi

build_dir=build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WARNINGS_AS_ERRORS=ON)
case "$mode" in
  asan)
    build_dir=build-sanitize
    cmake_args+=("-DOTA_SANITIZE=address,undefined" -DCMAKE_BUILD_TYPE=Debug)
    # Leak checking is on by default on Linux; UBSan findings abort (-fno-sanitize-recover=all).
    # tests/lsan.supp: only leaks rooted inside OpenSSL (paho's detached threads at exit).
    export ASAN_OPTIONS="detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    ;;
  tsan)
    build_dir=build-tsan
    cmake_args+=(-DOTA_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug)
    # Only races inside paho-mqtt-cpp itself are suppressed (see tests/tsan.supp); every report
    # makes the test binary exit non-zero.
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1:history_size=4${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    ;;
esac

start=$SECONDS
cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j2
(
  cd "$build_dir"
  if [ "$mode" = tsan ]; then
    ctest --output-on-failure -j2 --timeout 600 -L unit "${ctest_extra[@]}"
    ctest --output-on-failure -j2 --timeout 600 -R 'lab_|PahoChannel|CurlByteSource' \
      "${ctest_extra[@]}"
  else
    ctest --output-on-failure -j2 --timeout 600 "${ctest_extra[@]}"
  fi
)
echo "test.sh: $mode tests passed in $((SECONDS - start))s"

if [ "$mode" = plain ] && [ "$fuzz_seconds" -gt 0 ]; then
  if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then
    fuzz_start=$SECONDS
    ./scripts/fuzz.sh "$fuzz_seconds"
    echo "test.sh: fuzz pass finished in $((SECONDS - fuzz_start))s"
  else
    echo "test.sh: clang not found, skipping the fuzz pass (scripts/fuzz.sh needs clang/libFuzzer)"
  fi
fi
