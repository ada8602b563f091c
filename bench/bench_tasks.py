# Benchmark of `pycoreprof dump --tasks` on a process with 10,000 pending
# asyncio tasks (each three coroutines deep): the whole command's time and how
# long the process was stopped; CPython 3.14's own `python -m asyncio ps PID`
# on the same process is measured in the same run. Prints figures; never
# fails on time.
import json
import os
import statistics
import subprocess
import time

TASKS = 10000
DUMP_GOAL_MS = 50.0
PAUSE_GOAL_MS = 5.0

PROGRAM = r'''
import asyncio
import sys

count, ready = int(sys.argv[1]), sys.argv[2]


async def fake_io():
    await asyncio.sleep(3600)


async def handler(index):
    await fake_io()


async def worker(index):
    await handler(index)


async def main():
    tasks = [asyncio.ensure_future(worker(index)) for index in range(count)]
    await asyncio.sleep(0.2)
    open(ready, "w").close()
    await asyncio.gather(*tasks)


asyncio.run(main())
'''


def find_python(bench):
    """Debian's 3.14 (which has `asyncio ps`) when it can be had, else a
    Python 3.7+ on PATH; (path, has asyncio ps)."""
    script = os.path.join(bench.repo, "tools", "debian-python.sh")
    try:
        proc = subprocess.run(["bash", script, "path", "3.14"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, timeout=900)
        path = proc.stdout.decode().strip().splitlines()
        if proc.returncode == 0 and path and os.access(path[-1], os.X_OK):
            return path[-1], True
    except (OSError, subprocess.TimeoutExpired):
        pass
    for name in ("python3.13", "python3.12", "python3.11", "python3"):
        for directory in os.environ.get("PATH", "").split(os.pathsep):
            path = os.path.join(directory, name)
            if os.access(path, os.X_OK):
                return path, False
    return None, False


def start_program(bench, python):
    script = os.path.join(bench.tmpdir, "tasks.py")
    ready = os.path.join(bench.tmpdir, "ready")
    with open(script, "w") as out:
        out.write(PROGRAM)
    proc = subprocess.Popen([python, script, str(TASKS), ready], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("the benchmark program did not start")
        time.sleep(0.05)
    return proc


def bench_tasks(bench):
    bench.describe("pycoreprof dump --tasks on a CPython process with %d pending asyncio tasks" % TASKS)
    python, has_ps = find_python(bench)
    if not python:
        bench.skip("no Python 3.7+ found")
    proc = start_program(bench, python)
    try:
        argv = [bench.binary, "dump", "--pid", str(proc.pid), "--tasks", "--json"]
        timing = bench.time(argv)
        if timing.returncode != 0:
            raise RuntimeError("pycoreprof dump --tasks failed: %s" % timing.stderr)
        pauses, counts = [], []
        for _ in range(bench.repeat):
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=bench.env)
            document = json.loads(out.stdout.decode("utf-8"))
            pauses.append(document.get("pause_us", 0) / 1000.0)
            counts.append(len(document.get("tasks") or []))
        reference = None
        if has_ps:
            reference = bench.time([python, "-m", "asyncio", "ps", str(proc.pid)])
    finally:
        proc.kill()
        proc.wait()
    bench.note("%s; median of %d runs; %d tasks listed (the %d and the main task)"
               % (python, bench.repeat, statistics.median(counts), TASKS))
    bench.ours("dump --tasks: whole command", timing.median_ms, "ms", DUMP_GOAL_MS)
    bench.ours("dump --tasks: process stopped", statistics.median(pauses), "ms", PAUSE_GOAL_MS)
    if reference is None:
        bench.reference("python3.14 -m asyncio ps", missing="needs CPython 3.14 (tools/debian-python.sh)")
    elif reference.returncode != 0:
        bench.reference("python3.14 -m asyncio ps", missing="exited %d: %s" % (
            reference.returncode, reference.stderr.strip()[-200:]))
    else:
        bench.reference("python3.14 -m asyncio ps (never stops the process)", reference.median_ms, "ms")
