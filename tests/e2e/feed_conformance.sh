#!/bin/sh
# Differential conformance of `newsmonctl parse-feed` against Python's
# feedparser on feedparser's own test corpus (../shared/corpora/feedparser).
# Fails below 98% of fields agreeing, or on any crash or timeout.
# Skips (77) when the shared corpus or tool is absent.
set -u
SRC=${NM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NM_BUILD_DIR:-$SRC/build}
SHARED="$SRC/../shared"
TOOL="$SHARED/tools/feed-conformance"
CORPUS="$SHARED/corpora/feedparser"
CTL="$BUILD/ctl/newsmonctl"
if [ ! -x "$TOOL" ] || [ ! -d "$CORPUS" ]; then
    echo "feed_conformance: skipped: $TOOL or $CORPUS not found" >&2
    exit 77
fi
if ! /usr/bin/python3 -c 'import feedparser' 2>/dev/null; then
    echo "feed_conformance: skipped: python3-feedparser is not installed" >&2
    exit 77
fi
[ -x "$CTL" ] || { echo "feed_conformance: $CTL not built" >&2; exit 1; }
out=$("$TOOL" --cmd "$CTL parse-feed" --show 20 "$CORPUS") || { echo "$out"; exit 1; }
echo "$out"
last=$(printf '%s\n' "$out" | tail -n 1)
# conformance: 98.3% of 574 fields agree (crashes: 0, timeouts: 0)
pct=$(printf '%s\n' "$last" | sed -n 's/^conformance: \([0-9.]*\)% .*/\1/p')
crashes=$(printf '%s\n' "$last" | sed -n 's/.*crashes: \([0-9]*\).*/\1/p')
timeouts=$(printf '%s\n' "$last" | sed -n 's/.*timeouts: \([0-9]*\).*/\1/p')
if [ -z "$pct" ] || [ -z "$crashes" ] || [ -z "$timeouts" ]; then
    echo "feed_conformance: cannot read the tool's result line: $last" >&2
    exit 1
fi
if [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ]; then
    echo "feed_conformance: FAIL: $crashes crashes, $timeouts timeouts" >&2
    exit 1
fi
if ! awk -v p="$pct" 'BEGIN { exit !(p >= 98.0) }'; then
    echo "feed_conformance: FAIL: $pct% is below 98%" >&2
    exit 1
fi
echo "feed_conformance: OK ($pct%)"
