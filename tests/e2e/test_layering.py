# tools/check-layers, which `make check` runs: it passes on the tree, and on
# a copy of src/ and include/ given one deliberate violation it fails naming
# the file and line. Comments and strings never count.
import glob
import os
import shutil
import sys

import lib
from lib import check

CHECKER = os.path.join(lib.REPO, "tools", "check-layers")


def run_checker(root=None):
    argv = [sys.executable, CHECKER] + (["--root", root] if root else [])
    return lib.run(argv, timeout=60)


def copy_tree():
    root = lib.scratch("layers")
    for top in ("src", "include"):
        shutil.copytree(os.path.join(lib.REPO, top), os.path.join(root, top))
    return root


def append(root, folder, text):
    """Append TEXT to the first C file of src/FOLDER; its path from ROOT and
    the number of the first appended line."""
    sources = sorted(glob.glob(os.path.join(root, "src", folder, "*.c")))
    check(sources, "no C file in src/%s to append to", folder)
    with open(sources[0]) as source:
        lines = source.read().count("\n")
    with open(sources[0], "a") as out:
        out.write(text)
    return os.path.relpath(sources[0], root), lines + 1


def test_tree_passes():
    result = run_checker()
    check(result.code == 0 and not result.stdout.strip(),
          "tools/check-layers fails on the tree: %s\n%s", result.describe(),
          result.stdout.decode("utf-8", "replace"))


VIOLATIONS = {
    "include": ("base", '#include "pycoreprof/target.h"\n',
                "base may not include pycoreprof/target.h (targets)"),
    "printf": ("python", 'static void say(void) { printf("here\\n"); }\n',
               "python may not print or exit: printf"),
    "exit": ("python", "static void leave(void) { exit(2); }\n",
             "python may not print or exit: exit"),
    "stderr": ("elf", 'static void warn(void) { fputs("here\\n", stderr); }\n',
               "elf may not print or exit: stderr"),
    "ptrace": ("unwind", "static long peek(int pid) { return ptrace(PTRACE_PEEKDATA, pid, 0, 0); }\n",
               "unwind may not trace or read cores: ptrace"),
}


@lib.each(sorted(VIOLATIONS))
def test_violation_fails(kind):
    folder, text, message = VIOLATIONS[kind]
    root = copy_tree()
    path, line = append(root, folder, text)
    result = run_checker(root)
    output = result.stdout.decode("utf-8", "replace")
    check(result.code == 1, "expected exit 1 for %s in %s: %s\n%s", kind, path,
          result.describe(), output)
    expected = "%s:%d: %s" % (path, line, message)
    check(any(line_.startswith(expected) for line_ in output.splitlines()),
          "no line starting %r: %s", expected, output)


def test_comments_and_strings_pass():
    root = copy_tree()
    append(root, "python", '/* printf("x"); exit(1); ptrace(PTRACE_CONT) */\n'
           '// #include "pycoreprof/stacks.h"\n'
           'static const char *const said = "printf(stderr) exit(1) ptrace(";\n')
    result = run_checker(root)
    check(result.code == 0 and not result.stdout.strip(),
          "a comment or a string counted as a violation: %s\n%s", result.describe(),
          result.stdout.decode("utf-8", "replace"))
