# Benchmarks of what `record` costs the program it watches: the time of a fixed
# workload (fixtures/python/deep_threads.py, 4 threads 50 frames deep) with and
# without a profiler attached at 100 Hz, runs alternating in one process, beside
# the machine's two floors: bench/tick_floor.c, a process that only wakes 100
# times a second, and bench/freeze_floor.c, one that also stops the running
# threads each time and lets them go, reading nothing (about the least a
# freeze-mode sampler costs here). Also the same beside CPython 3.15's own
# sampler on a 3.15 target. Figures only.
import math
import os
import random
import re
import select
import signal
import statistics
import subprocess
import time

from bench_record import (CPYTHON_CAPTURED, DEPTH, SUMMARY, THREADS, Target, build_helper,
                          debian_python, fixture, load_note, pyenv_python, pyenv_root,
                          python_version, run)

GOAL_PCT = 1.0
RATE_HZ = 100
WORK_SECONDS = 0.6    # one run of the workload, alone
# The goal's measurement runs rounds (alone, profiled, each floor) for at most
# BUDGET_SECONDS, looking at the interval every STEP rounds from MIN_ROUNDS
# on and stopping early once it is clear of the goal. So that looking again
# and again does not make a wrong verdict likely, each look's interval is as
# wide as O'Brien and Fleming's rule has it: z = FINAL_Z * sqrt(planned /
# rounds so far), very wide at first, about 95 % at the last look.
# PYCOREPROF_BENCH_SLOWDOWN_SECONDS sets another budget: the interval
# narrows as the square root of it.
MIN_ROUNDS = 40
STEP = 10
BUDGET_SECONDS = float(os.environ.get("PYCOREPROF_BENCH_SLOWDOWN_SECONDS", "600"))
FINAL_Z = 2.0
MIN_TAIL = 20         # bootstrap resamples beyond each end of an interval, at least
BESIDE_ROUNDS = 30    # rounds of the side-by-side on 3.15, a fixed number
SETTLE_SECONDS = 1.0  # for a sampler that says nothing once attached
FLOOR_PAUSE = re.compile(r"pause median ([\d.]+) us$", re.M)   # freeze_floor's last line


class Server(Target):
    """deep_threads.py serve ITERATIONS: one process whose threads wait 50
    deep and run the same fixed work each time they are asked. Runs of one
    process differ less than runs of separate processes (each process has
    its own address layout, and with it its own speed)."""

    def __init__(self, bench, python, iterations, parked=0):
        Target.__init__(self, bench, python, "serve", [str(iterations)], reads_stdin=True,
                        parked=parked)

    def work(self):
        """Run the work once: (wall, cpu) seconds, as the fixture timed them."""
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.read_line(120)
        match = re.match(r"elapsed ([\d.]+) cpu ([\d.]+)$", line)
        if not match:
            raise RuntimeError("the fixture answered %r" % line)
        return float(match.group(1)), float(match.group(2))


class Attached(object):
    """A profiler attached to the server for one run of the work: started
    before it, and after it stopped with SIGINT or, for one that does not
    heed SIGINT while it samples, left to end after DURATION seconds."""

    def __init__(self, name, argv, bench, ready_text=None, duration=None, ok_codes=(0, 1)):
        self.name = name
        self.ok_codes = ok_codes   # 1 (ours, py-spy): a partial result, still a profile
        self.argv = argv
        self.bench = bench
        self.ready_text = ready_text   # printed on stderr once it samples; else wait
        self.duration = duration

    def start(self):
        proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.bench.env)
        early = b""
        if self.ready_text:
            deadline = time.time() + 30
            while self.ready_text.encode() not in early and time.time() < deadline:
                ready, _, _ = select.select([proc.stderr], [], [], 1)
                chunk = os.read(proc.stderr.fileno(), 4096) if ready else b""
                if ready and not chunk:
                    break   # it exited
                early += chunk
            if self.ready_text.encode() not in early:
                self.kill(proc)
                raise RuntimeError("%s did not start: %s" % (self.name, early[-300:]))
        else:
            time.sleep(SETTLE_SECONDS)
        return proc, early

    def kill(self, proc):
        proc.kill()   # the kernel detaches a killed tracer
        proc.communicate()

    def finish(self, started):
        """Stop it, or wait for its end; return its stdout and stderr."""
        proc, early = started
        if self.duration is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60 + (self.duration or 0))
        except subprocess.TimeoutExpired:
            self.kill(proc)
            raise RuntimeError("%s did not end within 60 s" % self.name)
        err = (early + err).decode("utf-8", "replace")
        out = out.decode("utf-8", "replace")
        if proc.returncode not in self.ok_codes:
            raise RuntimeError("%s exited %d: %s" % (self.name, proc.returncode, err[-300:]))
        return out, err


def pycoreprof_arm(bench, pid, name):
    output = os.path.join(bench.tmpdir, "slowdown-%s.folded" % name)
    return Attached("pycoreprof record", [bench.binary, "record", "--pid", str(pid), "--rate",
                                          str(RATE_HZ), "-o", output], bench,
                    ready_text="Ctrl-C to stop.")


def floor_arm(bench):
    """The floor of waking: bench/tick_floor.c, built into the scratch
    directory."""
    binary, why = build_helper(bench, "tick_floor")
    if not binary:
        raise RuntimeError(why)
    return Attached("a process waking %d times a second" % RATE_HZ, [binary, str(RATE_HZ)],
                    bench, ready_text="Ctrl-C to stop.")


def freeze_floor_arm(bench, pid):
    """The floor of freezing: bench/freeze_floor.c, which stops PID's
    running threads RATE_HZ times a second and reads nothing."""
    binary, why = build_helper(bench, "freeze_floor")
    if not binary:
        raise RuntimeError(why)
    return Attached("stopping the running threads %d times a second, reading nothing" % RATE_HZ,
                    [binary, str(pid), str(RATE_HZ)], bench, ready_text="Ctrl-C to stop.")


def cpython_arm(bench, python, pid, blocking, work_seconds):
    """CPython 3.15's sampler, all threads, at RATE_HZ. It does not heed
    SIGINT while it samples, so it samples for long enough to cover the
    settling time and a run of WORK_SECONDS, twice over."""
    output = os.path.join(bench.tmpdir, "slowdown-cpython-%s.collapsed" % blocking)
    duration = int(math.ceil(SETTLE_SECONDS + 2 * work_seconds))   # whole seconds only
    argv = [python, "-m", "profiling.sampling", "attach", "-a", "-r", str(RATE_HZ),
            "-d", str(duration), "--collapsed", "-o", output, str(pid)]
    if blocking:
        argv.insert(argv.index("-a"), "--blocking")
    name = "python3.15 -m profiling.sampling%s" % (" --blocking" if blocking else "")
    return Attached(name, argv, bench, duration=duration)


def run_once(server, arm):
    """One run of the work under ARM (None: alone): ((wall, cpu), what the
    profiler printed or None)."""
    if arm is None:
        return server.work(), None
    started = arm.start()
    try:
        seconds = server.work()
    except BaseException:
        arm.kill(started[0])
        raise
    return seconds, arm.finish(started)


def calibrate(bench, python):
    """(iterations that take about WORK_SECONDS alone on PYTHON, and the
    seconds they took)."""
    probe = 2000000
    best = None
    for _ in range(3):
        code, out, err = run([python, fixture(bench), "workload", str(probe)], bench.env, 120)
        match = re.search(r"^elapsed ([\d.]+) cpu", out, re.M)
        if code != 0 or not match:
            raise RuntimeError("the workload exited %d: %s" % (code, (err or out)[-300:]))
        best = min(best or 1e9, float(match.group(1)))
    iterations = max(probe, int(probe * WORK_SECONDS / max(best, 1e-3)) // 8000 * 8000)
    return iterations, best * iterations / probe


def percent_more(slower, faster):
    return 100.0 * (slower / faster - 1.0)


def mean_interval(values, level, rounds=2000):
    """A confidence interval of the mean of VALUES at LEVEL: a bootstrap,
    resampled with replacement ROUNDS times (seeded: the same figures give
    the same interval), or, for a level whose tails hold fewer than
    MIN_TAIL of those resamples, the normal one (mean +- z standard
    errors), which the bootstrap's extremes would understate."""
    tail = rounds * (1 - level) / 2
    if tail < MIN_TAIL:
        z = statistics.NormalDist().inv_cdf(1 - (1 - level) / 2)
        spread = z * statistics.stdev(values) / math.sqrt(len(values))
        middle = statistics.mean(values)
        return middle - spread, middle + spread
    draw = random.Random(1)
    means = sorted(statistics.mean(draw.choice(values) for _ in values) for _ in range(rounds))
    cut = int(tail)
    return means[cut], means[rounds - 1 - cut]


class Rounds(object):
    """Rounds of the work, each run alone and under every arm, in an order
    rotated from round to round so that drift hits every arm alike."""

    def __init__(self, server, arms):
        self.server = server
        self.arms = arms
        self.clear()

    def clear(self):
        self.alone = []                         # (wall, cpu) per round
        self.under = [[] for _ in self.arms]    # (wall, cpu) per round, per arm
        self.printed = [[] for _ in self.arms]  # (stdout, stderr) per round, per arm

    def run(self, count):
        for _ in range(count):
            slots = [None] + list(range(len(self.arms)))
            turn = len(self.alone) % len(slots)
            results = {}
            for slot in slots[turn:] + slots[:turn]:
                arm = None if slot is None else self.arms[slot]
                results[slot] = run_once(self.server, arm)
            self.alone.append(results[None][0])
            for slot in range(len(self.arms)):
                self.under[slot].append(results[slot][0])
                self.printed[slot].append(results[slot][1])

    def ratios(self, slot, field=0):
        """Per round, how much longer the work took under arm SLOT than
        alone, in percent (FIELD 0: wall time, 1: CPU time)."""
        return [percent_more(under[field], alone[field])
                for alone, under in zip(self.alone, self.under[slot])]

    def beyond(self, slot, floor):
        """Per round, arm SLOT's slowdown less arm FLOOR's, in points."""
        return [ours - theirs for ours, theirs in zip(self.ratios(slot), self.ratios(floor))]

    def warm_up(self):
        """One round whose figures are dropped."""
        self.run(1)
        self.clear()


def our_summaries(rounds, slot):
    """record's summary of each round as (samples, rate, pause median in us,
    stopped seconds), from its last line."""
    found = []
    for _, err in rounds.printed[slot]:
        match = SUMMARY.search(err)
        if not match:
            raise RuntimeError("no summary from record: %s" % err[-300:])
        samples, rate = int(match.group(1)), float(match.group(3))
        stopped = float(match.group(7)) / 100.0 * samples / rate if match.group(7) and rate else 0.0
        found.append((samples, rate, int(match.group(4) or 0), stopped))
    return found


def report_ours(bench, rounds, slot, floors, label, goal=None, level=0.95):
    """Our rows: the slowdown under arm SLOT (judged against GOAL with a
    LEVEL interval), and beside each floor, the arms FLOORS."""
    ratios = rounds.ratios(slot)
    summaries = our_summaries(rounds, slot)
    walls = [wall for wall, _ in rounds.under[slot]]
    # The share of the work's time the process spent stopped, run by run.
    stopped = [100.0 * s[3] / wall for s, wall in zip(summaries, walls)]
    bench.ours("%s slowdown at %d Hz, mean of per-round ratios" % (label, RATE_HZ),
               statistics.mean(ratios), "%", goal, interval=mean_interval(ratios, level),
               level=level)
    bench.ours("%s slowdown, median of per-round ratios" % label, statistics.median(ratios), "%")
    for floor in floors:
        floor_ratios = rounds.ratios(floor)
        bench.ours("%s the floor's slowdown (%s), mean" % (label, rounds.arms[floor].name),
                   statistics.mean(floor_ratios), "%", interval=mean_interval(floor_ratios, 0.95))
        beyond = rounds.beyond(slot, floor)
        bench.ours("%s slowdown beyond that floor, mean of per-round differences" % label,
                   statistics.mean(beyond), "points", interval=mean_interval(beyond, 0.95))
        floor_pauses = [float(match.group(1)) for match in
                        (FLOOR_PAUSE.search(err) for _, err in rounds.printed[floor]) if match]
        if floor_pauses:
            bench.ours("%s that floor's pause median, median over the runs" % label,
                       statistics.median(floor_pauses), "us")
    bench.ours("%s target CPU time, mean of per-round ratios" % label,
               statistics.mean(rounds.ratios(slot, 1)), "%")
    bench.ours("%s share of the work's time stopped (sum of pauses; the slowdown is at "
               "least this)" % label, statistics.median(stopped), "%")
    bench.ours("%s pause median during these runs" % label,
               statistics.median(s[2] for s in summaries), "us")
    return summaries


def noise_note(bench, rounds, python, iterations):
    walls = sorted(wall for wall, _ in rounds.alone)
    middle = statistics.median(walls)
    spread = 100.0 * (walls[(3 * len(walls)) // 4] - walls[len(walls) // 4]) / middle
    bench.note("%s, %d iterations (%.0f ms alone, median), %d rounds; the runs alone spread "
               "over %.1f%% of their median between quartiles"
               % (python_version(python), iterations, 1000 * middle, len(rounds.alone), spread))


def bench_slowdown(bench):
    bench.describe("target slowdown: a fixed workload (%d threads %d deep) run alone and with "
                   "record --pid --rate %d (freeze mode) attached, and with each floor (a process "
                   "that only wakes as often; one that also stops the running threads and lets "
                   "them go, reading nothing), in turn in one process" % (THREADS, DEPTH, RATE_HZ))
    python = pyenv_python(12)
    if not python:
        bench.skip("no CPython 3.12 under %s/versions (pyenv install 3.12)" % pyenv_root())
    load_note(bench)
    iterations, _ = calibrate(bench, python)
    with Server(bench, python, iterations) as server:
        rounds = Rounds(server, [pycoreprof_arm(bench, server.pid, "3.12"), floor_arm(bench),
                                 freeze_floor_arm(bench, server.pid)])
        rounds.warm_up()
        started = time.time()
        rounds.run(MIN_ROUNDS)
        per_round = (time.time() - started) / MIN_ROUNDS
        planned = max(MIN_ROUNDS, int(BUDGET_SECONDS / per_round) // STEP * STEP)
        while True:
            done = len(rounds.alone)
            last = done >= planned or time.time() - started + STEP * per_round > BUDGET_SECONDS
            z = FINAL_Z if last else FINAL_Z * math.sqrt(planned / float(done))
            level = math.erf(z / math.sqrt(2))
            low, high = mean_interval(rounds.ratios(0), level)
            if last or high <= GOAL_PCT or low > GOAL_PCT:
                break
            rounds.run(STEP)
    noise_note(bench, rounds, python, iterations)
    bench.note("%d of %d planned rounds (%.1f s each), %s; the profiler attaches before each "
               "profiled run and detaches after it, outside the time measured"
               % (done, planned, per_round, "all of them" if last else
                  "stopped early: the interval (z = %.2f) was clear of the goal" % z))
    summaries = report_ours(bench, rounds, 0, [1, 2], "3.12", GOAL_PCT, level)
    bench.note("%d samples taken during the profiled runs" % sum(s[0] for s in summaries))


def bench_slowdown_beside_cpython(bench):
    bench.describe("target slowdown on a 3.15 target, side by side: record --rate %d (freeze), "
                   "CPython 3.15's sampler at %d Hz with --blocking (it stops the threads too) "
                   "and without, and both floors, each attached for one run of the work, %d rounds"
                   % (RATE_HZ, RATE_HZ, BESIDE_ROUNDS))
    python, why = debian_python(bench, "3.15")
    if not python:
        bench.skip("no python3.15: %s" % why)
    load_note(bench)
    iterations, seconds = calibrate(bench, python)
    with Server(bench, python, iterations) as server:
        arms = [pycoreprof_arm(bench, server.pid, "3.15"),
                cpython_arm(bench, python, server.pid, True, seconds),
                cpython_arm(bench, python, server.pid, False, seconds), floor_arm(bench),
                freeze_floor_arm(bench, server.pid)]
        rounds = Rounds(server, arms)
        rounds.warm_up()
        rounds.run(BESIDE_ROUNDS)
    noise_note(bench, rounds, python, iterations)
    bench.note("CPython's sampler says nothing once attached and does not stop on SIGINT: it "
               "is given %.1f s to attach before each run and samples for %d s, which "
               "covers the run" % (SETTLE_SECONDS, arms[1].duration))
    report_ours(bench, rounds, 0, [3, 4], "3.15")
    for slot in (1, 2):
        captured = [CPYTHON_CAPTURED.search(out + err) for out, err in rounds.printed[slot]]
        rates = [int(m.group(1)) / float(m.group(2)) for m in captured if m]
        ratios = rounds.ratios(slot)
        low, high = mean_interval(ratios, 0.95)
        beyond = rounds.beyond(slot, 3)
        beyond_freeze = rounds.beyond(slot, 4)
        bench.reference("%s: slowdown (95%% CI %.2f to %.2f %%; beyond the floors %.2f and %.2f "
                        "points), %.0f samples/s"
                        % (arms[slot].name, low, high, statistics.mean(beyond),
                           statistics.mean(beyond_freeze), statistics.median(rates) if rates else 0),
                        statistics.mean(ratios), "%", compare=False)
