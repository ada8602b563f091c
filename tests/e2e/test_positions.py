# Positions (3.11+): every Python frame's end line and column range are what
# code.co_positions() gives at the frame's instruction, as the fixture
# recorded them for each of its frames: in a live dump, a snapshot and a core
# (SIGABRT) of the same process; the text report marks the range with carets
# under the source line.
import os
import re
import signal

import lib
from lib import check

KEYS = ("function", "file", "line", "end_line", "column", "end_column")


def positions_run(label):
    """The fixture's ground truth, its live dump (JSON and text), a snapshot
    and a core, all of one parked process; cached for the run."""
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        made = {"truth": truth, "dump": os.path.join(workdir, "dump.json"),
                "text": os.path.join(workdir, "dump.txt"), "snapshot": os.path.join(workdir, "snap")}

        def capture(pid):
            for args, out in ((["--json"], made["dump"]), ([], made["text"])):
                result = lib.run_pycoreprof(["dump", "--pid", str(pid)] + args)
                check(result.code == 0, "expected exit 0: %s", result.describe())
                with open(out, "wb") as sink:
                    sink.write(result.stdout)
            result = lib.run_pycoreprof(["snapshot", "--pid", str(pid), "-o", made["snapshot"]])
            check(result.code == 0, "expected exit 0: %s", result.describe())
            os.kill(pid, signal.SIGABRT)

        made["core"] = lib.make_core([python, os.path.join(lib.FIXTURES, "positions.py"), truth],
                                     workdir, signal.SIGABRT, ready=lambda: os.path.exists(truth),
                                     send=capture)
        return made

    return lib.cached(label, "positions", make)


def places(thread):
    return [tuple(frame.get(key) for key in KEYS) for frame in thread.get("frames") or []
            if frame.get("kind", "python") == "python"]


def check_document(what, document, truth):
    compared = 0
    for thread in truth["threads"]:
        found = lib.find_thread(document, thread)
        expected = places(thread)
        got = places(found)
        for index, (want, have) in enumerate(zip(expected, got)):
            check(want == have, "%s, thread %s (%s), frame %d: %s, expected %s (co_positions)",
                  what, thread["thread_id"], thread["role"], index, dict(zip(KEYS, have)),
                  dict(zip(KEYS, want)))
        check(len(expected) == len(got), "%s, thread %s (%s): %d frames, expected %d", what,
              thread["thread_id"], thread["role"], len(got), len(expected))
        compared += len(expected)
    spans = [frame for thread in truth["threads"] for frame in thread["frames"]
             if frame["end_line"] != frame["line"]]
    check(spans, "the fixture recorded no range over several lines")
    check(compared >= 20, "only %d frames compared", compared)


@lib.each_interpreter_from((3, 11))
def test_positions_live(label):
    run = positions_run(label)
    with open(run["dump"], "rb") as source:
        document = lib.parse_json(lib.Result(["dump"], 0, source.read(), b""))
    check_document("live dump", document, lib.load_truth(run["truth"]))


@lib.each_interpreter_from((3, 11))
def test_positions_snapshot(label):
    run = positions_run(label)
    check_document("snapshot", lib.core_json(run["snapshot"]), lib.load_truth(run["truth"]))


@lib.each_interpreter_from((3, 11))
def test_positions_core(label):
    run = positions_run(label)
    check_document("core", lib.core_json(run["core"]), lib.load_truth(run["truth"]))


def expected_carets(frame):
    """The caret line under FRAME's source line (without the frame's
    indentation in the report), or None where none is due: the range covers
    the whole line. Columns are UTF-8 bytes; carets count characters."""
    with open(frame["file"], "rb") as source:
        raw = source.read().split(b"\n")[frame["line"] - 1]
    indent = len(raw) - len(raw.lstrip(b" \t"))
    shown = len(raw.rstrip(b" \t"))
    start = max(frame["column"], indent)
    end = min(frame["end_column"], len(raw)) if frame["end_line"] == frame["line"] else shown
    if start == indent and end >= shown:
        return None
    return (" " * len(raw[indent:start].decode("utf-8")) +
            "^" * len(raw[start:end].decode("utf-8")))


def text_blocks(text):
    """{tid: [lines]} of each thread block of a text dump."""
    blocks = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^Thread (\d+)", line)
        if match:
            current = blocks.setdefault(int(match.group(1)), [])
        elif current is not None:
            current.append(line)
    return blocks


@lib.each_interpreter_from((3, 11))
def test_positions_carets(label):
    run = positions_run(label)
    truth = lib.load_truth(run["truth"])
    with open(run["text"], "rb") as source:
        blocks = text_blocks(source.read().decode("utf-8"))
    marked = 0
    for thread in truth["threads"]:
        lines = blocks.get(thread["native_id"])
        check(lines is not None, "thread %s (%s) missing from the text dump", thread["native_id"],
              thread["role"])
        heads = [index for index, line in enumerate(lines) if line.startswith("    ") and
                 not line.startswith("        ")]
        check(len(heads) == len(thread["frames"]), "thread %s: %d frames in the text, expected %d",
              thread["role"], len(heads), len(thread["frames"]))
        for head, frame in zip(heads, thread["frames"]):
            want = expected_carets(frame)
            under = lines[head + 1:head + 3]
            got = [line[8:] for line in under[1:] if line.startswith("        ") and
                   set(line.strip()) == {"^"}]
            where = "thread %s, %s line %d" % (thread["role"], frame["function"], frame["line"])
            if want is None:
                check(not got, "%s: carets %r under a range that covers the line", where, got)
            else:
                check(got == [want], "%s: carets %r, expected %r under %r", where, got, want,
                      under[:1])
                marked += 1
    check(marked >= 5, "only %d frames had carets to check", marked)
