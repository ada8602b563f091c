# A process that exec's a new interpreter in the middle of a recording is
# followed: samples from before and after the exec are both in the profile.
import os
import tempfile

from lib import FIXTURES, check, each, interpreter, run_dir, run_pycoreprof


def _labels():
    return ["pyenv-2.7.18", "debian-3.15"]


@each(_labels)
def test_exec_followed(label):
    python = interpreter(label)
    out = os.path.join(tempfile.mkdtemp(prefix="exec-", dir=run_dir()), "exec.folded")
    result = run_pycoreprof(["record", "--rate", "200", "-o", out, "--",
                             python, os.path.join(FIXTURES, "execer.py"), "1.5"], timeout=60)
    check(result.code == 0, "expected the fixture's exit code 0: %s", result.describe())
    counts = {"before_exec": 0, "after_exec": 0}
    with open(out) as folded:
        for line in folded:
            stack, count = line.rsplit(" ", 1)
            for name in counts:
                if ";%s (" % name in stack or stack.startswith(name + " ("):
                    counts[name] += int(count)
    # 1.5 s each at 200 Hz: about 300 samples each; allow for a loaded machine.
    check(counts["before_exec"] >= 60 and counts["after_exec"] >= 60,
          "samples before and after the exec: %s\n%s", counts, result.describe())
    # (A static, non-PIE interpreter exec'ing itself lands at the same
    # addresses, so the walk may go on without noticing: no message then.)
