# Python thread names, read from the threading module's registry: `dump` of
# a running process, a core and a snapshot name every thread as
# threading.enumerate() did in the fixture (text and JSON), on every
# interpreter; a core whose registry is damaged is read under the
# sanitizers, names left out where they cannot be read; and `record
# --threads` gives each thread one root, named as the thread was named last.
import os
import re
import signal
import struct

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "named_threads.py")
NAME_MAX = 255  # bytes pycoreprof keeps of a name (PY_THREAD_NAME_MAX - 1)


def kept(name):
    """NAME as pycoreprof keeps it: cut at a character boundary within
    NAME_MAX bytes of UTF-8."""
    data = name.encode("utf-8")
    if len(data) <= NAME_MAX:
        return name
    return data[:NAME_MAX].decode("utf-8", "ignore")


def check_names(what, document, truth):
    """Every thread the fixture listed has its name; a thread it did not
    list has none."""
    listed = dict((entry["thread_id"], entry["name"]) for entry in truth["names"])
    check(len(listed) >= 9, "the fixture listed %d threads", len(listed))
    threads = lib.threads_by_id(document)
    for ident, name in sorted(listed.items()):
        thread = threads.get(ident)
        check(thread is not None, "%s: thread %s (%r) missing (threads: %s)", what, ident, name,
              sorted(threads, key=str))
        check(thread.get("name") == kept(name), "%s: thread %s is named %r, expected %r", what, ident,
              thread.get("name"), kept(name))
    for ident, thread in threads.items():
        if ident not in listed:
            check(thread.get("name") is None, "%s: thread %s, not in threading's registry, is named %r",
                  what, ident, thread.get("name"))


def check_text(what, text, truth):
    """The text output's thread lines carry the plain names."""
    for entry in truth["names"]:
        native = entry.get("native_id")
        name = kept(entry["name"])
        if native is None or not re.match(r"^[\w() -]+$", name):
            continue
        line = 'Thread %d "%s"' % (native, name)
        check(line in text, "%s: no line %r in the text output:\n%s", what, line, text[:3000])


class Parked(lib.Process):
    def __init__(self, label):
        workdir = lib.scratch("names")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [FIXTURE, "park", self.truth_path], workdir=workdir,
                             ready=self.truth_path, name="the named threads fixture")

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)


@lib.each_interpreter
def test_dump_names(label):
    with Parked(label) as fixture:
        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--json"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check_names("dump --json", lib.parse_json(result), fixture.truth)
        text = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid)])
        check(text.code == 0, "expected exit 0: %s", text.describe())
        check_text("dump", text.text(), fixture.truth)


@lib.each_interpreter
def test_core_names(label):
    core, truth = abort_core(label)
    check_names("core --json", lib.core_json(core), truth)
    check_text("core", lib.run_pycoreprof(["core", core]).text(), truth)


def abort_core(label):
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, FIXTURE, "abort", truth], workdir, signal.SIGABRT)
        return {"core": core, "truth": truth}

    made = lib.cached(label, "named-threads-abort", make)
    return made["core"], lib.load_truth(made["truth"])


def file_offset(data, address):
    """Where the byte at ADDRESS of the process is in the ELF core DATA."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _, offset, vaddr, _, filesz = struct.unpack_from("<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 1 and vaddr <= address and address + 64 <= vaddr + filesz:
            return offset + address - vaddr
    raise lib.Failure("0x%x is not in the core's memory" % address)


SANITIZER_MARKS = ("Sanitizer", "runtime error:", "SUMMARY:", "==ERROR")
# Objects of the registry, and the bytes of each that are overwritten
# (relative to the object; 3.11+ keep an instance's dict before it): all but
# the reference count and the type, so sizes, counts and pointers lie.
DAMAGE = {
    "active": [(16, 48)],
    "thread": [(-32, 32), (16, 48)],
    "name": [(16, 48)],
}


@lib.each(lambda: ["%s/%s" % (label, part) for label in lib.interpreter_labels() for part in sorted(DAMAGE)])
def test_damaged_registry(param):
    label, part = param.split("/")
    core, truth = abort_core(label)
    with open(core, "rb") as source:
        data = bytearray(source.read())
    address = truth["objects"][part]
    for start, length in DAMAGE[part]:
        at = file_offset(data, address + start)
        data[at:at + length] = b"\x7f" * length
    damaged = os.path.join(lib.scratch("damaged"), "core")
    with open(damaged, "wb") as out:
        out.write(data)
    result = lib.run_pycoreprof(["core", damaged, "--json"], asan=True, timeout=120)
    output = result.text()
    for mark in SANITIZER_MARKS:
        check(mark not in output, "the sanitizers report on a core with a damaged %s: %s", part, output[-3000:])
    check(result.code in (0, 1), "expected exit 0 or 1: %s", result.describe())
    document = lib.parse_json(result)
    # The stacks are as in the whole core.
    whole = lib.core_json(core)
    for ident, thread in lib.threads_by_id(whole).items():
        lib.compare_frames("thread %s" % ident, lib.python_frames(thread),
                           lib.python_frames(lib.threads_by_id(document)[ident]))
    listed = dict((entry["thread_id"], entry["name"]) for entry in truth["names"])
    hit = {"active": set(listed), "thread": {truth["objects"]["thread_ident"]},
           "name": {truth["objects"]["name_ident"]}}[part]
    for ident, thread in lib.threads_by_id(document).items():
        name = thread.get("name")
        if ident in hit:
            # Unreadable (no name), or what the bytes there read as, bounded.
            check(name is None or len(name.encode("utf-8", "surrogatepass")) <= NAME_MAX,
                  "thread %s (damaged %s) is named %r", ident, part, name)
        else:
            check(name == (kept(listed[ident]) if ident in listed else None),
                  "thread %s is named %r, expected %r (damaged %s)", ident, name, listed.get(ident), part)


@lib.each_interpreter
def test_snapshot_names(label):
    with Parked(label) as fixture:
        out = os.path.join(fixture.workdir, "names.snap")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "-o", out])
        check(result.code == 0 and os.path.exists(out), "snapshot failed: %s", result.describe())
    # The fixture is gone: the names come from the snapshot's pages alone.
    check_names("core --json of a snapshot", lib.core_json(out), fixture.truth)


def thread_roots(path):
    """{tid: set of names (None: unnamed)} of the thread roots of a folded file."""
    roots = {}
    with open(path, encoding="utf-8", errors="replace") as source:
        for line in source:
            line = line.rstrip("\n")
            root = line.split(";", 1)[0] if ";" in line else line.rsplit(" ", 1)[0]
            match = re.match(r'^thread (\d+)(?: "(.*)")?$', root)
            check(match, "a stack without a thread root: %r", line[:200])
            roots.setdefault(int(match.group(1)), set()).add(match.group(2))
    return roots


@lib.each_interpreter
def test_record_thread_roots(label):
    python = lib.interpreter(label)
    workdir = lib.scratch("roots")
    truth_path = os.path.join(workdir, "truth.json")
    out = os.path.join(workdir, "threads.folded")
    result = lib.run_pycoreprof(["record", "--threads", "-o", out, "--", python, FIXTURE, "churn", truth_path],
                                timeout=240)
    check(result.code in (0, 1) and os.path.exists(out), "record failed: %s", result.describe())
    truth = lib.load_truth(truth_path)
    names = dict((thread["native_id"], thread["name"]) for thread in truth["threads"])
    names[truth["main"]["native_id"]] = truth["main"]["name"]
    check(len(truth["threads"]) == 40 and None not in names, "the fixture's threads: %s", truth["threads"])
    roots = thread_roots(out)
    for tid, seen in sorted(roots.items()):
        check(tid in names, "a root for thread %d, which is none of the fixture's: %s", tid, sorted(roots))
        check(len(seen) == 1, "thread %d has %d roots: %s", tid, len(seen), sorted(seen, key=str))
        check(seen == {names[tid]}, "thread %d's root is named %r, expected its last name %r", tid,
              seen.pop(), names[tid])
    # Each thread runs busy for a third of a second at least: nearly all
    # are seen, renamed ones among them.
    workers = [tid for tid in roots if tid != truth["main"]["native_id"]]
    renamed = [tid for tid in workers if names[tid].startswith("renamed-")]
    check(len(workers) >= 30 and len(renamed) >= 8, "only %d of 40 threads (%d renamed) were sampled: %s",
          len(workers), len(renamed), result.describe())
