#!/usr/bin/env bash
# PooledCurlByteSource vs CurlByteSource (issue 13): N downloads of one 1 MiB file from a
# throwaway lab's nginx over HTTPS, each hashed with SHA-256 and checked, C at a time:
#   pool     one CurlTransferPool with K threads, C sources read (and hashed) by M consumer
#            threads woken by the sources' ready callbacks;
#   threads  C threads, each a CurlByteSource downloading one transfer after another.
# Prints both lines side by side (wall time, MiB/s, CPU seconds, peak RSS, threads).
# C is bounded by the lab nginx's worker_connections (scripts/lab.sh) and by `ulimit -n` (raised
# to the hard limit here): the thread-per-transfer mode uses about 3 descriptors per transfer.
#
# Usage: bench/pool_bench.sh [--transfers N (400)] [--concurrency C (200)] [--threads K (2)]
#          [--consumers M (2)]
#          [--size BYTES (1048576)] [--build-dir DIR (build)]
set -euo pipefail
cd "$(dirname "$0")/.."

transfers=400
concurrency=200
threads=2
consumers=2
size=$((1024 * 1024))
build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --transfers) transfers=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --consumers) consumers=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    *) echo "pool_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cmake --build "$build" -j2 --target ota_pool_bench >/dev/null
bin="$build/bin/ota_pool_bench"

lab=$(mktemp -d /tmp/ota-pool-bench.XXXXXX)
cleanup() { ./scripts/lab.sh stop "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"; }
trap cleanup EXIT
./scripts/lab.sh start "$lab" >/dev/null
# shellcheck disable=SC1091
. "$lab/lab.env"
head -c "$size" /dev/urandom >"$WWW_DIR/image.bin"
sha=$(sha256sum "$WWW_DIR/image.bin" | cut -d' ' -f1)
url="https://127.0.0.1:$HTTPS_PORT/image.bin"

echo "pool_bench: $transfers transfers of $size bytes, $concurrency at a time, from nginx on loopback (HTTPS)"
common=(--url "$url" --ca "$CA_FILE" --sha256 "$sha" --transfers "$transfers"
        --concurrency "$concurrency")
"$bin" --mode pool --threads "$threads" --consumers "$consumers" "${common[@]}"
"$bin" --mode threads "${common[@]}"
# Memory of open sources whose rings are full (transfers paused), per source above the pool's.
"$bin" --mode hold --threads "$threads" "${common[@]}" | grep '^hold:'
