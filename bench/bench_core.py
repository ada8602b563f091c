# Benchmark of `pycoreprof core` on the crash core of a CPython 3.11 process
# holding 1 GiB, timed beside eu-stack, gdb's py-bt and pystack on the same core
# in the same run. Prints figures; never fails on time.
import glob
import os
import re
import resource
import shutil
import subprocess
import time

GOAL_MS = 30.0
THREADS = 4
DEPTH = 50
MEMORY_MIB = 1024

# The crashing program: THREADS - 1 threads park DEPTH frames deep on a lock
# that is never released, the main thread fills MEMORY_MIB of heap (one write
# per page so every page is really in the core) and dies by SIGSEGV DEPTH deep.
PROGRAM = r'''
import ctypes
import sys
import threading
import time

depth, threads, mib = (int(arg) for arg in sys.argv[1:4])
parked = threading.Semaphore(0)
never = threading.Lock()
never.acquire()


def park(level):
    if level > 1:
        return park(level - 1)
    parked.release()
    never.acquire()


def crash(level):
    if level > 1:
        return crash(level - 1)
    ctypes.string_at(0)


memory = bytearray(mib << 20)
memory[::4096] = b"\x01" * len(range(0, len(memory), 4096))
for _ in range(threads - 1):
    threading.Thread(target=park, args=(depth,), daemon=True).start()
for _ in range(threads - 1):
    parked.acquire()
time.sleep(0.1)  # let the last parked thread reach its lock
crash(depth)
'''


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except OSError:
        pass
    return os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))


def find_python():
    def version_key(path):
        match = re.search(r"/3\.11\.(\d+)/", path)
        return int(match.group(1)) if match else -1
    found = sorted(glob.glob(os.path.join(pyenv_root(), "versions", "3.11.*",
                                          "bin", "python3.11")), key=version_key)
    return found[-1] if found else None


def find_gdb_extension(python):
    """CPython's gdb extension (Tools/gdb/libpython.py, installed under
    several names) for this interpreter, or None."""
    prefix = os.path.dirname(os.path.dirname(python))
    candidates = [
        os.path.join(prefix, "lib", "libpython3.11.so.1.0-gdb.py"),
        os.path.join(prefix, "bin", "python3.11-gdb.py"),
    ]
    candidates += sorted(glob.glob("/usr/share/gdb/auto-load/**/*python3.11*-gdb.py",
                                   recursive=True))
    candidates += sorted(glob.glob(os.path.join(pyenv_root(), "sources", "*",
                                                "Python-3.11*", "Tools", "gdb",
                                                "libpython.py")))
    for path in candidates:
        if os.path.isfile(path):
            return path
    return None


def make_core(bench, python):
    """Run PROGRAM until it dumps core in the scratch directory; return the core."""
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern:
        bench.skip("kernel.core_pattern is %r; this benchmark needs cores written "
                   "to the working directory (e.g. 'core')" % pattern)
    script = os.path.join(bench.tmpdir, "crash_1gib.py")
    with open(script, "w") as f:
        f.write(PROGRAM)
    before = set(os.listdir(bench.tmpdir))

    def unlimited_core():
        resource.setrlimit(resource.RLIMIT_CORE,
                           (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    start = time.perf_counter()
    proc = subprocess.run([python, script, str(DEPTH), str(THREADS), str(MEMORY_MIB)],
                          cwd=bench.tmpdir, preexec_fn=unlimited_core,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300)
    seconds = time.perf_counter() - start
    new = sorted(set(os.listdir(bench.tmpdir)) - before)
    if proc.returncode != -11 or not new:
        raise RuntimeError("the crash program did not dump core (exit %s, files %s): %s"
                           % (proc.returncode, new, proc.stdout[-500:]))
    core = os.path.join(bench.tmpdir, new[0])
    bench.note("made %s: %.2f GiB on disk, %.2f GiB of file in %.1f s" % (
        os.path.basename(core), os.stat(core).st_blocks * 512 / 2.0 ** 30,
        os.path.getsize(core) / 2.0 ** 30, seconds))
    return core


def count_frames(text, name):
    return len(re.findall(r"\b%s\b" % name, text))


def bench_core(bench):
    bench.describe("pycoreprof core on the crash core of a 1 GiB CPython 3.11 "
                   "process, %d threads %d frames deep" % (THREADS, DEPTH))
    python = find_python()
    if not python:
        bench.skip("no CPython 3.11 under %s/versions (pyenv install 3.11)" % pyenv_root())
    core = make_core(bench, python)
    # The core was just written, so it sits in the page cache for every tool
    # alike; each tool also runs once untimed first.
    bench.note("the core is in the page cache for every tool; each runs once "
               "untimed, then the median of timed runs, process start included")
    expected = THREADS * DEPTH

    ours = bench.time([bench.binary, "core", core, "--no-source"])
    if ours.returncode != 0:
        raise RuntimeError("pycoreprof core exited %d: %s" % (ours.returncode, ours.stderr))
    frames = count_frames(ours.stdout, "park") + count_frames(ours.stdout, "crash")
    if frames < expected:
        bench.note("warning: pycoreprof printed %d of the %d park/crash frames"
                   % (frames, expected))
    bench.ours("pycoreprof core --no-source (median of %d)" % len(ours.seconds),
               ours.median_ms, "ms", GOAL_MS)
    as_json = bench.time([bench.binary, "core", core, "--json"])
    bench.ours("pycoreprof core --json", as_json.median_ms, "ms")
    rss = bench.peak_rss_mib([bench.binary, "core", core, "--no-source"])
    if rss is not None:
        bench.ours("pycoreprof core peak RSS", rss, "MiB")
    else:
        bench.note("peak RSS not measured: GNU time is missing (apt-get install time)")
    bench.ours("core file size", os.path.getsize(core) / 2.0 ** 20, "MiB")

    eu_stack = shutil.which("eu-stack")
    if eu_stack:
        timing = bench.time([eu_stack, "--core", core, "--executable", python])
        bench.reference("eu-stack --core (native frames)", timing.median_ms)
    else:
        bench.reference("eu-stack --core", missing="not installed (apt-get install elfutils)")

    gdb = shutil.which("gdb")
    extension = find_gdb_extension(python)
    if not gdb:
        bench.reference("gdb py-bt", missing="gdb not installed (apt-get install gdb)")
    elif not extension:
        bench.reference("gdb py-bt", missing="no CPython gdb extension "
                        "(libpython3.11.so.1.0-gdb.py or Tools/gdb/libpython.py) found")
    else:
        argv = [gdb, "-nx", "-batch", "-iex", "set debuginfod enabled off",
                "-ex", "source " + extension, "-ex", "thread apply all py-bt",
                python, core]
        timing = bench.time(argv, repeat=max(3, bench.repeat // 3))
        # py-bt prints 'File "...", line N, in NAME' and the source line below.
        gdb_frames = len(re.findall(r", in (?:park|crash)$", timing.stdout, re.M))
        if gdb_frames < expected:
            bench.reference("gdb py-bt", missing="gdb printed %d of %d Python frames"
                            " (python support or libpython debug info missing?)"
                            % (gdb_frames, expected))
        else:
            bench.reference("gdb 'thread apply all py-bt'", timing.median_ms)

    pystack = shutil.which("pystack")
    if pystack:
        timing = bench.time([pystack, "core", core, python])
        bench.reference("pystack core", timing.median_ms)
    else:
        bench.reference("pystack core", missing="not installed (pip install pystack)")
    bench.note("gdb's py-bt also prints each frame's source line; "
               "pycoreprof runs with --no-source")
