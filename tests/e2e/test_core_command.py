# The command line of a crashed process comes out whole, although the
# kernel's process record (pr_psargs) keeps only its first 80 characters:
# the rest is read from the process's initial stack in the core.
import os
import signal
import tempfile

from lib import check, core_json, each_interpreter, interpreter, make_core, run_dir


@each_interpreter
def test_long_command_line(label):
    python = interpreter(label)
    cwd = tempfile.mkdtemp(prefix="cmdline-", dir=run_dir())
    argv = [python, "-c", "import os; os.abort()", "first argument " * 8, "x" * 300, "last"]
    core = make_core(argv, cwd, signal.SIGABRT)
    try:
        document = core_json(core)
    finally:
        os.unlink(core)
    # The kernel joins arguments with spaces; so do we.
    check(document["command"] == " ".join(argv),
          "command line %r, expected %r", document["command"], " ".join(argv))
