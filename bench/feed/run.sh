#!/bin/sh
# Feed-parser benchmark: generates a 5,000-item RSS feed (~12 MB) and times,
# in the same run and on the same file, `newsmonctl parse-feed`, Python's
# feedparser and `xmllint --noout` (a bare libxml2 parse, the floor).
# Prints each time (best of REPEAT runs) and the ratios; targets: at least
# 50x faster than feedparser, within 2x of xmllint.
#   bench/feed/run.sh [--ctl PATH] [--items N] [--repeat K]
# Use an optimised build (-DCMAKE_BUILD_TYPE=Release or RelWithDebInfo).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CTL="$SRC/build/ctl/newsmonctl"
ITEMS=5000
REPEAT=3
while [ $# -gt 0 ]; do
    case "$1" in
    --ctl) CTL=$2; shift 2 ;;
    --items) ITEMS=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    *) echo "usage: $0 [--ctl PATH] [--items N] [--repeat K]" >&2; exit 2 ;;
    esac
done
command -v xmllint >/dev/null || { echo "bench: xmllint missing (apt-get install libxml2-utils)" >&2; exit 1; }
/usr/bin/python3 -c 'import feedparser' || { echo "bench: python3-feedparser missing" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: $CTL not found (use --ctl)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FEED="$TMP/feed.xml"
/usr/bin/python3 "$HERE/gen_feed.py" "$FEED" "$ITEMS"
SIZE=$(wc -c <"$FEED")

# best_of CMD...: prints the best wall time in seconds of REPEAT runs.
best_of() {
    best=""
    i=0
    while [ $i -lt "$REPEAT" ]; do
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "bench: command failed: $*" >&2; exit 1; }
        t1=$(date +%s.%N)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best=$t; fi
        i=$((i + 1))
    done
    echo "$best"
}

n=$("$CTL" parse-feed "$FEED" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" = "$ITEMS" ] || { echo "bench: newsmonctl read $n entries, expected $ITEMS" >&2; exit 1; }
T_OURS=$(best_of "$CTL" parse-feed "$FEED")
T_XMLLINT=$(best_of xmllint --noout "$FEED")
T_FP=$(best_of /usr/bin/python3 -c 'import sys, feedparser; d = feedparser.parse(open(sys.argv[1], "rb").read()); assert len(d.entries) > 0' "$FEED")

printf 'feed: %s items, %s bytes\n' "$ITEMS" "$SIZE"
printf 'newsmonctl parse-feed  %8.3f s\n' "$T_OURS"
printf 'xmllint --noout        %8.3f s\n' "$T_XMLLINT"
printf 'python3 feedparser     %8.3f s\n' "$T_FP"
R_FP=$(awk -v a="$T_FP" -v b="$T_OURS" 'BEGIN { print a / b }')
R_XL=$(awk -v a="$T_OURS" -v b="$T_XMLLINT" 'BEGIN { print a / b }')
printf 'ratio: %.1fx faster than feedparser (target >= 50x)\n' "$R_FP"
printf 'ratio: %.2fx the time of xmllint --noout (target <= 2x)\n' "$R_XL"
