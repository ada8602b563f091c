# Where the signal that ended a core's process came from: one another
# process sent (kill -BUS, kill -SEGV) names the sender's pid and uid and no
# fault address; a real fault names its address; abort() is the process's
# own. Checked in the JSON and the text report, on every interpreter.
import os
import re
import signal
import subprocess
import sys

import lib
from lib import check

SENDER_UID = 12345  # the sender's real uid when the tests run as root


def sender_ids():
    """Run the sender with a real uid of its own where we can (root keeps
    its effective uid, so it may still signal the fixture): si_uid is the
    sender's real uid, which then differs from the fixture's."""
    if os.geteuid() == 0:
        return lambda: os.setresuid(SENDER_UID, 0, 0)
    return None


def killed_core(label, signum):
    """A core of threads_crash.py (parked) killed by SIGNUM sent from a
    separate process; returns (core, truth, sender pid, sender uid)."""
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        script = os.path.join(lib.FIXTURES, "threads_crash.py")
        sent = {}

        def send(pid):
            sender = subprocess.Popen(
                [sys.executable, "-c", "import os, sys; os.kill(int(sys.argv[1]), int(sys.argv[2]))",
                 str(pid), str(int(signum))], preexec_fn=sender_ids())
            check(sender.wait(timeout=30) == 0, "the sender exited %s", sender.returncode)
            sent["pid"] = sender.pid
            sent["uid"] = SENDER_UID if os.geteuid() == 0 else os.getuid()

        core = lib.make_core([python, script, "park", truth], workdir, signum,
                             ready=lambda: os.path.exists(truth), send=send)
        return {"core": core, "truth": truth, "sender": sent}

    made = lib.cached(label, "killed-" + signal.Signals(signum).name, make)
    return made["core"], lib.load_truth(made["truth"]), made["sender"]


def header_line(core):
    result = lib.run_pycoreprof(["core", "--no-source", core])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return result.text().splitlines()[0]


def check_sent(label, signum):
    core, truth, sender = killed_core(label, signum)
    document = lib.core_json(core)
    sig = document.get("signal") or {}
    name = signal.Signals(signum).name
    check(sig.get("name") == name, "signal %r, expected %s", sig.get("name"), name)
    check(sig.get("code", 1) <= 0, "si_code %r of a sent signal, expected <= 0", sig.get("code"))
    check(sig.get("origin") == "process", "signal.origin %r, expected 'process'", sig.get("origin"))
    check(sig.get("address") is None, "signal.address %r for a sent %s: the union holds the "
          "sender, not an address", sig.get("address"), name)
    check(sig.get("sender") == {"pid": sender["pid"], "uid": sender["uid"]},
          "signal.sender %r, expected pid %d, uid %d", sig.get("sender"), sender["pid"],
          sender["uid"])
    check(sender["pid"] != truth["pid"], "the sender is the fixture itself")
    line = header_line(core)
    want = "killed by %s (sent by pid %d, uid %d)" % (name, sender["pid"], sender["uid"])
    check(want in line, "header %r does not say %r", line, want)
    check("address" not in line, "header %r names an address", line)


@lib.each_interpreter
def test_kill_bus(label):
    check_sent(label, signal.SIGBUS)


@lib.each_interpreter
def test_kill_segv(label):
    check_sent(label, signal.SIGSEGV)


@lib.each_interpreter
def test_real_fault(label):
    """ctypes writing to NULL: a fault at address 0, no sender."""
    core, truth = lib.fixture_core(label, "threads-segv", "segv")
    sig = lib.core_json(core).get("signal") or {}
    check(sig.get("code", 0) > 0, "si_code %r of a fault, expected > 0", sig.get("code"))
    check(sig.get("origin") == "fault", "signal.origin %r, expected 'fault'", sig.get("origin"))
    check(sig.get("address") == "0x0", "signal.address %r, expected '0x0'", sig.get("address"))
    check(sig.get("sender") is None, "signal.sender %r of a fault", sig.get("sender"))
    line = header_line(core)
    check("killed by SIGSEGV (address 0x0)" in line, "header %r does not name the address", line)
    check("sent" not in line, "header %r names a sender", line)


@lib.each_interpreter
def test_abort_is_own(label):
    """os.abort(): raise() sends SIGABRT to the process's own thread."""
    core, truth = lib.fixture_core(label, "threads-abort", "abort")
    sig = lib.core_json(core).get("signal") or {}
    check(sig.get("origin") == "self", "signal.origin %r, expected 'self'", sig.get("origin"))
    sender = sig.get("sender") or {}
    check(sender.get("pid") == truth["pid"], "signal.sender %r, expected the fixture's pid %d",
          sig.get("sender"), truth["pid"])
    line = header_line(core)
    check("killed by SIGABRT (sent by the process itself)" in line,
          "header %r does not say the process sent it itself", line)
    check(not re.search(r"sent by pid", line), "header %r names a sender pid", line)
