#!/usr/bin/env bash
# Formats the C and C++ sources with the committed .clang-format, or checks them.
# Usage: scripts/format.sh          rewrite every tracked source file in place
#        scripts/format.sh --check  list the files that drift and exit 1 (changes nothing)
# The formatter is Debian's clang-format (14 on Debian 12); scripts/deps.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

fmt="${CLANG_FORMAT:-clang-format}"
command -v "$fmt" >/dev/null 2>&1 || { echo "format.sh: $fmt not found" >&2; exit 2; }

mapfile -t files < <(git ls-files '*.c' '*.h' '*.cpp' '*.hpp')
case "${1:-}" in
  --check)
    drift=()
    for f in "${files[@]}"; do
      if ! "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1; then drift+=("$f"); fi
    done
    if [ ${#drift[@]} -gt 0 ]; then
      echo "format.sh: ${#drift[@]} file(s) differ from .clang-format (run scripts/format.sh):" >&2
      printf '  %s\n' "${drift[@]}" >&2
      exit 1
    fi
    echo "format.sh: ${#files[@]} files match .clang-format"
    ;;
  "")
    "$fmt" -i "${files[@]}"
    ;;
  *) echo "format.sh: unknown option $1" >&2; exit 2 ;;
esac
