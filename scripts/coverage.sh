#!/usr/bin/env bash
# Coverage report of src/ and hal/ (the library), and a second one of tools/console/ (ota_console,
# which is not part of the library), from a build made with gcc --coverage whose tests have run
# (scripts/test.sh --coverage makes one and calls this script; it also works on its own).
# Usage: scripts/coverage.sh [BUILD_DIR]      (default: build-coverage)
# Prints gcovr's per-file table, the per-directory figures and the summary; writes
# BUILD_DIR/coverage/index.html (with one page per file), coverage.txt and summary.json.
# BUILD_DIR/coverage/console/ holds the console's report (same thresholds, same exclusions).
# Exit status: 0 when both reports are at or above 90 % line and 70 % branch coverage, non-zero
# below either (or when gcovr fails).
#
# Throw branches and unreachable branches are left out: every call that may throw gets an extra
# exception edge from gcc, and the branches gcc emits on lines without code (closing braces,
# destructor cleanup) are not decisions a test could take. Counting them would measure the
# compiler rather than the tests. The library's figure measures src/ and hal/ only: tests,
# examples, tools and system headers are not the library; the console is reported on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir="${1:-build-coverage}"
min_line=90
min_branch=70

command -v gcovr >/dev/null 2>&1 || { echo "coverage.sh: gcovr not found (scripts/deps.sh installs it)" >&2; exit 2; }
[ -d "$build_dir" ] || { echo "coverage.sh: no build directory $build_dir" >&2; exit 2; }
if [ -z "$(find "$build_dir" -name '*.gcda' -print -quit)" ]; then
  echo "coverage.sh: no .gcda files under $build_dir (build with --coverage and run the tests first)" >&2
  exit 2
fi

out="$build_dir/coverage"
rm -rf "$out"
mkdir -p "$out"

# The timeout: when gcov's output cannot be parsed, gcovr 5.2 with -j reported it and then hung
# instead of exiting (seen in CI); a hang now fails the pass.
# gcovr 5.2 (Debian 12) knows every flag used here. Its filters are regular expressions over
# paths relative to the current directory, hence the cd to the repository root above.
# --fail-under-* exits non-zero only after every report has been written.
status=0
timeout 1800 gcovr --root . --filter 'src/' --filter 'hal/' \
  --exclude-throw-branches --exclude-unreachable-branches \
  -j 2 --sort-percentage \
  --txt "$out/coverage.txt" \
  --html-details "$out/index.html" --html-title "ota coverage (src/ and hal/)" \
  --json-summary-pretty --json-summary "$out/summary.json" \
  --print-summary \
  --fail-under-line "$min_line" --fail-under-branch "$min_branch" \
  "$build_dir" >"$out/summary.log" || status=$?

cat "$out/coverage.txt"

# gcovr 5.2 has no per-directory table; sum the per-file figures by directory (src/<part>, the
# files directly in src/, hal/).
python3 - "$out/summary.json" <<'EOF'
import json, sys
from collections import defaultdict

with open(sys.argv[1]) as f:
    files = json.load(f)["files"]
dirs = defaultdict(lambda: [0, 0, 0, 0])
for entry in files:
    parts = entry["filename"].split("/")
    if parts[0] == "src":
        key = "src/" + parts[1] if len(parts) > 2 else "src/*.cpp"
    else:
        key = parts[0]
    d = dirs[key]
    d[0] += entry["line_covered"]
    d[1] += entry["line_total"]
    d[2] += entry["branch_covered"]
    d[3] += entry["branch_total"]

def pct(a, b):
    return "  -  " if b == 0 else f"{100.0 * a / b:5.1f}"

print(f"{'directory':<16} {'lines':>15} {'%':>6} {'branches':>15} {'%':>6}")
for key in sorted(dirs):
    lc, lt, bc, bt = dirs[key]
    print(f"{key:<16} {lc:>7}/{lt:<7} {pct(lc, lt):>6} {bc:>7}/{bt:<7} {pct(bc, bt):>6}")
EOF

cat "$out/summary.log"
echo "coverage.sh: report in $out/index.html (thresholds: lines $min_line %, branches $min_branch %)"

# The console (tools/console/, built only when its dependencies are there): its own figure, so
# that the library's stays comparable with earlier runs; it includes tools/common/, the helpers the
# console shares with the other tools (its device-message decoder lives there). tools/console/load/
# is left out: it is the benchmark's load generator (bench/console_bench.sh runs it), not the
# console.
if [ -d tools/console ] && [ -n "$(find "$build_dir" -path '*tools/console*' -name '*.gcda' -print -quit)" ]; then
  mkdir -p "$out/console"
  timeout 1800 gcovr --root . --filter 'tools/console/' --filter 'tools/common/' --exclude 'tools/console/load/' \
    --exclude-throw-branches --exclude-unreachable-branches \
    -j 2 --sort-percentage \
    --txt "$out/console/coverage.txt" \
    --html-details "$out/console/index.html" --html-title "ota_console coverage (tools/console/, tools/common/)" \
    --print-summary \
    --fail-under-line "$min_line" --fail-under-branch "$min_branch" \
    "$build_dir" >"$out/console/summary.log" || status=$?
  echo "coverage.sh: ota_console (tools/console/, tools/common/):"
  cat "$out/console/summary.log"
  echo "coverage.sh: report in $out/console/index.html (same thresholds)"
fi
if [ "$status" -ne 0 ]; then
  echo "coverage.sh: below the thresholds or gcovr failed (gcovr exit status $status)" >&2
  exit 1
fi
