# Process trees whose root is not Python: `record --subprocesses` attached to
# a bash wrapper that starts Python late, or launching it; how a launched
# command and all it started end (the program's end at --duration, signals
# a program ignores, orphans); `dump --subprocesses` of a shell. The Python
# processes are tree_worker.py, which records its own stack as ground truth.
import os
import re
import signal
import subprocess
import time

import lib
from lib import check

WORKER = os.path.join(lib.FIXTURES, "tree_worker.py")
WRAPPER_SLEEP = 2     # seconds the wrapper waits before it starts Python
GRACE = 2             # seconds a launched command is given after each signal
SLACK = 6             # for a loaded machine: start-up, scheduling


def tree_interpreters():
    """Debian's python3.11 and the oldest and newest pyenv interpreters."""
    pyenv = [label for label in lib.interpreter_labels() if label.startswith("pyenv")]
    return ["debian-3.11"] + sorted(set([pyenv[0], pyenv[-1]]), key=pyenv.index)


def two_interpreters():
    return tree_interpreters()[:1] + tree_interpreters()[-1:]


# ---------------------------------------------------------------- processes

def proc_stat(pid):
    """(state, parent, process group) of PID, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as source:
            fields = source.read().rsplit(")", 1)[1].split()
    except (IOError, OSError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def running(pid):
    """PID exists and has not ended (a zombie has ended)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in "ZXx"


def group_members(group):
    """The processes of process group GROUP that have not ended."""
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(int(name))
            if stat and stat[2] == group and stat[0] not in "ZXx":
                members.append(int(name))
    return members


def end_group(group):
    """Cleanup: SIGKILL every process left in GROUP, each by its PID."""
    for pid in group_members(group):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def check_nothing_left(group, pids, what):
    """No process of GROUP, and none of PIDS, is left running: each ended
    (given a moment to be reaped by whoever is its parent)."""
    deadline = time.time() + 5
    while (group_members(group) or any(running(pid) for pid in pids)) and time.time() < deadline:
        time.sleep(0.05)
    left = group_members(group) + [pid for pid in pids if running(pid)]
    check(not left, "%s: left running: %s", what,
          ", ".join("%d (%s)" % (pid, command_of(pid)) for pid in sorted(set(left))))


def command_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as source:
            return source.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (IOError, OSError):
        return "?"


def write_wrapper(workdir, python, seconds, info, ignore=None):
    """A bash script that sleeps WRAPPER_SLEEP s, then runs the worker for
    SECONDS (as a child, not by exec) and says it is done."""
    path = os.path.join(workdir, "wrapper.sh")
    extra = " --ignore %s" % ignore if ignore else ""
    with open(path, "w") as out:
        out.write("#!/bin/bash\nsleep %d\n'%s' '%s' %s '%s'%s\necho wrapper done\n"
                  % (WRAPPER_SLEEP, python, WORKER, seconds, info, extra))
    return path


def spawn(argv, workdir, log_name):
    """ARGV in a session (and process group) of its own, output to a log."""
    with open(os.path.join(workdir, log_name), "wb") as log:
        return subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=lib.fixture_env(),
                                start_new_session=True)


def launch_pycoreprof(args, workdir, timeout=60, asan=False):
    """`pycoreprof record ARGS` (the sanitizer build with ASAN) in a session
    of its own, so that what it launches is in its process group: (result,
    seconds taken, its pid)."""
    started = time.time()
    env = lib.fixture_env()
    if asan:
        env.update(lib.SANITIZER_ENV)
    binary = lib.asan_pycoreprof() if asan else lib.pycoreprof()
    proc = subprocess.Popen([binary, "record"] + list(args), cwd=workdir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end_group(proc.pid)
        proc.kill()
        proc.communicate()
        raise lib.Failure("pycoreprof record %s did not finish in %d s" % (" ".join(args), timeout))
    finally:
        if proc.poll() is not None:
            end_group(proc.pid)
    return lib.Result([binary, "record"] + list(args), proc.returncode, stdout,
                      stderr), time.time() - started, proc.pid


# ---------------------------------------------------------------- profiles

ROOT_FRAME = re.compile(r'^process (?P<pid>\d+) "(?P<label>.*)"$')
PYTHON_FRAME = re.compile(r"^(?P<name>.+) \((?P<file>.+?)(?::\d+)?\)$")


def read_folded(path):
    """[(frames, count)] of a folded file, root first."""
    stacks = []
    with open(path) as source:
        for line in source:
            stack, count = line.rstrip("\n").rsplit(" ", 1)
            stacks.append((stack.split(";"), int(count)))
    return stacks


def truth_function(truth):
    """(name as a profile shows it, file) of the function the worker spins in."""
    frame = truth["frames"][0]
    return frame.get("qualname", frame["function"]), frame["file"]


def check_worker_sampled(stacks, truth, what, minimum=1, roots=True):
    """With ROOTS every stack is under a process root, and the worker's are
    those under its own pid (without, every stack is the worker's); most of
    them are in the function it spins in."""
    name, path = truth_function(truth)
    worker = spinning = 0
    for frames, count in stacks:
        if roots:
            root = ROOT_FRAME.match(frames[0])
            check(root, "%s: stack %s has no process root", what, ";".join(frames))
            if int(root.group("pid")) != truth["pid"]:
                continue
        worker += count
        for frame in frames:
            match = PYTHON_FRAME.match(frame)
            if match and match.group("name") == name and match.group("file") == path:
                spinning += count
                break
    check(worker >= minimum, "%s: %d samples of the worker (pid %d), expected %d or more: roots %s",
          what, worker, truth["pid"], minimum, sorted(set(frames[0] for frames, _ in stacks)))
    check(spinning >= 0.8 * worker, "%s: %s (%s) in %d of the worker's %d samples", what, name, path,
          spinning, worker)


def summary_samples(result):
    match = re.search(rb"Wrote \S+ \((\d+) samples", result.stderr)
    check(match, "no 'Wrote FILE (N samples...' line: %s", result.describe())
    return int(match.group(1))


# ---------------------------------------------------------------- record --subprocesses

@lib.each(tree_interpreters)
def test_wrapper_attached(label):
    """`record --pid WRAPPER --subprocesses`: the wrapper is bash, and its
    Python child starts 2 s later; it is found and sampled, and the
    recording ends when the wrapper does."""
    python = lib.interpreter(label)
    workdir = lib.scratch("tree-attach")
    info = os.path.join(workdir, "worker.json")
    wrapper = spawn(["bash", write_wrapper(workdir, python, 3, info)], workdir, "wrapper.log")
    try:
        out = os.path.join(workdir, "tree.folded")
        result = lib.run_pycoreprof(["record", "--pid", str(wrapper.pid), "--subprocesses", "--rate", "100",
                                     "-o", out], timeout=60)
        check(result.code == 0, "expected exit 0: %s", result.describe())
        truth = lib.load_truth(info)
        check(truth["parent"] == wrapper.pid, "the worker's parent is %d, not the wrapper %d",
              truth["parent"], wrapper.pid)
        # 3 s at 100 Hz; a third of it on a loaded machine.
        check_worker_sampled(read_folded(out), truth, "attached to the wrapper", minimum=100)
        # The recording ends with the wrapper: it is ending or ended.
        try:
            code = wrapper.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise lib.Failure("the wrapper still runs 10 s after the recording ended")
        check(code == 0, "the wrapper exited with %s", code)
        check_nothing_left(wrapper.pid, [truth["pid"]], "attached")
    finally:
        end_group(wrapper.pid)
        wrapper.wait()


@lib.each(tree_interpreters)
def test_wrapper_launched(label):
    """`record --subprocesses -- bash wrapper.sh`: the Python grandchild
    that starts 2 s later is sampled; the wrapper's exit code becomes
    record's; nothing of the tree is left."""
    python = lib.interpreter(label)
    workdir = lib.scratch("tree-launch")
    info = os.path.join(workdir, "worker.json")
    script = write_wrapper(workdir, python, 3, info)
    out = os.path.join(workdir, "tree.folded")
    result, took, group = launch_pycoreprof(["--subprocesses", "--rate", "100", "-o", out, "--",
                                             "bash", script], workdir)
    check(result.code == 0, "expected the wrapper's exit 0: %s", result.describe())
    match = re.search(rb"below process (\d+) \(bash ", result.stderr)
    check(match, "no 'Sampling the Python processes below process N (bash ...' line: %s",
          result.describe())
    wrapper = int(match.group(1))
    truth = lib.load_truth(info)
    check(truth["parent"] == wrapper, "the worker's parent is %d, not the wrapper %d", truth["parent"],
          wrapper)
    check_worker_sampled(read_folded(out), truth, "launched wrapper", minimum=100)
    check(took >= WRAPPER_SLEEP + 3, "record returned after %.1f s, before the worker's %d s ended",
          took, WRAPPER_SLEEP + 3)
    check_nothing_left(group, [wrapper, truth["pid"]], "launched wrapper")


@lib.each(lambda: tree_interpreters()[-1:])
def test_workers_come_and_go(label):
    """A wrapper runs three short Python workers one after the other, under
    the sanitizer build: each is picked up, sampled under its own root and
    let go; the recording ends with the wrapper."""
    python = lib.interpreter(label)
    workdir = lib.scratch("tree-churn")
    infos = [os.path.join(workdir, "worker%d.json" % i) for i in range(3)]
    script = os.path.join(workdir, "churn.sh")
    with open(script, "w") as out:
        out.write("#!/bin/bash\n")
        for info in infos:
            out.write("'%s' '%s' 1.5 '%s'\n" % (python, WORKER, info))
    out_path = os.path.join(workdir, "churn.folded")
    result, took, group = launch_pycoreprof(["--subprocesses", "--rate", "100", "-o", out_path, "--",
                                             "bash", script], workdir, timeout=120, asan=True)
    check(result.code == 0, "expected the wrapper's exit 0: %s", result.describe())
    check(b"ERROR: AddressSanitizer" not in result.stderr and b"runtime error" not in result.stderr,
          "the sanitizers reported: %s", result.describe())
    stacks = read_folded(out_path)
    truths = [lib.load_truth(info) for info in infos]
    check(len(set(truth["pid"] for truth in truths)) == 3, "the workers' pids %s are not 3 different ones",
          [truth["pid"] for truth in truths])
    for index, truth in enumerate(truths):
        check_worker_sampled(stacks, truth, "worker %d of 3" % (index + 1), minimum=10)
    check(b", 3 processes," in result.stderr, "the summary does not count 3 processes: %s",
          result.describe())
    check_nothing_left(group, [truth["pid"] for truth in truths], "three workers")


@lib.each(two_interpreters)
def test_duration_ends_tree(label):
    """--duration ends a launched wrapper and its Python grandchild (SIGINT
    to both); then a grandchild that ignores SIGINT and SIGTERM, orphaned
    when bash dies of SIGTERM, is killed. Nothing is left either way."""
    python = lib.interpreter(label)
    for ignore, signals in ((None, "SIGINT"), ("SIGINT,SIGTERM", "SIGINT, then SIGTERM, then SIGKILL")):
        what = "--duration, worker ignoring %s" % (ignore or "nothing")
        workdir = lib.scratch("tree-duration")
        info = os.path.join(workdir, "worker.json")
        script = write_wrapper(workdir, python, 120, info, ignore=ignore)
        out = os.path.join(workdir, "tree.folded")
        duration = WRAPPER_SLEEP + 2
        result, took, group = launch_pycoreprof(["--subprocesses", "--duration", str(duration), "--rate", "100",
                                                 "-o", out, "--", "bash", script], workdir)
        print("%s: returned after %.1f s" % (what, took))
        check(result.code == 0, "%s: expected exit 0 (the recording's): %s", what, result.describe())
        truth = lib.load_truth(info)
        check_worker_sampled(read_folded(out), truth, what)
        steps = signals.count("SIG")
        limit = duration + GRACE * (steps - 1) + SLACK
        check(took < limit, "%s: record returned after %.1f s, expected under %.0f", what, took, limit)
        ended = re.search(rb"pycoreprof: ended bash \S+ \(pid (\d+)\) with ([^:]+): it (.*)", result.stderr)
        check(ended, "%s: no 'pycoreprof: ended bash ... (pid N) with SIGNALS: it ...' line: %s", what,
              result.describe())
        check(ended.group(2).decode() == signals, "%s: sent %s, expected %s", what, ended.group(2).decode(),
              signals)
        check_nothing_left(group, [int(ended.group(1)), truth["pid"]], what)


@lib.each(two_interpreters)
def test_duration_ends_program(label):
    """`record --duration 2 -- python long_program.py` returns in about 2 s
    and a grace, ends the program with SIGINT and says how it ended."""
    python = lib.interpreter(label)
    workdir = lib.scratch("tree-program")
    info = os.path.join(workdir, "worker.json")
    out = os.path.join(workdir, "program.folded")
    result, took, group = launch_pycoreprof(["--duration", "2", "--rate", "100", "-o", out,
                                             "--", python, WORKER, "120", info], workdir)
    print("returned after %.1f s" % took)
    check(result.code == 0, "expected exit 0 (the recording's): %s", result.describe())
    truth = lib.load_truth(info)
    check_worker_sampled(read_folded(out), truth, "--duration 2", minimum=20, roots=False)
    check(2 <= took < 2 + GRACE + SLACK, "record returned after %.1f s, expected 2 to %d", took,
          2 + GRACE + SLACK)
    ended = re.search(rb"pycoreprof: ended (.*) \(pid (\d+)\) with SIGINT: it (.*)", result.stderr)
    check(ended and int(ended.group(2)) == truth["pid"], "no 'pycoreprof: ended ... (pid %d) with "
          "SIGINT: it ...' line: %s", truth["pid"], result.describe())
    # 3.8+ dies of the signal again after KeyboardInterrupt; before, exit 1.
    how = ended.group(3).decode()
    check(how in ("was ended by SIGINT", "exited with status 1"), "the program's end reads %r", how)
    check_nothing_left(group, [truth["pid"]], "--duration 2")


def test_launched_not_python():
    """Without --subprocesses, a launched command that is not Python is
    given up after 10 s and ended with all it started; the error names the
    Python process below it and --subprocesses."""
    python = lib.interpreter("debian-3.11")
    workdir = lib.scratch("tree-not-python")
    info = os.path.join(workdir, "worker.json")
    script = write_wrapper(workdir, python, 120, info)
    out = os.path.join(workdir, "x.folded")
    result, took, group = launch_pycoreprof(["-o", out, "--", "bash", script], workdir)
    check(result.code == 2, "expected exit 2: %s", result.describe())
    truth = lib.load_truth(info)
    text = result.stderr.decode("utf-8", "replace")
    check("no Python interpreter in bash" in text and "process %d below it is Python" % truth["pid"] in text
          and "--subprocesses" in text, "expected the error to name process %d and --subprocesses: %s",
          truth["pid"], result.describe())
    check(not os.path.exists(out), "a profile was written")
    check(took < 10 + GRACE + SLACK, "record returned after %.1f s", took)
    check_nothing_left(group, [truth["pid"]], "not Python")


# ---------------------------------------------------------------- dump --subprocesses

@lib.each(two_interpreters)
def test_dump_subprocesses(label):
    """`dump --pid SHELL --subprocesses` of a shell with two Python
    children shows both, each with the stack it recorded of itself."""
    python = lib.interpreter(label)
    workdir = lib.scratch("tree-dump")
    infos = [os.path.join(workdir, "worker%d.json" % i) for i in (1, 2)]
    line = " & ".join("'%s' '%s' 120 '%s'" % (python, WORKER, info) for info in infos)
    shell = spawn(["bash", "-c", line + " & wait"], workdir, "shell.log")
    try:
        for info in infos:
            lib.wait_for_file(shell, info, "tree_worker.py", os.path.join(workdir, "shell.log"))
        truths = [lib.load_truth(info) for info in infos]
        result = lib.run_pycoreprof(["dump", "--pid", str(shell.pid), "--subprocesses", "--json"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        document = lib.parse_json(result)
        check(document.get("root") == shell.pid, "root %s, expected the shell %d", document.get("root"),
              shell.pid)
        processes = dict((entry.get("pid"), entry) for entry in document.get("processes") or [])
        check(sorted(processes) == sorted(truth["pid"] for truth in truths),
              "processes %s, expected the two workers %s", sorted(processes),
              [truth["pid"] for truth in truths])
        for truth in truths:
            entry = processes[truth["pid"]]
            check(entry["python"]["version"] == truth["python_version"], "pid %d: Python %s, expected %s",
                  truth["pid"], entry["python"]["version"], truth["python_version"])
            # The worker spins on: its innermost line moves, the functions do not.
            expected = [(frame["function"], frame["file"]) for frame in truth["frames"]]
            found = [[(frame["function"], frame["file"]) for frame in thread["frames"]]
                     for thread in entry["threads"]]
            check(expected in found, "pid %d: no thread with the frames %s: %s", truth["pid"], expected, found)
        # The text form names both, and without --subprocesses the shell is
        # not Python: the error points at the option.
        result = lib.run_pycoreprof(["dump", "--pid", str(shell.pid), "--subprocesses"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        for truth in truths:
            check(("Process %d " % truth["pid"]).encode() in result.stdout, "the text dump does not show "
                  "process %d:\n%s", truth["pid"], result.stdout.decode("utf-8", "replace"))
        result = lib.run_pycoreprof(["dump", "--pid", str(shell.pid)])
        check(result.code == 2 and b"--subprocesses" in result.stderr,
              "expected exit 2 and a hint at --subprocesses: %s", result.describe())
    finally:
        end_group(shell.pid)
        shell.wait()
