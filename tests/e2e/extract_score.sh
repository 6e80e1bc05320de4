#!/bin/sh
# Extraction quality on Mozilla Readability's test pages: runs
# ../shared/tools/extract-score over ../shared/corpora/readability with
# `newsmonctl extract` and fails below mean F1 0.97, below 90% exact titles,
# or on any crash or timeout. Skipped (77) when the corpus is absent.
set -u
src=${NM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${NM_BUILD_DIR:-$src/build}
corpus="$src/../shared/corpora/readability"
tool="$src/../shared/tools/extract-score"
if [ ! -d "$corpus" ] || [ ! -x "$tool" ]; then
    echo "skipped: $corpus or $tool is absent"
    exit 77
fi
out=$("$tool" --cmd "$build/ctl/newsmonctl extract" --show 10 "$corpus") || { echo "extract-score failed"; exit 1; }
echo "$out"
echo "$out" | tail -n 1 | /usr/bin/python3 -c '
import re, sys
line = sys.stdin.read()
m = re.search(r"mean F1 ([0-9.]+) over (\d+) pages \(title exact: (\d+)/(\d+), crashes: (\d+), timeouts: (\d+)", line)
if not m:
    sys.exit("cannot read the score line: " + line)
f1, pages, tok, tall, crashes, timeouts = float(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6])
bad = []
if pages == 0: bad.append("no pages scored")
if f1 < 0.97: bad.append("mean F1 %.3f < 0.97" % f1)
if tall and tok < 0.9 * tall: bad.append("titles %d/%d < 90%%" % (tok, tall))
if crashes: bad.append("%d crashes" % crashes)
if timeouts: bad.append("%d timeouts" % timeouts)
if bad:
    sys.exit("FAIL: " + ", ".join(bad))
print("OK: mean F1 %.3f, titles %d/%d" % (f1, tok, tall))
'
