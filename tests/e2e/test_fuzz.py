# The input readers fuzzed under the sanitizer build: tests/tools/fuzz_readers
# reads each file of fixtures/fuzz/READER/ (seeds and every input that ever
# failed, kept as regress-*), then a fixed number of mutants of them from a
# fixed seed, so every run reads the same inputs. A run passes when it ends
# with exit 0 and no sanitizer report; one that fails leaves the input it
# stopped on in its scratch directory, to be kept as a regress-* file.
import os

import lib
from lib import check

FUZZ = os.path.join(lib.REPO, "fixtures", "fuzz")
SANITIZER_MARKS = ("Sanitizer", "runtime error:", "SUMMARY:", "==ERROR")
# Mutants per reader: a few seconds each under the sanitizers.
COUNTS = {"folded": 3000, "json": 3000, "speedscope": 3000, "pprof": 3000, "core": 2000,
          "archive": 2000}
SEED = 15


def fuzzer():
    path = os.path.join(os.path.dirname(lib.asan_pycoreprof()), "tests", "tools", "fuzz_readers")
    if not os.access(path, os.X_OK):
        raise lib.Missing("%s not found: run make SANITIZE=address,undefined" % path)
    return path


@lib.each(lambda: sorted(COUNTS))
def test_fuzz_reader(reader):
    scratch = lib.scratch("fuzz-" + reader)
    argv = [fuzzer(), reader, os.path.join(FUZZ, reader), scratch, str(COUNTS[reader]), str(SEED)]
    env = dict(lib.SANITIZER_ENV, TMPDIR=scratch)
    result = lib.run(argv, timeout=120, env=env)
    stderr = result.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        check(mark not in stderr, "sanitizer report on %s: %s",
              os.path.join(scratch, "current"), result.describe())
    check(result.code == 0, "expected exit 0 (the input is %s): %s",
          os.path.join(scratch, "current"), result.describe())
    summary = result.text()
    check(summary.startswith(reader + ": %d inputs" % (
        COUNTS[reader] + len(os.listdir(os.path.join(FUZZ, reader))))),
        "unexpected summary: %r", summary)


@lib.each(lambda: [reader + "/" + name for reader in ("folded", "json", "speedscope", "pprof")
                   for name in sorted(os.listdir(os.path.join(FUZZ, reader)))
                   if name.startswith("regress-")])
def test_regression_through_commands(case):
    """`convert` and `flamegraph` on each input that once failed a reader
    (READER/NAME): exit 0, or exit 2 with one line on stderr; never a
    sanitizer report."""
    path = os.path.join(FUZZ, case)
    name = os.path.basename(case)
    out = lib.scratch("regress-" + name)
    for args in (["convert", path, "-o", os.path.join(out, "p.json")],
                 ["flamegraph", path, "-o", os.path.join(out, "p.svg")]):
        result = lib.run_pycoreprof(args, asan=True)
        stderr = result.stderr.decode("utf-8", "replace")
        for mark in SANITIZER_MARKS:
            check(mark not in stderr, "sanitizer report: %s", result.describe())
        check(result.code in (0, 2), "expected exit 0 or 2: %s", result.describe())
        if result.code == 2:
            check(len(stderr.strip("\n").split("\n")) == 1,
                  "expected one line on stderr: %s", result.describe())
