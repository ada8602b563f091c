# Processes in their own PID and mount namespaces, profiled from outside by
# their host PID, as a container's are: a fixture run by Debian's 3.13-3.15
# under `unshare --pid --mount --fork --mount-proc` and chroot (or pivot_root)
# into a copy of the root tools/debian-python.sh unpacks, and the pyenv
# interpreters under unshare alone. What the fixture sees of itself (its
# pid and thread ids in its namespace, its stacks) is the expectation; the
# host's ids are those in /proc/PID/task.
import json
import os
import re
import shutil
import subprocess
import time

import lib
from lib import check

FIXTURE_FILES = ("container.py", "groundtruth.py")
UNSHARE = ["--pid", "--mount", "--fork", "--mount-proc", "--kill-child"]


# ---------------------------------------------------------------- setup

def unshare():
    """The unshare command, once it has shown it may make the namespaces here."""
    path = lib.tool("unshare", "util-linux")

    def probe(directory):
        result = lib.run([path] + UNSHARE + ["true"], timeout=30)
        if result.code != 0:
            raise lib.Skip("unshare %s is not permitted here (it needs root or CAP_SYS_ADMIN): %s"
                           % (" ".join(UNSHARE[:4]), result.stderr.decode("utf-8", "replace").strip()))
        return path
    return lib.cached("shared", "unshare-probe", probe)


def debian_labels():
    return ["debian-" + version for version in lib.DEBIAN_FETCHED]


def container_root(label):
    """A root for a container of Debian's python3.X: a hard-linked copy of
    the tree tools/debian-python.sh unpacked (a copy where links cannot be
    made), with the merged-/usr links a chroot needs and a /tmp. Made once
    per run; the files are never written. (root directory, interpreter
    path inside it)"""
    python = lib.interpreter(label)
    version = label.split("-", 1)[1]
    unpacked = os.path.dirname(os.path.dirname(os.path.dirname(python)))
    inside = "/usr/bin/python%s.orig" % version  # as Debian ships it, not patched for the host

    def make(directory):
        root = os.path.join(directory, "root")
        check(os.path.exists(unpacked + inside), "%s has no %s", unpacked, inside)
        result = lib.run(["cp", "-al", unpacked, root], timeout=300)
        if result.code != 0:
            shutil.rmtree(root, ignore_errors=True)
            result = lib.run(["cp", "-a", unpacked, root], timeout=600)
            check(result.code == 0, "cannot copy %s: %s", unpacked, result.describe())
        for name, target in (("lib64", "usr/lib64"), ("lib", "usr/lib"), ("bin", "usr/bin")):
            if not os.path.lexists(os.path.join(root, name)):
                os.symlink(target, os.path.join(root, name))
        os.mkdir(os.path.join(root, "tmp"))
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        return root
    return lib.cached(label, "container-root", make), inside


def park_library():
    """fixtures/native/park.c built as a library with a build-id, stripped
    of its symbol table, and its separate debug file: made once per run.
    {"library": path, "debug": path, "build_id": hex}"""
    tools = dict((name, lib.tool(name, package)) for name, package in
                 (("cc", "gcc"), ("objcopy", "binutils"), ("strip", "binutils"), ("readelf", "binutils")))

    def make(directory):
        library, debug = os.path.join(directory, "libpark.so"), os.path.join(directory, "libpark.debug")
        for argv in ([tools["cc"], "-g", "-O1", "-shared", "-fPIC", "-Wl,--build-id", "-o", library,
                      os.path.join(os.path.dirname(lib.FIXTURES), "native", "park.c")],
                     [tools["objcopy"], "--only-keep-debug", library, debug],
                     [tools["strip"], "--strip-all", library]):
            result = lib.run(argv, timeout=120)
            check(result.code == 0, "building the library failed: %s", result.describe())
        result = lib.run([tools["readelf"], "-n", library])
        match = re.search(r"Build ID: ([0-9a-f]+)", result.text())
        check(match, "no build-id in %s: %s", library, result.describe())
        return {"library": library, "debug": debug, "build_id": match.group(1)}
    return lib.cached("shared", "libpark", make)


def install_debug_file(root, built):
    """The library's debug file where the container's debuggers look for
    it: ROOT/usr/lib/debug/.build-id/xx/rest.debug (the same file for every
    case: put in place whole)."""
    build_id = built["build_id"]
    directory = os.path.join(root, "usr", "lib", "debug", ".build-id", build_id[:2])
    path = os.path.join(directory, build_id[2:] + ".debug")
    if not os.path.exists(path):
        os.makedirs(directory, exist_ok=True)
        temporary = "%s.%d.tmp" % (path, os.getpid())
        shutil.copy(built["debug"], temporary)
        os.rename(temporary, path)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as source:
            return [int(word) for word in source.read().split()]
    except (IOError, OSError):
        pass
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as source:
                    text = source.read()
            except (IOError, OSError):
                continue
            if int(text[text.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


class Contained(lib.Process):
    """container.py in new PID and mount namespaces: under the pyenv
    interpreter LABEL when ROOT is None, else chrooted (HOW "chroot") or
    pivoted (HOW "pivot_root") into ROOT and run by PYTHON, a path inside
    it. `pid` is the fixture's host pid (the namespace's init), not the
    unshare command's; `truth` what it wrote of itself. Ended by that pid,
    then unshare by its own."""

    def __init__(self, python, root=None, how="chroot", deleted_copy=False, library=False):
        workdir = lib.scratch("container")
        self.root = root
        self.deleted_copy = None
        self.library = None
        if root is None:
            script = os.path.join(lib.FIXTURES, "container.py")
            self.truth_path = os.path.join(workdir, "truth.json")
            argv = [python, script, self.truth_path]
        else:
            # The fixture's directory exists only inside the root: on the
            # host, /tmp/NAME is nothing (checked), so its files can be
            # read only through the process's root.
            self.inside_dir = "/tmp/" + os.path.basename(workdir)
            check(not os.path.exists(self.inside_dir), "%s exists on the host too", self.inside_dir)
            host_dir = root + self.inside_dir
            os.mkdir(host_dir)
            for name in FIXTURE_FILES:
                shutil.copy(os.path.join(lib.FIXTURES, name), host_dir)
            self.truth_path = os.path.join(host_dir, "truth.json")
            if deleted_copy:
                # Run a copy of the interpreter, deleted once it runs: its
                # path then leads nowhere, only /proc/PID/map_files does.
                shutil.copy(root + python, os.path.join(host_dir, "python"))
                python, self.deleted_copy = self.inside_dir + "/python", os.path.join(host_dir, "python")
            run = [python, self.inside_dir + "/container.py", self.inside_dir + "/truth.json"]
            if library:
                # A library of the container's, stripped, whose debug file
                # is in the container's /usr/lib/debug only.
                built = park_library()
                shutil.copy(built["library"], host_dir)
                install_debug_file(root, built)
                self.library = self.inside_dir + "/libpark.so"
                run.append(self.library)
            if how == "chroot":
                argv = ["chroot", root] + run
            else:
                # A root of its own, as container runtimes make it: the
                # paths in /proc/PID/maps are then the container's.
                # (The old root stays mounted at /.oldroot: nothing in
                # the new root could unmount it.)
                script = ('mount --make-rprivate / && mount --bind "$1" "$1" && cd "$1" && '
                          'mkdir -p .oldroot && pivot_root . .oldroot && shift && exec "$@"')
                argv = ["sh", "-c", script, "sh", root] + run
        self.contained_python = python
        lib.Process.__init__(self, unshare(), UNSHARE + argv, workdir=workdir, ready=self.truth_path,
                             name="container.py in namespaces")
        self.host_pid = None

    @property
    def pid(self):
        return self.host_pid

    def settle(self):
        self.truth = lib.load_truth(self.truth_path)
        deadline = time.time() + 10
        while True:
            found = children(self.proc.pid)
            if len(found) == 1 and os.path.exists("/proc/%d/task" % found[0]) and \
                    len(os.listdir("/proc/%d/task" % found[0])) == self.truth["thread_count"]:
                break
            check(time.time() < deadline, "no single fixture process below unshare %d (children %s) "
                  "with %d threads", self.proc.pid, found, self.truth["thread_count"])
            time.sleep(0.02)
        self.host_pid = found[0]
        if self.deleted_copy:
            os.remove(self.deleted_copy)
        check(self.truth["pid"] != self.host_pid,
              "the fixture's own pid %d is its host pid: it is not in a PID namespace of its own",
              self.truth["pid"])

    def end(self, quiet=False):
        if self.host_pid is not None:
            try:
                os.kill(self.host_pid, 9)
            except OSError:
                pass
            self.host_pid = None
        lib.Process.end(self, quiet)
        if self.root is not None:
            shutil.rmtree(self.root + self.inside_dir, ignore_errors=True)


def debian_container(label, how="chroot", deleted_copy=False, library=False):
    root, python = container_root(label)
    return Contained(python, root, how, deleted_copy, library)


# ---------------------------------------------------------------- checks

def host_tids(pid):
    return set(int(tid) for tid in os.listdir("/proc/%d/task" % pid))


def by_role(truth):
    return dict((thread["role"], thread) for thread in truth["threads"])


def check_spinner(what, found, truth_thread):
    """The spinner's stack: its recorded outer frames, and spin innermost at
    a line of its loop."""
    frames = lib.python_frames(found)
    expected = lib.truth_frames(truth_thread)
    check(frames and frames[0][:2] == expected[0][:2], "%s: innermost frame %s, expected %s",
          what, frames[:1], expected[0][:2])
    check(truth_thread["first_line"] <= frames[0][2] <= truth_thread["last_line"],
          "%s: spin at line %s, outside its loop (lines %d-%d)", what, frames[0][2],
          truth_thread["first_line"], truth_thread["last_line"])
    lib.compare_frames(what + " (outer frames)", expected[1:], frames[1:])


def check_document(document, fixture, what, native=False):
    """Host ids that exist in /proc/PID/task, the namespace's ids beside
    them, the parked threads idle with their exact stacks, the spinner
    running its loop."""
    truth, pid = fixture.truth, fixture.pid
    check(document.get("pid") == pid, "%s: pid %s, expected the host pid %d", what, document.get("pid"), pid)
    check(document.get("ns_pid") == truth["pid"], "%s: ns_pid %s, expected %s (what the process sees)",
          what, document.get("ns_pid"), truth["pid"])
    tids = host_tids(pid)
    for role, thread in sorted(by_role(truth).items()):
        found = lib.find_thread(document, thread)
        where = "%s, %s thread" % (what, role)
        check(found.get("tid") in tids, "%s: tid %s is not a thread of pid %d (%s)", where,
              found.get("tid"), pid, sorted(tids))
        if thread.get("native_id") is not None:
            check(found.get("ns_tid") == thread["native_id"], "%s: ns_tid %s, expected %s", where,
                  found.get("ns_tid"), thread["native_id"])
        if role == "spinner":
            check_spinner(where, found, thread)
            check(found.get("idle") is False, "%s: the spinner is marked idle", where)
        else:
            lib.compare_frames(where, lib.truth_frames(thread), lib.python_frames(found))
            check(found.get("idle") is True, "%s: parked but not marked idle", where)
        if native and role != "spinner":
            check_native_thread(where, found)
    main = lib.find_thread(document, by_role(truth)["main"])
    check(main.get("tid") == pid, "%s: the main thread's tid is %s, expected the host pid %d", what,
          main.get("tid"), pid)


def check_native_thread(what, thread):
    """A parked thread's native frames merged with its Python ones: where it
    waits, in the container's libc, before the innermost Python frame.
    (The spinner is left out: caught in a few of Debian's 3.15 leaf
    functions, the unwinder stops early, on the host too.)"""
    frames = thread.get("frames") or []
    check(thread.get("native_error") is None, "%s: no native frames: %s", what, thread.get("native_error"))
    check(not thread.get("native_partial"), "%s: the merge is partial", what)
    kinds = "".join("p" if frame.get("kind") == "python" else "n" for frame in frames)
    check(re.match(r"^n+p", kinds), "%s: expected native frames before the innermost Python frame, "
          "got %s (n native, p Python)", what, kinds)
    waiting = frames[:kinds.index("p")]
    libraries = [frame.get("library") or "" for frame in waiting]
    check(any(os.path.basename(library).startswith("libc.so") for library in libraries),
          "%s: the thread does not wait in the container's libc (libraries: %s)", what, libraries)


def dump_json(pid, extra=()):
    result = lib.run_pycoreprof(["dump", "--pid", str(pid), "--json"] + list(extra))
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return lib.parse_json(result)


def wait_parked(fixture):
    """The parked threads back asleep (a freeze pulls them out of their
    sleeps for a moment), as a nonblocking dump judges idleness by state."""
    truth = by_role(fixture.truth)
    deadline = time.time() + 10
    while True:
        document = dump_json(fixture.pid, ["--nonblocking"])
        idle = dict((thread.get("ns_tid"), thread.get("idle")) for thread in document["threads"])
        if all(idle.get(truth[role]["native_id"]) for role in ("main", "sleeper")):
            return
        check(time.time() < deadline, "the parked threads not asleep in 10 s: %s", idle)
        time.sleep(0.05)


# ---------------------------------------------------------------- dump

def container_cases():
    return ["%s:%s" % (label, how) for label in debian_labels() for how in ("chroot", "pivot_root")]


@lib.each(container_cases)
def test_dump(case):
    """dump --json (freeze and nonblocking) and the text dump of a process
    in a container: host ids, idle threads, stacks, and source lines read
    through the process's root; binaries named by their container paths."""
    label, how = case.split(":")
    with debian_container(label, how) as fixture:
        python = fixture.contained_python
        for mode in ([], ["--nonblocking"]):
            what = "dump %s" % " ".join(mode) if mode else "dump"
            if mode:
                wait_parked(fixture)
            document = dump_json(fixture.pid, mode)
            check_document(document, fixture, what)
            library = (document.get("python") or {}).get("library")
            check(library == python and document.get("executable") == python,
                  "%s: python.library %r and executable %r, expected the container's path %s", what,
                  library, document.get("executable"), python)
        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid)])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        text = result.text()
        for line in ("time.sleep(3600)  # park:sleep", "spin()"):
            check(re.search(r"\n +%s\n" % re.escape(line), text), "the text dump shows no source line "
                  "%r (from %s/container.py inside the container)\n%s", line, fixture.inside_dir, text)
        check(lib.tracer_pid(fixture.pid) == 0, "pid %d is still traced", fixture.pid)


def library_frame(document, fixture):
    """The native frame of the library thread in the library's static
    function, found by its place: the frame right above park's."""
    thread = lib.find_thread(document, by_role(fixture.truth)["library"])
    frames = thread.get("frames") or []
    ours = [index for index, frame in enumerate(frames)
            if frame.get("kind") == "native" and frame.get("library") == fixture.library]
    check(len(ours) == 2 and frames[ours[1]].get("function") == "park",
          "expected two frames in %s, the outer one park: %s", fixture.library,
          [(frame.get("function"), frame.get("library")) for frame in frames])
    return frames[ours[0]]


def check_named_from_debug_file(what, frame):
    check(frame.get("function") == "wait_in_library" and (frame.get("file") or "").endswith("park.c") and
          (frame.get("line") or 0) > 0, "%s: the library's static function is not named from its debug file "
          "in the container's /usr/lib/debug: %s", what, frame)


@lib.each(debian_labels)
def test_dump_native(label):
    """dump --native: native frames from the container's files, a stripped
    library's static function named by the debug file in the container's
    /usr/lib/debug (unnamed without it: the host has none)."""
    with debian_container(label, library=True) as fixture:
        document = dump_json(fixture.pid, ["--native"])
        check_document(document, fixture, "dump --native", native=True)
        check_named_from_debug_file("dump --native", library_frame(document, fixture))
        result = lib.run([lib.pycoreprof(), "dump", "--pid", str(fixture.pid), "--json", "--native"],
                         env={"PYCOREPROF_DEBUG_DIRS": ""})
        check(result.code == 0, "expected exit 0: %s", result.describe())
        frame = library_frame(lib.parse_json(result), fixture)
        check(frame.get("function") != "wait_in_library" and frame.get("file") is None,
              "without debug directories the library's static function is still named: %s", frame)


@lib.each(debian_labels)
def test_deleted_interpreter(label):
    """The container's interpreter file deleted while it runs: read through
    /proc/PID/map_files, named by the path it had inside the container."""
    with debian_container(label, deleted_copy=True) as fixture:
        python = fixture.contained_python
        with open("/proc/%d/maps" % fixture.pid) as source:
            check(any(line.rstrip().endswith(python + " (deleted)") for line in source),
                  "the interpreter's file is not shown deleted in /proc/%d/maps", fixture.pid)
        document = dump_json(fixture.pid, ["--native-all"])
        check_document(document, fixture, "dump --native-all", native=True)
        check(document["python"]["library"] == python, "python.library is %r, expected %s",
              document["python"]["library"], python)
        named = set(frame.get("function") for thread in document["threads"] for frame in thread["frames"]
                    if frame.get("kind") == "native" and frame.get("library") == python and frame.get("function"))
        check(named, "no native frame of the deleted interpreter %s is named", python)


# ---------------------------------------------------------------- record

THREAD_ROOT = re.compile(r'^thread (\d+) ')


def record_profile(fixture, extra):
    """`record --threads` of the fixture for 2 s as a JSON profile: its
    stacks as ([frame, ...] root first, count)."""
    import test_record as recording
    out = os.path.join(fixture.workdir, "profile-%d.json" % len(os.listdir(fixture.workdir)))
    result, summary = recording.record(["--pid", str(fixture.pid), "--duration", "2", "--threads",
                                        "-o", out] + extra)
    recording.check_success(result, summary)
    with open(out) as source:
        profile = json.load(source)
    frames = profile["frames"]
    stacks = [([frames[index] for index in stack["frames"]], stack["count"]) for stack in profile["stacks"]]
    check(stacks, "%s holds no stack", out)
    return stacks


def shown(frames):
    return ";".join("%s (%s%s)" % (frame["name"], frame.get("file", ""),
                                   ":%s" % frame["line"] if "line" in frame else "") for frame in frames)


def check_thread_roots(what, stacks, fixture):
    """Every stack starts at a thread root naming a host thread id."""
    tids = host_tids(fixture.pid)
    for frames, _ in stacks:
        match = THREAD_ROOT.match(frames[0]["name"]) if frames[0]["kind"] == "thread" else None
        check(match and int(match.group(1)) in tids, "%s: the stack's root is not a thread of pid %d "
              "(%s): %s", what, fixture.pid, sorted(tids), shown(frames))


def spin_stacks(stacks):
    """Stacks whose innermost Python frame is spin."""
    found = []
    for frames, count in stacks:
        python = [frame for frame in frames if frame["kind"] == "python"]
        if python and python[-1]["name"] == "spin":
            found.append((frames, count))
    return found


def check_spin_stack(what, frames, truth):
    """The Python frames of a spin stack are the spinner's own (files as the
    profile shortens them: a tail of the path)."""
    spinner = by_role(truth)["spinner"]
    expected = list(reversed(spinner["frames"]))
    python = [frame for frame in frames if frame["kind"] == "python"]
    check(len(python) == len(expected), "%s: %d Python frames, expected %d: %s", what, len(python),
          len(expected), shown(frames))
    for got, want in zip(python, expected):
        check(got["name"] == want.get("qualname", want["function"]) and want["file"].endswith(got["file"]),
              "%s: frame %s (%s), expected %s (%s): %s", what, got["name"], got["file"], want["function"],
              want["file"], shown(frames))
    for got, want in zip(python[:-1], expected[:-1]):
        check(got.get("line") == want["line"], "%s: %s at line %s, expected %s: %s", what, got["name"],
              got.get("line"), want["line"], shown(frames))
    check(spinner["first_line"] <= python[-1].get("line", 0) <= spinner["last_line"],
          "%s: spin at line %s, outside its loop: %s", what, python[-1].get("line"), shown(frames))


def parked_functions(truth):
    return set(by_role(truth)[role]["frames"][0]["function"] for role in ("main", "sleeper"))


@lib.each(debian_labels)
def test_record(label):
    """Without --idle only the spinner is sampled, always with its own
    stack, under a thread root with its host id; with --idle the parked
    threads are there too."""
    with debian_container(label) as fixture:
        truth = fixture.truth
        parked = parked_functions(truth)
        stacks = record_profile(fixture, [])
        check_thread_roots("record", stacks, fixture)
        spun = spin_stacks(stacks)
        check(spun, "record: no stack in spin: %s", [shown(frames) for frames, _ in stacks[:5]])
        for frames, _ in stacks:
            check(not set(frame["name"] for frame in frames) & parked,
                  "record without --idle sampled a parked thread: %s", shown(frames))
        for frames, _ in spun:
            check_spin_stack("record", frames, truth)
        stacks = record_profile(fixture, ["--idle"])
        check_thread_roots("record --idle", stacks, fixture)
        for name in sorted(parked):
            check(any(frame["name"] == name for frames, _ in stacks for frame in frames),
                  "record --idle has no stack in the parked %s", name)


@lib.each(debian_labels)
def test_record_native(label):
    """record --native: the spinner's Python frames merged with native ones
    from the container's interpreter (the C functions its loop calls);
    --native-all also keeps the thread's start, in the container's libc."""
    with debian_container(label) as fixture:
        interpreter = os.path.basename(fixture.contained_python)
        stacks = record_profile(fixture, ["--native"])
        check_thread_roots("record --native", stacks, fixture)
        spun = spin_stacks(stacks)
        check(spun, "record --native: no stack in spin: %s", [shown(frames) for frames, _ in stacks[:5]])
        called = 0
        for frames, count in spun:
            check_spin_stack("record --native", frames, fixture.truth)
            last = max(index for index, frame in enumerate(frames) if frame["kind"] == "python")
            inner = frames[last + 1:]
            if inner and all(frame["kind"] == "native" and frame.get("file") == interpreter for frame in inner):
                called += count
        check(called, "record --native: no sample caught spin in a C function of %s: %s", interpreter,
              [shown(frames) for frames, _ in spun[:5]])
        stacks = record_profile(fixture, ["--native-all"])
        spun = spin_stacks(stacks)
        check(spun, "record --native-all: no stack in spin")
        # The unwinder stops early in a few leaf functions of Debian's
        # 3.15 (lto-split, as on the host): most samples must reach the
        # thread's start, not all.
        whole, short = 0, None
        for frames, count in spun:
            first = next(index for index, frame in enumerate(frames) if frame["kind"] == "python")
            outer = frames[1:first]
            if outer and all(frame["kind"] == "native" for frame in outer) and \
                    any(frame.get("file", "").startswith("libc.so") for frame in outer):
                whole += count
            else:
                short = short or shown(frames)
        spins = sum(count for _, count in spun)
        check(whole >= 0.8 * spins, "record --native-all: %d of %d samples in spin start in the container's "
              "libc beyond the Python frames, expected 80%% or more; one that does not: %s", whole, spins, short)


# ---------------------------------------------------------------- snapshot and core

@lib.each(debian_labels)
def test_snapshot_core_sysroot(label):
    """snapshot --native of the container, read with core --native: with
    --sysroot (the container's root seen from the host) the native frames
    come from the container's files and the source lines from its /tmp;
    without it, the host has none of those files."""
    with debian_container(label, library=True) as fixture:
        snapshot = os.path.join(fixture.workdir, "snap.core.gz")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--native", "-o", snapshot])
        check(result.code == 0 and os.path.exists(snapshot), "snapshot failed: %s", result.describe())
        check(lib.tracer_pid(fixture.pid) == 0, "pid %d is still traced", fixture.pid)
        document = lib.core_json(snapshot, ["--native", "--sysroot", fixture.root])
        check(document.get("native") == "merged", "native is %r", document.get("native"))
        check_document(document, fixture, "core --native --sysroot", native=True)
        check_named_from_debug_file("core --native --sysroot", library_frame(document, fixture))
        library = document["python"]["library"]
        check(library.startswith(fixture.root + "/"), "python.library %r is not under the sysroot %s",
              library, fixture.root)
        result = lib.run_pycoreprof(["core", snapshot, "--sysroot", fixture.root])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check("# park:sleep" in result.text(), "core --sysroot shows no source line from the "
              "container's %s/container.py:\n%s", fixture.inside_dir, result.text())
        # The container's paths name nothing usable on the host.
        plain = lib.core_json(snapshot, ["--native"])
        check((plain.get("python") or {}).get("binaries_unused"),
              "without --sysroot the container's binaries were found on the host: %s", plain.get("python"))
        lib.compare_frames("core without --sysroot, sleeper",
                           lib.truth_frames(by_role(fixture.truth)["sleeper"]),
                           lib.python_frames(lib.find_thread(plain, by_role(fixture.truth)["sleeper"])))


# ---------------------------------------------------------------- pyenv, PID namespace only

@lib.each(lambda: [label for label in lib.interpreter_labels() if label.startswith("pyenv")])
def test_pid_namespace(label):
    """A pyenv interpreter under unshare without chroot: the thread ids the
    interpreter keeps (3.11+) or glibc keeps (before: found from pthread_t,
    by registers when frozen, from memory with --nonblocking) are the
    namespace's, translated to the host's."""
    python = lib.interpreter(label)
    with Contained(python) as fixture:
        for mode in ([], ["--nonblocking"]):
            if mode:
                wait_parked(fixture)
            check_document(dump_json(fixture.pid, mode), fixture, "dump %s" % " ".join(mode))


# ---------------------------------------------------------------- permissions

NOBODY = 65534


def test_permission_errors():
    """A process in a container that pycoreprof may not inspect: as root
    without CAP_SYS_PTRACE (what a container's default capabilities leave),
    and as another user. One line, exit 2, saying what is missing; the
    process runs on."""
    setpriv = lib.tool("setpriv", "util-linux")
    if os.geteuid() != 0:
        raise lib.Skip("the case drops root's rights with setpriv: it needs to run as root")
    label = debian_labels()[0]
    with debian_container(label) as fixture:
        pid = str(fixture.pid)
        cases = [
            ("root without CAP_SYS_PTRACE", ["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"],
             ["holds capabilities pycoreprof lacks", "CAP_SYS_PTRACE", "runs as root but without CAP_SYS_PTRACE",
              "--cap-add SYS_PTRACE"]),
            ("uid %d" % NOBODY, ["--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"],
             ["runs as uid 0 and pycoreprof as uid %d" % NOBODY, "CAP_SYS_PTRACE"]),
        ]
        for who, rights, phrases in cases:
            for command in (["dump", "--pid", pid], ["dump", "--pid", pid, "--nonblocking"],
                            ["record", "--pid", pid, "--duration", "1", "-o", os.path.join(fixture.workdir, "denied.folded")],
                            ["snapshot", "--pid", pid, "-o", os.path.join(fixture.workdir, "denied.core")]):
                result = lib.run([setpriv] + rights + [lib.pycoreprof()] + command, timeout=60)
                lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
                what = "%s as %s" % (" ".join(command[:1] + command[3:4]), who)
                check(result.code == 2 and len(lines) == 1, "%s: expected exit 2 and one line: %s", what,
                      result.describe())
                for phrase in ["pid %s" % pid, "container"] + phrases:
                    check(phrase in lines[0], "%s: the error does not say %r: %s", what, phrase, lines[0])
        check(fixture.proc.poll() is None and lib.tracer_pid(fixture.pid) == 0,
              "the fixture did not run on untraced")
        wait_parked(fixture)
        check_document(dump_json(fixture.pid), fixture, "dump after the refusals")
