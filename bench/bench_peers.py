# Benchmarks side by side with the profilers users pick instead (bench/peers.py:
# py-spy, pystack, Austin 4): what each costs the program it watches at 100 Hz,
# as each is typed by default (running threads only), on the 4-thread 50-deep
# fixture and on the same with 300 threads parked beside it; and how long one
# dump of every thread takes on the parked one. Figures only.
import os
import statistics

from bench_record import Target, debian_python, load_note, pyenv_python, pyenv_root
from bench_slowdown import (RATE_HZ, Attached, Rounds, Server, calibrate, floor_arm, freeze_floor_arm,
                            mean_interval, noise_note, pycoreprof_arm, report_ours)
from peers import Peers

PARKED = 300
ROUNDS = int(os.environ.get("PYCOREPROF_BENCH_PEER_ROUNDS", "12"))


def peer_arms(bench, peers, pid, label):
    """The peers' samplers at RATE_HZ, running threads only, each stopped
    with SIGINT after a run of the work."""
    arms = []
    spy = peers.argv("py-spy")
    if spy:
        for extra in ([], ["--nonblocking"]):
            out = os.path.join(bench.tmpdir, "py-spy-%s%s.txt" % (label, "".join(extra)))
            arms.append(Attached("py-spy record" + "".join(" " + e for e in extra),
                                 spy + ["record", "--pid", str(pid), "--rate", str(RATE_HZ), "--format", "raw",
                                        "-o", out] + extra, bench))
    austin = peers.argv("austin")
    if austin:
        out = os.path.join(bench.tmpdir, "austin-%s.txt" % label)
        arms.append(Attached("austin -c (on-CPU)", austin + ["-c", "-i", "%dms" % (1000 // RATE_HZ), "-p", str(pid),
                                                             "-o", out], bench,
                             ok_codes=(0, 254)))   # Austin ends a SIGINT run with 254
    return arms


def report_missing(bench, peers, names):
    for name in names:
        if peers.missing(name):
            bench.reference(name, missing=peers.missing(name))


def bench_peers_slowdown(bench):
    bench.describe("target slowdown beside the peers: a fixed workload (4 threads 50 deep) run "
                   "alone and under record --pid --rate %d (freeze mode), py-spy record (blocking "
                   "and --nonblocking) and Austin at the same rate, and the two floors, %d rounds; "
                   "then the same with %d threads parked beside the busy ones" % (RATE_HZ, ROUNDS, PARKED))
    python = pyenv_python(12)
    if not python:
        bench.skip("no CPython 3.12 under %s/versions (pyenv install 3.12)" % pyenv_root())
    load_note(bench)
    peers = Peers(bench)
    iterations, _ = calibrate(bench, python)
    for parked in (0, PARKED):
        label = "3.12" + (", %d parked" % parked if parked else "")
        with Server(bench, python, iterations, parked) as server:
            theirs = peer_arms(bench, peers, server.pid, "parked" if parked else "busy")
            arms = [pycoreprof_arm(bench, server.pid, label.replace(", ", "-").replace(" ", "-"))] + theirs + \
                [floor_arm(bench), freeze_floor_arm(bench, server.pid)]
            rounds = Rounds(server, arms)
            rounds.warm_up()
            rounds.run(ROUNDS)
        noise_note(bench, rounds, python, iterations)
        floors = [len(arms) - 2, len(arms) - 1]
        report_ours(bench, rounds, 0, floors, label)
        for slot in range(1, 1 + len(theirs)):
            ratios = rounds.ratios(slot)
            low, high = mean_interval(ratios, 0.95)
            bench.reference("%s: %s slowdown (95%% CI %.1f to %.1f %%)" % (label, arms[slot].name, low, high),
                            statistics.mean(ratios), "%", compare=False)
    report_missing(bench, peers, ("py-spy", "austin"))


def bench_peers_dump(bench):
    bench.describe("one dump of every thread of a 3.12 process with 4 busy threads 50 deep and %d "
                   "parked: dump --pid beside py-spy dump, pystack remote and austin -w" % PARKED)
    python = pyenv_python(12)
    if not python:
        bench.skip("no CPython 3.12 under %s/versions (pyenv install 3.12)" % pyenv_root())
    load_note(bench)
    peers = Peers(bench)
    with Target(bench, python, parked=PARKED) as target:
        pid = str(target.pid)
        ours = bench.time([bench.binary, "dump", "--pid", pid])
        if ours.returncode != 0:
            raise RuntimeError("dump exited %d: %s" % (ours.returncode, ours.stderr[-300:]))
        bench.ours("dump --pid, %d threads" % (PARKED + 5), ours.median_ms, "ms")
        commands = [("py-spy dump", "py-spy", ["dump", "--pid", pid]),
                    ("pystack remote", "pystack", ["remote", pid]),
                    ("austin -w", "austin", ["-w", pid])]
        for what, name, args in commands:
            prefix = peers.argv(name)
            if not prefix:
                continue
            timing = bench.time(prefix + args)
            if timing.returncode != 0:
                bench.reference(what, missing="exited %d: %s" % (timing.returncode,
                                                                 (timing.stderr or timing.stdout)[-200:]))
                continue
            bench.reference(what, timing.median_ms, "ms")
    report_missing(bench, peers, ("py-spy", "pystack", "austin"))


def bench_peers_dump_315(bench):
    bench.describe("one dump of every thread of a 3.15 process with 4 busy threads 50 deep and %d "
                   "parked: dump --pid beside CPython 3.15's own `-m profiling.sampling dump`" % PARKED)
    python, why = debian_python(bench, "3.15")
    if not python:
        bench.skip("no python3.15: %s" % why)
    load_note(bench)
    with Target(bench, python, parked=PARKED) as target:
        pid = str(target.pid)
        ours = bench.time([bench.binary, "dump", "--pid", pid])
        if ours.returncode != 0:
            raise RuntimeError("dump exited %d: %s" % (ours.returncode, ours.stderr[-300:]))
        bench.ours("dump --pid, %d threads (3.15)" % (PARKED + 5), ours.median_ms, "ms")
        theirs = bench.time([python, "-m", "profiling.sampling", "dump", pid])
        if theirs.returncode != 0:
            bench.reference("python3.15 -m profiling.sampling dump",
                            missing="exited %d: %s" % (theirs.returncode, (theirs.stderr or theirs.stdout)[-200:]))
        else:
            bench.reference("python3.15 -m profiling.sampling dump", theirs.median_ms, "ms")
