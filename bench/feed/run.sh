#!/bin/sh
# Feed-parser benchmark: generates a 5,000-item RSS feed (~12 MB) and times,
# in the same run and on the same file, `newsmonctl parse-feed`, Python's
# feedparser and `xmllint --noout` (a bare libxml2 parse, the floor).
# Prints the median wall time of REPEAT interleaved rounds (after one
# warm-up run each: the file is in the page cache for all; in each round
# every command runs twice in a row and the second run, right after a run
# of itself, is the one measured: see measure.py), their median CPU time,
# and the ratios; targets: at least 50x faster than feedparser, within 2x
# of xmllint. The first runs (right after the command before in the round,
# for newsmonctl that is feedparser) are shown too. All three read the same
# file; newsmonctl writes its JSON (to /dev/null), xmllint writes nothing,
# feedparser builds its objects.
#   bench/feed/run.sh [--ctl PATH] [--items N] [--repeat K]
# Use an optimised build (-DCMAKE_BUILD_TYPE=Release or RelWithDebInfo).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CTL="$SRC/build/ctl/newsmonctl"
ITEMS=5000
REPEAT=5
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

# measure.py warms each command up once, then runs REPEAT rounds of all
# three in turn (so load from the rest of the machine falls on each alike),
# each command twice in a row, and prints the median wall and CPU time
# (user + system) of the second runs, and of the first.
n=$("$CTL" parse-feed "$FEED" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" = "$ITEMS" ] || { echo "bench: newsmonctl read $n entries, expected $ITEMS" >&2; exit 1; }
FP="/usr/bin/python3 -c 'import sys, feedparser; d = feedparser.parse(open(sys.argv[1], \"rb\").read()); assert len(d.entries) > 0' $FEED"
/usr/bin/python3 "$HERE/measure.py" "$REPEAT" "ours=$CTL parse-feed $FEED" "xmllint=xmllint --noout $FEED" \
    "feedparser=$FP" >"$TMP/times" || exit 1
get() { sed -n "s/^$1 \(.* \)*$2=\([0-9.]*\).*/\2/p" "$TMP/times"; }
T_OURS=$(get ours wall) C_OURS=$(get ours cpu) F_OURS=$(get ours first_wall)
T_XMLLINT=$(get xmllint wall) C_XMLLINT=$(get xmllint cpu) F_XMLLINT=$(get xmllint first_wall)
T_FP=$(get feedparser wall) C_FP=$(get feedparser cpu) F_FP=$(get feedparser first_wall)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

printf 'feed: %s items, %s bytes; median of %s interleaved rounds after a warm-up run, each command\n' \
    "$ITEMS" "$SIZE" "$REPEAT"
printf 'measured right after a run of itself (in brackets: the run before it, after the previous command)\n'
printf 'newsmonctl parse-feed  %8.3f s  (%.3f s after feedparser)\n' "$T_OURS" "$F_OURS"
printf 'xmllint --noout        %8.3f s  (%.3f s after newsmonctl)\n' "$T_XMLLINT" "$F_XMLLINT"
printf 'python3 feedparser     %8.3f s  (%.3f s after xmllint)\n' "$T_FP" "$F_FP"
printf 'cpu: newsmonctl %.3f s, xmllint %.3f s, feedparser %.3f s (user + system)\n' "$C_OURS" "$C_XMLLINT" "$C_FP"
printf 'ratio: %.1fx faster than feedparser (target >= 50x); cpu %.1fx; first runs: %.1fx\n' \
    "$(ratio "$T_FP" "$T_OURS")" "$(ratio "$C_FP" "$C_OURS")" "$(ratio "$F_FP" "$F_OURS")"
printf 'ratio: %.2fx the time of xmllint --noout (target <= 2x); cpu %.2fx; first runs: %.2fx\n' \
    "$(ratio "$T_OURS" "$T_XMLLINT")" "$(ratio "$C_OURS" "$C_XMLLINT")" "$(ratio "$F_OURS" "$F_XMLLINT")"
# For reference, libxml2's own bare parse against feedparser (newsmonctl
# reads most feeds without libxml2's parser: fetcher/feed_xmlfast.c).
printf 'reference: xmllint --noout itself is %.1fx faster than feedparser; cpu %.1fx\n' \
    "$(ratio "$T_FP" "$T_XMLLINT")" "$(ratio "$C_FP" "$C_XMLLINT")"
