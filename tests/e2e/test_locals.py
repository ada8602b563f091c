# `--locals` of `dump`, `core` and snapshots, for every interpreter: the
# locals fixture records each of its frames' locals (name, kind, type and the
# bounded repr of docs/locals.md, written with Python's own repr() of each
# leaf); a live dump, a SIGABRT core and a snapshot must all show exactly
# those. A core whose values were corrupted (a list and a str whose size
# lies, a negative length, an items pointer into nothing) shows bounded,
# marked reprs, and the sanitizer build reads it cleanly. A frame whose values
# read more than its budget shows its first locals and markers for the rest. The text of floats,
# ints, str characters and bytes matches repr() value by value.
import os
import re
import shutil
import struct
import subprocess

import lib
from lib import check

FIXTURE = "locals.py"
BIG = 1 << 60          # a list size and a str length that lie
NOWHERE = 0x10         # an items pointer into unmapped memory


def locals_of(frame):
    return [(item.get("name"), item.get("kind"), item.get("type"), item.get("repr"))
            for item in frame.get("locals") or []]


def truth_locals(frame):
    return [(item["name"], item["kind"], item["type"], item["repr"]) for item in frame["locals"]]


def compare_locals(what, expected, actual):
    for index, (want, got) in enumerate(zip(expected, actual)):
        check(want == got, "%s: local %d is %r, expected %r", what, index, got, want)
    check(len(expected) == len(actual), "%s: %d locals, expected %d (%s)", what, len(actual),
          len(expected), [name for name, _, _, _ in (actual if len(actual) > len(expected)
                                                     else expected)[min(len(expected), len(actual)):]])


def python_frames_by_function(thread):
    return dict((frame.get("function"), frame) for frame in thread.get("frames") or []
                if frame.get("kind") == "python")


def output_thread(what, document, thread_id):
    for thread in document.get("threads") or []:
        if thread.get("thread_id") == thread_id:
            return thread
    raise lib.Failure("%s: thread %s missing (thread ids: %s)" % (
        what, thread_id, [thread.get("thread_id") for thread in document.get("threads") or []]))


def check_truth(what, document, truth, replaced=None):
    """Every frame the fixture described shows exactly the locals it
    recorded; REPLACED maps a local's name to a check of its output entry
    instead (values corrupted in the core)."""
    replaced = replaced or {}
    checked = 0
    for truth_thread in truth["locals_threads"]:
        thread = output_thread(what, document, truth_thread["thread_id"])
        frames = python_frames_by_function(thread)
        for truth_frame in truth_thread["frames"]:
            where = "%s, thread %r, %s()" % (what, truth_thread["name"], truth_frame["function"])
            frame = frames.get(truth_frame["function"])
            check(frame is not None, "%s: no such frame (frames: %s)", where, sorted(frames, key=str))
            check("locals" in frame, "%s: the frame has no \"locals\" member: %r", where, frame)
            check("locals_error" not in frame, "%s: %s", where, frame.get("locals_error"))
            expected = [entry for entry in truth_locals(truth_frame) if entry[0] not in replaced]
            actual = [entry for entry in locals_of(frame) if entry[0] not in replaced]
            compare_locals(where, expected, actual)
            for entry in locals_of(frame):
                if entry[0] in replaced:
                    replaced[entry[0]](where, entry)
            checked += len(expected)
    check(checked >= 40, "%s: only %d locals compared", what, checked)


BUDGET_MARKER = "<not read: the frame's 65536-byte read limit was reached>"


def check_budget(what, document, truth):
    """The frame whose values read more than its budget: the first locals
    exact, then each later one the budget's marker, the frame itself whole."""
    truth_thread = truth["budget_thread"]
    frame = python_frames_by_function(output_thread(what, document, truth_thread["thread_id"])).get("budget_frame")
    check(frame is not None, "%s: no budget_frame frame", what)
    expected = truth_locals(truth_thread["frames"][0])
    actual = locals_of(frame)
    check([entry[:2] for entry in actual] == [entry[:2] for entry in expected],
          "%s: budget_frame's names and kinds differ: %r", what, [entry[:2] for entry in actual][:10])
    full = 0
    while full < len(actual) and actual[full] == expected[full]:
        full += 1
    for index in range(full, len(actual)):
        check(actual[index][2] is None and actual[index][3] == BUDGET_MARKER,
              "%s: budget_frame's local %d is %r after %d read in full", what, index, actual[index], full)
    check(100 <= full < len(actual), "%s: %d of budget_frame's %d locals read in full", what, full, len(actual))


def same_locals(what, first, second):
    """Two outputs of one process in one state show the same locals in
    every Python frame of every thread."""
    for thread in first.get("threads") or []:
        other = output_thread(what, second, thread.get("thread_id"))
        frames = [frame for frame in thread.get("frames") or [] if frame.get("kind") == "python"]
        others = [frame for frame in other.get("frames") or [] if frame.get("kind") == "python"]
        check(len(frames) == len(others), "%s: thread %s has %d and %d frames", what,
              thread.get("thread_id"), len(frames), len(others))
        for frame, twin in zip(frames, others):
            compare_locals("%s, thread %s, %s()" % (what, thread.get("thread_id"), frame.get("function")),
                           locals_of(frame), locals_of(twin))


def core_locals(core, asan=False):
    result = lib.run_pycoreprof(["core", core, "--locals", "--json"], asan=asan, timeout=120)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return lib.parse_json(result)


@lib.each_interpreter
def test_abort_core(label):
    core, truth = lib.fixture_core(label, "locals-abort", "abort", fixture=FIXTURE)
    document = core_locals(core)
    check_truth("core --locals", document, truth)
    check_budget("core --locals", document, truth)


@lib.each_interpreter
def test_dump_and_snapshot(label):
    workdir = lib.scratch("locals")
    truth_path = os.path.join(workdir, "truth.json")
    script = os.path.join(lib.FIXTURES, FIXTURE)
    with lib.Process(label, [script, "park", truth_path], workdir=workdir, ready=truth_path) as fixture:
        truth = lib.load_truth(truth_path)
        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--locals", "--json"], timeout=120)
        check(result.code == 0, "expected exit 0: %s", result.describe())
        dumped = lib.parse_json(result)
        check_truth("dump --locals", dumped, truth)
        check_budget("dump --locals", dumped, truth)

        plain = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--json"])
        check(plain.code == 0, "expected exit 0: %s", plain.describe())
        for thread in lib.parse_json(plain).get("threads") or []:
            for frame in thread.get("frames") or []:
                check("locals" not in frame, "dump without --locals: a frame has locals: %r", frame)

        snapshot = os.path.join(workdir, "locals.core.gz")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--locals", "-o", snapshot],
                                    timeout=120)
        check(result.code == 0 and os.path.exists(snapshot), "snapshot --locals: %s", result.describe())
        check(fixture.proc.poll() is None, "the fixture died during the snapshot")
        snapped = core_locals(snapshot)
        check_truth("core --locals of a snapshot", snapped, truth)
        check_budget("core --locals of a snapshot", snapped, truth)
        same_locals("dump and snapshot", dumped, snapped)


@lib.each_interpreter
def test_text(label):
    """The text form: `name = repr` under each frame, as the JSON has them."""
    core, truth = lib.fixture_core(label, "locals-abort", "abort", fixture=FIXTURE)
    result = lib.run_pycoreprof(["core", core, "--locals", "--no-source"])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    lines = result.text().splitlines()
    for truth_thread in truth["locals_threads"]:
        for truth_frame in truth_thread["frames"]:
            heads = [i for i, line in enumerate(lines) if line.startswith("    ") and
                     not line.startswith("     ") and
                     line[4:].split(" (")[0].split(".")[-1] == truth_frame["function"]]
            check(heads, "no frame line for %s() in: %s", truth_frame["function"], "\n".join(lines[:40]))
            body = lines[heads[0] + 1:heads[0] + 1 + len(truth_frame["locals"])]
            want = ["        %s = %s" % (item["name"], item["repr"]) for item in truth_frame["locals"]]
            check(body == want, "%s(): text shows\n%s\nexpected\n%s", truth_frame["function"],
                  "\n".join(body), "\n".join(want))


@lib.each_interpreter
def test_repr_text(label):
    """Floats, ints of up to 3,000 bits, every byte and assigned characters
    across Unicode are written as this interpreter's repr() writes them."""
    checker = os.path.join(lib._build_dir("PYCOREPROF_TEST_BUILD", "build"), "tests", "tools", "repr_check")
    check(os.access(checker, os.X_OK), "%s not built: run make unit", checker)
    dump = subprocess.Popen([lib.interpreter(label), os.path.join(lib.REPO, "tests", "e2e", "repr_dump.py")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    result = subprocess.run([checker], stdin=dump.stdout, stdout=subprocess.PIPE, timeout=300)
    dump.stdout.close()
    errors = dump.stderr.read().decode("utf-8", "replace")
    dump.wait(timeout=60)
    check(dump.returncode == 0, "repr_dump.py failed under %s: %s", label, errors[-1000:])
    summary = result.stdout.decode("utf-8", "replace")
    match = re.search(r"checked (\d+) values, (\d+) mismatches", summary)
    check(match is not None, "no summary from repr_check: %s", summary[-1000:])
    check(int(match.group(1)) >= 50000, "only %s values checked", match.group(1))
    check(match.group(2) == "0", "repr mismatches:\n%s", summary[-3000:])


# ---------------------------------------------------------------- hostile values

def load_segments(data):
    """(vaddr, file offset, file size) of each PT_LOAD of the ELF core DATA."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 1:
            yield p_vaddr, p_offset, p_filesz


def poke(data, address, value):
    for vaddr, offset, size in load_segments(data):
        if vaddr <= address and address + 8 <= vaddr + size:
            struct.pack_into("<q" if value < 0 else "<Q", data, offset + address - vaddr, value)
            return
    raise lib.Failure("address 0x%x is not in the core" % address)


def marked(expected_text):
    def check_entry(where, entry):
        name, _, _, text = entry
        check(expected_text in text, "%s: %s = %r, expected it to hold %r", where, name, text, expected_text)
        check(len(text.encode("utf-8")) <= 2000, "%s: %s's repr is %d bytes long", where, name, len(text))
    return check_entry


@lib.each_interpreter
def test_hostile_values(label):
    core, truth = lib.fixture_core(label, "locals-abort", "abort", fixture=FIXTURE)
    hostile = truth["hostile"]
    workdir = lib.scratch("locals-hostile")
    crafted = os.path.join(workdir, "crafted.core")
    shutil.copyfile(core, crafted)
    with open(crafted, "r+b") as source:
        data = bytearray(source.read())
        poke(data, hostile["list"]["addr"] + hostile["list"]["size_at"], BIG)
        poke(data, hostile["lying_list"]["addr"] + hostile["lying_list"]["size_at"], -3)
        poke(data, hostile["pointer_list"]["addr"] + hostile["pointer_list"]["items_at"], NOWHERE)
        poke(data, hostile["text"]["addr"] + hostile["text"]["size_at"], BIG)
        poke(data, hostile["negative_text"]["addr"] + hostile["negative_text"]["size_at"], -5)
        source.seek(0)
        source.write(data)
    replaced = {
        "hostile_list": marked("...(%d items)]" % BIG),
        "lying_list": marked("<corrupt list at 0x%x: size -3>" % hostile["lying_list"]["addr"]),
        "pointer_list": marked("<unreadable items at 0x%x>" % NOWHERE),
        "hostile_text": marked("...(%d chars)" % BIG),
        "negative_text": marked("<corrupt "),
    }
    check_truth("core --locals of a crafted core (sanitizer build)", core_locals(crafted, asan=True), truth,
                replaced)
