# What a seized process must not wait for. While record or snapshot keeps it
# seized between samples, a signal sent to it stops the receiving thread
# until the profiler passes it on: that must happen at once, not at the next
# sample (the fixture times its own signal handlers). And a freeze must not
# wait for a thread that waits for a CPU.
import os
import re
import subprocess
import time

import lib
from lib import check

TICKING = os.path.join(lib.FIXTURES, "ticking.py")
PERIOD = 0.05          # the fixture's timer
SECONDS = 3.0          # sampled for this long, at one sample a second
MAX_GAP = 0.5          # between handler runs; held to the next sample, about 1 s


def _labels():
    labels = lib.interpreter_labels()
    return sorted(set([labels[0], labels[-1]]), key=labels.index)


def run_beside_ticking(label, command):
    """COMMAND (with PID for the fixture's pid) run beside ticking.py: the
    handler times that fall within its run."""
    workdir = lib.scratch("signals")
    times_path = os.path.join(workdir, "times.txt")
    with lib.Process(label, [TICKING, times_path, "60"], workdir=workdir,
                     stdout=subprocess.PIPE) as fixture:
        ready = fixture.proc.stdout.readline().split()
        check(ready and ready[0] == b"ready", "ticking.py did not start: %r", ready)
        argv = [part.replace("PID", str(fixture.pid)).replace("DIR", workdir) for part in command]
        started = time.time()
        result = lib.run_pycoreprof(argv, timeout=60)
        ended = time.time()
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check(fixture.proc.poll() is None, "the fixture exited with %s", fixture.proc.returncode)
    with open(times_path) as source:
        times = [float(line) for line in source if line.endswith("\n")]
    # The second after attaching and the end hold no sample stop to judge.
    inside = [t for t in times if started + 1.0 <= t <= ended - 0.2]
    return inside, ended - started - 1.2, result


def check_ticks(what, inside, seconds, result):
    expected = seconds / PERIOD
    gaps = [b - a for a, b in zip(inside, inside[1:])]
    check(len(inside) >= expected / 2, "%s: %d signal handler runs in %.1f s, expected about %d: "
          "signals waited for the next sample\n%s", what, len(inside), seconds, expected,
          result.describe())
    check(max(gaps) < MAX_GAP, "%s: %.3f s between two handler runs (the timer ticks every "
          "%.2f s): a signal waited for the next sample\n%s", what, max(gaps), PERIOD,
          result.describe())


@lib.each(_labels)
def test_signals_pass_while_recording(label):
    for extra in ([], ["--idle"]):
        inside, seconds, result = run_beside_ticking(
            label, ["record", "--pid", "PID", "--rate", "1", "--duration", str(SECONDS),
                    "-o", "DIR/ticking.folded"] + extra)
        check_ticks("record --rate 1 %s" % " ".join(extra), inside, seconds, result)


@lib.each(_labels)
def test_signals_pass_between_snapshots(label):
    inside, seconds, result = run_beside_ticking(
        label, ["snapshot", "--pid", "PID", "--interval", "1s", "--count", "4", "-o", "DIR/snaps/"])
    check_ticks("snapshot --interval 1s", inside, seconds, result)


STARVED = os.path.join(lib.FIXTURES, "starved.py")
MAX_PAUSE_US = 100000  # waiting for a starved thread's stop took up to 500 ms


@lib.each(lambda: [lib.interpreter_labels()[-1]])
def test_starved_thread_holds_nothing_up(label):
    """A thread that waits for its CPU (lowest priority, beside a busy
    process) is held, not waited for: its stack is read, and no pause lasts
    until it gets the CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise lib.Skip("needs two CPUs, this machine gives %d" % len(cpus))
    workdir = lib.scratch("starved")
    info_path = os.path.join(workdir, "info.json")
    hog = lib.Process(label, ["-c", "import os; os.sched_setaffinity(0, {%d})\n"
                              "while True: pass" % cpus[0]], workdir=workdir, name="the CPU hog",
                      log="hog.log")
    fixture = lib.Process(label, [STARVED, str(cpus[0]), info_path, "60"], workdir=workdir,
                          ready=info_path, timeout=30)
    with hog, fixture:
        out = os.path.join(workdir, "starved.folded")
        # The profiler on the other CPUs, as it would be on a busy machine.
        result = lib.run(["taskset", "-c", ",".join(str(cpu) for cpu in cpus[1:]), lib.pycoreprof(),
                          "record", "--pid", str(fixture.pid), "--rate", "100", "--duration", "2",
                          "-o", out], timeout=60)
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check(fixture.proc.poll() is None, "the fixture exited with %s", fixture.proc.returncode)
        check(not any(state in "tT" for state in lib.task_states(fixture.pid)),
              "the fixture was left stopped")
    text = result.stderr.decode("utf-8", "replace")
    match = re.search(r"(\d+) samples, .*max (\d+)us", text)
    check(match, "no summary with a pause: %s", result.describe())
    samples, longest = int(match.group(1)), int(match.group(2))
    check(longest < MAX_PAUSE_US, "a pause of %d us: the freeze waited for the starved "
          "thread\n%s", longest, result.describe())
    with open(out) as folded:
        starved = sum(int(line.rsplit(" ", 1)[1]) for line in folded
                      if ";starved_thread (" in line and
                      line.rsplit(" ", 1)[0].split(";")[-1].startswith("starved_spin ("))
    check(starved >= samples * 0.9, "%d of %d samples show the starved thread in starved_spin\n%s",
          starved, samples, result.describe())
