#!/bin/bash
# install: `cmake --install` of the build into a temporary DESTDIR lays out
# binaries, configuration, units, sysusers/tmpfiles, man pages and docs
# where docs/deployment.md says; a second install after the administrator
# edited newsmon.conf and a rules file keeps both edits and puts the new
# versions beside them as .dist; `--prefix P` without DESTDIR puts the
# configuration in P/etc. The installed daemons accept the installed
# configuration. The man pages format without warnings and newsmonctl.1
# describes every command of `newsmonctl --help`.
# When cpack and dpkg-deb are present: the .deb holds the same files,
# declares the configuration as conffiles, depends on the shared libraries,
# creates the newsmon user in postinst, enables nothing; and a real
# `dpkg --root` install, upgrade over an edited conffile, and purge work.
set -u
SRC=${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}
BLD=${NM_BUILD_DIR:?NM_BUILD_DIR not set}
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

command -v cmake >/dev/null || { echo "SKIP: cmake not on PATH"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- 1. DESTDIR install with prefix /usr --------------------------------
R=$tmp/root
if ! DESTDIR=$R cmake --install "$BLD" --prefix /usr >"$tmp/install1.log" 2>&1; then
    cat "$tmp/install1.log"
    echo "FAIL: cmake --install failed"
    exit 1
fi
expect_x=(usr/sbin/newsmon-fetcher usr/sbin/newsmon-classifier usr/sbin/newsmon-store
          usr/sbin/newsmon-notifier usr/bin/newsmonctl)
expect_f=(etc/newsmon/newsmon.conf
          usr/lib/systemd/system/newsmon-fetcher.service usr/lib/systemd/system/newsmon-classifier.service
          usr/lib/systemd/system/newsmon-store.service usr/lib/systemd/system/newsmon-notifier.service
          usr/lib/systemd/system/newsmon.target
          usr/lib/sysusers.d/newsmon.conf usr/lib/tmpfiles.d/newsmon.conf
          usr/share/man/man8/newsmon-fetcher.8 usr/share/man/man8/newsmon-classifier.8
          usr/share/man/man8/newsmon-store.8 usr/share/man/man8/newsmon-notifier.8
          usr/share/man/man1/newsmonctl.1
          usr/share/doc/newsmon/README.md usr/share/doc/newsmon/LICENSE usr/share/doc/newsmon/protocol.md)
for f in "${expect_x[@]}"; do [ -x "$R/$f" ] || bad "missing executable /$f"; done
for f in "${expect_f[@]}"; do [ -f "$R/$f" ] || bad "missing /$f"; done
[ -d "$R/etc/newsmon/feeds.d" ] || bad "missing folder /etc/newsmon/feeds.d"
for f in "$SRC"/config/rules.d/*.rules "$SRC"/config/feeds.d/*.opml "$SRC"/config/site-rules.conf; do
    [ -e "$f" ] || continue
    rel=${f#"$SRC"/config/}
    cmp -s "$f" "$R/etc/newsmon/$rel" || bad "/etc/newsmon/$rel is not config/$rel"
done
cmp -s "$SRC/config/newsmon.conf" "$R/etc/newsmon/newsmon.conf" || bad "/etc/newsmon/newsmon.conf differs from config/"
[ -e "$R/usr/etc" ] && bad "configuration went to /usr/etc"
stray=$(cd "$R" && find . -type f | grep -v -E '^\./(usr/(s?bin|lib/(systemd/system|sysusers\.d|tmpfiles\.d)|share/(man/man[18]|doc/newsmon))|etc/newsmon)/')
[ -z "$stray" ] || bad "files outside the documented layout: $stray"
[ $fail -eq 0 ] && ok "layout of DESTDIR=... cmake --install --prefix /usr"

# The installed daemons accept the installed configuration (the state
# paths are moved into the temporary folder; the rules are the installed ones).
mkdir -p "$tmp/state"
declare -A OVR=(
    [fetcher]="-o fetcher.state=$tmp/state/f.db -o fetcher.feeds=$R/etc/newsmon/feeds.d"
    [classifier]="-o classifier.rules=$R/etc/newsmon/rules.d"
    [store]="-o store.database=$tmp/state/n.db"
    [notifier]="-o notifier.state=$tmp/state/no.db"
)
for d in fetcher classifier store notifier; do
    read -r -a ov <<<"${OVR[$d]}"
    out=$("$R/usr/sbin/newsmon-$d" -n -c "$R/etc/newsmon/newsmon.conf" "${ov[@]}" 2>&1)
    [ "$out" = "configuration OK" ] || bad "installed newsmon-$d -n: $out"
done

# ---- 2. Re-install over edited files --------------------------------------
conf=$R/etc/newsmon/newsmon.conf
rules=("$R"/etc/newsmon/rules.d/*.rules)
rule=$(basename "${rules[0]}")
printf '\n# edited by the administrator\n' >>"$conf"
printf '\n# local tuning\n' >>"$R/etc/newsmon/rules.d/$rule"
other=$(basename "${rules[1]}")
if ! DESTDIR=$R cmake --install "$BLD" --prefix /usr >"$tmp/install2.log" 2>&1; then
    cat "$tmp/install2.log"
    bad "second cmake --install failed"
fi
tail -n1 "$conf" | grep -q '^# edited by the administrator$' || bad "the edit of newsmon.conf was overwritten"
tail -n1 "$R/etc/newsmon/rules.d/$rule" | grep -q '^# local tuning$' || bad "the edit of rules.d/$rule was overwritten"
cmp -s "$SRC/config/newsmon.conf" "$conf.dist" || bad "newsmon.conf.dist is not the new default"
cmp -s "$SRC/config/rules.d/$rule" "$R/etc/newsmon/rules.d/$rule.dist" || bad "rules.d/$rule.dist missing"
[ -e "$R/etc/newsmon/rules.d/$other.dist" ] && bad "an unedited file got a .dist copy"
grep -q "Kept (edited): .*newsmon.conf" "$tmp/install2.log" || bad "the second install did not say it kept newsmon.conf"
[ $fail -eq 0 ] && ok "a re-install keeps edited files and writes FILE.dist"
# The .dist rules file is not picked up by the classifier (only *.rules are).
out=$("$R/usr/sbin/newsmon-classifier" -n -c "$conf" -o classifier.rules="$R/etc/newsmon/rules.d" 2>&1)
[ "$out" = "configuration OK" ] || bad "classifier after re-install: $out"

# ---- 3. --prefix P without DESTDIR ------------------------------------------
P=$tmp/prefix
cmake --install "$BLD" --prefix "$P" >"$tmp/install3.log" 2>&1 || bad "cmake --install --prefix failed"
for f in sbin/newsmon-store bin/newsmonctl etc/newsmon/newsmon.conf lib/systemd/system/newsmon-store.service \
         share/man/man8/newsmon-store.8 share/doc/newsmon/README.md; do
    [ -e "$P/$f" ] || bad "--prefix: missing $f"
done
[ $fail -eq 0 ] && ok "cmake --install --prefix P"

# ---- 4. Man pages ---------------------------------------------------------
if command -v groff >/dev/null; then
    for m in "$SRC"/docs/man/*.[18]; do
        w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$m" 2>&1)
        [ -z "$w" ] || bad "groff warns on $(basename "$m"): $w"
    done
else
    echo "note: groff absent, man pages not formatted"
fi
# every command of the help is described (a ".B name" or ".B group name" line)
while read -r cmd sub; do
    re=${cmd//-/(\\\\)?-}   # roff writes a hyphen as \-
    case "$sub" in
    [a-z]*) want="^\.B $re $sub\b" ;;
    *) want="^\.B ${re}( |$)" ;;
    esac
    grep -qE "$want" "$SRC/docs/man/newsmonctl.1" || bad "newsmonctl.1 does not describe '$cmd${sub:+ $sub}'"
done < <("$BLD/ctl/newsmonctl" --help | sed -n 's/^  \([a-z-]*\)\( [a-z]*\)\{0,1\}.*/\1\2/p' |
         awk '{ if ($1 == "rules") print $1, $2; else print $1 }')
for d in fetcher classifier store notifier; do
    # each daemon's own keys appear in its page
    case $d in
    fetcher) src=$SRC/fetcher/fetcher_conf.c ;;
    classifier) src=$SRC/classifier/classifier.c ;;
    store) src=$SRC/store/store.c ;;
    notifier) src=$SRC/notifier/notifier.c ;;
    esac
    while read -r k; do
        grep -qE "^\.(B|BR|TP).*\b$k\b" "$SRC/docs/man/newsmon-$d.8" || bad "newsmon-$d.8 does not describe [$d] $k"
    done < <(sed -n 's/^ *{ "'$d'", "\([a-z_]*\)".*/\1/p' "$src")
done
[ $fail -eq 0 ] && ok "man pages"

# ---- 5. sysusers file ---------------------------------------------------------
if command -v systemd-sysusers >/dev/null; then
    mkdir -p "$tmp/su/etc"
    if systemd-sysusers --root="$tmp/su" "$R/usr/lib/sysusers.d/newsmon.conf" >/dev/null 2>&1; then
        grep -q '^newsmon:x:[0-9]*:[0-9]*:.*:/var/lib/newsmon:/usr/sbin/nologin$' "$tmp/su/etc/passwd" ||
            bad "sysusers.d file does not make the newsmon user: $(cat "$tmp/su/etc/passwd")"
        grep -q '^newsmon:' "$tmp/su/etc/group" || bad "sysusers.d file does not make the newsmon group"
    else
        bad "systemd-sysusers refused the sysusers.d file"
    fi
fi

# ---- 6. The Debian package --------------------------------------------------
if ! command -v cpack >/dev/null || ! command -v dpkg-deb >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
    echo "note: cpack, dpkg-deb or dpkg-shlibdeps absent: the .deb is not checked"
    exit $fail
fi
if ! (cd "$BLD" && cpack -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1; then
    cat "$tmp/cpack.log"
    bad "cpack -G DEB failed"
    exit 1
fi
deb=$(ls "$tmp"/pkg/newsmon_*.deb)
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in "${expect_x[@]}" "${expect_f[@]}"; do
    grep -qx "\./$f" <<<"$files" || bad ".deb lacks /$f"
done
info=$(dpkg-deb -I "$deb")
for lib in libzmq5 libsqlite3-0 libcurl4 libxml2 libsodium23; do
    grep -q "^ Depends:.*\b$lib\b" <<<"$info" || bad ".deb does not depend on $lib"
done
mkdir "$tmp/ctl"
dpkg-deb -e "$deb" "$tmp/ctl"
for f in newsmon.conf $(cd "$SRC/config" && ls rules.d/*.rules); do
    grep -qx "/etc/newsmon/$f" "$tmp/ctl/conffiles" || bad "conffiles lacks /etc/newsmon/$f"
done
if ! grep -q 'systemd-sysusers' "$tmp/ctl/postinst" || ! grep -q 'adduser --system --group' "$tmp/ctl/postinst"; then
    bad "postinst does not create the newsmon user"
fi
for s in preinst postinst prerm postrm; do
    [ -e "$tmp/ctl/$s" ] || continue
    sh -n "$tmp/ctl/$s" || bad "$s is not valid sh"
    grep -v '^[[:space:]]*#' "$tmp/ctl/$s" |
        grep -E 'systemctl[^#]*\b(enable|start|restart)\b|deb-systemd-helper +enable' &&
        bad "$s enables or starts a service"
done
[ $fail -eq 0 ] && ok "the .deb: files, dependencies, conffiles, maintainer scripts"

# A real install into a scratch root (scripts run outside a chroot with
# DPKG_ROOT set), an upgrade over an edited conffile, and a purge.
D=$tmp/dpkgroot
mkdir -p "$D/var/lib/dpkg/info" "$D/var/lib/dpkg/updates" "$D/etc"
touch "$D/var/lib/dpkg/status"
dp() { dpkg --root="$D" --force-script-chrootless --force-depends --force-not-root "$@" >>"$tmp/dpkg.log" 2>&1; }
if dp -i "$deb"; then
    grep -q '^newsmon:' "$D/etc/passwd" 2>/dev/null || bad "dpkg install: postinst did not create the newsmon user"
    [ -f "$D/etc/newsmon/newsmon.conf" ] || bad "dpkg install: no /etc/newsmon/newsmon.conf"
    echo "# edited" >>"$D/etc/newsmon/newsmon.conf"
    dp -i "$deb" || bad "dpkg re-install failed: $(cat "$tmp/dpkg.log")"
    tail -n1 "$D/etc/newsmon/newsmon.conf" | grep -q '^# edited$' || bad "dpkg re-install overwrote an edited conffile"
    dp --purge newsmon || bad "dpkg purge failed: $(cat "$tmp/dpkg.log")"
    [ -e "$D/etc/newsmon/newsmon.conf" ] && bad "purge left /etc/newsmon/newsmon.conf"
    [ -e "$D/usr/sbin/newsmon-store" ] && bad "purge left /usr/sbin/newsmon-store"
    [ $fail -eq 0 ] && ok "dpkg --root: install, upgrade over an edited conffile, purge"
else
    bad "dpkg --root -i failed: $(cat "$tmp/dpkg.log")"
fi

[ $fail -eq 0 ] && echo "install: all passed"
exit $fail
