#!/usr/bin/env python3
# The benchmark runner behind `make bench`: runs the bench_* functions of every
# bench/bench_*.py and prints, for each, our figures against their goals and the
# reference tools measured in the same run. Figures only: nothing here fails on time.
import argparse
import fnmatch
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
REFERENCE_HEADER = "reference, measured in this run"


class Skip(Exception):
    """The benchmark cannot run here (something it needs is missing)."""


class Timing(object):
    """Repeated runs of one command: wall times in seconds, and the output
    and exit status of the last run."""

    def __init__(self, argv):
        self.argv = argv
        self.seconds = []
        self.returncode = None
        self.stdout = ""
        self.stderr = ""

    @property
    def median_ms(self):
        return statistics.median(self.seconds) * 1000.0



def run_once(argv, env=None, cwd=None):
    """Run ARGV once; return (seconds, exit code, stdout, stderr). Output
    goes to files, not pipes, so no tool waits on us while timed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, env=env, cwd=cwd)
        _, status = os.waitpid(proc.pid, 0)
        seconds = time.perf_counter() - start
        if os.WIFSIGNALED(status):
            proc.returncode = -os.WTERMSIG(status)
        else:
            proc.returncode = os.WEXITSTATUS(status)
        out.seek(0)
        err.seek(0)
        return (seconds, proc.returncode,
                out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"))


def fmt(value, unit):
    if value is None:
        return "-"
    if value >= 100:
        text = "%.0f" % value
    elif value >= 10:
        text = "%.1f" % value
    else:
        text = "%.2f" % value
    return "%s %s" % (text, unit) if unit else text


class Bench(object):
    """What a bench_* function gets: where things are, a scratch directory,
    a timer, and the table it fills. The first figure given a goal is the
    one references are compared with."""

    def __init__(self, name, args):
        self.name = name
        self.build = os.path.abspath(args.build)
        self.binary = os.path.join(self.build, "pycoreprof")
        self.repeat = args.repeat
        self.repo = REPO
        self.tmpdir = tempfile.mkdtemp(prefix="pycoreprof-bench-")
        self.title = name
        self.ours_rows = []      # (what, value, unit, goal, interval)
        self.reference_rows = []  # (tool, value, unit, missing)
        self.notes = []
        self.env = dict(os.environ, LC_ALL="C", DEBUGINFOD_URLS="")

    # -- for bench functions

    def describe(self, title):
        self.title = title
        print("   " + title)
        sys.stdout.flush()

    def note(self, text):
        self.notes.append(text)
        print("   " + text)
        sys.stdout.flush()

    def skip(self, reason):
        raise Skip(reason)

    def time(self, argv, repeat=None, warmup=1, cwd=None):
        """Run ARGV WARMUP times untimed, then REPEAT times timed."""
        repeat = repeat or self.repeat
        timing = Timing(argv)
        for _ in range(warmup):
            run_once(argv, env=self.env, cwd=cwd)
        for _ in range(repeat):
            seconds, code, out, err = run_once(argv, env=self.env, cwd=cwd)
            timing.seconds.append(seconds)
            timing.returncode, timing.stdout, timing.stderr = code, out, err
        return timing

    def peak_rss_mib(self, argv):
        """Peak RSS of one run of ARGV in MiB, or None without GNU time.
        Measured through GNU time, a small C program: a child this Python
        runner spawns by vfork would carry the runner's high-water RSS
        through exec into its own getrusage figure."""
        gnu_time = shutil.which("time")
        if not gnu_time:
            return None
        report = os.path.join(self.tmpdir, "peak-rss")
        _, code, _, err = run_once([gnu_time, "-f", "%M", "-o", report] + argv,
                                      env=self.env)
        if code != 0:
            raise RuntimeError("%s exited %d: %s" % (" ".join(argv), code, err))
        with open(report) as f:
            words = f.read().split()
        if not words or not words[-1].isdigit():
            return None  # not GNU time
        return int(words[-1]) / 1024.0

    def ours(self, what, value, unit, goal=None, interval=None, level=0.95):
        """A figure of ours, judged against GOAL when given. INTERVAL (low,
        high), a confidence interval at LEVEL around VALUE: the goal is met
        only when all of it is within the goal, missed when none of it is,
        and else not resolved by this measurement."""
        if interval:
            what = "%s (%g%% CI %s to %s)" % (what, 100 * level, fmt(interval[0], unit),
                                            fmt(interval[1], unit))
        self.ours_rows.append((what, value, unit, goal, interval))

    def reference(self, tool, value=None, unit="ms", missing=None, compare=True):
        """A reference tool's figure; COMPARE False when "N times faster"
        does not fit the unit (a slowdown in percent)."""
        self.reference_rows.append((tool, value, unit, missing, compare))

    # -- for the runner

    def primary(self):
        for row in self.ours_rows:
            if row[3] is not None:
                return row
        return self.ours_rows[0] if self.ours_rows else None

    def print_table(self):
        width = max([len(r[0]) for r in self.ours_rows + self.reference_rows]
                    + [len(REFERENCE_HEADER)])
        print("   %-*s  %12s  %10s  %7s" % (width, "measured", "figure", "goal", "ratio"))
        for what, value, unit, goal, _ in self.ours_rows:
            ratio = "%.2f" % (value / goal) if goal else "-"
            print("   %-*s  %12s  %10s  %7s" % (width, what, fmt(value, unit),
                                               fmt(goal, unit), ratio))
        primary = self.primary()
        if self.reference_rows:
            print("   %-*s  %12s  %s" % (width, REFERENCE_HEADER,
                                         "figure", "ours is"))
        for tool, value, unit, missing, compare in self.reference_rows:
            if missing:
                print("   %-*s  %12s  %s" % (width, tool, "missing", missing))
                continue
            speed = "-"
            if compare and primary and primary[2] == unit and primary[1] > 0:
                factor = value / primary[1]
                speed = ("%.1fx faster" % factor if factor >= 1
                         else "%.2fx as fast (slower)" % factor)
            print("   %-*s  %12s  %s" % (width, tool, fmt(value, unit), speed))
        sys.stdout.flush()

    def cleanup(self, keep):
        if keep:
            print("   kept %s" % self.tmpdir)
        else:
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def collect(pattern):
    sys.dont_write_bytecode = True  # leave no __pycache__ in the tree
    sys.path.insert(0, BENCH)
    found = []
    for entry in sorted(os.listdir(BENCH)):
        if not (entry.startswith("bench_") and entry.endswith(".py")):
            continue
        module = importlib.import_module(entry[:-3])
        functions = [value for key, value in vars(module).items()
                     if key.startswith("bench_") and callable(value)
                     and getattr(value, "__module__", None) == module.__name__]
        functions.sort(key=lambda f: f.__code__.co_firstlineno)
        for function in functions:
            name = "%s.%s" % (module.__name__[len("bench_"):], function.__name__)
            if pattern and pattern not in name and not fnmatch.fnmatch(name, pattern):
                continue
            found.append((name, function))
    return found


def main():
    parser = argparse.ArgumentParser(
        description="Run the benchmarks in bench/ and print figures against goals.")
    parser.add_argument("--build", default="build",
                        help="build directory holding pycoreprof (default: build)")
    parser.add_argument("-k", dest="pattern",
                        help="run only benchmarks whose name contains (or glob-matches) this")
    parser.add_argument("--repeat", type=int, default=15,
                        help="timed runs per fast command (default 15)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the scratch directories (they may hold large cores)")
    args = parser.parse_args()

    binary = os.path.join(args.build, "pycoreprof")
    if not os.access(binary, os.X_OK):
        print("bench: no %s; run make first" % binary, file=sys.stderr)
        return 2
    benches = collect(args.pattern)
    if not benches:
        print("bench: no benchmark matches %r" % args.pattern, file=sys.stderr)
        return 64

    results = []  # (name, outcome, bench or reason)
    for name, function in benches:
        bench = Bench(name, args)
        print("== " + name)
        sys.stdout.flush()
        try:
            function(bench)
        except Skip as skip:
            print("   skipped: %s" % skip)
            results.append((name, "skipped", str(skip)))
        except Exception:
            print("   CRASHED:")
            for line in traceback.format_exc().rstrip().splitlines():
                print("   | " + line)
            results.append((name, "crashed", None))
        else:
            bench.print_table()
            results.append((name, "ran", bench))
        finally:
            bench.cleanup(args.keep)
        print()

    print("summary")
    verdicts = {"met": 0, "missed": 0, "not resolved": 0}
    for name, outcome, detail in results:
        if outcome != "ran":
            print("   %-24s %s%s" % (name, outcome, ": " + detail if detail else ""))
            continue
        for what, value, unit, goal, interval in detail.ours_rows:
            if goal is None:
                continue
            low, high = interval or (value, value)
            verdict = "met" if high <= goal else "missed" if low > goal else "not resolved"
            verdicts[verdict] += 1
            print("   %-24s %s: %s, goal %s, ratio %.2f (%s)" % (
                name, what, fmt(value, unit), fmt(goal, unit), value / goal, verdict))
    counts = {}
    for _, outcome, _ in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    print("%d ran, %d skipped, %d crashed; goals: %d met, %d missed, %d not resolved by "
          "the measurement" % (counts.get("ran", 0), counts.get("skipped", 0),
                               counts.get("crashed", 0), verdicts["met"], verdicts["missed"],
                               verdicts["not resolved"]))
    return 1 if counts.get("crashed") else 0


if __name__ == "__main__":
    sys.exit(main())
