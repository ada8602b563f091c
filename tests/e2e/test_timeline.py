# Time order kept (--timeline): a fixture busy in phase_a, then phase_b,
# then phase_c, a second each, recorded live and snapshotted periodically;
# speedscope's evented profiles must hold each thread's stacks in time
# order at real times, the phases in order with the durations the fixture
# measured itself; JSON carries the timeline through report's map/reduce
# and convert; the speedscope app shows the phases in order in its Time
# Order view.
import json
import os
import signal
import subprocess
import time

import lib
import test_record as recording
from lib import check

PHASES_PY = os.path.join(lib.FIXTURES, "phases.py")
PHASES = ("phase_a", "phase_b", "phase_c")
PHASE_SECONDS = 1.0
DURATION_TOLERANCE = 0.2     # of each phase's own duration
SNAPSHOT_INTERVAL = "100ms"
SNAPSHOTS = 45               # 4.5 s: the 3 s of phases and some on each side
SHARDS = 3
ATTEMPTS = 2


class Phases(lib.Process):
    """phases.py run by interpreter LABEL, waiting for go()."""

    def __init__(self, label):
        workdir = lib.scratch("phases")
        self.info_path = os.path.join(workdir, "info.json")
        self.go_path = os.path.join(workdir, "go")
        self.truth_path = os.path.join(workdir, "truth.json")
        lib.Process.__init__(self, label, [PHASES_PY, "--info", self.info_path, "--go", self.go_path,
                                           "--truth", self.truth_path, "--phase", str(PHASE_SECONDS)],
                             workdir=workdir, ready=self.info_path)

    def go(self):
        open(self.go_path, "w").close()

    def truth(self, timeout=60):
        """The phases' times once the last has ended: [{name, began, ended}]
        by the wall clock (seconds)."""
        lib.wait_for_file(self.proc, self.truth_path, self.name, self.log_path, timeout)
        return lib.load_truth(self.truth_path)["phases"]


def wait_for_text(path, text, proc, timeout=30):
    deadline = time.time() + timeout
    while True:
        with open(path, "rb") as source:
            if text in source.read().decode("utf-8", "replace"):
                return
        check(proc.poll() is None, "pycoreprof exited early: %s", open(path).read())
        check(time.time() < deadline, "pycoreprof did not say %r in %d s", text, timeout)
        time.sleep(0.02)


def record_phases(label, directory):
    """record --timeline of the phases, to speedscope, from before phase_a
    to after phase_c; returns the output's path and the fixture's truth."""
    out = os.path.join(directory, "phases.speedscope.json")
    log = os.path.join(directory, "record.log")
    with Phases(label) as fixture:
        with open(log, "wb") as stderr:
            proc = subprocess.Popen([lib.pycoreprof(), "record", "--pid", str(fixture.pid), "--timeline", "-o", out],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            wait_for_text(log, "Ctrl-C to stop", proc)
            fixture.go()
            truth = fixture.truth()
            time.sleep(0.3)
            os.kill(proc.pid, signal.SIGINT)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    check(code == 0, "record --timeline exited with %s: %s", code, open(log).read())
    return {"path": out, "truth": truth}


def recorded(label):
    """One recording of the phases per interpreter, shared by the cases."""
    return lib.cached(label, "phases-record", lambda directory: record_phases(label, directory))


def read_evented(path):
    """Each profile of a speedscope file as (name, {frame name: [(open,
    close)...]}), checking that it is evented in nanoseconds, its events in
    time order within its start and end, opened and closed in order."""
    with open(path) as source:
        document = json.load(source)
    frames = document["shared"]["frames"]
    threads = []
    check(document["profiles"], "no profile in %s", path)
    for profile in document["profiles"]:
        what = "profile %r of %s" % (profile.get("name"), path)
        check(profile["type"] == "evented" and profile["unit"] == "nanoseconds",
              "%s is %s in %s, not evented in nanoseconds", what, profile["type"], profile.get("unit"))
        stack, spans, last = [], {}, None
        for event in profile["events"]:
            at = event["at"]
            check(last is None or at >= last, "%s: an event at %d after one at %d", what, at, last or 0)
            check(profile["startValue"] <= at <= profile["endValue"], "%s: an event outside its start and end", what)
            last = at
            if event["type"] == "O":
                stack.append((event["frame"], at))
            else:
                check(stack and stack[-1][0] == event["frame"], "%s: a close of a frame not open on top", what)
                frame, opened = stack.pop()
                spans.setdefault(frames[frame]["name"], []).append((opened, at))
        check(not stack, "%s: frames left open", what)
        threads.append((profile["name"], spans))
    return threads


def check_phases(path, truth, slack, what):
    """The thread that ran the phases shows them in order, each about as
    long as the fixture measured, at the times it measured (within SLACK
    seconds: about a sampling interval)."""
    threads = [(name, spans) for name, spans in read_evented(path) if "phase_a" in spans]
    check(len(threads) == 1, "%s: %d thread profiles show phase_a", what, len(threads))
    name, spans = threads[0]
    check(name.startswith("thread "), "%s: the profile is named %r, not after its thread", what, name)
    seen = {}
    for phase in truth:
        intervals = spans.get(phase["name"])
        check(intervals, "%s: %s never seen", what, phase["name"])
        seen[phase["name"]] = (min(a for a, _ in intervals) / 1e9, max(b for _, b in intervals) / 1e9,
                               sum(b - a for a, b in intervals) / 1e9)
    for earlier, later in zip(PHASES, PHASES[1:]):
        check(seen[earlier][1] <= seen[later][0],
              "%s: %s was still seen at %.3f, after %s began at %.3f", what, earlier, seen[earlier][1], later,
              seen[later][0])
    for phase in truth:
        first, last, spent = seen[phase["name"]]
        measured = phase["ended"] - phase["began"]
        # Within a fifth of the phase, or SLACK: a timeline only knows a
        # phase to a sampling interval at each end.
        check(abs(spent - measured) <= max(DURATION_TOLERANCE * measured, slack),
              "%s: %s lasted %.3f s in the timeline, %.3f s by the fixture", what, phase["name"], spent, measured)
        check(abs(first - phase["began"]) <= slack and abs(last - phase["ended"]) <= slack,
              "%s: %s seen from %.3f to %.3f, the fixture ran it from %.3f to %.3f (wall clock)", what,
              phase["name"], first, last, phase["began"], phase["ended"])


@lib.each(recording.few_interpreters)
def test_record_timeline(label):
    """record --timeline: one evented profile per thread, the phases in
    order at their real times and durations."""
    for attempt in range(1, ATTEMPTS + 1):
        made = recorded(label) if attempt == 1 else record_phases(label, lib.scratch("record-timeline"))
        try:
            check_phases(made["path"], made["truth"], 0.25, "%s record --timeline" % label)
            return
        except lib.Failure:
            # A machine busy enough to stall the sampler for long leaves
            # holes: record again before judging.
            if attempt == ATTEMPTS:
                raise


def snapshot_phases(label, where):
    """Periodic snapshots of the phases from before phase_a to after
    phase_c, to WHERE (snapshot's arguments: -o FOLDER or --archive FILE);
    returns the fixture's truth."""
    with Phases(label) as fixture:
        proc = subprocess.Popen([lib.pycoreprof(), "snapshot", "--pid", str(fixture.pid), "--interval",
                                 SNAPSHOT_INTERVAL, "--count", str(SNAPSHOTS)] + list(where),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(0.5)
            fixture.go()
            truth = fixture.truth()
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    check(proc.returncode == 0, "snapshot exited with %s: %s", proc.returncode, stderr.decode("utf-8", "replace"))
    return truth


@lib.each(recording.few_interpreters)
def test_report_timeline_map_reduce(label):
    """report --timeline over periodic snapshots of the phases: the same in
    speedscope; its JSON converted to speedscope gives the same bytes; JSON
    parts of shards reduced give the same bytes as one report."""
    work = lib.scratch("report-timeline")
    folder = os.path.join(work, "snaps") + "/"
    truth = snapshot_phases(label, ["-o", folder])
    snaps = sorted(os.path.join(folder, name) for name in os.listdir(folder))

    def report(args, what):
        result = lib.run_pycoreprof(["report", "--timeline"] + list(args), timeout=300)
        check(result.code == 0, "%s: %s", what, result.describe())

    def read(path):
        with open(path, "rb") as data:
            return data.read()

    whole = os.path.join(work, "whole.speedscope.json")
    report([folder, "-o", whole], "report --timeline to speedscope")
    check_phases(whole, truth, 0.35, "%s report --timeline" % label)

    whole_json = os.path.join(work, "whole.json")
    report([folder, "-o", whole_json], "report --timeline to JSON")
    converted = os.path.join(work, "converted.speedscope.json")
    result = lib.run_pycoreprof(["convert", whole_json, "--title", "pycoreprof report", "-o", converted])
    check(result.code == 0, "convert of the JSON timeline: %s", result.describe())
    check(read(converted) == read(whole), "the JSON timeline converted to speedscope differs from report's own")

    parts = []
    for shard in range(SHARDS):
        shard_dir = os.path.join(work, "shard-%d" % shard)
        os.makedirs(shard_dir)
        for snap in snaps[shard::SHARDS]:
            os.link(snap, os.path.join(shard_dir, os.path.basename(snap)))
        parts.append(os.path.join(work, "part-%d.json" % shard))
        report([shard_dir, "-o", parts[-1]], "report --timeline of shard %d" % shard)
    for ext, single in (("json", whole_json), ("speedscope.json", whole)):
        reduced = os.path.join(work, "reduced." + ext)
        report(list(reversed(parts)) + ["-o", reduced], "reduce of the parts to ." + ext)
        check(read(reduced) == read(single), "the reduce of the JSON parts to .%s differs from one report", ext)


def test_report_timeline_archive():
    """report --timeline over an archive of periodic snapshots: the phases
    in order at their times and durations, as from single files."""
    label = recording.few_interpreters()[-1]
    work = lib.scratch("archive-timeline")
    archive = os.path.join(work, "phases.pcpa")
    truth = snapshot_phases(label, ["--archive", archive])
    out = os.path.join(work, "archive.speedscope.json")
    result = lib.run_pycoreprof(["report", "--timeline", archive, "-o", out], timeout=300)
    check(result.code == 0, "report --timeline of an archive: %s", result.describe())
    check_phases(out, truth, 0.35, "%s report --timeline of an archive" % label)


def test_timeline_in_speedscope_app():
    """The speedscope app, in headless Chromium, shows the recorded phases
    left to right in its Time Order view, each as wide as it lasted."""
    import test_outputs
    label = recording.few_interpreters()[-1]
    script = test_outputs.node_script("speedscope_timeline_check.mjs")
    made = recorded(label)
    shots = lib.scratch("speedscope-timeline")
    result = lib.run(["node", script, made["path"], shots, "^phase_"], timeout=300)
    check(result.code == 0, "the browser check failed: %s", result.describe())
    outcome = json.loads(result.text())
    check(not outcome["errors"], "the speedscope app reported errors: %s", outcome["errors"])
    check(outcome.get("row") is not None, "no row of the Time Order view shows a phase (%s)", shots)
    order, width = [], {}
    for step in outcome["seen"]:
        name = step["name"]
        if name not in PHASES:
            continue
        if not order or order[-1] != name:
            order.append(name)
        width[name] = width.get(name, 0) + 1
    check(order == list(PHASES), "left to right the Time Order view shows %s (%s)", order, shots)
    measured = dict((phase["name"], phase["ended"] - phase["began"]) for phase in made["truth"])
    shown = sum(width.values())
    total = sum(measured.values())
    for name in PHASES:
        share, expected = width[name] / float(shown), measured[name] / total
        check(abs(share - expected) <= DURATION_TOLERANCE * expected,
              "%s takes %.0f%% of the phases' width in the view, %.0f%% of their time (%s)", name, 100 * share,
              100 * expected, shots)
