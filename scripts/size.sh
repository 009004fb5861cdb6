#!/usr/bin/env bash
# The size table: text/data/bss of each library target and of ota_mqtt for x86-64, aarch64 and
# armhf, built at -Os and at -O2 (release, -DNDEBUG, no tests). Six builds, one after another (the
# machine's cores are shared), each in <build root>/<arch>-<opt>; ccache makes a rerun after a
# small change cheap.
#
#   scripts/size.sh                  build and print the Markdown table
#   scripts/size.sh --write-readme   also replace the table in README.md between the size-table
#                                    markers
#   scripts/size.sh --no-build       reuse the existing build folders (print or write only)
#
# Environment: OTA_SIZE_BUILD_ROOT (default <repo>/build-size), OTA_SIZE_JOBS (default 2),
# OTA_SIZE_ARCHES (default "x86-64 aarch64 armhf").
#
# Figures are those of `<triple>-size` (Berkeley format): for a static library the sum over its
# objects (`size -t`), before a program's link keeps only what it uses; for ota_mqtt the linked
# executable (its own code plus the ota code it uses from the static libraries; libstdc++, paho,
# libcurl and Mbed TLS are shared libraries and not counted).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${OTA_SIZE_BUILD_ROOT:-$root/build-size}
jobs=${OTA_SIZE_JOBS:-2}
arches=${OTA_SIZE_ARCHES:-"x86-64 aarch64 armhf"}
opts="Os O2"
libraries="ota_core ota_paho ota_curl ota_hal_posix ota_c_api ota_compat"

write_readme=0
build=1
for arg in "$@"; do
    case "$arg" in
        --write-readme) write_readme=1 ;;
        --no-build) build=0 ;;
        -h | --help)
            sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "size.sh: unknown argument '$arg' (see --help)" >&2
            exit 2
            ;;
    esac
done

# arch -> the prefix of its binutils (empty: the build machine's own) and its toolchain file.
triple_of() {
    case "$1" in
        x86-64) echo "" ;;
        aarch64) echo "aarch64-linux-gnu" ;;
        armhf) echo "arm-linux-gnueabihf" ;;
        *)
            echo "size.sh: unknown architecture '$1'" >&2
            exit 2
            ;;
    esac
}

launcher=()
if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

build_one() {
    local arch=$1 opt=$2 dir=$3 triple
    triple=$(triple_of "$arch")
    local toolchain=()
    if [ -n "$triple" ]; then
        toolchain=(-DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/$triple.cmake")
    fi
    # The Release flags replaced, so the optimisation level is the only difference between the
    # two builds of an architecture.
    cmake -S "$root" -B "$dir" -G Ninja "${toolchain[@]}" "${launcher[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CXX_FLAGS_RELEASE="-$opt -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-$opt -DNDEBUG" \
        -DOTA_BUILD_TESTS=OFF -DOTA_BUILD_EXAMPLES=ON -DOTA_WARNINGS_AS_ERRORS=ON >/dev/null
    # shellcheck disable=SC2086  # the target list is split on purpose
    cmake --build "$dir" -j "$jobs" --target $libraries ota_mqtt >/dev/null
}

# Prints "text data bss" of a file; for an archive, the totals over its objects.
size_of() {
    local size_tool=$1 file=$2
    "$size_tool" -t "$file" | awk 'END { print $1, $2, $3 }'
}

for arch in $arches; do
    for opt in $opts; do
        dir="$build_root/$arch-$opt"
        if [ "$build" = 1 ]; then
            echo "size.sh: building $arch -$opt in $dir" >&2
            build_one "$arch" "$opt" "$dir"
        elif [ ! -d "$dir" ]; then
            echo "size.sh: $dir is missing (run without --no-build)" >&2
            exit 1
        fi
    done
done

# The table: one row per target and architecture, -Os and -O2 side by side.
table=$(mktemp)
trap 'rm -f "$table"' EXIT
{
    echo "| target | arch | -Os text | -Os data | -Os bss | -O2 text | -O2 data | -O2 bss |"
    echo "|---|---|--:|--:|--:|--:|--:|--:|"
    for target in $libraries ota_mqtt; do
        for arch in $arches; do
            triple=$(triple_of "$arch")
            size_tool=${triple:+$triple-}size
            row="| \`$target\` | $arch"
            for opt in $opts; do
                dir="$build_root/$arch-$opt"
                if [ "$target" = ota_mqtt ]; then
                    file="$dir/bin/ota_mqtt"
                else
                    file="$dir/lib$target.a"
                fi
                read -r text data bss < <(size_of "$size_tool" "$file")
                row="$row | $text | $data | $bss"
            done
            echo "$row |"
        done
    done
    echo
    # Which compilers made it, so a reader can tell whether a difference is the code's.
    compilers=""
    for arch in $arches; do
        triple=$(triple_of "$arch")
        version=$("${triple:+$triple-}g++" -dumpfullversion 2>/dev/null || echo "?")
        compilers="$compilers${compilers:+, }$arch GCC $version"
    done
    echo "Bytes, from \`size\` (Berkeley format). A library's row is the sum over the objects of"
    echo "its static archive, so inline and template code used by several objects counts once per"
    echo "object; a program gets one copy, and only the archive members it uses (that is why"
    echo "\`ota_core\` can be larger than \`ota_mqtt\`). \`ota_mqtt\` is the linked executable: its"
    echo "own code and the ota code it uses, not the shared libraries (libstdc++, paho, libcurl,"
    echo "Mbed TLS). Release builds, \`-Os -DNDEBUG\` and \`-O2 -DNDEBUG\`, made by $compilers;"
    echo "produced by \`scripts/size.sh --write-readme\`."
} >"$table"

cat "$table"

if [ "$write_readme" = 1 ]; then
    readme="$root/README.md"
    begin='<!-- size-table:begin -->'
    end='<!-- size-table:end -->'
    if ! grep -qF "$begin" "$readme" || ! grep -qF "$end" "$readme"; then
        echo "size.sh: $readme has no $begin / $end markers" >&2
        exit 1
    fi
    updated=$(mktemp)
    awk -v begin="$begin" -v end="$end" -v table="$table" '
        $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
        $0 == end { skip = 0 }
        !skip { print }
    ' "$readme" >"$updated"
    # Rewritten in place so the file keeps its mode.
    cat "$updated" >"$readme"
    rm -f "$updated"
    echo "size.sh: table written to $readme" >&2
fi
