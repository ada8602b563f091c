# Benchmarks of live sampling with `pycoreprof record` on fixtures/python/deep_threads.py
# (4 busy threads, 50 frames deep): freeze-mode pause, and nonblocking sustained rate beside
# CPython 3.15's own sampler (the target's slowdown is in bench_slowdown.py). Figures only,
# never pass/fail.
import glob
import os
import re
import select
import resource
import signal
import statistics
import subprocess
import time

THREADS = 4          # busy threads in the fixture; the main thread idles beside them
DEPTH = 50
PAUSE_GOAL_US = 50.0
RATE_GOAL = 20000.0  # samples/s, at least, with --idle (every thread each sample)
DEFAULT_RATE_GOAL = 50000.0  # samples/s, at least, running threads only (the default)
ERROR_GOAL_PCT = 0.5
PAUSE_SECONDS = 5.0
RATE_SECONDS = 5.0
RATE_ROUNDS = 2

# Figures from an earlier measurement, printed (marked as such) only when a
# tool cannot be run here.
REPORTED_RATES = {
    "python3.15 -m profiling.sampling": 11000.0,
    "austin": 5400.0,
}

SUMMARY = re.compile(r"Wrote .* \((\d+) samples, (\d+) errors, ([\d.]+) samples/s(?: of [\d.]+ asked)?"
                     r"(?:, pause median (\d+)us p99 (\d+)us max (\d+)us"
                     r"(?:, stopped ([\d.]+)% of the time)?)?\)")
CPYTHON_CAPTURED = re.compile(r"Captured (\d+) samples in ([\d.]+) seconds")


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    return os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))


def pyenv_python(minor):
    """The newest pyenv CPython 3.MINOR.x, or None."""
    def patch(path):
        match = re.search(r"/3\.%d\.(\d+)/" % minor, path)
        return int(match.group(1)) if match else -1
    found = sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.%d.*" % minor,
                                          "bin", "python3.%d" % minor)), key=patch)
    return found[-1] if found else None


def debian_python(bench, version):
    """(path, None) of Debian's python VERSION from tools/debian-python.sh,
    or (None, why not)."""
    script = os.path.join(bench.repo, "tools", "debian-python.sh")
    if not os.access(script, os.X_OK):
        return None, "tools/debian-python.sh is missing"
    try:
        out = subprocess.run([script, "path", version], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=900)
    except subprocess.TimeoutExpired:
        return None, "tools/debian-python.sh path %s took over 900 s" % version
    path = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    if out.returncode != 0 or not os.access(path, os.X_OK):
        return None, "tools/debian-python.sh path %s failed: %s" % (
            version, out.stderr.strip()[-200:])
    return path, None


def python_version(python):
    out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                         stdout=subprocess.PIPE, universal_newlines=True)
    return out.stdout.strip() or "?"


def fixture(bench):
    return os.path.join(bench.repo, "fixtures", "python", "deep_threads.py")


class Target(object):
    """The fixture running in MODE (`run`: until stopped) with ARGS (and
    PARKED more threads parked on an Event beside its busy ones); a
    context manager that ends the process it started (by its own pid) on
    the way out. A fixture that reads its stdin is ended by closing it."""

    def __init__(self, bench, python, mode="run", args=(), reads_stdin=False, parked=0):
        env = dict(bench.env, DEEP_THREADS_PARKED=str(parked))
        self.proc = subprocess.Popen([python, fixture(bench), mode] + list(args),
                                     stdin=subprocess.PIPE if reads_stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, env=env,
                                     universal_newlines=True)
        self.pid = self.proc.pid

    def __enter__(self):
        line = self.read_line(30)
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError("the fixture did not get ready (printed %r)" % line)
        time.sleep(0.3)  # let all threads settle into their busy loop
        return self

    def read_line(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return self.proc.stdout.readline() if ready else ""

    def stop(self):
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()   # end of input: the fixture returns
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __exit__(self, *exc):
        self.stop()
        return False


def children(pid):
    found = []
    for task in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(task) as f:
                found += [int(word) for word in f.read().split()]
        except OSError:
            pass
    return found


def states(pid):
    """'PID:STATE' for PID's threads, for a report on a run that hung."""
    words = []
    for stat in sorted(glob.glob("/proc/%d/task/*/stat" % pid)):
        try:
            with open(stat) as f:
                text = f.read()
            words.append("%s:%s" % (stat.split("/")[4], text[text.rindex(")") + 2]))
        except (OSError, ValueError, IndexError):
            pass
    return " ".join(words)


class Hung(RuntimeError):
    pass


def run(argv, env, timeout):
    """Run ARGV to completion; on TIMEOUT, kill it and the processes it
    launched (by their pids) and raise Hung with their thread states."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        launched = children(proc.pid)
        report = "%s hung for %.0f s; thread states %s; launched %s" % (
            " ".join(argv), timeout, states(proc.pid),
            ", ".join("%d (%s)" % (pid, states(pid)) for pid in launched) or "nothing")
        proc.kill()   # the kernel detaches a killed tracer
        for pid in launched:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        out, err = proc.communicate()
        raise Hung(report + "; stderr: " + err.strip()[-300:])
    return proc.returncode, out, err


def record(bench, pid, options, output):
    """Run `pycoreprof record --pid PID OPTIONS -o OUTPUT`; return its summary
    as a dict (samples, errors, rate, pause_median/p99/max in us or None,
    stopped_pct: the share of the time the process was stopped, or None;
    cpu_pct: the profiler's CPU time over its run time, start and end included)."""
    argv = [bench.binary, "record", "--pid", str(pid), "-o", output] + options
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    code, _, err = run(argv, bench.env, timeout=120)
    wall = time.time() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    match = SUMMARY.search(err)
    # Exit 1 is a partial result (some samples failed): the summary stands.
    if code not in (0, 1) or not match:
        raise RuntimeError("%s exited %d without a summary line: %s"
                           % (" ".join(argv), code, err.strip()[-500:]))
    pause = [int(g) if g else None for g in match.group(4, 5, 6)]
    notes = [line for line in err.splitlines() if "fell behind" in line]
    return {"samples": int(match.group(1)), "errors": int(match.group(2)),
            "rate": float(match.group(3)), "pause_median": pause[0],
            "pause_p99": pause[1], "pause_max": pause[2],
            "stopped_pct": float(match.group(7)) if match.group(7) else None,
            "cpu_pct": 100.0 * cpu / wall, "notes": notes}


def folded_totals(path):
    """(total count, count of stacks at least DEPTH 'descend' frames deep)."""
    total = deep = 0
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            if stack.count("descend") >= DEPTH:
                deep += int(count)
    return total, deep


def collapsed_samples(path):
    """Snapshots in a profiling.sampling --collapsed file: every snapshot
    holds the main thread, so the largest per-thread total is the count."""
    per_thread = {}
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            thread = stack.split(";", 1)[0] if stack.startswith("tid:") else "?"
            per_thread[thread] = per_thread.get(thread, 0) + int(count)
    return max(per_thread.values()) if per_thread else 0, len(per_thread)


def load_note(bench):
    try:
        load = os.getloadavg()[0]
    except OSError:
        return
    bench.note("machine: %d CPUs, load average %.2f at start (other work on the "
               "machine shows up in every figure here)" % (os.cpu_count() or 0, load))


def build_helper(bench, name):
    """Compile bench/NAME.c into the scratch directory: (its path, None),
    or (None, what cc said)."""
    binary = os.path.join(bench.tmpdir, name)
    build = subprocess.run(["cc", "-O2", "-o", binary,
                            os.path.join(bench.repo, "bench", name + ".c")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
    if build.returncode != 0:
        return None, "cc failed on bench/%s.c: %s" % (name, build.stdout.strip()[-200:])
    return binary, None


def stop_floor(bench):
    """(median, p99) in us of stopping and resuming one busy thread with
    nothing read in between, from bench/stop_floor.c, or None."""
    binary, why = build_helper(bench, "stop_floor")
    if not binary:
        bench.note("stop floor not measured: %s" % why)
        return None
    code, out, err = run([binary, "300"], bench.env, timeout=60)
    words = out.split()
    if code != 0 or len(words) != 3 or words[0] != "floor_us":
        bench.note("stop floor not measured: exited %d: %s" % (code, (err or out).strip()[-200:]))
        return None
    return float(words[1]), float(words[2])


def bench_record_pause(bench):
    bench.describe("freeze-mode pause per sample: record --rate 100 for %.0f s on %d threads "
                   "%d frames deep, as a user runs it (the goal), and with --idle (every "
                   "thread stopped and walked)" % (PAUSE_SECONDS, THREADS, DEPTH))
    targets = [("3.12", pyenv_python(12)), ("3.11", pyenv_python(11))]
    if not targets[0][1]:
        bench.skip("no CPython 3.12 under %s/versions (pyenv install 3.12)" % pyenv_root())
    load_note(bench)
    bench.note("pause = pycoreprof's own figure: from the first thread interrupted to the "
               "last one let go")
    floor = stop_floor(bench)
    if floor:
        bench.note("this machine's floor: stopping one busy thread and letting it go, "
                   "nothing read, takes %.1f us median (p99 %.1f us)" % floor)
    targets.append(("3.15",) + debian_python(bench, "3.15"))
    for entry in targets:
        label, python = entry[:2]
        if not python:
            bench.note("%s not measured: %s" % (label, entry[2] if len(entry) > 2 else
                                                "no CPython %s under %s/versions"
                                                % (label, pyenv_root())))
            continue
        output = os.path.join(bench.tmpdir, "pause-%s.folded" % label)
        idle_output = output.replace(".folded", "-idle.folded")
        with Target(bench, python) as target:
            summary = record(bench, target.pid, ["--rate", "100", "--duration",
                                                 str(PAUSE_SECONDS)], output)
            idle = record(bench, target.pid, ["--rate", "100", "--duration",
                                              str(PAUSE_SECONDS / 2), "--idle"], idle_output)
        if summary["pause_median"] is None or idle["pause_median"] is None:
            raise RuntimeError("no pause figures in the summary")
        total, deep = folded_totals(output)
        if deep < summary["samples"] * 0.9:
            bench.note("warning: %s: only %d stacks of %d samples were %d+ frames deep"
                       % (label, deep, summary["samples"], DEPTH))
        idle_total, idle_deep = folded_totals(idle_output)
        if idle_deep < THREADS * idle["samples"] * 0.9:
            bench.note("warning: %s --idle: only %d of %d x %d thread stacks were %d+ frames "
                       "deep" % (label, idle_deep, idle["samples"], THREADS, DEPTH))
        bench.note("%s (%s): %d samples, %d errors, %d stacks, %d of them %d+ deep; "
                   "--idle: %d samples, %d stacks"
                   % (label, python_version(python), summary["samples"], summary["errors"],
                      total, deep, DEPTH, idle["samples"], idle_total))
        goal = PAUSE_GOAL_US if label == "3.12" else None
        bench.ours("%s pause median" % label, summary["pause_median"], "us", goal)
        bench.ours("%s pause p99" % label, summary["pause_p99"], "us")
        bench.ours("%s pause max" % label, summary["pause_max"], "us")
        if floor:
            bench.ours("%s pause median / this machine's floor" % label,
                       summary["pause_median"] / floor[0], "x")
        bench.ours("%s pause median with --idle (all %d threads stopped)" % (label, THREADS + 1),
                   idle["pause_median"], "us")
        if summary["stopped_pct"] is not None:
            bench.ours("%s at 100 Hz: share of the time stopped (sum of pauses)" % label,
                       summary["stopped_pct"], "%")
        bench.ours("%s at 100 Hz: profiler CPU time / its run time" % label,
                   summary["cpu_pct"], "%")


PARKED = 300
PARKED_PAUSE_GOAL_US = 100.0
PARKED_STOPPED_GOAL_PCT = 1.0
PARKED_SECONDS = 3.0


class ParkedTarget(object):
    """fixtures/python/many_parked.py with PARKED threads parked on an Event
    and two spinning, from the moment its ground truth is written; ends the
    process it started, by its own pid."""

    def __init__(self, bench, python, parked):
        self.truth = os.path.join(bench.tmpdir, "parked-%d.json" % parked)
        script = os.path.join(bench.repo, "fixtures", "python", "many_parked.py")
        self.proc = subprocess.Popen([python, script, self.truth, str(parked)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, env=bench.env)
        self.pid = self.proc.pid

    def __enter__(self):
        deadline = time.time() + 120
        while not os.path.exists(self.truth):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("many_parked.py did not get ready")
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def __exit__(self, *exc):
        self.stop()


def bench_record_parked(bench):
    bench.describe("freeze-mode pause with %d threads parked on an Event beside 2 spinning "
                   "(fixtures/python/many_parked.py), record --rate 100 for %.0f s, with and "
                   "without --idle, beside the %d-thread fixture of the pause benchmark"
                   % (PARKED, PARKED_SECONDS, THREADS))
    python = pyenv_python(12)
    if not python:
        bench.skip("no CPython 3.12 under %s/versions (pyenv install 3.12)" % pyenv_root())
    load_note(bench)
    figures = {}
    with Target(bench, python) as target:
        for mode in ([], ["--idle"]):
            name = "deep%s" % "".join(mode)
            figures[name] = record(bench, target.pid, ["--rate", "100", "--duration", str(PARKED_SECONDS)]
                                   + mode, os.path.join(bench.tmpdir, name + ".folded"))
    with ParkedTarget(bench, python, PARKED) as target:
        for mode in ([], ["--idle"]):
            name = "parked%s" % "".join(mode)
            figures[name] = record(bench, target.pid, ["--rate", "100", "--duration", str(PARKED_SECONDS)]
                                   + mode, os.path.join(bench.tmpdir, name + ".folded"))
    for mode in ("", "--idle"):
        parked, deep = figures["parked" + mode], figures["deep" + mode]
        what = "3.12, %d parked + 2 spinning%s" % (PARKED, ", " + mode if mode else "")
        if parked["pause_median"] is None or deep["pause_median"] is None:
            raise RuntimeError("no pause figures in the summary")
        bench.note("%s: %d samples, %d errors; %d-thread fixture%s: %d samples"
                   % (what, parked["samples"], parked["errors"], THREADS, " " + mode if mode else "",
                      deep["samples"]))
        bench.ours("%s: pause median" % what, parked["pause_median"], "us", PARKED_PAUSE_GOAL_US)
        bench.ours("%s: pause p99" % what, parked["pause_p99"], "us")
        if parked["stopped_pct"] is not None:
            bench.ours("%s: share of the time stopped" % what, parked["stopped_pct"], "%",
                       PARKED_STOPPED_GOAL_PCT)
        bench.ours("%d-thread fixture%s: pause median" % (THREADS, ", " + mode if mode else ""),
                   deep["pause_median"], "us")
        bench.ours("%d-thread fixture%s: pause p99" % (THREADS, ", " + mode if mode else ""),
                   deep["pause_p99"], "us")
        if deep["stopped_pct"] is not None:
            bench.ours("%d-thread fixture%s: share of the time stopped" % (THREADS, ", " + mode if mode else ""),
                       deep["stopped_pct"], "%")
        bench.ours("%s: pause median / the %d-thread fixture's" % (what, THREADS),
                   parked["pause_median"] / float(max(deep["pause_median"], 1)), "x")


def measure_ours_rate(bench, pid, name):
    """Our nonblocking rate on PID over RATE_SECONDS: the summary line as a
    dict, plus the rate counted from the folded output and the share of
    stacks that came out DEPTH deep."""
    output = os.path.join(bench.tmpdir, name + ".folded")
    summary = record(bench, pid, ["--nonblocking", "--interval", "1us", "--idle",
                                  "--duration", "%g" % RATE_SECONDS], output)
    total, deep = folded_totals(output)
    # --idle: every snapshot holds the busy threads and the idle main thread
    summary["counted_rate"] = total / float(THREADS + 1) / RATE_SECONDS
    summary["deep_share"] = deep / float(total) if total else 0.0
    return summary


def measure_cpython_rate(bench, python, pid, name):
    """CPython 3.15's sampler on PID over RATE_SECONDS, as fast as it goes
    (asked for 1 MHz), all threads, collapsed stacks: (rate counted from its
    output, its own figure or None), or raise RuntimeError."""
    output = os.path.join(bench.tmpdir, name + ".collapsed")
    argv = [python, "-m", "profiling.sampling", "attach", "-a", "-r", "1000khz",
            "-d", "%g" % RATE_SECONDS, "--collapsed", "-o", output, str(pid)]
    code, out, err = run(argv, bench.env, timeout=RATE_SECONDS + 120)
    if code != 0 or not os.path.exists(output):
        raise RuntimeError("exited %d: %s" % (code, (err or out).strip()[-200:]))
    snapshots, _ = collapsed_samples(output)
    captured = CPYTHON_CAPTURED.search(out + err)
    own = int(captured.group(1)) / float(captured.group(2)) if captured else None
    return snapshots / RATE_SECONDS, own


def bench_record_nonblocking(bench):
    bench.describe("nonblocking sustained rate: record --nonblocking --interval 1us --idle "
                   "for %.0f s on %d threads %d frames deep, beside CPython 3.15's sampler"
                   % (RATE_SECONDS, THREADS, DEPTH))
    py315, why = debian_python(bench, "3.15")
    py312 = pyenv_python(12)
    if not py315 and not py312:
        bench.skip("no 3.12+ interpreter: %s; no CPython 3.12 under %s/versions"
                   % (why, pyenv_root()))
    load_note(bench)
    bench.note("rates count the samples in each tool's output over its %.0f s window; a "
               "sample is one snapshot of all %d threads (main included); best of %d "
               "alternating rounds per tool on one target process"
               % (RATE_SECONDS, THREADS + 1, RATE_ROUNDS))
    bench.note("the goal of at least %.0f samples/s is shown as time per sample "
               "(1/rate): at most %.0f us" % (RATE_GOAL, 1e6 / RATE_GOAL))
    cpython_tool = "python3.15 -m profiling.sampling"
    cpython_rates, cpython_failure = [], None
    first = True
    for label, python in (("3.15", py315), ("3.12", py312)):
        if not python:
            bench.note("%s not measured: %s" % (label, why if label == "3.15" else
                                                "no CPython 3.12 under pyenv"))
            continue
        ours = []
        with Target(bench, python) as target:
            for round_ in range(RATE_ROUNDS):
                ours.append(measure_ours_rate(bench, target.pid, "rate-%s-%d" % (label, round_)))
                if label != "3.15" or cpython_failure:
                    continue
                try:
                    counted, own = measure_cpython_rate(bench, python, target.pid,
                                                        "cpython-%d" % round_)
                except RuntimeError as failure:
                    cpython_failure = str(failure)
                    continue
                cpython_rates.append(counted)
                bench.note("%s round %d: %.0f samples/s counted (its own figure %s)"
                           % (cpython_tool, round_ + 1, counted,
                              "%.0f" % own if own else "not printed"))
            running = record(bench, target.pid, ["--nonblocking", "--interval", "1us",
                                                 "--duration", "%g" % (RATE_SECONDS / 2)],
                             os.path.join(bench.tmpdir, "rate-%s-running.folded" % label))
        for round_, summary in enumerate(ours):
            bench.note("%s (%s) round %d: %d samples, %d errors, %.0f samples/s counted "
                       "(its own figure %.0f), %.1f%% of stacks %d+ deep"
                       % (label, python_version(python), round_ + 1, summary["samples"],
                          summary["errors"], summary["counted_rate"], summary["rate"],
                          100 * summary["deep_share"], DEPTH))
        best = max(ours, key=lambda summary: summary["counted_rate"])
        rate = best["counted_rate"]
        if rate <= 0:
            raise RuntimeError("no samples recorded on %s" % label)
        samples = sum(summary["samples"] for summary in ours)
        errors = sum(summary["errors"] for summary in ours)
        bench.ours("%s time per sample (1/rate)" % label, 1e6 / rate, "us",
                   1e6 / RATE_GOAL if first else None)
        bench.ours("%s samples/s (goal at least %.0f)" % (label, RATE_GOAL), rate, "/s")
        bench.ours("%s errors per sample, all rounds" % label,
                   100.0 * errors / samples if samples else 100.0, "%",
                   ERROR_GOAL_PCT if first else None)
        bench.ours("%s time per sample, running threads only (the default, no --idle)" % label,
                   1e6 / max(running["rate"], 1e-9), "us", 1e6 / DEFAULT_RATE_GOAL if first else None)
        bench.ours("%s samples/s, running threads only (goal at least %.0f; its own figure)"
                   % (label, DEFAULT_RATE_GOAL), running["rate"], "/s")
        if label == "3.15" and cpython_rates:
            bench.note("3.15 target, best rounds: pycoreprof %.0f samples/s, %s %.0f "
                       "samples/s (%.2fx)" % (rate, cpython_tool, max(cpython_rates),
                                              rate / max(cpython_rates)))
        first = False

    reported = "reported earlier: ~%.0f samples/s, not measured here"
    if not py315:
        bench.reference(cpython_tool, missing="no python3.15 (%s); %s"
                        % (why, reported % REPORTED_RATES[cpython_tool]))
    elif cpython_failure:
        bench.reference(cpython_tool, missing="failed (%s); %s"
                        % (cpython_failure, reported % REPORTED_RATES[cpython_tool]))
    else:
        rate = max(cpython_rates)
        bench.reference("%s: time per sample (%.0f samples/s)" % (cpython_tool, rate),
                        1e6 / rate, "us")
    bench.reference("austin", missing="no Austin for 3.12+ on this machine; %s"
                    % reported % REPORTED_RATES["austin"])

