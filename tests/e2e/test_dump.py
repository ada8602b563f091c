# `pycoreprof dump --pid` on live fixture processes, for every interpreter:
# the stacks must equal what the fixture recorded of itself, and the process
# must be left as it was found (running, or stopped by our SIGSTOP), untraced.
import os
import signal
import subprocess
import time

import lib
from lib import check

PARKED = os.path.join(lib.FIXTURES, "parked.py")
SETTLE_TIMEOUT = 10


task_states = lib.task_states
tracer_pid = lib.tracer_pid


def wait_for(predicate, what, timeout=SETTLE_TIMEOUT):
    deadline = time.time() + timeout
    while not predicate():
        check(time.time() < deadline, "%s not reached in %d s", what, timeout)
        time.sleep(0.02)


class Parked(lib.Process):
    """The parked fixture run by interpreter LABEL, from the moment its
    ground truth is written (and its recording thread has ended) until it is
    ended by its PID."""

    def __init__(self, label):
        workdir = lib.scratch("dump")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [PARKED, self.truth_path], workdir=workdir,
                             ready=self.truth_path)

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)
        wait_for(lambda: len(os.listdir("/proc/%d/task" % self.pid)) == self.truth["thread_count"],
                 "the fixture's recording thread ending")


def dump_json(pid, extra=()):
    result = lib.run_pycoreprof(["dump", "--pid", str(pid), "--json"] + list(extra))
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return lib.parse_json(result)


def check_stacks(document, truth):
    """Every parked thread has exactly its recorded frames and, where the
    interpreter told it, its OS thread id."""
    check(document.get("source") == "live", "source is %r, expected 'live'", document.get("source"))
    check(document.get("pid") == truth["pid"], "pid %s, expected %s", document.get("pid"), truth["pid"])
    version = (document.get("python") or {}).get("version")
    check(version == truth["python_version"], "python.version %r, expected %r",
          version, truth["python_version"])
    for thread in truth["threads"]:
        found = lib.find_thread(document, thread)
        what = "thread %s (%s)" % (thread["thread_id"], thread["role"])
        if "native_id" in thread:
            check(found.get("tid") == thread["native_id"], "%s: tid %s, expected %s",
                  what, found.get("tid"), thread["native_id"])
        if thread["role"] == "main":
            check(found.get("tid") == truth["pid"], "main thread: tid %s, expected the pid %s",
                  found.get("tid"), truth["pid"])
        lib.compare_frames(what, lib.truth_frames(thread), lib.python_frames(found))
        qualnames = [frame.get("qualname") for frame in thread["frames"]]
        if all(qualnames):  # 3.11+: co_qualname
            got = [frame.get("qualname") for frame in found["frames"]
                   if frame.get("kind", "python") == "python"]
            check(got == qualnames, "%s: qualnames %s, expected %s", what, got, qualnames)
        check(found.get("idle") is True, "%s is parked but not marked idle", what)


def check_left_running(pid):
    wait_for(lambda: not any(state in "tT" for state in task_states(pid)),
             "every thread of pid %d running or sleeping" % pid)
    check(tracer_pid(pid) == 0, "pid %d is still traced by %d", pid, tracer_pid(pid))


@lib.each_interpreter
def test_stopped_process(label):
    with Parked(label) as fixture:
        pid = fixture.pid
        os.kill(pid, signal.SIGSTOP)
        wait_for(lambda: all(state == "T" for state in task_states(pid)), "the SIGSTOP")
        document = dump_json(pid)
        check_stacks(document, fixture.truth)
        # Detaching wakes a group-stopped thread just long enough to enter
        # the group stop again, inside the kernel (no user code runs): it may
        # show R for a moment on a busy machine, then T.
        wait_for(lambda: all(state == "T" for state in task_states(pid)),
                 "every thread stopped by SIGSTOP again after the dump")
        states = task_states(pid)
        check(states and all(state == "T" for state in states),
              "after the dump, states %s: expected every thread still stopped by SIGSTOP", states)
        check(tracer_pid(pid) == 0, "pid %d is still traced by %d", pid, tracer_pid(pid))
        os.kill(pid, signal.SIGCONT)
        check_left_running(pid)


@lib.each_interpreter
def test_running_process(label):
    with Parked(label) as fixture:
        pid = fixture.pid
        for mode in ([], ["--nonblocking"]):
            # Parked means asleep: a previous freeze pulls the threads out
            # of their syscalls, and on a busy machine they may take a while
            # to get back in (a nonblocking dump judges idleness by state).
            wait_for(lambda: all(state == "S" for state in task_states(pid)), "every thread asleep")
            check_stacks(dump_json(pid, mode), fixture.truth)
            check_left_running(pid)
        result = lib.run_pycoreprof(["dump", "--pid", str(pid)])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        text = result.text()
        check(text.startswith("Process %d" % pid), "the text dump starts %r", text[:80])
        for name in ("park_main", "blocked_on_lock", "recurse"):
            check(name in text, "%s missing from the text dump", name)
        check_left_running(pid)


def test_dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    result = lib.run_pycoreprof(["dump", "--pid", str(proc.pid)])
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    check(result.code == 2, "expected exit 2: %s", result.describe())
    check(len(lines) == 1 and str(proc.pid) in lines[0],
          "expected one line naming pid %d: %s", proc.pid, result.describe())


def test_not_python():
    proc = subprocess.Popen(["sleep", "100"])
    try:
        wait_for(lambda: os.path.exists("/proc/%d/exe" % proc.pid) and
                 os.readlink("/proc/%d/exe" % proc.pid).endswith("sleep"), "sleep starting")
        for mode in ([], ["--nonblocking"]):
            result = lib.run_pycoreprof(["dump", "--pid", str(proc.pid)] + mode)
            lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
            check(result.code == 2, "expected exit 2: %s", result.describe())
            check(len(lines) == 1 and "no Python" in lines[0],
                  "expected one line saying 'no Python': %s", result.describe())
            check_left_running(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def test_usage():
    for args in (["dump"], ["dump", "--pid", "x"], ["dump", "--pid", "1", "extra"], ["dump", "--bogus"]):
        result = lib.run_pycoreprof(args)
        check(result.code == 64, "expected exit 64: %s", result.describe())
    result = lib.run_pycoreprof(["dump", "--help"])
    check(result.code == 0 and b"--nonblocking" in result.stdout, "dump --help: %s", result.describe())
