#!/usr/bin/python3
"""
The duplicate the chaos run found (docs/reliability.md, "Chaos"): the
notifier killed after appending an alert to a jsonl channel but before
recording the outcome in its state database; the store re-sends the alert
and it was appended a second time. Replayed here without a kill: the
jsonl file already ends with the alert's line, the state database does
not know it. The re-sent alert must be acknowledged "ok" without a second
line; a new alert still gets its line; and a last line torn by the kill
(no newline) does not swallow the next one.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, tmpdir  # noqa: E402


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines()]


tmp = tmpdir()
store = FakeStore(tmp)
jsonl = os.path.join(tmp, "alerts.jsonl")
torn = os.path.join(tmp, "torn.jsonl")
conf = """
[channel log]
type = jsonl
path = %s

[channel torn]
type = jsonl
path = %s

[route everything]
themes = *
channels = log, torn
""" % (jsonl, torn)

# What the killed notifier left: alert 1 delivered on "log" (whole line),
# on "torn" cut in the middle of its line.
line = dict(alert(1), channel="log", delivered_at="2024-05-01T10:00:00Z")
with open(jsonl, "w") as f:
    f.write(json.dumps(dict(alert(0), channel="log")) + "\n" + json.dumps(line) + "\n")
with open(torn, "w") as f:
    f.write(json.dumps(dict(line, channel="torn"))[:40])

n = Notifier(tmp, store, conf)
n.start()
store.send(alert(1))
acks = store.collect(lambda a: len(acks_for(a, 1)) >= 2)
check({(a["channel"], a["status"]) for a in acks_for(acks, 1)} == {("log", "ok"), ("torn", "ok")},
      "the re-sent alert is acknowledged ok on both channels")
check([a["alert_id"] for a in lines(jsonl)] == [0, 1], "and is not appended to the jsonl file a second time")
store.send(alert(2))
store.collect(lambda a: len(acks_for(a, 2)) >= 2)
check([a["alert_id"] for a in lines(jsonl)] == [0, 1, 2], "a new alert is appended once")
with open(torn) as f:
    t = f.read().splitlines()
check(len(t) == 3 and json.loads(t[1])["alert_id"] == 1 and json.loads(t[2])["alert_id"] == 2,
      "after a torn last line the next lines start on their own (alert 1 written whole, then 2)")
n.stop()
n.start()   # a restart reads the tail again: nothing is appended twice
store.send(alert(2))
store.collect(lambda a: len(acks_for(a, 2)) >= 4)
check([a["alert_id"] for a in lines(jsonl)] == [0, 1, 2], "after a restart, a re-send of alert 2 adds nothing")
n.stop()
store.close()
print("PASS")
