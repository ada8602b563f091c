# Benchmarks of native stacks (`record --native`) on fixtures/python/deep_threads.py
# (4 busy threads, 50 Python frames deep): the freeze-mode pause per sample with
# the stack copies, and how many merged, symbolized native stacks one core
# processes per second, beside eu-stack's time per stack. Figures only.
import os
import re
import shutil
import subprocess

import bench_record
from bench_record import THREADS, DEPTH, Target

PAUSE_GOAL_US = 100.0
STACKS_GOAL = 5000.0   # merged native stacks per second of pycoreprof's CPU time, at least
SECONDS = 5.0


def record_with_cpu(bench, pid, options, output):
    """`record --pid PID OPTIONS`: (its summary, its own CPU seconds)."""
    argv = [bench.binary, "record", "--pid", str(pid), "-o", output] + options
    err_path = output + ".stderr"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=bench.env)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    with open(err_path) as source:
        text = source.read()
    match = bench_record.SUMMARY.search(text)
    if proc.returncode not in (0, 1) or not match:
        raise RuntimeError("%s exited %d without a summary line: %s"
                           % (" ".join(argv), proc.returncode, text.strip()[-500:]))
    summary = {"samples": int(match.group(1)), "errors": int(match.group(2)),
               "rate": float(match.group(3)),
               "pause_median": int(match.group(4)) if match.group(4) else None,
               "pause_p99": int(match.group(5)) if match.group(5) else None}
    return summary, usage.ru_utime + usage.ru_stime


def native_share(path):
    """Share of the stacks in a folded file that hold native frames."""
    total = native = 0
    with open(path) as source:
        for line in source:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            total += int(count)
            if re.search(r"\((lib[^);:]*\.so[^);:]*|\[vdso\]|python[0-9.]*)\)", stack):
                native += int(count)
    return 100.0 * native / total if total else 0.0


def bench_native_pause(bench):
    bench.describe("freeze-mode pause per sample with --native: record --rate 100 for %.0f s on "
                   "%d threads %d frames deep (64 KiB of stack copied per thread)" % (SECONDS, THREADS, DEPTH))
    targets = [("3.12", bench_record.pyenv_python(12)), ("3.10", bench_record.pyenv_python(10))]
    if not targets[0][1]:
        bench.skip("no CPython 3.12 under pyenv")
    bench_record.load_note(bench)
    for label, python in targets:
        if not python:
            bench.note("%s not measured: not installed" % label)
            continue
        with Target(bench, python) as target:
            plain, _ = record_with_cpu(bench, target.pid, ["--rate", "100", "--duration", str(SECONDS)],
                                       os.path.join(bench.tmpdir, "plain-%s.folded" % label))
            native, _ = record_with_cpu(bench, target.pid, ["--native", "--rate", "100", "--duration",
                                                            str(SECONDS)],
                                        os.path.join(bench.tmpdir, "native-%s.folded" % label))
        bench.note("%s: %d samples, %d errors with --native" % (label, native["samples"], native["errors"]))
        bench.ours("%s pause median, --native" % label, native["pause_median"], "us",
                   PAUSE_GOAL_US if label == "3.12" else None)
        bench.ours("%s pause p99, --native" % label, native["pause_p99"], "us")
        bench.ours("%s pause median, Python only" % label, plain["pause_median"], "us")


def eu_stack_ms_per_stack(bench, pid):
    tool = shutil.which("eu-stack")
    if not tool:
        return None
    timing = bench.time([tool, "-p", str(pid)], repeat=5)
    threads = len(os.listdir("/proc/%d/task" % pid))
    return timing.median_ms / max(1, threads)


def bench_native_rate(bench):
    bench.describe("merged, symbolized native stacks processed per second of pycoreprof's CPU "
                   "(record --native as fast as it goes for %.0f s on %d threads %d frames deep)"
                   % (SECONDS, THREADS, DEPTH))
    python = bench_record.pyenv_python(12)
    if not python:
        bench.skip("no CPython 3.12 under pyenv")
    bench.note("CPU time is all of pycoreprof's: freezing, copying, unwinding, symbolizing, "
               "merging and counting")
    output = os.path.join(bench.tmpdir, "rate.folded")
    with Target(bench, python) as target:
        summary, cpu = record_with_cpu(bench, target.pid, ["--native", "--rate", "100000", "--duration",
                                                           str(SECONDS), "-f", "folded"], output)
        eu_ms = eu_stack_ms_per_stack(bench, target.pid)
    stacks = summary["samples"] * THREADS
    bench.note("%d rounds, %d errors, %.1f%% of the stacks with native frames, %.2f s CPU"
               % (summary["samples"], summary["errors"], native_share(output), cpu))
    per_second = stacks / cpu if cpu > 0 else 0.0
    bench.note("the goal of at least %.0f stacks/s is shown as time per stack (lower is better)" % STACKS_GOAL)
    bench.ours("time per merged native stack", 1000.0 / per_second if per_second else None, "ms",
               1000.0 / STACKS_GOAL)
    bench.ours("merged native stacks per CPU second", per_second, "/s")
    if eu_ms is None:
        bench.reference("eu-stack -p PID, per stack", missing="eu-stack not installed (elfutils)")
    else:
        bench.reference("eu-stack -p PID, per stack", eu_ms, "ms")
