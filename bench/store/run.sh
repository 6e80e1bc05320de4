#!/bin/sh
# Store benchmark: builds bench/store/store_bench.c against a build's
# libnmstore.a and libnmcommon.a, then measures store_ingest throughput
# against the sqlite3 shell importing the same rows, and search latency.
#
# usage: bench/store/run.sh [BUILD_DIR] [N]
#   BUILD_DIR  a configured and built tree (default: build); build it with
#              -DCMAKE_BUILD_TYPE=Release for meaningful figures
#   N          articles to generate (default 100000)
# Exit status 0 when the targets hold (>= 5000 articles/s, p99 < 50 ms).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
n=${2:-100000}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
for lib in store/libnmstore.a common/libnmcommon.a; do
    if [ ! -f "$build/$lib" ]; then
        echo "run.sh: $build/$lib not found: build the tree first (cmake --build $build --target nmstore)" >&2
        exit 2
    fi
done
command -v sqlite3 >/dev/null || { echo "run.sh: the sqlite3 shell is needed (apt-get install sqlite3)" >&2; exit 2; }
work=$(mktemp -d /tmp/nm-store-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -D_GNU_SOURCE -I"$src" -o "$work/store_bench" "$here/store_bench.c" \
    "$build/store/libnmstore.a" "$build/common/libnmcommon.a" \
    $(pkg-config --cflags --libs sqlite3 jansson libutf8proc libsodium libzmq inih libcurl libsystemd) -lm
echo "store bench: $n articles, sqlite $(sqlite3 --version | cut -d' ' -f1), build $build"
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg) on $(nproc) CPUs"
rc=0
"$work/store_bench" "$work" "$n" || rc=$?
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
exit $rc
