# Native frames people can act on, with the real numpy (Debian's
# python3-numpy on the system python3.11): numpy's and BLAS's frames under
# the fixture's function that called them, the interpreter's start-up above
# <module> hidden by --native and kept by --native-all (record, dump,
# snapshot + core, report), in any interpreter; frames without a symbol
# named library+0xOFFSET at an offset of that library's code.
import functools
import json
import os
import re
import shutil
import signal
import struct

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "numpy_work.py")
SHARES = os.path.join(lib.FIXTURES, "shares.py")
NUMPY_LIBRARY = "_multiarray_umath"
# Names of the interpreter's start-up: one at least is above <module> with
# --native-all, none with --native (2.7 and 3.6 start from Py_Main, 3.7
# from _Py_UnixMain).
INTERPRETER_START = ("Py_BytesMain", "Py_Main", "_Py_UnixMain", "Py_RunMain")


def numpy_python():
    python = lib.interpreter("debian-3.11")
    result = lib.run([python, "-c", "import numpy"])
    if result.code != 0:
        raise lib.Missing("numpy cannot be imported by %s (Debian package python3-numpy): %s"
                          % (python, result.describe()))
    return python


class NumpyWork(lib.Process):
    """numpy_work.py running, its ground truth loaded, its mappings read."""

    def __init__(self):
        workdir = lib.scratch("numpy")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, numpy_python(), [FIXTURE, self.truth_path], workdir=workdir,
                             ready=self.truth_path, timeout=60, name="numpy_work.py")

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)
        self.maps = read_maps(self.pid)


def read_maps(pid):
    """[(start, end, perms, offset, path)] of PID's file mappings."""
    found = []
    with open("/proc/%d/maps" % pid) as source:
        for line in source:
            fields = line.split(None, 5)
            if len(fields) == 6 and fields[5].startswith("/"):
                start, end = (int(part, 16) for part in fields[0].split("-"))
                found.append((start, end, fields[1], int(fields[2], 16), fields[5].strip()))
    return found


def library_path(maps, predicate):
    paths = sorted(set(path for _, _, _, _, path in maps if predicate(os.path.basename(path))))
    check(paths, "no such library mapped")
    return paths[0]


def load_segments(path):
    """[(p_offset, p_vaddr, p_filesz)] of the PT_LOAD segments of PATH, a
    64-bit little-endian ELF file."""
    with open(path, "rb") as source:
        data = source.read()
    check(data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "%s is not a 64-bit LSB ELF file", path)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segments = []
    for index in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 1:
            segments.append((p_offset, p_vaddr, p_filesz))
    return segments


def code_ranges(path, maps):
    """[(start, end, link_start)] of PATH's executable mappings: the
    addresses they cover, and the file's own (link-time) address at START,
    from the segment that holds the mapping's file offset."""
    segments = load_segments(path)
    found = []
    for start, end, perms, offset, mapped in maps:
        if mapped != path or "x" not in perms:
            continue
        holding = [(p_offset, p_vaddr) for p_offset, p_vaddr, p_filesz in segments
                   if p_offset - p_offset % 4096 <= offset < p_offset + p_filesz]
        check(holding, "no segment of %s holds file offset 0x%x", path, offset)
        p_offset, p_vaddr = holding[0]
        found.append((start, end, p_vaddr + offset - p_offset))
    check(found, "%s has no executable mapping", path)
    return found


UNNAMED = re.compile(r"^(.+)\+0x([0-9a-f]+)$")


def unnamed_offset(name, library):
    """The offset of a native frame named LIBRARY+0xOFFSET, else None."""
    match = UNNAMED.match(name or "")
    return int(match.group(2), 16) if match and match.group(1) == library else None


@functools.lru_cache(maxsize=None)
def fde_starts(path):
    """The first address of every FDE in PATH's .eh_frame, by binutils."""
    readelf = lib.tool("readelf", "binutils")
    result = lib.run([readelf, "--debug-dump=frames", path], timeout=120)
    check(result.code == 0, "readelf failed: %s", result.describe())
    return set(int(match, 16) for match in re.findall(r" FDE cie=\S+ pc=([0-9a-f]+)\.\.", result.text()))


def check_unnamed(frames, maps):
    """Native frames without a symbol are LIBRARY+0xOFFSET, OFFSET an
    address of that library's code in its own addresses: inside one of its
    executable mappings taken back to the file. Returns how many there were
    in numpy's library."""
    paths = dict((os.path.basename(path), path) for _, _, _, _, path in maps)
    numpy = 0
    for frame in frames:
        library, name = frame.get("file"), frame["name"]
        check(name != "??" or not library, "a native frame of %s is unnamed without its offset", library)
        offset = unnamed_offset(name, library)
        if offset is None:
            check(not UNNAMED.match(name), "%s is named for another library than its own, %s", name, library)
            continue
        check(library in paths, "%s: %s is not mapped by the process", name, library)
        ranges = code_ranges(paths[library], maps)
        check(any(link <= offset < link + end - start for start, end, link in ranges),
              "%s: 0x%x is in none of %s's code mappings %s", name, offset, library,
              ["0x%x-0x%x" % (link, link + end - start) for start, end, link in ranges])
        if library.startswith(NUMPY_LIBRARY):
            # The function's start, as the library's unwind table has it.
            check(offset in fde_starts(paths[library]), "%s: no FDE of %s starts at 0x%x", name, library, offset)
            numpy += 1
    return numpy


# ---------------------------------------------------------------- profiles

def load_profile(path):
    """[(frames root first, count)] of a JSON profile; frames are dicts."""
    with open(path) as source:
        document = json.load(source)
    frames = document["frames"]
    return [([frames[index] for index in stack["frames"]], stack["count"]) for stack in document["stacks"]]


def is_python(frame):
    return frame.get("kind") == "python"


def show(stack):
    return ";".join(frame["name"] + ("" if is_python(frame) else "*") for frame in stack)


def truth_root_first(frames):
    """The fixture's stack, root first, as (name, file name, line)."""
    return [(frame.get("qualname", frame["function"]), os.path.basename(frame["file"]), frame["line"])
            for frame in reversed(frames)]


def python_part(stack):
    return [(frame["name"], os.path.basename(frame.get("file") or ""), frame.get("line"))
            for frame in stack if is_python(frame)]


def check_root_is_module(stacks):
    """No start-up plumbing above <module>: every stack starts there."""
    for stack, _ in stacks:
        check(stack and is_python(stack[0]) and stack[0]["name"] == "<module>",
              "a stack does not start at <module>: %s", show(stack))


def check_calls_into_numpy(stacks, truth, blas):
    """BLAS's frames sit under multiply, numpy's under sort (through numpy's
    own Python code): the Python frames down to the fixture's function are
    the fixture's own stack, and what the library ran is inside it."""
    multiply = truth_root_first(truth["stacks"]["multiply"])
    sort = truth_root_first(truth["stacks"]["sort"])
    in_blas = in_sort = 0
    for stack, count in stacks:
        libraries = [frame.get("file") for frame in stack if not is_python(frame)]
        if any(blas == name for name in libraries):
            first_blas = min(i for i, frame in enumerate(stack)
                             if not is_python(frame) and frame.get("file") == blas)
            check(python_part(stack) == multiply, "BLAS's frames are not under multiply: %s; expected %s",
                  show(stack), multiply)
            last_python = max(i for i, frame in enumerate(stack) if is_python(frame))
            check(last_python < first_blas, "a Python frame inside BLAS's: %s", show(stack))
            in_blas += count
        if python_part(stack)[:len(sort)] == sort:
            below = stack[max(i for i, frame in enumerate(stack)
                              if python_part([frame]) == [sort[-1]]) + 1:]
            if any(not is_python(frame) and (frame.get("file") or "").startswith(NUMPY_LIBRARY)
                   for frame in below):
                in_sort += count
    total = sum(count for _, count in stacks)
    check(in_blas >= 5, "%d of %d samples in BLAS (%s) under multiply", in_blas, total, blas)
    check(in_sort >= 5, "%d of %d samples in %s under sort", in_sort, total, NUMPY_LIBRARY)


def check_start_up_kept(stacks):
    """With --native-all: native frames above <module>, the interpreter's
    start-up among them."""
    for stack, _ in stacks:
        check(stack and not is_python(stack[0]), "--native-all: a stack starts at a Python frame: %s",
              show(stack))
        module = [i for i, frame in enumerate(stack) if is_python(frame) and frame["name"] == "<module>"]
        if not module:
            continue
        above = [frame["name"] for frame in stack[:module[0]]]
        check(any(name.split(".")[0] in INTERPRETER_START for name in above),
              "--native-all: no start-up frame (%s) above <module>: %s", "/".join(INTERPRETER_START), show(stack))


def record(pid, mode, out, seconds=3):
    result = lib.run_pycoreprof(["record", mode, "--pid", str(pid), "--duration", str(seconds), "-o", out],
                                timeout=120)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return load_profile(out)


def native_frames(stacks):
    seen = {}
    for stack, _ in stacks:
        for frame in stack:
            if frame.get("kind") == "native":
                seen[(frame["name"], frame.get("file"))] = frame
    return list(seen.values())


def test_record_numpy():
    with NumpyWork() as fixture:
        blas = os.path.basename(library_path(fixture.maps, lambda name: "blas" in name))
        merged = record(fixture.pid, "--native", fixture.path("merged.json"))
        check_root_is_module(merged)
        check_calls_into_numpy(merged, fixture.truth, blas)
        # numpy exports few of its functions: most of its frames are unnamed.
        check(check_unnamed(native_frames(merged), fixture.maps) >= 3,
              "fewer than 3 unnamed functions of numpy's library: %s",
              [frame["name"] for frame in native_frames(merged)])
        every = record(fixture.pid, "--native-all", fixture.path("all.json"))
        check_start_up_kept(every)
        check_calls_into_numpy(every, fixture.truth, blas)


# ---------------------------------------------------------------- one-shot

def main_thread(document, pid):
    for thread in document.get("threads") or []:
        if thread.get("tid") == pid:
            return thread
    raise lib.Failure("no thread %d in the output" % pid)


def check_one_shot(document, pid, mode):
    """A dump's or core's main thread: <module> outermost with --native; the
    interpreter's start-up above it with --native-all."""
    frames = main_thread(document, pid)["frames"]
    names = [frame.get("function") or "" for frame in frames]
    check("<module>" in names, "%s: no <module> frame: %s", mode, names)
    module = names.index("<module>")
    outer = frames[module + 1:]
    if mode == "--native":
        check(not outer, "--native: frames above <module>: %s", names[module:])
    else:
        outer_names = [(frame.get("function") or "").split(".")[0] for frame in outer]
        check(any(name in INTERPRETER_START for name in outer_names),
              "--native-all: no start-up frame (%s) above <module>: %s", "/".join(INTERPRETER_START), names[module:])


def check_addresses(frames, maps):
    """Each native frame's offset is its address taken back to its
    library's own addresses through the mapping that holds it; an unnamed
    frame's function is LIBRARY+0xSTART, START at or below that offset."""
    unnamed = 0
    for frame in frames:
        if frame.get("kind") != "native" or not frame.get("library"):
            continue
        address, offset = int(frame["address"], 16), int(frame["offset"], 16)
        library = os.path.basename(frame["library"])
        holding = [(start, link) for start, end, link in code_ranges(frame["library"], maps)
                   if start <= address < end]
        check(holding, "%s: 0x%x is in no code mapping of %s", frame["function"], address, library)
        start, link = holding[0]
        check(offset == link + address - start, "%s at 0x%x: offset 0x%x, the mapping says 0x%x",
              frame["function"], address, offset, link + address - start)
        first = unnamed_offset(frame["function"], library)
        if first is not None:
            check(first <= offset, "%s holds the frame at 0x%x, below its start", frame["function"], offset)
            unnamed += 1
    return unnamed


def test_dump_snapshot_core_report_numpy():
    with NumpyWork() as fixture:
        for mode in ("--native", "--native-all"):
            result = lib.run_pycoreprof(["dump", "--json", mode, "--pid", str(fixture.pid)])
            check(result.code == 0, "expected exit 0: %s", result.describe())
            check_one_shot(lib.parse_json(result), fixture.pid, mode)
            check_addresses(main_thread(lib.parse_json(result), fixture.pid)["frames"], fixture.maps)
        snapshots = fixture.path("snapshots")
        os.mkdir(snapshots)
        result = lib.run_pycoreprof(["snapshot", "--native", "--pid", str(fixture.pid), "-o", snapshots + "/",
                                     "-i", "100ms", "-n", "4"], timeout=120)
        check(result.code == 0, "expected exit 0: %s", result.describe())
    files = sorted(os.path.join(snapshots, name) for name in os.listdir(snapshots))
    check(len(files) == 4, "expected 4 snapshots: %s", files)
    for mode in ("--native", "--native-all"):
        document = lib.core_json(files[0], [mode])
        check_one_shot(document, fixture.pid, mode)
        check_addresses(main_thread(document, fixture.pid)["frames"], fixture.maps)
        out = fixture.path("report%s.json" % mode)
        result = lib.run_pycoreprof(["report", mode, "-o", out, snapshots])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        stacks = load_profile(out)
        check(sum(count for _, count in stacks) == 4, "report: %d samples of 4 snapshots",
              sum(count for _, count in stacks))
        if mode == "--native":
            check_root_is_module(stacks)
        else:
            check_start_up_kept(stacks)


# ---------------------------------------------------------------- any interpreter

def start_up_labels():
    labels = lib.interpreter_labels()
    pyenv = [label for label in labels if label.startswith("pyenv")]
    return pyenv[:1] + pyenv[-1:] + [label for label in labels if label.startswith("debian-")][-1:]


@lib.each(start_up_labels)
def test_record_start_up_hidden(label):
    """Another interpreter (pyenv's, with libpython, or a fetched Debian one)
    spinning in pure Python, its parked threads too (--idle): with --native
    every stack starts at its first Python frame (<module>, a thread's
    bootstrap); with --native-all the process's and threads' start is
    there."""
    if not os.path.exists(SHARES):
        raise lib.Missing("fixtures/python/shares.py not found")
    workdir = lib.scratch("start-up")
    info = os.path.join(workdir, "info.json")
    with lib.Process(label, [SHARES, "60", "--rest", "10", "--info", info], workdir=workdir, ready=info,
                     name="shares.py") as fixture:
        for mode in ("--native", "--native-all"):
            out = fixture.path("profile%s.json" % mode)
            result = lib.run_pycoreprof(["record", mode, "--idle", "--rate", "50", "--duration", "2", "-o", out,
                                         "--pid", str(fixture.pid)], timeout=120)
            check(result.code == 0, "expected exit 0: %s", result.describe())
            check_start_up(mode, load_profile(out))


def check_start_up(mode, stacks):
    """--native: every stack starts at a Python frame; --native-all: at
    the process's or thread's start."""
    total = sum(count for _, count in stacks)
    check(total >= 20, "only %d samples", total)
    roots = set(stack[0]["name"] for stack, _ in stacks if stack)
    if mode == "--native":
        for stack, _ in stacks:
            check(stack and is_python(stack[0]), "--native: a stack starts at a native frame: %s", show(stack))
        check("<module>" in roots, "--native: no stack starts at <module>: %s", sorted(roots))
    else:
        check_start_up_kept(stacks)


@lib.each_interpreter
def test_core_start_up_hidden(label):
    """Every interpreter, from a crash core (native_calls.py, shared with
    test_native): the main thread ends at <module> with --native, at the
    interpreter's start-up with --native-all."""
    from test_native import native_core
    core, truth = native_core(label, "qsort-abort", signal.SIGABRT)
    for mode in ("--native", "--native-all"):
        check_one_shot(lib.core_json(core, [mode]), truth["pid"], mode)


# ---------------------------------------------------------------- pprof

def go_pprof(args, profile):
    from test_outputs import go_pprof as run_pprof
    return run_pprof(args, profile)


def pprof_raw(profile):
    """(mappings {id: (start, limit, offset, file, build_id, has_functions)},
    locations {id: (address, mapping id, name)}) of the native locations of
    PROFILE, as `go tool pprof -raw` reads them without symbolizing."""
    text = go_pprof(["-raw", "-symbolize=none"], profile)
    mappings, locations = {}, {}
    section = None
    for line in text.splitlines():
        if line in ("Locations", "Mappings"):
            section = line
            continue
        if section == "Mappings":
            match = re.match(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S+) ?(\S*)( \[FN\])?", line.strip())
            if match:
                mappings[int(match.group(1))] = (int(match.group(2), 16), int(match.group(3), 16),
                                                 int(match.group(4), 16), match.group(5),
                                                 match.group(6) if match.group(6) != "[FN]" else "",
                                                 bool(match.group(7)) or match.group(6) == "[FN]")
        elif section == "Locations":
            match = re.match(r"^\s*(\d+): 0x([0-9a-f]+) M=(\d+) (\S+)", line)
            if match:
                locations[int(match.group(1))] = (int(match.group(2), 16), int(match.group(3)), match.group(4))
    check(mappings and locations, "pprof -raw lists no native locations or mappings:\n%s", text[:2000])
    return mappings, locations


def build_id(path):
    readelf = lib.tool("readelf", "binutils")
    found = re.search(r"Build ID: ([0-9a-f]+)", lib.run([readelf, "-n", path]).text())
    return found.group(1) if found else ""


def check_pprof_sites(mappings, locations):
    """Every native location's address lies in its mapping, whose file is
    the library itself (build-id and all); an unnamed one's name is the
    offset that address has in that file; a mapping holding one is not
    marked as symbolized, so that pprof symbolizes it. Returns the unnamed
    locations as (library, offset)."""
    unnamed = []
    for address, mapping, name in locations.values():
        check(mapping in mappings, "location %s has no mapping %d", name, mapping)
        start, limit, offset, path, identity, has_functions = mappings[mapping]
        check(start <= address < limit, "%s at 0x%x is outside its mapping 0x%x-0x%x", name, address, start, limit)
        check(os.path.exists(path), "mapping file %s does not exist", path)
        check(identity == build_id(path), "mapping %s: build id %r, the file's %r", path, identity, build_id(path))
        library = os.path.basename(path)
        first = unnamed_offset(name, library)
        if first is None:
            continue
        file_offset = address - start + offset
        links = [p_vaddr + file_offset - p_offset for p_offset, p_vaddr, p_filesz in load_segments(path)
                 if p_offset <= file_offset < p_offset + p_filesz]
        check(links == [first], "%s: its address 0x%x is 0x%s in %s", name, address,
              "/".join("%x" % link for link in links), library)
        check(not has_functions, "%s's mapping says it is symbolized, holding %s", library, name)
        unnamed.append((library, first))
    return unnamed


def test_pprof_numpy():
    """record --native to pprof, and report --native over snapshots:
    numpy's unnamed functions keep their address and the mapping of numpy's
    library."""
    from test_outputs import pprof_program
    pprof_program()  # built before the fixture starts
    with NumpyWork() as fixture:
        profile = fixture.path("numpy.pb.gz")
        result = lib.run_pycoreprof(["record", "--native", "--pid", str(fixture.pid), "--duration", "3",
                                     "-o", profile], timeout=120)
        check(result.code == 0, "expected exit 0: %s", result.describe())
        snapshots = fixture.path("snapshots") + "/"
        result = lib.run_pycoreprof(["snapshot", "--native", "--pid", str(fixture.pid), "-o", snapshots,
                                     "-i", "100ms", "-n", "6"], timeout=120)
        check(result.code == 0, "expected exit 0: %s", result.describe())
    reported = fixture.path("report.pb.gz")
    result = lib.run_pycoreprof(["report", "--native", "-o", reported, snapshots])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check_pprof_sites(*pprof_raw(reported))
    mappings, locations = pprof_raw(profile)
    unnamed = check_pprof_sites(mappings, locations)
    check(sum(1 for library, _ in unnamed if library.startswith(NUMPY_LIBRARY)) >= 3,
          "fewer than 3 unnamed numpy locations: %s", sorted(locations.values())[:20])
    traces = go_pprof(["-traces", "-symbolize=none"], profile)
    check(re.search(r"%s[^ ]*\+0x[0-9a-f]+" % NUMPY_LIBRARY, traces), "pprof -traces shows no unnamed numpy "
          "frame:\n%s", traces[:2000])


SPIN_SOURCE = """
__attribute__((noinline)) static double spin_inner(long n)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x += (double)i * 0.5;
	return x;
}

double spin_entry(long n)
{
	return spin_inner(n) + 1;
}
"""


def test_pprof_symbolizes_later():
    """A library whose static function has debug information but no symbol
    (its symbol removed with objcopy): pycoreprof names the frame
    libspin.so+0xOFFSET and keeps its address and mapping, from which
    `go tool pprof` finds the function in the library's DWARF."""
    from test_outputs import pprof_program
    gcc, objcopy = lib.tool("gcc", "gcc"), lib.tool("objcopy", "binutils")
    pprof_program()
    workdir = lib.scratch("spin")
    source, built, library = (os.path.join(workdir, name) for name in ("spin.c", "built.so", "libspin.so"))
    with open(source, "w") as out:
        out.write(SPIN_SOURCE)
    for argv in ([gcc, "-g", "-O1", "-shared", "-fPIC", "-o", built, source],
                 [objcopy, "--strip-symbol=spin_inner", built, library]):
        result = lib.run(argv, timeout=120)
        check(result.code == 0, "%s", result.describe())
    ready = os.path.join(workdir, "ready")
    with lib.Process("debian-3.11", [os.path.join(lib.FIXTURES, "native_spin.py"), library, "spin_entry",
                                     "2000000", ready], workdir=workdir, ready=ready, name="native_spin.py") as fixture:
        profile = fixture.path("spin.pb.gz")
        result = lib.run_pycoreprof(["record", "--native", "--pid", str(fixture.pid), "--duration", "2",
                                     "-o", profile], timeout=120)
        check(result.code == 0, "expected exit 0: %s", result.describe())
    mappings, locations = pprof_raw(profile)
    unnamed = [first for name, first in check_pprof_sites(mappings, locations) if name == "libspin.so"]
    check(len(unnamed) == 1, "expected one unnamed function of libspin.so, got %s",
          sorted(name for _, _, name in locations.values()))
    names = [name for _, _, name in locations.values()]
    check("spin_entry" in names, "spin_entry, which has its symbol, is not named: %s", names)
    # pprof -traces: a block per stack, leaf first, the leaf after the time.
    traces = go_pprof(["-traces"], profile)
    leaves = []
    for block in traces.split("-----------+")[1:]:
        frames = [line.split()[-1] for line in block.splitlines()[1:] if line.strip()]
        if "spin_entry" in frames:
            leaves.append(frames[:frames.index("spin_entry") + 1])
    check(any(frames == ["spin_inner", "spin_entry"] for frames in leaves),
          "pprof did not name libspin.so+0x%x spin_inner under spin_entry: %s\n%s", unnamed[0], leaves,
          traces[:2000])


# ---------------------------------------------------------------- debug files

def test_debug_files_found_every_way():
    """Debian's stripped python3.11 names its static functions from its
    debug file (python3.11-dbg) wherever that file is: under a debug
    directory by build-id, beside the binary by .gnu_debuglink, or in the
    debuginfod client's cache (DEBUGINFOD_CACHE_PATH, or XDG_CACHE_HOME's
    debuginfod_client); with none of them, they are python3.11+0xOFFSET."""
    from test_native import native_core, is_named
    label = "debian-3.11"
    python = lib.interpreter(label)
    identity = build_id(python)
    system_file = "/usr/lib/debug/.build-id/%s/%s.debug" % (identity[:2], identity[2:])
    if not os.path.exists(system_file):
        raise lib.Missing("%s not found (Debian package python3.11-dbg)" % system_file)
    core, truth = native_core(label, "qsort-abort", signal.SIGABRT)
    workdir = lib.scratch("debug-files")

    def unnamed(env, extra=()):
        result = lib.run([lib.pycoreprof(), "core", core, "--json", "--native-all"] + list(extra),
                         env=dict(env, PYCOREPROF_DEBUG_DIRS=""))
        check(result.code == 0, "expected exit 0: %s", result.describe())
        frames = [frame for frame in main_thread(lib.parse_json(result), truth["pid"])["frames"]
                  if frame["kind"] == "native" and os.path.basename(frame.get("library") or "") == "python3.11"]
        check(len(frames) >= 5, "only %d frames of python3.11", len(frames))
        return [frame["function"] for frame in frames if not is_named(frame)]

    away = {"DEBUGINFOD_CACHE_PATH": os.path.join(workdir, "empty"), "XDG_CACHE_HOME": os.path.join(workdir, "empty")}
    check(unnamed(away), "python3.11's static functions are named without its debug file")
    # By build-id under a debug directory.
    tree = os.path.join(workdir, "debug", ".build-id", identity[:2])
    os.makedirs(tree)
    os.symlink(system_file, os.path.join(tree, identity[2:] + ".debug"))
    names = unnamed(away, ["--search-path", os.path.join(workdir, "debug")])
    check(not names, "by build-id under a --search-path directory: %s unnamed", names)
    # By .gnu_debuglink, beside a copy of the binary given with --exe.
    readelf = lib.tool("readelf", "binutils")
    dump = lib.run([readelf, "-p", ".gnu_debuglink", python]).stdout.decode("latin-1")
    link = re.search(r"\]\s+(\S+\.debug)", dump)
    check(link, "python3.11 has no .gnu_debuglink")
    beside = os.path.join(workdir, "bin")
    os.makedirs(beside)
    shutil.copy(python, os.path.join(beside, "python3.11"))
    os.symlink(system_file, os.path.join(beside, link.group(1)))
    names = unnamed(away, ["--exe", os.path.join(beside, "python3.11")])
    check(not names, "by .gnu_debuglink beside the binary: %s unnamed", names)
    # From the debuginfod client's cache, by either of its places.
    cache = os.path.join(workdir, "cache", "debuginfod_client", identity)
    os.makedirs(cache)
    os.symlink(system_file, os.path.join(cache, "debuginfo"))
    names = unnamed(dict(away, DEBUGINFOD_CACHE_PATH=os.path.dirname(cache)))
    check(not names, "from DEBUGINFOD_CACHE_PATH: %s unnamed", names)
    names = unnamed(dict(away, DEBUGINFOD_CACHE_PATH="", XDG_CACHE_HOME=os.path.join(workdir, "cache")))
    check(not names, "from XDG_CACHE_HOME/debuginfod_client: %s unnamed", names)
