# Map/reduce of `report` on a real distributed engine: snapshots of a real
# process split into 8 shards, each reported to a JSON part by a task of a
# dask.distributed LocalCluster (2 worker processes), the parts reduced by
# another task into SVG, folded, JSON and pprof: each the same bytes as one
# report over every shard.
import json
import os
import shutil

import lib
import test_record as recording
from lib import check
from test_record_clock import Periodic

SHARDS = 8
PER_SHARD = 5
OUTPUTS = ("svg", "folded", "json", "pb.gz")
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dask_mapreduce.py")
# Debian's python3-distributed installs for Debian's own python3.
DASK_PYTHON = "/usr/bin/python3"


def dask_python():
    result = lib.run([DASK_PYTHON, "-c", "import distributed; print(distributed.__version__)"], timeout=120) \
        if os.access(DASK_PYTHON, os.X_OK) else None
    if result is None or result.code != 0:
        raise lib.Skip("dask.distributed is not importable by %s: install the Debian package python3-distributed "
                       "(tools/install-deps.sh does)" % DASK_PYTHON)
    return result.text().strip()


@lib.each(lambda: recording.few_interpreters()[-1:])
def test_report_map_reduce_on_dask(label):
    version = dask_python()
    work = lib.scratch("dask")
    folder = os.path.join(work, "snaps") + "/"
    with Periodic(label) as fixture:
        result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--interval", "20ms",
                                     "--count", str(SHARDS * PER_SHARD), "-o", folder], timeout=120)
        check(result.code == 0, "snapshot: %s", result.describe())
    snaps = sorted(os.path.join(folder, name) for name in os.listdir(folder))
    check(len(snaps) == SHARDS * PER_SHARD, "expected %d snapshots, found %d", SHARDS * PER_SHARD, len(snaps))
    shards = []
    for shard in range(SHARDS):
        shard_dir = os.path.join(work, "shard-%d" % shard)
        os.makedirs(shard_dir)
        for snap in snaps[shard::SHARDS]:
            shutil.copy(snap, shard_dir)
        shards.append(shard_dir)

    reduced = [os.path.join(work, "reduced." + ext) for ext in OUTPUTS]
    result = lib.run([DASK_PYTHON, DRIVER, lib.pycoreprof(), work] + reduced + ["--"] + shards, timeout=600,
                     cwd=work)
    check(result.code == 0, "the dask map/reduce (distributed %s) failed: %s", version, result.describe())
    outcome = json.loads(result.text().strip().splitlines()[-1])
    check(len(outcome["workers"]) == 2, "the cluster should have 2 workers: %s", outcome["workers"])
    tasks = outcome["maps"] + outcome["reduce"]
    for task in tasks:
        check(task["code"] == 0, "a task's report exited with %d: %s", task["code"], task["stderr"])
        check(task["worker"] in outcome["workers"] and task["worker"] != outcome["client"],
              "a task ran in process %d, not in a worker %s", task["worker"], outcome["workers"])
    check(len(outcome["maps"]) == SHARDS, "%d map tasks ran, not %d", len(outcome["maps"]), SHARDS)
    for task in outcome["maps"]:
        check("Read %d snapshots" % PER_SHARD in task["stderr"], "the map task of %s read: %s", task["shard"],
              task["stderr"])

    for ext, path in zip(OUTPUTS, reduced):
        whole = os.path.join(work, "whole." + ext)
        result = lib.run_pycoreprof(["report"] + shards + ["-o", whole], timeout=300)
        check(result.code == 0, "the single report to .%s: %s", ext, result.describe())
        with open(whole, "rb") as one, open(path, "rb") as merged:
            check(merged.read() == one.read(), "the dask reduce to .%s differs from one report of every shard", ext)
