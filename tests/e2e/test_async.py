# asyncio tasks (docs/tasks.md) on every interpreter from 3.7: the fixture
# async_graph.py builds a known await graph on two event loops and records,
# from inside, every task (asyncio.all_tasks()), each one's await chain with
# its frames' lines and the edges it built (on 3.14+ checked against
# CPython's own _asyncio_awaited_by); `dump --pid --tasks`, a SIGABRT core and
# a snapshot must each give exactly that.
import json
import os
import random
import signal
import struct
import time

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "async_graph.py")


def each_asyncio_interpreter(function):
    return lib.each_interpreter_from((3, 7))(function)


class Graph(lib.Process):
    """The fixture parked in its running task, ground truth written."""

    def __init__(self, label, pure=False):
        workdir = lib.scratch("async")
        self.truth_path = os.path.join(workdir, "truth.json")
        args = [FIXTURE, "park", self.truth_path] + (["--pure"] if pure else [])
        lib.Process.__init__(self, label, args, workdir=workdir, ready=self.truth_path)

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)


def tasks_json(args, what):
    result = lib.run_pycoreprof(args + ["--tasks", "--json"], timeout=120)
    check(result.code == 0, "%s: expected exit 0: %s", what, result.describe())
    return lib.parse_json(result)


def frames_of(entries):
    return [(frame.get("function"), frame.get("file"), frame.get("line")) for frame in entries]


def running_chain(truth):
    """The running task's chain: the main thread's frames, innermost first,
    up to the task's own coroutine frame."""
    main = [thread for thread in truth["threads"] if thread["role"] == "main"][0]
    frames = lib.truth_frames(main)
    names = [frame[0] for frame in frames]
    check(truth["running_function"] in names, "the ground truth's main thread has no %s frame",
          truth["running_function"])
    return frames[:names.index(truth["running_function"]) + 1]


def describe(task):
    return "task %s (%s)" % (task.get("name"), task.get("id"))


def check_tasks(what, document, truth):
    """DOCUMENT's tasks are exactly the fixture's: names, states, loops,
    threads, chains (function, file, line) and edges both ways."""
    check(document.get("tasks_error") is None, "%s: the tasks could not be read: %s", what,
          document.get("tasks_error"))
    found = dict((task["id"], task) for task in document.get("tasks") or [])
    expected = dict((task["id"], task) for task in truth["tasks"])
    names = dict((key, task["name"]) for key, task in expected.items())
    missing = sorted(names.get(key) or key for key in set(expected) - set(found))
    extra = sorted(str(found[key].get("name") or key) for key in set(found) - set(expected))
    check(not missing and not extra, "%s: tasks missing %s, unexpected %s", what, missing, extra)
    for key in truth["finished"]:
        check(key not in found, "%s: a task that is done (%s) is listed", what, key)
    awaited_by = dict((key, set()) for key in expected)
    awaiting = dict((key, set()) for key in expected)
    for waiter, awaited in truth["edges"]:
        awaited_by[awaited].add(waiter)
        awaiting[waiter].add(awaited)
    for key, want in expected.items():
        got = found[key]
        label = "%s, %s" % (what, describe(want))
        for field in ("name", "state", "loop", "thread"):
            check(got.get(field) == want[field], "%s: %s %r, expected %r", label, field, got.get(field),
                  want[field])
        chain = running_chain(truth) if want["state"] == "running" else frames_of(want["coroutine"])
        lib.compare_frames(label + " chain", chain, frames_of(got.get("coroutine") or []))
        check(got.get("error") is None, "%s: error %s", label, got.get("error"))
        for field, edges in (("awaited_by", awaited_by), ("awaiting", awaiting)):
            want_names = sorted(names.get(k) or k for k in edges[key])
            got_names = sorted(names.get(k) or k for k in got.get(field) or [])
            check(got_names == want_names, "%s: %s %s, expected %s", label, field, got_names, want_names)
    cycles = [set(cycle) for cycle in document.get("task_cycles") or []]
    pair = set(key for key, task in expected.items() if (task["name"] or "").startswith("cycle-"))
    if truth["has_names"]:
        check(pair in cycles, "%s: the cycle of %s is not among %s", what, sorted(pair),
              document.get("task_cycles"))


def check_truth_consistent(truth):
    """On 3.14+, the edges the fixture built are CPython's own."""
    if truth["cpython_edges"] is None:
        return
    mine = set(tuple(edge) for edge in truth["edges"])
    cpython = set(tuple(edge) for edge in truth["cpython_edges"])
    check(mine == cpython, "the fixture's edges %s differ from CPython's _asyncio_awaited_by %s",
          sorted(mine - cpython), sorted(cpython - mine))


@each_asyncio_interpreter
def test_dump_tasks(label):
    with Graph(label) as fixture:
        check_truth_consistent(fixture.truth)
        document = tasks_json(["dump", "--pid", str(fixture.pid)], "dump")
        check_tasks("dump", document, fixture.truth)
        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--tasks"], timeout=120)
        check(result.code == 0, "dump --tasks: expected exit 0: %s", result.describe())
        text = result.text()
        for task in fixture.truth["tasks"]:
            if task["name"]:
                check('Task "%s"' % task["name"] in text, "task %s missing from the text dump", task["name"])
        check("Event loop 0x" in text, "the text dump names no event loop: %s", text[-2000:])
        if fixture.truth["has_names"]:
            check("cycle" in text, "the text dump reports no cycle")


@each_asyncio_interpreter
def test_dump_tasks_pure_python(label):
    """Without the C accelerator: asyncio's pure-Python Task and Future."""
    with Graph(label, pure=True) as fixture:
        check(fixture.truth["pure"], "the fixture did not run pure")
        check_tasks("dump (pure Python asyncio)", tasks_json(["dump", "--pid", str(fixture.pid)], "dump"),
                    fixture.truth)


def abort_core(label):
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, FIXTURE, "abort", truth], workdir, signal.SIGABRT)
        check(os.path.exists(truth), "the fixture wrote no ground truth")
        return {"core": core, "truth": truth}

    made = lib.cached(label, "async-abort", make)
    return made["core"], lib.load_truth(made["truth"])


@each_asyncio_interpreter
def test_core_tasks(label):
    core, truth = abort_core(label)
    check_truth_consistent(truth)
    document = tasks_json(["core", core], "core")
    check_tasks("core", document, truth)
    result = lib.run_pycoreprof(["core", core, "--tasks"], timeout=120)
    check(result.code == 0, "core --tasks: expected exit 0: %s", result.describe())
    check("in the crashed thread" in result.text(), "the running task is not marked as the crashed one")


@each_asyncio_interpreter
def test_snapshot_tasks(label):
    with Graph(label) as fixture:
        path = os.path.join(fixture.workdir, "tasks.core.gz")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--tasks", "-o", path], timeout=120)
        check(result.code == 0 and os.path.exists(path), "snapshot --tasks: %s", result.describe())
        document = tasks_json(["core", path], "core of the snapshot")
        check(document.get("source") == "snapshot", "source %r", document.get("source"))
        check_tasks("snapshot", document, fixture.truth)


def load_segments(data):
    """(vaddr, file offset, file size) of each PT_LOAD of the ELF core DATA."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 1:
            yield p_vaddr, p_offset, p_filesz


def file_offset(data, address):
    for vaddr, offset, size in load_segments(data):
        if vaddr <= address < vaddr + size:
            return offset + address - vaddr
    raise lib.Failure("address 0x%x is not in the core" % address)


def corrupted_copy(core, out_path, patches):
    with open(core, "rb") as source:
        data = bytearray(source.read())
    for address, payload in patches:
        at = file_offset(data, address)
        data[at:at + len(payload)] = payload
    with open(out_path, "wb") as out:
        out.write(bytes(data))
    return out_path


def test_corrupt_task_list():
    """A core whose task set is corrupt: one error line, exit 1, and every
    thread's stack still printed; fuzzed task objects never crash or hang
    the reader (sanitizer build)."""
    labels = [label for label in lib.interpreter_labels()
              if (3, 7) <= lib.label_version(label) < (3, 14) and label.startswith("pyenv")]
    if not labels:
        raise lib.Missing("no pyenv interpreter from 3.7 to 3.13")
    label = labels[-1]
    core, truth = abort_core(label)
    workdir = lib.scratch("async-corrupt")
    # The set's mask and table pointer: 16 bytes of 0xff.
    address = int(truth["task_set"], 16)
    bad = corrupted_copy(core, os.path.join(workdir, "bad-set.core"),
                         [(address + offset, b"\xff" * 8) for offset in range(16, 64, 8)])
    for asan in (False, True):
        result = lib.run_pycoreprof(["core", bad, "--tasks"], asan=asan, timeout=120)
        check(result.code == 1, "corrupt task set: expected exit 1: %s", result.describe())
        text = result.text()
        check("cannot read the asyncio tasks" in text, "no error line for the task list: %s", text[-1500:])
        check(text.count("cannot read the asyncio tasks") == 1, "more than one error line: %s", text[-1500:])
        check("Thread %d" % truth["pid"] in text and "finish" in text, "the threads were not printed: %s",
              text[:1500])
        stderr = result.stderr.decode("utf-8", "replace").strip().splitlines()
        check(len(stderr) == 1, "expected one line on stderr, got %s", stderr)
    rng = random.Random(1729)
    tasks = [int(task["id"], 16) for task in truth["tasks"]]
    for round_ in range(12):
        patches = [(address, bytes(rng.randrange(256) for _ in range(rng.choice((8, 32, 64)))))
                   for address in rng.sample(tasks, 4)]
        fuzzed = corrupted_copy(core, os.path.join(workdir, "fuzz-%d.core" % round_), patches)
        result = lib.run_pycoreprof(["core", fuzzed, "--tasks", "--json"], asan=True, timeout=120)
        check(result.code in (0, 1), "fuzzed core %d: exit %s: %s", round_, result.code, result.describe())
        document = json.loads(result.stdout.decode("utf-8"))
        check(document.get("threads"), "fuzzed core %d: no threads", round_)


# ---------------------------------------------------------------- record --async

SHARES = os.path.join(lib.FIXTURES, "async_shares.py")
SHARE_TOLERANCE = 0.03


class AsyncShares(lib.Process):
    """async_shares.py: tasks alpha and beta share the loop 60/40 under a
    server task, from the moment its info is written until ended by PID."""

    def __init__(self, label):
        workdir = lib.scratch("async-shares")
        self.info_path = os.path.join(workdir, "info.json")
        self.totals_path = os.path.join(workdir, "totals.txt")
        lib.Process.__init__(self, label, [SHARES, self.info_path, self.totals_path, "300"], workdir=workdir,
                             ready=self.info_path)

    def settle(self):
        self.info = lib.load_truth(self.info_path)

    def totals(self):
        """(alpha, beta) CPU seconds spent so far, as the fixture measured."""
        deadline = time.time() + 30
        while not os.path.exists(self.totals_path):
            check(time.time() < deadline, "the fixture wrote no totals")
            time.sleep(0.02)
        with open(self.totals_path) as source:
            _, alpha, beta = source.read().split()
        return float(alpha), float(beta)

    def label_of(self, name):
        if self.info["named"]:
            return "task " + name
        return "task " + (self.info["tasks"].get(name) or self.info["server"])


def folded(path):
    stacks = []
    with open(path) as source:
        for line in source:
            frames, _, count = line.rstrip("\n").rpartition(" ")
            stacks.append((frames.split(";"), int(count)))
    return stacks


@each_asyncio_interpreter
def test_record_async_shares(label):
    """record --async: the samples under each task's `task NAME` frame share
    the CPU as the tasks did by their own measure (60/40), within 3 points;
    each worker's stacks go on through the server task awaiting it, whose
    `task server` frame is their root. Judged over up to three recordings
    on a busy machine; a wrong count misses every time."""
    with AsyncShares(label) as fixture:
        alpha, beta, server = (fixture.label_of(name) for name in ("alpha", "beta", "server"))
        counts = [0, 0]
        spent = [0.0, 0.0]
        for attempt in range(1, 4):
            out = fixture.path("async-%d.folded" % attempt)
            before = fixture.totals()
            result = lib.run_pycoreprof(["record", "--pid", str(fixture.pid), "--duration", "6", "--rate", "400",
                                         "--async", "-o", out], timeout=120)
            after = fixture.totals()
            check(result.code == 0, "record --async: %s", result.describe())
            for index in (0, 1):
                spent[index] += after[index] - before[index]
            for frames, count in folded(out):
                for index, task in enumerate((alpha, beta)):
                    if task not in frames:
                        continue
                    counts[index] += count
                    at = frames.index(task)
                    check(frames[0] == server and at > 1, "a stack of %s does not start with %s and its "
                          "chain: %s", task, server, ";".join(frames))
                    check(any(frame.startswith("handle_") or frame.startswith("serve ") or
                              frame.startswith("worker ") for frame in frames[at + 1:]),
                          "a stack of %s has none of its frames: %s", task, ";".join(frames))
            check(sum(counts) > 200, "only %d samples in the two workers", sum(counts))
            share = counts[0] / float(sum(counts))
            expected = spent[0] / (spent[0] + spent[1])
            print("%s attempt %d: %s %d, %s %d: %.3f of the samples, %.3f of the CPU" % (
                label, attempt, alpha, counts[0], beta, counts[1], share, expected))
            if abs(share - expected) <= SHARE_TOLERANCE:
                return
        raise lib.Failure("%s holds %.3f of the workers' samples, but had %.3f of their CPU time (%s)"
                          % (alpha, share, expected, counts))
