"""
The whole newsmon pipeline in a temporary folder, for the chaos run
(tests/chaos/chaos.py), the soak (tests/soak/soak.py) and end-to-end
tests that need the four real daemons.

- find_build(): the build folder holding the daemons (NM_BUILD_DIR, else
  build-chaos, else build).
- Nginx: nginx-light run as the current user (`-p DIR -c CONF -g 'daemon
  off;'`) on a free loopback port, serving a folder.
- Pipeline: writes one newsmon.conf into the state folder (every path and
  endpoint inside it; the notifier delivers to a `jsonl` channel), starts
  store, classifier, notifier (ready = their control sockets) and the
  fetcher, and can SIGKILL and restart any of them with the same
  arguments, as systemd's Restart=always would.

Only the standard library is used; python3-zmq is not needed here.
"""
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

SOURCE = os.environ.get("NM_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
DAEMONS = ("store", "classifier", "notifier", "fetcher")


def find_build():
    """Returns the build folder: NM_BUILD_DIR, else build-chaos, else build."""
    for b in (os.environ.get("NM_BUILD_DIR"), os.path.join(SOURCE, "build-chaos"), os.path.join(SOURCE, "build")):
        if b and os.access(os.path.join(b, "ctl", "newsmonctl"), os.X_OK):
            return os.path.abspath(b)
    return None


def binary(build, name):
    """Returns the path of daemon `name` (store, ...) or newsmonctl in the build."""
    if name == "ctl":
        return os.path.join(build, "ctl", "newsmonctl")
    return os.path.join(build, name, "newsmon-" + name)


def free_port():
    """Returns a TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0):
    """Returns True once something accepts connections on 127.0.0.1:port."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Nginx:
    """nginx serving `root` on 127.0.0.1:port, its files under `workdir`."""

    def __init__(self, workdir, root, port=None):
        self.exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.dir = os.path.join(workdir, "nginx")
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.port = port or free_port()
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("""%(user)sworker_processes 2;
error_log %(d)s/error.log warn;
pid %(d)s/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(d)s/tmp/body;
    proxy_temp_path %(d)s/tmp/proxy;
    fastcgi_temp_path %(d)s/tmp/fastcgi;
    types { application/rss+xml xml; text/html html; }
    default_type application/octet-stream;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:%(port)d;
        root %(root)s;
    }
}
""" % {"d": self.dir, "port": self.port, "root": os.path.abspath(root),
       # as root, workers would switch to nobody and not read a 0700 temporary folder
       "user": "user %s %s;\n" % (pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
       if os.getuid() == 0 else ""})
        self.proc = None

    def available(self):
        return os.access(self.exe, os.X_OK)

    def start(self):
        self.proc = subprocess.Popen([self.exe, "-p", self.dir, "-c", self.conf, "-e", self.dir + "/error.log",
                                      "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.log"), "w"))
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("nginx did not start: " + open(os.path.join(self.dir, "stderr.log")).read())

    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def write_opml(path, urls):
    """Writes an OPML feed list of `urls`."""
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head><title>chaos</title></head><body>\n')
        for u in urls:
            f.write('<outline type="rss" text="%s" xmlUrl="%s"/>\n' % (u, u.replace("&", "&amp;")))
        f.write("</body></opml>\n")


class Pipeline:
    """The four daemons on one config in `state`; see the module comment."""

    def __init__(self, build, state, rules=None, fetcher=None, store=None, log_level="info"):
        self.build = build
        self.state = os.path.abspath(state)
        self.run = os.path.join(self.state, "run")
        self.feeds = os.path.join(self.state, "feeds.d")
        os.makedirs(self.run, exist_ok=True)
        os.makedirs(self.feeds, exist_ok=True)
        self.db = os.path.join(self.state, "newsmon.db")
        self.alerts = os.path.join(self.state, "alerts.jsonl")
        self.conf = os.path.join(self.state, "newsmon.conf")
        fk = {"state": os.path.join(self.state, "fetcher.db"), "feeds": self.feeds,
              "allow_private": "127.0.0.0/8", "min_interval": "1s", "default_interval": "2s",
              "max_interval": "3s", "max_per_host": "8", "connect_timeout": "5s", "timeout": "20s"}
        fk.update(fetcher or {})
        sk = {"database": self.db, "resend_after": "5s", "alert_scan": "200ms"}
        sk.update(store or {})
        r = self.run
        with open(self.conf, "w") as f:
            f.write("[bus]\nfetch_out = ipc://%s/fetch.sock\nstore_in = ipc://%s/store.sock\n"
                    "store_events = ipc://%s/events.sock\nalerts = ipc://%s/alerts.sock\ncontrol_dir = %s\n\n"
                    % (r, r, r, r, r))
            f.write("[log]\nlevel = %s\ntarget = stderr\n\n" % log_level)
            f.write("[fetcher]\n" + "".join("%s = %s\n" % kv for kv in fk.items()) + "\n")
            f.write("[classifier]\nrules = %s\n\n" % (rules or os.path.join(SOURCE, "config", "rules.d")))
            f.write("[store]\n" + "".join("%s = %s\n" % kv for kv in sk.items()) + "\n")
            f.write("[notifier]\nstate = %s\n\n" % os.path.join(self.state, "notifier.db"))
            f.write("[channel log]\ntype = jsonl\npath = %s\n\n[route everything]\nthemes = *\nchannels = log\n"
                    % self.alerts)
        self.procs = {}
        self.starts = {d: 0 for d in DAEMONS}
        self.crashes = []        # (daemon, exit status) of exits nobody asked for
        self.wrappers = {}       # daemon -> argv prefix (valgrind, ...)

    def argv(self, name):
        return self.wrappers.get(name, []) + [binary(self.build, name), "-f", "-c", self.conf]

    def log(self, name):
        return os.path.join(self.state, name + ".log")

    def start(self, name):
        """Starts daemon `name` (appending to its log); returns its Popen."""
        with open(self.log(name), "a") as log:
            log.write("=== chaos: start %d at %.3f\n" % (self.starts[name] + 1, time.time()))
            log.flush()
            self.procs[name] = subprocess.Popen(self.argv(name), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.starts[name] += 1
        return self.procs[name]

    def start_all(self, timeout=30.0):
        """Starts the store, classifier and notifier, waits for their control
        sockets, then starts the fetcher. Raises RuntimeError on failure."""
        for n in ("store", "classifier", "notifier"):
            self.start(n)
        end = time.time() + timeout
        while not all(os.path.exists(os.path.join(self.run, n + ".ctl")) for n in ("store", "classifier", "notifier")):
            self.check_alive()
            if time.time() > end:
                raise RuntimeError("daemons not ready after %.0fs" % timeout)
            time.sleep(0.05)
        self.start("fetcher")

    def check_alive(self):
        """Notes and restarts a daemon that exited unasked (a crash); returns
        the list of daemons found dead."""
        dead = []
        for n, p in list(self.procs.items()):
            if p is not None and p.poll() is not None:
                self.crashes.append((n, p.returncode))
                with open(self.log(n), "a") as log:
                    log.write("=== chaos: exited by itself with status %d\n" % p.returncode)
                dead.append(n)
                self.start(n)
        return dead

    def kill(self, name, restart_delay=0.0):
        """SIGKILLs daemon `name`, waits for it, and starts it again."""
        p = self.procs[name]
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        with open(self.log(name), "a") as log:
            log.write("=== chaos: SIGKILL at %.3f\n" % time.time())
        if restart_delay:
            time.sleep(restart_delay)
        self.start(name)

    def pids(self):
        return {n: p.pid for n, p in self.procs.items() if p and p.poll() is None}

    def stop_all(self, timeout=20.0):
        """SIGTERMs every daemon (fetcher first); returns {name: exit status}."""
        status = {}
        for n in ("fetcher", "classifier", "notifier", "store"):
            p = self.procs.get(n)
            if p is None:
                continue
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                status[n] = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                status[n] = "hung (killed after %.0fs)" % timeout
            self.procs[n] = None
        return status

    def ctl(self, *args):
        """Runs newsmonctl on this pipeline's database; returns stdout or None."""
        r = subprocess.run([binary(self.build, "ctl"), "--db", self.db] + list(args),
                           capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def counts(self):
        out = self.ctl("counts", "--json")
        try:
            return json.loads(out) if out else None
        except ValueError:
            return None

    def status(self):
        """Returns {daemon: status object} from `newsmonctl status --json`, or {}."""
        r = subprocess.run([binary(self.build, "ctl"), "status", "--control-dir", self.run, "--json"],
                           capture_output=True, text=True, timeout=30)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            return {}
        return j


def log(msg):
    print(msg, flush=True)
    sys.stdout.flush()
