# `pycoreprof core` on real cores of the fixture programs, for every
# interpreter: the output must match the stacks each fixture recorded of itself
# just before it crashed (or parked, for gcore).
import os
import signal

import lib
from lib import check

NON_ASCII_DIR = u"t\u00ebst-\u00e5"
UNICODE_NAMES = [u"f\u00fcnf", u"\u51fd\u6570", u"\U00020000\U00020001"]
UNICODE_FILE = u"<exec-\u540d\u524d>"


def crash_core(label, mode):
    return lib.fixture_core(label, "threads-" + mode, mode)


def role(truth, name):
    for thread in truth["threads"]:
        if thread["role"] == name:
            return thread
    raise lib.Failure("the ground truth has no %s thread" % name)


def check_threads(document, truth, crashed):
    """Every stable thread of TRUTH has exactly its recorded frames; the busy
    one exists; the main thread is the crashed one when CRASHED."""
    threads = document.get("threads")
    check(isinstance(threads, list) and threads, "no threads in the output")
    for thread in truth["threads"]:
        found = lib.find_thread(document, thread)
        what = "thread %s (%s)" % (thread["thread_id"], thread["role"])
        if "native_id" in thread:
            check(found.get("tid") == thread["native_id"], "%s: tid %s, expected %s",
                  what, found.get("tid"), thread["native_id"])
        if thread["role"] == "busy":
            names = [frame[0] for frame in lib.python_frames(found)]
            check("spin" in names, "busy thread: no spin frame in %s", names)
            continue
        lib.compare_frames(what, lib.truth_frames(thread), lib.python_frames(found))
        qualnames = [frame.get("qualname") for frame in thread["frames"]]
        if all(qualnames):  # 3.11+: co_qualname
            got = [frame.get("qualname") for frame in found["frames"]
                   if frame.get("kind", "python") == "python"]
            check(got == qualnames, "%s: qualnames %s, expected %s", what, got, qualnames)
    main = lib.find_thread(document, role(truth, "main"))
    check(main.get("tid") == truth["pid"], "main thread: tid %s, expected the pid %s",
          main.get("tid"), truth["pid"])
    flagged = [thread.get("tid") for thread in threads if thread.get("crashed")]
    if crashed:
        check(flagged == [truth["pid"]], "crashed flag on threads %s, expected only %s",
              flagged, truth["pid"])
    holders = [thread.get("tid") for thread in threads if thread.get("gil")]
    check(len(holders) <= 1, "the GIL is held by several threads: %s", holders)
    return holders


def check_header(document, truth):
    check(document.get("source") == "core", "source is %r, expected 'core'",
          document.get("source"))
    check(document.get("pid") == truth["pid"], "pid %s, expected %s",
          document.get("pid"), truth["pid"])
    version = (document.get("python") or {}).get("version")
    check(version == truth["python_version"], "python.version %r, expected %r",
          version, truth["python_version"])


def check_signal(document, truth, signum):
    sig = document.get("signal")
    check(isinstance(sig, dict), "signal is %r, expected an object", sig)
    name = signal.Signals(signum).name
    check(sig.get("number") == signum and sig.get("name") == name,
          "signal %s/%s, expected %d/%s", sig.get("number"), sig.get("name"), signum, name)
    check(sig.get("tid") == truth["pid"], "signal.tid %s, expected the main thread %s",
          sig.get("tid"), truth["pid"])
    if signum == signal.SIGSEGV:
        address = sig.get("address")
        check(address is not None and int(str(address), 0) == 0,
              "signal.address %r, expected 0x0 (a NULL write)", address)


def check_crash(label, mode):
    core, truth = crash_core(label, mode)
    document = lib.core_json(core)
    check_header(document, truth)
    check_signal(document, truth, lib.MODE_SIGNAL[mode])
    holders = check_threads(document, truth, crashed=True)
    if mode == "abort":  # os.abort() keeps the GIL; ctypes calls release it
        check(holders == [truth["pid"]], "GIL holder %s, expected the aborting thread %s",
              holders, truth["pid"])


@lib.each_interpreter
def test_segv(label):
    check_crash(label, "segv")


@lib.each_interpreter
def test_abort(label):
    check_crash(label, "abort")


@lib.each_interpreter
def test_deep_recursion(label):
    core, truth = lib.fixture_core(label, "deep", "segv", fixture="deep_crash.py")
    document = lib.core_json(core)
    main = role(truth, "main")
    check(len(main["frames"]) > 900, "the fixture recorded only %d frames", len(main["frames"]))
    lib.compare_frames("900-deep main thread", lib.truth_frames(main),
                       lib.python_frames(lib.find_thread(document, main)))


@lib.each_interpreter
def test_non_ascii(label):
    core, truth = lib.fixture_core(label, "non-ascii", "segv", directory=NON_ASCII_DIR)
    document = lib.core_json(core)
    check_threads(document, truth, crashed=True)
    files = set(frame[1] for thread in document["threads"] for frame in lib.python_frames(thread))
    check(any(NON_ASCII_DIR in (path or "") for path in files),
          "no frame file contains %r: %s", NON_ASCII_DIR, sorted(files, key=str))
    text = lib.run_pycoreprof(["core", core]).text()
    check(NON_ASCII_DIR in text, "the text output does not contain %r", NON_ASCII_DIR)
    if lib.label_version(label) >= (3,):
        thread = lib.find_thread(document, role(truth, "unicode_names"))
        names = [frame[0] for frame in lib.python_frames(thread)]
        files = [frame[1] for frame in lib.python_frames(thread)]
        for name in UNICODE_NAMES:
            check(name in names, "function %r missing from %r", name, names)
            check(name in text, "function %r missing from the text output", name)
        check(UNICODE_FILE in files, "file %r missing from %r", UNICODE_FILE, files)


@lib.each_interpreter_from((3, 5))
def test_asyncio(label):
    core, truth = lib.fixture_core(label, "asyncio", "segv", fixture="asyncio_crash.py")
    document = lib.core_json(core)
    check_signal(document, truth, signal.SIGSEGV)
    main = role(truth, "main")
    names = [frame["function"] for frame in main["frames"]]
    check("crash_site" in names and "crasher" in names,
          "the fixture's own stack lacks its coroutines: %s", names)
    lib.compare_frames("main thread running coroutines", lib.truth_frames(main),
                       lib.python_frames(lib.find_thread(document, main)))


@lib.each_interpreter
def test_gcore(label):
    core, truth = lib.fixture_core(label, "gcore", "park")
    document = lib.core_json(core)
    check_header(document, truth)
    check_threads(document, truth, crashed=False)
    flagged = [thread.get("tid") for thread in document["threads"] if thread.get("crashed")]
    check(len(flagged) <= 1, "several threads flagged as crashed: %s", flagged)


def comparable(document, core):
    """DOCUMENT without the fields that name the core file itself."""
    return {key: value for key, value in document.items()
            if not (isinstance(value, str) and core in value)}


def check_same_output(core, compressed_core, what):
    """`core --json` of COMPRESSED_CORE says what it says of CORE."""
    plain_fields = comparable(lib.core_json(core), core)
    compressed_fields = comparable(lib.core_json(compressed_core), compressed_core)
    for key in sorted(set(plain_fields) | set(compressed_fields)):
        check(plain_fields.get(key) == compressed_fields.get(key),
              "%r differs between the core and its %s: %.300r vs %.300r",
              key, what, plain_fields.get(key), compressed_fields.get(key))


@lib.each_interpreter
def test_gzip(label):
    core, truth = crash_core(label, "segv")
    compressed_core = lib.gzip_file(core, os.path.join(lib.scratch("gzip"), "core.gz"))
    check_same_output(core, compressed_core, "gzip")


def two_interpreters():
    """The oldest interpreter and the system's: decompression happens before
    any Python layout matters, so two are enough."""
    return [lib.interpreter_labels()[0], "debian-3.11"]


@lib.each(two_interpreters)
def test_compressed(label):
    """The core compressed by the zstd, xz and lz4 tools, as systemd-coredump
    stores them (core.*.zst by default)."""
    core, truth = crash_core(label, "segv")
    directory = lib.scratch("compressed")
    for kind in sorted(lib.COMPRESSORS):
        # No extension: the format is known by its first bytes.
        compressed_core = lib.compress_file(core, kind, os.path.join(directory, "core-" + kind))
        check_same_output(core, compressed_core, kind + " copy")


def frame_places(frames):
    """'file:line' spellings accepted in the text output: full or base name."""
    return [("%s:%s" % (path, line), "%s:%s" % (os.path.basename(path), line))
            for _, path, line in frames]


@lib.each_interpreter
def test_text(label):
    core, truth = crash_core(label, "segv")
    result = lib.run_pycoreprof(["core", core])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    text = result.text()
    check("SIGSEGV" in text, "the text output does not name SIGSEGV")
    for thread in truth["threads"]:
        if thread["role"] == "busy":
            continue
        for frame in thread["frames"]:
            check(frame["function"] in text, "function %r (%s thread) missing from the text",
                  frame["function"], thread["role"])
    for full, short in frame_places(lib.truth_frames(role(truth, "main"))):
        check(full in text or short in text, "crashed thread's %s missing from the text", full)


def source_line(truth, role_name):
    frame = role(truth, role_name)["frames"][0]
    with open(frame["file"], encoding="utf-8") as source:
        return source.read().splitlines()[frame["line"] - 1].split("#")[0].strip()


@lib.each_interpreter
def test_source_lines(label):
    core, truth = crash_core(label, "segv")
    lines = [source_line(truth, "main"), source_line(truth, "lock_waiter")]
    with_source = lib.run_pycoreprof(["core", core])
    without = lib.run_pycoreprof(["core", core, "--no-source"])
    check(with_source.code == 0, "expected exit 0: %s", with_source.describe())
    check(without.code == 0, "expected exit 0 with --no-source: %s", without.describe())
    for line in lines:
        check(line in with_source.text(), "source line %r not shown", line)
        check(line not in without.text(), "source line %r shown despite --no-source", line)
    check("finish" in without.text(), "--no-source lost the function names")
