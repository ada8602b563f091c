# Names that hold every byte that could break a format (a newline, ';', a
# tab, control bytes, bytes that are not UTF-8) in function names, file
# names, a thread name and a command line: recorded straight into every
# format, each must parse, and folded and JSON read back the same names.
import collections
import json
import os
import re
import xml.etree.ElementTree as ElementTree

import lib
from lib import check
from test_outputs import EXTENSIONS, go_pprof, pprof_program

FIXTURE = os.path.join(lib.REPO, "fixtures", "python", "odd_names.py")
# In the command line; "\udcff" is the byte 0xff once in argv.
ARGUMENT = "arg\nwith;\t\x01\udcff"
SECONDS = "2"
SVG = "{http://www.w3.org/2000/svg}"


def newest_interpreter():
    return lib.interpreter_labels()[-1:]


def record(label, directory, fmt):
    """A recording of the fixture, launched through bash with a command line
    holding a newline, into FMT; the path written."""
    out = os.path.join(directory, "odd.%s" % EXTENSIONS[fmt])
    truth = os.path.join(directory, "truth-%s.json" % fmt)
    script = '"$0" "$1" "$2" %s "$3"' % SECONDS
    result = lib.run_pycoreprof(["record", "--subprocesses", "--threads", "--rate", "200", "-o", out, "--",
                                 "bash", "-c", script, lib.interpreter(label), FIXTURE, truth, ARGUMENT],
                                timeout=60)
    check(result.code in (0, 1) and os.path.exists(out), "record into %s failed: %s", fmt, result.describe())
    return out, truth


def load_truth(path):
    with open(path) as data:
        truth = json.load(data)
    # The walker decodes a lone surrogate of a code object's str as U+FFFD:
    # it has no UTF-8 form.
    fix = lambda text: re.sub("[\ud800-\udfff]", "\ufffd", text)
    return ([fix(name) for name in truth["functions"]], [fix(name) for name in truth["files"]],
            truth["thread_name"])


def raw(text):
    """A name as the bytes it stands for (JSON gives bytes that are not
    UTF-8 as lone surrogates, as surrogateescape does)."""
    return text.encode("utf-8", "surrogateescape")


def visible(text):
    """The visible form of docs/outputs.md (SVG, pprof, dumps)."""
    out = []
    data = raw(text)
    index = 0
    while index < len(data):
        byte = data[index]
        length = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4 if byte >> 3 == 30 else 0
        chunk = data[index:index + length] if length else b""
        try:
            chunk.decode("utf-8")
            valid = length > 0
        except UnicodeDecodeError:
            valid = False
        if byte < 0x20 or byte == 0x7f or not valid or (data[index:index + 2] == b"\\x" and
                                                         re.match(b"[0-9a-fA-F]{2}", data[index + 2:index + 4])):
            out.append("\\x%02x" % byte)
            index += 1
        else:
            out.append(chunk.decode("utf-8"))
            index += length
    return "".join(out)


def stacks(text):
    """Folded TEXT as {stack: count}. A line of 0 is as unknown as none
    (docs/outputs.md), and JSON keeps neither: `name (file:0)` is taken
    as `name (file)`."""
    counts = collections.Counter()
    for line in text.split(b"\n"):
        if line:
            stack, count = line.rsplit(b" ", 1)
            counts[re.sub(rb":0\)(?=;|$)", b")", stack)] += int(count)
    return counts


def frames_of(document):
    return [(frame["name"], frame.get("file"), frame.get("line")) for frame in document["frames"]]


def check_frames(what, document, functions, files, thread_name):
    frames = frames_of(document)
    seen = set((name, path) for name, path, _ in frames if name in functions)
    check(seen == set(zip(functions, files)), "%s: the odd functions as (name, file): %s, expected %s", what,
          sorted(seen), sorted(zip(functions, files)))
    roots = [frame for frame in document["frames"] if frame.get("kind") == "process"]
    check(any(raw(ARGUMENT) in raw(frame["name"]) for frame in roots),
          "%s: no process root holds the command line's argument: %s", what, [f["name"] for f in roots])
    threads = [frame["name"] for frame in document["frames"] if frame.get("kind") == "thread"]
    check(any(raw(thread_name) in raw(name) for name in threads), "%s: no thread named %r: %s", what,
          thread_name, threads)


@lib.each(newest_interpreter)
def test_odd_names_every_format(label):
    pprof_program()  # built before the recordings
    directory = lib.scratch("odd-names")

    # JSON, written straight: the ground truth's names.
    out, truth = record(label, directory, "json")
    functions, files, thread_name = load_truth(truth)
    with open(out, encoding="utf-8") as data:
        direct = json.load(data)
    check_frames("json", direct, functions, files, thread_name)

    # Folded: one stack a line, each ending in its count; read back it gives
    # the frames JSON gives, and folded -> JSON -> folded is the same text.
    out, _ = record(label, directory, "folded")
    with open(out, "rb") as data:
        text = data.read()
    text.decode("utf-8")
    lines = text.split(b"\n")
    check(lines[-1] == b"" and all(re.match(rb"^[^\n]+ [0-9]+$", line) for line in lines[:-1]),
          "folded: a line is not 'stack COUNT'")
    check(not re.search(rb"[\x00-\x1f\x7f]", text.replace(b"\n", b"")), "folded: a control byte in a line")
    back = os.path.join(directory, "back.json")
    lib.run_pycoreprof(["convert", out, "-o", back])
    with open(back, encoding="utf-8") as data:
        reread = json.load(data)
    check(sum(stack["count"] for stack in reread["stacks"]) == sum(int(line.rsplit(b" ", 1)[1])
                                                                   for line in lines[:-1]),
          "folded read back: the counts differ")
    check(len(reread["stacks"]) == len(lines) - 1, "folded read back: %d stacks for %d lines",
          len(reread["stacks"]), len(lines) - 1)
    check_frames("folded read back", reread, functions, files, thread_name)
    again = os.path.join(directory, "again.folded")
    lib.run_pycoreprof(["convert", back, "-o", again])
    with open(again, "rb") as data:
        check(stacks(data.read()) == stacks(text), "folded -> json -> folded changed the stacks")
    # The JSON written straight, through folded and back: the same frames.
    through = os.path.join(directory, "through.folded")
    lib.run_pycoreprof(["convert", os.path.join(directory, "odd.json"), "-o", through])
    round_trip = os.path.join(directory, "round.json")
    lib.run_pycoreprof(["convert", through, "-o", round_trip])
    with open(round_trip, encoding="utf-8") as data:
        check(frames_of(json.load(data)) == frames_of(direct), "json -> folded -> json changed the frames")

    # speedscope: JSON, one profile per process root, the odd names shared.
    out, _ = record(label, directory, "speedscope")
    with open(out, encoding="utf-8") as data:
        document = json.load(data)
    names = set(frame["name"] for frame in document["shared"]["frames"])
    check(set(functions) <= names, "speedscope: missing %s", sorted(set(functions) - names))
    check(any(raw(ARGUMENT) in raw(profile["name"]) for profile in document["profiles"]),
          "speedscope: no profile named by the process root: %s", [p["name"] for p in document["profiles"]])

    # pprof: go tool pprof reads it; the names in visible form.
    out, _ = record(label, directory, "pprof")
    listing = go_pprof(["-raw"], out)
    for name in functions:
        check(visible(name) in listing, "pprof -raw: no %r in\n%s", visible(name), listing[:3000])

    # SVG: well-formed XML; the titles name the odd frames in visible form.
    out, _ = record(label, directory, "svg")
    tree = ElementTree.parse(out)
    titles = [title.text or "" for title in tree.iter(SVG + "title")]
    script = "".join(element.text or "" for element in tree.iter(SVG + "script"))
    for name, path in zip(functions, files):
        label_text = "%s (%s:" % (visible(name), visible(path))
        check(any(title.startswith(label_text) for title in titles) or json.dumps(label_text)[1:-1] in script,
              "svg: no frame %r", label_text)
