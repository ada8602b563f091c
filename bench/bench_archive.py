# Benchmark of snapshot archives (`snapshot --archive`, `report` over one)
# on the 4-thread CPython process with 50-deep stacks that bench_snapshot
# uses: the same snapshots written into an archive and as gzip files at
# once, the bytes each costs both ways, a day of 1 Hz snapshots projected
# from them, the time an append takes, and report's throughput over the
# archive and over the files. Figures only.
import os
import re
import statistics
import subprocess
import time

from bench_snapshot import find_python, start_program

SNAPSHOTS = 2000
DAY = 86400
DAY_GOAL_MB = 50.0
APPEND_GOAL_US = 1000.0
REPORT_GOAL_PER_S = 30000.0
APPENDED = re.compile(r"Appended (\d+) snapshots.*\((\d+) bytes each on average\); stopped (\d+) us each "
                      r"\(median\), appended in (\d+) us each \(median\)")


def report_seconds(bench, inputs):
    started = time.monotonic()
    proc = subprocess.run([bench.binary, "report", "--idle", "-j", "2"] + inputs + ["-o", os.path.join(bench.tmpdir, "r.folded")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench.env)
    if proc.returncode != 0:
        raise RuntimeError("report failed: %s" % proc.stderr.decode("utf-8", "replace")[-300:])
    return time.monotonic() - started


def bench_archive(bench):
    bench.describe("snapshot --archive on a 4-thread CPython process, stacks 50 deep: %d snapshots taken "
                   "into an archive and as gzip files at once, a day of 1 Hz projected from them, "
                   "report over each" % SNAPSHOTS)
    python = find_python()
    if not python:
        bench.skip("no python3 on PATH")
    proc = start_program(bench, python)
    try:
        archive = os.path.join(bench.tmpdir, "day.pcpa")
        folder = os.path.join(bench.tmpdir, "files") + "/"
        run = subprocess.run([bench.binary, "snapshot", "--pid", str(proc.pid), "--interval", "2ms", "--count",
                              str(SNAPSHOTS), "--archive", archive, "-o", folder],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=bench.env)
    finally:
        proc.kill()
        proc.wait()
    said = run.stderr.decode("utf-8", "replace")
    match = APPENDED.search(said)
    if run.returncode != 0 or not match:
        raise RuntimeError("snapshot --archive failed: %s" % said[-300:])
    size = os.path.getsize(archive)
    files = [os.path.join(folder, name) for name in os.listdir(folder)]
    gzip_bytes = sum(os.path.getsize(path) for path in files)
    per = size / float(SNAPSHOTS)
    bench.note("the archive's first snapshot stores every page; the projection scales the average")
    bench.ours("archive: bytes per snapshot", per, "B")
    bench.ours("gzip files: bytes per snapshot", gzip_bytes / float(len(files)), "B")
    bench.ours("archive smaller than the gzip files by", gzip_bytes / float(size), "x")
    bench.ours("a day at 1 Hz (%d snapshots), projected" % DAY, per * DAY / 1e6, "MB", DAY_GOAL_MB)
    bench.ours("append to the archive (median)", float(match.group(4)), "us", APPEND_GOAL_US)
    archive_s = report_seconds(bench, [archive])
    files_s = report_seconds(bench, [folder])
    bench.ours("report over the archive", SNAPSHOTS / archive_s, "snapshots/s")
    bench.note("goal %.0f snapshots/s over an archive (a day in under 10 s on 2 cores)" % REPORT_GOAL_PER_S)
    bench.ours("report -j 2 over the gzip files", SNAPSHOTS / files_s, "snapshots/s")
