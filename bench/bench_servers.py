# What recording at 100 Hz costs the servers people run Python in, under the
# same ab load: a mod_wsgi daemon process serving Django (libpython3.11 in
# apache2) and a gunicorn master with 3 sync workers (--subprocesses), beside
# the synthetic fixture (fixtures/python/deep_threads.py, 4 busy threads).
# Pause median and p99 and the share of the time stopped are pycoreprof's own
# figures. The servers are started as in the tests (tests/e2e/servers.py: own
# configuration in a temporary directory, ended by PID). Figures only.
import os
import re
import sys

from bench_record import Target, load_note, record, run

RECORD_SECONDS = 10.0
CONCURRENCY = 8          # ab's requests at a time, for both servers
P99_GOAL_US = 1000.0
STOPPED_GOAL_PCT = 1.0
PAUSES = re.compile(r", pause median (\d+)us p99 (\d+)us max (\d+)us"
                    r"(?:, (?:each )?stopped ([\d.]+)% of the time(?: at most)?)?\)")


def server_helpers(bench):
    """tests/e2e/servers.py and lib.py, or a skip naming what is missing."""
    sys.path.insert(0, os.path.join(bench.repo, "tests", "e2e"))
    import lib
    import servers
    return lib, servers


def record_figures(bench, pid, options, output):
    """`pycoreprof record` at 100 Hz: {median, p99, max (us), stopped (%)}."""
    argv = [bench.binary, "record", "--pid", str(pid), "--rate", "100", "--duration",
            str(RECORD_SECONDS), "-o", output] + options
    code, _, err = run(argv, bench.env, timeout=RECORD_SECONDS + 120)
    match = PAUSES.search(err)
    if code not in (0, 1) or not match:
        raise RuntimeError("%s exited %d without pause figures: %s"
                           % (" ".join(argv), code, err.strip()[-500:]))
    for line in err.splitlines():
        if "fell behind" in line:
            bench.note("%s: %s" % (os.path.basename(output), line))
    median, p99, most = (int(value) for value in match.group(1, 2, 3))
    return {"median": median, "p99": p99, "max": most,
            "stopped": float(match.group(4)) if match.group(4) else None}


def add_rows(bench, label, figures):
    bench.ours("%s: pause median" % label, figures["median"], "us")
    bench.ours("%s: pause p99" % label, figures["p99"], "us", P99_GOAL_US)
    bench.ours("%s: pause max" % label, figures["max"], "us")
    if figures["stopped"] is not None:
        bench.ours("%s: share of the time stopped" % label, figures["stopped"], "%",
                   STOPPED_GOAL_PCT)


def bench_servers_pause(bench):
    bench.describe("record at 100 Hz for %.0f s: mod_wsgi + Django (one daemon process of 2 x 4 "
                   "threads) and gunicorn (master + 3 sync workers, --subprocesses) under ab -c %d, "
                   "beside the synthetic fixture (4 busy threads)" % (RECORD_SECONDS, CONCURRENCY))
    try:
        lib, servers = server_helpers(bench)
        servers.need_django()
        servers.need_file(servers.APACHE, "apache2")
        servers.need_file(os.path.join(servers.APACHE_MODULES, "mod_wsgi.so"), "libapache2-mod-wsgi-py3")
        lib.tool("gunicorn", "gunicorn")
        lib.tool("ab", "apache2-utils")
    except lib.Skip as missing:
        bench.skip(str(missing))
    load_note(bench)
    bench.note("with several processes (gunicorn) the share is the largest any one process "
               "was stopped; each process is stopped only for its own sample")

    with Target(bench, servers.SYSTEM_PYTHON) as target:
        figures = record_figures(bench, target.pid, [], os.path.join(bench.tmpdir, "synthetic.folded"))
    add_rows(bench, "synthetic fixture, python3.11", figures)

    with servers.AppDir() as apps:
        port = servers.free_port()
        with servers.apache(apps, port, processes=2, threads=4) as server:
            servers.warm_up(port, "/busy", 40, "Django under mod_wsgi")
            daemons = sorted(set(pid for app, pid, _ in apps.truth() if app == "busyapp"))
            if not daemons:
                raise RuntimeError("no mod_wsgi daemon process served Django")
            with servers.Load(port, "/busy", CONCURRENCY, apps.path) as load:
                figures = record_figures(bench, daemons[0], [], os.path.join(apps.path, "mod_wsgi.folded"))
                load.check_running()
            add_rows(bench, "mod_wsgi + Django daemon process", figures)

    with servers.AppDir() as apps:
        port = servers.free_port()
        with servers.gunicorn(apps, port, workers=3) as server:
            servers.wait_for(lambda: len(servers.children(server.pid)) == 3, "gunicorn's 3 workers")
            servers.warm_up(port, "/busy", 30, "gunicorn")
            with servers.Load(port, "/busy", CONCURRENCY, apps.path) as load:
                figures = record_figures(bench, server.pid, ["--subprocesses"],
                                         os.path.join(apps.path, "gunicorn.folded"))
                load.check_running()
            add_rows(bench, "gunicorn, 4 processes", figures)
