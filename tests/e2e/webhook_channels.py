#!/usr/bin/python3
"""Webhook-family channels (webhook, slack, mattermost, teams, telegram,
matrix, ntfy) against a real HTTP server on loopback that fails on demand:
500s, a hang past the timeout, a dropped connection, 403, 429 and 503
asking for a wait (Retry-After in seconds or as a date, Telegram's
retry_after). Proves retries with exponential back-off, the wait a server
asks for obeyed, "failed" after a permanent refusal, and that nothing is
delivered twice (retries, re-sends)."""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, fail, tmpdir  # noqa: E402
from httpsink import Sink  # noqa: E402

tmp = tmpdir()
store = FakeStore(tmp)
sink = Sink()
u = sink.url
for name, value in (("tg-token", "123:SECRET"), ("mx-token", "mxsecret"), ("hook-token", "hooksecret")):
    with open(os.path.join(tmp, name), "w") as f:
        f.write(value + "\n")
conf = """
[channel hook]
type = webhook
url = %(u)s/hook
token_file = %(tmp)s/hook-token
header = X-Desk: belarus
template = {"text": "{{title}} ({{severity}})", "link": "{{link}}", "themes": "{{themes}}", "snippet": "{{snippet}}", "alert": {{alert_json}}}

[channel slack]
type = slack
url = %(u)s/slack
retries = 4
retry_base = 300ms
retry_max = 2s

[channel teams]
type = teams
url = %(u)s/teams
timeout = 1s
retry_base = 100ms

[channel mm]
type = mattermost
url = %(u)s/mm
username = newsmon
retry_base = 100ms

[channel tg]
type = telegram
api_url = %(u)s/tg
token_file = %(tmp)s/tg-token
chat_id = -100123

[channel mx]
type = matrix
homeserver = %(u)s/mx
room = !room:example.org
token_file = %(tmp)s/mx-token

[channel phone]
type = ntfy
server = %(u)s/ntfy
topic = belarus-desk

[channel refused]
type = webhook
url = %(u)s/refused
retry_base = 100ms

[channel limited]
type = webhook
url = %(u)s/limited
retry_base = 100ms

[channel busy]
type = webhook
url = %(u)s/busy
retry_base = 100ms

[route all]
themes = *
channels = hook, slack, teams, mm, tg, mx, phone, refused, limited, busy
""" % locals()

sink.plan("/slack", ["500", "503", "ok"])
sink.plan("/teams", ["hang", "ok"])
sink.plan("/mm", ["drop", "ok"])
sink.plan("/refused", ["403"])
sink.plan("/tg", ["429+tg3", "ok"])
sink.plan("/limited", ["429+ra2", "ok"])
sink.plan("/busy", ["503+date3", "ok"])

n = Notifier(tmp, store, conf)
r = n.check()
check(r.returncode == 0, "config OK: " + r.stdout + r.stderr)
n.start()
store.send(alert(1, title='Minsk "drone" incident <b>near</b> border'))
chans = ["hook", "slack", "teams", "mm", "tg", "mx", "phone", "limited", "busy", "refused"]
acks = store.collect(lambda a: all(acks_for(a, 1, c) for c in chans), timeout=20)
for c in chans[:-1]:
    a = acks_for(acks, 1, c)
    check(len(a) == 1 and a[0]["status"] == "ok", "%s acked ok once" % c)
ref = acks_for(acks, 1, "refused")[0]
check(ref["status"] == "failed" and "403" in ref["error"] and len(sink.on("/refused")) == 1,
      "403 is permanent: failed, not retried (%s)" % ref["error"])

# retries and back-off
sl = sink.on("/slack")
check(len(sl) == 3, "slack: two 500s then success = 3 requests")
g1, g2 = sl[1][0] - sl[0][0], sl[2][0] - sl[1][0]
check(g1 >= 0.28 and g2 >= 0.58 and g2 > g1 * 1.5, "exponential back-off (%.2fs then %.2fs)" % (g1, g2))
check(len(sink.on("/teams")) == 2, "teams: hang past the timeout, then retried")
check(len(sink.on("/mm")) == 2, "mattermost: dropped connection, then retried")
check(len(sink.on("/tg")) == 2, "telegram: 429 retried")
# The waits servers asked for; the back-off alone would have been 2-2.5 s
# (telegram's default retry_base) and 0.1-0.125 s (the others).
for path, least, what in (("/tg", 2.9, "telegram's retry_after of 3 s"), ("/limited", 1.9, "Retry-After: 2"),
                          ("/busy", 1.0, "a Retry-After date 3 s ahead (whole seconds)")):
    rq = sink.on(path)
    gap = rq[1][0] - rq[0][0] if len(rq) == 2 else -1
    check(gap >= least, "%s obeyed: retried after %.2f s" % (what, gap))

# bodies
hook = sink.on("/hook")[0]
body = json.loads(hook[4])
check(body["text"] == 'Minsk "drone" incident <b>near</b> border (high)' and body["alert"]["alert_id"] == 1
      and body["alert"]["channel"] == "hook" and "espionage (high)" == body["themes"]
      and "«KGB»" in body["snippet"], "webhook template filled, JSON-escaped")
check(hook[3].get("Authorization") == "Bearer hooksecret" and hook[3].get("X-Desk") == "belarus",
      "webhook bearer token from file and extra header")
s = sink.bodies("/slack")[-1]
check("&lt;b&gt;near&lt;/b&gt;" in s["text"] and "*KGB*" in s["text"] and "<https://www.lrt.lt/en/news/1|" in s["text"],
      "slack mrkdwn: escaped, highlighted, linked")
t = sink.bodies("/teams")[-1]
card = t["attachments"][0]["content"]
check(t["type"] == "message" and card["type"] == "AdaptiveCard" and card["actions"][0]["url"].endswith("/news/1"),
      "teams adaptive card")
mm = sink.bodies("/mm")[-1]
check(mm["username"] == "newsmon" and "**KGB**" in mm["text"], "mattermost markdown")
tg = sink.on("/tg")[-1]
tgb = json.loads(tg[4])
check(tg[2] == "/tg/bot123:SECRET/sendMessage" and tgb["chat_id"] == "-100123" and tgb["parse_mode"] == "HTML"
      and "<b><u>KGB</u></b>" in tgb["text"] and "&lt;b&gt;" in tgb["text"], "telegram sendMessage, HTML subset")
mx = sink.on("/mx")[0]
check(mx[1] == "PUT" and mx[2].startswith("/mx/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/newsmon.")
      and mx[3].get("Authorization") == "Bearer mxsecret", "matrix PUT with txn id and token")
mxb = json.loads(mx[4])
check(mxb["msgtype"] == "m.text" and "<mark><b>KGB</b></mark>" in mxb["formatted_body"], "matrix html body")
nt = sink.bodies("/ntfy")[0]
check(nt["topic"] == "belarus-desk" and nt["priority"] == 4 and nt["tags"] == ["espionage"]
      and nt["click"].endswith("/news/1"), "ntfy JSON publish with priority and click")

# re-send: no new request anywhere
count = len(sink.requests)
store.send(alert(1))
store.collect(lambda a: len(acks_for(a, 1)) >= 16)
time.sleep(0.5)
check(len(sink.requests) == count, "re-send delivered nothing twice")

# a follow-up: ntfy priority one lower, matrix m.notice, "Also reported by"
store.send(alert(2, story="story-1", followup=1, link="https://belsat.eu/x"))
store.collect(lambda a: all(acks_for(a, 2, c) for c in chans), timeout=20)
check(sink.bodies("/ntfy")[-1]["priority"] == 3 and sink.bodies("/mx")[-1]["msgtype"] == "m.notice"
      and "Also reported by belsat.eu" in sink.bodies("/mm")[-1]["text"], "follow-up is not a fresh alarm")

n.stop()
sink.close()
store.close()
shutil.rmtree(tmp)
print("PASS")
