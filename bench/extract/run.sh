#!/bin/sh
# Extraction speed: newsmonctl extract (one process, batch mode, all pages)
# against Mozilla Readability on jsdom (one Node process, all pages), on the
# same pages in the same run. Also prints the mean F1 of both against the
# corpus' expected articles, so speed is never bought with quality.
#
#   bench/extract/run.sh [NEWSMONCTL] [CORPUS_DIR]
#
# Defaults: build/ctl/newsmonctl (use a RelWithDebInfo or Release build) and
# ../shared/corpora/readability. Needs node and `npm install` run in
# bench/extract (installs @mozilla/readability and jsdom into node_modules).
# Each side runs ROUNDS times (default 5); the best round counts.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ctl=${1:-$src/build/ctl/newsmonctl}
corpus=${2:-$src/../shared/corpora/readability}
rounds=${ROUNDS:-5}
[ -x "$ctl" ] || { echo "no $ctl: build newsmonctl first (cmake -DCMAKE_BUILD_TYPE=Release)"; exit 77; }
[ -d "$corpus" ] || { echo "no corpus at $corpus"; exit 77; }
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
[ -d "$here/node_modules/@mozilla/readability" ] && [ -d "$here/node_modules/jsdom" ] ||
    { echo "run 'npm install' in $here first"; exit 77; }

files=$(ls "$corpus"/*/source.html)
n=$(echo "$files" | wc -l)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }
best_c=""
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now)
    # shellcheck disable=SC2086
    "$ctl" extract $files > "$tmp/c.jsonl"
    t1=$(now)
    t=$(echo "$t1 - $t0" | bc)
    if [ -z "$best_c" ] || [ "$(echo "$t < $best_c" | bc)" = 1 ]; then best_c=$t; fi
    i=$((i + 1))
done

best_js=""
best_js_wall=""
i=0
while [ $i -lt "$rounds" ]; do
    t0=$(now)
    # shellcheck disable=SC2086
    (cd "$here" && node readability.js $files > "$tmp/js.jsonl" 2> "$tmp/js.err")
    t1=$(now)
    w=$(echo "$t1 - $t0" | bc)
    t=$(sed -n 's/^pages [0-9]* seconds //p' "$tmp/js.err")
    if [ -z "$best_js" ] || [ "$(echo "$t < $best_js" | bc)" = 1 ]; then best_js=$t; fi
    if [ -z "$best_js_wall" ] || [ "$(echo "$w < $best_js_wall" | bc)" = 1 ]; then best_js_wall=$w; fi
    i=$((i + 1))
done

/usr/bin/python3 - "$tmp/c.jsonl" "$tmp/js.jsonl" "$corpus" <<'PY'
import collections, html, json, os, re, sys
from html.parser import HTMLParser
WORD = re.compile(r"\w+", re.UNICODE)
class Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True); self.parts, self.skip = [], 0
    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"): self.skip += 1
    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip: self.skip -= 1
    def handle_data(self, d):
        if not self.skip: self.parts.append(d)
def bag(s): return collections.Counter(w.lower() for w in WORD.findall(s or ""))
def f1(a, b):
    c = sum((a & b).values())
    if not c: return 0.0
    p, r = c / sum(b.values()), c / sum(a.values()); return 2 * p * r / (p + r)
def load(p):
    return {json.loads(l)["file"]: json.loads(l) for l in open(p, encoding="utf-8") if l.strip()}
c, js = load(sys.argv[1]), load(sys.argv[2])
sc, sj = [], []
for f in c:
    t = Text(); t.feed(open(os.path.join(os.path.dirname(f), "expected.html"), encoding="utf-8", errors="replace").read())
    want = bag(" ".join(t.parts))
    sc.append(f1(want, bag(c[f].get("text")))); sj.append(f1(want, bag(js.get(f, {}).get("text"))))
print("quality: mean F1 newsmon %.3f, readability.js %.3f" % (sum(sc) / len(sc), sum(sj) / len(sj)))
PY
echo "pages: $n (best of $rounds rounds each)"
echo "newsmonctl extract (one process, wall clock incl. start-up): ${best_c}s"
echo "readability.js + jsdom (one node process, extraction only):  ${best_js}s  (wall clock incl. start-up: ${best_js_wall}s)"
echo "speed-up: $(echo "scale=1; $best_js / $best_c" | bc)x (extraction only), $(echo "scale=1; $best_js_wall / $best_c" | bc)x (wall clock)"
