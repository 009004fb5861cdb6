#!/usr/bin/env bash
# The console's browser test (ctest console_web_browser, fixture `lab`): a real ota_console on the
# lab's broker with two `ota_mqtt --serve` devices at 1.0.0, and the page driven in Debian's
# chromium by playwright-core (browser_test.cjs): upload, verify rollout, a second rollout canceled.
# Screenshots (PNG) go to SHOTS_DIR. Everything started here is stopped on exit; waits are bounded.
#
# Usage: browser_test.sh SOURCE_DIR BIN_DIR LAB_ENV_FILE WORK_DIR SHOTS_DIR
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: browser_test.sh SOURCE_DIR BIN_DIR LAB_ENV WORK_DIR SHOTS_DIR" >&2; exit 2; }
src=$1
bin=$2
lab_env=$3
work=$4
shots=$5
here="$src/tests/console/web"
CC_NAME=console_web_browser
chromium=${OTA_CHROMIUM:-/usr/bin/chromium}

[ -x "$chromium" ] || { echo "$CC_NAME: $chromium is missing (apt-get install chromium)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "$CC_NAME: node and npm are needed" >&2; exit 1; }
for b in ota_console ota_mqtt; do
  [ -x "$bin/$b" ] || { echo "$CC_NAME: no $bin/$b (build it)" >&2; exit 1; }
done
[ -f "$lab_env" ] || { echo "$CC_NAME: no lab ($lab_env): run with the lab fixture" >&2; exit 1; }
# shellcheck disable=SC1090
. "$lab_env"

# playwright-core, pinned in package.json, installed once into the build directory (no lock file:
# .npmrc says package-lock=false). Reinstalled when package.json changes.
node_dir="$(dirname "$work")/node"
wanted=$(sed -n 's/.*"playwright-core": *"\([^"]*\)".*/\1/p' "$here/package.json")
have=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$node_dir/node_modules/playwright-core/package.json" 2>/dev/null || true)
if [ "$have" != "$wanted" ]; then
  mkdir -p "$node_dir"
  cp "$here/package.json" "$here/.npmrc" "$node_dir/"
  echo "$CC_NAME: installing playwright-core $wanted into $node_dir"
  (cd "$node_dir" && timeout 300 npm install --no-package-lock --no-audit --no-fund --loglevel=error) ||
    { echo "$CC_NAME: npm install failed" >&2; exit 1; }
fi

rm -rf "$work"
mkdir -p "$work" "$shots"
rm -f "$shots"/*.png
CC_BIN=$bin
CC_WORK=$work
# shellcheck source=../../../scripts/console_lib.sh
. "$src/scripts/console_lib.sh"

ok=0
cleanup() {
  local rc=$?
  cc_stop_all
  if [ "$ok" -ne 1 ]; then
    for f in "$work"/*.log; do
      [ -f "$f" ] || continue
      echo "---- $(basename "$f") (last lines)"
      # The console prints the API token once at its first start: keep it out of test logs.
      grep -v 'API token' "$f" | tail -n 30
    done
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A product key and share group of our own: other console tests may use the same broker at once.
suffix=$(openssl rand -hex 3)
pk="a1Web$suffix"
devices=("web-dev-1-$suffix" "web-dev-2-$suffix")

cc_start_console "$work/data" --share-group "web_$suffix" --online-window-s 600
echo "$CC_NAME: console at $CC_URL"
for dn in "${devices[@]}"; do cc_add_device "$pk" "$dn"; done
cc_register "$pk" "${devices[@]}"
# A registered device whose name and tag look like HTML: the page must show them as text.
xss_pk="a1Xss$suffix"
cc_api POST /devices -H 'Content-Type: application/json' \
  --data "{\"devices\":[{\"product_key\":\"$xss_pk\",\"device_name\":\"<i>xss-$suffix\",\"tags\":[\"<i>tag\"]}]}" >/dev/null
for dn in "${devices[@]}"; do cc_start_device "$pk" "$dn" 1.0.0; done
cc_check_no_secret_on_argv "${devices[@]}"

# Wait (<= 30 s) until the console has seen both devices report 1.0.0.
for ((i = 0; i < 150; i++)); do
  n=$(cc_api GET "/devices?product_key=$pk&version=1.0.0" | grep -o '"device_name"' | wc -l || true)
  [ "$n" -eq 2 ] && break
  sleep 0.2
done
[ "$n" -eq 2 ] || cc_die "the console saw $n of 2 devices report 1.0.0"

head -c 300000 /dev/urandom >"$work/firmware-1.1.0.bin"
head -c 200000 /dev/urandom >"$work/firmware-1.2.0.bin"

OTA_TEST_URL=$CC_URL OTA_TEST_TOKEN_FILE=$CC_TOKEN_FILE OTA_TEST_PK=$pk OTA_TEST_XSS_PK=$xss_pk \
  OTA_TEST_DEVICES="${devices[*]}" OTA_TEST_WORK=$work OTA_TEST_SHOTS=$shots \
  OTA_CHROMIUM=$chromium OTA_NODE_MODULES="$node_dir/node_modules" \
  timeout 240 node "$here/browser_test.cjs"

# The devices really installed what the page uploaded: each stored image is one of the two files
# (the first device may also have taken 1.2.0 before the second rollout was canceled).
for dn in "${devices[@]}"; do
  cmp -s "$work/$dn.bin" "$work/firmware-1.1.0.bin" || cmp -s "$work/$dn.bin" "$work/firmware-1.2.0.bin" ||
    cc_die "$dn stored no uploaded image"
done
ok=1
echo "$CC_NAME: OK (screenshots in $shots)"
