#!/usr/bin/env bash
# The ota_console benchmark (issue 12, "Performance"), on loopback: starts a throwaway lab
# (scripts/lab.sh: mosquitto with TLS, passwords and ACL), an ota_console on it (SQLite in a
# fresh data directory, or with --db pg a throwaway PostgreSQL cluster from scripts/pg.sh), and
# runs tools/console/load's ota_console_load against it:
#   push      a rollout of 1,000 devices at an unlimited push rate (force): time from the POST to
#             the last push seen by a subscriber of /ota/device/upgrade/+/+;
#   progress  2,000 devices in a rollout each report progress every second for --duration s
#             (spread evenly over each second) while a second thread times GET /rollouts/{id}
#             and GET /rollouts/{id}/tasks?limit=100, /metrics is sampled once a second
#             (messages received/processed, queue depth) and a plain paho subscriber receives
#             the same flow (no console work: the broker's own limit).
# Prints the figures and a verdict against the issue's targets: every push of the 1,000-device
# rollout out within 5 s; at 2,000 devices/s no growing backlog and API p99 under 100 ms.
# The simulated devices publish through --connections MQTT connections of the lab's cloud user
# (plain MQTT on loopback unless --load-tls; the console itself uses TLS, as in production).
#
# Usage: bench/console_bench.sh [--db sqlite|pg] [--duration S (20)] [--devices N (2000)]
#          [--push-devices N (1000)] [--connections K (8)] [--load-tls] [--build-dir DIR]
#          [--json FILE] [--update-readme]
# --build-dir DIR takes ota_console and ota_console_load from DIR/bin (else a Release build in
# build-release). --json FILE keeps ota_console_load's whole summary (with the per-second
# samples). --update-readme puts the report between <!-- console-bench:begin --> and
# <!-- console-bench:end --> in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

db=sqlite
duration=20
devices=2000
push_devices=1000
connections=8
load_tls=0
build=""
update=0
json_out=""
args_given="$*"
while [ $# -gt 0 ]; do
  case "$1" in
    --db) db=$2; shift ;;
    --duration) duration=$2; shift ;;
    --devices) devices=$2; shift ;;
    --push-devices) push_devices=$2; shift ;;
    --connections) connections=$2; shift ;;
    --load-tls) load_tls=1 ;;
    --build-dir) build=$2; shift ;;
    --json) json_out=$2; shift ;;
    --update-readme) update=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "console_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$db" in sqlite|pg) ;; *) echo "console_bench.sh: --db is sqlite or pg" >&2; exit 2 ;; esac

name=console_bench.sh
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
./scripts/deps.sh python3

if [ -n "$build" ]; then
  for b in ota_console ota_console_load; do
    [ -x "$build/bin/$b" ] || { echo "$name: no $build/bin/$b (build it first)" >&2; exit 2; }
  done
else
  build="build-release"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOTA_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" -j2 --target ota_console ota_console_load >/dev/null
fi

work=$(mktemp -d /tmp/console-bench.XXXXXX)
console_pid=""
pg_started=0
cleanup() {
  local rc=$?
  if [ -n "$console_pid" ]; then
    kill "$console_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$console_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$console_pid" 2>/dev/null || true
  fi
  [ "$pg_started" = 0 ] || "$root/scripts/pg.sh" stop "$work/pg" >/dev/null 2>&1 || true
  "$root/scripts/lab.sh" stop "$work/lab" >/dev/null 2>&1 || true
  [ "$rc" = 0 ] || { echo "$name: console log (last 30 lines):" >&2; tail -30 "$work/console.log" >&2 2>/dev/null || true; }
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "$name: interrupted" >&2; exit 130' INT TERM

mkdir -p "$work/lab"
./scripts/lab.sh start "$work/lab" >/dev/null
# shellcheck disable=SC1091
. "$work/lab/lab.env"
db_args=()
if [ "$db" = pg ]; then
  [ -x "$root/scripts/pg.sh" ] || { echo "$name: scripts/pg.sh is missing" >&2; exit 1; }
  pg_started=1
  "$root/scripts/pg.sh" start "$work/pg" >/dev/null
  # shellcheck disable=SC1091
  . "$work/pg/pg.env"
  db_args=(--db "$PG_URL")
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy_before=$(busy_percent)
OTA_CONSOLE_BROKER_PASSWORD=$CLOUD_PASSWORD "$build/bin/ota_console" --data "$work/data" \
  "${db_args[@]}" --broker-host 127.0.0.1 --broker-port "$MQTT_TLS_PORT" --broker-ca "$CA_FILE" \
  --broker-user "$CLOUD_USER" --http-bind 127.0.0.1 --http-port 0 \
  --tls-cert "$LAB_DIR/pki/server.pem" --tls-key "$LAB_DIR/pki/server.key" \
  --ready-file "$work/ready.json" >"$work/console.log" 2>&1 &
console_pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/ready.json" ] && break
  kill -0 "$console_pid" 2>/dev/null || { echo "$name: ota_console exited" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/ready.json" ] || { echo "$name: ota_console not ready within 60 s" >&2; exit 1; }
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/ready.json")
token_file=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token_file"])' "$work/ready.json")

# CPU time (clock ticks) of the console: fields 14 and 15 of /proc/PID/stat.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$console_pid/stat"; }
ticks0=$(cpu_ticks)
load_broker=(--broker-port "$MQTT_TCP_PORT" --broker-no-tls)
[ "$load_tls" = 0 ] || load_broker=(--broker-port "$MQTT_TLS_PORT" --broker-ca "$CA_FILE")
load_cmd=("$build/bin/ota_console_load" --url "$url" --ca-file "$CA_FILE" --token-file "$token_file"
  "${load_broker[@]}" --broker-user "$CLOUD_USER" --connections "$connections"
  --push-devices "$push_devices" --progress-devices "$devices" --duration "$duration")
echo "$name: ${load_cmd[*]}" >&2
t0=$(date +%s)
OTA_LOAD_BROKER_PASSWORD=$CLOUD_PASSWORD "${load_cmd[@]}" >"$work/summary.json"
wall=$(($(date +%s) - t0))
ticks1=$(cpu_ticks)
hwm=$(awk '/^VmHWM/{print $2}' "/proc/$console_pid/status")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$work/summary.json" >"$work/report.md" <<PY
import json, sys
s = json.load(open(sys.argv[1]))
push, prog = s["push"], s["progress"]
con, base, api = prog["console"], prog["baseline"], prog["api"]
ticks = $ticks1 - $ticks0
hz = int("$(getconf CLK_TCK)")
push_ok = push["all_pushed"] and push["last_push_s"] is not None and push["last_push_s"] <= 5
api_ok = api["all"]["p99_ms"] < 100 and api["errors"] == 0
prog_ok = (not con["backlog_growing"]) and api_ok
def sec(x): return "-" if x is None else f"{x:.2f}"
def ms(p): return f'{p["p50_ms"]:.1f} / {p["p99_ms"]:.1f} / {p["max_ms"]:.1f}'
print(f'**ota_console** ($db store), \`bench/console_bench.sh $args_given\`, loopback; '
      f'{s["cpus"]} CPUs ($busy_before % busy in the second before the console started), '
      f'load average $load_before before and $load_after after.')
print()
print('| figure | measured | target |')
print('|---|---|---|')
print(f'| push: {push["devices"]}-device rollout, unlimited rate, POST -> last push | '
      f'{sec(push["last_push_s"])} s ({push["devices_pushed"]}/{push["devices"]} devices, '
      f'first after {sec(push["first_push_s"])} s, POST {push["post_ms"]:.0f} ms) | all within 5 s |')
print(f'| progress: {prog["devices"]} devices x 1/s for {prog["duration_s"]} s | '
      f'{prog["published"]} sent at {prog["achieved_rate_per_s"]:.0f}/s | {prog["rate_per_s"]:.0f}/s |')
print(f'| console: processed / lag at the end / lag slope | {con["processed"]} / {con["lag_end"]} / '
      f'{con["lag_slope_per_s"]:+.1f} per s (max queue {con["max_queue_depth"]}, '
      f'{"drained in" if con.get("drained", True) else "NOT drained after"} {con["drain_s"]:.1f} s, '
      f'lost {con["lost"]}, dropped by the console {con.get("dropped", 0)}) | no growing backlog |')
print(f'| plain subscriber (broker only): received / lag at the end | {base["received"]} / '
      f'{base["lag_end"]} | (baseline) |')
print(f'| API GET /rollouts/{{id}} p50 / p99 / max | {ms(api["rollout"])} ms (n={api["rollout"]["n"]}) | p99 < 100 ms |')
print(f'| API GET /rollouts/{{id}}/tasks?limit=100 | {ms(api["tasks"])} ms (n={api["tasks"]["n"]}) | p99 < 100 ms |')
print(f'| API errors during the load | {api["errors"]} | 0 |')
print(f'| console CPU time / peak RSS over the run | {ticks / hz:.1f} s in ${wall} s / {int("$hwm") / 1024:.0f} MiB | |')
depths = " ".join(str(x["queue_depth"]) for x in prog["samples"])
print()
print(f'Console queue depth once a second during the progress load: {depths}.')
print()
print(f'Verdict: push {"MET" if push_ok else "MISSED"}; progress {"MET" if prog_ok else "MISSED"} '
      f'(backlog {"growing" if con["backlog_growing"] else "not growing"}, API p99 '
      f'{api["all"]["p99_ms"]:.1f} ms).')
PY
{
  echo
  echo "Produced by \`bench/console_bench.sh\` at commit $(git rev-parse --short HEAD) on $(date -u +%Y-%m-%d)"
  # shellcheck disable=SC1091
  echo "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(. /etc/os-release && echo "$PRETTY_NAME"))."
} >>"$work/report.md"
echo
cat "$work/report.md"
echo
echo "raw summary (ota_console_load):"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["progress"].pop("samples",None); print(json.dumps(s))' "$work/summary.json"
[ -z "$json_out" ] || cp "$work/summary.json" "$json_out"
[ "$update" = 0 ] || replace_readme_block console-bench "$work/report.md"
