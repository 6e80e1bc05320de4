#!/bin/bash
# systemd_units: the units of systemd/ are valid and tightly sandboxed.
#   - `systemd-analyze verify` on every unit passes with no message about
#     our units. The units name /usr/sbin/newsmon-*: verify runs on copies
#     whose ExecStart=/ExecReload= point at this build's binaries, with
#     MANPATH set to docs/man so that Documentation=man:... is checked too.
#   - `systemd-analyze security --offline=true` scores every service at 2.0
#     or below ("OK" is below 4.5; 2.0 keeps us near the best that a
#     daemon which needs the network can reach).
#   - What the daemons rely on is there: Type=notify with NotifyAccess=main,
#     a watchdog, a reload that checks the configuration then sends SIGHUP,
#     the state and runtime folders, the newsmon user, and the IP allow
#     list of the classifier and the store.
# Skipped (exit 77) where systemd-analyze is absent.
set -u
SRC=${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}
BLD=${NM_BUILD_DIR:?NM_BUILD_DIR not set}
MAX_EXPOSURE=2.0
fail=0
bad() { echo "FAIL: $*"; fail=1; }

if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/man/man8" "$tmp/man/man1"
cp "$SRC"/systemd/*.service "$SRC"/systemd/*.target "$tmp/units/"
cp "$SRC"/docs/man/*.8 "$tmp/man/man8/"
cp "$SRC"/docs/man/*.1 "$tmp/man/man1/"
daemons=(fetcher classifier store notifier)
for d in "${daemons[@]}"; do
    exe=$BLD/$d/newsmon-$d
    [ -x "$exe" ] || { echo "FAIL: $exe is not built"; exit 1; }
    grep -q "^ExecStart=/usr/sbin/newsmon-$d " "$tmp/units/newsmon-$d.service" ||
        bad "newsmon-$d.service: ExecStart is not /usr/sbin/newsmon-$d"
    sed -i "s|/usr/sbin/newsmon-$d|$exe|g" "$tmp/units/newsmon-$d.service"
done

# ---- verify ------------------------------------------------------------------
cd "$tmp/units" || exit 1
out=$(MANPATH=$tmp/man systemd-analyze verify ./*.service ./*.target 2>&1)
rc=$?
ours=$(grep -i newsmon <<<"$out")
if [ $rc -ne 0 ] || [ -n "$ours" ]; then
    bad "systemd-analyze verify (exit $rc):"
    printf '%s\n' "$out" | sed 's/^/    /'
else
    echo "ok: systemd-analyze verify: no message about our units"
fi

# ---- security ----------------------------------------------------------------
for d in "${daemons[@]}"; do
    u=newsmon-$d.service
    out=$(systemd-analyze security --offline=true "./$u" 2>&1)
    score=$(sed -n "s/.*Overall exposure level for $u: \([0-9.]*\).*/\1/p" <<<"$out")
    if [ -z "$score" ]; then
        bad "$u: no exposure level in the output of systemd-analyze security:"
        printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
    elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
        bad "$u: exposure $score is above $MAX_EXPOSURE:"
        grep '✗' <<<"$out" | sed 's/^/    /'
    else
        echo "ok: $u: exposure $score (limit $MAX_EXPOSURE)"
    fi
done

# ---- what the daemons rely on ----------------------------------------------
# key=value lines of a unit, without comments
has() { grep -qx "$2" "$SRC/systemd/$1"; }
for d in "${daemons[@]}"; do
    u=newsmon-$d.service
    # shellcheck disable=SC2016  # $MAINPID is systemd's, not ours
    for line in "Type=notify" "NotifyAccess=main" "User=newsmon" "Group=newsmon" \
                "StateDirectory=newsmon" "RuntimeDirectory=newsmon" "RuntimeDirectoryPreserve=yes" \
                "ExecReload=/usr/sbin/newsmon-$d -n -c /etc/newsmon/newsmon.conf" \
                'ExecReload=/bin/kill -HUP $MAINPID' "PartOf=newsmon.target" "WantedBy=newsmon.target" \
                "NoNewPrivileges=yes" "ProtectSystem=strict" "CapabilityBoundingSet="; do
        has "$u" "$line" || bad "$u lacks '$line'"
    done
    grep -qE '^WatchdogSec=[1-9]' "$SRC/systemd/$u" || bad "$u sets no watchdog"
    # the configuration check must come before the signal
    first=$(grep -m1 '^ExecReload=' "$SRC/systemd/$u")
    [ "$first" = "ExecReload=/usr/sbin/newsmon-$d -n -c /etc/newsmon/newsmon.conf" ] ||
        bad "$u: the first ExecReload= is not the configuration check"
    grep -q '^Type=notify-reload' "$SRC/systemd/$u" && bad "$u: notify-reload needs systemd 253 and MONOTONIC_USEC"
done
for d in classifier store; do
    has "newsmon-$d.service" "IPAddressDeny=any" || bad "newsmon-$d.service lacks IPAddressDeny=any"
    has "newsmon-$d.service" "IPAddressAllow=localhost" || bad "newsmon-$d.service lacks IPAddressAllow=localhost"
done
for d in fetcher notifier; do
    has "newsmon-$d.service" "IPAddressDeny=any" && bad "newsmon-$d.service needs the network but denies it"
    grep -q '^After=.*network-online.target' "$SRC/systemd/newsmon-$d.service" ||
        bad "newsmon-$d.service does not start after network-online.target"
done
for d in "${daemons[@]}"; do
    grep -q "^Wants=.*newsmon-$d.service" "$SRC/systemd/newsmon.target" || bad "newsmon.target does not want newsmon-$d"
done

# Type=notify needs daemons that speak the notification protocol; they do
# it themselves (common/nm_sdnotify.c) and tests/e2e/sd_notify.py checks
# what they send. Here: each binary names $NOTIFY_SOCKET.
for d in "${daemons[@]}"; do
    grep -q NOTIFY_SOCKET "$BLD/$d/newsmon-$d" || bad "newsmon-$d does not read \$NOTIFY_SOCKET"
done

[ $fail -eq 0 ] && echo "systemd_units: all passed"
exit $fail
