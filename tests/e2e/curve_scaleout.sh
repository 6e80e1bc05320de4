#!/usr/bin/env bash
# Scale-out over ZeroMQ with CURVE: two fetchers (the demo's two feeds
# partitioned between them) and two classifiers, a store and a notifier,
# all on tcp:// loopback endpoints, encrypted, with a ZAP handler admitting
# only listed client keys. The stored result must equal that of the plain
# one-of-each demo pipeline; a classifier whose key is not listed must be
# refused (logged) and receive nothing.
set -euo pipefail
SRC=${NM_SOURCE_DIR:?}
BUILD=${NM_BUILD_DIR:?}
CTL=$BUILD/ctl/newsmonctl
PY=/usr/bin/python3
T=$(mktemp -d /tmp/nm-curve-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.log; do echo "--- $f"; tail -15 "$f"; done >&2; exit 1; }
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cd "$SRC"

# 1. The reference: the demo through one daemon of each kind, no encryption.
BUILD=$BUILD STATE=$T/ref QUIET=1 scripts/run-demo --once >"$T/ref.out" 2>&1 || { cat "$T/ref.out"; fail "reference run"; }
"$CTL" --db "$T/ref/newsmon.db" export --format jsonl > "$T/ref.jsonl"

# 2. Keys: one server pair shared by the daemons that bind, one pair per client.
mkdir -p "$T/keys/allowed" "$T/keys/other"
"$CTL" keygen "$T/keys" server >/dev/null
for c in fetcher-a fetcher-b classifier-a classifier-b notifier; do "$CTL" keygen "$T/keys/allowed" "$c" >/dev/null; done
"$CTL" keygen "$T/keys/other" intruder >/dev/null

HTTP=$(port)
$PY -m http.server --bind 127.0.0.1 "$HTTP" --directory "$SRC/demo/site" >"$T/http.log" 2>&1 &
PIDS+=($!)
P_FA=$(port); P_FB=$(port); P_IN=$(port); P_EV=$(port); P_AL=$(port)
mkdir -p "$T/run" "$T/feeds-a" "$T/feeds-b"
opml() { printf '<?xml version="1.0"?>\n<opml version="2.0"><body><outline type="rss" text="%s" xmlUrl="http://127.0.0.1:%s/feeds/%s"/></body></opml>\n' "$1" "$HTTP" "$1"; }
opml desk.rss > "$T/feeds-a/a.opml"
opml desk.atom > "$T/feeds-b/b.opml"

K=$T/keys
COMMON=(-f -c config/demo.conf -o "bus.store_in=tcp://127.0.0.1:$P_IN" -o "bus.store_events=tcp://127.0.0.1:$P_EV"
        -o "bus.alerts=tcp://127.0.0.1:$P_AL" -o "bus.control_dir=$T/run"
        -o "bus.curve_server_public_file=$K/server.key")
server() { echo -o "bus.curve_server_secret_file=$K/server.secret" -o "bus.curve_allowed_clients=$K/allowed"; }
client() { echo -o "bus.curve_client_secret_file=$1.secret" -o "bus.curve_client_public_file=$1.key"; }

# shellcheck disable=SC2046
"$BUILD/store/newsmon-store" "${COMMON[@]}" $(server) -o "store.database=$T/newsmon.db" 2>"$T/store.log" &
PIDS+=($!)
# shellcheck disable=SC2046
"$BUILD/notifier/newsmon-notifier" "${COMMON[@]}" $(client "$K/allowed/notifier") \
    -o "notifier.state=$T/notifier.db" -o "channel demo-file.path=$T/alerts.jsonl" >"$T/notifier.out" 2>"$T/notifier.log" &
PIDS+=($!)
for c in a b; do
    # shellcheck disable=SC2046
    "$BUILD/classifier/newsmon-classifier" "${COMMON[@]}" $(client "$K/allowed/classifier-$c") -o "bus.instance=$c" \
        -o "bus.fetch_out=tcp://127.0.0.1:$P_FA tcp://127.0.0.1:$P_FB" 2>"$T/classifier-$c.log" &
    PIDS+=($!)
done
# shellcheck disable=SC2046
"$BUILD/classifier/newsmon-classifier" "${COMMON[@]}" $(client "$K/other/intruder") -o "bus.instance=intruder" \
    -o "bus.fetch_out=tcp://127.0.0.1:$P_FA tcp://127.0.0.1:$P_FB" 2>"$T/intruder.log" &
PIDS+=($!)
for _ in $(seq 100); do
    n=$(find "$T/run" -name "*.ctl" | wc -l)
    [ "$n" -ge 5 ] && break
    sleep 0.1
done
[ "$n" -ge 5 ] || fail "the daemons did not come up"

# The two fetchers, each its own share of the feeds, each binding its own fetch_out.
FPIDS=()
for c in a b; do
    P=$P_FA; [ $c = b ] && P=$P_FB
    # shellcheck disable=SC2046
    "$BUILD/fetcher/newsmon-fetcher" --once "${COMMON[@]}" $(server) $(client "$K/allowed/fetcher-$c") \
        -o "bus.instance=$c" -o "bus.fetch_out=tcp://127.0.0.1:$P" -o "fetcher.state=$T/fetcher-$c.db" \
        -o "fetcher.feeds=$T/feeds-$c" 2>"$T/fetcher-$c.log" &
    FPIDS+=($!)
done
for p in "${FPIDS[@]}"; do wait "$p" || fail "a fetcher did not finish its --once run"; done

for _ in $(seq 150); do
    c=$("$CTL" --db "$T/newsmon.db" counts --json 2>/dev/null || true)
    [ -n "$c" ] && $PY -c "import json,sys; c=json.loads(sys.argv[1]); sys.exit(0 if c['articles']==5 and c['alerts_pending']==0 and c['alerts_sent']==0 else 1)" "$c" && break
    sleep 0.2
done
# (status exits 1 here: the fetchers, done with --once, are down)
"$CTL" status --control-dir "$T/run" --json > "$T/status.json" || true
figure() { $PY -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]['messages_in'])" "$T/status.json" "$1"; }
intruder_in=$(figure classifier-intruder)
"$CTL" --db "$T/newsmon.db" export --format jsonl > "$T/scaled.jsonl"

$PY - "$T/ref.jsonl" "$T/scaled.jsonl" <<'PYEOF' || fail "the scaled-out pipeline stored something else"
import json, sys
def load(p):
    return {r["id"]: (r["title"], sorted(r["themes"])) for r in map(json.loads, open(p)) if r}
ref, got = load(sys.argv[1]), load(sys.argv[2])
assert ref == got, f"reference {ref}\nscaled-out {got}"
print(f"same {len(got)} articles and themes as one of each")
PYEOF
[ "$intruder_in" = 0 ] || fail "the intruder classifier received $intruder_in articles"
grep -q "refused" "$T"/fetcher-*.log || fail "no fetcher logged the refused client key"
for c in a b; do echo "classifier-$c classified $(figure "classifier-$c") articles"; done
lines=$(wc -l < "$T/alerts.jsonl")
[ "$lines" = 5 ] || fail "$lines alerts delivered, expected 5"
echo "curve scale-out OK"
