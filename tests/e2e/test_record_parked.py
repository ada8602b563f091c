# `pycoreprof record` on a process with hundreds of threads parked on an
# Event and two spinning: the spinners get their shares, the parked threads
# their exact stacks (--idle), and the pause stays that of a few threads.
import os

import lib
from lib import check
from test_record import PAUSES, check_success, read_folded, record

MANY_PARKED = os.path.join(lib.FIXTURES, "many_parked.py")
PARKED = 300
SPINNERS = ("spin_alpha", "spin_beta")
# The pause of a sample of the two spinners alone is some 100-300 us on a
# quiet machine, and stopping every parked thread took 7-8 ms (300 stops):
# a median under 1 ms, or under 5 times that of the same process without
# its parked threads recorded just before (on a loaded machine every pause
# stretches), tells them apart.
MAX_PAUSE_MEDIAN_US = 1000
BASELINE_FACTOR = 5
# 2.7's thread states do not link back: the thread list cannot be checked in
# part, and is read whole in each pause, which then grows with the threads.
PAUSE_BOUND_FROM = (3, 0)


class ManyParked(lib.Process):
    def __init__(self, label, parked=PARKED):
        workdir = lib.scratch("parked")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [MANY_PARKED, self.truth_path, str(parked)], workdir=workdir,
                             ready=self.truth_path, timeout=150)

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)


def same_frame(frame, truth):
    """Whether a folded frame is the fixture's frame TRUTH: its qualified
    name (or, before 3.11, a name ending in the function's), its file (the
    standard library's named relative to it) and its line."""
    name = truth.get("qualname", truth["function"])
    named = frame.name == name or frame.name.split(".")[-1] == truth["function"]
    placed = frame.file == truth["file"] or truth["file"].endswith(os.sep + frame.file)
    return frame.kind == "python" and named and placed and frame.line == truth["line"]


def describe(frames):
    return ";".join(frame.text for frame in frames)


def pause_median(summary, result, what):
    match = PAUSES.search(summary.extra)
    check(match, "%s: no pause figures in the summary: %s", what, result.describe())
    return int(match.group("median"))


def baseline_pause(label):
    """The pause median of the fixture with its two spinners only."""
    with ManyParked(label, parked=0) as fixture:
        result, summary = record(["--pid", str(fixture.pid), "--rate", "100", "--duration", "2", "--idle",
                                  "-o", fixture.path("baseline.folded")])
        check_success(result, summary)
        return pause_median(summary, result, "two threads")


def pause_within(label, baseline, summary, result, what):
    """None when the pause median is within its bound, else why not."""
    median = pause_median(summary, result, what)
    bound = max(MAX_PAUSE_MEDIAN_US, BASELINE_FACTOR * baseline)
    if lib.label_version(label) < PAUSE_BOUND_FROM or median < bound:
        return None
    return ("%s: pause median %d us with %d parked threads, expected under %d us (%d us with "
            "none): %s" % (what, median, PARKED, bound, baseline, summary.extra))


def spinner_cpu(fixture):
    """Each spinner's CPU time so far, in clock ticks (utime + stime of its
    /proc/PID/task/TID/stat): what it really ran, the share's ground truth."""
    ticks = {}
    for name, spinner in fixture.truth["spinners"].items():
        with open("/proc/%d/task/%d/stat" % (fixture.pid, spinner["tid"])) as source:
            fields = source.read().rsplit(")", 1)[1].split()
        ticks[name] = int(fields[11]) + int(fields[12])
    return ticks


def record_checked(label, fixture, args, what, check_output):
    """Record FIXTURE with ARGS and CHECK_OUTPUT(result, summary, stacks) each
    time; a pause median over its bound is measured again (up to 3 times:
    another program's burst on a 2-CPU machine stretches every pause it
    overlaps), the rest must hold every time."""
    for attempt in range(3):
        baseline = baseline_pause(label)
        out = fixture.path("%s-%d.folded" % (what.strip("-").replace(" ", "-"), attempt))
        before = spinner_cpu(fixture)
        result, summary = record(args + ["-o", out])
        after = spinner_cpu(fixture)
        fixture.spun = dict((name, after[name] - before[name]) for name in after)
        check_success(result, summary)
        check_output(result, summary, read_folded(out))
        failure = pause_within(label, baseline, summary, result, what)
        if failure is None:
            return
        print("attempt %d: %s" % (attempt + 1, failure))
    raise lib.Failure(failure)


def spinner_counts(stacks, truth):
    counts = dict((name, 0) for name in SPINNERS)
    for frames, count in stacks:
        for name in SPINNERS:
            function = truth["spinners"][name]["function"]
            if any(frame.kind == "python" and frame.name == function["qualname"] and
                   frame.file == function["file"] for frame in frames):
                counts[name] += count
    return counts


@lib.each_interpreter
def test_record_parked(label):
    with ManyParked(label) as fixture:
        truth = fixture.truth
        base = ["--pid", str(fixture.pid), "--rate", "100", "--duration", "2", "--threads"]
        parked_tids = set(thread["tid"] for thread in truth["parked"])

        # Without --idle: only the spinners, each in a sane share of the
        # samples (one holds the GIL, the other mostly waits for it).
        def running(result, summary, stacks):
            counts = spinner_counts(stacks, truth)
            print("without --idle: %d samples, %s, %s" % (summary.samples, counts, summary.extra))
            # Each spinner in a sane share of the samples, unless it ran
            # little while recorded (an unfair GIL, 2.7's, may let one run
            # far more than the other): then it must still be seen.
            spun = sum(fixture.spun.values())
            for name in SPINNERS:
                cpu_share = fixture.spun[name] / float(spun) if spun else 1.0
                least = 0.1 * summary.samples if cpu_share >= 0.2 else min(1, fixture.spun[name])
                check(counts[name] >= least, "without --idle: %s in %d of %d samples (it had %d of the "
                      "spinners' %d CPU ticks)", name, counts[name], summary.samples, fixture.spun[name], spun)
            check(sum(counts.values()) >= 0.6 * summary.samples, "without --idle: the spinners in %s "
                  "of %d samples", counts, summary.samples)
            for frames, count in stacks:
                check(frames[0].id not in parked_tids, "without --idle: the parked thread %d counted: "
                      "%s", frames[0].id, describe(frames))
        record_checked(label, fixture, base, "without --idle", running)

        # With --idle: every thread in every sample, each parked one with
        # exactly the stack it recorded, and the spinners in (nearly) every
        # sample.
        def idle(result, summary, stacks):
            counts = spinner_counts(stacks, truth)
            print("--idle: %d samples, %s, %s" % (summary.samples, counts, summary.extra))
            for name in SPINNERS:
                check(counts[name] >= 0.9 * summary.samples, "--idle: %s in %d of %d samples", name,
                      counts[name], summary.samples)
            by_tid = {}
            for frames, count in stacks:
                by_tid.setdefault(frames[0].id, []).append((frames, count))
            for thread in truth["parked"]:
                found = by_tid.get(thread["tid"])
                check(found, "--idle: parked thread %d missing (threads seen: %d)", thread["tid"],
                      len(by_tid))
                expected = list(reversed(thread["frames"]))
                total = 0
                for frames, count in found:
                    python = [frame for frame in frames[1:] if frame.kind == "python"]
                    check(len(python) == len(expected) and
                          all(same_frame(frame, want) for frame, want in zip(python, expected)),
                          "--idle: parked thread %d recorded as %s, expected %s", thread["tid"],
                          describe(python), ";".join("%s (%s:%s)" % (want.get("qualname", want["function"]),
                                                                     want["file"], want["line"])
                                                     for want in expected))
                    total += count
                # Left out of a sample only when it woke around the pause,
                # which a parked thread does not.
                check(total >= summary.samples - summary.errors, "--idle: parked thread %d in %d of %d "
                      "samples", thread["tid"], total, summary.samples)
        record_checked(label, fixture, base + ["--idle"], "--idle", idle)
