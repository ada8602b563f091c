# lib.Process, which every live case uses to run its fixture: it waits for
# the ready file, and it kills and reaps the program by its PID on every way
# out of the with statement, also when the program is stopped by SIGSTOP or
# held in a ptrace stop.
import os
import signal
import sys
import time

import lib
from lib import check

SLEEPER = ("import sys, time\n"
           "open(sys.argv[1], 'w').close()\n"
           "time.sleep(600)\n")
# Seizes the pid in argv[1], holds it in a ptrace stop, writes argv[2] and
# waits for the pid to end, as a profiler does.
TRACER = ("import ctypes, os, sys\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]\n"
          "pid, WALL = int(sys.argv[1]), 0x40000000\n"
          "if libc.ptrace(0x4206, pid, None, None) or libc.ptrace(0x4207, pid, None, None):\n"
          "    sys.exit('ptrace: %s' % os.strerror(ctypes.get_errno()))\n"
          "status = os.waitpid(pid, WALL)[1]\n"
          "if not os.WIFSTOPPED(status):\n"
          "    sys.exit('no ptrace stop: status %d' % status)\n"
          "open(sys.argv[2], 'w').close()\n"
          "while not (os.WIFEXITED(status) or os.WIFSIGNALED(status)):\n"
          "    status = os.waitpid(pid, WALL)[1]\n")


def sleeper():
    workdir = lib.scratch("process")
    ready = os.path.join(workdir, "ready")
    return lib.Process(sys.executable, ["-c", SLEEPER, ready], workdir=workdir, ready=ready,
                       name="the sleeper")


def wait_state(pid, states, what):
    deadline = time.time() + 10
    while not all(state in states for state in lib.task_states(pid)):
        check(time.time() < deadline, "%s not reached in 10 s: states %s", what,
              lib.task_states(pid))
        time.sleep(0.02)


def check_killed(fixture):
    """Ended by SIGKILL and reaped (Popen sets returncode once waitpid has
    returned it)."""
    check(fixture.proc.returncode == -signal.SIGKILL, "the sleeper ended with %s, not by SIGKILL",
          fixture.proc.returncode)


def test_ready_then_killed():
    with sleeper() as fixture:
        check(os.path.exists(fixture.ready), "entered before the ready file was written")
        check(fixture.proc.poll() is None, "the sleeper exited with %s", fixture.proc.returncode)
    check_killed(fixture)


def test_killed_on_exception():
    try:
        with sleeper() as fixture:
            raise KeyError("raised in the with body")
    except KeyError:
        pass
    check_killed(fixture)


def test_stopped_is_killed():
    with sleeper() as fixture:
        os.kill(fixture.pid, signal.SIGSTOP)
        wait_state(fixture.pid, "T", "the SIGSTOP")
    check_killed(fixture)


def test_ptrace_stopped_is_killed():
    with sleeper() as fixture:
        flag = fixture.path("traced")
        with lib.Process(sys.executable, ["-c", TRACER, str(fixture.pid), flag],
                         workdir=fixture.workdir, ready=flag, name="the tracer",
                         log="tracer.log") as tracer:
            wait_state(fixture.pid, "t", "the ptrace stop")
            check(lib.tracer_pid(fixture.pid) == tracer.pid, "the sleeper is traced by %d, not %d",
                  lib.tracer_pid(fixture.pid), tracer.pid)
            fixture.end()
            check_killed(fixture)
            check(tracer.proc.wait(timeout=10) == 0, "the tracer exited with %s",
                  tracer.proc.returncode)


def test_exit_before_ready_fails():
    workdir = lib.scratch("process")
    fixture = lib.Process(sys.executable, ["-c", "import sys; sys.exit(3)"], workdir=workdir,
                          ready=os.path.join(workdir, "never"), name="the quitter")
    try:
        with fixture:
            raise lib.Failure("entered although the program exited before it was ready")
    except lib.Failure as exc:
        check("the quitter exited with 3 before it was ready" in str(exc),
              "unexpected failure: %s", exc)
    check(fixture.proc.returncode == 3, "the quitter ended with %s", fixture.proc.returncode)
