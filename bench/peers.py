# The reference profilers the benchmarks measure beside pycoreprof: py-spy,
# pystack and Austin 4 (the austin-dist wheel), installed from PyPI into a
# private virtual environment under the benchmarks' cache, never into the
# system and never a dependency of pycoreprof. Austin's binary needs a newer
# glibc than Debian 12's; it then runs through the loader and libc of the
# Debian root that tools/debian-python.sh unpacks.
import os
import subprocess
import sys

PINS = ["py-spy==0.4.3", "pystack==1.7.2", "austin-dist==4.0.0"]


def cache_dir():
    base = os.environ.get("PYCOREPROF_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pycoreprof")
    return os.path.join(base, "bench-peers")


class Peers(object):
    """Where each peer's command is, or why it is missing: argv(name) is the
    command line prefix to run it, missing(name) the reason it is not."""

    def __init__(self, bench):
        self.bench = bench
        self.venv = os.path.join(cache_dir(), "venv")
        self.commands = {}
        self.reasons = {}
        self._install()
        self._find("py-spy")
        self._find("pystack")
        self._find_austin()

    def _install(self):
        stamp = os.path.join(self.venv, "pins")
        try:
            with open(stamp) as f:
                if f.read().split() == PINS:
                    return
        except OSError:
            pass
        steps = [[sys.executable, "-m", "venv", self.venv],
                 [os.path.join(self.venv, "bin", "pip"), "install", "-q", "--disable-pip-version-check"] + PINS]
        for argv in steps:
            proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=600)
            if proc.returncode != 0:
                self.failure = "%s failed: %s" % (" ".join(argv[:3]), proc.stdout.strip()[-200:])
                return
        with open(stamp, "w") as f:
            f.write("\n".join(PINS) + "\n")

    def _find(self, name):
        path = os.path.join(self.venv, "bin", name)
        if os.access(path, os.X_OK):
            self.commands[name] = [path]
        else:
            self.reasons[name] = getattr(self, "failure", "not installed in %s" % self.venv)

    def _find_austin(self):
        self._find("austin")
        if "austin" not in self.commands:
            return
        if self._runs(self.commands["austin"]):
            return
        # Built against glibc 2.38+: borrow the newer loader and libc of a
        # Debian unstable root.
        script = os.path.join(self.bench.repo, "tools", "debian-python.sh")
        proc = subprocess.run(["bash", script, "path", "3.14"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=900)
        python = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else ""
        root = python[:python.find("/usr/bin/")] if "/usr/bin/" in python else ""
        loader = os.path.join(root, "usr", "lib", "x86_64-linux-gnu", "ld-linux-x86-64.so.2")
        argv = [loader, "--library-path", os.path.join(root, "usr", "lib", "x86_64-linux-gnu")] + \
            self.commands["austin"]
        if root and self._runs(argv):
            self.commands["austin"] = argv
        else:
            del self.commands["austin"]
            self.reasons["austin"] = ("its binary needs glibc 2.38+ and no newer libc was found "
                                      "(tools/debian-python.sh path 3.14: %s)" % proc.stderr.strip()[-200:])

    @staticmethod
    def _runs(argv):
        try:
            return subprocess.run(argv + ["--version"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=30).returncode == 0
        except OSError:
            return False

    def argv(self, name):
        return self.commands.get(name)

    def missing(self, name):
        return self.reasons.get(name)
