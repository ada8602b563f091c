# Helpers for the end-to-end tests run by tests/run.py: locating the binaries
# and interpreters, running fixture programs (Process) and making crash and
# gcore cores of them, running pycoreprof and checking its output. Python 3
# stdlib only.
import fcntl
import glob
import gzip
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "fixtures", "python")
DEBIAN_SCRIPT = os.path.join(REPO, "tools", "debian-python.sh")
DEBIAN_FETCHED = ("3.13", "3.14", "3.15")
SYSTEM_PYTHON = "/usr/bin/python3.11"


# ---------------------------------------------------------------- outcomes

class Failure(AssertionError):
    """The product did not do what it should."""


class Skip(Exception):
    """The case does not apply here; a skip in every setting."""


class Missing(Skip):
    """Something the case needs is not installed: a skip locally, a failure
    under CI=true, where everything must be present."""


def check(condition, message, *args):
    if not condition:
        raise Failure(message % args if args else message)


def under_ci():
    return os.environ.get("CI", "").lower() == "true"


# ---------------------------------------------------------------- registration

def each(params):
    """Decorator: run the test once per item of PARAMS() (called by the runner
    when it collects cases); the item is the test's only argument."""
    def mark(function):
        function.params = params
        return function
    return mark


def each_interpreter(function):
    return each(interpreter_labels)(function)


def each_interpreter_from(version):
    """Like each_interpreter, limited to interpreters at least VERSION."""
    return each(lambda: [label for label in interpreter_labels()
                         if label_version(label) >= version])


# ---------------------------------------------------------------- run state

def run_dir():
    """The per-run scratch directory, shared by all case processes."""
    path = os.environ.get("PYCOREPROF_TEST_RUN")
    if not path:
        path = tempfile.mkdtemp(prefix="pycoreprof-tests-")
        os.environ["PYCOREPROF_TEST_RUN"] = path
    return path


def scratch(name):
    """A fresh directory of the run's scratch space."""
    base = os.path.join(run_dir(), "scratch")
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix=name + "-", dir=base)


def cache_home():
    """What the tests keep between runs (built helper programs), as the
    tools' own cache: $PYCOREPROF_CACHE or ~/.cache/pycoreprof."""
    return os.environ.get("PYCOREPROF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pycoreprof")


class Locked(object):
    """An exclusive flock on PATH, held across processes."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()




def cached(group, key, maker):
    """Make something once per run and share it between case processes.
    MAKER(directory) fills a fresh directory and returns a JSON value; later
    calls return that value. An outcome (failure, skip) is remembered too, so a
    broken fixture fails every case that needs it without being rerun. GROUP
    is the interpreter label (the runner deletes its cache when its cases are
    done) or "shared"."""
    base = os.path.join(run_dir(), "cache", group)
    done = os.path.join(base, key + ".json")
    with Locked(os.path.join(base, key + ".lock")):
        if not os.path.exists(done):
            directory = os.path.join(base, key)
            shutil.rmtree(directory, ignore_errors=True)
            os.makedirs(directory)
            try:
                record = {"value": maker(directory)}
            except Missing as exc:
                record = {"missing": str(exc)}
            except Skip as exc:
                record = {"skip": str(exc)}
            except Failure as exc:
                record = {"failure": "%s (while making %s)" % (exc, key)}
            with open(done + ".tmp", "w") as out:
                json.dump(record, out)
            os.rename(done + ".tmp", done)
        with open(done) as source:
            record = json.load(source)
    if "missing" in record:
        raise Missing(record["missing"])
    if "skip" in record:
        raise Skip(record["skip"])
    if "failure" in record:
        raise Failure(record["failure"])
    return record["value"]


# ---------------------------------------------------------------- binaries

def _build_dir(variable, default):
    return os.path.join(REPO, os.environ.get(variable, default))


def pycoreprof():
    path = os.path.join(_build_dir("PYCOREPROF_TEST_BUILD", "build"), "pycoreprof")
    check(os.access(path, os.X_OK), "%s not found or not executable: run make", path)
    return path


def asan_pycoreprof():
    path = os.path.join(_build_dir("PYCOREPROF_TEST_ASAN_BUILD", "build-san"), "pycoreprof")
    if not os.access(path, os.X_OK):
        raise Missing("sanitizer build %s not found: run make SANITIZE=address,undefined" % path)
    return path


def tool(name, package):
    path = shutil.which(name)
    if path is None:
        raise Missing("%s not found on PATH (Debian package %s; tools/install-deps.sh installs it)"
                      % (name, package))
    return path


SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


class Result(object):
    def __init__(self, argv, code, stdout, stderr):
        self.argv, self.code, self.stdout, self.stderr = argv, code, stdout, stderr

    def describe(self):
        return "%s -> exit %s\n  stderr: %s" % (
            " ".join(self.argv), self.code,
            self.stderr.decode("utf-8", "replace").strip()[-2000:] or "(empty)")

    def text(self):
        try:
            return self.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Failure("output is not valid UTF-8 (%s): %s" % (exc, self.describe()))


def run(argv, timeout=60, env=None, cwd=None):
    """Run ARGV to completion; a run past TIMEOUT seconds is killed and fails."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise Failure("%s did not finish in %d s" % (" ".join(argv), timeout))
    return Result(list(argv), proc.returncode, stdout, stderr)


def run_pycoreprof(args, asan=False, timeout=60):
    if asan:
        return run([asan_pycoreprof()] + list(args), timeout, env=SANITIZER_ENV)
    return run([pycoreprof()] + list(args), timeout)


def core_json(core, extra=()):
    """`pycoreprof core CORE --json`, which must succeed; the parsed document."""
    result = run_pycoreprof(["core", core, "--json"] + list(extra))
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return parse_json(result)


def parse_json(result):
    try:
        return json.loads(result.stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Failure("output is not a UTF-8 JSON document (%s): %s\n  stdout starts: %r"
                      % (exc, result.describe(), result.stdout[:300]))


# ---------------------------------------------------------------- interpreters

def pyenv_root():
    if shutil.which("pyenv") is None:
        return None
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout
    except subprocess.TimeoutExpired:
        return None
    return out.decode().strip() or None


def _version_key(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def interpreter_labels():
    """Every interpreter the tests must cover, as labels; cheap (fetches nothing)."""
    labels = []
    root = pyenv_root()
    pythons = sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python")),
                     key=lambda path: _version_key(path.split(os.sep)[-3])) if root else []
    if pythons:
        labels += ["pyenv-" + path.split(os.sep)[-3] for path in pythons]
    else:
        labels.append("pyenv")  # resolves to Missing, naming what is absent
    labels.append("debian-3.11")
    labels += ["debian-" + version for version in DEBIAN_FETCHED]
    return labels


def label_version(label):
    return _version_key(label.split("-", 1)[-1]) or (3,)


def needs_fetch(label):
    return label in ["debian-" + version for version in DEBIAN_FETCHED]


def _fetch_debian(version):
    """The path printed by tools/debian-python.sh, cached for the run (one
    fetch at a time: the script shares its apt state between versions)."""
    base = os.path.join(run_dir(), "interpreters")
    done = os.path.join(base, "debian-%s.json" % version)
    with Locked(os.path.join(base, "fetch.lock")):
        if not os.path.exists(done):
            if not os.path.exists(DEBIAN_SCRIPT):
                record = {"missing": "tools/debian-python.sh not found (fetches Debian's python%s)"
                          % version}
            else:
                try:
                    proc = subprocess.run(["bash", DEBIAN_SCRIPT, "path", version],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          stdin=subprocess.DEVNULL, timeout=900)
                    path = proc.stdout.decode().strip().splitlines()
                    if proc.returncode == 0 and path and os.access(path[-1], os.X_OK):
                        record = {"path": path[-1]}
                    else:
                        record = {"missing": "Debian python%s not available: "
                                  "tools/debian-python.sh path %s exited %d: %s"
                                  % (version, version, proc.returncode,
                                     proc.stderr.decode("utf-8", "replace").strip()[-500:])}
                except subprocess.TimeoutExpired:
                    record = {"missing": "tools/debian-python.sh path %s took over 900 s" % version}
            os.makedirs(base, exist_ok=True)
            with open(done + ".tmp", "w") as out:
                json.dump(record, out)
            os.rename(done + ".tmp", done)
        with open(done) as source:
            return json.load(source)


def prefetch():
    """Fetch the Debian interpreters ahead of the cases that use them."""
    for version in DEBIAN_FETCHED:
        _fetch_debian(version)


def interpreter(label):
    """The path of the interpreter called LABEL, or Missing naming what is absent."""
    if label == "pyenv":
        raise Missing("no pyenv interpreters: pyenv not on PATH or $(pyenv root)/versions empty")
    if label.startswith("pyenv-"):
        root = pyenv_root()
        path = os.path.join(root or "", "versions", label[len("pyenv-"):], "bin", "python")
        if root is None or not os.access(path, os.X_OK):
            raise Missing("pyenv interpreter %s not found" % label)
        return path
    if label == "debian-3.11":
        if not os.access(SYSTEM_PYTHON, os.X_OK):
            raise Missing("%s not found (Debian package python3.11-minimal)" % SYSTEM_PYTHON)
        return SYSTEM_PYTHON
    if needs_fetch(label):
        record = _fetch_debian(label[len("debian-"):])
        if "missing" in record:
            raise Missing(record["missing"])
        return record["path"]
    raise Failure("unknown interpreter label %s" % label)


def interpreters():
    """(label, path) of every interpreter that is available."""
    found = []
    for label in interpreter_labels():
        try:
            found.append((label, interpreter(label)))
        except Skip:
            pass
    return found


# ---------------------------------------------------------------- cores

def fixture_env():
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["LC_ALL"] = "C.UTF-8"
    return env


def _unlimited_core():
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def _core_glob(pid, comm):
    """A glob for the core file the kernel writes for PID, from core_pattern."""
    with open("/proc/sys/kernel/core_pattern") as source:
        pattern = source.read().strip()
    if pattern.startswith("|"):
        raise Missing("kernel.core_pattern pipes cores to %s; the tests need a file pattern "
                      "such as 'core' (sysctl kernel.core_pattern=core)" % pattern[1:].split()[0])
    with open("/proc/sys/kernel/core_uses_pid") as source:
        uses_pid = source.read().strip() == "1"
    values = {"p": str(pid), "P": str(pid), "i": str(pid), "I": str(pid), "e": comm[:15],
              "%": "%"}
    out = re.sub(r"%(.)", lambda match: values.get(match.group(1), "*"), pattern)
    if uses_pid and "%p" not in pattern:
        out += "." + str(pid)
    return out


def make_core(argv, cwd, expect_signal, send_signal=None, ready=None, timeout=60, env=None,
              preexec_fn=None, send=None):
    """Run ARGV in CWD with an unlimited core size, wait for it to die by
    EXPECT_SIGNAL (first sending SEND_SIGNAL once READY() is true, if given)
    and return the core's path. SEND, if given, is called with the pid
    instead of sending SEND_SIGNAL from this process. PREEXEC_FN, if given,
    runs in the child before ARGV is executed, after the core size is set."""
    def prepare():
        _unlimited_core()
        if preexec_fn is not None:
            preexec_fn()
    log_path = os.path.join(cwd, "fixture.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, preexec_fn=prepare,
                                env=env if env is not None else fixture_env())
    try:
        deadline = time.time() + timeout
        if send_signal is not None or send is not None:
            while not (ready() if ready else True):
                check(proc.poll() is None, "%s exited early with %s: %s",
                      argv[0], proc.returncode, _tail(log_path))
                check(time.time() < deadline, "%s not ready in %d s", argv[0], timeout)
                time.sleep(0.02)
            if send is not None:
                send(proc.pid)
            else:
                os.kill(proc.pid, send_signal)
        try:
            code = proc.wait(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            raise Failure("%s did not die in %d s: %s" % (" ".join(argv), timeout, _tail(log_path)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(code == -expect_signal, "%s: expected death by %s, got status %s: %s",
          " ".join(argv), signal.Signals(expect_signal).name, code, _tail(log_path))
    comm = os.path.basename(argv[0])
    pattern = _core_glob(proc.pid, comm)
    matches = glob.glob(pattern if os.path.isabs(pattern) else os.path.join(cwd, pattern))
    matches = [path for path in matches if os.path.isfile(path) and path != log_path]
    check(matches, "no core file matching %s after %s died by %s (check ulimit and "
          "kernel.core_pattern)", pattern, argv[0], signal.Signals(expect_signal).name)
    return max(matches, key=os.path.getmtime)


def _tail(path, lines=8):
    try:
        with open(path, "rb") as source:
            text = source.read().decode("utf-8", "replace")
    except OSError:
        return "(no output)"
    return " | ".join(text.strip().splitlines()[-lines:]) or "(no output)"


def load_truth(path):
    with open(path) as source:
        return json.load(source)


MODE_SIGNAL = {"segv": signal.SIGSEGV, "abort": signal.SIGABRT}
# Fixtures whose first argument is the mode (segv, abort, park).
MODE_FIXTURES = ("threads_crash.py", "locals.py")


def fixture_core(label, name, mode, fixture="threads_crash.py", directory=None):
    """(core path, ground truth) of FIXTURE run by interpreter LABEL in MODE
    (segv, abort, or gcore of a parked run), cached for the run under NAME.
    DIRECTORY, when given, is a subdirectory name the fixtures are copied into
    and run from (to test non-ASCII paths)."""
    python = interpreter(label)

    def make(workdir):
        script_dir = FIXTURES
        if directory is not None:
            script_dir = os.path.join(workdir, directory)
            shutil.copytree(FIXTURES, script_dir)
        script = os.path.join(script_dir, fixture)
        truth = os.path.join(workdir, "truth.json")
        args = [python, script] + ([mode] if fixture in MODE_FIXTURES else []) + [truth]
        if mode == "park":
            core = gcore_of_parked(args, workdir, truth)
        else:
            core = make_core(args, workdir, MODE_SIGNAL[mode])
        check(os.path.exists(truth), "the fixture wrote no ground truth %s", truth)
        return {"core": core, "truth": truth}

    made = cached(label, name, make)
    return made["core"], load_truth(made["truth"])


def _refuse_guard_madvise():
    """Make madvise(MADV_GUARD_INSTALL) fail with EINVAL in this process and
    its children (a seccomp filter, inherited across exec). glibc 2.42+ then
    falls back to PROT_NONE guard pages for thread stacks. Without this, gdb
    13's gcore stops copying a thread stack at its guard region and writes
    zeros for the rest, so the core would lack the stacks we want to test."""
    import ctypes
    import struct
    load, jeq, ret = 0x20, 0x15, 0x06          # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_RET|K
    allow, einval = 0x7fff0000, 0x00050000 | 22  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO|EINVAL
    program = [(load, 0, 0, 4), (jeq, 0, 5, 0xc000003e),  # arch == x86_64
               (load, 0, 0, 0), (jeq, 0, 3, 28),          # nr == madvise
               (load, 0, 0, 32), (jeq, 0, 1, 102),        # advice == MADV_GUARD_INSTALL
               (ret, 0, 0, einval), (ret, 0, 0, allow)]
    code = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buffer = ctypes.create_string_buffer(code, len(code))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = Program(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                      ctypes.c_ulong]
    if prctl(38, 1, None, 0, 0) != 0 or prctl(22, 2, ctypes.addressof(fprog), 0, 0) != 0:
        os._exit(121)  # PR_SET_NO_NEW_PRIVS / PR_SET_SECCOMP failed: the parent reports it


def wait_for_file(proc, path, name, log_path, timeout=60):
    """Wait until fixture PROC (called NAME, logging to LOG_PATH) has written
    PATH, which it does once it is ready (its threads parked, its ground
    truth written); fails if it exits first or takes longer than TIMEOUT
    seconds."""
    deadline = time.time() + timeout
    while not os.path.exists(path):
        check(proc.poll() is None, "%s exited with %s before it was ready (no %s): %s",
              name, proc.returncode, os.path.basename(path), _tail(log_path))
        check(time.time() < deadline, "%s not ready in %d s (no %s): %s", name, timeout,
              os.path.basename(path), _tail(log_path))
        time.sleep(0.02)


class Process(object):
    """A program that a case runs beside pycoreprof, from its start until it
    is killed by its PID and reaped:

        with lib.Process(label, [script, arg, ...], ready=truth_path) as fixture:
            ... fixture.pid, fixture.proc, fixture.workdir ...

    PYTHON is an interpreter label or an executable's path; ARGS follow it.
    The program runs in WORKDIR (a fresh scratch directory when not given)
    with ENV (fixture_env() when not given); its stdout and stderr go to
    WORKDIR/LOG, unless STDOUT is given (subprocess.PIPE: read
    self.proc.stdout), when its stderr is the case's own. When READY is a
    path, entering waits until the program has written it (its ground truth,
    or a file saying it is ready) and fails if the program exits first or
    takes over TIMEOUT seconds; then settle() runs, which a subclass overrides
    to wait for more. Leaving, by any path, kills the program with SIGKILL
    unless it has been reaped (so the PID is still its own), which ends it
    even when stopped or in a ptrace stop, and reaps it."""

    REAP_TIMEOUT = 30

    def __init__(self, python, args, workdir=None, ready=None, timeout=60, name=None,
                 log="fixture.log", stdout=None, env=None, preexec_fn=None):
        self.python = python if os.sep in python else interpreter(python)
        self.argv = [self.python] + list(args)
        self.workdir = workdir or scratch("fixture")
        self.ready = ready
        self.timeout = timeout
        self.name = name or os.path.basename(self.argv[1] if len(self.argv) > 1 else self.python)
        self.log_path = os.path.join(self.workdir, log)
        self.stdout = stdout
        self.env = env if env is not None else fixture_env()
        self.preexec_fn = preexec_fn
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def path(self, name):
        return os.path.join(self.workdir, name)

    def settle(self):
        """Runs once READY exists, before the body of the with statement."""

    def __enter__(self):
        with open(self.log_path, "wb") as log:
            piped = self.stdout is not None
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=self.stdout if piped else log,
                                         stderr=None if piped else subprocess.STDOUT,
                                         env=self.env, preexec_fn=self.preexec_fn)
        try:
            if self.ready is not None:
                wait_for_file(self.proc, self.ready, self.name, self.log_path, self.timeout)
            self.settle()
        except BaseException:
            self.end(quiet=True)
            raise
        return self

    def __exit__(self, kind, value, trace):
        self.end(quiet=kind is not None)

    def end(self, quiet=False):
        """Kill the program by its PID unless it has been reaped, and reap
        it. One that cannot be reaped (a tracer that does not wait for it
        keeps its exit) fails the case, unless QUIET: a failure is already on
        its way."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=self.REAP_TIMEOUT)
            except subprocess.TimeoutExpired:
                if not quiet:
                    raise Failure("%s (pid %d) not reaped %d s after SIGKILL: %s"
                                  % (self.name, self.proc.pid, self.REAP_TIMEOUT,
                                     _status_line(self.proc.pid, "TracerPid:")))
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def _status_line(pid, prefix):
    try:
        with open("/proc/%d/status" % pid) as source:
            for line in source:
                if line.startswith(prefix):
                    return " ".join(line.split())
    except OSError as exc:
        return str(exc)
    return "no %s in /proc/%d/status" % (prefix, pid)


def gcore_of_parked(argv, cwd, truth_path, timeout=60):
    """Start ARGV (a fixture in park mode), wait for its ground truth, take a
    core with gdb's gcore, then end the fixture by its PID."""
    gcore = tool("gcore", "gdb")
    with Process(argv[0], argv[1:], workdir=cwd, ready=truth_path, timeout=timeout,
                 preexec_fn=_refuse_guard_madvise) as fixture:
        prefix = os.path.join(cwd, "gcore")
        result = run([gcore, "-o", prefix, str(fixture.pid)], timeout=120)
        core = "%s.%d" % (prefix, fixture.pid)
        check(result.code == 0 and os.path.exists(core), "gcore failed: %s", result.describe())
        # [vsyscall] is never readable; any other failure leaves zeros in the core.
        lost = [line for line in result.stderr.decode("utf-8", "replace").splitlines()
                + result.stdout.decode("utf-8", "replace").splitlines()
                if "Memory read failed" in line and "0xffffffffff600000" not in line]
        check(not lost, "gcore could not copy all memory, the core is incomplete: %s",
              " | ".join(lost[:3]))
        check(fixture.proc.poll() is None, "the parked fixture died during gcore (status %s)",
              fixture.proc.returncode)
        return core


def gzip_file(path, out_path=None):
    """A gzip-compressed copy of PATH; returns its path."""
    out_path = out_path or path + ".gz"
    with open(path, "rb") as source, gzip.open(out_path, "wb", compresslevel=1) as out:
        shutil.copyfileobj(source, out, 1 << 20)
    return out_path


# The other formats `pycoreprof core` reads, by name: the command that
# compresses stdin to stdout, and its Debian package.
COMPRESSORS = {
    "zstd": (["zstd", "-q", "-c"], "zstd"),
    "xz": (["xz", "-c", "-T1"], "xz-utils"),
    "lz4": (["lz4", "-q", "-c"], "lz4"),
}


def compress_file(path, kind, out_path):
    """A copy of PATH compressed by KIND's command-line tool (a key of
    COMPRESSORS), fed through a pipe as systemd-coredump streams a core, so
    that the header records no size; returns OUT_PATH."""
    argv, package = COMPRESSORS[kind]
    command = [tool(argv[0], package)] + argv[1:]
    with open(path, "rb") as source, open(out_path, "wb") as out:
        proc = subprocess.run(command, stdin=source, stdout=out, stderr=subprocess.PIPE,
                              timeout=300)
    check(proc.returncode == 0, "%s exited %d: %s", " ".join(command), proc.returncode,
          proc.stderr.decode("utf-8", "replace").strip()[-300:])
    return out_path


def truncated_copy(path, out_path, fraction=0.5):
    size = os.path.getsize(path)
    with open(path, "rb") as source, open(out_path, "wb") as out:
        out.write(source.read(int(size * fraction)))
    return out_path


# ---------------------------------------------------------------- comparing stacks

def python_frames(thread):
    """The Python frames of an output thread, as (function, file, line)."""
    return [(frame.get("function"), frame.get("file"), frame.get("line"))
            for frame in thread.get("frames") or []
            if frame.get("kind", "python") == "python"]


def truth_frames(thread):
    return [(frame["function"], frame["file"], frame["line"]) for frame in thread["frames"]]


def _show(frame):
    return "%s (%s:%s)" % frame


def compare_frames(what, expected, actual):
    """Fail with the first difference between two frame lists (innermost first)."""
    if expected == actual:
        return
    for index, (want, got) in enumerate(zip(expected, actual)):
        if want != got:
            raise Failure("%s: frame %d is %s, expected %s (%d frames, expected %d)"
                          % (what, index, _show(got), _show(want), len(actual), len(expected)))
    if len(actual) < len(expected):
        raise Failure("%s: %d frames, expected %d; missing from frame %d on: %s"
                      % (what, len(actual), len(expected), len(actual),
                         _show(expected[len(actual)])))
    raise Failure("%s: %d frames, expected %d; extra from frame %d on: %s"
                  % (what, len(actual), len(expected), len(expected),
                     _show(actual[len(expected)])))


def threads_by_id(document):
    found = {}
    for thread in document.get("threads") or []:
        found[thread.get("thread_id")] = thread
    return found


def find_thread(document, truth_thread):
    thread = threads_by_id(document).get(truth_thread["thread_id"])
    check(thread is not None, "thread %s (%s) missing from the output (thread ids: %s)",
          truth_thread["thread_id"], truth_thread["role"],
          sorted(threads_by_id(document), key=str))
    return thread


# ---------------------------------------------------------------- /proc

def task_states(pid):
    """The run state letter of every thread of PID."""
    states = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as source:
                text = source.read()
        except (IOError, OSError):
            continue  # ended meanwhile
        states.append(text[text.rindex(")") + 2])
    return states


def tracer_pid(pid):
    with open("/proc/%d/status" % pid) as source:
        for line in source:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    raise Failure("no TracerPid in /proc/%d/status" % pid)
