# Native stacks (--native) for every interpreter: Python -> C -> Python through
# qsort with a ctypes callback, live (dump of a stopped process) and from a
# crash core; crashes inside C; names checked against eu-stack; and the
# shares of a native record.
import os
import re
import signal
import subprocess
import time

import lib
from lib import check

FIXTURE = "native_calls.py"
SHARES = os.path.join(lib.FIXTURES, "shares.py")


def native_core(label, mode, expect):
    """(core, truth) of native_calls.py MODE, cached for the run."""
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, os.path.join(lib.FIXTURES, FIXTURE), mode, truth], workdir, expect)
        check(os.path.exists(truth), "the fixture wrote no ground truth")
        return {"core": core, "truth": truth}

    made = lib.cached(label, "native-" + mode, make)
    return made["core"], lib.load_truth(made["truth"])


def main_thread(document, truth):
    for thread in document.get("threads") or []:
        if thread.get("tid") == truth["pid"]:
            return thread
    raise lib.Failure("no thread %s in the output" % truth["pid"])


def kinds(frames):
    return "".join("p" if frame.get("kind") == "python" else "n" for frame in frames)


def describe(frames):
    return " | ".join("%s%s" % ("" if frame["kind"] == "python" else "*", frame.get("function"))
                      for frame in frames)


def library_name(frame):
    return os.path.basename(frame.get("library") or "")


def is_named(frame):
    """A native frame named by a symbol, not LIBRARY+0xOFFSET."""
    function = frame.get("function")
    return bool(function) and not re.match(r"^%s\+0x[0-9a-f]+$" % re.escape(library_name(frame)), function)


def check_python_part(thread, truth):
    """The Python frames, in order, are the fixture's own stack."""
    got = [(frame["function"], frame["file"], frame["line"])
           for frame in thread["frames"] if frame["kind"] == "python"]
    lib.compare_frames("Python frames among the native ones", lib.truth_frames(truth), got)
    check(not thread.get("native_partial"), "the merge is partial: %s", describe(thread["frames"]))
    check(thread.get("native_error") is None, "no native frames: %s", thread.get("native_error"))


def check_native_fields(frames):
    for frame in frames:
        if frame["kind"] != "native":
            continue
        for key in ("function", "library", "address", "offset", "file", "line"):
            check(key in frame, "native frame without %r: %r", key, frame)
        check(re.match(r"^0x[0-9a-f]+$", frame["address"]), "address %r is not hex", frame["address"])


def check_qsort_order(thread):
    """compare (Python), then the callback's way in through ctypes and
    qsort, then sort_numbers (Python): the true order, innermost first."""
    frames = thread["frames"]
    names = [frame.get("function") for frame in frames]
    check("compare" in names and "sort_numbers" in names, "frames: %s", describe(frames))
    inner, outer = names.index("compare"), names.index("sort_numbers")
    between = frames[inner + 1:outer]
    check(between and all(frame["kind"] == "native" for frame in between),
          "between compare and sort_numbers expected native frames only: %s", describe(frames))
    sorting = [i for i, frame in enumerate(between)
               if "sort" in (frame.get("function") or "") and library_name(frame).startswith("libc")]
    calling = [i for i, frame in enumerate(between)
               if library_name(frame).startswith(("libffi", "_ctypes"))]
    check(sorting, "no libc sort frame between the Python frames: %s", describe(frames))
    check(calling and calling[-1] > sorting[-1],
          "no ctypes/libffi frame outside qsort: %s", describe(frames))
    check(any(i < sorting[0] for i in calling),
          "no ctypes/libffi callback frame inside qsort: %s", describe(frames))


@lib.each_interpreter
def test_core_qsort_callback(label):
    core, truth = native_core(label, "qsort-abort", signal.SIGABRT)
    document = lib.core_json(core, ["--native"])
    check(document.get("native") == "merged", "native is %r", document.get("native"))
    thread = main_thread(document, truth)
    check_native_fields(thread["frames"])
    check_python_part(thread, truth)
    check_qsort_order(thread)
    names = [frame.get("function") for frame in thread["frames"]]
    check(names.index("abort") < names.index("compare"), "abort is not inside the callback: %s",
          describe(thread["frames"]))


def test_stripped_interpreter_without_debug_files():
    """Debian's stripped python3.11 with its debug files out of reach
    (PYCOREPROF_DEBUG_DIRS empty, as without python3.11-dbg): the merge is
    as exact, from the functions the interpreter exports."""
    label = "debian-3.11"
    if label not in lib.interpreter_labels():
        raise lib.Missing("%s not found (Debian package python3.11-minimal)" % lib.SYSTEM_PYTHON)
    core, truth = native_core(label, "qsort-abort", signal.SIGABRT)
    with_files = lib.core_json(core, ["--native-all"])
    env = dict(os.environ, PYCOREPROF_DEBUG_DIRS="")
    result = lib.run([lib.pycoreprof(), "core", core, "--json", "--native"], env=env)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    document = lib.parse_json(result)
    thread = main_thread(document, truth)
    check_python_part(thread, truth)
    check_qsort_order(thread)
    # The debug files did name more of the interpreter's own functions.
    result = lib.run([lib.pycoreprof(), "core", core, "--json", "--native-all"], env=env)
    without_files = lib.parse_json(result)

    def unnamed(document):
        return sum(1 for frame in main_thread(document, truth)["frames"]
                   if frame["kind"] == "native" and library_name(frame) == "python3.11"
                   and not is_named(frame))
    check(unnamed(without_files) > unnamed(with_files) == 0,
          "unnamed interpreter frames: %d without the debug files, %d with them", unnamed(without_files),
          unnamed(with_files))


@lib.each_interpreter
def test_core_abort(label):
    core, truth = native_core(label, "abort", signal.SIGABRT)
    thread = main_thread(lib.core_json(core, ["--native"]), truth)
    frames = thread["frames"]
    check_python_part(thread, truth)
    first_python = kinds(frames).index("p")
    innermost = [frame.get("function") for frame in frames[:first_python]]
    check(first_python > 0 and "abort" in innermost,
          "expected the innermost frames native with abort among them: %s", describe(frames))


@lib.each_interpreter
def test_core_segv_in_c(label):
    core, truth = native_core(label, "string-at", signal.SIGSEGV)
    thread = main_thread(lib.core_json(core, ["--native"]), truth)
    frames = thread["frames"]
    first_python = kinds(frames).index("p")
    check(first_python > 0, "the innermost frame is not native: %s", describe(frames))
    check(frames[first_python]["function"] == "string_at",
          "the innermost Python frame is %s, expected string_at: %s", frames[first_python]["function"],
          describe(frames))
    check(any(library_name(frame).startswith(("libc", "_ctypes", "libpython", "libffi"))
              for frame in frames[:first_python]),
          "no libc/ctypes frame inside string_at: %s", describe(frames))
    # The fixture recorded read_null's stack: string_at sits above it.
    python = [(f["function"], f["file"], f["line"]) for f in frames if f["kind"] == "python"]
    lib.compare_frames("Python frames below string_at", lib.truth_frames(truth), python[1:])


def eu_stack_names(core, executable):
    """{address: name} of eu-stack's frames for the core's threads."""
    tool = lib.tool("eu-stack", "elfutils")
    result = lib.run([tool, "--core", core, "-e", executable], timeout=120)
    found = {}
    for line in result.text().splitlines():
        match = re.match(r"^#\d+\s+0x([0-9a-f]+)\s*(\S*)", line.strip())
        if match:
            found[int(match.group(1), 16)] = match.group(2) or None
    check(found, "eu-stack printed no frames: %s", result.describe())
    return found


@lib.each_interpreter
def test_names_agree_with_eu_stack(label):
    core, truth = native_core(label, "qsort-abort", signal.SIGABRT)
    document = lib.core_json(core, ["--native-all"])
    theirs = eu_stack_names(core, truth["executable"])
    compared = 0
    for thread in document["threads"]:
        for frame in thread["frames"]:
            if frame["kind"] != "native" or not is_named(frame):
                continue
            address = int(frame["address"], 16)
            # eu-stack prints a caller's address less one.
            name = theirs.get(address, theirs.get(address - 1))
            if not name:
                continue
            compared += 1
            check(name == frame["function"], "at 0x%x we say %s, eu-stack says %s",
                  address, frame["function"], name)
    check(compared >= 5, "only %d named frames in common with eu-stack", compared)


class Parked(lib.Process):
    """native_calls.py qsort-park, from its ground truth until killed by PID."""

    def __init__(self, label):
        workdir = lib.scratch("native")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [os.path.join(lib.FIXTURES, FIXTURE), "qsort-park",
                                           self.truth_path],
                             workdir=workdir, ready=self.truth_path, name="the qsort fixture")

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)
        # The ground truth is written just before the callback parks: wait
        # until the main thread sleeps on the park line.
        deadline = time.time() + 60
        while not self.sleeping():
            if self.proc.poll() is not None or time.time() > deadline:
                raise lib.Failure("the qsort fixture did not go to sleep (status %s)" % self.proc.poll())
            time.sleep(0.02)

    def sleeping(self):
        """The main thread sits in select, nanosleep or clock_nanosleep."""
        try:
            with open("/proc/%d/syscall" % self.proc.pid) as source:
                number = source.read().split()[0]
        except (IOError, OSError, IndexError):
            return False
        return number in ("23", "35", "230", "270")


@lib.each_interpreter
def test_dump_qsort_callback(label):
    with Parked(label) as fixture:
        pid = fixture.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            result = lib.run_pycoreprof(["dump", "--pid", str(pid), "--native", "--json"])
            check(result.code == 0, "expected exit 0: %s", result.describe())
            text = lib.run_pycoreprof(["dump", "--pid", str(pid), "--native"]).text()
        finally:
            os.kill(pid, signal.SIGCONT)
        thread = main_thread(lib.parse_json(result), fixture.truth)
        check_native_fields(thread["frames"])
        check_python_part(thread, fixture.truth)
        check_qsort_order(thread)
        check("[native]" in text and "[python]" in text, "the text output has no frame tags")


def shares_of(folded):
    counts = {"fifty": 0, "thirty": 0, "twenty": 0}
    total = 0
    with open(folded) as source:
        for line in source:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            names = [frame.split(" (")[0] for frame in stack.split(";")]
            for name in counts:
                if name in names:
                    counts[name] += int(count)
                    total += int(count)
    check(total > 100, "only %d samples in the spinning functions", total)
    return dict((name, 100.0 * count / total) for name, count in counts.items())


def timeline_shares(path):
    """Wall-time shares of fifty, thirty and twenty by the fixture's own
    timeline (preemptions on a busy machine move them off 50/30/20)."""
    spent = {"fifty": 0.0, "thirty": 0.0, "twenty": 0.0}
    with open(path) as source:
        for line in source:
            fields = line.split()
            if len(fields) != 4:
                continue
            marks = [float(field) for field in fields]
            for name, began, ended in zip(("fifty", "thirty", "twenty"), marks, marks[1:]):
                spent[name] += ended - began
    whole = sum(spent.values())
    check(whole > 0, "the fixture's timeline %s is empty", path)
    return dict((name, 100.0 * value / whole) for name, value in spent.items())


@lib.each_interpreter
def test_record_shares(label):
    if not os.path.exists(SHARES):
        raise lib.Missing("fixtures/python/shares.py not found")
    python = lib.interpreter(label)
    workdir = lib.scratch("native-record")
    out = os.path.join(workdir, "profile.folded")
    timeline = os.path.join(workdir, "timeline.txt")
    result = lib.run_pycoreprof(["record", "--native", "--rate", "200", "-o", out, "--", python, SHARES, "4",
                                 "--rest", "10", "--timeline", timeline], timeout=90)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    # The fixture splits its CPU time 50/30/20; on a busy machine its
    # threads also wait for a CPU, which its timeline shows in wall time.
    sampled, spent = shares_of(out), timeline_shares(timeline)
    nominal = {"fifty": 50.0, "thirty": 30.0, "twenty": 20.0}
    for name in nominal:
        low, high = sorted((nominal[name], spent[name]))
        check(low - 3 <= sampled[name] <= high + 3,
              "%s has %.1f%% of the samples, expected within 3 points of %.1f%% (CPU time) to %.1f%% "
              "(wall time): samples %s", name, sampled[name], nominal[name], spent[name], sampled)
    with open(out) as source:
        check(any("[vdso]" in line or "libc" in line for line in source),
              "no native frame in the recorded stacks")


@lib.each(lambda: [label for label in lib.interpreter_labels()
                   if label in ("pyenv-2.7.18",) or label.startswith("debian-3.1")][-2:])
def test_record_library_loaded_later(label):
    """A library the program loads after record attached (libgmp through
    ctypes) is unwound through and named: the unwinder learns of it."""
    workdir = lib.scratch("native-late")
    go = os.path.join(workdir, "go")
    out = os.path.join(workdir, "late.folded")
    with lib.Process(label, [os.path.join(lib.FIXTURES, FIXTURE), "late-library", go],
                     workdir=workdir, ready=go + ".ready", timeout=30,
                     name="the late-library fixture") as fixture:
        recorder = subprocess.Popen([lib.pycoreprof(), "record", "--native", "--rate", "200", "--pid",
                                     str(fixture.pid), "-o", out], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1.0)   # sampling is under way before the library is loaded
        with open(go, "w") as flag:
            flag.write("go\n")
        _, err = recorder.communicate(timeout=60)
        # 1: some samples failed, as the last ones may while the process exits.
        check(recorder.returncode in (0, 1), "record exited %d: %s", recorder.returncode,
              err.decode("utf-8", "replace")[-500:])
    with open(out) as source:
        lines = source.read().splitlines()
    gmp = [line for line in lines if "(libgmp" in line]
    check(gmp, "no frame in libgmp among %d stacks: %s", len(lines), lines[:5])
    # Named from the library's symbols: the unwinder has it as a module.
    check(any("__gmpz_fac_ui (libgmp" in line for line in gmp), "libgmp's frames are not named: %s", gmp[:3])
    # Unwound through it (its CFI known): the call's way in through ctypes
    # and libffi lies between the Python caller and libgmp's frames.
    def through(line):
        below = line.split("(libgmp")[0]
        caller = below.find("compute_with_late_library")
        return caller >= 0 and ("(libffi" in below[caller:] or "(_ctypes" in below[caller:])
    check(any(through(line) for line in gmp),
          "libgmp was not unwound through to compute_with_late_library via ctypes: %s", gmp[:3])


def dynamic_symbols(path):
    """[(start, end, name)] of the defined functions in PATH's .dynsym."""
    readelf = lib.tool("eu-readelf", "elfutils")
    result = lib.run([readelf, "--dyn-syms", "-W", path])
    check(result.code == 0, "eu-readelf failed: %s", result.describe())
    found = []
    for line in result.text().splitlines():
        words = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(words) >= 8 and words[3] == "FUNC" and words[6] != "UNDEF":
            start, size = int(words[1], 16), int(words[2])
            found.append((start, start + max(size, 1), words[7].split("@")[0]))
    return found


def lowest_load(path):
    readelf = lib.tool("eu-readelf", "elfutils")
    result = lib.run([readelf, "-l", path])
    loads = [int(line.split()[2], 16) for line in result.text().splitlines() if line.split()[:1] == ["LOAD"]]
    check(loads, "no PT_LOAD in %s", path)
    return min(loads)


def test_debug_file_of_rewritten_binary_is_refused():
    """A binary rewritten after its build (patchelf gives it a segment below
    the others) no longer lines up with its separate debug file, which would
    name the wrong functions: its frames are named from the binary itself
    (exported functions), never from that debug file."""
    if not os.access(lib.SYSTEM_PYTHON, os.X_OK):
        raise lib.Missing("%s not found (Debian package python3.11-minimal)" % lib.SYSTEM_PYTHON)
    patchelf = lib.tool("patchelf", "patchelf")
    workdir = lib.scratch("rewritten")
    python = os.path.join(workdir, "python3.11")
    with open(lib.SYSTEM_PYTHON, "rb") as source, open(python, "wb") as out:
        out.write(source.read())
    os.chmod(python, 0o755)
    # The same loader by a longer path: patchelf must make room.
    loader = "/lib/x86_64-linux-gnu/../x86_64-linux-gnu/ld-linux-x86-64.so.2"
    result = lib.run([patchelf, "--set-interpreter", loader, python])
    check(result.code == 0, "patchelf failed: %s", result.describe())
    check(lowest_load(python) < lowest_load(lib.SYSTEM_PYTHON),
          "patchelf did not add a segment below the others: the case is not made")
    truth = os.path.join(workdir, "truth.json")
    env = dict(lib.fixture_env(), PYTHONHOME="/usr")
    core = lib.make_core([python, os.path.join(lib.FIXTURES, FIXTURE), "qsort-abort", truth], workdir,
                         signal.SIGABRT, env=env)
    document = lib.core_json(core, ["--native-all", "--exe", python])
    symbols = dynamic_symbols(python)
    named = 0
    for thread in document["threads"]:
        for frame in thread["frames"]:
            if frame["kind"] != "native" or library_name(frame) != "python3.11" or not is_named(frame):
                continue
            address = int(frame["address"], 16)
            # A return address may sit just past its caller's end.
            covering = [name for start, end, name in symbols if start <= address - 1 < end]
            check(frame["function"] in covering, "at 0x%x we say %s; the binary's own symbols there: %s",
                  address, frame["function"], covering)
            named += 1
    check(named >= 3, "only %d frames of the interpreter named", named)


# An asyncio program that aborts while the evaluation loop pops a frame
# (pystack's "shim frame" case: 3.12+ clears a returning coroutine's frame
# inside the call that ran it, and a __del__ runs there), or in a callback.
ASYNCIO_MODES = ("dying-frame", "dying-frame-python", "callback")
EVAL_LOOP = ("_PyEval_EvalFrameDefault", "PyEval_EvalFrameEx")


def asyncio_core(label, mode):
    python = lib.interpreter(label)

    def make(workdir):
        truth = os.path.join(workdir, "truth.json")
        core = lib.make_core([python, os.path.join(lib.FIXTURES, "asyncio_crash.py"), mode, truth], workdir,
                             signal.SIGABRT)
        check(os.path.exists(truth), "the fixture wrote no ground truth")
        return {"core": core, "truth": truth}

    made = lib.cached(label, "asyncio-" + mode, make)
    return made["core"], lib.load_truth(made["truth"])


def check_eval_calls(thread):
    """--native-all: each run of Python frames is followed by the
    evaluation call that ran it; the C function Handle._run called
    (context.run) is inside it, nearer the crash."""
    frames = thread["frames"]
    for index, frame in enumerate(frames):
        if frame["kind"] != "python" or (index + 1 < len(frames) and frames[index + 1]["kind"] == "python"):
            continue
        after = frames[index + 1] if index + 1 < len(frames) else None
        check(after is not None and after["kind"] == "native", "%s is not followed by its evaluation call: %s",
              frame["function"], describe(frames))
        check(after.get("function") in EVAL_LOOP or not is_named(after),
              "%s is followed by %s, not by its evaluation call: %s", frame["function"], after.get("function"),
              describe(frames))
    names = [frame.get("function") for frame in frames]
    check("_run" in names, "no Handle._run frame: %s", describe(frames))
    if "context_run" in names:
        check(names.index("context_run") < names.index("_run"),
              "Handle._run is placed inside the context.run it called: %s", describe(frames))


@lib.each(lambda: ["%s/%s" % (label, mode) for label in lib.interpreter_labels()
                   if lib.label_version(label) >= (3, 11) for mode in ASYNCIO_MODES])
def test_core_asyncio_abort(param):
    label, mode = param.split("/")
    core, truth = asyncio_core(label, mode)
    plain = main_thread(lib.core_json(core), truth)
    lib.compare_frames("Python frames without --native", lib.truth_frames(truth["threads"][0]),
                       lib.python_frames(plain))
    thread = main_thread(lib.core_json(core, ["--native"]), truth)
    check_native_fields(thread["frames"])
    check_python_part(thread, truth["threads"][0])
    text = lib.run_pycoreprof(["core", core, "--native"]).text()
    check("merge partial" not in text, "the text output says the merge is partial:\n%s", text)
    check_eval_calls(main_thread(lib.core_json(core, ["--native-all"]), truth))
