#!/bin/sh
# Hyperscan against the rule engine's own term lookup (see hs_compare.c
# for what is compared and why that way). Builds hs_compare.c against a
# build tree's libnmrules.a and libnmcommon.a and runs it on the input of
# bench/rules/gen.py (generated as run.sh does when absent).
#
# usage: bench/rules/hs_compare.sh [BUILD_DIR] [WORKDIR]
#   BUILD_DIR  a configured and built tree (default: build), optimised
#              (-DCMAKE_BUILD_TYPE=RelWithDebInfo or Release)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
work=${2:-${TMPDIR:-/tmp}/newsmon-bench-rules}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
for lib in classifier/libnmrules.a common/libnmcommon.a; do
    [ -f "$build/$lib" ] || { echo "hs_compare.sh: $build/$lib not found: build the tree first" >&2; exit 2; }
done
pkg-config --exists libhs || { echo "hs_compare.sh: Hyperscan (libhyperscan-dev) is not installed" >&2; exit 2; }
if [ ! -f "$work/terms.txt" ] || [ ! -d "$work/articles" ]; then
    echo "generating input in $work ..."
    python3 "$here/gen.py" "$work"
fi
tmp=$(mktemp -d /tmp/nm-hs-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$src" -o "$tmp/hs_compare" "$here/hs_compare.c" \
    "$build/classifier/libnmrules.a" "$build/common/libnmcommon.a" \
    $(pkg-config --cflags --libs libhs libutf8proc jansson libsodium) -lpthread -lm
"$tmp/hs_compare" "$work/rules" "$work/terms.txt" "$work"/articles/*.txt
