# `report` over profiles as well as snapshots: snapshots of a real process
# reported in one run, and the same snapshots split into shards whose
# reports (JSON) are reported again, give the same bytes in every format,
# however the shards are grouped (merging is associative); profiles of other
# formats mix in with their samples.
import json
import os
import shutil

import lib
import test_record as recording
from lib import check
from test_record_clock import Periodic

SNAPSHOTS = 40
SHARDS = 4
OUTPUTS = ("folded", "json", "pb.gz", "speedscope.json", "svg")


def report(args, what):
    result = lib.run_pycoreprof(["report"] + list(args), timeout=300)
    check(result.code == 0, "%s: %s", what, result.describe())
    return result.stderr.decode("utf-8", "replace")


def read_bytes(path):
    with open(path, "rb") as data:
        return data.read()


@lib.each(lambda: recording.few_interpreters()[-1:])
def test_report_map_reduce(label):
    with Periodic(label) as fixture:
        folder = fixture.path("snaps") + "/"
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--interval", "20ms",
                                     "--count", str(SNAPSHOTS), "-o", folder], timeout=120)
        check(result.code == 0, "snapshot: %s", result.describe())
    snaps = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    check(len(snaps) == SNAPSHOTS, "expected %d snapshots, found %d", SNAPSHOTS, len(snaps))
    work = lib.scratch("mapreduce")

    whole = dict((ext, os.path.join(work, "whole." + ext)) for ext in OUTPUTS)
    for ext, path in whole.items():
        report([folder, "-o", path], "report of every snapshot as ." + ext)
    document = json.loads(read_bytes(whole["json"]).decode("utf-8"))
    check(document["samples"] > 0 and document.get("first_ns", 0) < document.get("last_ns", 0),
          "the whole report should have samples and a time span: %s",
          dict((k, document.get(k)) for k in ("samples", "first_ns", "last_ns")))

    # Map: each shard, as its own directory, reported to JSON on its own.
    parts = []
    for shard in range(SHARDS):
        shard_dir = os.path.join(work, "shard-%d" % shard)
        os.makedirs(shard_dir)
        for snap in snaps[shard::SHARDS]:
            shutil.copy(snap, shard_dir)
        parts.append(os.path.join(work, "part-%d.json" % shard))
        report([shard_dir, "-o", parts[-1]], "report of shard %d" % shard)

    # Reduce, flat and in a tree.
    pair_a, pair_b = os.path.join(work, "pair-a.json"), os.path.join(work, "pair-b.json")
    said = report(parts[:2] + ["-o", pair_a], "reduce of parts 0-1")
    check("and 2 profiles" in said, "the summary should count the profiles read: %s", said)
    report(parts[2:] + ["-o", pair_b], "reduce of parts 2-3")
    for ext in OUTPUTS:
        flat = os.path.join(work, "flat." + ext)
        report([os.path.join(work, "part-*.json"), "-o", flat], "flat reduce to ." + ext)
        tree = os.path.join(work, "tree." + ext)
        report([pair_b, pair_a, "-o", tree], "tree reduce to ." + ext)
        check(read_bytes(flat) == read_bytes(whole[ext]),
              "the flat reduce to .%s differs from the single report", ext)
        check(read_bytes(tree) == read_bytes(whole[ext]),
              "the tree reduce to .%s differs from the single report", ext)

    # Profiles of other formats mix in: the samples add up.
    extra = os.path.join(work, "extra.folded")
    with open(extra, "w") as out:
        out.write("<module> (other.py:1);elsewhere (other.py:9) 7\n")
    mixed = os.path.join(work, "mixed.json")
    report([folder, whole["pb.gz"], whole["speedscope.json"], extra, "-o", mixed], "mixed report")
    total = json.loads(read_bytes(mixed).decode("utf-8"))["samples"]
    check(total == 3 * document["samples"] + 7,
          "snapshots + pprof + speedscope + folded should give %d samples, got %d",
          3 * document["samples"] + 7, total)

    # A bad profile is skipped with its reason, the rest still reported.
    bad = os.path.join(work, "bad.json")
    with open(bad, "w") as out:
        out.write('{"frames": [')
    result = lib.run_pycoreprof(["report", folder, bad, "-o", os.path.join(work, "with-bad.folded")])
    stderr = result.stderr.decode("utf-8", "replace")
    check(result.code == 1 and "skipped %s" % bad in stderr and "1 bad profile" in stderr,
          "a bad profile should be skipped and said (exit 1): %s", result.describe())
