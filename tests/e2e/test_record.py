# `pycoreprof record` on live fixture processes: recorded time shares against
# the shares the fixture spends by its own clock, thread filters and roots,
# every way a recording ends, thread churn, child processes, outputs, errors.
import json
import os
import re
import select
import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree

import lib
from lib import check

SHARES = os.path.join(lib.FIXTURES, "shares.py")
CHURN = os.path.join(lib.FIXTURES, "churn.py")
EXIT_RACE = os.path.join(lib.FIXTURES, "exit_race.py")
WORKER_EXIT_RACE = os.path.join(lib.FIXTURES, "worker_exit_race.py")
WORKERS = os.path.join(lib.FIXTURES, "workers.py")
MANY_CODES = os.path.join(lib.FIXTURES, "many_codes.py")

SPINNERS = ("fifty", "thirty", "twenty")   # 50/30/20 % of each cycle
PARKED = ("idle_waiter", "sleeper")
SHARE_TOLERANCE = 3.0      # percentage points
SETTLE_TIMEOUT = 10
FIXTURE_SECONDS = 60       # long enough for any case; ended by PID before that


# ---------------------------------------------------------------- interpreters

def few_interpreters():
    """The oldest and the newest interpreter: the cases that do not depend
    much on the interpreter's layout run on these two only."""
    labels = lib.interpreter_labels()
    return sorted(set([labels[0], labels[-1]]), key=labels.index)


def oldest_and_newest_pyenv():
    labels = [label for label in lib.interpreter_labels() if label.startswith("pyenv")]
    return sorted(set([labels[0], labels[-1]]), key=labels.index) if labels else ["pyenv"]


# ---------------------------------------------------------------- processes

task_states = lib.task_states
tracer_pid = lib.tracer_pid


def cpu_ticks(pid):
    """User plus system time of PID so far, in clock ticks."""
    with open("/proc/%d/stat" % pid) as source:
        fields = source.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_for(predicate, what, timeout=SETTLE_TIMEOUT):
    deadline = time.time() + timeout
    while not predicate():
        check(time.time() < deadline, "%s not reached in %d s", what, timeout)
        time.sleep(0.02)


def check_left_running(proc):
    """PROC is alive, no thread of it stopped, not traced, and still spinning."""
    pid = proc.pid
    check(proc.poll() is None, "the fixture exited with %s", proc.returncode)
    wait_for(lambda: not any(state in "tT" for state in task_states(pid)),
             "every thread of pid %d running or sleeping" % pid)
    check(tracer_pid(pid) == 0, "pid %d is still traced by %d", pid, tracer_pid(pid))
    before = cpu_ticks(pid)
    wait_for(lambda: cpu_ticks(pid) > before, "pid %d using CPU again" % pid)


class Shares(lib.Process):
    """shares.py run by interpreter LABEL, from the moment its parked threads
    are parked (its --info written) until it is ended by its PID."""

    def __init__(self, label, seconds=FIXTURE_SECONDS, extra=(), rest_ms=40):
        workdir = lib.scratch("record")
        self.info_path = os.path.join(workdir, "info.json")
        self.timeline_path = os.path.join(workdir, "timeline.txt")
        lib.Process.__init__(self, label, [SHARES, str(seconds), "--info", self.info_path,
                                           "--timeline", self.timeline_path,
                                           "--rest", str(rest_ms)] + list(extra),
                             workdir=workdir, ready=self.info_path)

    def settle(self):
        self.info = lib.load_truth(self.info_path)

    def clock(self):
        """The fixture's wall clock, read here."""
        return time.monotonic() if self.info["clock"] == "monotonic" else time.time()

    def timeline(self):
        """The fixture's cycles so far: [fifty began, thirty began, twenty
        began, twenty ended] by self.clock()."""
        marks = []
        if not os.path.exists(self.timeline_path):
            return marks  # opened after --info is written
        with open(self.timeline_path) as source:
            for line in source:
                fields = line.split()
                if len(fields) == 4 and line.endswith("\n"):  # else being written
                    marks.append([float(field) for field in fields])
        return marks

    def spent_between(self, start, end):
        """The seconds spent in fifty, thirty and twenty from START to END (by
        self.clock()), by the fixture's own timeline, once the fixture has
        ended the cycle running at END."""
        deadline = time.time() + SETTLE_TIMEOUT
        while True:
            marks = self.timeline()
            if marks and marks[-1][3] >= end:
                break
            check(self.proc.poll() is None, "the fixture exited with %s", self.proc.returncode)
            check(time.time() < deadline, "the fixture's timeline did not reach the end of the "
                  "recording in %d s", SETTLE_TIMEOUT)
            time.sleep(0.02)
        spent = dict((name, 0.0) for name in SPINNERS)
        for cycle in marks:
            for name, began, ended in zip(SPINNERS, cycle, cycle[1:]):
                spent[name] += max(0.0, min(end, ended) - max(start, began))
        check(sum(spent.values()) > 0, "the fixture's timeline has nothing from %.3f to %.3f",
              start, end)
        return spent


# ---------------------------------------------------------------- the profiler

SUMMARY = re.compile(r"^Wrote (?P<file>.+) \((?P<samples>\d+) samples, (?P<errors>\d+) errors, "
                     r"(?P<rate>[\d.]+) samples/s(?: of (?P<asked>[\d.]+) asked)?(?P<extra>[^)]*)\)$", re.M)


class Summary(object):
    def __init__(self, result):
        text = result.stderr.decode("utf-8", "replace")
        match = SUMMARY.search(text)
        check(match, "no 'Wrote FILE (N samples, E errors, R samples/s...)' line: %s",
              result.describe())
        self.file = match.group("file")
        self.samples = int(match.group("samples"))
        self.errors = int(match.group("errors"))
        self.rate = float(match.group("rate"))
        self.asked = float(match.group("asked")) if match.group("asked") else None
        self.extra = match.group("extra")  # the pause figures in freeze mode
        check("Sampling process " in text, "no 'Sampling process' line: %s", result.describe())


def record(args, timeout=60):
    """`pycoreprof record ARGS`: the result and its parsed summary line (which
    must be there)."""
    result = lib.run_pycoreprof(["record"] + list(args), timeout=timeout)
    return result, Summary(result)


def check_success(result, summary, max_error_share=0.01, code=None):
    """Exit 0, or 1 with errors; errors under MAX_ERROR_SHARE of the samples.
    CODE, when given, is the exit code expected instead (launch form)."""
    check(summary.samples > 0, "no samples: %s", result.describe())
    if code is None:
        code = 1 if summary.errors else 0
    check(result.code == code, "expected exit %d with %d errors: %s", code, summary.errors,
          result.describe())
    check(summary.errors < max_error_share * summary.samples,
          "%d errors in %d samples, expected under %.0f%%: %s", summary.errors, summary.samples,
          100 * max_error_share, result.describe())


# ---------------------------------------------------------------- folded stacks

PYTHON_FRAME = re.compile(r"^(?P<name>.+) \((?P<file>.+?)(?::(?P<line>\d+))?\)$")
ROOT_FRAME = re.compile(r'^(?P<kind>thread|process) (?P<id>\d+) "(?P<label>.*?)"'
                        r'(?: in interpreter (?P<interp>\d+)(?: "(?P<interp_name>.*)")?)?$')
LINE = re.compile(r"^(?P<stack>.+) (?P<count>\d+)$")


class Frame(object):
    def __init__(self, text):
        self.text = text
        self.name = self.file = self.line = self.kind = self.id = self.label = None
        root = ROOT_FRAME.match(text)
        python = PYTHON_FRAME.match(text)
        if root:
            self.kind, self.id, self.label = root.group("kind"), int(root.group("id")), root.group("label")
        elif text.startswith("[") and text.endswith("]"):
            self.kind = "marker"
        elif python:
            self.kind = "python"
            self.name, self.file = python.group("name"), python.group("file")
            self.line = int(python.group("line")) if python.group("line") else None
        else:
            raise lib.Failure("frame %r is neither 'qualname (file:line)', a thread or process "
                              "root, nor a [marker]" % text)

    def is_function(self, function):
        """Whether this frame is FUNCTION as the fixture describes it."""
        return self.kind == "python" and self.name == function["qualname"] and \
            self.file == function["file"]


def read_folded(path):
    """The stacks of a folded file as [(frames root first, count)], checking
    the format: one line per distinct stack, a positive count."""
    check(os.path.exists(path), "no profile written at %s", path)
    with open(path, "rb") as source:
        data = source.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise lib.Failure("%s is not UTF-8: %s" % (path, exc))
    stacks, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        match = LINE.match(line)
        check(match, "%s line %d is not 'STACK COUNT': %r", path, number, line)
        count = int(match.group("count"))
        check(count > 0, "%s line %d has count %d", path, number, count)
        check(match.group("stack") not in seen, "%s line %d repeats a stack: %r", path, number, line)
        seen.add(match.group("stack"))
        stacks.append(([Frame(label) for label in match.group("stack").split(";")], count))
    check(stacks, "%s is empty", path)
    return stacks


def total(stacks):
    return sum(count for _, count in stacks)


def count_with(stacks, function):
    return sum(count for frames, count in stacks if any(frame.is_function(function) for frame in frames))


def describe_counts(stacks, info, names):
    return ", ".join("%s %d" % (name, count_with(stacks, info["functions"][name])) for name in names)


def percentages(amounts):
    whole = float(sum(amounts.values()))
    return dict((name, 100.0 * amounts[name] / whole if whole else 0.0) for name in amounts)


def check_spinner_shares(counts, spent, info, tolerance, what):
    """The shares of fifty/thirty/twenty among the samples in any of them
    (COUNTS), within TOLERANCE points of what the fixture spent. On a quiet
    machine its wall-time shares over the recording (from SPENT, seconds)
    equal its CPU-time split, 50/30/20. On a busy one, preemptions stretch
    the function they catch: the samples follow that stretch when the
    profiler runs meanwhile, not when it waits too (or holds the fixture
    stopped in freeze mode), so the shares to expect lie between the two."""
    spun = sum(counts.values())
    check(spun > 0, "%s: no sample in %s", what, "/".join(SPINNERS))
    shares, wall, cpu = percentages(counts), percentages(spent), info["cpu_shares"]
    report = "recorded %s of %d samples; the fixture spent %s by the wall clock, %s by CPU time" % (
        " ".join("%s %.1f%%" % (name, shares[name]) for name in SPINNERS), spun,
        " ".join("%s %.1f%%" % (name, wall[name]) for name in SPINNERS),
        " ".join("%s %.0f%%" % (name, cpu[name]) for name in SPINNERS))
    print("%s: %s" % (what, report))
    for name in SPINNERS:
        low, high = min(wall[name], cpu[name]), max(wall[name], cpu[name])
        check(low - tolerance <= shares[name] <= high + tolerance,
              "%s: %s has %.1f%% of the spinning samples, expected %.1f%% to %.1f%% (%s)",
              what, name, shares[name], low - tolerance, high + tolerance, report)


def check_spinner_frames(stacks, info, what):
    """Where a spinner appears, it is the leaf, its line lies in its body,
    and its caller is main, called from the module."""
    functions = info["functions"]
    main = functions["main"]
    for frames, count in stacks:
        python = [frame for frame in frames if frame.kind == "python"]
        for index, frame in enumerate(python):
            name = next((name for name in SPINNERS if frame.is_function(functions[name])), None)
            if name is None:
                continue
            function = functions[name]
            where = "%s: stack %s" % (what, ";".join(f.text for f in frames))
            check(index == len(python) - 1, "%s: %s is not the innermost frame", where, name)
            check(frame.line is not None and function["first_line"] <= frame.line <= function["last_line"],
                  "%s: %s at line %s, outside its lines %d-%d", where, name, frame.line,
                  function["first_line"], function["last_line"])
            check(index >= 2 and python[index - 1].is_function(main) and
                  python[index - 2].name == "<module>",
                  "%s: expected <module>;main;%s", where, name)
            check(main["first_line"] <= python[index - 1].line <= main["last_line"],
                  "%s: main at line %s, outside its lines %d-%d", where, python[index - 1].line,
                  main["first_line"], main["last_line"])


def check_no_parked(stacks, info, what):
    for name in PARKED:
        found = count_with(stacks, info["functions"][name])
        check(found == 0, "%s: %d stacks of the parked %s, expected none (%s)", what, found, name,
              describe_counts(stacks, info, PARKED + SPINNERS))


# ---------------------------------------------------------------- shares

def record_shares(fixture, args, seconds):
    """Record FIXTURE for SECONDS with ARGS; the result, its summary and the
    seconds the fixture spent in each spinner over the recording. The sampling
    loop begins as the profiler prints its 'Sampling process' line and ends
    SECONDS later (writing the profile and exiting take longer)."""
    argv = [lib.pycoreprof(), "record", "--pid", str(fixture.pid), "--duration", str(seconds)]
    argv += list(args)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([proc.stderr], [], [], 30)
        first = proc.stderr.readline() if ready else b""
        start = fixture.clock()
        stdout, rest = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        raise lib.Failure("%s did not finish in %d s" % (" ".join(argv), seconds + 30))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = lib.Result(argv, proc.returncode, stdout, first + rest)
    check(first.startswith(b"Sampling process"), "the profiler's first line is not 'Sampling "
          "process ...': %s", result.describe())
    return result, Summary(result), fixture.spent_between(start, start + seconds)


@lib.each_interpreter
def test_shares(label):
    """3 s at 500 Hz: about 800 samples in the spinners over 34 cycles of
    the fixture (47 ms spinning, 40 ms asleep: the less CPU the fixture
    takes, the less other cases preempt it). On a busy machine the sampling
    clock jitters and a share is then known to about two points only: when
    the shares miss, the fixture is recorded again and the recordings are
    judged together, three at most. A profiler that counts wrong misses
    every time."""
    with Shares(label) as fixture:
        for mode in ([], ["--nonblocking"]):
            what = "%s %s" % (label, "nonblocking" if mode else "freeze")
            out = fixture.path("shares%s.folded" % "-".join(mode))
            counts = dict((name, 0) for name in SPINNERS)
            spent = dict((name, 0.0) for name in SPINNERS)
            for attempt in range(1, 4):
                result, summary, seconds = record_shares(fixture, ["--rate", "500", "-o", out] + mode, 3)
                print("%s: %d samples, %d errors, %.1f samples/s%s" % (
                    what, summary.samples, summary.errors, summary.rate, summary.extra))
                check_success(result, summary)
                check(summary.file == out, "%s: wrote %s, expected %s", what, summary.file, out)
                # 500 Hz is not always sustained on a loaded two-core machine
                # (the target, the profiler and other cases share it).
                check(summary.samples >= 600, "%s: %d samples in 3 s at 500 Hz (%.0f/s): far "
                      "from the rate asked: %s", what, summary.samples, summary.rate,
                      result.describe())
                if not mode:
                    check_pause_figures(summary, what, result)
                stacks = read_folded(out)
                check_spinner_frames(stacks, fixture.info, what)
                check_left_running(fixture.proc)
                for name in SPINNERS:
                    counts[name] += count_with(stacks, fixture.info["functions"][name])
                    spent[name] += seconds[name]
                try:
                    check_spinner_shares(counts, spent, fixture.info, SHARE_TOLERANCE,
                                         "%s, %d recording%s" % (what, attempt, "s"[:attempt > 1]))
                    break
                except lib.Failure:
                    if attempt == 3:
                        raise


PAUSES = re.compile(r", pause median (?P<median>\d+)us p99 (?P<p99>\d+)us max (?P<max>\d+)us, "
                    r"stopped (?P<share>[\d.]+)% of the time")


def check_pause_figures(summary, what, result):
    """The freeze-mode summary gives the pause's median, p99 and max, and
    the share of the recording the process spent stopped, which must agree
    with them: no sample paused for longer than the max. (A sample that found every thread asleep stopped
    none and is not a pause: the pauses may be fewer than the samples.)"""
    match = PAUSES.search(summary.extra)
    check(match, "%s: no pause figures in the summary: %s", what, result.describe())
    median, p99, longest = (int(match.group(k)) * 1e-6 for k in ("median", "p99", "max"))
    share = float(match.group("share")) / 100
    check(0 < median <= p99 <= longest, "%s: pause figures out of order: %s", what, summary.extra)
    # Figures are printed rounded: allow a microsecond and 0.005 points.
    low = 0
    high = (longest + 1e-6) * summary.rate + 5e-5
    check(low <= share <= high, "%s: stopped %.2f%% of the time, but %.0f pauses/s of median %.0f us "
          "and max %.0f us give %.2f%% to %.2f%%", what, 100 * share, summary.rate, 1e6 * median,
          1e6 * longest, 100 * low, 100 * high)


# ---------------------------------------------------------------- filters and roots

def context_switches(pid, tids):
    """Voluntary and involuntary context switches of threads TIDS, summed."""
    total = 0
    for tid in tids:
        with open("/proc/%d/task/%d/status" % (pid, tid)) as source:
            for line in source:
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
    return total


@lib.each_interpreter
def test_threads_filters(label):
    # A fixture spinning all the time: the parked threads must stay out of
    # the samples also when the machine is busy.
    with Shares(label, rest_ms=0) as fixture:
        info = fixture.info
        functions = info["functions"]
        base = ["--pid", str(fixture.pid), "--rate", "200", "--duration", "1"]

        # Without --idle: the parked threads never appear, and the freezes
        # leave them asleep: stopping a thread wakes it, which shows as
        # context switches.
        parked_tids = [info["threads"][name] for name in PARKED if info["threads"][name]]
        switches_before = context_switches(fixture.pid, parked_tids)
        out = fixture.path("running.folded")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "500", "--duration", "2",
                                  "-o", out])
        check_success(result, summary)
        woken = context_switches(fixture.pid, parked_tids) - switches_before
        stacks = read_folded(out)
        check_no_parked(stacks, info, "without --idle")
        check_spinner_frames(stacks, info, "without --idle")
        # Attaching and detaching stop every thread once or twice each.
        check(woken <= 10 * len(parked_tids), "without --idle: the parked threads %s switched "
              "context %d times in %d samples: the freezes woke them", parked_tids, woken,
              summary.samples)

        # With --idle: both parked threads, in every sample, read while
        # they sleep: the freezes leave them asleep here too.
        out = fixture.path("idle.folded")
        switches_before = context_switches(fixture.pid, parked_tids)
        result, summary = record(base + ["--idle", "-o", out])
        check_success(result, summary)
        woken = context_switches(fixture.pid, parked_tids) - switches_before
        check(woken <= 10 * len(parked_tids), "--idle: the parked threads %s switched context %d "
              "times in %d samples: the freezes woke them", parked_tids, woken, summary.samples)
        stacks = read_folded(out)
        check_spinner_frames(stacks, info, "--idle")
        for name in PARKED:
            found = count_with(stacks, functions[name])
            check(found >= summary.samples - summary.errors,
                  "--idle: the parked %s in %d stacks of %d samples (%d errors)", name, found,
                  summary.samples, summary.errors)
            for frames, count in stacks:
                if any(frame.is_function(functions[name]) for frame in frames):
                    check(frames[-1].is_function(functions[name]),
                          "--idle: %s is not the innermost frame of %s", name,
                          ";".join(frame.text for frame in frames))
                    # Started by threading.Thread: the standard library's
                    # frames are named relative to it.
                    files = [frame.file for frame in frames if frame.kind == "python"]
                    check("threading.py" in files, "--idle: no frame of file 'threading.py' "
                          "under %s (files: %s)", name, files)
        check(count_with(stacks, functions["fifty"]) > 0, "--idle: fifty missing")

        # --gil: only the GIL holder, that is the spinning main thread, even
        # with --idle.
        for extra in (["--gil"], ["--gil", "--idle"]):
            what = " ".join(extra)
            out = fixture.path("gil.folded")
            result, summary = record(base + extra + ["-o", out])
            check_success(result, summary)
            stacks = read_folded(out)
            check_no_parked(stacks, info, what)
            check_spinner_frames(stacks, info, what)
            check(total(stacks) <= summary.samples,
                  "%s: %d stacks in %d samples, expected one thread at most per sample", what,
                  total(stacks), summary.samples)
            for frames, count in stacks:
                check(frames[0].name == "<module>", "%s: stack %s is not the main thread's", what,
                      ";".join(frame.text for frame in frames))
            spun = sum(count_with(stacks, functions[name]) for name in SPINNERS)
            check(spun >= 0.8 * summary.samples, "%s: %d of %d samples in the spinners", what,
                  spun, summary.samples)

        # --threads --function: a root per thread with its OS id and its
        # name in threading; frames without line numbers.
        out = fixture.path("threads.folded")
        result, summary = record(base + ["--idle", "--threads", "--function", "-o", out])
        check_success(result, summary)
        stacks = read_folded(out)
        expected_tid = {"fifty": info["main_tid"] or fixture.pid}
        for name in PARKED:
            expected_tid[name] = info["threads"][name]
        seen = set()
        for frames, count in stacks:
            stack = ";".join(frame.text for frame in frames)
            root = frames[0]
            check(root.kind == "thread", "--threads: stack %s has no thread root", stack)
            check(os.path.isdir("/proc/%d/task/%d" % (fixture.pid, root.id)),
                  "--threads: thread %d is not a thread of pid %d", root.id, fixture.pid)
            name = info["thread_names"].get(str(root.id))
            check(root.label == name, "--threads: thread %d named %r, its name in threading is %r", root.id,
                  root.label, name)
            for frame in frames[1:]:
                check(frame.kind == "python" and frame.line is None,
                      "--function: frame %r of %s has a line number or is not a Python frame",
                      frame.text, stack)
            for name, tid in expected_tid.items():
                if any(frame.name == functions[name]["qualname"] and
                       frame.file == functions[name]["file"] for frame in frames[1:]):
                    seen.add(name)
                    if tid is not None:
                        check(root.id == tid, "--threads: %s under thread %d, expected %d", name,
                              root.id, tid)
        check(expected_tid["fifty"] == fixture.pid, "the main thread's id %s is not the pid %d",
              expected_tid["fifty"], fixture.pid)
        check(seen == set(expected_tid), "--threads --function: only %s found of %s", sorted(seen),
              sorted(expected_tid))
        check_left_running(fixture.proc)


# ---------------------------------------------------------------- how recordings end

@lib.each(few_interpreters)
def test_launch_exit_code(label):
    python = lib.interpreter(label)
    workdir = lib.scratch("launch")
    out = os.path.join(workdir, "launch.folded")
    info = os.path.join(workdir, "info.json")
    result, summary = record(["-o", out, "--rate", "200", "--", python, SHARES, "2", "--exit", "3",
                              "--info", info])
    check_success(result, summary, code=3)
    truth = lib.load_truth(info)
    check(("Sampling process %d " % truth["pid"]).encode() in result.stderr,
          "the launched pid %d is not named: %s", truth["pid"], result.describe())
    stacks = read_folded(out)
    check_spinner_frames(stacks, truth, "launch")
    for name in SPINNERS:
        check(count_with(stacks, truth["functions"][name]) > 0, "launch: %s missing (%s)", name,
              describe_counts(stacks, truth, SPINNERS))
    # Also when the command ends by a signal: 128 + N.
    result = lib.run_pycoreprof(["record", "-o", out, "--", python, "-c",
                                 "import os, signal, time; time.sleep(0.3); "
                                 "os.kill(os.getpid(), signal.SIGTERM)"])
    check(result.code == 128 + signal.SIGTERM, "a launched command killed by SIGTERM: expected "
          "exit %d: %s", 128 + signal.SIGTERM, result.describe())


class Profiler(object):
    """`pycoreprof record ARGS` in the background, stderr to a file."""

    def __init__(self, args, workdir):
        self.stderr_path = os.path.join(workdir, "profiler.err")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([lib.pycoreprof(), "record"] + list(args),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=err)

    def stderr(self):
        with open(self.stderr_path, "rb") as source:
            return source.read()

    def wait_sampling(self, seconds):
        """Wait for the 'Sampling process' line, then SECONDS of sampling."""
        wait_for(lambda: b"Sampling process" in self.stderr() or self.proc.poll() is not None,
                 "the profiler starting")
        check(self.proc.poll() is None, "the profiler exited with %s: %s", self.proc.returncode,
              self.stderr().decode("utf-8", "replace"))
        time.sleep(seconds)

    def wait(self, timeout=SETTLE_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise lib.Failure("the profiler did not exit in %d s: %s"
                              % (timeout, self.stderr().decode("utf-8", "replace")))

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def result(self):
        return lib.Result(self.proc.args, self.proc.returncode, b"", self.stderr())


@lib.each(few_interpreters)
def test_stop_signals(label):
    """SIGINT, SIGTERM and SIGHUP to a profiler without --duration: the
    profile is written and the target is left running, untraced."""
    with Shares(label) as fixture:
        for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            name = signal.Signals(signo).name
            out = fixture.path("%s.folded" % name)
            profiler = Profiler(["--pid", str(fixture.pid), "--rate", "200", "-o", out],
                                fixture.workdir)
            try:
                profiler.wait_sampling(1.0)
                os.kill(profiler.proc.pid, signo)
                profiler.wait()
            finally:
                profiler.kill()
            result = profiler.result()
            summary = Summary(result)
            check(result.code == 0, "%s: expected exit 0: %s", name, result.describe())
            check(summary.samples >= 100, "%s after 1 s at 200 Hz: %d samples", name, summary.samples)
            stacks = read_folded(out)
            check_spinner_frames(stacks, fixture.info, name)
            check(count_with(stacks, fixture.info["functions"]["fifty"]) > 0, "%s: fifty missing", name)
            check_left_running(fixture.proc)


@lib.each(few_interpreters)
def test_target_exits(label):
    """The target ends (and is not reaped yet) during the recording: the
    profiler notices, writes the profile and exits."""
    with Shares(label, seconds=1.5, extra=["--exit", "7"]) as fixture:
        out = fixture.path("exits.folded")
        started = time.time()
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "20",
                                  "-o", out], timeout=30)
        elapsed = time.time() - started
        check_success(result, summary)
        check(elapsed < 10, "the profiler took %.1f s for a target that exits after 1.5 s", elapsed)
        stacks = read_folded(out)
        check_spinner_frames(stacks, fixture.info, "target exits")
        check(count_with(stacks, fixture.info["functions"]["fifty"]) > 0, "fifty missing")
        check(fixture.proc.wait() == 7, "the fixture exited with %s, expected 7",
              fixture.proc.returncode)


@lib.each(few_interpreters)
def test_kill_profiler(label):
    """kill -9 of a profiler sampling at 1 kHz: the kernel detaches it; the
    target goes on and can be profiled again."""
    with Shares(label) as fixture:
        for mode in ([], ["--nonblocking"]):
            profiler = Profiler(["--pid", str(fixture.pid), "--rate", "1000",
                                 "-o", fixture.path("killed.folded")] + mode, fixture.workdir)
            try:
                profiler.wait_sampling(1.0)
            finally:
                profiler.kill()
            check(profiler.proc.returncode == -signal.SIGKILL, "the profiler ended with %s, "
                  "not by SIGKILL: %s", profiler.proc.returncode, profiler.stderr())
            check_left_running(fixture.proc)
        out = fixture.path("again.folded")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "1",
                                  "-o", out])
        check_success(result, summary)
        stacks = read_folded(out)
        check_spinner_frames(stacks, fixture.info, "after kill -9")
        check(count_with(stacks, fixture.info["functions"]["fifty"]) > 0, "fifty missing")
        check_left_running(fixture.proc)


# ---------------------------------------------------------------- threads and processes

@lib.each(few_interpreters)
def test_thread_churn(label):
    """Hundreds of threads a second start and end while being sampled."""
    python = lib.interpreter(label)
    workdir = lib.scratch("churn")
    for mode in ([], ["--nonblocking"]):
        what = "churn %s" % ("nonblocking" if mode else "freeze")
        out = os.path.join(workdir, "churn%s.folded" % "-".join(mode))
        info = os.path.join(workdir, "churn%s.json" % "-".join(mode))
        result, summary = record(["-o", out, "--rate", "200"] + mode +
                                 ["--", python, CHURN, "2", "--exit", "5", "--info", info])
        print("%s: %d samples, %d errors" % (what, summary.samples, summary.errors))
        check_success(result, summary, max_error_share=0.05, code=5)
        truth = lib.load_truth(info)
        rate = truth["threads_started"] / truth["seconds"]
        print("%s: %d threads started, %.0f/s" % (what, truth["threads_started"], rate))
        check(rate >= 200, "%s: the fixture started only %.0f threads/s", what, rate)
        stacks = read_folded(out)
        workers = sum(count for frames, count in stacks
                      if frames[-1].name == "churn_work" and frames[-1].file == CHURN)
        check(workers > 0, "%s: no stack ends in churn_work", what)


@lib.each(few_interpreters)
def test_launched_exit_with_threads_running(label):
    """The launched command exits while 32 threads spin: threads vanish
    between and during samples. A thread that was exiting as the profiler
    detached stays the profiler's to reap, and its process cannot be reaped
    before it: record must still end (it used to wait for ever, about one
    run in two here)."""
    python = lib.interpreter(label)
    workdir = lib.scratch("exit-race")
    out = os.path.join(workdir, "exit-race.folded")
    for attempt in range(3):
        result, summary = record(["-o", out, "--rate", "1000", "--", python, EXIT_RACE, "0.2", "32"],
                                 timeout=30)
        what = "exit race, run %d" % (attempt + 1)
        print("%s: %d samples, %d errors" % (what, summary.samples, summary.errors))
        # The last samples may catch the exit half-way: errors are allowed.
        check(result.code in (0, 1), "%s: expected exit 0 or 1: %s", what, result.describe())
        check(summary.samples > 0, "%s: no samples: %s", what, result.describe())
        stacks = read_folded(out)
        check(any(frames[-1].name == "spin" for frames, _ in stacks), "%s: no stack ends in spin", what)


def subprocesses_supported():
    result = lib.run_pycoreprof(["record", "--help"])
    check(result.code == 0, "record --help: %s", result.describe())
    return b"--subprocesses" in result.stdout


@lib.each(oldest_and_newest_pyenv)
def test_subprocesses(label):
    """multiprocessing workers forked by the target are found and sampled,
    each under a root naming its process."""
    python = lib.interpreter(label)
    check(subprocesses_supported(), "record --help does not list --subprocesses: the option "
          "that samples child processes is not implemented")
    workdir = lib.scratch("workers")
    out = os.path.join(workdir, "workers.folded")
    info = os.path.join(workdir, "workers.json")
    result, summary = record(["--subprocesses", "-o", out, "--rate", "100", "--",
                              python, WORKERS, "3", info])
    check_success(result, summary, max_error_share=0.05, code=0)
    truth = lib.load_truth(info)
    stacks = read_folded(out)
    roots = {}
    for frames, count in stacks:
        root = frames[0]
        check(root.kind == "process", "--subprocesses: stack %s has no process root",
              ";".join(frame.text for frame in frames))
        roots.setdefault(root.id, [root.label, 0, 0])
        for index, name in ((1, "parent_spin"), (2, "worker_spin")):
            if any(frame.name == name and frame.file == WORKERS for frame in frames):
                roots[root.id][index] += count
    expected = [truth["pid"]] + truth["workers"]
    check(all(pid in roots for pid in expected), "--subprocesses: process roots %s, expected "
          "the parent %d and the workers %s", sorted(roots), truth["pid"], truth["workers"])
    # Forked workers keep the parent's command line; a long one may be cut
    # short with "...".
    command = " ".join([python, WORKERS, "3", info])
    for pid in expected:
        shown = roots[pid][0]
        check(shown == command or (shown.endswith("...") and len(shown) > 20 and
                                   command.startswith(shown[:-3])),
              "--subprocesses: process %d labelled %r, expected its command line %r", pid, shown,
              command)
    for pid in truth["workers"]:
        check(roots[pid][2] > 0, "--subprocesses: no worker_spin under worker %d", pid)
    check(roots[truth["pid"]][1] > 0, "--subprocesses: no parent_spin under the parent %d",
          truth["pid"])
    check(roots[truth["pid"]][2] == 0, "--subprocesses: worker_spin under the parent %d",
          truth["pid"])


# ---------------------------------------------------------------- outputs

SVG = "{http://www.w3.org/2000/svg}"
SVG_TITLE = re.compile(r"^(?P<label>.*) \((?P<count>[\d,]+) samples?, (?P<percent>[\d.]+)%\)$")
SVG_TITLE_ANY = re.compile(r"^(?P<label>.*) \((?P<count>[\d,]+) samples?, (?P<percent>[\d.]+)%(?P<extra>[^()]*)\)$")


@lib.each(lambda: oldest_and_newest_pyenv()[-1:])
def test_subprocess_exit_with_threads_running(label):
    """Worker processes exit while 16 of their threads spin, each joined by
    its parent, under --subprocesses. A worker thread that was exiting as
    the profiler let go of the worker stays the profiler's to reap, and the
    worker cannot be reaped by its parent before that: the parent's join
    used to wait for ever (one worker in about sixteen here)."""
    check(subprocesses_supported(), "record --help does not list --subprocesses")
    python = lib.interpreter(label)
    workdir = lib.scratch("worker-exit-race")
    out = os.path.join(workdir, "workers.folded")
    for attempt in range(2):
        what = "worker exit race, run %d" % (attempt + 1)
        result, summary = record(["-o", out, "--subprocesses", "--rate", "200", "--", python,
                                  WORKER_EXIT_RACE, "6", "16", "0.3"], timeout=120)
        print("%s: %d samples, %d errors%s" % (what, summary.samples, summary.errors, summary.extra))
        check(result.code in (0, 1), "%s: expected exit 0 or 1: %s", what, result.describe())
        check(b"done" in result.stdout, "%s: the parent did not finish: %s", what, result.describe())
        stacks = read_folded(out)
        check(any(frames[-1].name == "spin" for frames, _ in stacks), "%s: no worker stack ends in spin",
              what)


@lib.each(lambda: few_interpreters()[-1:])
def test_svg(label):
    with Shares(label) as fixture:
        out = fixture.path("profile.svg")
        result, summary, seconds = record_shares(fixture, ["--rate", "500", "--title",
                                                            "Shares <of> time & more", "-o", out], 1.5)
        check_success(result, summary)
        try:
            root = ElementTree.parse(out).getroot()
        except ElementTree.ParseError as exc:
            raise lib.Failure("%s is not well-formed XML: %s" % (out, exc))
        check(root.tag == SVG + "svg", "the root element is %s, expected svg", root.tag)
        check(root.find(".//%sscript" % SVG) is not None, "no <script> in the SVG")
        texts = ["".join(element.itertext()) for element in root.iter(SVG + "text")]
        check("Shares <of> time & more" in texts, "the --title text is not in the SVG: %s", texts[:5])
        counts = dict((name, 0) for name in SPINNERS)
        for title in root.iter(SVG + "title"):
            match = SVG_TITLE.match(title.text or "")
            if not match:
                continue
            if not PYTHON_FRAME.match(match.group("label")):
                continue  # the root ("all") and thread or process roots
            frame = Frame(match.group("label"))
            for name in SPINNERS:
                if frame.is_function(fixture.info["functions"][name]):
                    counts[name] += int(match.group("count").replace(",", ""))
        spun = sum(counts.values())
        check(spun > 0, "no <title> names %s with a sample count", "/".join(SPINNERS))
        # Fewer samples than test_shares: a wider margin.
        check_spinner_shares(counts, seconds, fixture.info, 6, "SVG")

        # With --idle, where threads waited is said in the titles, and a
        # frame spent mostly waiting is drawn pale blue-grey; running code
        # keeps its colour (the fixture's own: warm).
        out = fixture.path("idle.svg")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "1", "--idle",
                                  "-o", out])
        check_success(result, summary)
        functions = fixture.info["functions"]
        seen = {"waiting": 0, "running": 0}
        for group in ElementTree.parse(out).getroot().iter(SVG + "g"):
            title, rect = group.find(SVG + "title"), group.find(SVG + "rect")
            match = SVG_TITLE_ANY.match(title.text or "") if title is not None else None
            if not match or rect is None or not PYTHON_FRAME.match(match.group("label")):
                continue
            frame = Frame(match.group("label"))
            r, g, b = (int(part) for part in rect.get("fill")[4:-1].split(","))
            if any(frame.is_function(functions[name]) for name in PARKED):
                check(match.group("extra") == ", 100% waiting" and 180 <= r <= 210 and g == r + 12,
                      "parked frame %s: title %r, colour %s", frame.text, title.text, rect.get("fill"))
                seen["waiting"] += 1
            elif any(frame.is_function(functions[name]) for name in SPINNERS):
                check(not match.group("extra") and r >= 200 and b <= 60,
                      "spinning frame %s: title %r, colour %s", frame.text, title.text, rect.get("fill"))
                seen["running"] += 1
        check(seen["waiting"] and seen["running"], "frames checked for colour: %s", seen)

        # The standard library's frames are known as such though their
        # file names are shortened (threading.py): in the JSON aggregate.
        out = fixture.path("idle.json")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "0.5", "--idle",
                                  "-o", out])
        check_success(result, summary)
        with open(out) as source:
            document = json.load(source)
        origins = dict((frame.get("file"), frame.get("origin")) for frame in document["frames"])
        check(origins.get("threading.py") == "stdlib", "threading.py's origin %r",
              origins.get("threading.py"))
        check(origins.get(functions["fifty"]["file"]) is None, "the fixture's file has an origin: %r",
              origins.get(functions["fifty"]["file"]))
        check(any(stack.get("waiting") for stack in document["stacks"]), "no waiting samples in the JSON")
        check_left_running(fixture.proc)


# ---------------------------------------------------------------- errors

def one_line(result):
    return result.stderr.decode("utf-8", "replace").strip().splitlines()


def dead_pid():
    """The pid of a child that has ended and been reaped."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return str(proc.pid)


def test_usage():
    # A dead pid, not a live one: a usage error must be found before any
    # process is touched, and nothing may be touched if it is not.
    pid = dead_pid()
    workdir = lib.scratch("usage")
    for args in (["record"], ["record", "-o", "x.folded"], ["record", "--duration", "1"],
                 ["record", "--interval", "10xs", "--pid", pid],
                 ["record", "--interval", "-5ms", "--pid", pid],
                 ["record", "--interval", "", "--pid", pid],
                 ["record", "--interval", "ms", "--pid", pid],
                 ["record", "--rate", "fast", "--pid", pid], ["record", "--pid", "one"],
                 ["record", "--pid", pid, "--", "true"], ["record", "--pid", pid, "--bogus"],
                 ["record", "--pid", pid, "--format", "png"], ["record", "--pid", pid, "-o", "x.png"],
                 ["--interval", "abc", "--pid", pid]):
        result = lib.run([lib.pycoreprof()] + args, cwd=workdir)
        check(result.code == 64, "expected exit 64: %s", result.describe())
        check(result.stderr.strip(), "no message for a usage error: %s", result.describe())
    check(os.listdir(workdir) == [], "usage errors left files: %s", os.listdir(workdir))
    result = lib.run_pycoreprof(["record", "--help"])
    check(result.code == 0 and b"--interval" in result.stdout, "record --help: %s", result.describe())


def test_dead_pid():
    pid = dead_pid()
    for args in (["record", "--pid", pid], ["--pid", pid]):
        result = lib.run_pycoreprof(args + ["-o", os.path.join(lib.scratch("dead"), "x.folded")])
        lines = one_line(result)
        check(result.code == 2, "expected exit 2: %s", result.describe())
        check(len(lines) == 1 and pid in lines[0],
              "expected one line naming pid %s: %s", pid, result.describe())


def test_not_python():
    proc = subprocess.Popen(["sleep", "100"])
    try:
        wait_for(lambda: os.path.exists("/proc/%d/exe" % proc.pid) and
                 os.readlink("/proc/%d/exe" % proc.pid).endswith("sleep"), "sleep starting")
        workdir = lib.scratch("notpython")
        for mode in ([], ["--nonblocking"]):
            out = os.path.join(workdir, "x.folded")
            result = lib.run_pycoreprof(["record", "--pid", str(proc.pid), "--duration", "1",
                                         "-o", out] + mode)
            lines = one_line(result)
            check(result.code == 2, "expected exit 2: %s", result.describe())
            check(len(lines) == 1 and "no Python" in lines[0],
                  "expected one line saying 'no Python': %s", result.describe())
            check(not os.path.exists(out), "a profile was written for a process without Python")
            wait_for(lambda: not any(state in "tT" for state in task_states(proc.pid)),
                     "sleep not stopped")
            check(tracer_pid(proc.pid) == 0, "sleep is still traced")
    finally:
        proc.kill()
        proc.wait()


@lib.each_interpreter
def test_attach_stops_nothing(label):
    """Attaching to a process (finding its interpreter) and sampling it
    without --idle leave its parked threads asleep: stopping a thread wakes
    it, which shows as context switches."""
    with Shares(label, rest_ms=0) as fixture:
        info = fixture.info
        parked_tids = [info["threads"][name] for name in PARKED if info["threads"][name]]
        switches_before = context_switches(fixture.pid, parked_tids)
        out = fixture.path("attach.folded")
        profiler = Profiler(["--pid", str(fixture.pid), "--rate", "200", "-o", out],
                            fixture.workdir)
        try:
            profiler.wait_sampling(0.5)
            woken = context_switches(fixture.pid, parked_tids) - switches_before
            os.kill(profiler.proc.pid, signal.SIGINT)
            profiler.wait()
        finally:
            profiler.kill()
        check(profiler.proc.returncode == 0, "record exited %s: %s", profiler.proc.returncode,
              profiler.stderr().decode("utf-8", "replace"))
        check(woken == 0, "the parked threads %s switched context %d times from before the "
              "attach to 0.5 s into sampling: attaching or sampling stopped them",
              parked_tids, woken)
        check_no_parked(read_folded(out), info, "attach")


# ---------------------------------------------------------------- code objects

def check_many_codes_stack(frames, info, what):
    """FRAMES is many_codes.py's: <module>; main; run_round; once; then the
    generated functions, DEPTH at most, each at a line of its own, cut short
    anywhere; nothing else."""
    stack = "%s: stack %s" % (what, ";".join(frame.text for frame in frames))
    own, generated, lines = info["functions"], info["generated_file"], info["generated_lines"]
    for frame in frames:
        check(frame.kind == "python", "%s: %s is not a Python frame", stack, frame.text)
    expected = [("<module>", own["main"]["file"], None), ("main", own["main"]["file"], own["main"]),
                ("run_round", own["run_round"]["file"], own["run_round"]),
                ("once", generated, {"first_line": info["one_off_lines"][0],
                                     "last_line": info["one_off_lines"][1]})]
    for frame, (name, file, lines_of) in zip(frames, expected):
        check(frame.name == name and frame.file == file, "%s: %s where %s (%s) was expected",
              stack, frame.text, name, file)
        check(lines_of is None or lines_of["first_line"] <= frame.line <= lines_of["last_line"],
              "%s: %s outside its lines %s-%s", stack, frame.text,
              lines_of and lines_of["first_line"], lines_of and lines_of["last_line"])
    called = frames[len(expected):]
    check(len(called) <= info["depth"], "%s: %d generated functions deep, expected %d at most",
          stack, len(called), info["depth"])
    for frame in called:
        match = re.match(r"^gen_(\d{5})$", frame.name or "")
        check(match and frame.file == generated, "%s: %s is not a generated function", stack,
              frame.text)
        first = lines["first"] + lines["step"] * (int(match.group(1)) % lines["chunk"])
        check(first <= frame.line <= first + lines["span"], "%s: %s outside its lines %d-%d",
              stack, frame.text, first, first + lines["span"])


@lib.each_interpreter
def test_many_code_objects(label):
    """3 s at 1 kHz, freeze mode, of a process calling at random into
    20,000 generated functions from one-off functions, each freed with its
    code object as soon as it returns: no errors (a stopped process reads
    whole, and what its frames hold is read before it runs on), and every
    stack is the fixture's own, each generated function at its own lines."""
    python = lib.interpreter(label)
    workdir = lib.scratch("codes")
    info_path = os.path.join(workdir, "info.json")
    log_path = os.path.join(workdir, "fixture.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([python, MANY_CODES, str(FIXTURE_SECONDS), "--info", info_path],
                                cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=lib.fixture_env())
    try:
        lib.wait_for_file(proc, info_path, "many_codes.py", log_path)
        info = lib.load_truth(info_path)
        out = os.path.join(workdir, "codes.folded")
        result, summary = record(["--pid", str(proc.pid), "--rate", "1000", "--duration", "3",
                                  "-o", out])
        print("%s: %d samples, %d errors, %.1f samples/s%s" % (
            label, summary.samples, summary.errors, summary.rate, summary.extra))
        check(summary.errors == 0 and result.code == 0, "%d errors in %d samples, expected "
              "none: %s", summary.errors, summary.samples, result.describe())
        # 1 kHz is not always sustained on a loaded two-core machine.
        check(summary.samples >= 100, "%d samples in 3 s at 1 kHz: %s", summary.samples,
              result.describe())
        stacks = read_folded(out)
        for frames, count in stacks:
            check_many_codes_stack(frames, info, label)
        deep = sum(count for frames, count in stacks if len(frames) == 4 + info["depth"])
        in_once = sum(count for frames, count in stacks if len(frames) >= 4)
        check(in_once >= 0.2 * total(stacks) and deep > 0, "%s: %d of %d samples in the one-off "
              "functions, %d of them %d deep: the fixture did not run as it should", label,
              in_once, total(stacks), deep, info["depth"])
        check_left_running(proc)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
