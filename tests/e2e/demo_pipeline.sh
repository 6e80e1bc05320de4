#!/usr/bin/env bash
# End to end: the four real daemons on the demo (scripts/run-demo --once),
# each on ipc endpoints in a temporary folder, the demo site served over
# HTTP on a free loopback port. Asserts what lands in the database (the five
# articles with the themes ../shared/samples/README.md expects), in the
# alerts file (one alert per article, no duplicates), that every daemon
# exits 0, and that no process is left behind. Then a second --once run on
# the same state must add nothing: no new article, no new alert.
set -euo pipefail
SRC=${NM_SOURCE_DIR:?}
BUILD=${NM_BUILD_DIR:?}
STATE=$(mktemp -d /tmp/nm-demo-XXXXXX)
trap 'rm -rf "$STATE"' EXIT
CTL=$BUILD/ctl/newsmonctl
PY=/usr/bin/python3

fail() { echo "FAIL: $*" >&2; for f in "$STATE"/*.log; do echo "--- $f"; tail -20 "$f"; done >&2; exit 1; }

cd "$SRC"
BUILD=$BUILD STATE=$STATE QUIET=1 scripts/run-demo --once > "$STATE/run.out" 2>&1 || { cat "$STATE/run.out"; fail "run-demo --once failed"; }

"$CTL" --db "$STATE/newsmon.db" export --format jsonl > "$STATE/export.jsonl" || fail "export failed"
$PY - "$STATE/export.jsonl" "$STATE/alerts.jsonl" <<'PYEOF' || fail "database or alerts not as expected"
import json, sys
expected = {  # ../shared/samples/README.md: what a person on the desk expects
    "000.html": {"espionage", "repression"},
    "001.html": {"espionage", "repression", "airspace", "military", "migration"},
    "002.html": {"migration", "espionage", "sanctions"},
    "003.html": {"politics", "sanctions", "military", "nuclear"},
    "004.html": {"military", "border"},
}
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 5, f"{len(rows)} articles stored, expected 5"
ok = True
for r in rows:
    page = r["link"].rsplit("/", 1)[-1]
    for k in ("id", "title", "link", "published", "themes"):
        assert k in r, f"export row lacks {k}: {r}"
    missing = expected[page] - set(r["themes"])
    print(f"{page}: {sorted(r['themes'])}" + (f"  MISSING {sorted(missing)}" if missing else ""))
    ok &= not missing
assert ok, "themes missing"
alerts = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ids = [a["alert_id"] for a in alerts]
assert len(alerts) == 5, f"{len(alerts)} alerts in the file, expected 5"
assert len(set(ids)) == len(ids), f"duplicate alerts: {ids}"
links = {a["article"]["link"] for a in alerts}
assert len(links) == 5, "alerts do not cover the five articles"
print("database and alerts OK")
PYEOF

# Nothing may be left running from this state folder.
if pgrep -f "$STATE" >/dev/null; then
    pgrep -af "$STATE" >&2
    fail "processes left behind"
fi

# A second run on the same state: everything is already confirmed and alerted.
before=$("$CTL" --db "$STATE/newsmon.db" counts --json)
lines_before=$(wc -l < "$STATE/alerts.jsonl")
KEEP_STATE=1 BUILD=$BUILD STATE=$STATE QUIET=1 scripts/run-demo --once > "$STATE/run2.out" 2>&1 || { cat "$STATE/run2.out"; fail "second run failed"; }
after=$("$CTL" --db "$STATE/newsmon.db" counts --json)
lines_after=$(wc -l < "$STATE/alerts.jsonl")
[ "$lines_before" = "$lines_after" ] || fail "second run delivered alerts again ($lines_before -> $lines_after)"
$PY -c "import json,sys; a,b=json.loads(sys.argv[1]),json.loads(sys.argv[2]); assert a['articles']==b['articles'] and a['alerts_delivered']==b['alerts_delivered'], (a,b)" "$before" "$after" \
    || fail "second run changed the store: $before -> $after"
echo "demo pipeline OK"
