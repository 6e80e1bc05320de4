#!/bin/sh
# rules_cli.sh: newsmonctl's rule commands on tests/data/rules/cli/.
#
# 1. `rules check` accepts the good folder (exit 0, "rules OK: 2 themes")
#    and refuses the bad one (exit 1, "file:line:col: error: ...").
# 2. `classify --rules DIR` on a .txt, a .json and an .html file prints one
#    JSON line per file in the contract shape
#    {"file","themes":[{"id","score","severity","matches":[{"term","field","offset","text"}]}]}
#    (no other keys, the right types), each match's text is what the
#    article holds at that offset, espionage fires on all three and
#    nuclear on none; a missing file and broken JSON are errors naming
#    the file (exit 1), and the other files are still classified.
# 3. `rules test` on the .html file and on the same page served over HTTP
#    shows espionage FIRED with its score lines and nuclear "not fired"
#    because match did not hold.
#
# Environment: NM_SOURCE_DIR, NM_BUILD_DIR (set by ctest). Exit 0 pass,
# 1 fail, 77 skip (newsmonctl or python3 missing).
set -u

SRC=${NM_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${NM_BUILD_DIR:-$SRC/build}
CTL=$BUILD/ctl/newsmonctl
DATA=$SRC/tests/data/rules/cli

if [ ! -x "$CTL" ]; then
    echo "rules_cli: SKIP: $CTL is not built"
    exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "rules_cli: SKIP: python3 is needed to check the JSON"
    exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nm-rules-cli.XXXXXX") || exit 1
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
status=0
fail() {
    echo "rules_cli: FAIL: $*"
    status=1
}

# 1. rules check
"$CTL" rules check "$DATA/rules" >"$TMP/check.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "rules check of the good folder exited with $rc: $(cat "$TMP/check.out")"
grep -q '^rules OK: 2 themes, 1 define, ' "$TMP/check.out" || fail "rules check did not say 'rules OK: 2 themes, 1 define': $(cat "$TMP/check.out")"

"$CTL" rules check "$DATA/bad" >"$TMP/bad.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "rules check of the bad folder exited with $rc, not 1"
grep -q 'bad.rules:3:17: error: .and. is not an operator' "$TMP/bad.out" ||
    fail "rules check did not report bad.rules:3:17: $(cat "$TMP/bad.out")"
grep -q '^rules refused: 1 error' "$TMP/bad.out" || fail "rules check did not say 'rules refused: 1 error'"

# 2. classify
printf '{"id": "x", "title": ' >"$TMP/broken.json"
"$CTL" classify --rules "$DATA/rules" "$DATA/article.txt" "$DATA/article.json" "$DATA/page.html" \
    >"$TMP/classify.out" 2>"$TMP/classify.err"
rc=$?
[ $rc -eq 0 ] || fail "classify exited with $rc: $(cat "$TMP/classify.err")"
python3 - "$DATA" "$TMP/classify.out" <<'EOF' || status=1
import json, sys

data, out = sys.argv[1:3]
failed = False

def fail(msg):
    global failed
    failed = True
    print("rules_cli: FAIL: " + msg)

def fields(path):
    """The title and text the offsets of a match refer to (for .txt and .json)."""
    raw = open(path, encoding="utf-8").read()
    if path.endswith(".json"):
        a = json.loads(raw)
        return a.get("title", ""), "\n\n".join(s for s in (a.get("summary", ""), a.get("text", "")) if s)
    title, _, text = raw.partition("\n")
    return title, text

lines = [l for l in open(out, encoding="utf-8").read().splitlines() if l.strip()]
names = ["article.txt", "article.json", "page.html"]
if len(lines) != 3:
    fail("classify printed %d lines, expected 3" % len(lines))
for name, line in zip(names, lines):
    try:
        obj = json.loads(line)
    except ValueError as e:
        fail("%s: not JSON (%s): %s" % (name, e, line[:200]))
        continue
    if not isinstance(obj, dict) or set(obj) != {"file", "themes"}:
        fail("%s: top-level keys are %s, expected file and themes" % (name, sorted(obj) if isinstance(obj, dict) else obj))
        continue
    if not obj["file"].endswith(name):
        fail("%s: file is %r" % (name, obj["file"]))
    if not isinstance(obj["themes"], list):
        fail("%s: themes is not an array" % name)
        continue
    ids = []
    title, text = fields("%s/%s" % (data, name)) if not name.endswith(".html") else (None, None)
    for t in obj["themes"]:
        if not isinstance(t, dict) or set(t) != {"id", "score", "severity", "matches"}:
            fail("%s: theme keys %s, expected id, score, severity, matches" % (name, sorted(t)))
            continue
        ids.append(t["id"])
        if not isinstance(t["id"], str) or not isinstance(t["score"], int) or isinstance(t["score"], bool) \
                or t["severity"] not in ("info", "low", "medium", "high", "critical") or not isinstance(t["matches"], list):
            fail("%s: theme %r has a field of the wrong type or value" % (name, t))
            continue
        if not t["matches"]:
            fail("%s: theme %s fired with no matches" % (name, t["id"]))
        for m in t["matches"]:
            if not isinstance(m, dict) or set(m) != {"term", "field", "offset", "text"}:
                fail("%s: match keys %s, expected term, field, offset, text" % (name, sorted(m)))
                continue
            if not isinstance(m["term"], str) or m["field"] not in ("title", "text") \
                    or not isinstance(m["offset"], int) or m["offset"] < 0 or not isinstance(m["text"], str) or not m["text"]:
                fail("%s: match %r has a field of the wrong type or value" % (name, m))
                continue
            if title is not None:
                src = (title if m["field"] == "title" else text).encode("utf-8")
                got = src[m["offset"]:m["offset"] + len(m["text"].encode("utf-8"))].decode("utf-8", "replace")
                if got != m["text"]:
                    fail("%s: match %r: the %s holds %r at offset %d" % (name, m, m["field"], got, m["offset"]))
    if ids != ["espionage"]:
        fail("%s: themes %s fired, expected only espionage" % (name, ids))
    if name == "page.html":
        texts = {m["text"] for t in obj["themes"] for m in t["matches"]}
        if "KGB" not in texts or "state security" not in texts:
            fail("page.html: the article body's terms (KGB, state security) are not among the matches: %s" % texts)
        if not any(m["field"] == "title" and m["offset"] == 0 and m["text"] == "Minsk" for t in obj["themes"] for m in t["matches"]):
            fail("page.html: the extracted title does not start with the matched 'Minsk'")
sys.exit(1 if failed else 0)
EOF

"$CTL" classify --rules "$DATA/rules" "$TMP/missing.txt" "$TMP/broken.json" "$DATA/article.txt" \
    >"$TMP/errors.out" 2>"$TMP/errors.err"
rc=$?
[ $rc -eq 1 ] || fail "classify with a missing file and broken JSON exited with $rc, not 1"
grep -q 'missing.txt' "$TMP/errors.err" || fail "classify did not name the missing file: $(cat "$TMP/errors.err")"
grep -q 'broken.json:1:.*invalid JSON' "$TMP/errors.err" || fail "classify did not report the broken JSON: $(cat "$TMP/errors.err")"
[ "$(wc -l <"$TMP/errors.out")" -eq 1 ] && grep -q '"id":"espionage"' "$TMP/errors.out" ||
    fail "classify did not go on with the readable file: $(cat "$TMP/errors.out")"

# 3. rules test, on the file and over HTTP
check_test_output() {   # $1: what, $2: output file
    grep -q '^FIRED espionage (high) Espionage and recruitment' "$2" || fail "$1: espionage not shown as FIRED"
    grep -q 'score +3  held  "state security"' "$2" || fail "$1: the held score line is not shown"
    grep -q 'score 5, threshold 2' "$2" || fail "$1: score and threshold not shown"
    grep -q '^not fired nuclear (critical)' "$2" || fail "$1: nuclear not shown as not fired"
    grep -q 'match: did not hold  <- why it did not fire' "$2" || fail "$1: the reason nuclear did not fire is not shown"
    grep -q 'text@[0-9]*  .*\[KGB\]' "$2" || fail "$1: the matched KGB is not shown in context"
    grep -q ': 1 of 2 themes fired' "$2" || fail "$1: the summary line is missing"
}
"$CTL" rules test --rules "$DATA/rules" "$DATA/page.html" >"$TMP/test.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "rules test exited with $rc: $(cat "$TMP/test.out")"
check_test_output "rules test page.html" "$TMP/test.out"

"$CTL" rules test --rules "$DATA/rules" "ftp://example.org/page.html" >"$TMP/ftp.out" 2>&1
[ $? -eq 1 ] && grep -q 'only http and https' "$TMP/ftp.out" || fail "rules test accepted an ftp URL: $(cat "$TMP/ftp.out")"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DATA" >"$TMP/http.log" 2>&1 &
server_pid=$!
i=0
while ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/page.html', timeout=1)" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -ge 50 ]; then
        fail "the test HTTP server did not start: $(cat "$TMP/http.log")"
        break
    fi
    sleep 0.1
done
"$CTL" rules test --rules "$DATA/rules" "http://127.0.0.1:$port/page.html" >"$TMP/url.out" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "rules test of a URL exited with $rc: $(cat "$TMP/url.out")"
check_test_output "rules test URL" "$TMP/url.out"
"$CTL" rules test --rules "$DATA/rules" "http://127.0.0.1:$port/absent.html" >"$TMP/404.out" 2>&1
[ $? -eq 1 ] && grep -q 'HTTP status 404' "$TMP/404.out" || fail "rules test of a missing page: $(cat "$TMP/404.out")"

if [ $status -eq 0 ]; then
    echo "rules_cli: PASS"
fi
exit $status
