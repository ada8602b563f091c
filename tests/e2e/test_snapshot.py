# `pycoreprof snapshot` and `pycoreprof report`: a snapshot of a stopped
# fixture reads like a dump of it; a native snapshot opens in eu-stack;
# reports over many snapshots keep the fixture's own shares, whatever -j is;
# bad files are skipped by name; the target always runs on, untraced.
import glob
import json
import gzip
import os
import re
import shutil
import signal
import struct
import subprocess
import time

import lib
from lib import check
import test_dump as dumping
import test_record as recording

SUMMARY_PREFIX = "Read "


def snapshot(pid, out, extra=()):
    result = lib.run_pycoreprof(["snapshot", "--pid", str(pid), "-o", out] + list(extra))
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check(os.path.exists(out), "no snapshot at %s: %s", out, result.describe())
    return out


def frames_by_tid(document):
    return dict((thread.get("tid"), lib.python_frames(thread)) for thread in document.get("threads") or [])


def check_same_frames(what, expected, actual):
    check(sorted(expected) == sorted(actual), "%s: threads %s, expected %s", what,
          sorted(actual), sorted(expected))
    for tid in expected:
        lib.compare_frames("%s, thread %s" % (what, tid), expected[tid], actual[tid])


def note_segments(data):
    """(offset, size) of each PT_NOTE segment of the plain ELF core DATA."""
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    for index in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + index * phentsize)
        if p_type == 4:
            yield p_offset, p_filesz


def core_notes(data):
    """(name without its NULs, type, descriptor offset, descriptor size) of
    every note of the plain ELF core DATA, as docs/snapshot-format.md says."""
    for offset, size in note_segments(data):
        at = offset
        while at + 12 <= offset + size:
            namesz, descsz, note_type = struct.unpack_from("<III", data, at)
            name = bytes(data[at + 12:at + 12 + namesz]).rstrip(b"\0")
            desc_at = at + 12 + (namesz + 3) // 4 * 4
            yield name, note_type, desc_at, descsz
            at = desc_at + (descsz + 3) // 4 * 4


def hide_binaries(path, out_path):
    """A plain copy of the snapshot at PATH as another machine would see it:
    every file path in its notes names a directory that does not exist (same
    length: "/usr/..." becomes "/Xsr/..."). Returns the paths hidden."""
    with open(path, "rb") as source:
        data = source.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    data = bytearray(data)
    paths = set()
    for name, note_type, desc, descsz in core_notes(data):
        if name == b"CORE" and note_type == 0x46494c45:  # NT_FILE
            count, = struct.unpack_from("<Q", data, desc)
            strings = bytes(data[desc + 16 + 24 * count:desc + descsz]).split(b"\0")
            paths.update(text for text in strings[:count] if text.startswith(b"/"))
    for offset, size in note_segments(data):
        notes = bytes(data[offset:offset + size])
        for hidden in sorted(paths, key=len, reverse=True):
            notes = notes.replace(hidden + b"\0", hidden[:1] + b"X" + hidden[2:] + b"\0")
        data[offset:offset + size] = notes
    with open(out_path, "wb") as out:
        out.write(bytes(data))
    return sorted(text.decode("utf-8", "replace") for text in paths)


def proc_command(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as source:
        return " ".join(arg.decode("utf-8", "replace") for arg in source.read().split(b"\0")[:-1])


@lib.each_interpreter
def test_snapshot_reads_like_dump(label):
    """On a SIGSTOPped fixture: dump, the snapshot and the full snapshot
    give the same Python frames for every thread, the fixture's own."""
    with dumping.Parked(label) as fixture:
        pid = fixture.pid
        os.kill(pid, signal.SIGSTOP)
        dumping.wait_for(lambda: all(state == "T" for state in dumping.task_states(pid)), "the SIGSTOP")
        live = dumping.dump_json(pid)
        dumping.check_stacks(live, fixture.truth)
        small = snapshot(pid, os.path.join(fixture.workdir, "small.core.gz"))
        full = snapshot(pid, os.path.join(fixture.workdir, "full.core"), ["--full", "--no-compress"])
        expected = frames_by_tid(live)
        for path in (small, full):
            document = lib.core_json(path)
            check(document.get("source") == "snapshot", "%s: source %r, expected 'snapshot'",
                  path, document.get("source"))
            check(document.get("pid") == pid, "%s: pid %s, expected %d", path, document.get("pid"), pid)
            check_same_frames(os.path.basename(path), expected, frames_by_tid(document))
        check(os.path.getsize(small) < os.path.getsize(full) // 20, "snapshot of %d bytes, full one %d",
              os.path.getsize(small), os.path.getsize(full))

        # The whole command line, though the kernel's record keeps 80 bytes.
        command = proc_command(pid)
        check(len(command) > 80, "the fixture's command line is %d bytes, too short to tell",
              len(command))
        document = lib.core_json(small)
        check(document.get("command") == command, "command %r, expected %r",
              document.get("command"), command)

        # On a machine without the binaries, the Python frames are still
        # there: the walk needs only the recorded pages.
        elsewhere = os.path.join(fixture.workdir, "elsewhere.core")
        hidden = hide_binaries(small, elsewhere)
        check(any("python" in os.path.basename(path) for path in hidden),
              "no interpreter file among the snapshot's paths %s", hidden)
        document = lib.core_json(elsewhere)
        check_same_frames("snapshot without its binaries", expected, frames_by_tid(document))
        unused = document.get("python", {}).get("binaries_unused") or ""
        check("cannot find /X" in unused, "python.binaries_unused is %r, expected it to name a "
              "missing file", unused)
        check(dumping.tracer_pid(pid) == 0, "pid %d is still traced", pid)
        os.kill(pid, signal.SIGCONT)
        dumping.check_left_running(pid)


def check_native_tools(what, plain, pid):
    """eu-stack and gdb unwind every thread of the core PLAIN, a snapshot of
    PID, to at least three native frames."""
    eu_stack = lib.tool("eu-stack", "elfutils")
    result = lib.run([eu_stack, "--core", plain, "-e", os.path.realpath("/proc/%d/exe" % pid)])
    text = result.stdout.decode("utf-8", "replace")
    tids = set(int(tid) for tid in os.listdir("/proc/%d/task" % pid))
    for tid in tids:
        check(("TID %d:" % tid) in text, "%s: eu-stack shows no thread %d: %s\n%s", what, tid,
              result.describe(), text[:2000])
    blocks = text.split("TID ")[1:]
    check(len(blocks) == len(tids), "%s: eu-stack shows %d threads, expected %d", what, len(blocks),
          len(tids))
    for block in blocks:
        frames = [line for line in block.splitlines()[1:] if line.strip().startswith("#")]
        check(len(frames) >= 3, "%s: eu-stack: thread %s has %d native frames: %s", what,
              block.split(":")[0], len(frames), block[:800])
    gdb = lib.tool("gdb", "gdb")
    # gdb finds the libraries through the dynamic linker's list, stored too.
    result = lib.run([gdb, "-batch", "-nx", "-ex", "thread apply all bt", "-c", plain,
                      os.path.realpath("/proc/%d/exe" % pid)], timeout=120)
    text = result.stdout.decode("utf-8", "replace")
    for tid in tids:
        check(("(LWP %d)" % tid) in text, "%s: gdb shows no thread %d: %s", what, tid, text[:2000])
    # Stripped interpreters (Debian's) leave gdb their own frames unnamed;
    # the C library's are named once gdb found it.
    for block in text.split("\nThread ")[1:]:
        frames = [line for line in block.splitlines() if line.startswith("#")]
        named = [line for line in frames if "?? ()" not in line]
        check(len(frames) >= 3 and named, "%s: gdb: thread %s has %d frames, %d named: %s", what,
              block.split("\n")[0], len(frames), len(named), block[:800])


@lib.each_interpreter
def test_native_snapshot_in_eu_stack(label):
    """A decompressed --native snapshot, and a --full one, are cores eu-stack
    and gdb unwind: native frames for every thread."""
    with dumping.Parked(label) as fixture:
        pid = fixture.pid
        path = snapshot(pid, os.path.join(fixture.workdir, "native.core.gz"), ["--native"])
        plain = os.path.join(fixture.workdir, "native.core")
        with gzip.open(path, "rb") as source, open(plain, "wb") as out:
            shutil.copyfileobj(source, out)
        check_native_tools("--native snapshot", plain, pid)
        full = snapshot(pid, os.path.join(fixture.workdir, "full.core"), ["--full", "--no-compress"])
        check_native_tools("--full snapshot", full, pid)
        dumping.check_left_running(pid)


def read_report(paths, out, extra=()):
    result = lib.run_pycoreprof(["report"] + list(paths) + ["-o", out] + list(extra), timeout=300)
    lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
    check(lines and lines[-1].startswith(SUMMARY_PREFIX), "no summary line: %s", result.describe())
    return result, lines


@lib.each(recording.few_interpreters)
def test_report_shares(label):
    """1,000 snapshots of the 50/30/20 fixture, 5 ms apart: the shares of
    the report are the fixture's own, within 3 points; -j 1 and -j 4 write
    the same bytes."""
    with recording.Shares(label) as fixture:
        snaps = fixture.path("snaps") + "/"
        argv = [lib.pycoreprof(), "snapshot", "--pid", str(fixture.pid), "--interval", "5ms",
                "--count", "1000", "-o", snaps]
        start = fixture.clock()
        result = lib.run(argv, timeout=300)
        end = fixture.clock()
        check(result.code == 0, "expected exit 0: %s", result.describe())
        recording.check_left_running(fixture.proc)
        files = glob.glob(snaps + "*.core.gz")
        check(len(files) == 1000, "%d snapshots written, expected 1000", len(files))
        spent = fixture.spent_between(start, end)
        one, four = fixture.path("j1.folded"), fixture.path("j4.folded")
        result, lines = read_report([snaps], one, ["-j", "1"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check(lines[-1].startswith("Read 1000 snapshots;"), "summary: %s", lines[-1])
        result, lines = read_report([snaps], four, ["-j", "4"])
        with open(one, "rb") as a, open(four, "rb") as b:
            check(a.read() == b.read(), "-j 1 and -j 4 wrote different profiles")
        stacks = recording.read_folded(one)
        counts = dict((name, recording.count_with(stacks, fixture.info["functions"][name]))
                      for name in recording.SPINNERS)
        recording.check_spinner_shares(counts, spent, fixture.info, recording.SHARE_TOLERANCE,
                                       "%s report of 1000 snapshots" % label)


def test_report_skips_bad_files():
    """Truncated, empty and foreign files are skipped, each named, and the
    good ones are still counted."""
    label = lib.interpreter_labels()[-1]
    with dumping.Parked(label) as fixture:
        folder = os.path.join(fixture.workdir, "mixed")
        os.makedirs(os.path.join(folder, "sub"))
        good = snapshot(fixture.pid, os.path.join(folder, "good.core.gz"))
        plain = snapshot(fixture.pid, os.path.join(folder, "sub", "plain.core"), ["--no-compress"])
        lib.truncated_copy(plain, os.path.join(folder, "cut.core"))
        lib.truncated_copy(good, os.path.join(folder, "cut.core.gz"))
        open(os.path.join(folder, "empty.core"), "wb").close()
        with open(os.path.join(folder, "notes.txt"), "w") as out:
            out.write("not a core\n")
        shutil.copy(os.path.realpath("/proc/%d/exe" % fixture.pid), os.path.join(folder, "python.bin"))
        out = os.path.join(fixture.workdir, "mixed.folded")
        result, lines = read_report([folder], out, ["--idle"])
        check(result.code == 1, "expected exit 1 (partial): %s", result.describe())
        text = "\n".join(lines)
        for name in ("cut.core", "cut.core.gz", "empty.core", "notes.txt", "python.bin"):
            check(any(line.startswith("pycoreprof: skipped ") and os.path.join(folder, name) + ":" in line
                      for line in lines), "%s not named as skipped: %s", name, text)
        check(lines[-1].startswith("Read 2 snapshots (5 skipped: 2 truncated, 1 empty, 2 not a core);"),
              "summary: %s", lines[-1])
        check(os.path.getsize(out) > 0, "empty profile")


def start_periodic(pid, folder, extra=()):
    argv = [lib.pycoreprof(), "snapshot", "--pid", str(pid), "--interval", "2ms", "-o", folder + "/"]
    return subprocess.Popen(argv + list(extra), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def wait_snapshots(folder, count):
    dumping.wait_for(lambda: len(glob.glob(os.path.join(folder, "*.core.gz"))) >= count,
                     "%d snapshots in %s" % (count, folder), timeout=30)


@lib.each(recording.few_interpreters)
def test_target_left_running(label):
    """After a periodic capture ends by count, by duration, by SIGINT (which
    finishes the snapshot under way) and by SIGKILL, the fixture runs,
    untraced; every finished snapshot is a whole one."""
    with recording.Shares(label) as fixture:
        for how in ("count", "duration", "sigint", "sigkill"):
            folder = fixture.path("periodic-" + how)
            extra = {"count": ["--count", "50"], "duration": ["--duration", "0.3"]}.get(how, [])
            proc = start_periodic(fixture.pid, folder, extra)
            try:
                if how in ("sigint", "sigkill"):
                    wait_snapshots(folder, 20)
                    os.kill(proc.pid, signal.SIGINT if how == "sigint" else signal.SIGKILL)
                stdout, stderr = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            what = "%s: snapshots ended by %s" % (label, how)
            if how != "sigkill":
                check(proc.returncode == 0, "%s: exit %s: %s", what, proc.returncode, stderr[-500:])
            recording.check_left_running(fixture.proc)
            files = sorted(glob.glob(os.path.join(folder, "*.core.gz")))
            if how == "count":
                check(len(files) == 50, "%s: %d snapshots, expected 50", what, len(files))
            leftovers = [name for name in os.listdir(folder) if ".tmp." in name]
            if how != "sigkill":
                check(not leftovers, "%s: temporary files left: %s", what, leftovers)
            # --idle: a burst of snapshots 2 ms apart may fall wholly in the
            # fixture's 40 ms rest; the parked threads are in every snapshot.
            result, lines = read_report([folder + "/*.core.gz"], fixture.path(how + ".folded"), ["--idle"])
            check(result.code == 0 and lines[-1].startswith("Read %d snapshots;" % len(files)),
                  "%s: %s", what, result.describe())
            stacks = int(re.search(r"(\d+) thread stacks", lines[-1]).group(1))
            check(stacks >= 2 * len(files), "%s: %d thread stacks in %d snapshots, expected at least the two "
                  "parked threads in each: %s", what, stacks, len(files), result.describe())


def test_usage():
    for args in (["snapshot"], ["snapshot", "--pid", "x"], ["snapshot", "--pid", "1", "--interval", "x"],
                 ["snapshot", "--pid", "1", "--interval", "1s", "-o", "file.core"], ["report"],
                 ["report", "-j", "0", "x"]):
        result = lib.run_pycoreprof(args)
        check(result.code == 64, "expected exit 64: %s", result.describe())
    for command in ("snapshot", "report"):
        result = lib.run_pycoreprof([command, "--help"])
        check(result.code == 0 and b"usage: pycoreprof " + command.encode() in result.stdout,
              "%s --help: %s", command, result.describe())
    result = lib.run_pycoreprof(["report", "/nonexistent/*.core.gz"])
    check(result.code == 2, "expected exit 2 for a pattern matching nothing: %s", result.describe())


def snapshot_note(data):
    """(offset of the descriptor, its bytes) of the pycoreprof note of the
    plain ELF core DATA."""
    for name, note_type, desc_at, descsz in core_notes(data):
        if name == b"PYCOREPROF" and note_type == 0x50435046:
            return desc_at, data[desc_at:desc_at + descsz]
    raise lib.Failure("no pycoreprof note")


def test_note_build_ids():
    """The pycoreprof note holds the interpreter's version and the build-id
    of every mapped ELF file; the reader checks files against them: a file
    whose build-id no longer matches the recorded one is not used, and the
    Python frames come from the snapshot's own pages, the file named."""
    label = lib.interpreter_labels()[-1]
    with dumping.Parked(label) as fixture:
        plain = snapshot(fixture.pid, os.path.join(fixture.workdir, "ids.core"), ["--no-compress"])
        with open(plain, "rb") as source:
            data = bytearray(source.read())
        desc_at, desc = snapshot_note(data)
        version, hexversion = struct.unpack_from("<II", desc, 0)
        check(version == 1, "format version %d", version)
        text = desc[40:72].rstrip(b"\0").decode()
        check(text == fixture.truth["python_version"], "note says Python %s, expected %s", text,
              fixture.truth["python_version"])
        count, = struct.unpack_from("<I", desc, 72)
        at, entries = 76, {}
        for _ in range(count):
            id_len, path_len = struct.unpack_from("<II", desc, at)
            entries[desc[at + 8 + id_len:at + 8 + id_len + path_len - 1].decode()] = (desc_at + at + 8, id_len)
            at += 8 + (id_len + path_len + 3) // 4 * 4
        document = lib.core_json(plain)
        library = document["python"]["library"]
        check(library in entries, "no build-id for %s in the note (%s)", library, sorted(entries))
        id_at, _ = entries[library]
        data[id_at] ^= 0xff
        forged = os.path.join(fixture.workdir, "forged.core")
        with open(forged, "wb") as out:
            out.write(data)
        forged_document = lib.core_json(forged)
        unused = forged_document["python"].get("binaries_unused") or ""
        check(library in unused and "build-id" in unused,
              "python.binaries_unused is %r, expected it to name %s and its build-id", unused, library)
        check_same_frames("forged build-id", frames_by_tid(document), frames_by_tid(forged_document))


def test_report_time_range():
    """--since and --until keep the snapshots whose capture time (from the
    pycoreprof note) is in range; the rest are counted as outside it."""
    label = lib.interpreter_labels()[-1]
    with dumping.Parked(label) as fixture:
        folder = os.path.join(fixture.workdir, "timed")
        os.makedirs(folder)
        snapshot(fixture.pid, os.path.join(folder, "a.core.gz"))
        time.sleep(1.2)
        middle = time.time()
        time.sleep(1.2)
        snapshot(fixture.pid, os.path.join(folder, "b.core.gz"))
        out = os.path.join(fixture.workdir, "timed.folded")
        for args, kept in ((["--since", "%.3f" % middle], 1), (["--until", "%.3f" % middle], 1),
                           (["--since", time.strftime("%Y-%m-%d", time.localtime(middle - 86400))], 2)):
            result, lines = read_report([folder], out, ["--idle"] + args)
            check(result.code == 0, "%s: expected exit 0: %s", args, result.describe())
            outside = 2 - kept
            expected = "Read %d snapshot%s%s;" % (kept, "s"[:kept != 1],
                                                  ", %d outside the time range" % outside if outside else "")
            check(lines[-1].startswith(expected), "%s: summary %r, expected it to start %r", args, lines[-1],
                  expected)
        dumping.check_left_running(fixture.pid)


@lib.each(recording.few_interpreters)
def test_report_native(label):
    """report --native over snapshots taken with --native: native frames
    inside the Python ones (the C call each thread waits in), the
    interpreter's start-up above them only with --native-all; the same
    bytes with -j 1 and -j 4."""
    with dumping.Parked(label) as fixture:
        folder = os.path.join(fixture.workdir, "native") + "/"
        result = lib.run([lib.pycoreprof(), "snapshot", "--pid", str(fixture.pid), "--native", "--interval",
                          "10ms", "--count", "5", "-o", folder])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        outs = []
        for jobs in ("1", "4"):
            out = os.path.join(fixture.workdir, "native-j%s.folded" % jobs)
            result, lines = read_report([folder], out, ["--native", "--idle", "-j", jobs])
            check(result.code == 0, "expected exit 0: %s", result.describe())
            with open(out, "rb") as source:
                outs.append(source.read())
        check(outs[0] == outs[1], "-j 1 and -j 4 wrote different native profiles")
        def python_indices(frames):
            return [index for index, frame in enumerate(frames) if frame.endswith(")") and
                    frame[frame.rindex("(") + 1:-1].rsplit(":", 1)[-1].isdigit()]
        stacks = [line.rsplit(" ", 1)[0].split(";") for line in outs[0].decode().splitlines()]
        check(len(stacks) >= len(fixture.truth["threads"]), "%d stacks for %d threads", len(stacks),
              len(fixture.truth["threads"]))
        for frames in stacks:
            python = python_indices(frames)
            check(python and python[0] == 0 and python[-1] < len(frames) - 1,
                  "--native: expected Python frames from the root, native frames inside them: %s",
                  ";".join(frames))
        out = os.path.join(fixture.workdir, "native-all.folded")
        result, lines = read_report([folder], out, ["--native-all", "--idle"])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        with open(out) as source:
            for line in source:
                frames = line.rsplit(" ", 1)[0].split(";")
                python = python_indices(frames)
                check(python and python[0] > 0, "--native-all: no native frames above the Python ones: %s",
                      ";".join(frames))
        dumping.check_left_running(fixture.pid)


@lib.each(recording.few_interpreters)
def test_report_reads_cores(label):
    """report takes kernel and gcore cores (plain and gzipped) beside
    snapshots: one sample per Python thread of each, ending where `core`
    says that thread was."""
    workdir = lib.scratch("report-cores")
    segv, _ = lib.fixture_core(label, "threads-segv", "segv")
    park, _ = lib.fixture_core(label, "threads-park", "park")
    zipped = lib.gzip_file(park, os.path.join(workdir, "park.core.gz"))
    out = os.path.join(workdir, "cores.folded")
    result, lines = read_report([segv, zipped], out, ["--idle"])
    check(result.code == 0, "expected exit 0: %s", result.describe())
    documents = [lib.core_json(segv), lib.core_json(zipped)]
    threads = [thread for document in documents for thread in document["threads"]
               if lib.python_frames(thread)]
    check(lines[-1].startswith("Read 2 snapshots; %d thread stacks;" % len(threads)),
          "summary %r, expected %d stacks", lines[-1], len(threads))
    with open(out) as source:
        stacks = [line.rsplit(" ", 1)[0] for line in source.read().splitlines()]
    for thread in threads:
        function, path, line = lib.python_frames(thread)[0]
        leaf = [stack for stack in stacks if stack.rsplit(";", 1)[-1].startswith(
            [frame.get("qualname") or frame["function"] for frame in thread["frames"]][0] + " (")]
        check(any(stack.endswith(":%d)" % line) for stack in leaf),
              "thread %s: no stack ends in %s (%s:%s): %s", thread.get("tid"), function, path, line, stacks)


@lib.each_interpreter
def test_snapshot_leaves_parked_threads_asleep(label):
    """A snapshot of a process with 100 threads parked on an Event and two
    spinning stops only the spinners: the summary says how many threads
    were read asleep, and the snapshot still holds every parked thread's
    exact stack, marked idle, as the fixture recorded it. With --native every
    thread is stopped (native stacks need each one's registers)."""
    import test_record_parked as parked_case
    with parked_case.ManyParked(label, parked=100) as fixture:
        truth = fixture.truth
        out = os.path.join(fixture.workdir, "parked.core.gz")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "-o", out])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        text = result.stderr.decode("utf-8", "replace")
        asleep = re.search(r"; (\d+) of (\d+) threads read asleep", text)
        retaken = "taken again with every thread stopped" in text
        # Once in a while a thread wakes around the pause; the snapshot is
        # then taken again with every thread stopped, and says so.
        check(asleep or retaken, "the summary says neither how many threads were read asleep "
              "nor that it was taken again: %s", result.describe())
        if asleep:
            check(int(asleep.group(1)) >= 100, "%s of %s threads read asleep, expected the 100 parked "
                  "at least: %s", asleep.group(1), asleep.group(2), result.describe())
        document = lib.core_json(out)
        threads = dict((thread.get("tid"), thread) for thread in document.get("threads") or [])
        for thread in truth["parked"]:
            found = threads.get(thread["tid"])
            check(found, "parked thread %d is not in the snapshot (threads: %d)", thread["tid"], len(threads))
            lib.compare_frames("parked thread %d" % thread["tid"], lib.truth_frames(thread),
                               lib.python_frames(found))
            check(found.get("idle") is True, "parked thread %d not marked idle: %s", thread["tid"],
                  json.dumps(found)[:300])
        for name, spinner in truth["spinners"].items():
            found = threads.get(spinner["tid"])
            check(found and any(frame[0] == name for frame in lib.python_frames(found)),
                  "spinner %s (thread %d) not in its function in the snapshot", name, spinner["tid"])

        native = os.path.join(fixture.workdir, "native.core.gz")
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--native", "-o", native])
        check(result.code == 0, "expected exit 0: %s", result.describe())
        check("read asleep" not in result.stderr.decode("utf-8", "replace"),
              "--native left threads asleep: %s", result.describe())
        check(dumping.tracer_pid(fixture.pid) == 0, "pid %d is still traced", fixture.pid)
