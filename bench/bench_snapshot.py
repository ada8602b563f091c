# Benchmark of `pycoreprof snapshot` and `pycoreprof report` on a 4-thread
# CPython process with 50-deep stacks: snapshot size, time to write, time the
# process is stopped, report throughput; gdb's gcore of the same process is
# measured in the same run. Prints figures; never fails on time.
import glob
import os
import re
import shutil
import statistics
import subprocess
import time

THREADS = 4
DEPTH = 50
SNAPSHOTS = 20          # single snapshots timed
REPORT_FILES = 2000     # files in the report batch
SIZE_GOAL_KIB = 64.0
WRITE_GOAL_MS = 2.0
PAUSE_GOAL_US = 500.0
REPORT_GOAL_PER_S = 2000.0

# THREADS - 1 threads park DEPTH frames deep, the main thread too.
PROGRAM = r'''
import sys
import threading
import time

depth, threads, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
parked = threading.Semaphore(0)


def park(level):
    if level > 1:
        return park(level - 1)
    parked.release()
    time.sleep(3600)


for _ in range(threads - 1):
    threading.Thread(target=park, args=(depth,), daemon=True).start()
for _ in range(threads - 1):
    parked.acquire()
open(ready, "w").close()
park(depth)
'''

WROTE = re.compile(r"Wrote (?P<file>\S+) \((?P<bytes>\d+) bytes, (?P<pages>\d+) pages\); "
                   r"pid \d+ stopped (?P<pause>[\d.]+) us, written in (?P<write>[\d.]+) ms")


def find_python():
    for name in ("python3.11", "python3.12", "python3.13", "python3"):
        path = shutil.which(name)
        if path:
            return path
    return None


def start_program(bench, python):
    script = os.path.join(bench.tmpdir, "parked.py")
    ready = os.path.join(bench.tmpdir, "ready")
    with open(script, "w") as out:
        out.write(PROGRAM)
    proc = subprocess.Popen([python, script, str(DEPTH), str(THREADS), ready],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("the benchmark program did not start")
        time.sleep(0.02)
    return proc


def take_snapshots(bench, pid):
    sizes, pauses, writes = [], [], []
    for index in range(SNAPSHOTS):
        out = os.path.join(bench.tmpdir, "one-%d.core.gz" % index)
        proc = subprocess.run([bench.binary, "snapshot", "--pid", str(pid), "-o", out],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench.env)
        match = WROTE.search(proc.stderr.decode("utf-8", "replace"))
        if proc.returncode != 0 or not match:
            raise RuntimeError("pycoreprof snapshot failed: %s" % proc.stderr.decode("utf-8", "replace"))
        sizes.append(int(match.group("bytes")))
        pauses.append(float(match.group("pause")))
        writes.append(float(match.group("write")))
    return statistics.median(sizes), statistics.median(pauses), statistics.median(writes)


def report_rate(bench, pid):
    folder = os.path.join(bench.tmpdir, "batch")
    os.makedirs(folder)
    proc = subprocess.run([bench.binary, "snapshot", "--pid", str(pid), "--interval", "1ms",
                           "--count", "100", "-o", folder + "/"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench.env)
    if proc.returncode != 0:
        raise RuntimeError("periodic snapshot failed: %s" % proc.stderr.decode("utf-8", "replace"))
    taken = sorted(glob.glob(os.path.join(folder, "*.core.gz")))
    for index in range(REPORT_FILES - len(taken)):
        os.link(taken[index % len(taken)], os.path.join(folder, "copy-%05d.core.gz" % index))
    out = os.path.join(bench.tmpdir, "report.folded")
    timing = bench.time([bench.binary, "report", folder, "-o", out, "-j", "2", "--idle"], repeat=3)
    if timing.returncode != 0:
        raise RuntimeError("pycoreprof report failed: %s" % timing.stderr)
    return REPORT_FILES / statistics.median(timing.seconds)


def gcore(bench, pid):
    tool = shutil.which("gcore")
    if not tool:
        return None, None
    prefix = os.path.join(bench.tmpdir, "gcore")
    start = time.perf_counter()
    proc = subprocess.run([tool, "-o", prefix, str(pid)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, env=bench.env)
    seconds = time.perf_counter() - start
    path = "%s.%d" % (prefix, pid)
    if proc.returncode != 0 or not os.path.exists(path):
        return None, None
    size = os.path.getsize(path)
    os.unlink(path)
    return size, seconds


def bench_snapshot(bench):
    bench.describe("pycoreprof snapshot and report on a %d-thread CPython process, stacks %d "
                   "frames deep" % (THREADS, DEPTH))
    python = find_python()
    if not python:
        bench.skip("no python3 on PATH")
    proc = start_program(bench, python)
    try:
        size, pause, write = take_snapshots(bench, proc.pid)
        rate = report_rate(bench, proc.pid)
        gcore_size, gcore_seconds = gcore(bench, proc.pid)
    finally:
        proc.kill()
        proc.wait()
    bench.note("median of %d snapshots; report over %d snapshots with -j 2, process start included"
               % (SNAPSHOTS, REPORT_FILES))
    bench.ours("snapshot: time to write (build + gzip)", write, "ms", WRITE_GOAL_MS)
    bench.ours("snapshot: process stopped", pause, "us", PAUSE_GOAL_US)
    bench.ours("snapshot: size, compressed", size / 1024.0, "KiB", SIZE_GOAL_KIB)
    bench.ours("report -j 2: time per snapshot", 1000.0 / rate, "ms", 1000.0 / REPORT_GOAL_PER_S)
    bench.ours("report -j 2: snapshots/s (goal at least %.0f)" % REPORT_GOAL_PER_S, rate, "/s")
    if gcore_size is None:
        bench.reference("gdb gcore", missing="gdb's gcore not installed or failed")
        return
    bench.ours("snapshot size / gcore core size (goal under 1 %)", 100.0 * size / gcore_size, "%", 1.0)
    bench.reference("gdb gcore: time (whole process stopped)", gcore_seconds * 1000.0, "ms")
    bench.reference("gdb gcore: core size", gcore_size / 1024.0, "KiB")
