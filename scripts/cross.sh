#!/usr/bin/env bash
# Cross-builds the library, its unit tests and ota_mqtt for 64- or 32-bit ARM Linux with Debian's
# cross compiler and multiarch -dev packages, runs the unit tests under qemu-user, then runs the
# ARM ota_mqtt under qemu through one complete TLS job (SHA-256 signed, 8 MiB, pushed by the ARM
# ota_cloud) against the host's mosquitto and nginx on loopback (scripts/demo.sh --build-dir,
# lab from scripts/lab.sh).
#
# Usage: scripts/cross.sh aarch64|armhf [--no-lab] [-- <ctest args>]
#   installs what is missing (dpkg --add-architecture arm64|armhf, g++-<triple>, the :arm64 /
#   :armhf -dev packages of paho, libcurl, Mbed TLS, OpenSSL and GoogleTest, qemu-user);
#   build directory build-<arch>/ (Release; cmake/toolchains/<triple>.cmake). The test code is
#   compiled at -O1 (OTA_TEST_OPT_FLAGS): the library and ota_mqtt under test are -O3 Release, and
#   the harness' optimisation changes no result but about a third of the build time.
# Exit status: 0 when every unit test passed under qemu and the lab job stored a verified image.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { sed -n '7,12p' "$0" >&2; exit 2; }
arch=$1
shift
lab=1
ctest_extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-lab) lab=0 ;;
    --) shift; ctest_extra=("$@"); break ;;
    *) echo "cross.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

case "$arch" in
  aarch64) triple=aarch64-linux-gnu; deb_arch=arm64; qemu=qemu-aarch64 ;;
  armhf) triple=arm-linux-gnueabihf; deb_arch=armhf; qemu=qemu-arm ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) echo "cross.sh: architecture must be aarch64 or armhf, got '$arch'" >&2; exit 2 ;;
esac

start=$SECONDS
# The native packages first (cmake, ninja, the lab's servers, openssl for its certificates).
./scripts/deps.sh
if ! dpkg --print-foreign-architectures | grep -qx "$deb_arch"; then
  echo "cross.sh: adding the $deb_arch architecture to dpkg"
  if [ "$(id -u)" -eq 0 ]; then dpkg --add-architecture "$deb_arch"; else sudo dpkg --add-architecture "$deb_arch"; fi
  # deps.sh runs apt-get update before installing anything missing, which now includes
  # the new architecture's package lists.
fi
dev=(libpaho-mqttpp-dev libpaho-mqtt-dev libcurl4-openssl-dev libmbedtls-dev libssl-dev libgtest-dev
     libgmock-dev)
./scripts/deps.sh "g++-$triple" qemu-user "${dev[@]/%/:$deb_arch}"
echo "cross.sh: packages ready in $((SECONDS - start))s"

build_dir=build-$arch
cmake_args=(-G Ninja "-DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/$triple.cmake"
            -DCMAKE_BUILD_TYPE=Release -DOTA_WARNINGS_AS_ERRORS=ON -DOTA_UNIT_TEST_PER_BINARY=ON
            -DOTA_TEST_DEBUG_FLAGS= -DOTA_TEST_OPT_FLAGS=-O1)
if command -v ccache >/dev/null 2>&1; then
  cmake_args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
build_start=$SECONDS
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j2 --target ota_unit_tests ota_mqtt
echo "cross.sh: $arch build finished in $((SECONDS - build_start))s"

test_start=$SECONDS
(
  cd "$build_dir"
  # Each unit-test binary is one ctest test, run as `$qemu <binary>` (CMAKE_CROSSCOMPILING_EMULATOR).
  # The install test (also labelled unit) is left out: it builds consumer projects against an
  # installed tree, which says nothing about the target and would need the toolchain passed on.
  ctest --output-on-failure -j2 --timeout 600 -L unit -LE install "${ctest_extra[@]}"
  # The number of test cases behind those binaries, from gtest's own summary lines.
  cases=$(grep -h '^\[  PASSED  \] [0-9]* test' Testing/Temporary/LastTest.log |
          awk '{ n += $4 } END { print n + 0 }')
  echo "cross.sh: $arch: $cases unit test cases passed under $qemu"
)
echo "cross.sh: $arch unit tests finished in $((SECONDS - test_start))s"

if [ "$lab" -eq 1 ]; then
  lab_start=$SECONDS
  # Both ends are the ARM builds under qemu (ota_cloud is built for ota_unit_verify anyway);
  # mosquitto and nginx are the host's.
  ./scripts/demo.sh --sha256 --size 8 --build-dir "$build_dir" --emulator "$qemu"
  echo "cross.sh: $arch lab job finished in $((SECONDS - lab_start))s"
fi
echo "cross.sh: $arch passed in $((SECONDS - start))s"
