#!/bin/sh
# bench/poll: one poll cycle of N feeds (default 1000) served by a local
# nginx, half of them unchanged since the previous poll (so a client that
# keeps ETag / Last-Modified gets 304), measured for newsmon-fetcher
# (--once with [fetcher] confirm = no: no store, no page fetches) and for
# `newsboat -x reload` on the same feeds in the same run, with the same
# number of parallel transfers. Both first poll every feed once (warm-up,
# not measured) so both hold validators; then half the feeds change and
# the second poll is measured: wall time and peak memory (/usr/bin/time -v)
# and the bytes nginx sent ($bytes_sent summed from its access log).
#
# usage: bench/poll/run.sh [BUILD_DIR]     (default: build/, or $NM_BUILD_DIR)
# env:   N=1000 feeds, PAR=16 parallel transfers for both tools, KEEP=1 keeps the work folder
# Target: newsmon-fetcher at least 3x faster than newsboat, with at most
# a third of its peak memory. newsboat is installed here if missing (this
# script only; it is not a dependency of newsmon).
set -eu

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-${NM_BUILD_DIR:-$SRC/build}}
N=${N:-1000}
PAR=${PAR:-16}
FETCHER=$BUILD/fetcher/newsmon-fetcher
[ -x "$FETCHER" ] || { echo "bench/poll: $FETCHER not found: build first (make build)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/poll: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
if ! command -v newsboat >/dev/null 2>&1; then
    echo "bench/poll: installing newsboat (the peer this benchmark compares with)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends newsboat >/dev/null
fi

W=$(mktemp -d /tmp/nm-bench-poll.XXXXXX)
NGINX_PID=""
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "bench/poll: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/www" "$W/tmp" "$W/feeds.d" "$W/home"
chmod 755 "$W" "$W/www"   # nginx's workers may run as another user
python3 "$SRC/bench/poll/gen_feeds.py" "$W/www" "$N" 1

cat > "$W/nginx.conf" <<NGINX
worker_processes 2;
pid $W/nginx.pid;
error_log $W/error.log;
events { worker_connections 4096; }
http {
    log_format bench '\$status \$bytes_sent';
    access_log $W/access.log bench;
    client_body_temp_path $W/tmp; proxy_temp_path $W/tmp; fastcgi_temp_path $W/tmp;
    uwsgi_temp_path $W/tmp; scgi_temp_path $W/tmp;
    keepalive_requests 100000;
    types { application/rss+xml xml; }
    server { listen 127.0.0.1:$PORT; root $W/www; }
}
NGINX
nginx -p "$W" -c "$W/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/feed-0000.xml" && break
    sleep 0.1
done

# newsmon-fetcher: config and feed list
{
    echo '<?xml version="1.0"?><opml version="2.0"><head><title>bench</title></head><body>'
    i=0
    while [ $i -lt "$N" ]; do
        printf '<outline type="rss" text="f%d" xmlUrl="http://127.0.0.1:%d/feed-%04d.xml"/>\n' $i "$PORT" $i
        i=$((i + 1))
    done
    echo '</body></opml>'
} > "$W/feeds.d/bench.opml"
cat > "$W/newsmon.conf" <<CONF
[bus]
fetch_out = ipc://$W/fetch.sock
store_events = ipc://$W/events.sock
control_dir = $W
linger = 0
[log]
level = warning
[fetcher]
state = $W/fetcher.db
feeds = $W/feeds.d
fetch_pages = no
confirm = no
max_transfers = $PAR
max_per_host = $PAR
min_interval = 1s
once_timeout = 10m
CONF
# newsboat: the same feeds, the same parallelism
i=0
: > "$W/urls"
while [ $i -lt "$N" ]; do
    printf 'http://127.0.0.1:%d/feed-%04d.xml\n' "$PORT" $i >> "$W/urls"
    i=$((i + 1))
done
printf 'reload-threads %d\nshow-read-feeds yes\n' "$PAR" > "$W/newsboat.conf"

run_newsmon() { /usr/bin/time -v -o "$W/time.$1" "$FETCHER" -c "$W/newsmon.conf" --once >"$W/log.$1" 2>&1; }
run_newsboat() {
    HOME=$W/home /usr/bin/time -v -o "$W/time.$1" newsboat -x reload -u "$W/urls" -c "$W/newsboat.db" \
        -C "$W/newsboat.conf" >"$W/log.$1" 2>&1
}
# Prints "wall_s rss_kb" from a /usr/bin/time -v report.
measure() {
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
                /Maximum resident set size/ { r = $2 }
                END { printf "%.3f %d\n", w, r }' "$1"
}
# Prints "bytes n200 n304 other" from the access log, then empties it.
traffic() {
    awk '{ b += $2; if ($1 == 200) a++; else if ($1 == 304) c++; else o++ }
         END { printf "%d %d %d %d\n", b, a, c, o }' "$W/access.log"
    : > "$W/access.log"
}

echo "bench/poll: $N feeds on nginx 127.0.0.1:$PORT, $PAR transfers at once"
# Each tool's start-up footprint: one feed, fresh state (libraries, TLS
# init, ...), to tell the cost of the tools from the cost of the feeds.
mkdir -p "$W/one.d"
printf '<opml version="2.0"><body><outline text="f" xmlUrl="http://127.0.0.1:%d/feed-0000.xml"/></body></opml>\n' \
    "$PORT" > "$W/one.d/one.opml"
sed -e "s|^feeds = .*|feeds = $W/one.d|" -e "s|^state = .*|state = $W/one.db|" "$W/newsmon.conf" > "$W/one.conf"
head -1 "$W/urls" > "$W/one.urls"
/usr/bin/time -v -o "$W/time.base" "$FETCHER" -c "$W/one.conf" --once >/dev/null 2>&1
HOME=$W/home /usr/bin/time -v -o "$W/time.base-nb" newsboat -x reload -u "$W/one.urls" -c "$W/one-nb.db" \
    -C "$W/newsboat.conf" >/dev/null 2>&1
NM_BASE=$(measure "$W/time.base" | cut -d' ' -f2)
NB_BASE=$(measure "$W/time.base-nb" | cut -d' ' -f2)
run_newsmon warm || { cat "$W/log.warm"; exit 1; }
run_newsboat warm-nb || { cat "$W/log.warm-nb"; exit 1; }
: > "$W/access.log"
python3 "$SRC/bench/poll/gen_feeds.py" "$W/www" "$N" 2

run_newsmon poll || { cat "$W/log.poll"; exit 1; }
set -- $(measure "$W/time.poll") $(traffic)
NM_WALL=$1 NM_RSS=$2 NM_BYTES=$3 NM_200=$4 NM_304=$5 NM_OTHER=$6
run_newsboat poll-nb || { cat "$W/log.poll-nb"; exit 1; }
set -- $(measure "$W/time.poll-nb") $(traffic)
NB_WALL=$1 NB_RSS=$2 NB_BYTES=$3 NB_200=$4 NB_304=$5 NB_OTHER=$6

printf '%-16s %9s %12s %12s %12s %6s %6s %6s\n' tool wall_s peak_rss_kB 1-feed_rss_kB bytes_sent 200 304 other
printf '%-16s %9s %12s %12s %12s %6s %6s %6s\n' newsmon-fetcher "$NM_WALL" "$NM_RSS" "$NM_BASE" "$NM_BYTES" \
    "$NM_200" "$NM_304" "$NM_OTHER"
printf '%-16s %9s %12s %12s %12s %6s %6s %6s\n' newsboat "$NB_WALL" "$NB_RSS" "$NB_BASE" "$NB_BYTES" \
    "$NB_200" "$NB_304" "$NB_OTHER"
if [ "$NM_OTHER" -ne 0 ] || [ "$NB_OTHER" -ne 0 ]; then
    echo "bench/poll: unexpected answers from nginx (see $W/error.log); the figures are not comparable" >&2
    exit 1
fi
awk -v a="$NM_WALL" -v b="$NB_WALL" -v c="$NM_RSS" -v d="$NB_RSS" -v e="$NM_BASE" -v f="$NB_BASE" 'BEGIN {
    speed = (a > 0) ? b / a : 0; mem = (d > 0) ? c / d : 0
    printf "memory for the %s feeds above each tool'"'"'s 1-feed run: newsmon-fetcher %d kB, newsboat %d kB\n", '"$N"', c - e, d - f
    printf "speed-up: %.1fx (target >= 3x: %s)\n", speed, (speed >= 3 ? "met" : "NOT met")
    printf "memory:   %.2f of newsboat (target <= 0.33: %s)\n", mem, (mem <= 0.3334 ? "met" : "NOT met")
}'
