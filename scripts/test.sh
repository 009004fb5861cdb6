#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and runs the whole test suite.
# Usage: scripts/test.sh [--sanitize] [-- <extra ctest args>]
#   --sanitize   build and run the tests under ASan+UBSan (separate build directory)
# Exit status: 0 when every test passed.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
ctest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize="address,undefined" ;;
    --) shift; ctest_extra=("$@"); break ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

./scripts/deps.sh

build_dir=build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTA_WARNINGS_AS_ERRORS=ON)
if [ -n "$sanitize" ]; then
  build_dir=build-sanitize
  cmake_args+=(-DOTA_SANITIZE="$sanitize" -DCMAKE_BUILD_TYPE=Debug)
fi

cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j2
cd "$build_dir"
ctest --output-on-failure -j2 --timeout 600 "${ctest_extra[@]}"
