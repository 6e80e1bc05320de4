#!/usr/bin/env bash
# rules backtest and rules reclassify on a real store: the demo is run once
# to fill a database, then
#  - the rules in force as candidate: no change on any article;
#  - a candidate without the nuclear theme: nuclear stops firing on the
#    articles that had it, and nothing else changes (text and --json);
#  - a candidate with a broken file: refused, exit 1, error named;
#  - reclassify with that candidate as the rules in force: the stored
#    matches lose nuclear (seen through export), and no alert is added.
set -euo pipefail
SRC=${NM_SOURCE_DIR:?}
BUILD=${NM_BUILD_DIR:?}
CTL=$BUILD/ctl/newsmonctl
PY=/usr/bin/python3
T=$(mktemp -d /tmp/nm-backtest-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cd "$SRC"
BUILD=$BUILD STATE=$T/state QUIET=1 scripts/run-demo --once >"$T/run.out" 2>&1 || { cat "$T/run.out"; fail "demo run"; }
DB=$T/state/newsmon.db
nuclear_before=$("$CTL" --db "$DB" export --format jsonl | grep -c '"nuclear"' || true)
[ "$nuclear_before" -ge 1 ] || fail "the demo should have at least one nuclear article"

out=$("$CTL" --db "$DB" rules backtest --rules config/rules.d --current config/rules.d)
echo "$out" | grep -q "no theme changes on any article" || fail "identical rules changed something: $out"

cp -r config/rules.d "$T/cand"
rm "$T"/cand/*nuclear*.rules
"$CTL" --db "$DB" rules backtest --rules "$T/cand" --current config/rules.d --json > "$T/bt.json"
$PY - "$T/bt.json" "$nuclear_before" <<'PYEOF' || fail "backtest JSON not as expected"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["articles"] == 5, d["articles"]
assert set(d["themes"]) == {"nuclear"}, d["themes"].keys()
t = d["themes"]["nuclear"]
assert t["newly_fire"] == [] and len(t["stop_firing"]) == int(sys.argv[2]), t
print("backtest JSON OK")
PYEOF

cp -r config/rules.d "$T/broken"
echo 'theme broken' > "$T/broken/zz.rules"
echo '  match belarus spy' >> "$T/broken/zz.rules"
set +e
"$CTL" --db "$DB" rules backtest --rules "$T/broken" --current config/rules.d >"$T/broken.out" 2>&1
st=$?
set -e
[ $st = 1 ] || fail "a broken candidate should exit 1, got $st"
grep -q "zz.rules:2:" "$T/broken.out" || fail "the error should name zz.rules:2: $(cat "$T/broken.out")"

alerts_before=$("$CTL" --db "$DB" counts --json)
"$CTL" --db "$DB" rules reclassify --current "$T/cand" | grep -q "reclassified 5 articles" || fail "reclassify"
nuclear_after=$("$CTL" --db "$DB" export --format jsonl | grep -c '"nuclear"' || true)
[ "$nuclear_after" = 0 ] || fail "reclassify left nuclear matches ($nuclear_after)"
alerts_after=$("$CTL" --db "$DB" counts --json)
[ "$alerts_before" = "$alerts_after" ] || fail "reclassify changed the alert queue: $alerts_before -> $alerts_after"
echo "rules backtest and reclassify OK"
