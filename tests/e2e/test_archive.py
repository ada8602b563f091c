# Snapshot archives (`snapshot --archive`, `archive list|extract`, `report`
# over archives), on real snapshots of the 50/30/20 fixture taken into an
# archive and into single files at once: the same profile either way, any
# snapshot extracted is the file's core, the archive a tenth of the files'
# size or less; a writer killed at random points or stopped by a full disk
# leaves an archive that reads, losing at most the snapshot being written.
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import time

import lib
import test_record as recording
from lib import check

SNAPSHOTS = 600
KILLS = 50


def pycoreprof_ok(args, what, timeout=300):
    result = lib.run_pycoreprof(args, timeout=timeout)
    check(result.code == 0, "%s: %s", what, result.describe())
    return result


def without_origin(text):
    document = json.loads(text)
    document.pop("origin", None)
    return document


def snapshot_records(path):
    """(end offset of each snapshot record, in order) by walking the file's
    records as docs/archive-format.md lays them out."""
    with open(path, "rb") as source:
        data = source.read()
    check(data[:8] == b"PCPARCH\n", "%s does not start with the archive magic", path)
    ends, offset = [], 16
    while offset + 24 <= len(data):
        magic, kind, length, _, _ = struct.unpack_from("<IIQII", data, offset)
        check(magic == 0x52435050, "a record of %s at %d has no magic", path, offset)
        offset += 24 + length
        if kind == 2:
            ends.append(offset)
    check(offset == len(data), "%s does not end at a record's end", path)
    return ends


def listed_count(path, what):
    result = pycoreprof_ok(["archive", "list", path], what)
    last = result.text().strip().splitlines()[-1]
    return int(last.split()[0])


@lib.each(lambda: recording.few_interpreters()[-1:])
def test_archive_against_files(label):
    with recording.Shares(label) as fixture:
        archive = fixture.path("snaps.pcpa")
        folder = fixture.path("files") + "/"
        pycoreprof_ok(["snapshot", "--pid", str(fixture.pid), "--interval", "5ms", "--count", str(SNAPSHOTS),
                       "--archive", archive, "-o", folder], "snapshot into an archive and files")
    files = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    check(len(files) == SNAPSHOTS and listed_count(archive, "list") == SNAPSHOTS,
          "expected %d snapshots both ways: %d files", SNAPSHOTS, len(files))
    work = lib.scratch("archive")
    for ext in ("json", "folded"):
        ours, theirs = os.path.join(work, "archive." + ext), os.path.join(work, "files." + ext)
        pycoreprof_ok(["report", archive, "-o", ours], "report of the archive")
        pycoreprof_ok(["report", folder, "-o", theirs], "report of the files")
        with open(ours, "rb") as a, open(theirs, "rb") as b:
            check(a.read() == b.read(), "report gives other %s from the archive than from the files", ext)
    for index in random.Random(7).sample(range(SNAPSHOTS), 5) + [0, SNAPSHOTS - 1]:
        out = os.path.join(work, "%d.core" % index)
        pycoreprof_ok(["archive", "extract", archive, "--index", str(index), "-o", out], "extract %d" % index)
        plain = os.path.join(work, "%d.plain.core" % index)
        subprocess.check_call("gzip -dc < '%s' > '%s'" % (files[index], plain), shell=True)
        with open(out, "rb") as a, open(plain, "rb") as b:
            check(a.read() == b.read(), "snapshot %d extracted differs from its file's core", index)
        ours = pycoreprof_ok(["core", out, "--json"], "core on snapshot %d" % index).text()
        theirs = pycoreprof_ok(["core", files[index], "--json"], "core on file %d" % index).text()
        check(without_origin(ours) == without_origin(theirs), "core --json differs for snapshot %d", index)
    size = os.path.getsize(archive)
    total = sum(os.path.getsize(path) for path in files)
    print("%d snapshots: archive %d bytes (%.0f per snapshot), gzip files %d bytes: %.1fx smaller"
          % (SNAPSHOTS, size, size / float(SNAPSHOTS), total, total / float(size)))
    check(size * 10 <= total, "the archive (%d bytes) should be at least 10 times smaller than the files (%d)",
          size, total)

    # --at: the last snapshot at or before a time.
    listing = pycoreprof_ok(["archive", "list", archive], "list").text().splitlines()
    row = listing[1 + SNAPSHOTS // 2].split()
    out = os.path.join(work, "at.core")
    said = pycoreprof_ok(["archive", "extract", archive, "--at", row[1].split(".")[0], "-o", out], "--at")
    check(os.path.getsize(out) > 0 and "snapshot " in said.stderr.decode(), "--at wrote nothing: %s",
          said.describe())

    ends = snapshot_records(archive)

    # A damaged record in the middle: skipped to the next one, said, and
    # the rest still reported.
    damaged = os.path.join(work, "damaged.pcpa")
    with open(archive, "rb") as source:
        data = bytearray(source.read())
    flip = ends[SNAPSHOTS // 2] - 5   # the end of a snapshot record's payload
    data[flip] ^= 0xFF
    with open(damaged, "wb") as out:
        out.write(bytes(data))
    listing = pycoreprof_ok(["archive", "list", damaged], "list of a damaged archive").text()
    check("damaged bytes were skipped" in listing and listed_count(damaged, "list") == SNAPSHOTS - 1,
          "one damaged snapshot record should be skipped and said: %s", listing.splitlines()[-1])
    report = lib.run_pycoreprof(["report", damaged, "-o", os.path.join(work, "damaged.folded")], timeout=300)
    check(report.code == 0 and "Read %d snapshots" % (SNAPSHOTS - 1) in report.stderr.decode(),
          "report of the damaged archive: %s", report.describe())

    # Truncated anywhere: the snapshots wholly before the cut still read.
    cut = os.path.join(work, "cut.pcpa")
    for point in random.Random(3).sample(range(16, size), 25):
        with open(archive, "rb") as source, open(cut, "wb") as out:
            out.write(source.read(point))
        expected = sum(1 for end in ends if end <= point)
        got = listed_count(cut, "list of the archive cut at %d" % point)
        check(got == expected, "cut at %d: %d snapshots listed, expected %d", point, got, expected)
        report = lib.run_pycoreprof(["report", cut, "-o", os.path.join(work, "cut.folded")], timeout=120)
        check(report.code in (0, 1), "report of a cut archive: %s", report.describe())


def test_archive_writer_killed_and_disk_full():
    label = lib.interpreter_labels()[-1]
    with recording.Shares(label) as fixture:
        archive = fixture.path("killed.pcpa")
        rng = random.Random(11)
        counted = 0
        for run in range(KILLS):
            argv = [lib.pycoreprof(), "snapshot", "--pid", str(fixture.pid), "--interval", "2ms", "--archive", archive]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            recording.check_left_running(fixture.proc)
            now = listed_count(archive, "list after kill %d" % run) if os.path.getsize(archive) else 0
            check(now >= counted, "kill %d: the archive lost snapshots (%d, had %d)", run, now, counted)
            counted = now
        pycoreprof_ok(["snapshot", "--pid", str(fixture.pid), "--archive", archive], "an append after the kills")
        check(listed_count(archive, "list after the last append") == counted + 1,
              "the append after the kills should add one snapshot to %d", counted)
        check(len(snapshot_records(archive)) == counted + 1, "the writer should have cut the torn tail")
        print("%d kills: %d snapshots kept" % (KILLS, counted))

        # A full disk, as a file size limit makes it: the append fails with
        # one line, and the archive is as it was.
        full = fixture.path("full.pcpa")
        pycoreprof_ok(["snapshot", "--pid", str(fixture.pid), "--count", "3", "--interval", "10ms",
                       "--archive", full], "three snapshots")
        size = os.path.getsize(full)

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, size + 100))
        proc = subprocess.run([lib.pycoreprof(), "snapshot", "--pid", str(fixture.pid), "--count", "50",
                               "--interval", "5ms", "--archive", full], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit, timeout=120)
        stderr = proc.stderr.decode("utf-8", "replace")
        check(proc.returncode == 2 and "cannot append" in stderr, "a full disk should be one error line: %s", stderr)
        check(os.path.getsize(full) <= size + 100 and listed_count(full, "list after the full disk") >= 3,
              "the archive should read after the full disk")
        check(len(snapshot_records(full)) == listed_count(full, "list"), "a full disk left a torn record")


def test_archive_bad_input():
    work = lib.scratch("archive-bad")
    for name, data in (("empty.pcpa", b""), ("text.pcpa", b"hello\n"), ("magic-only.pcpa", b"PCPARCH\n"),
                       ("version.pcpa", b"PCPARCH\n" + struct.pack("<II", 99, 0))):
        path = os.path.join(work, name)
        with open(path, "wb") as out:
            out.write(data)
        result = lib.run_pycoreprof(["archive", "list", path], asan=True)
        stderr = result.stderr.decode("utf-8", "replace")
        check(result.code == 2 and len(stderr.strip().splitlines()) == 1 and "Sanitizer" not in stderr,
              "%s: one error line, exit 2: %s", name, result.describe())
    result = lib.run_pycoreprof(["archive", "extract", os.path.join(work, "text.pcpa"), "-o", "x"])
    check(result.code == 64, "extract without --index or --at is a usage error: %s", result.describe())


def test_archive_retention():
    """--max-size moves the archive aside when full (no snapshot lost:
    report over all of them counts every one); --max-age deletes what was
    moved aside too long ago and keeps the rest."""
    label = lib.interpreter_labels()[-1]
    with recording.Shares(label) as fixture:
        folder = lib.scratch("retention")
        archive = os.path.join(folder, "app.pcpa")
        old = os.path.join(folder, "app-20200101T000000.pcpa")
        shutil.copy(os.path.join(lib.REPO, "fixtures", "fuzz", "archive", "seed-four"), old)
        os.utime(old, (time.time() - 3 * 86400,) * 2)
        other = os.path.join(folder, "other-20200101T000000.pcpa")
        shutil.copy(old, other)
        os.utime(other, (time.time() - 3 * 86400,) * 2)
        result = pycoreprof_ok(["snapshot", "--pid", str(fixture.pid), "--interval", "5ms", "--count", "300",
                                "--archive", archive, "--max-size", "24k", "--max-age", "2d"], "snapshot with limits")
    stderr = result.stderr.decode("utf-8", "replace")
    moved = sorted(name for name in os.listdir(folder) if name.startswith("app-") and name != os.path.basename(old))
    check(len(moved) >= 2 and "moved aside" in stderr, "expected the archive moved aside more than once: %s; %s",
          moved, stderr[-400:])
    check(not os.path.exists(old) and "deleted 1 archive" in stderr,
          "the archive moved aside 3 days ago should be deleted under --max-age 2d: %s", stderr[-400:])
    check(os.path.exists(other), "another archive's files are not ours to delete")
    for name in moved:
        check(os.path.getsize(os.path.join(folder, name)) < 24 * 1024 + 64 * 1024,
              "%s is far over --max-size", name)
    total = sum(listed_count(os.path.join(folder, name), "list " + name) for name in moved + ["app.pcpa"])
    check(total == 300, "the archives hold %d snapshots, expected 300", total)
    report = pycoreprof_ok(["report", os.path.join(folder, "app*.pcpa"), "-o", os.path.join(folder, "r.folded")],
                           "report over the archives")
    check("Read 300 snapshots" in report.stderr.decode(), "report over the archives: %s", report.describe())
