# `pycoreprof core` on inputs it cannot use, run with the sanitizer build:
# each must end with exit 2 and one line on stderr naming the problem (and the
# fix, where there is one), never a crash or a sanitizer report.
import os
import re
import signal
import sys

import lib
from lib import check

CORRUPT = os.path.join(lib.REPO, "fixtures", "corrupt")
SANITIZER_MARKS = ("Sanitizer", "runtime error:", "SUMMARY:", "==ERROR")


def rejected(args, pattern, names=()):
    """Run the sanitizer build on ARGS: exit 2, one stderr line matching
    PATTERN (case-insensitive) and containing each of NAMES."""
    result = lib.run_pycoreprof(args, asan=True)
    stderr = result.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        check(mark not in stderr, "sanitizer report: %s", result.describe())
    check(result.code == 2, "expected exit 2: %s", result.describe())
    lines = stderr.strip("\n").split("\n")
    check(len(lines) == 1 and lines[0].strip(),
          "expected exactly one line on stderr, got %d: %s", len(lines), result.describe())
    check(re.search(pattern, lines[0], re.IGNORECASE),
          "the message does not say /%s/: %r", pattern, lines[0])
    for name in names:
        check(name in lines[0], "the message does not name %r: %r", name, lines[0])
    return lines[0]


def python_core():
    """A small crash core of a Python process (this runner's interpreter)."""
    def make(directory):
        return lib.make_core([sys.executable, "-c", "import os; os.abort()"], directory,
                             signal.SIGABRT)
    return lib.cached("shared", "python-abort", make)


def test_directory():
    path = lib.scratch("a-directory")
    rejected(["core", path], r"director|not a (regular )?file", [path])


def test_missing_path():
    path = os.path.join(lib.scratch("missing"), "no-such-core")
    rejected(["core", path], r"no such file|not found|does not exist|cannot open",
             ["no-such-core"])


def test_empty_file():
    path = os.path.join(lib.scratch("empty"), "empty-core")
    open(path, "wb").close()
    rejected(["core", path], r"empty|not an? elf|truncated|too (short|small)")


def test_text_file():
    path = os.path.join(lib.scratch("text"), "notes.txt")
    with open(path, "w") as out:
        out.write("this is a text file, not a core dump\n" * 20)
    rejected(["core", path], r"not an? elf")


def test_elf_not_core():
    path = "/bin/true"
    check(os.path.exists(path), "%s not found", path)
    rejected(["core", path], r"not a core")


def test_truncated_core():
    core = python_core()
    path = lib.truncated_copy(core, os.path.join(lib.scratch("truncated"), "core-half"))
    rejected(["core", path], r"truncated")


def test_truncated_gzip():
    core = python_core()
    directory = lib.scratch("gzip-cut")
    whole = lib.gzip_file(core, os.path.join(directory, "whole.gz"))
    path = lib.truncated_copy(whole, os.path.join(directory, "core.gz"))
    rejected(["core", path], r"truncated|gzip|compress|corrupt|inflate|incomplete|unexpected end")


@lib.each(lambda: sorted(lib.COMPRESSORS))
def test_truncated_compressed(kind):
    core = python_core()
    directory = lib.scratch(kind + "-cut")
    whole = lib.compress_file(core, kind, os.path.join(directory, "whole"))
    path = lib.truncated_copy(whole, os.path.join(directory, "core-" + kind))
    rejected(["core", path], r"ends early|truncated|incomplete", [path, kind])


def test_non_python_core():
    sleep = lib.tool("sleep", "coreutils")

    def make(directory):
        # Popen returns once sleep has been exec'd, so the core is sleep's.
        return lib.make_core([sleep, "600"], directory, signal.SIGSEGV,
                             send_signal=signal.SIGSEGV)
    core = lib.cached("shared", "sleep-segv", make)
    rejected(["core", core], r"no python|not a python|python\b.*\b(not found|missing)"
             r"|(cannot|could not|unable to) find.*python|without python")


def moved_python_core():
    """A core of a static interpreter whose executable was deleted afterwards:
    (core, the deleted path)."""
    if not os.access(lib.SYSTEM_PYTHON, os.X_OK):
        raise lib.Missing("%s not found (Debian package python3.11-minimal): the test needs "
                          "a statically linked interpreter" % lib.SYSTEM_PYTHON)

    def make(directory):
        moved = os.path.join(directory, "moved")
        os.makedirs(moved)
        copy = os.path.join(moved, os.path.basename(lib.SYSTEM_PYTHON))
        with open(lib.SYSTEM_PYTHON, "rb") as source, open(copy, "wb") as out:
            out.write(source.read())
        os.chmod(copy, 0o755)
        env = lib.fixture_env()
        env["PYTHONHOME"] = "/usr"  # the copy cannot find its library otherwise
        core = lib.make_core([copy, "-c", "import os; os.abort()"], directory,
                             signal.SIGABRT, env=env)
        os.unlink(copy)
        return {"core": core, "deleted": copy}
    made = lib.cached("shared", "moved-python", make)
    return made["core"], made["deleted"]


def test_missing_executable():
    core, deleted = moved_python_core()
    line = rejected(["core", core], r"--exe|--search-path", [os.path.basename(deleted)])
    check(re.search(r"no such file|not found|missing|(cannot|can.t|could not|unable to) (find|open)"
                    r"|does not exist", line,
                    re.IGNORECASE), "the message does not say the file is missing: %r", line)


def check_moved_python(args):
    result = lib.run_pycoreprof(args, asan=True)
    stderr = result.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        check(mark not in stderr, "sanitizer report: %s", result.describe())
    check(result.code == 0, "expected exit 0: %s", result.describe())
    document = lib.parse_json(result)
    version = (document.get("python") or {}).get("version") or ""
    check(version.startswith("3.11."), "python.version %r, expected 3.11.x", version)
    frames = [frame for thread in document.get("threads") or []
              for frame in lib.python_frames(thread)]
    check(("<module>", "<string>", 1) in frames, "no <module> (<string>:1) frame in %s", frames)


def test_missing_executable_given_exe():
    core, _ = moved_python_core()
    check_moved_python(["core", core, "--json", "--exe", lib.SYSTEM_PYTHON])


def test_missing_executable_given_search_path():
    core, _ = moved_python_core()
    check_moved_python(["core", core, "--json", "--search-path",
                        os.path.dirname(lib.SYSTEM_PYTHON)])


def corrupt_files():
    if not os.path.isdir(CORRUPT):
        return []
    return sorted(name for name in os.listdir(CORRUPT)
                  if not name.startswith(".") and os.path.isfile(os.path.join(CORRUPT, name)))


@lib.each(corrupt_files)
def test_corrupt_fixture(name):
    rejected(["core", os.path.join(CORRUPT, name)], r".")
