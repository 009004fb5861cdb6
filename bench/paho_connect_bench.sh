#!/usr/bin/env bash
# Many MQTT channels in one process (issue 13): builds ota_paho_connect_bench, starts a private
# lab (mosquitto with TLS) and runs the program: N PahoChannels started with start_connect() from
# one thread (all at once, then paced), then idle. Prints connects/s, connect latency, RSS and
# heap per idle TLS channel above a one-channel base, and the plain-TCP figures beside them.
# The lab's cloud user connects N times with distinct client ids. Each TLS case runs without and
# with the receive-thread waker (--waker: tools/fleet's ConnectWaker, paho issue 1430), in turn
# against the same lab. Not run in CI.
#
# Usage: bench/paho_connect_bench.sh [--count N] [--rate N]   (defaults 2000, 500)
set -euo pipefail
cd "$(dirname "$0")/.."
count=2000
rate=500
while [ $# -gt 0 ]; do
  case "$1" in
    --count) count=$2; shift ;;
    --rate) rate=$2; shift ;;
    *) echo "paho_connect_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
build=${OTA_BUILD_DIR:-build}
ninja -C "$build" ota_paho_connect_bench >/dev/null
lab=$(mktemp -d /tmp/paho-bench-lab.XXXXXX)
trap 'scripts/lab.sh stop "$lab" >/dev/null 2>&1 || true; rm -rf "$lab"' EXIT
scripts/lab.sh start "$lab" >/dev/null
bin="$build/bin/ota_paho_connect_bench"
echo "== TLS, all at once"; "$bin" --env "$lab/lab.env" --count "$count"
echo "== TLS, all at once, waker"; "$bin" --env "$lab/lab.env" --count "$count" --waker
echo "== TLS, paced at $rate/s"; "$bin" --env "$lab/lab.env" --count "$count" --rate "$rate"
echo "== TLS, paced at $rate/s, waker"
"$bin" --env "$lab/lab.env" --count "$count" --rate "$rate" --waker
echo "== plain TCP, all at once"; "$bin" --env "$lab/lab.env" --count "$count" --tcp
