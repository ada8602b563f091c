# Source lines are read with the target's rights: a process run by an
# unprivileged user that names a root-only file as the source of one of its
# functions must not get that file's lines shown by a root-run `dump --pid`,
# `core` of its crash core or `core` of a snapshot of it; the frame is shown,
# without the line, and the process's own readable source still shows.
import os
import pwd
import shutil
import signal
import tempfile

import lib
from lib import check

FIXTURE = os.path.join(lib.FIXTURES, "foreign_source.py")
SECRET_LINE = "PYCOREPROF-SECRET-LINE-7f3a"
READABLE_MARK = "READABLE-CALLER-LINE"
# Source lines do not depend on the interpreter; one that every user can run.
LABEL = "debian-3.11"


class Scene(object):
    """A directory every user can search, holding the fixture (copied: the
    tree it comes from may not be searchable by the user), a root-only
    secret file and a work directory the user owns."""

    def __init__(self):
        if os.geteuid() != 0:
            raise lib.Skip("not run as root: showing that a root-run pycoreprof reads no file "
                           "the target could not read needs root")
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            raise lib.Missing("no user 'nobody' to run the fixture as")
        self.uid, self.gid = user.pw_uid, user.pw_gid
        self.python = lib.interpreter(LABEL)
        self.base = tempfile.mkdtemp(prefix="pycoreprof-rights-")
        os.chmod(self.base, 0o755)
        self.fixture = os.path.join(self.base, "foreign_source.py")
        shutil.copyfile(FIXTURE, self.fixture)
        os.chmod(self.fixture, 0o644)
        self.secret = os.path.join(self.base, "secret.txt")
        fd = os.open(self.secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("first line\n    %s\n" % SECRET_LINE)
        self.work = os.path.join(self.base, "work")
        os.mkdir(self.work, 0o755)
        os.chown(self.work, self.uid, self.gid)
        self.readable = os.path.join(self.work, "own_source.py")
        self.ready = os.path.join(self.work, "ready")

    def argv(self, mode):
        return [self.python, self.fixture, self.secret, self.readable, self.ready, mode]

    def drop(self):
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


def check_text(result, what):
    check(result.code == 0, "%s: expected exit 0: %s", what, result.describe())
    text = result.text()
    check("secret_frame" in text, "%s: the frame named after the secret file is missing:\n%s", what, text)
    check(SECRET_LINE not in text, "%s shows a line of a file its target could not read:\n%s", what, text)
    check(READABLE_MARK in text, "%s lost the line of the target's own readable source:\n%s", what, text)


def test_dump_and_snapshot_of_another_users_process():
    scene = Scene()
    try:
        with lib.Process(LABEL, scene.argv("park")[1:], workdir=scene.work, ready=scene.ready,
                         preexec_fn=scene.drop) as fixture:
            check_text(lib.run_pycoreprof(["dump", "--pid", str(fixture.pid)]), "dump --pid")
            snapshot = os.path.join(scene.base, "snapshot.core")
            result = lib.run_pycoreprof(["snapshot", "--pid", str(fixture.pid), "--no-compress",
                                         "-o", snapshot])
            check(result.code == 0, "snapshot: expected exit 0: %s", result.describe())
        check_text(lib.run_pycoreprof(["core", snapshot]), "core of a snapshot")
    finally:
        scene.remove()


def test_core_of_another_users_crash():
    scene = Scene()
    try:
        core = lib.make_core(scene.argv("abort"), scene.work, signal.SIGABRT, preexec_fn=scene.drop)
        check(os.stat(core).st_uid == scene.uid, "the core of the fixture is not its user's")
        check_text(lib.run_pycoreprof(["core", core]), "core")
    finally:
        scene.remove()


def test_sanitized_build():
    # The same reads (a child taking the user's ids, a descriptor passed back)
    # under ASan and UBSan, for a live process and for a core.
    lib.asan_pycoreprof()
    scene = Scene()
    try:
        with lib.Process(LABEL, scene.argv("park")[1:], workdir=scene.work, ready=scene.ready,
                         preexec_fn=scene.drop) as fixture:
            check_text(lib.run_pycoreprof(["dump", "--pid", str(fixture.pid)], asan=True),
                       "dump --pid (sanitizer build)")
        os.unlink(scene.ready)
        core = lib.make_core(scene.argv("abort"), scene.work, signal.SIGABRT, preexec_fn=scene.drop)
        check_text(lib.run_pycoreprof(["core", core], asan=True), "core (sanitizer build)")
    finally:
        scene.remove()
