#!/usr/bin/python3
"""newsmon-notifier against a fake store: stdout, jsonl and exec channels,
routing, acknowledgements, no duplicates on re-send or after a restart,
decoding failures survived, retries then "failed", rate limit -> digest."""
import json
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, fail, tmpdir  # noqa: E402

tmp = tmpdir()
store = FakeStore(tmp)
jsonl = os.path.join(tmp, "alerts.jsonl")
limited = os.path.join(tmp, "limited.jsonl")
script_out = os.path.join(tmp, "script.out")
conf = """
[channel screen]
type = stdout

[channel log]
type = jsonl
path = %(jsonl)s

[channel script]
type = exec
command = cat >> %(script_out)s; echo >> %(script_out)s
timeout = 5s

[channel broken]
type = exec
command = exit 3
retries = 2
retry_base = 200ms
retry_max = 1s

[channel lim]
type = jsonl
path = %(limited)s

[route everything]
themes = *
channels = screen, log

[route urgent]
themes = espionage, repression
min_severity = high
languages = en, ru
channels = script, log, broken

[route limited]
themes = military
channels = lim
rate_limit = 2
rate_window = 3s
""" % locals()

n = Notifier(tmp, store, conf)
r = n.check()
check(r.returncode == 0 and "configuration OK" in r.stdout, "-n accepts the config: " + r.stdout + r.stderr)
n.start()

# 1. A high espionage alert: everything + urgent; log is shared (sent once).
store.send(alert(1))
acks = store.collect(lambda a: len(acks_for(a, 1)) >= 4)
ok1 = {(a["channel"], a["status"]) for a in acks_for(acks, 1)}
check({("screen", "ok"), ("log", "ok"), ("script", "ok")} <= ok1, "alert 1 acked ok on screen, log, script")
lines = [json.loads(l) for l in open(jsonl)]
check(len(lines) == 1 and lines[0]["alert_id"] == 1 and lines[0]["channel"] == "log"
      and "delivered_at" in lines[0] and lines[0]["article"]["id"] == "urn:test:1"
      and lines[0]["themes"][0]["id"] == "espionage", "jsonl line = alert + channel + delivered_at")
script = open(script_out).read().strip().splitlines()
check(len(script) == 1 and json.loads(script[0])["alert_id"] == 1 and json.loads(script[0])["channel"] == "script",
      "exec got the alert JSON on stdin")
# broken: 1 attempt + 2 retries, then failed
store.collect(lambda a: len(acks_for(a, 1, "broken")) >= 1, timeout=10)
b = acks_for(store.acks, 1, "broken")[0]
check(b["status"] == "failed" and "status 3" in b["error"] and "3 attempts" in b["error"],
      "failing exec retried then acked failed: " + b["error"])
check(n.logtext().count("retrying in") >= 2, "retries logged with their back-off")

# 2. Re-send of alert 1: acked again from the database, nothing sent twice.
before = len(store.acks)
store.send(alert(1))
acks = store.collect(lambda a: len(a) >= before + 4)
again = acks[before:]
check({(a["channel"], a["status"]) for a in again} == {("screen", "ok"), ("log", "ok"), ("script", "ok"),
                                                         ("broken", "failed")}, "re-send re-acknowledged")
time.sleep(0.3)
check(len(open(jsonl).readlines()) == 1, "re-send not written twice to jsonl")
check(len(open(script_out).read().strip().splitlines()) == 1, "re-send not run twice")

# 3. An alert no route selects, and malformed messages.
store.send_raw([b"alert", b"{not json"])
store.send_raw([b"alert", json.dumps({"v": 1, "alert_id": 5}).encode()])
store.send_raw([b"bogus", b"{}"])
store.send(alert(2, themes=[]))
acks = store.collect(lambda a: len(acks_for(a, 2)) >= 1)
check(acks_for(acks, 2) == [{"v": 1, "alert_id": 2, "channel": "none", "status": "ok"}],
      "unrouted alert acked as channel none")
log = n.logtext()
check("dropped" in log and "story" in log, "decoding failures logged with the reason")

# 4. A low-severity politics alert only goes through 'everything'.
store.send(alert(3, theme="politics", severity="info"))
acks = store.collect(lambda a: len(acks_for(a, 3)) >= 2)
check({a["channel"] for a in acks_for(acks, 3)} == {"screen", "log"}, "route by theme and severity")
out = open(n.out).read()
check("[HIGH] Belarusian KGB recruits diaspora members in Vilnius 1" in out and "«KGB»" in out
      and "https://www.lrt.lt/en/news/1" in out, "stdout shows title, highlighted match and link")

# 5. Restart: alert 1 re-sent again is still not delivered twice.
n.stop()
n.start()
before = len(store.acks)
store.send(alert(1))
store.collect(lambda a: len(a) >= before + 4)
time.sleep(0.3)
check(len([l for l in open(jsonl) if json.loads(l)["alert_id"] == 1]) == 1, "no duplicate after a restart")

# 6. Rate limit: 5 military alerts in a burst -> 2 at once, 3 in one digest.
t0 = time.time()
for i in range(10, 15):
    store.send(alert(i, theme="military", severity="medium"))
store.collect(lambda a: all(acks_for(a, i, "lim") for i in range(10, 15)), timeout=15)
elapsed = time.time() - t0
lines = [json.loads(l) for l in open(limited)]
single = [l for l in lines if "digest" not in l]
digest = [l for l in lines if l.get("digest") == "limited"]
check(len(single) == 2 and len(digest) == 3, "rate limit: 2 sent, 3 folded into a digest (%d/%d)" %
      (len(single), len(digest)))
check(elapsed >= 2.0, "digest waited for the window (%.1fs)" % elapsed)
check(all(a["status"] == "ok" for i in range(10, 15) for a in acks_for(store.acks, i, "lim")),
      "every alert of the digest acked ok")

n.stop()
store.close()
shutil.rmtree(tmp)
print("PASS")
