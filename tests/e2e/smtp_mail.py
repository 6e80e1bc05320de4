#!/usr/bin/python3
"""The e-mail channel against a real SMTP server on loopback (aiosmtpd):
STARTTLS required and verified against the test CA, AUTH with a password
read from a file, headers (Date, From, To, Subject, Message-ID), a
multipart/alternative message with text and HTML parts, a follow-up
threaded to the story's first Message-ID, a temporary 451 retried, a
wrong password failing the alert, and no second mail on a re-send."""
import email
import email.policy
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("NM_SOURCE_DIR", os.path.dirname(__file__) + "/../.."),
                                "tests/data/notifier"))
from nmtest import FakeStore, Notifier, acks_for, alert, check, fail, tmpdir  # noqa: E402
from smtpsink import SmtpSink  # noqa: E402

tmp = tmpdir()
store = FakeStore(tmp)
smtp = SmtpSink(tmp)
with open(os.path.join(tmp, "smtp-password"), "w") as f:
    f.write("s3cret\n")
with open(os.path.join(tmp, "wrong-password"), "w") as f:
    f.write("nope\n")
url, cert = smtp.url, smtp.cert
conf = """
[channel mail]
type = email
smtp_url = %(url)s
ca_file = %(cert)s
username = desk
password_file = %(tmp)s/smtp-password
from = newsmon@desk.example.org
to = duty@desk.example.org, analyst@desk.example.org
retry_base = 200ms

[channel badmail]
type = email
smtp_url = %(url)s
ca_file = %(cert)s
username = desk
password_file = %(tmp)s/wrong-password
from = newsmon@desk.example.org
to = duty@desk.example.org
retries = 1
retry_base = 100ms

[route all]
themes = *
channels = mail

[route bad]
themes = cyber
channels = badmail
""" % locals()

n = Notifier(tmp, store, conf)
r = n.check()
check(r.returncode == 0, "config OK: " + r.stdout + r.stderr)
n.start()

smtp.handler.fail_next = 1
store.send(alert(1, title="Спецслужбы Беларуси вербуют диаспору в Вильнюсе"))
acks = store.collect(lambda a: acks_for(a, 1, "mail"), timeout=20)
check(acks_for(acks, 1, "mail")[0]["status"] == "ok", "mail acked ok after a 451")
check(len(smtp.handler.messages) == 1, "one mail accepted (the 451 attempt was retried)")
check(any(ok for _, ok in smtp.auth_attempts), "AUTH succeeded with the password from the file")
mail_from, rcpts, raw = smtp.handler.messages[0]
check(mail_from == "newsmon@desk.example.org" and rcpts == ["duty@desk.example.org", "analyst@desk.example.org"],
      "envelope from and recipients")
m = email.message_from_bytes(raw, policy=email.policy.default)
for h in ("Date", "From", "To", "Subject", "Message-ID"):
    check(m[h], "header %s present" % h)
check(str(m["Subject"]) == "[newsmon] [HIGH] Спецслужбы Беларуси вербуют диаспору в Вильнюсе",
      "UTF-8 subject encoded and decoded: " + str(m["Subject"]))
check(m.get_content_type() == "multipart/alternative", "multipart/alternative")
text = m.get_body(("plain",)).get_content()
html = m.get_body(("html",)).get_content()
check("«KGB»" in text and "Link: https://www.lrt.lt/en/news/1" in text and "espionage (high)" in text,
      "text part: snippet, themes, link")
check("<mark><b>KGB</b></mark>" in html and 'href="https://www.lrt.lt/en/news/1"' in html
      and "Спецслужбы" in html, "html part: highlighted and linked")
first_id = m["Message-ID"]
check(first_id.endswith("@desk.example.org>"), "Message-ID on the sender's domain")

# follow-up in the same story: threaded
store.send(alert(2, story="story-1", followup=1, link="https://belsat.eu/ru/news/2"))
store.collect(lambda a: acks_for(a, 2, "mail"), timeout=20)
f = email.message_from_bytes(smtp.handler.messages[-1][2], policy=email.policy.default)
check(f["In-Reply-To"] == first_id and first_id in f["References"] and f["Message-ID"] != first_id,
      "follow-up threaded: In-Reply-To/References = story's first Message-ID")
check("Also reported by belsat.eu" in str(f["Subject"]), "follow-up subject: " + str(f["Subject"]))

# re-send: acknowledged, not mailed again
count = len(smtp.handler.messages)
store.send(alert(1))
store.collect(lambda a: len(acks_for(a, 1, "mail")) >= 2)
time.sleep(0.5)
check(len(smtp.handler.messages) == count, "re-send not mailed twice")

# wrong password: failed without a mail
store.send(alert(3, theme="cyber"))
acks = store.collect(lambda a: acks_for(a, 3, "badmail"), timeout=20)
bad = acks_for(acks, 3, "badmail")[0]
check(bad["status"] == "failed" and bad["error"], "wrong password -> failed: " + bad["error"])

n.stop()
smtp.stop()
store.close()
shutil.rmtree(tmp)
print("PASS")
