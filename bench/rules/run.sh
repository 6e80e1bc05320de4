#!/bin/sh
# Rules benchmark: classification throughput of `newsmonctl classify`
# against ripgrep (`rg -j1 -F -i -w -o -c -f TERMS`, one thread like
# newsmonctl) on the same terms and files, and the load time of
# `newsmonctl rules check`.
#
# usage: bench/rules/run.sh [WORKDIR]
#   NEWSMONCTL=path/to/newsmonctl (default: build/ctl/newsmonctl; use an
#   optimised build, e.g. cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo)
#   RUNS=5 (runs of newsmonctl and of rules check), RG_RUNS=3 (runs of rg)
#
# Each command runs several times; the figures are medians, of wall-clock
# time and of CPU time (user + sys of the process, from wait4), for both
# tools, so a loaded machine shows as wall > CPU instead of as a slow
# tool. Every run's output is checked (one JSON line per file; one count
# line per file with a match), so a failing tool cannot look fast.
# The last line is for `make bench`:
#   BENCH rules newsmon_MBps=X ripgrep_MBps=Y ratio=Z load_s=W
# (MB/s from median wall-clock times, ratio = rg time / newsmonctl time,
# load_s = median wall-clock time of rules check).
# Targets (docs/rules.md): ratio >= 10, newsmon >= 100 MB/s on one core,
# load < 1 s. Exit status 0 when all three hold, 1 when one does not,
# 2 when the benchmark cannot run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-${TMPDIR:-/tmp}/newsmon-bench-rules}
ctl=${NEWSMONCTL:-$here/../../build/ctl/newsmonctl}
runs=${RUNS:-5}
rg_runs=${RG_RUNS:-3}
[ -x "$ctl" ] || { echo "no newsmonctl at $ctl (set NEWSMONCTL)" >&2; exit 2; }
command -v rg >/dev/null || { echo "ripgrep (rg) is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

if [ ! -f "$work/terms.txt" ] || [ ! -d "$work/articles" ]; then
    echo "generating input in $work ..."
    python3 "$here/gen.py" "$work"
fi

exec python3 - "$ctl" "$work" "$runs" "$rg_runs" <<'EOF'
import glob, os, statistics, subprocess, sys

ctl, work, runs, rg_runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = sorted(glob.glob(os.path.join(work, "articles", "*.txt")))
size = sum(os.path.getsize(f) for f in files)
mb = size / 1e6
terms = sum(1 for _ in open(os.path.join(work, "terms.txt"), encoding="utf-8"))
for f in files:                      # warm the page cache
    with open(f, "rb") as fh:
        fh.read()

def run(argv, check):
    """Runs argv once; returns (wall s, cpu s). check(stdout) must hold."""
    import time
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    problem = check(p.returncode, out)
    if problem:
        sys.exit("bench: %s: %s\n%s" % (" ".join(argv[:3]), problem, err.decode(errors="replace")[:2000]))
    return wall, ru.ru_utime + ru.ru_stime

def measure(name, argv, n, check):
    walls, cpus = [], []
    for _ in range(n):
        w, c = run(argv, check)
        walls.append(w)
        cpus.append(c)
    return name, statistics.median(walls), statistics.median(cpus), n

def classify_ok(rc, out):
    if rc != 0:
        return "exit status %d" % rc
    lines = out.count(b"\n")
    if lines != len(files):
        return "%d output lines for %d files" % (lines, len(files))
    return None

def rg_ok(rc, out):
    if rc not in (0, 1):
        return "exit status %d" % rc
    if not out.strip():
        return "no match counted at all"
    return None

def check_ok(rc, out):
    return None if rc == 0 and out.startswith(b"rules OK") else "rules check failed (%d): %r" % (rc, out[:200])

rules = os.path.join(work, "rules")
terms_file = os.path.join(work, "terms.txt")
results = [
    measure("rules check (load)", [ctl, "rules", "check", rules], runs, check_ok),
    measure("newsmonctl classify", [ctl, "classify", "--rules", rules] + files, runs, classify_ok),
    measure("rg -j1 -F -i -w -o -c -f", ["rg", "-j1", "-F", "-i", "-w", "-o", "-c", "-f", terms_file,
                                         os.path.join(work, "articles")], rg_runs, rg_ok),
]
load, ours, rg = results
print("input: %.1f MB in %d files, %d terms; medians of %d (newsmonctl) and %d (rg) runs"
      % (mb, len(files), terms, runs, rg_runs))
print("%-26s %9s %9s %11s %11s" % ("", "wall s", "cpu s", "MB/s wall", "MB/s cpu"))
for name, w, c, _ in results[1:]:
    print("%-26s %9.3f %9.3f %11.1f %11.1f" % (name, w, c, mb / w, mb / c))
print("%-26s %9.3f %9.3f" % (load[0], load[1], load[2]))
ratio_wall, ratio_cpu = rg[1] / ours[1], rg[2] / ours[2]
print("newsmonctl is %.1fx faster than rg by wall-clock time, %.1fx by CPU time (classify includes the rule load)"
      % (ratio_wall, ratio_cpu))
ok = ratio_wall >= 10 and mb / ours[1] >= 100 and load[1] < 1
print("targets (>= 10x rg, >= 100 MB/s, load < 1 s): %s" % ("met" if ok else "NOT met"))
print("BENCH rules newsmon_MBps=%.1f ripgrep_MBps=%.1f ratio=%.1f load_s=%.3f"
      % (mb / ours[1], mb / rg[1], ratio_wall, load[1]))
sys.exit(0 if ok else 1)
EOF
