# Benchmark of `pycoreprof watch` held on for a long time: its resident
# memory, watching a process that starts and ends threads at a high rate
# (fixtures/python/churn.py) at 100 Hz with --idle, after one minute and at
# its peak over the run (ten minutes; PYCOREPROF_BENCH_WATCH_SECONDS sets
# another length); and how soon after a SIGSEGV the crash snapshot is on
# disk. Prints figures; never fails on time.
import glob
import os
import shutil
import signal
import subprocess
import time

RATE = 100
WINDOW = "60s"
FIRST_MARK = 60.0           # seconds: the window has filled
GROWTH_GOAL_PCT = 10.0      # peak over the value at FIRST_MARK
CRASH_GOAL_MS = 50.0
CRASHES = 5


def find_python():
    for name in ("python3.12", "python3.11", "python3.13", "python3"):
        path = shutil.which(name)
        if path:
            return path
    return None


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as source:
        for line in source:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def memory_run(bench, python, seconds):
    """RSS of watch after FIRST_MARK and its peak, sampled every second."""
    churn = os.path.join(bench.repo, "fixtures", "python", "churn.py")
    out = os.path.join(bench.tmpdir, "watch-memory")
    target = subprocess.Popen([python, churn, str(int(seconds + 30))], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    watcher = None
    try:
        time.sleep(1.0)
        watcher = subprocess.Popen([bench.binary, "watch", "--pid", str(target.pid), "-o", out, "--window",
                                    WINDOW, "--rate", str(RATE), "--idle"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=bench.env)
        started = time.time()
        first, peak = None, 0
        while time.time() - started < seconds:
            time.sleep(1.0)
            if watcher.poll() is not None:
                bench.skip("watch ended early: %s" % watcher.stderr.read().decode("utf-8", "replace")[-300:])
            rss = rss_kib(watcher.pid)
            if first is None and time.time() - started >= FIRST_MARK:
                first = rss
            if first is not None:
                peak = max(peak, rss)
        return first, peak
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.send_signal(signal.SIGINT)
            watcher.wait()
        target.kill()
        target.wait()


def crash_delays(bench, python):
    """Milliseconds from the fixture's ground truth written (just before it
    faults) to the crash snapshot's file in place, per crash."""
    fixture = os.path.join(bench.repo, "fixtures", "python", "watch_crash.py")
    delays = []
    for round_ in range(CRASHES):
        workdir = os.path.join(bench.tmpdir, "crash-%d" % round_)
        os.makedirs(workdir)
        truth = os.path.join(workdir, "truth.json")
        subprocess.run([bench.binary, "watch", "-o", os.path.join(workdir, "out"), "--", python, fixture, "segv",
                        truth, "main", "0.5"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=bench.env, timeout=120)
        snapshots = glob.glob(os.path.join(workdir, "out", "*.crash.core.gz"))
        if not snapshots or not os.path.exists(truth):
            bench.skip("no crash snapshot written in %s" % workdir)
        delays.append((os.stat(snapshots[0]).st_mtime - os.stat(truth).st_mtime) * 1000.0)
    return sorted(delays)


def bench_watch(bench):
    seconds = float(os.environ.get("PYCOREPROF_BENCH_WATCH_SECONDS", "600"))
    bench.describe("pycoreprof watch, %d Hz with --idle, a %s window, on a thread-churning CPython process "
                   "for %.0f s" % (RATE, WINDOW, seconds))
    python = find_python()
    if not python:
        bench.skip("no python3 on PATH")
    if seconds <= FIRST_MARK + 10:
        bench.skip("PYCOREPROF_BENCH_WATCH_SECONDS must exceed %.0f" % (FIRST_MARK + 10))
    delays = crash_delays(bench, python)
    first, peak = memory_run(bench, python, seconds)
    bench.note("RSS read every second; the crash delay is from the fixture's last write before its fault to "
               "the snapshot's file in place, %d crashes" % CRASHES)
    bench.ours("peak RSS over RSS after %.0f s" % FIRST_MARK, 100.0 * (peak - first) / first, "%",
               GROWTH_GOAL_PCT)
    bench.ours("RSS after %.0f s" % FIRST_MARK, first / 1024.0, "MiB")
    bench.ours("peak RSS", peak / 1024.0, "MiB")
    bench.ours("crash snapshot on disk after the fault, median", delays[len(delays) // 2], "ms", CRASH_GOAL_MS)
    bench.ours("the same, slowest", delays[-1], "ms")
