# The exceptions threads have in flight: a thread that dies while handling
# AError and raising BError (`raise B from A` inside the except block, 3.x)
# shows both, and a thread parked handling CError (raised while handling
# DError) shows it with its context; each with the type, message and
# traceback that traceback.format_exception printed in the fixture before the
# process was looked at. A core, a live dump and a snapshot, every
# interpreter (2.7 has no chaining: no cause or context there). A core whose
# exception objects were corrupted (a traceback that loops, a context chain
# that loops, arguments that point nowhere) gives bounded, marked output
# under the sanitizer build.
import os
import re
import shutil
import signal
import struct

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "exceptions.py")
CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"
FILE_LINE = re.compile(r'^  File "(.*)", line (\d+), in (.*)$')


def parse_format_exception(lines):
    """traceback.format_exception() output as blocks, oldest first: each
    {"entries": [(file, line, name)] outermost first, "type", "message",
    "relation": None or how it leads to the next block ("cause", "context")}."""
    blocks = [{"entries": [], "relation": None}]
    for line in "".join(lines).splitlines():
        match = FILE_LINE.match(line)
        if match:
            blocks[-1]["entries"].append((match.group(1), int(match.group(2)), match.group(3)))
        elif line in (CAUSE, CONTEXT):
            blocks[-1]["relation"] = "cause" if line == CAUSE else "context"
            blocks.append({"entries": [], "relation": None})
        elif line and not line.startswith(" ") and not line.startswith("Traceback "):
            kind, _, message = line.partition(": ")
            blocks[-1]["type"], blocks[-1]["message"] = kind, message or None
    return blocks


def check_exception(what, got, blocks):
    """GOT (an output exception object) is the last of BLOCKS, its chain the rest."""
    check(isinstance(got, dict), "%s: no exception (got %r)", what, got)
    want = blocks[-1]
    check(got.get("type") == want["type"] and got.get("message") == want["message"],
          "%s: %s(%r), expected %s(%r)", what, got.get("type"), got.get("message"), want["type"],
          want["message"])
    check(not got.get("error"), "%s: %s", what, got.get("error"))
    frames = list(reversed(got.get("traceback") or []))
    entries = [(frame.get("file"), frame.get("line"),
                want["entries"][index][2] if index < len(want["entries"]) and
                want["entries"][index][2] in (frame.get("function"), frame.get("qualname"))
                else frame.get("function")) for index, frame in enumerate(frames)]
    check(entries == want["entries"], "%s: traceback (outermost first) %s, expected %s", what, entries,
          want["entries"])
    if len(blocks) == 1:
        check(got.get("cause") is None, "%s: a cause %r where none was printed", what, got.get("cause"))
        check(got.get("context") is None or got.get("suppress_context"),
              "%s: a context %r where none was printed", what, got.get("context"))
        return
    relation = blocks[-2]["relation"]
    check_exception("%s, its %s" % (what, relation), got.get(relation), blocks[:-1])
    if relation == "cause":
        check(got.get("suppress_context") is True, "%s: __suppress_context__ not set with a cause", what)
        if got.get("context") is not None:  # raised while handling its cause: the same exception
            check_exception("%s, its context" % what, got.get("context"), blocks[:-1])


def thread_of(document, entry):
    for thread in document.get("threads") or []:
        if thread.get("thread_id") == entry["thread_id"]:
            return thread
    raise lib.Failure("thread %s missing from the output" % entry["thread_id"])


def check_handler(what, document, truth):
    thread = thread_of(document, truth["handler"])
    exception = thread.get("exception") or {}
    check(exception.get("state") == "handling", "%s: handler state %r, expected 'handling'", what,
          exception.get("state"))
    blocks = parse_format_exception(truth["handler"]["c_text"])
    if lib.label_version(truth_label(truth)) >= (3,):
        check(len(blocks) == 2 and blocks[0]["relation"] == "context",
              "the fixture's CError was printed without its context: %s", blocks)
    check_exception("%s, handler" % what, exception, blocks)


def truth_label(truth):
    return "x-" + truth["python_version"]


def check_others_clear(what, document, truth):
    """The main thread has nothing in flight."""
    main = [thread for thread in document.get("threads") or [] if thread.get("tid") == truth["pid"]]
    check(main, "%s: no main thread %d", what, truth["pid"])
    check(main[0].get("exception") is None, "%s: the main thread has an exception %r", what,
          main[0].get("exception"))


def aborted(label):
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, FIXTURE, "abort", truth], workdir, signal.SIGABRT)
        check(os.path.exists(truth), "the fixture wrote no ground truth")
        return {"core": core, "truth": truth}

    made = lib.cached(label, "exceptions", make)
    return made["core"], lib.load_truth(made["truth"])


@lib.each_interpreter
def test_raising_and_handling_core(label):
    core, truth = aborted(label)
    document = lib.core_json(core)
    raiser = thread_of(document, truth["raiser"])
    check(raiser.get("crashed"), "the raiser is not the crashed thread")
    exception = raiser.get("exception") or {}
    check(exception.get("state") == "raising", "raiser state %r, expected 'raising'", exception.get("state"))
    b_blocks = parse_format_exception(truth["raiser"]["b_text"])
    if lib.label_version(label) >= (3,):
        check(len(b_blocks) == 2 and b_blocks[0]["relation"] == "cause",
              "the fixture's BError was printed without its cause: %s", b_blocks)
    check_exception("raiser", exception, b_blocks)
    handling = exception.get("handling") or {}
    check(handling.get("state") == "handling", "raiser: handling %r, expected AError being handled",
          exception.get("handling"))
    check_exception("raiser, handling", handling, parse_format_exception(truth["raiser"]["a_text"]))
    check_handler("core", document, truth)
    check_others_clear("core", document, truth)

    result = lib.run_pycoreprof(["core", "--no-source", core])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    text = result.text()
    inner = b_blocks[-1]["entries"][-1]
    check(re.search(r'^Thread %d( "[^"]*")? \(crashed' % truth["raiser"]["native_id"], text, re.M),
          "the text report lacks the crashed thread %d:\n%s", truth["raiser"]["native_id"], text)
    for want in ("raising BError('b message')",
                 "    raised at inner (%s:%d), unwound to outer" % (inner[0], inner[1]),
                 "handling CError('c message')",
                 "    raised at raise_c (",
                 "), caught in handler ("):
        check(want in text, "the text report lacks %r:\n%s", want, text)
    if lib.label_version(label) >= (3,):
        for want in ("    caused by AError('a message'): raised and caught in outer (",
                     "    while handling DError('d message'): raised and caught in handler ("):
            check(want in text, "the text report lacks %r:\n%s", want, text)
    else:
        check("    while handling AError('a message'): raised and caught in outer (" in text,
              "the text report does not say AError is handled:\n%s", text)


@lib.each_interpreter
def test_handling_live_and_snapshot(label):
    workdir = lib.scratch("exceptions")
    truth_path = os.path.join(workdir, "truth.json")
    with lib.Process(label, [FIXTURE, "park", truth_path], workdir=workdir, ready=truth_path) as fixture:
        truth = lib.load_truth(truth_path)
        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--json"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        live = lib.parse_json(result)
        snap_path = os.path.join(workdir, "snapshot")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "-o", snap_path])
        check(result.code == 0, "expected exit 0: %s", result.describe())
    snap = lib.core_json(snap_path)
    check_handler("live dump", live, truth)
    check_others_clear("live dump", live, truth)
    check_handler("snapshot", snap, truth)
    check(thread_of(snap, truth["handler"]).get("exception") == thread_of(live, truth["handler"]).get("exception"),
          "the snapshot's exception differs from the live dump's")


NOWHERE = 0x10  # never mapped


def poke(data, address, value):
    """Write the 8-byte VALUE at ADDRESS of the ELF core DATA's memory."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 1 and p_vaddr <= address and address + 8 <= p_vaddr + p_filesz:
            struct.pack_into("<Q", data, p_offset + address - p_vaddr, value)
            return
    raise lib.Failure("address 0x%x is not in the core" % address)


def chain_depth(exception, key):
    depth = 0
    while exception is not None:
        depth += 1
        check(depth <= 64, "the %s chain does not end", key)
        exception = exception.get(key)
    return depth


@lib.each_interpreter
def test_hostile_exceptions(label):
    core, truth = aborted(label)
    places = truth["handler"]["hostile"]
    crafted = os.path.join(lib.scratch("exceptions-hostile"), "crafted.core")
    shutil.copyfile(core, crafted)
    with open(crafted, "r+b") as source:
        data = bytearray(source.read())
        poke(data, places["tb_last"] + places["tb_next_at"], places["tb_first"])
        poke(data, places["error"] + places["args_at"], NOWHERE)
        if "context" in places:
            poke(data, places["context"] + places["context_at"], places["error"])
        source.seek(0)
        source.write(data)
    result = lib.run_pycoreprof(["core", "--json", crafted], asan=True)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    exception = thread_of(lib.parse_json(result), truth["handler"]).get("exception") or {}
    check(exception.get("type") == "CError", "type %r, expected CError", exception.get("type"))
    check(exception.get("message") is None and "arguments" in (exception.get("error") or ""),
          "arguments pointing nowhere: message %r, error %r", exception.get("message"), exception.get("error"))
    tb = exception.get("traceback") or []
    check(exception.get("traceback_truncated") is True and len(tb) == 1024,
          "a looping traceback: %d entries, truncated %r", len(tb), exception.get("traceback_truncated"))
    if "context" in places:
        depth = chain_depth(exception, "context")
        check(2 < depth <= 8, "a looping context chain gave %d exceptions, expected 3 to 8", depth)
    result = lib.run_pycoreprof(["core", crafted], asan=True)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check("handling CError" in result.text(), "the text report does not name the handled CError")
