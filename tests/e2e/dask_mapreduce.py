# Map and reduce of `pycoreprof report` as tasks of a dask.distributed
# LocalCluster (2 worker processes, on the loopback only): each shard is
# reported to a JSON part by a task, then one task reports the parts into
# every output asked for. Run by test_report_dask.py with the Python that
# has `distributed` (Debian's python3-distributed); prints one JSON line:
#   {"maps": [{"shard", "part", "code", "stderr", "worker"}...],
#    "reduce": [{"output", "code", "stderr", "worker"}...], "workers": [...], "client": pid}
# Usage: dask_mapreduce.py PYCOREPROF WORKDIR OUTPUT... -- SHARD_DIR...
import json
import os
import subprocess
import sys


def report(pycoreprof, inputs, output):
    """One `pycoreprof report`, as a task: what it said and which worker
    process ran it."""
    result = subprocess.run([pycoreprof, "report"] + list(inputs) + ["-o", output],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=600)
    return {"code": result.returncode, "stderr": result.stderr.decode("utf-8", "replace"),
            "worker": os.getpid(), "output": output}


def reduce_parts(pycoreprof, parts, outputs):
    """The reduce task: every output from the parts the map tasks wrote
    (PARTS are the map tasks' results, so it runs after all of them)."""
    paths = [part["output"] for part in parts]
    return [report(pycoreprof, paths, output) for output in outputs]


def main():
    argv = sys.argv[1:]
    split = argv.index("--")
    pycoreprof, workdir, outputs, shards = argv[0], argv[1], argv[2:split], argv[split + 1:]
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=40)
    try:
        client = Client(cluster)
        try:
            parts = [os.path.join(workdir, "part-%d.json" % index) for index in range(len(shards))]
            maps = client.map(lambda shard, part: report(pycoreprof, [shard], part), shards, parts,
                              pure=False)
            reduced = client.submit(reduce_parts, pycoreprof, maps, outputs, pure=False)
            mapped = client.gather(maps)
            for item, shard in zip(mapped, shards):
                item["shard"] = shard
            document = {"maps": mapped, "reduce": reduced.result(),
                        "workers": sorted(client.run(os.getpid).values()),
                        "client": os.getpid()}
        finally:
            client.close()
    finally:
        cluster.close()
    sys.stdout.write(json.dumps(document) + "\n")


if __name__ == "__main__":
    main()
