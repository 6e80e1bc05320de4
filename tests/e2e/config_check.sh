#!/bin/bash
# config_check: every daemon's `-n` against the shipped production
# configuration (config/newsmon.conf) says "configuration OK" and exits 0,
# once its paths that only exist on an installed host are overridden; and
# against tests/data/install/broken.conf (one mistake of each kind: unknown
# key, bad value, unknown section, number out of range, bad channel type)
# each daemon prints every mistake it owns as file:line: ..., none that
# belongs to another daemon, and exits non-zero. A broken rules folder is
# refused by the classifier's -n with file:line:col of each error.
set -u
SRC=${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}
BLD=${NM_BUILD_DIR:?NM_BUILD_DIR not set}
CONF=$SRC/config/newsmon.conf
BROKEN=$SRC/tests/data/install/broken.conf
BAD_RULES=$SRC/tests/data/install/bad-rules
fail=0

bin() { echo "$BLD/${1#newsmon-}/$1"; }
bad() { echo "FAIL: $*"; fail=1; }

for d in newsmon-fetcher newsmon-classifier newsmon-store newsmon-notifier; do
    [ -x "$(bin $d)" ] || { echo "$(bin $d) is not built"; exit 1; }
done

# Paths of the production config that a build machine lacks: the rules
# folder is the source tree's, the feeds folder an empty temporary one.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/feeds.d"
declare -A OVR=(
    [newsmon-fetcher]="-o fetcher.feeds=$tmp/feeds.d -o fetcher.state=$tmp/fetcher.db"
    [newsmon-classifier]="-o classifier.rules=$SRC/config/rules.d"
    [newsmon-store]="-o store.database=$tmp/newsmon.db"
    [newsmon-notifier]="-o notifier.state=$tmp/notifier.db"
)

# 1. The production configuration passes.
for d in newsmon-fetcher newsmon-classifier newsmon-store newsmon-notifier; do
    read -r -a ov <<<"${OVR[$d]}"
    out=$("$(bin $d)" -n -c "$CONF" "${ov[@]}" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ "$out" != "configuration OK" ]; then
        bad "$d -n -c config/newsmon.conf: exit $rc, output:"
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        echo "ok: $d: configuration OK"
    fi
done

# 2. The broken configuration: errors each daemon must report (line:text),
# errors of the other daemons it must not report.
common=(
    "5: [bus] unknown key 'colour'"
    "6: [bus] hwm: 0 is out of range"
    "7: [bus] linger: 'soon' is not a duration"
    "12: unknown section [fetchr]"
)
declare -A OWN=(
    [newsmon-fetcher]="16: [fetcher] max_transfers: 0 is out of range|17: [fetcher] fetch_pages: 'maybe' is not a boolean|18: [fetcher] unknown key 'user_agnet'"
    [newsmon-classifier]="22: [classifier] unknown key 'rulez'"
    [newsmon-store]="25: [store] batch: 'lots' is not a whole number|26: [store] alert_scan: 1ms is out of range"
    [newsmon-notifier]="29: [notifier] keep: 1m is out of range|30: [notifier] unknown key 'hostnme'|33: [channel pager] type: 'pager' is not stdout|38: [channel log] retries: 'many' is not a whole number"
)
for d in newsmon-fetcher newsmon-classifier newsmon-store newsmon-notifier; do
    out=$("$(bin $d)" -n -c "$BROKEN" 2>&1)
    rc=$?
    [ $rc -ne 0 ] || bad "$d -n on broken.conf exited 0"
    grep -q "configuration OK" <<<"$out" && bad "$d printed 'configuration OK' for broken.conf"
    IFS='|' read -r -a own <<<"${OWN[$d]}"
    for want in "${common[@]}" "${own[@]}"; do
        grep -qF -- "$BROKEN:$want" <<<"$out" || bad "$d: missing '$BROKEN:$want'"
    done
    for other in "${!OWN[@]}"; do
        [ "$other" = "$d" ] && continue
        IFS='|' read -r -a theirs <<<"${OWN[$other]}"
        for not in "${theirs[@]}"; do
            grep -qF -- "$BROKEN:${not%%:*}:" <<<"$out" && bad "$d reported $other's line ${not%%:*}"
        done
    done
    # Every line that names a problem starts with file:line: (the closing
    # summary line names the daemon).
    while IFS= read -r line; do
        case "$line" in
        "$BROKEN":[0-9]*:\ *) ;;
        "$d: "*) ;;
        *) bad "$d: a line not in file:line: form: $line" ;;
        esac
    done <<<"$out"
    [ $fail -eq 0 ] && echo "ok: $d: broken.conf refused with every error and its line"
done

# 3. Values checked after the schema (log level, store sync) name the file
# (the schema's errors come first: a second check runs only without them).
for d in newsmon-fetcher newsmon-classifier newsmon-store newsmon-notifier; do
    read -r -a ov <<<"${OVR[$d]}"
    out=$("$(bin $d)" -n -c "$CONF" "${ov[@]}" -o log.level=loud 2>&1)
    rc=$?
    { [ $rc -ne 0 ] && grep -q "^command line: \[log\] level: 'loud' is not error, warning, info or debug" <<<"$out"; } ||
        bad "$d: log.level=loud: exit $rc, '$out'"
done
out=$("$(bin newsmon-store)" -n -c "$CONF" -o "store.database=$tmp/newsmon.db" -o store.sync=sometimes 2>&1)
rc=$?
{ [ $rc -ne 0 ] && grep -q "^command line: \[store\] sync: 'sometimes' is not normal or full" <<<"$out"; } ||
    bad "store: store.sync=sometimes: exit $rc, '$out'"

# 4. A rules folder with errors: the classifier's -n names each place.
out=$("$(bin newsmon-classifier)" -n -c "$CONF" -o classifier.rules="$BAD_RULES" 2>&1)
rc=$?
[ $rc -ne 0 ] || bad "classifier accepted a broken rules folder"
grep -q "^$BAD_RULES/10-bad.rules:6:13: error: undefined \$UNDEFINED_CONTEXT" <<<"$out" ||
    bad "classifier: no file:line:col for the undefined define: $out"
grep -q "^$BAD_RULES/10-bad.rules:10:13: error: severity must be one of" <<<"$out" ||
    bad "classifier: no file:line:col for the bad severity: $out"
grep -q "configuration OK" <<<"$out" && bad "classifier said OK for a broken rules folder"

# 5. A missing configuration file is an error naming it, not a crash.
for d in newsmon-fetcher newsmon-classifier newsmon-store newsmon-notifier; do
    out=$("$(bin $d)" -n -c "$tmp/absent.conf" 2>&1)
    rc=$?
    { [ $rc -eq 1 ] && grep -q "$tmp/absent.conf: cannot open" <<<"$out"; } ||
        bad "$d -n on a missing file: exit $rc, '$out'"
done

[ $fail -eq 0 ] && echo "config_check: all passed"
exit $fail
