# The checked-in structure layouts are what the interpreters' own headers
# say: tools/gen-layouts --check regenerates them from every installed
# interpreter's headers and compares.
import os

from lib import REPO, check, run


def test_generated_layouts_match_headers():
    result = run([os.path.join(REPO, "tools", "gen-layouts"), "--check"], timeout=600)
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    check(result.code == 0, "tools/gen-layouts --check failed:\n%s", output[-3000:])
    # When Debian has moved on to a newer patch release than the one the
    # table was made from, that version is reported as skipped; the walker
    # reads 3.13+ layouts from the interpreter itself, so that is no error,
    # but the versions that are installed must still match.
    check("up to date" in output or "skipped" in output,
          "unexpected output from gen-layouts --check: %s", output[-1000:])
