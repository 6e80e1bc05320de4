#!/bin/sh
# themes.sh: the Belarus desk's themes (config/rules.d) against test articles.
#
# 1. `newsmonctl rules check config/rules.d` must report no error and no warning.
# 2. Every file listed in tests/data/themes/expected.tsv (our own articles in
#    six languages, benign Belarus articles, and the five shared samples
#    copied into tests/data/themes/samples/) is classified with
#    `newsmonctl classify --rules config/rules.d`; a theme in MUST that does
#    not fire is a miss, a theme outside MUST and MAY that fires is a false
#    alarm. Each one is printed (with the terms that fired); any fails the test.
#    Files in articles/ or samples/ missing from the manifest fail it too, so
#    a new article cannot be silently ignored.
# 3. Negatives: every page of ../shared/corpora/readability (expected.html and
#    source.html, tags stripped) must get no theme. Skipped, saying so, when
#    that folder is absent.
#
# Environment: NM_SOURCE_DIR, NM_BUILD_DIR (set by ctest). Exit 0 pass, 1 fail,
# 77 skip (newsmonctl not built).
set -u

SRC=${NM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NM_BUILD_DIR:-$SRC/build}
CTL=$BUILD/ctl/newsmonctl
RULES=$SRC/config/rules.d
DATA=$SRC/tests/data/themes
READABILITY=$SRC/../shared/corpora/readability

if [ ! -x "$CTL" ]; then
    echo "themes: SKIP: $CTL is not built"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "themes: SKIP: python3 is needed to compare the results"
    exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nm-themes.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
status=0

# 1. The rule folder loads without errors or warnings.
"$CTL" rules check "$RULES" >"$TMP/check.out" 2>&1
rc=$?
cat "$TMP/check.out"
if [ $rc -ne 0 ]; then
    echo "themes: FAIL: rules check exited with $rc"
    status=1
fi
if grep -Eq ': (error|warning):' "$TMP/check.out"; then
    echo "themes: FAIL: rules check reported errors or warnings (above)"
    status=1
fi

# 2. The manifest.
python3 - "$CTL" "$RULES" "$DATA" "$TMP" <<'EOF' || status=1
import json, os, subprocess, sys

ctl, rules, data, tmp = sys.argv[1:5]
THEMES = {"espionage", "repression", "military", "border", "airspace", "migration",
          "sanctions", "nuclear", "influence", "cyber", "politics"}
manifest = os.path.join(data, "expected.tsv")
failed = False

def fail(msg):
    global failed
    failed = True
    print("themes: FAIL: " + msg)

def theme_list(field, where):
    field = field.strip()
    if field == "-":
        return set()
    out = set()
    for t in field.split(","):
        t = t.strip()
        if t not in THEMES:
            fail("%s: unknown theme id '%s'" % (where, t))
        out.add(t)
    return out

expect = {}
with open(manifest, encoding="utf-8") as f:
    for n, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        where = "expected.tsv:%d" % n
        cols = line.split("\t")
        if len(cols) != 3:
            fail("%s: expected FILE<TAB>MUST<TAB>MAY, got %d column(s)" % (where, len(cols)))
            continue
        path = os.path.normpath(os.path.join(data, cols[0]))
        if not os.path.isfile(path):
            fail("%s: no such file %s" % (where, cols[0]))
            continue
        if path in expect:
            fail("%s: %s is listed twice" % (where, cols[0]))
        must = theme_list(cols[1], where)
        may = theme_list(cols[2], where)
        expect[path] = (cols[0], must, may)

for sub in ("articles", "samples"):
    d = os.path.join(data, sub)
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        p = os.path.normpath(os.path.join(d, name))
        if name.endswith(".txt") and p not in expect:
            fail("%s/%s is not in expected.tsv" % (sub, name))

files = sorted(expect)
res = subprocess.run([ctl, "classify", "--rules", rules] + files,
                     capture_output=True, text=True)
if res.returncode != 0:
    fail("classify exited with %d: %s" % (res.returncode, res.stderr.strip()))
got = {}
for line in res.stdout.splitlines():
    if not line.strip():
        continue
    try:
        obj = json.loads(line)
        got[os.path.normpath(obj["file"])] = {t["id"]: t for t in obj["themes"]}
    except (ValueError, KeyError, TypeError) as e:
        fail("classify printed a line that is not the documented JSON (%s): %s" % (e, line[:200]))

def terms(hit):
    seen = []
    for m in hit.get("matches", []):
        s = "%s@%s:'%s'" % (m.get("term"), m.get("field"), m.get("text"))
        if s not in seen:
            seen.append(s)
    return ", ".join(seen[:8])

misses = alarms = 0
for path in files:
    name, must, may = expect[path]
    if path not in got:
        fail("%s: no result from classify" % name)
        continue
    fired = got[path]
    for t in sorted(must - set(fired)):
        misses += 1
        fail("MISS %s: theme %s did not fire (fired: %s)" % (name, t, ", ".join(fired) or "none"))
    for t in sorted(set(fired) - must - may):
        alarms += 1
        fail("FALSE ALARM %s: theme %s fired (score %s) on %s" % (name, t, fired[t].get("score"), terms(fired[t])))
print("themes: %d files, %d misses, %d false alarms" % (len(files), misses, alarms))
sys.exit(1 if failed else 0)
EOF

# 3. Readability pages: real articles about anything but Belarus (some name
# it in a country or language menu) must get no theme.
if [ -d "$READABILITY" ]; then
    python3 - "$CTL" "$RULES" "$READABILITY" "$TMP/readability" <<'EOF' || status=1
import html.parser, json, os, subprocess, sys

ctl, rules, corpus, out = sys.argv[1:5]
os.makedirs(out, exist_ok=True)

class Text(html.parser.HTMLParser):
    """Collects the visible text of a page and its <title>."""
    SKIP = {"script", "style", "noscript", "template", "svg"}
    BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr",
             "section", "article", "header", "footer", "option", "blockquote"}
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.title, self.skip, self.in_title = [], "", 0, False
    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "title":
            self.in_title = True
        elif tag in self.BLOCK:
            self.parts.append("\n")
    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag == "title":
            self.in_title = False
        elif tag in self.BLOCK:
            self.parts.append("\n")
    def handle_data(self, data):
        if self.skip:
            return
        if self.in_title:
            self.title += data
        else:
            self.parts.append(data)

files = []
for page in sorted(os.listdir(corpus)):
    for kind in ("expected.html", "source.html"):
        src = os.path.join(corpus, page, kind)
        if not os.path.isfile(src):
            continue
        with open(src, "rb") as f:
            raw = f.read().decode("utf-8", "replace")
        p = Text()
        p.feed(raw)
        p.close()
        title = " ".join(p.title.split()) or page
        body = "\n".join(" ".join(l.split()) for l in "".join(p.parts).splitlines() if l.strip())
        dst = os.path.join(out, "%s--%s.txt" % (page, kind[:-5]))
        with open(dst, "w", encoding="utf-8") as f:
            f.write(title + "\n" + body + "\n")
        files.append(dst)

res = subprocess.run([ctl, "classify", "--rules", rules] + files, capture_output=True, text=True)
failed = res.returncode != 0
if failed:
    print("themes: FAIL: classify exited with %d: %s" % (res.returncode, res.stderr.strip()))
n_lines = 0
for line in res.stdout.splitlines():
    obj = json.loads(line)
    n_lines += 1
    for t in obj["themes"]:
        failed = True
        ms = ", ".join(sorted({"%s:'%s'" % (m.get("term"), m.get("text")) for m in t.get("matches", [])})[:8])
        print("themes: FAIL: FALSE ALARM readability %s: theme %s fired (score %s) on %s"
              % (os.path.basename(obj["file"]), t["id"], t.get("score"), ms))
if n_lines != len(files):
    failed = True
    print("themes: FAIL: %d readability files, %d results" % (len(files), n_lines))
print("themes: readability negatives: %d pages checked" % len(files))
sys.exit(1 if failed else 0)
EOF
else
    echo "themes: readability negatives skipped: $READABILITY is absent"
fi

if [ $status -eq 0 ]; then
    echo "themes: PASS"
fi
exit $status
