#!/bin/bash
# ctl_libs: newsmonctl starts without libzmq and libcurl (ctl/ctl_zmq.c and
# ctl/ctl_fetch.c load them when a command needs them), and the commands
# that need them still work: keygen (libzmq's CURVE and Z85 functions) and
# status against a real daemon's control socket (a request and its reply
# over libzmq). A libzmq function added to the common library without a
# forwarder in ctl_zmq.c would bring libzmq back as a dependency: the first
# check fails then.
set -u
SRC=${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}
BLD=${NM_BUILD_DIR:?NM_BUILD_DIR not set}
CTL=$BLD/ctl/newsmonctl
STORE=$BLD/store/newsmon-store
[ -x "$CTL" ] && [ -x "$STORE" ] || { echo "not built: $CTL $STORE"; exit 1; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

needed=$(readelf -d "$CTL" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
echo "newsmonctl needs: $(echo $needed)"
for lib in libzmq libcurl; do
    if echo "$needed" | grep -q "^$lib"; then bad "newsmonctl is linked with $lib"; fi
done

tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# keygen: the pair must be the 40-character Z85 text libzmq writes.
"$CTL" keygen "$tmp" k >/dev/null || bad "keygen failed"
for f in k.key k.secret; do
    n=$(head -c 40 "$tmp/$f" 2>/dev/null | wc -c)
    [ "$n" = 40 ] || bad "$f: expected 40 characters of Z85, got $n"
done

# status against a running store.
mkdir -p "$tmp/ctl"
cat >"$tmp/newsmon.conf" <<EOF
[bus]
fetch_out = ipc://$tmp/fetch.sock
store_in = ipc://$tmp/store.sock
store_events = ipc://$tmp/events.sock
alerts = ipc://$tmp/alerts.sock
control_dir = $tmp/ctl
[log]
target = stderr
[store]
database = $tmp/news.db
EOF
"$STORE" -c "$tmp/newsmon.conf" >"$tmp/store.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$tmp/ctl/store.ctl" ] && break; sleep 0.1; done
out=$("$CTL" -c "$tmp/newsmon.conf" status --json --control-dir "$tmp/ctl" 2>&1)
echo "$out" | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)["store"]
assert s.get("up") is not False and "error" not in s and s.get("pid", 0) > 0, s
' || { bad "status did not get the store's reply: $out"; cat "$tmp/store.log"; }

echo "$out" | /usr/bin/python3 -c 'import json, sys; print("store status:", json.dumps(json.load(sys.stdin)["store"])[:200])'
[ $fail = 0 ] && echo "ok: newsmonctl starts without libzmq and libcurl and loads libzmq when a command needs it"
exit $fail
