#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs the whole test suite.
# Usage: scripts/test.sh [--sanitize | --tsan | --coverage | --sanitize --coverage] [--no-fuzz]
#                        [--fuzz-seconds N] [-- <ctest args>]
#   (default)        the format check (scripts/format.sh --check), then build/: unit (one
#                    ctest test per case), install and integration tests, then the libFuzzer pass
#                    (scripts/fuzz.sh, N seconds per target, default 15) when clang is installed
#   --sanitize       build-sanitize/: every test (the install test excepted) under ASan+UBSan,
#                    leak suppressions in tests/lsan.supp
#   --tsan           build-tsan/: builds and runs only the threaded suites (broker channel,
#                    HTTPS fetcher, the large-size unit binary, the console's HTTP servers)
#                    under ThreadSanitizer,
#                    suppressions in tests/tsan.supp (the other unit tests run one thread)
#   --coverage       build-coverage/ (gcc --coverage, Debug, -O0, no -g): unit and integration
#                    tests (not the install test), then scripts/coverage.sh: gcovr report of src/
#                    and hal/ in build-coverage/coverage/, fails below 90 % lines or 70 % branches
#   --sanitize --coverage
#                    build-sanitize-coverage/: both in one build and one run (.ci/run): every
#                    test under ASan+UBSan with gcc --coverage (Debug, -O0, -g), then the same
#                    gcovr report and thresholds
#                    (these passes run each unit-test binary as one ctest test)
#   --no-fuzz        skip the fuzz pass (also: OTA_FUZZ_SECONDS=0)
#   --fuzz-seconds N run each fuzz target for N seconds (also: OTA_FUZZ_SECONDS=N)
# Exit status: 0 when every test passed (and no fuzz target crashed, and the coverage met the
# thresholds).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=plain
coverage=0
fuzz_seconds="${OTA_FUZZ_SECONDS:-15}"
ctest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) mode=asan ;;
    --tsan) mode=tsan ;;
    --coverage) coverage=1 ;;
    --no-fuzz) fuzz_seconds=0 ;;
    --fuzz-seconds)
      [ $# -ge 2 ] || { echo "test.sh: --fuzz-seconds needs a value" >&2; exit 2; }
      fuzz_seconds="$2"; shift ;;
    --) shift; ctest_extra=("$@"); break ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$coverage" -eq 1 ]; then
  case "$mode" in
    plain) mode=coverage ;;
    tsan) echo "test.sh: --coverage goes with --sanitize, not with --tsan" >&2; exit 2 ;;
  esac
fi
case "$fuzz_seconds" in
  ''|*[!0-9]*) echo "test.sh: fuzz seconds must be a non-negative integer" >&2; exit 2 ;;
esac

# The console's browser test (tests/console/web) needs Debian's chromium, node and npm (a Node.js
# that brings its own npm is kept), and its scripts jq.
extra_packages=(chromium jq)
command -v npm >/dev/null 2>&1 || extra_packages+=(nodejs npm)
./scripts/deps.sh "${extra_packages[@]}"

if [ "$mode" = plain ]; then
  ./scripts/format.sh --check
fi

build_dir=build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WARNINGS_AS_ERRORS=ON)
# The plain pass runs each unit case as its own ctest test; the other passes run each unit-test
# binary whole (tests/CMakeLists.txt, OTA_UNIT_TEST_PER_BINARY): the same cases, without the
# per-process start-up that sanitizers and --coverage make expensive.
if [ "$mode" = plain ]; then
  # The test code at -O1 (the library under test keeps RelWithDebInfo's -O2): a third less
  # build time for the tests, the same results.
  cmake_args+=(-DOTA_UNIT_TEST_PER_BINARY=OFF -DOTA_TEST_OPT_FLAGS=-O1)
else
  cmake_args+=(-DOTA_UNIT_TEST_PER_BINARY=ON)
fi
case "$mode" in
  asan)
    build_dir=build-sanitize
    cmake_args+=("-DOTA_SANITIZE=address,undefined" -DCMAKE_BUILD_TYPE=Debug)
    # Leak checking is on by default on Linux; UBSan findings abort (-fno-sanitize-recover=all).
    # tests/lsan.supp: only leaks rooted inside OpenSSL (paho's detached threads at exit).
    export ASAN_OPTIONS="detect_stack_use_after_return=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    if [ "$coverage" -eq 1 ]; then
      # One build and one run for both (.ci/run): gcov's counters do not disturb ASan, and the
      # Debug build is -O0 already; -g stays for the sanitizer's stack traces.
      build_dir=build-sanitize-coverage
      # -fprofile-update=atomic: the pooled HTTPS source and the fleet run library code on
      # several threads at once; plain counter updates then race, and gcov derived a negative
      # branch count ("branch 3 taken -1" in http_head.cpp) that gcovr cannot parse.
      cmake_args+=("-DCMAKE_C_FLAGS=--coverage -fprofile-update=atomic"
                   "-DCMAKE_CXX_FLAGS=--coverage -fprofile-update=atomic"
                   -DCMAKE_EXE_LINKER_FLAGS=--coverage -DCMAKE_SHARED_LINKER_FLAGS=--coverage)
    fi
    ;;
  tsan)
    build_dir=build-tsan
    cmake_args+=(-DOTA_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug)
    # The suites that run more than one thread: the paho channel and the libcurl fetcher (lab_
    # brings the lab fixture), and the one unit binary whose test starts CurlByteSource's
    # transfer thread against a local server (ota_unit_large_size). The other unit tests drive
    # the library on fakes from the test's one thread, so TSan has no second thread to watch.
    # console_http_test runs the console's HTTPS servers (their thread pools, /events streams)
    # in-process, over the real engine and store. PooledCurlByteSource: sources read on the
    # test's thread while the CurlTransferPool's threads write their rings (ota_it_pool).
    tsan_regex='lab_|PahoChannel|CurlByteSource|PooledCurlByteSource|^ota_unit_large_size$|^console_http_test$'
    tsan_targets=(ota_it_channel ota_it_fetch ota_it_pool ota_unit_large_size)
    if [ -d tools/console ]; then tsan_targets+=(console_http_test); fi
    # The fleet simulator's scheduler: worker threads woken from other threads (ota_fleet_sim_test).
    tsan_regex+='|^ota_fleet_sim_test$|^Scheduler\.|^RatePacer\.|^Offloader\.'
    tsan_targets+=(ota_fleet_sim_test)
    # The fleet's cloud: a yielding thread and a pool of publisher threads over one channel
    # (ota_it_fleet's FleetCloud cases; its FleetRun cases, 35 s under TSan, stay in the plain pass).
    # The connect waker: its own thread re-subscribing while paho's callbacks end waits
    # (ConnectWaker cases, ota_fleet processes TSan-built too; a lock-order inversion was found
    # here once).
    tsan_regex+='|^FleetCloud\.|^ConnectWaker\.'
    tsan_targets+=(ota_it_fleet)
    # Only races inside paho-mqtt-cpp itself are suppressed (see tests/tsan.supp); every report
    # makes the test binary exit non-zero.
    export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp:second_deadlock_stack=1:history_size=4${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    ;;
  coverage)
    build_dir=build-coverage
    # -O0 keeps one line of source to one piece of code, so the line figures mean what they say.
    # The flags go to every target (tests and examples too) so that the link finds libgcov.
    # gcov reads its own notes (.gcno), not debug information: without -g the build is about
    # 15 % faster.
    # -fprofile-update=atomic: counters of code that runs on several threads (see above).
    cmake_args+=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS=--coverage -O0 -fprofile-update=atomic"
                 "-DCMAKE_CXX_FLAGS=--coverage -O0 -fprofile-update=atomic"
                 -DCMAKE_EXE_LINKER_FLAGS=--coverage
                 -DCMAKE_SHARED_LINKER_FLAGS=--coverage -DCMAKE_C_FLAGS_DEBUG=
                 -DCMAKE_CXX_FLAGS_DEBUG= -DOTA_TEST_DEBUG_FLAGS=)
    # ccache caches the .gcno notes beside the object (it hashes the build directory for
    # --coverage), so an unchanged file is not compiled again.
    if command -v ccache >/dev/null 2>&1; then
      cmake_args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    fi
    ;;
esac

start=$SECONDS
cmake -S . -B "$build_dir" "${cmake_args[@]}"
if [ "$coverage" -eq 1 ]; then
  # Counters of objects that are about to be rebuilt no longer match them (gcov would say
  # "overwriting an existing profile data with a different checksum"); start clean.
  find "$build_dir" -name '*.gcda' -delete
fi
if [ "$mode" = tsan ]; then
  # Only the binaries of the threaded integration suites that tsan_regex selects; a suite added
  # to the regex must be in one of them. The other binaries are not built.
  cmake --build "$build_dir" -j2 --target "${tsan_targets[@]}"
else
  cmake --build "$build_dir" -j2
fi
(
  cd "$build_dir"
  if [ "$mode" = tsan ]; then
    ctest --output-on-failure -j2 --timeout 600 -R "$tsan_regex" "${ctest_extra[@]}"
  elif [ "$mode" = coverage ]; then
    # gtest_discover_tests ran every test binary during the build, which wrote counters too;
    # zero them so the report shows this test run only.
    find . -name '*.gcda' -delete
    # The install test is left out: it installs the instrumented libota.a into a consumer
    # project built without --coverage, whose link then misses libgcov's __gcov_* symbols.
    ctest --output-on-failure -j2 --timeout 600 -LE '^install$' "${ctest_extra[@]}"
  elif [ "$mode" = asan ]; then
    # As in the coverage pass: count this test run only.
    [ "$coverage" -eq 0 ] || find . -name '*.gcda' -delete
    # One rerun of the tests that failed, named on the output: paho 1.3.11 processes sometimes
    # crash in a library thread after main() returned (README, Testing). A second failure fails.
    if ! ctest --output-on-failure -j2 --timeout 600 "${ctest_extra[@]}"; then
      echo "test.sh: failed under ASan: $(cut -d: -f2 Testing/Temporary/LastTestsFailed.log | tr '\n' ' ')"
      echo "test.sh: running only those once more; a second failure fails the pass"
      ctest --output-on-failure --timeout 600 --rerun-failed
    fi
  else
    ctest --output-on-failure -j2 --timeout 600 "${ctest_extra[@]}"
  fi
)
echo "test.sh: $mode tests passed in $((SECONDS - start))s"

if [ "$coverage" -eq 1 ]; then
  ./scripts/coverage.sh "$build_dir"
  echo "test.sh: coverage pass (build, tests, report) finished in $((SECONDS - start))s"
fi

if [ "$mode" = plain ] && [ "$fuzz_seconds" -gt 0 ]; then
  if command -v clang >/dev/null 2>&1 && command -v clang++ >/dev/null 2>&1; then
    fuzz_start=$SECONDS
    ./scripts/fuzz.sh "$fuzz_seconds"
    echo "test.sh: fuzz pass finished in $((SECONDS - fuzz_start))s"
  else
    echo "test.sh: clang not found, skipping the fuzz pass (scripts/fuzz.sh needs clang/libFuzzer)"
  fi
fi
