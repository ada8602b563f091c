# `pycoreprof watch` (the flight recorder) and `record`'s crash capture, on
# fixtures that record their own stacks and then die by SIGSEGV or SIGABRT:
# the crash snapshot must give exactly the frames each fixture recorded, the
# signal and the crashing thread; the window's profile the work before the
# crash; the process must die of its signal as it would without us, the
# kernel's core (when core_pattern writes files) must still be written and
# agree; programs that handle the signals themselves (their own handler,
# faulthandler) must behave as they do alone.
import glob
import os
import re
import resource
import signal
import subprocess
import time

import lib
from lib import check

WATCH_CRASH = os.path.join(lib.FIXTURES, "watch_crash.py")
HANDLED = os.path.join(lib.FIXTURES, "handled_signals.py")
CHURN = os.path.join(lib.FIXTURES, "churn.py")
# Rounds of watch_crash.py: (mode, crashing thread). Both signals, both kinds
# of thread.
ROUNDS = (("segv", "main"), ("abort", "thread"))
WORK_SECONDS = 1.5


def few_interpreters():
    labels = lib.interpreter_labels()
    return sorted(set([labels[0], labels[-1]]), key=labels.index)


def python3_interpreters():
    return [label for label in lib.interpreter_labels() if lib.label_version(label) >= (3, 6)]


def _no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def run_launched(argv, workdir, core=False, timeout=90):
    """Run pycoreprof with ARGV (a launch form) in WORKDIR, cores off (or
    unlimited with CORE) for it and what it starts; the Result."""
    proc = subprocess.Popen([lib.pycoreprof()] + argv, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lib.fixture_env(),
                            preexec_fn=_unlimited_core if core else _no_core)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise lib.Failure("pycoreprof %s did not finish in %d s" % (" ".join(argv), timeout))
    return lib.Result([lib.pycoreprof()] + argv, proc.returncode, stdout, stderr)


def files_in(directory, suffix):
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(suffix))


def one_file(directory, suffix, result):
    found = files_in(directory, suffix)
    check(len(found) == 1, "expected one *%s in %s, found %s: %s", suffix, directory,
          os.listdir(directory), result.describe())
    return found[0]


def check_name(path, pid, suffix):
    name = os.path.basename(path)
    check(re.match(r"^%d-\d{8}T\d{6}%s$" % (pid, re.escape(suffix)), name),
          "file name %r, expected PID-TIMESTAMP%s", name, suffix)


def check_snapshot(snapshot, truth, signum):
    """`core` on SNAPSHOT gives every thread the fixture recorded, exactly,
    the signal, and the crashing thread; returns the document."""
    document = lib.core_json(snapshot)
    check(document.get("source") == "snapshot", "source %r, expected 'snapshot'", document.get("source"))
    check(document.get("pid") == truth["pid"], "pid %s, expected %s", document.get("pid"), truth["pid"])
    sig = document.get("signal") or {}
    name = signal.Signals(signum).name
    check(sig.get("number") == signum and sig.get("name") == name, "signal %s/%s, expected %d/%s",
          sig.get("number"), sig.get("name"), signum, name)
    expected_tid = truth["crash_tid"]
    check(sig.get("tid") == expected_tid, "signal.tid %s, expected the crashing thread %s",
          sig.get("tid"), expected_tid)
    if signum == signal.SIGSEGV:
        check(sig.get("origin") == "fault" and int(str(sig.get("address")), 0) == 0,
              "signal origin %r address %r, expected a fault at 0x0", sig.get("origin"), sig.get("address"))
    else:
        check(sig.get("origin") == "self", "signal origin %r, expected 'self' (abort)", sig.get("origin"))
    flagged = [thread.get("tid") for thread in document.get("threads") or [] if thread.get("crashed")]
    check(flagged == [expected_tid], "crashed flag on %s, expected only %s", flagged, expected_tid)
    for thread in truth["threads"]:
        found = lib.find_thread(document, thread)
        what = "thread %s (%s)" % (thread["thread_id"], thread["role"])
        if "native_id" in thread:
            check(found.get("tid") == thread["native_id"], "%s: tid %s, expected %s", what,
                  found.get("tid"), thread["native_id"])
        if thread["role"] == "busy":
            names = [frame[0] for frame in lib.python_frames(found)]
            check("spin" in names, "busy thread: no spin frame in %s", names)
            continue
        lib.compare_frames(what, lib.truth_frames(thread), lib.python_frames(found))
    return document


def folded_counts(path):
    """{stack: count} of a folded profile."""
    counts = {}
    with open(path) as source:
        for line in source:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            counts[stack] = counts.get(stack, 0) + int(count)
    return counts


def check_window(path, minimum, what):
    """The window's profile holds the fixture's busy_work (its work before
    the crash) in at least MINIMUM samples."""
    counts = folded_counts(path)
    busy = sum(count for stack, count in counts.items()
               if stack.split(";")[-1].startswith("busy_work ("))
    check(busy >= minimum, "%s: %d samples end in busy_work, expected at least %d (%d stacks)",
          what, busy, minimum, len(counts))


def python_stacks(document, truth):
    """{Python thread id: frames} of the threads whose stacks cannot move
    once the crash is let go: all but the spinning one."""
    busy = [thread["thread_id"] for thread in truth["threads"] if thread["role"] == "busy"]
    return dict((thread.get("thread_id"), lib.python_frames(thread)) for thread in document["threads"]
                if thread.get("thread_id") not in busy)


@lib.each_interpreter
def test_watch_launched_crash(label):
    """watch -- python fixture: for SIGSEGV in the main thread and SIGABRT
    in another, the crash snapshot and the window's profile, named as told,
    and the exit code of a death by the signal."""
    for mode, where in ROUNDS:
        workdir = lib.scratch("watch")
        out = os.path.join(workdir, "out")
        truth_path = os.path.join(workdir, "truth.json")
        signum = lib.MODE_SIGNAL[mode]
        result = run_launched(["watch", "-o", out, "-f", "folded", "--", lib.interpreter(label), WATCH_CRASH,
                               mode, truth_path, where, str(WORK_SECONDS)], workdir)
        what = "watch %s in %s" % (mode, where)
        check(result.code == 128 + signum, "%s: exit %s, expected %d (death by %s): %s", what, result.code,
              128 + signum, signal.Signals(signum).name, result.describe())
        truth = lib.load_truth(truth_path)
        stderr = result.stderr.decode("utf-8", "replace")
        message = "Process %d received %s in thread %d: wrote" % (
            truth["pid"], signal.Signals(signum).name, truth["crash_tid"])
        check(message in stderr, "%s: no %r in: %s", what, message, result.describe())
        snapshot = one_file(out, ".crash.core.gz", result)
        profile = one_file(out, ".folded", result)
        check_name(snapshot, truth["pid"], ".crash.core.gz")
        check_name(profile, truth["pid"], ".folded")
        check(snapshot[:-len(".crash.core.gz")] == profile[:-len(".folded")],
              "%s: the snapshot and the profile are not named alike: %s, %s", what, snapshot, profile)
        check(snapshot in stderr and profile in stderr, "%s: the files are not named in: %s", what, stderr)
        check_snapshot(snapshot, truth, signum)
        check_window(profile, 20, what)


def start_watch(argv, workdir):
    """pycoreprof ARGV in the background, once it says it is watching."""
    log = open(os.path.join(workdir, "watch.err"), "wb")
    proc = subprocess.Popen([lib.pycoreprof()] + argv, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=log, env=lib.fixture_env())
    log.close()
    deadline = time.time() + 30
    while True:
        with open(os.path.join(workdir, "watch.err"), "rb") as source:
            text = source.read().decode("utf-8", "replace")
        if "Watching process" in text:
            return proc
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise lib.Failure("pycoreprof %s did not start watching: exit %s: %s"
                              % (" ".join(argv), proc.returncode, text.strip()[-1000:]))
        time.sleep(0.02)


def finish_watch(proc, workdir, timeout=60):
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise lib.Failure("pycoreprof watch did not end in %d s" % timeout)
    with open(os.path.join(workdir, "watch.err"), "rb") as source:
        stderr = source.read()
    return lib.Result(["pycoreprof", "watch"], proc.returncode, stdout, stderr)


@lib.each(few_interpreters)
def test_watch_pid_crash_and_kernel_core(label):
    """watch --pid on a fixture with an unlimited core size: a snapshot on
    SIGUSR1 while it runs; at its crash, the crash snapshot and profile; it
    dies of its signal (its parent sees so) and the kernel's core is written
    too, with the same Python frames in every thread."""
    for mode, where in ROUNDS:
        workdir = lib.scratch("watch-pid")
        out = os.path.join(workdir, "out")
        truth_path = os.path.join(workdir, "truth.json")
        go = os.path.join(workdir, "go")
        signum = lib.MODE_SIGNAL[mode]
        what = "watch --pid, %s in %s" % (mode, where)
        fixture = lib.Process(label, [WATCH_CRASH, mode, truth_path, where, str(WORK_SECONDS), go],
                              workdir=workdir, ready=go + ".ready", preexec_fn=_unlimited_core)
        with fixture:
            try:
                pattern, missing = lib._core_glob(fixture.pid, os.path.basename(fixture.python)), None
            except lib.Missing as exc:
                pattern, missing = None, exc   # the rest runs; the kernel's part is skipped below
            watcher = start_watch(["watch", "--pid", str(fixture.pid), "-o", out, "-f", "folded"], workdir)
            try:
                # A snapshot on request, while the process runs.
                watcher.send_signal(signal.SIGUSR1)
                deadline = time.time() + 20
                while not files_in(out, ".core.gz") and time.time() < deadline:
                    time.sleep(0.05)
                with open(go, "w"):
                    pass
                code = fixture.proc.wait(timeout=60)
            finally:
                result = finish_watch(watcher, workdir)
        check(code == -signum, "%s: the fixture ended with %s, expected death by %s", what, code,
              signal.Signals(signum).name)
        check(result.code == 0, "%s: watch exit %s, expected 0: %s", what, result.code, result.describe())
        truth = lib.load_truth(truth_path)
        asked = [path for path in files_in(out, ".core.gz") if not path.endswith(".crash.core.gz")]
        check(len(asked) == 1, "%s: expected one snapshot asked by SIGUSR1, found %s: %s", what,
              os.listdir(out), result.describe())
        check_name(asked[0], truth["pid"], ".core.gz")
        running = lib.core_json(asked[0])
        check(not running.get("signal"), "%s: the snapshot taken on request names a signal: %s", what,
              running.get("signal"))
        parked = [thread for thread in truth["threads"] if thread["role"] == "parked"][0]
        lib.compare_frames(what + ", parked thread in the snapshot on request", lib.truth_frames(parked),
                           lib.python_frames(lib.find_thread(running, parked)))
        snapshot = one_file(out, ".crash.core.gz", result)
        document = check_snapshot(snapshot, truth, signum)
        profiles = files_in(out, ".folded")
        check(len(profiles) == 2, "%s: expected the profiles on request and at the crash: %s", what, profiles)
        check_window(profiles[-1], 20, what)
        if missing is not None:
            continue
        matches = [path for path in glob.glob(
            pattern if os.path.isabs(pattern) else os.path.join(workdir, pattern)) if os.path.isfile(path)]
        check(matches, "%s: no kernel core matching %s after the crash (the core size was unlimited)",
              what, pattern)
        kernel = lib.core_json(matches[0])
        check((kernel.get("signal") or {}).get("number") == signum, "%s: the kernel's core says %s", what,
              kernel.get("signal"))
        ours, theirs = python_stacks(document, truth), python_stacks(kernel, truth)
        check(sorted(ours) == sorted(theirs), "%s: threads %s in the snapshot, %s in the kernel's core",
              what, sorted(ours), sorted(theirs))
        for tid in ours:
            lib.compare_frames("%s: thread %s, snapshot against the kernel's core" % (what, tid),
                               theirs[tid], ours[tid])
    if missing is not None:
        raise missing


@lib.each(few_interpreters)
def test_watch_pid_killed_and_exit(label):
    """A process killed by SIGKILL leaves the window's profile and says so;
    one that exits leaves nothing (unless --at-end)."""
    workdir = lib.scratch("watch-kill")
    out = os.path.join(workdir, "out")
    info = os.path.join(workdir, "info.json")
    with lib.Process(label, [CHURN, "60", "--info", info], workdir=workdir) as fixture:
        time.sleep(0.5)
        watcher = start_watch(["watch", "--pid", str(fixture.pid), "-o", out, "-f", "folded"], workdir)
        time.sleep(1.5)
        os.kill(fixture.pid, signal.SIGKILL)
        result = finish_watch(watcher, workdir)
    stderr = result.stderr.decode("utf-8", "replace")
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check("Process %d was killed by SIGKILL: wrote" % fixture.pid in stderr, "no word of the SIGKILL: %s",
          result.describe())
    check(not files_in(out, ".core.gz"), "a snapshot was written for a SIGKILL: %s", os.listdir(out))
    profile = one_file(out, ".folded", result)
    counts = folded_counts(profile)
    check(any("churn_work (" in stack for stack in counts), "the window holds no churn_work: %s",
          sorted(counts)[:5])

    for at_end in (False, True):
        workdir = lib.scratch("watch-exit")
        out = os.path.join(workdir, "out")
        result = run_launched(["watch", "-o", out, "-f", "folded"] + (["--at-end"] if at_end else [])
                              + ["--", lib.interpreter(label), CHURN, "1.5", "--exit", "3"], workdir)
        stderr = result.stderr.decode("utf-8", "replace")
        check(result.code == 3, "exit %s, expected the command's 3: %s", result.code, result.describe())
        check(re.search(r"Process \d+ exited with status 3", stderr), "no word of the exit: %s",
              result.describe())
        written = os.listdir(out)
        if at_end:
            check(len(files_in(out, ".folded")) == 1 and not files_in(out, ".core.gz"),
                  "--at-end: expected the profile only: %s", written)
        else:
            check(not written, "a normal exit wrote %s", written)


@lib.each(few_interpreters)
def test_watch_every_rolls(label):
    """--every 1s: a snapshot and the window's profile each second, each
    pair replacing the last, so one pair is left; the profile holds only
    the window's samples."""
    workdir = lib.scratch("watch-every")
    out = os.path.join(workdir, "out")
    result = run_launched(["watch", "-o", out, "-f", "folded", "--every", "1s", "--window", "1s", "--",
                           lib.interpreter(label), CHURN, "4.5"], workdir)
    stderr = result.stderr.decode("utf-8", "replace")
    check(result.code == 0, "expected exit 0: %s", result.describe())
    rolls = stderr.count("pycoreprof: every 1 second: wrote")
    check(rolls >= 3, "%d rolling writes in 4.5 s, expected at least 3: %s", rolls, result.describe())
    snapshots, profiles = files_in(out, ".core.gz"), files_in(out, ".folded")
    check(len(snapshots) == 1 and len(profiles) == 1, "expected the last pair only, found %s",
          os.listdir(out))
    check(snapshots[0][:-len(".core.gz")] == profiles[0][:-len(".folded")],
          "the pair is not named alike: %s", os.listdir(out))
    running = lib.core_json(snapshots[0])
    check(not running.get("signal") and running.get("threads"), "the rolling snapshot: %s",
          {key: running.get(key) for key in ("signal", "pid")})
    samples = sum(folded_counts(profiles[0]).values())
    # A 1 s window at 100 Hz holds about 100 samples of the main thread (and
    # the churned threads' when running): far fewer than 4.5 s of them.
    check(0 < samples < 350, "the window's profile holds %d samples, expected those of about 1 s",
          samples)


@lib.each_interpreter
def test_watch_own_handler_unchanged(label):
    """A program that handles SIGSEGV and SIGABRT itself gets every one of
    them under watch, goes on and exits 0; nothing is written."""
    alone = lib.run([lib.interpreter(label), HANDLED, "handler", "5"], timeout=60)
    check(alone.code == 0 and b"handled SIGSEGV 5 SIGABRT 5" in alone.stdout,
          "the fixture alone: %s", alone.describe())
    workdir = lib.scratch("watch-handler")
    out = os.path.join(workdir, "out")
    result = run_launched(["watch", "-o", out, "--", lib.interpreter(label), HANDLED, "handler", "5"], workdir)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check(result.stdout == alone.stdout, "under watch it printed %r, alone %r", result.stdout, alone.stdout)
    check(not os.listdir(out), "handled signals wrote %s", os.listdir(out))


FAULT_LINE = re.compile(r'File "[^"]*handled_signals.py", line (\d+) in (\w+)')


@lib.each(python3_interpreters)
def test_watch_faulthandler_unchanged(label):
    """faulthandler prints its traceback under watch as it does alone, then
    the process dies by SIGSEGV (its re-raise is the crash caught)."""
    alone = lib.run([lib.interpreter(label), HANDLED, "faulthandler"], timeout=60)
    expected = FAULT_LINE.findall(alone.stderr.decode("utf-8", "replace"))
    check(alone.code == -signal.SIGSEGV and "Fatal Python error" in alone.stderr.decode("utf-8", "replace")
          and expected, "the fixture alone: %s", alone.describe())
    workdir = lib.scratch("watch-faulthandler")
    out = os.path.join(workdir, "out")
    result = run_launched(["watch", "-o", out, "--", lib.interpreter(label), HANDLED, "faulthandler"], workdir)
    stderr = result.stderr.decode("utf-8", "replace")
    check(result.code == 128 + signal.SIGSEGV, "expected exit %d: %s", 128 + signal.SIGSEGV, result.describe())
    check("Fatal Python error" in stderr and FAULT_LINE.findall(stderr) == expected,
          "faulthandler's traceback under watch differs: %s, expected %s: %s", FAULT_LINE.findall(stderr),
          expected, result.describe())
    document = lib.core_json(one_file(out, ".crash.core.gz", result))
    crashed = [thread for thread in document["threads"] if thread.get("crashed")]
    check(len(crashed) == 1 and (document.get("signal") or {}).get("number") == signal.SIGSEGV,
          "the crash snapshot: signal %s, crashed %s", document.get("signal"), crashed)
    names = [frame[0] for frame in lib.python_frames(crashed[0])]
    check("faulting_function" in names, "the crashed thread's frames %s lack faulting_function", names)


@lib.each(few_interpreters)
def test_record_writes_crash_snapshot(label):
    """record -o NAME.folded -- fixture: the crash snapshot beside the
    profile (NAME.crash.core.gz), said so, the fixture's frames in it, and
    the exit code of a death by the signal."""
    for mode, where in ROUNDS:
        workdir = lib.scratch("record-crash")
        truth_path = os.path.join(workdir, "truth.json")
        profile = os.path.join(workdir, "prof.folded")
        signum = lib.MODE_SIGNAL[mode]
        result = run_launched(["record", "-o", profile, "--", lib.interpreter(label), WATCH_CRASH, mode,
                               truth_path, where, str(WORK_SECONDS)], workdir)
        check(result.code == 128 + signum, "exit %s, expected %d: %s", result.code, 128 + signum,
              result.describe())
        snapshot = os.path.join(workdir, "prof.crash.core.gz")
        check(os.path.exists(snapshot), "no %s: %s", snapshot, result.describe())
        stderr = result.stderr.decode("utf-8", "replace")
        check("received %s" % signal.Signals(signum).name in stderr and "wrote %s" % snapshot in stderr,
              "record did not say it wrote the crash snapshot: %s", result.describe())
        check_snapshot(snapshot, lib.load_truth(truth_path), signum)
        check_window(profile, 20, "record %s" % mode)


@lib.each(lambda: [lib.interpreter_labels()[-1]])
def test_watch_memory_flat(label):
    """RSS of watch on a thread-churning fixture at 100 Hz, a 5 s window:
    what it holds once the window is full (after 15 s) and after 50 s
    differ by under 10 % (the 10-minute check is bench/bench_watch.py)."""
    with open(lib.pycoreprof(), "rb") as binary:
        if b"AddressSanitizer" in binary.read():
            raise lib.Skip("a sanitizer build keeps freed memory in quarantine: its RSS says nothing here")
    workdir = lib.scratch("watch-memory")
    out = os.path.join(workdir, "out")
    with lib.Process(label, [CHURN, "120"], workdir=workdir) as fixture:
        time.sleep(0.5)
        watcher = start_watch(["watch", "--pid", str(fixture.pid), "-o", out, "--window", "5s",
                               "--rate", "100", "--idle"], workdir)
        try:
            readings = {}
            started = time.time()
            for mark in (15, 50):
                time.sleep(max(0, started + mark - time.time()))
                with open("/proc/%d/status" % watcher.pid) as source:
                    rss = [int(line.split()[1]) for line in source if line.startswith("VmRSS:")][0]
                readings[mark] = rss
        finally:
            watcher.send_signal(signal.SIGINT)
            result = finish_watch(watcher, workdir)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    growth = (readings[50] - readings[15]) / float(readings[15])
    check(growth < 0.10, "RSS grew from %d KiB after 15 s to %d KiB after 50 s (%.1f %%)",
          readings[15], readings[50], 100 * growth)


def test_watch_bad_input():
    """Usage errors: exit 64, one line; an output that is a file: exit 2."""
    workdir = lib.scratch("watch-bad")
    for argv in (["watch"], ["watch", "--pid", "1", "--window", "soon"], ["watch", "--pid", "1", "--threads"],
                 ["watch", "--pid", "1", "--nonblocking"], ["watch", "--pid", "1", "--every", "0.1"]):
        result = lib.run_pycoreprof(argv)
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        check(result.code == 64 and len(lines) == 1, "%s: expected exit 64 and one line: %s", argv,
              result.describe())
    blocker = os.path.join(workdir, "a-file")
    with open(blocker, "w"):
        pass
    result = lib.run_pycoreprof(["watch", "--pid", str(os.getpid()), "-o", blocker])
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    check(result.code == 2 and len(lines) == 1 and "not a directory" in lines[0],
          "an output that is a file: %s", result.describe())
