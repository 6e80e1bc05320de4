#!/usr/bin/env bash
# The four daemons under valgrind (memcheck) through start, work and stop:
# the demo site (demo/site, two feeds, five article pages) served on a free
# loopback port, the pipeline on one config in a temporary folder (as
# scripts/run-demo does it, through tests/chaos/nmpipe.py), each daemon
# started as
#   valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3 newsmon-X -f -c CONF
# then, once the five articles are stored and their alerts delivered, each
# is stopped with SIGTERM and must exit 0: 3 means valgrind found an error
# (invalid read or write, use of uninitialised memory, bad free) or a
# definite leak. Each daemon's valgrind report is printed on failure.
#
# Skips (77) when valgrind is missing, or when the build is sanitized
# (NEWSMON_SANITIZE=ON: ASan and valgrind do not mix; `make test-asan`
# covers that build).
set -euo pipefail
SRC=${NM_SOURCE_DIR:?}
BUILD=${NM_BUILD_DIR:?}
PY=/usr/bin/python3
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed (apt-get install valgrind)"; exit 77; }
[ -x "$PY" ] || { echo "SKIP: /usr/bin/python3 is missing"; exit 77; }
if grep -q '^NEWSMON_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null ||
   nm -an "$BUILD/store/newsmon-store" 2>/dev/null | grep -q '__asan_init'; then
    echo "SKIP: $BUILD is built with NEWSMON_SANITIZE=ON (AddressSanitizer); valgrind needs a build without it"
    exit 77
fi
export NM_SOURCE_DIR NM_BUILD_DIR
exec "$PY" - <<'PYEOF'
import http.server, functools, glob, json, os, shutil, sys, tempfile, threading, time
sys.path.insert(0, os.path.join(os.environ["NM_SOURCE_DIR"], "tests", "chaos"))
import nmpipe

build = os.environ["NM_BUILD_DIR"]
for n in nmpipe.DAEMONS + ("ctl",):
    if not os.access(nmpipe.binary(build, n), os.X_OK):
        print("SKIP: %s is not built" % nmpipe.binary(build, n))
        sys.exit(77)
tmp = tempfile.mkdtemp(prefix="nm-valgrind-")
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
handler = functools.partial(Quiet, directory=os.path.join(os.environ["NM_SOURCE_DIR"], "demo", "site"))
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
base = "http://127.0.0.1:%d" % httpd.server_address[1]

pipe = nmpipe.Pipeline(build, os.path.join(tmp, "state"), fetcher={"default_interval": "5s", "max_interval": "5s"})
nmpipe.write_opml(os.path.join(pipe.feeds, "demo.opml"), [base + "/feeds/desk.rss", base + "/feeds/desk.atom"])
for n in nmpipe.DAEMONS:
    pipe.wrappers[n] = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite", "--error-exitcode=3",
                        "--show-leak-kinds=definite", "--num-callers=30",
                        "--log-file=%s/valgrind-%s.log" % (pipe.state, n)]

def reports():
    for f in sorted(glob.glob(os.path.join(pipe.state, "valgrind-*.log"))):
        print("---- %s" % f)
        print(open(f).read()[-6000:])
    for n in nmpipe.DAEMONS:
        print("---- %s" % pipe.log(n))
        print(open(pipe.log(n)).read()[-3000:])

failed = []
try:
    t0 = time.time()
    pipe.start_all(timeout=120)
    print("daemons up under valgrind in %.1fs" % (time.time() - t0))
    done = False
    end = time.time() + 240
    while time.time() < end:
        if pipe.check_alive():
            break
        c = pipe.counts()
        if c and c["articles"] >= 5 and c["alerts_pending"] == 0 and c["alerts_sent"] == 0 \
                and os.path.exists(pipe.alerts) and len(open(pipe.alerts).read().splitlines()) >= 5:
            done = True
            break
        time.sleep(1)
    print("work: %s after %.1fs" % (pipe.counts(), time.time() - t0))
    if not done:
        failed.append("the demo was not stored and alerted in time")
    # Let one more poll cycle run (re-polls, conditional GETs) before stopping.
    time.sleep(6)
    for n, s in pipe.stop_all(timeout=120).items():
        print("newsmon-%s: exit status %s" % (n, s))
        if s != 0:
            failed.append("newsmon-%s exited with %s%s" % (n, s, " (valgrind found errors or definite leaks)"
                                                            if s == 3 else ""))
    for n, s in pipe.crashes:
        failed.append("newsmon-%s exited by itself with status %s" % (n, s))
    for f in sorted(glob.glob(os.path.join(pipe.state, "valgrind-*.log"))):
        text = open(f).read()
        summary = [l for l in text.splitlines() if "ERROR SUMMARY" in l or "definitely lost" in l]
        print("%s: %s" % (os.path.basename(f), "; ".join(s.split("== ", 1)[-1] for s in summary)))
finally:
    pipe.stop_all(timeout=60)
    httpd.shutdown()
if failed:
    reports()
    for f in failed:
        print("FAIL: " + f)
    print("state kept in " + tmp)
    sys.exit(1)
shutil.rmtree(tmp, ignore_errors=True)
print("PASS: no valgrind errors, no definite leaks in the four daemons")
PYEOF
