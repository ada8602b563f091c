# The interpreter's own state: a thread stopped inside a garbage collection
# (a __del__ run by gc.collect() that aborts or parks) is marked collecting;
# an interpreter stopped while finalizing (a __del__ run when modules are
# cleared at exit, an atexit handler) says so. Cores, live dumps and
# snapshots of interp_state.py, on every interpreter.
import os
import re
import signal

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "interp_state.py")


def aborted(label, where):
    """(core, truth) of interp_state.py WHERE abort, cached for the run."""
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, FIXTURE, where, "abort", truth], workdir, signal.SIGABRT)
        check(os.path.exists(truth), "the fixture wrote no ground truth")
        return {"core": core, "truth": truth}

    made = lib.cached(label, "interp-" + where, make)
    return made["core"], lib.load_truth(made["truth"])


class Parked(lib.Process):
    """interp_state.py WHERE park, from the moment it is parked."""

    def __init__(self, label, where):
        self.truth_path = None
        workdir = lib.scratch("interp-" + where)
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [FIXTURE, where, "park", self.truth_path], workdir=workdir,
                             ready=self.truth_path + ".parked")

    def truth(self):
        return lib.load_truth(self.truth_path)


def dump(pid, extra=()):
    result = lib.run_pycoreprof(["dump", "--pid", str(pid), "--json"] + list(extra))
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return lib.parse_json(result)


def snapshot_json(pid, directory):
    path = os.path.join(directory, "snapshot")
    result = lib.run_pycoreprof(["snapshot", "--pid", str(pid), "-o", path])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return lib.core_json(path)


def state(document):
    return document.get("python") or {}


def thread_of(document, thread_id):
    for thread in document.get("threads") or []:
        if thread.get("thread_id") == thread_id:
            return thread
    raise lib.Failure("thread %s missing from the output" % thread_id)


def gc_threads(document):
    return sorted(thread.get("thread_id") for thread in document.get("threads") or [] if thread.get("gc"))


def expected_run_state(label, set_before_exit_functions=False):
    """What the version records: 2.7 nothing; before 3.12 finalization is
    marked only once the exit functions ran."""
    if lib.label_version(label) < (3,):
        return None
    if set_before_exit_functions and lib.label_version(label) < (3, 12):
        return "running"
    return "finalizing"


def header(core_or_pid, live=False):
    args = ["dump", "--pid", str(core_or_pid)] if live else ["core", core_or_pid]
    result = lib.run_pycoreprof(args + ["--no-source"])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return result.text()


@lib.each_interpreter
def test_gc_abort(label):
    """The collecting thread aborts in a __del__ holding the GIL: marked."""
    core, truth = aborted(label, "gc")
    document = lib.core_json(core)
    py = state(document)
    check(py.get("gc_collecting") is True, "python.gc_collecting %r, expected true", py.get("gc_collecting"))
    if lib.label_version(label) >= (3,):
        check(py.get("state") == "running", "python.state %r, expected 'running'", py.get("state"))
    collector = thread_of(document, truth["thread_id"])
    check(gc_threads(document) == [truth["thread_id"]], "threads marked collecting: %s, expected "
          "only the collector %s", gc_threads(document), truth["thread_id"])
    check(collector.get("crashed"), "the collector is not the crashed thread")
    lib.compare_frames("collector", lib.truth_frames(truth), lib.python_frames(collector))
    text = header(core)
    check("collecting garbage" in text.splitlines()[1], "header does not say a collection runs: %r",
          text.splitlines()[1])
    # `Thread TID "NAME" (...)`: the name is the thread's own, where Python has one.
    check(any(re.match(r'Thread %d( "[^"]*")? \(' % truth["native_id"], line) and "collecting garbage" in line
              for line in text.splitlines()), "the collector's thread line does not say it collects")


@lib.each_interpreter
def test_gc_park(label):
    """The collecting thread parks in a __del__ (the GIL released): the
    interpreter collects; the collector is marked where the version records
    the frame that started the collection (3.15+) or from its native frames
    where the interpreter names its collector's functions (pyenv builds have
    a symbol table); no other thread ever is. A snapshot says the same."""
    with Parked(label, "gc") as fixture:
        truth = fixture.truth()
        live = dump(fixture.pid)
        native = dump(fixture.pid, ["--native"])
        snap = snapshot_json(fixture.pid, fixture.workdir)
    for what, document in (("dump", live), ("dump --native", native), ("snapshot", snap)):
        check(state(document).get("gc_collecting") is True, "%s: python.gc_collecting %r, expected true",
              what, state(document).get("gc_collecting"))
        marked = gc_threads(document)
        check(marked in ([], [truth["thread_id"]]), "%s: threads marked collecting %s, expected at most "
              "the collector %s", what, marked, truth["thread_id"])
        lib.compare_frames("%s, collector" % what, lib.truth_frames(truth),
                           lib.python_frames(thread_of(document, truth["thread_id"])))
    if lib.label_version(label) >= (3, 15):
        check(gc_threads(live) == [truth["thread_id"]], "3.15 records the collection's frame: %s marked, "
              "expected %s", gc_threads(live), truth["thread_id"])
    if label.startswith("pyenv-"):
        check(gc_threads(native) == [truth["thread_id"]], "with --native the collector %s is not marked "
              "(marked: %s)", truth["thread_id"], gc_threads(native))
    for key in ("state", "gc_collecting", "finalizing_tid"):
        check(state(snap).get(key) == state(live).get(key), "snapshot python.%s %r, live %r", key,
              state(snap).get(key), state(live).get(key))
    check(gc_threads(snap) == gc_threads(live), "snapshot marks %s collecting, live %s", gc_threads(snap),
          gc_threads(live))


@lib.each_interpreter
def test_finalizing_abort(label):
    """A __del__ run while modules are cleared at exit aborts."""
    core, truth = aborted(label, "final")
    document = lib.core_json(core)
    py = state(document)
    want = expected_run_state(label)
    check(py.get("state") == want, "python.state %r, expected %r", py.get("state"), want)
    main = thread_of(document, truth["main_thread_id"])
    names = [frame[0] for frame in lib.python_frames(main)]
    check(names[:2] == ["stop", "__del__"], "main thread's frames %s, expected stop and __del__ innermost",
          names)
    if want == "finalizing":
        check(py.get("finalizing_tid") == truth["pid"], "python.finalizing_tid %r, expected the main "
              "thread %d", py.get("finalizing_tid"), truth["pid"])
        line = header(core).splitlines()[1]
        check("finalizing in thread %d" % truth["pid"] in line, "header %r does not say it finalizes", line)


@lib.each_interpreter
def test_finalizing_park(label):
    """The same __del__ parks: a live dump and a snapshot say finalizing."""
    with Parked(label, "final") as fixture:
        truth = fixture.truth()
        live = dump(fixture.pid)
        text = header(fixture.pid, live=True)
        snap = snapshot_json(fixture.pid, fixture.workdir)
    want = expected_run_state(label)
    for what, document in (("dump", live), ("snapshot", snap)):
        py = state(document)
        check(py.get("state") == want, "%s: python.state %r, expected %r", what, py.get("state"), want)
        if want == "finalizing":
            check(py.get("finalizing_tid") == truth["pid"], "%s: python.finalizing_tid %r, expected %d",
                  what, py.get("finalizing_tid"), truth["pid"])
    if want == "finalizing":
        check("finalizing in thread %d" % truth["pid"] in text.splitlines()[1],
              "header %r does not say it finalizes", text.splitlines()[1])
        check(any(line.startswith("Thread %d (" % truth["pid"]) and "finalizing the interpreter" in line
                  for line in text.splitlines()), "the main thread's line does not say it finalizes")


@lib.each_interpreter
def test_atexit_abort(label):
    """An atexit handler aborts: 3.12+ mark the interpreter finalizing before
    the exit functions run; older versions only after (so: running)."""
    core, truth = aborted(label, "atexit")
    document = lib.core_json(core)
    want = expected_run_state(label, set_before_exit_functions=True)
    check(state(document).get("state") == want, "python.state %r, expected %r",
          state(document).get("state"), want)
    main = thread_of(document, truth["main_thread_id"])
    names = [frame[0] for frame in lib.python_frames(main)]
    check(names[:2] == ["stop", "at_exit"], "main thread's frames %s, expected stop and at_exit innermost",
          names)
