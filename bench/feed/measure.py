#!/usr/bin/python3
"""Times commands fairly against each other, for bench/feed/run.sh.

  measure.py ROUNDS NAME=COMMAND ...

Runs every command once untimed (warm page cache, warm dynamic loader),
then ROUNDS rounds; each round runs every command in turn, so that load
from the rest of the machine falls on all of them alike, and runs each
command twice in a row: the second run, right after a run of the same
command, is the measurement; the first, right after the command before
it in the round, is reported beside it.

Why twice: on the VM of docs/benchmarks.md a run's time depends on what
ran just before it. Memory another program has just freed comes back
slowly (its host has taken it back), so a short command right after one
that used and freed 100 MB pays for that, and a long one right after a
short one is faster than after itself (docs/fetcher.md, "The bench's
order"). With a fixed order the same command always follows the same
neighbour; the run after itself gives every command the same condition.

Each run's wall time (monotonic clock, around fork to exit) and CPU time
(user + system, from wait4's rusage of that child alone) are recorded;
prints per command the median of each, one line per command:

  NAME wall=SECONDS cpu=SECONDS runs=N first_wall=SECONDS first_cpu=SECONDS

(first_*: the runs right after the command before). The output of each
command goes to /dev/null; a command that fails stops the measurement
(exit 1) with its stderr shown.

Each COMMAND is split into words as the shell would (shlex) and started
directly, without a shell: a `sh -c` around it would add its own start,
about 2.5 ms on that VM (measured with /bin/true), to every command's
time, which is 5% of newsmonctl's and nothing of feedparser's.
"""
import os
import shlex
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    """Returns (wall seconds, cpu seconds) of one run of cmd (a list of words)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("measure: command failed (exit %d): %s\n%s" % (p.returncode, shlex.join(cmd), err[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime


def median_of(runs, i):
    """Median of item i (0 wall, 1 cpu) of (wall, cpu) pairs."""
    return statistics.median(r[i] for r in runs)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = []
    for arg in sys.argv[2:]:
        name, _, cmd = arg.partition("=")
        cmds.append((name, shlex.split(cmd)))
    for _, cmd in cmds:
        run_once(cmd)
    # times[name][k]: (wall, cpu) of the k-th run of each round (0: after
    # the command before, 1: after itself)
    times = {n: ([], []) for n, _ in cmds}
    for _ in range(rounds):
        for name, cmd in cmds:
            for k in range(2):
                times[name][k].append(run_once(cmd))
    for name, _ in cmds:
        first, second = times[name]
        print("%s wall=%.4f cpu=%.4f runs=%d first_wall=%.4f first_cpu=%.4f"
              % (name, median_of(second, 0), median_of(second, 1), rounds, median_of(first, 0),
                 median_of(first, 1)))


if __name__ == "__main__":
    main()
