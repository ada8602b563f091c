# Helpers for the server tests (test_servers.py): the real Debian servers that
# embed or run Python (Apache with mod_wsgi, uwsgi with its python3 plugin,
# gunicorn), each started on a free port with its own configuration in a
# temporary directory, never as a system service, and ended by its PID; ab for
# load; and the ground truth the served applications (fixtures/servers/)
# record. Python 3 stdlib only.
import glob
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import lib
from lib import check

APPS = os.path.join(lib.REPO, "fixtures", "servers")
SYSTEM_PYTHON = "/usr/bin/python3.11"
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
UWSGI_PLUGINS = "/usr/lib/uwsgi/plugins"
START_TIMEOUT = 60
STOP_TIMEOUT = 20


def need_django():
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        raise lib.Missing("%s not found (Debian package python3.11-minimal)" % SYSTEM_PYTHON)
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import django"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=lib.fixture_env())
    if probe.returncode != 0:
        raise lib.Missing("Django not importable by %s (Debian package python3-django; "
                          "tools/install-deps.sh installs it)" % SYSTEM_PYTHON)


def need_file(path, package):
    if not os.path.exists(path):
        raise lib.Missing("%s not found (Debian package %s; tools/install-deps.sh installs it)"
                          % (path, package))
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unprivileged_ids():
    """(user, group) names for a server's workers when we are root, else None:
    Apache refuses to serve as root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("nobody")
        group = "nogroup"
        grp.getgrnam(group)
    except KeyError:
        raise lib.Missing("no user nobody or group nogroup to run the server's workers as")
    return "nobody", group


class AppDir(object):
    """A directory outside the run's private scratch space (workers that run
    as nobody must read it) holding copies of the applications and a truth/
    directory they may write; removed on leaving."""

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="pycoreprof-servers-")
        os.chmod(self.path, 0o755)
        for name in os.listdir(APPS):
            if name.endswith(".py"):
                shutil.copy(os.path.join(APPS, name), self.path)
                os.chmod(os.path.join(self.path, name), 0o644)
        self.truth_dir = os.path.join(self.path, "truth")
        os.mkdir(self.truth_dir)
        os.chmod(self.truth_dir, 0o777)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)

    def file(self, name):
        return os.path.join(self.path, name)

    def truth(self):
        """Every truth record written so far: {(app, pid, interpreter id): record}."""
        found = {}
        for name in glob.glob(os.path.join(self.truth_dir, "*.json")):
            try:
                with open(name) as source:
                    record = json.load(source)
            except (OSError, ValueError):
                continue  # being replaced
            found[(record["app"], record["pid"], record["interpreter"]["id"])] = record
        return found


def children(pid):
    """The child processes of PID."""
    found = []
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(path) as source:
                found += [int(word) for word in source.read().split()]
        except OSError:
            pass
    return sorted(set(found))


def descendants(pid):
    found = []
    for child in children(pid):
        found += [child] + descendants(child)
    return found


def cpu_seconds(pid):
    """The user and system CPU time PID has used, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as source:
        fields = source.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def get(port, path, timeout=30):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=timeout) as reply:
        return reply.status, reply.read()


class Server(object):
    """A server process started by a case, from its start until it and every
    process it started are ended by their PIDs. ARGV runs in WORKDIR with its
    output in WORKDIR/server.log; entering waits until READY_PATH answers 200
    on PORT. Leaving sends STOP_SIGNAL to the server, waits, then kills
    whatever of its process tree is left with SIGKILL."""

    def __init__(self, name, argv, workdir, port, ready_path, stop_signal=signal.SIGTERM, env=None):
        self.name, self.argv, self.workdir, self.port = name, argv, workdir, port
        self.ready_path, self.stop_signal = ready_path, stop_signal
        self.env = env if env is not None else lib.fixture_env()
        self.log_path = os.path.join(workdir, "server.log")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=self.env)
        try:
            self.wait_ready()
        except BaseException:
            self.end()
            raise
        return self

    def __exit__(self, *exc):
        self.end()

    def log(self):
        return lib._tail(self.log_path, 12)

    def wait_ready(self):
        deadline = time.time() + START_TIMEOUT
        while True:
            check(self.proc.poll() is None, "%s exited with %s while starting: %s", self.name,
                  self.proc.returncode, self.log())
            try:
                status, _ = get(self.port, self.ready_path, timeout=10)
                if status == 200:
                    return
            except OSError:
                pass
            check(time.time() < deadline, "%s did not answer on port %d in %d s: %s", self.name,
                  self.port, START_TIMEOUT, self.log())
            time.sleep(0.1)

    def end(self):
        if self.proc is None:
            return
        tree = descendants(self.proc.pid)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, self.stop_signal)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                tree = descendants(self.proc.pid) or tree
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        # Workers the server did not take with it: ours to end, by PID.
        for pid in tree:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def apache(apps, port, processes=2, threads=4):
    """Apache with mod_wsgi in daemon mode: PROCESSES daemon processes of
    THREADS threads serving busyapp.py (Django) in a sub-interpreter, the
    application group "django", and plainapp.py in the main interpreter
    (%{GLOBAL}). Run in the foreground, so that it stays our child."""
    need_django()
    need_file(APACHE, "apache2")
    need_file(os.path.join(APACHE_MODULES, "mod_wsgi.so"), "libapache2-mod-wsgi-py3")
    ids = unprivileged_ids()
    conf = apps.file("httpd.conf")
    lines = [
        "ServerRoot %s" % apps.path,
        "ServerName localhost",
        "Listen 127.0.0.1:%d" % port,
        "PidFile %s" % apps.file("httpd.pid"),
        "DefaultRuntimeDir %s" % apps.path,
        "ErrorLog %s" % apps.file("error.log"),
        "LogLevel warn",
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % APACHE_MODULES,
        "LoadModule authz_core_module %s/mod_authz_core.so" % APACHE_MODULES,
        "LoadModule wsgi_module %s/mod_wsgi.so" % APACHE_MODULES,
    ]
    if ids:
        lines += ["User %s" % ids[0], "Group %s" % ids[1]]
    lines += [
        "WSGISocketPrefix %s" % apps.file("wsgi"),
        "WSGIDaemonProcess busy processes=%d threads=%d python-path=%s" % (processes, threads, apps.path),
        "WSGIScriptAlias /plain %s process-group=busy application-group=%%{GLOBAL}"
        % apps.file("plainapp.py"),
        "WSGIScriptAlias / %s process-group=busy application-group=django" % apps.file("busyapp.py"),
        "<Directory %s>" % apps.path,
        "Require all granted",
        "</Directory>",
    ]
    with open(conf, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.chmod(conf, 0o644)
    env = lib.fixture_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return Server("apache2", [APACHE, "-f", conf, "-DFOREGROUND"], apps.path, port, "/plain", env=env)


def gunicorn(apps, port, workers=3):
    """gunicorn (its sync workers) serving busyapp.py."""
    need_django()
    program = lib.tool("gunicorn", "gunicorn")
    argv = [SYSTEM_PYTHON, program, "--workers", str(workers), "--bind", "127.0.0.1:%d" % port,
            "--chdir", apps.path, "--timeout", "120", "busyapp:application"]
    return Server("gunicorn", argv, apps.path, port, "/busy")


def uwsgi(apps, port, workers=2):
    """uwsgi with its python3 plugin (libpython in uwsgi) and a master:
    WORKERS processes serving busyapp.py over HTTP. SIGINT ends it (SIGTERM
    would reload it)."""
    need_django()
    program = lib.tool("uwsgi", "uwsgi")
    need_file(os.path.join(UWSGI_PLUGINS, "python3_plugin.so"), "uwsgi-plugin-python3")
    argv = [program, "--plugin", "python3", "--master", "--processes", str(workers),
            "--http-socket", "127.0.0.1:%d" % port, "--chdir", apps.path,
            "--module", "busyapp:application", "--need-app", "--disable-logging"]
    return Server("uwsgi", argv, apps.path, port, "/busy", stop_signal=signal.SIGINT)


class Load(object):
    """ab sending CONCURRENCY requests at a time to PATH on PORT until left
    (ended by its PID)."""

    def __init__(self, port, path, concurrency, workdir):
        self.argv = [lib.tool("ab", "apache2-utils"), "-q", "-r", "-c", str(concurrency), "-t", "600",
                     "-n", "100000000", "-s", "60", "http://127.0.0.1:%d%s" % (port, path)]
        self.log_path = os.path.join(workdir, "ab.log")
        self.proc = None

    def __enter__(self):
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self

    def check_running(self):
        check(self.proc.poll() is None, "ab exited with %s: %s", self.proc.returncode,
              lib._tail(self.log_path))

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def warm_up(port, path, requests, what):
    """Send REQUESTS requests to PATH, a few at a time, so that every worker
    has loaded its application."""
    ab = lib.tool("ab", "apache2-utils")
    result = lib.run([ab, "-q", "-r", "-c", "4", "-n", str(requests), "-s", "60",
                      "http://127.0.0.1:%d%s" % (port, path)], timeout=120)
    check(result.code == 0, "warming up %s failed: %s", what, result.describe())


def wait_for(condition, what, timeout=60):
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        check(time.time() < deadline, "%s: not so after %d s", what, timeout)
        time.sleep(0.1)
