# Line numbers: the line-table decoders agree with the interpreter's own
# PyCode_Addr2Line at every instruction offset of every code object of several
# standard-library modules, for each interpreter (all table formats: 2.7 and
# 3.6-3.9 lnotab, 3.10 linetable, 3.11+ location table).
import os
import re
import subprocess

from lib import REPO, Failure, check, each_interpreter, each_interpreter_from, interpreter, _build_dir


def run_check(label, *args):
    """linetable_check over linetable_dump.py ARGS run by LABEL."""
    python = interpreter(label)
    checker = os.path.join(_build_dir("PYCOREPROF_TEST_BUILD", "build"), "tests", "tools", "linetable_check")
    check(os.access(checker, os.X_OK), "%s not built: run make unit", checker)
    dump = subprocess.Popen([python, os.path.join(REPO, "tests", "e2e", "linetable_dump.py")] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = subprocess.run([checker], stdin=dump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=120)
    dump.stdout.close()
    dump_err = dump.stderr.read().decode("utf-8", "replace")
    dump.wait(timeout=60)
    check(dump.returncode == 0, "%s could not dump its line tables: %s", label, dump_err[-1000:])
    summary = result.stdout.decode("utf-8", "replace")
    match = re.search(r"checked (\d+) offsets in (\d+) code objects, (\d+) mismatches", summary)
    check(match is not None, "no summary from linetable_check: %s", summary[-1000:])
    offsets, codes, mismatches = (int(group) for group in match.groups())
    check(codes >= 300 and offsets >= 10000, "too little checked (%d code objects, %d offsets)", codes, offsets)
    if mismatches:
        raise Failure("%d line mismatches:\n%s" % (mismatches, summary[-2000:]))


@each_interpreter
def test_line_tables_match_interpreter(label):
    run_check(label)


@each_interpreter_from((3, 11))
def test_positions_match_interpreter(label):
    """Lines, end lines and columns of every code unit, as co_positions() has them."""
    run_check(label, "positions")
