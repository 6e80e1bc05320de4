"""Shared machinery of the end-to-end benchmarks (latency.py, hour.py): a
local nginx serving a folder of feeds and pages, the receivers (sinks.py),
newsmon's four daemons started as scripts/run-demo starts them (-c CONF and
-o overrides for every path), and the peers (rss2email, newsboat) run under
/usr/bin/time.

Everything listens on 127.0.0.1 only, lives in one work folder, and is
stopped by Bench.close() (also on an exception), so a run leaves nothing
behind.
"""
import html
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"
TICK = os.sysconf("SC_CLK_TCK")
DAEMONS = ("classifier", "store", "notifier", "fetcher")


def log(msg):
    print("bench/e2e: " + msg, file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_atomic(path, text):
    """Writes text to path through a rename, so nginx never serves half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# ---- the site: feeds and article pages --------------------------------------

QUIET = [("Spring planting starts early in the river valley",
          "Farmers in the valley began planting this week after a mild winter. "
          "The regional agronomist expects a good harvest of potatoes and rye."),
         ("City orchestra announces its summer season",
          "The orchestra will play twelve concerts in the old town square, "
          "including a new work by a young composer."),
         ("New cycling paths open along the embankment",
          "Three kilometres of cycling paths opened on Saturday, linking the "
          "university campus with the railway station.")]
ALERTING = [("Belarusian KGB recruits diaspora members in {place}",
             "Counter-intelligence officers said the Belarusian KGB tried to recruit relatives "
             "of Belarusians living in {place}. The State Security Department warned families "
             "about approaches by intelligence services."),
            ("Drones from Belarus cross the border near {place}",
             "Border guards reported several drones flying in from Belarus overnight near {place}. "
             "The airspace violation was the third this month, officials said."),
            ("Lukashenko orders troops to the border near {place}",
             "Belarusian troops and military equipment moved towards the border near {place} "
             "as Minsk announced unscheduled exercises and mobilisation drills.")]
PLACES = ["Vilnius", "Bialystok", "Riga", "Warsaw", "Kaunas", "Druskininkai", "Grodno", "Lida"]


def item_text(kind, n):
    """Returns (title, text) of the n-th item: kind 'quiet' (no theme fires)
    or 'alert' (a Belarus security story that the desk's rules alert on)."""
    if kind == "quiet":
        title, text = QUIET[n % len(QUIET)]
        return "%s (%d)" % (title, n), text
    title, text = ALERTING[n % len(ALERTING)]
    place = PLACES[(n // len(ALERTING)) % len(PLACES)]
    return title.format(place=place), text.format(place=place)


def rfc822(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


class Site:
    """A folder nginx serves: feeds under f/, article pages under p/."""

    def __init__(self, root, base):
        self.root, self.base = root, base
        os.makedirs(os.path.join(root, "f"), exist_ok=True)
        os.makedirs(os.path.join(root, "p"), exist_ok=True)
        self.items = {}   # feed name -> list of item dicts, newest first

    def feed_url(self, name):
        return "%s/f/%s.xml" % (self.base, name)

    def add_item(self, feed, guid, title, text, when, write=True, keep=10):
        """Adds an item (and writes its page first, then the feed, unless
        write is false); the feed keeps its `keep` newest items."""
        link = "%s/p/%s.html" % (self.base, guid)
        page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title></head>"
                "<body><header><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a></nav></header>"
                "<main><article><h1>%s</h1><p class=\"byline\">By the bench desk</p>%s</article></main>"
                "<footer>Bench Daily, all rights reserved.</footer></body></html>\n") % (
                    html.escape(title), html.escape(title),
                    "".join("<p>%s</p>" % html.escape(text) for _ in range(4)))
        write_atomic(os.path.join(self.root, "p", guid + ".html"), page)
        items = self.items.setdefault(feed, [])
        items.insert(0, {"guid": guid, "title": title, "text": text, "link": link, "when": when})
        del items[keep:]
        if write:
            self.write_feed(feed)

    def write_feed(self, feed):
        out = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>',
               "<title>Bench feed %s</title><link>%s/</link><description>bench</description>" % (feed, self.base)]
        for it in self.items.get(feed, []):
            out.append("<item><title>%s</title><link>%s</link><guid isPermaLink=\"false\">%s</guid>"
                       "<pubDate>%s</pubDate><description>%s</description></item>" % (
                           html.escape(it["title"]), it["link"], it["guid"], rfc822(it["when"]),
                           html.escape(it["text"])))
        out.append("</channel></rss>\n")
        write_atomic(os.path.join(self.root, "f", feed + ".xml"), "\n".join(out))


# ---- processes --------------------------------------------------------------

class Bench:
    """Owns the work folder and every process a benchmark starts."""

    def __init__(self, build, work=None, keep=False):
        self.build = os.path.abspath(build)
        self.work = work or subprocess.check_output(["mktemp", "-d", "/tmp/nm-bench-e2e.XXXXXX"]).decode().strip()
        os.chmod(self.work, 0o755)   # nginx's workers may run as another user
        self.keep = keep
        # SIGTERM (e.g. the driver stopped) unwinds like an error, so the
        # finally blocks stop every process started here
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
        self.procs = []              # (name, Popen) to stop at the end
        self.nginx = None
        for name in DAEMONS:
            path = self.daemon_path(name)
            if not os.access(path, os.X_OK):
                die("%s is not built (make bench builds it)" % path)

    def daemon_path(self, name):
        return os.path.join(self.build, name, "newsmon-" + name)

    def path(self, *p):
        return os.path.join(self.work, *p)

    # nginx
    def start_nginx(self, root):
        port = free_port()
        os.makedirs(self.path("nginx-tmp"), exist_ok=True)
        conf = self.path("nginx.conf")
        with open(conf, "w") as f:
            f.write("""worker_processes 1;
pid %(w)s/nginx.pid;
error_log %(w)s/nginx-error.log;
events { worker_connections 4096; }
http {
    log_format bench '$uri $status $bytes_sent $msec "$http_user_agent"';
    access_log %(w)s/access.log bench;
    client_body_temp_path %(w)s/nginx-tmp; proxy_temp_path %(w)s/nginx-tmp; fastcgi_temp_path %(w)s/nginx-tmp;
    uwsgi_temp_path %(w)s/nginx-tmp; scgi_temp_path %(w)s/nginx-tmp;
    keepalive_requests 100000;
    types { application/rss+xml xml; text/html html; }
    server { listen 127.0.0.1:%(p)d; root %(r)s; }
}
""" % {"w": self.work, "p": port, "r": root})
        p = subprocess.Popen(["nginx", "-p", self.work, "-c", conf, "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=open(self.path("nginx.out"), "w"))
        self.procs.append(("nginx", p))
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            die("nginx did not start: see %s" % self.path("nginx-error.log"))
        self.nginx = p
        return "http://127.0.0.1:%d" % port

    def feed_requests(self):
        """Returns (feed requests, page requests, non-2xx/304 answers) in nginx's log so far."""
        feeds = pages = bad = 0
        try:
            with open(self.path("access.log")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 2:
                        continue
                    if parts[0].startswith("/f/"):
                        feeds += 1
                    elif parts[0].startswith("/p/"):
                        pages += 1
                    if parts[1] not in ("200", "304"):
                        bad += 1
        except FileNotFoundError:
            pass
        return feeds, pages, bad

    def access_entries(self):
        """Returns nginx's log so far as [{"uri", "status", "t" (when the
        answer was sent, unix time), "agent"}]."""
        out = []
        try:
            with open(self.path("access.log")) as f:
                for line in f:
                    parts = line.split(None, 4)
                    if len(parts) == 5:
                        out.append({"uri": parts[0], "status": parts[1], "t": float(parts[3]),
                                    "agent": parts[4].strip().strip('"')})
        except FileNotFoundError:
            pass
        return out

    def reset_access_log(self):
        open(self.path("access.log"), "w").close()
        if self.nginx:
            self.nginx.send_signal(signal.SIGUSR1)   # reopen the log
            time.sleep(0.2)

    # receivers
    def start_sinks(self):
        ready = self.path("sinks.ready")
        self.sink_log = self.path("arrivals.jsonl")
        p = subprocess.Popen([PY, os.path.join(HERE, "sinks.py"), self.sink_log, ready],
                             stderr=open(self.path("sinks.err"), "w"))
        self.procs.append(("sinks", p))
        for _ in range(200):
            if os.path.exists(ready):
                break
            if p.poll() is not None:
                die("the receivers exited: %s" % open(self.path("sinks.err")).read())
            time.sleep(0.05)
        else:
            die("the receivers did not start")
        smtp, http = open(ready).read().split()
        self.smtp_port, self.http_port = int(smtp), int(http)
        self.sink_pos = 0

    def arrivals(self):
        """Returns the arrival lines logged since the last call."""
        with open(self.sink_log) as f:
            f.seek(self.sink_pos)
            data = f.read()
        end = data.rfind("\n") + 1
        self.sink_pos += len(data[:end].encode("utf-8"))
        return [json.loads(l) for l in data[:end].splitlines() if l.strip()]

    # newsmon
    def write_conf(self, name, fetcher_keys, feeds, log_level="warning"):
        """Writes a newsmon.conf whose fetcher polls the given feed urls and
        whose notifier mails and posts every alert to the receivers."""
        d = self.path(name)
        os.makedirs(os.path.join(d, "run"), exist_ok=True)
        os.makedirs(os.path.join(d, "feeds.d"), exist_ok=True)
        with open(os.path.join(d, "feeds.d", "bench.opml"), "w") as f:
            f.write('<?xml version="1.0"?><opml version="2.0"><head><title>bench</title></head><body>\n')
            for i, url in enumerate(feeds):
                f.write('<outline type="rss" text="f%d" xmlUrl="%s"/>\n' % (i, url))
            f.write("</body></opml>\n")
        keys = "\n".join("%s = %s" % kv for kv in fetcher_keys.items())
        with open(os.path.join(d, "newsmon.conf"), "w") as f:
            f.write("""[log]
level = %(level)s

[fetcher]
allow_private = 127.0.0.0/8
%(keys)s

[classifier]
rules = %(src)s/config/rules.d

[store]
resend_after = 60s

[channel mail]
type = email
smtp_url = smtp://127.0.0.1:%(smtp)d
tls = none
from = newsmon@bench.invalid
to = desk@bench.invalid
subject_prefix = [newsmon]
retry_base = 1s

[channel hook]
type = webhook
url = http://127.0.0.1:%(http)d/hook
retry_base = 1s

[route everything]
themes = *
channels = mail, hook
""" % {"keys": keys, "src": SRC, "smtp": self.smtp_port, "http": self.http_port, "level": log_level})
        return d

    def daemon_cmd(self, d, name, extra=()):
        run = os.path.join(d, "run")
        ovr = ["-o", "bus.fetch_out=ipc://%s/fetch.sock" % run, "-o", "bus.store_in=ipc://%s/store.sock" % run,
               "-o", "bus.store_events=ipc://%s/events.sock" % run, "-o", "bus.alerts=ipc://%s/alerts.sock" % run,
               "-o", "bus.control_dir=%s" % run]
        per = {"store": ["-o", "store.database=%s/newsmon.db" % d],
               "notifier": ["-o", "notifier.state=%s/notifier.db" % d],
               "fetcher": ["-o", "fetcher.state=%s/fetcher.db" % d, "-o", "fetcher.feeds=%s/feeds.d" % d],
               "classifier": []}[name]
        return [self.daemon_path(name), "-f", "-c", os.path.join(d, "newsmon.conf")] + ovr + per + list(extra)

    def start_daemon(self, d, name, extra=()):
        p = subprocess.Popen(self.daemon_cmd(d, name, extra), stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, name + ".log"), "a"))
        self.procs.append((name, p))
        return p

    def start_pipeline(self, d, with_fetcher=True):
        """Starts classifier, store and notifier (and the fetcher) and waits
        until each has bound its control socket; returns {name: Popen}."""
        ps = {n: self.start_daemon(d, n) for n in ("store", "classifier", "notifier")}
        run = os.path.join(d, "run")
        for _ in range(200):
            if all(os.path.exists(os.path.join(run, n + ".ctl")) for n in ps):
                break
            for n, p in ps.items():
                if p.poll() is not None:
                    die("newsmon-%s exited at start: %s" % (n, open(os.path.join(d, n + ".log")).read()[-2000:]))
            time.sleep(0.05)
        else:
            die("the daemons did not start (no control sockets in %s)" % run)
        if with_fetcher:
            ps["fetcher"] = self.start_daemon(d, "fetcher")
        return ps

    def stop(self, p, timeout=10):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def close(self):
        for _, p in reversed(self.procs):
            self.stop(p)
        self.procs = []
        if self.keep:
            log("kept %s" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def log_times(path, regex, near):
    """Returns {group 1 of regex: unix time} for the lines of a daemon's log
    (stderr format "HH:MM:SS.mmm ident level: message", local time) whose
    message regex matches; the date is the one that puts the time nearest
    to the unix time `near`."""
    out = {}
    pat = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) \S+ \w+: " + regex)
    day = time.localtime(near)
    midnight = time.mktime((day.tm_year, day.tm_mon, day.tm_mday, 0, 0, 0, 0, 0, -1))
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = pat.match(line)
                if not m:
                    continue
                t = midnight + int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3)) + int(m.group(4)) / 1000
                t += 86400 * round((near - t) / 86400)
                out.setdefault(m.group(5), t)
    except FileNotFoundError:
        pass
    return out


def proc_usage(pid):
    """Returns (cpu seconds user+system, peak resident kB) of a live process,
    from /proc/PID/stat (utime, stime) and VmHWM in /proc/PID/status."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK   # fields 14 and 15 of stat(5)
    hwm = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return cpu, hwm


def timed(cmd, out, env=None, timeout=None):
    """Runs cmd under /usr/bin/time; returns (exit status, wall s, cpu s, peak kB)."""
    tf = out + ".time"
    t0 = time.monotonic()
    with open(out, "a") as o:
        # a session of its own, so a timeout stops the tool and not just /usr/bin/time
        p = subprocess.Popen(["/usr/bin/time", "-o", tf, "-f", "%U %S %M"] + cmd, stdout=o, stderr=o,
                             env=env, start_new_session=True)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            return 124, time.monotonic() - t0, 0.0, 0
    wall = time.monotonic() - t0
    last = open(tf).read().strip().splitlines()[-1].split()
    return rc, wall, float(last[0]) + float(last[1]), int(last[2])


def ensure_tool(path, package, why):
    """Installs a Debian package with apt-get when the program `path` is
    missing (the benchmarks' peers and helpers only, not newsmon's dependencies)."""
    if os.access(path, os.X_OK) or (not path.startswith("/") and shutil.which(path)):
        return
    log("installing %s (%s)" % (package, why))
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(sudo + ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
                       env=env, stdout=subprocess.DEVNULL)
    if r.returncode != 0 or not (os.access(path, os.X_OK) or shutil.which(path)):
        die("%s could not be installed (apt-get install %s)" % (package, package))


def ensure_rss2email():
    ensure_tool("r2e", "rss2email", "the peer of the end-to-end benchmarks")
    ensure_tool("/usr/bin/time", "time", "measures the peers' CPU time and memory")


def ensure_newsboat():
    ensure_tool("newsboat", "newsboat", "the peer of the whole-pipeline benchmark")


class R2e:
    """rss2email with its own config and data files in the work folder,
    mailing every new item to r2e@bench.invalid through the receivers' SMTP."""

    def __init__(self, bench, name, feeds):
        self.bench = bench
        self.dir = bench.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "r2e.cfg")
        self.data = os.path.join(self.dir, "r2e.json")
        with open(self.conf, "w") as f:
            f.write("""[DEFAULT]
from = r2e@bench.invalid
to = r2e@bench.invalid
email-protocol = smtp
smtp-server = 127.0.0.1:%d
smtp-auth = False
smtp-ssl = False
""" % bench.smtp_port)
            for i, url in enumerate(feeds):
                f.write("\n[feed.f%d]\nurl = %s\nto = r2e@bench.invalid\n" % (i, url))
        self.env = dict(os.environ, HOME=self.dir, XDG_CONFIG_HOME=self.dir, XDG_DATA_HOME=self.dir)

    def cmd(self, *args):
        return ["r2e", "-c", self.conf, "-d", self.data] + list(args)

    def run(self, *args, timeout=None):
        """Runs `r2e run ARGS`; returns timed()'s tuple."""
        return timed(self.cmd("run", *args), os.path.join(self.dir, "r2e.log"), env=self.env, timeout=timeout)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return float("nan")
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def seeded(seed):
    return random.Random(seed)
