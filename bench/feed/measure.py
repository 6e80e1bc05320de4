#!/usr/bin/python3
"""Times commands fairly against each other, for bench/feed/run.sh.

  measure.py ROUNDS NAME=SHELL_COMMAND ...

Runs every command once untimed (warm page cache, warm dynamic loader),
then ROUNDS rounds; each round runs every command once, in turn, so that
load from the rest of the machine falls on all of them alike. Each run's
wall time (monotonic clock, around fork to exit) and CPU time (user +
system, from wait4's rusage of that child alone) are recorded; prints per
command the median of each, one line per command:

  NAME wall=SECONDS cpu=SECONDS runs=N

The output of each command goes to /dev/null; a command that fails stops
the measurement (exit 1) with its stderr shown.
"""
import os
import statistics
import subprocess
import sys
import time


def run_once(cmd):
    """Returns (wall seconds, cpu seconds) of one run of cmd (a shell string)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("measure: command failed (exit %d): %s\n%s" % (p.returncode, cmd, err[-2000:]))
    # The shell's own rusage is included; `exec` in the commands keeps it to
    # the one process being measured.
    return wall, ru.ru_utime + ru.ru_stime


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmds = []
    for arg in sys.argv[2:]:
        name, _, cmd = arg.partition("=")
        cmds.append((name, "exec " + cmd))
    for _, cmd in cmds:
        run_once(cmd)
    walls = {n: [] for n, _ in cmds}
    cpus = {n: [] for n, _ in cmds}
    for _ in range(rounds):
        for name, cmd in cmds:
            w, c = run_once(cmd)
            walls[name].append(w)
            cpus[name].append(c)
    for name, _ in cmds:
        print("%s wall=%.4f cpu=%.4f runs=%d" % (name, statistics.median(walls[name]),
                                                 statistics.median(cpus[name]), rounds))


if __name__ == "__main__":
    main()
