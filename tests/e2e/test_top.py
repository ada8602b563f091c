# `pycoreprof top` as a user sees it: piped, one plain table per refresh
# and the whole run's at the end; in a real terminal (a private tmux
# server), the live table, the thread view, a resized pane, pause, and the
# terminal given back on q. The shares are judged against what the 50/30/20
# fixture spent by its own timeline.
import os
import re
import shutil
import subprocess
import time

import lib
import test_record as recording
from lib import check

SPINNERS = recording.SPINNERS
# `  47.4%   47.4%    1.63s      1.63s  fifty (.../shares.py:23)`
ROW = re.compile(r"^\s*([\d.]+)%\s+([\d.]+)%\s+(\S+)\s+(\S+)\s+(\S+) \((.*)\)\s*$")


def seconds_of(text):
    """'1.63s', '2m03s', '1h12m' in seconds."""
    match = re.match(r"^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$", text)
    check(match and text, "not a time: %r", text)
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def rows(lines):
    """{function: (own %, total %, own s, total s)} of a table's lines."""
    found = {}
    for line in lines:
        match = ROW.match(line)
        if match:
            found[match.group(5)] = (float(match.group(1)), float(match.group(2)),
                                     seconds_of(match.group(3)), seconds_of(match.group(4)))
    return found


def judge(fixture, table, spent, column, what):
    counts = dict((name, table.get(name, (0, 0, 0, 0))[column]) for name in SPINNERS)
    recording.check_spinner_shares(counts, spent, fixture.info, 5, what)


@lib.each(recording.few_interpreters)
def test_top_plain(label):
    """Not on a terminal: a table per refresh, then the whole run's, whose
    own shares are the fixture's; exit 0."""
    with recording.Shares(label) as fixture:
        argv = [lib.pycoreprof(), "top", "--pid", str(fixture.pid), "--duration", "3", "--refresh", "1"]
        start = fixture.clock()
        result = lib.run(argv, timeout=60)
        end = fixture.clock()
        check(result.code == 0, "expected exit 0: %s", result.describe())
        text = result.text()
        tables = text.split(" Process %d " % fixture.pid)[1:]
        check(len(tables) >= 3, "expected a table per refresh and a final one: %s", result.describe())
        check("the whole run" in tables[-1], "the last table should be the whole run's:\n%s", tables[-1])
        final = rows(tables[-1].splitlines())
        for name in SPINNERS:
            check(name in final, "%s missing from the final table:\n%s", name, tables[-1])
        check(final["main"][1] >= 99.0 and final["<module>"][1] >= 99.0,
              "main and <module> should hold every sample (total 100%%):\n%s", tables[-1])
        judge(fixture, final, fixture.spent_between(start, end), 0, "%s top (whole run)" % label)
        live = rows(tables[-2].splitlines())
        check(all(name in live for name in SPINNERS), "a refresh's table lacks a spinner:\n%s", tables[-2])


def test_top_launched_command_ends():
    """`top -- CMD`: when the command ends, the final table and the command's
    exit code."""
    label = lib.interpreter_labels()[-1]
    script = "import time\nt = time.time()\nwhile time.time() - t < 1.5:\n    pass\n"
    result = lib.run([lib.pycoreprof(), "top", "--", lib.interpreter(label), "-c", script], timeout=60)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    check("the whole run" in result.text() and "<module>" in result.text(),
          "the final table is missing: %s", result.describe())


class Tmux(object):
    """A private tmux server (its own socket) with one session of WIDTH x
    HEIGHT running COMMAND in a shell; killed on the way out."""

    def __init__(self, command, width=120, height=30):
        self.tmux = lib.tool("tmux", "tmux")
        self.socket = os.path.join(lib.scratch("tmux"), "socket")
        self.command = command
        self.size = (width, height)

    def run(self, *args):
        result = lib.run([self.tmux, "-S", self.socket] + list(args), timeout=30)
        check(result.code == 0, "tmux %s: %s", " ".join(args), result.describe())
        return result.text()

    def __enter__(self):
        self.run("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x", str(self.size[0]),
                 "-y", str(self.size[1]), self.command)
        return self

    def __exit__(self, *exc):
        lib.run([self.tmux, "-S", self.socket, "kill-server"], timeout=30)
        return False

    def screen(self, history=0):
        """The pane's lines, and HISTORY lines scrolled off above them."""
        return self.run("capture-pane", "-p", "-t", "top", "-S", str(-history)).splitlines()

    def alternate(self):
        return self.run("display-message", "-p", "-t", "top", "#{alternate_on}").strip() == "1"

    def keys(self, *keys):
        self.run("send-keys", "-t", "top", *keys)

    def wait_screen(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while True:
            lines = self.screen()
            if predicate(lines):
                return lines
            check(time.time() < deadline, "%s not on the screen in %d s:\n%s", what, timeout, "\n".join(lines))
            time.sleep(0.2)


def test_top_in_a_terminal():
    label = lib.interpreter_labels()[-1]
    with recording.Shares(label) as fixture:
        done = fixture.path("done")
        command = "%s top --pid %d; echo EXIT=$? > %s.tmp; stty -a >> %s.tmp; mv %s.tmp %s; sleep 60" % (
            lib.pycoreprof(), fixture.pid, done, done, done, done)
        with Tmux(command) as term:
            start = fixture.clock()
            lines = term.wait_screen(lambda lines: all(rows(lines).get(name) for name in SPINNERS),
                                     "the three spinners")
            check(term.alternate(), "top should draw on the alternate screen")
            check(lines[1].startswith(" q quit"), "no key help line:\n%s", "\n".join(lines))
            time.sleep(3)
            lines = term.screen()
            end = fixture.clock()
            judge(fixture, rows(lines), fixture.spent_between(start, end), 2, "%s top in tmux (OwnTime)" % label)

            term.keys("t")
            lines = term.wait_screen(lambda lines: any("Thread" in line for line in lines) and
                                     any(re.search(r"thread \d+", line) for line in lines), "the thread view")
            term.keys("t", "p")
            term.wait_screen(lambda lines: lines[1].startswith(" [paused]"), "[paused]")
            term.keys("p")
            term.wait_screen(lambda lines: not lines[1].startswith(" [paused]") and rows(lines), "the table again")

            term.run("resize-window", "-t", "top", "-x", "60", "-y", "12")
            lines = term.wait_screen(lambda lines: len(lines) <= 12 and all(len(line) <= 60 for line in lines) and
                                     any(re.match(r"^\s*[\d.]+%\s+[\d.]+%\s+\S+\s+\S+\s+fifty", line)
                                         for line in lines), "a table fitted to 60x12")
            check(lines[0].startswith(" Process %d" % fixture.pid), "the header is gone:\n%s", "\n".join(lines))

            term.keys("q")
            deadline = time.time() + 20
            while not os.path.exists(done):
                check(time.time() < deadline, "top did not end on q:\n%s", "\n".join(term.screen()))
                time.sleep(0.2)
            with open(done) as source:
                after = source.read()
            check(after.startswith("EXIT=0"), "top should exit 0 on q: %s", after[:200])
            check(re.search(r"(^|\s)icanon(\s|$)", after) and re.search(r"(^|\s)echo(\s|$)", after),
                  "the terminal was not given back (stty -a after top):\n%s", after)
            check(not term.alternate(), "the alternate screen is still on after q")
            printed = term.screen(history=200)
            check(any("the whole run" in line for line in printed),
                  "the whole run's table should be printed after q:\n%s", "\n".join(printed))
