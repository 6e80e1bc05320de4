#!/usr/bin/env python3
"""sd_notify: what each daemon tells systemd (Type=notify, WatchdogSec=,
ExecReload= in systemd/*.service rely on it), read from a datagram socket
standing in for systemd's. Each daemon runs in the pipeline of
tests/chaos/nmpipe.py with its own $NOTIFY_SOCKET and WATCHDOG_USEC=400000
(and WATCHDOG_PID set to another process for one of them), and must send:
  - READY=1 with a STATUS= line once it serves;
  - WATCHDOG=1 again and again (every 200 ms: half of WATCHDOG_USEC);
    none when WATCHDOG_PID names another process;
  - on SIGHUP, RELOADING=1 then READY=1;
  - on SIGTERM, STOPPING=1, and exit 0.
"""
import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", "."), "tests", "chaos"))
import nmpipe  # noqa: E402

build = nmpipe.find_build()
for d in nmpipe.DAEMONS:
    if not os.access(nmpipe.binary(build, d), os.X_OK):
        print("SKIP: %s is not built" % nmpipe.binary(build, d))
        sys.exit(77)

tmp = tempfile.mkdtemp(prefix="nm-sdnotify-")
pipe = nmpipe.Pipeline(build, os.path.join(tmp, "state"))
socks = {}
for d in nmpipe.DAEMONS:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(os.path.join(tmp, d + ".notify"))
    s.setblocking(False)
    socks[d] = s

NO_WATCHDOG = "classifier"   # gets WATCHDOG_PID of another process
failures = []


def drain(d):
    """Returns the datagrams received so far by d's socket."""
    out = []
    while True:
        try:
            out.append(socks[d].recv(4096).decode())
        except BlockingIOError:
            return out


def wait_for(d, pred, timeout, seen):
    """Collects d's datagrams into seen until pred(seen) or timeout."""
    end = time.time() + timeout
    while time.time() < end:
        seen.extend(drain(d))
        if pred(seen):
            return True
        pipe.check_alive()
        time.sleep(0.05)
    return False


def has(seen, line):
    return any(line in m.split("\n") for m in seen)


try:
    for d in ("store", "classifier", "notifier", "fetcher"):
        os.environ["NOTIFY_SOCKET"] = os.path.join(tmp, d + ".notify")
        os.environ["WATCHDOG_USEC"] = "400000"
        if d == NO_WATCHDOG:
            os.environ["WATCHDOG_PID"] = str(os.getpid())
        else:
            os.environ.pop("WATCHDOG_PID", None)
        pipe.start(d)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        os.environ.pop(k, None)

    for d in nmpipe.DAEMONS:
        seen = []
        if not wait_for(d, lambda s: has(s, "READY=1"), 30, seen):
            failures.append("%s sent no READY=1 (got %r)" % (d, seen))
            continue
        ready = [m for m in seen if "READY=1" in m.split("\n")][0]
        if not any(line.startswith("STATUS=") and len(line) > 7 for line in ready.split("\n")):
            failures.append("%s: READY=1 without a STATUS= line: %r" % (d, ready))
        seen = []
        time.sleep(1.2)
        seen.extend(drain(d))
        pings = sum(1 for m in seen if m == "WATCHDOG=1")
        if d == NO_WATCHDOG:
            if pings:
                failures.append("%s pinged the watchdog %d times though WATCHDOG_PID is another process" % (d, pings))
        elif pings < 3:
            failures.append("%s sent %d WATCHDOG=1 in 1.2 s with WATCHDOG_USEC=400000 (expected about 6)" % (d, pings))
        print("%s: READY (%s), %d watchdog pings in 1.2 s" % (d, ready.replace("\n", " | "), pings))

    for d in nmpipe.DAEMONS:
        drain(d)
        pipe.procs[d].send_signal(signal.SIGHUP)
        seen = []
        ok = wait_for(d, lambda s: any("READY=1" in m.split("\n") for m in s[1:]) and has(s, "RELOADING=1"), 20, seen)
        order = [m for m in seen if m != "WATCHDOG=1"]
        if not ok or "RELOADING=1" not in order[0].split("\n"):
            failures.append("%s on SIGHUP sent %r, not RELOADING=1 then READY=1" % (d, order))
        else:
            print("%s: SIGHUP -> %s" % (d, " then ".join(m.replace("\n", " | ") for m in order)))

    for d in ("fetcher", "classifier", "notifier", "store"):
        drain(d)
        p = pipe.procs[d]
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(20)
        except Exception:
            p.kill()
            rc = "hung"
        pipe.procs[d] = None
        seen = drain(d)
        if not has(seen, "STOPPING=1"):
            failures.append("%s sent no STOPPING=1 on SIGTERM (got %r)" % (d, seen))
        if rc != 0:
            failures.append("%s exited with %s on SIGTERM" % (d, rc))
finally:
    pipe.stop_all()

if failures:
    for f in failures:
        print("FAIL: " + f)
    for d in nmpipe.DAEMONS:
        print("---- %s log" % d)
        print(open(pipe.log(d)).read()[-2000:])
    sys.exit(1)
print("sd_notify: all four daemons speak the protocol")
