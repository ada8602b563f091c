#!/usr/bin/env python3
# The test runner: the C unit-test programs in BUILD/tests/unit, then every
# test_* function of tests/e2e/test_*.py, each case in its own process group
# with a timeout. Ends with one line "N passed, N failed, N skipped".
import argparse
import importlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)
E2E = os.path.join(TESTS, "e2e")
sys.path.insert(0, E2E)
sys.dont_write_bytecode = True  # keep the source tree clean

import lib  # noqa: E402


class Tally(object):
    def __init__(self, verbose):
        self.passed = self.failed = self.skipped = 0
        self.verbose = verbose
        self.lock = threading.Lock()

    def report(self, name, outcome, reason="", detail=""):
        with self.lock:
            if outcome == "pass":
                self.passed += 1
                if self.verbose:
                    print("ok   %s" % name)
            elif outcome == "skip":
                self.skipped += 1
                print("SKIP %s: %s" % (name, reason))
            else:
                self.failed += 1
                print("FAIL %s: %s" % (name, reason))
                for line in detail.strip().splitlines()[-30:]:
                    print("     | " + line)
            sys.stdout.flush()


# ------------------------------------------------------------------ processes

ACTIVE = set()  # process groups of running cases, killed if the runner is stopped
ACTIVE_LOCK = threading.Lock()
STOPPING = threading.Event()


def kill_active():
    with ACTIVE_LOCK:
        for pgid in ACTIVE:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def run_group(argv, timeout, stdout_path, env=None):
    """Run ARGV as the leader of a new process group with output to
    STDOUT_PATH. Once the leader exits (or TIMEOUT passes) the whole group is
    killed: the leader is reaped only afterwards, so its id cannot have been
    reused. Returns (status, timed_out)."""
    with open(stdout_path, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env=env, cwd=REPO)
    with ACTIVE_LOCK:
        ACTIVE.add(proc.pid)
    deadline = time.time() + timeout
    timed_out = False
    while True:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        if info is not None and info.si_pid == proc.pid:
            break
        if time.time() > deadline:
            timed_out = True
            break
        if STOPPING.is_set():
            break
        time.sleep(0.05)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    status = proc.wait()
    with ACTIVE_LOCK:
        ACTIVE.discard(proc.pid)
    return status, timed_out


def read_tail(path, limit=6000):
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def describe_status(status):
    if status < 0:
        try:
            return "killed by %s" % signal.Signals(-status).name
        except ValueError:
            return "killed by signal %d" % -status
    return "exited with status %d" % status


# ------------------------------------------------------------------ unit tests

RESULT_LINE = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?(.*)$")


def unit_programs(build):
    directory = os.path.join(REPO, build, "tests", "unit")
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK) and "." not in name:
            found.append(path)
    return found


def run_unit(path, tally, scratch, timeout):
    name = "unit/" + os.path.basename(path)
    log = os.path.join(scratch, os.path.basename(path) + ".log")
    status, timed_out = run_group([path], timeout, log)
    output = read_tail(log, limit=1 << 20)
    failures = 0
    for line in output.splitlines():
        match = RESULT_LINE.match(line.strip())
        if not match:
            continue
        verdict, number, what = match.groups()
        skip = re.search(r"#\s*SKIP\b\s*(.*)$", what, re.IGNORECASE)
        case = "%s #%s" % (name, number)
        if verdict == "not ok":
            failures += 1
            tally.report(case, "fail", what)
        elif skip:
            tally.report(case, "skip", "%s: %s" % (what[:skip.start()].strip(),
                                                   skip.group(1) or "skipped"))
        else:
            tally.report("%s %s" % (case, what), "pass")
    if timed_out:
        tally.report(name, "fail", "did not finish in %d s" % timeout, output)
    elif status != 0 and failures == 0:
        tally.report(name, "fail", describe_status(status) + " without a failing check", output)


# ------------------------------------------------------------------ e2e cases

class Case(object):
    def __init__(self, module, function, param):
        self.module, self.function, self.param = module, function, param
        self.name = "%s.%s" % (module, function)
        if param is not None:
            self.name += "[%s]" % param


def collect():
    cases = []
    for filename in sorted(os.listdir(E2E)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module_name = filename[:-3]
        module = importlib.import_module(module_name)
        functions = [(getattr(module, name).__code__.co_firstlineno, name)
                     for name in dir(module)
                     if name.startswith("test_") and callable(getattr(module, name))
                     and getattr(getattr(module, name), "__module__", None) == module_name]
        for _, name in sorted(functions):
            params = getattr(getattr(module, name), "params", None)
            if params is None:
                cases.append(Case(module_name, name, None))
            else:
                for param in (params() if callable(params) else params):
                    cases.append(Case(module_name, name, param))
    return cases


def selected(name, patterns):
    """Whether NAME contains one of PATTERNS, where * and ? are wildcards."""
    if not patterns:
        return True
    for pattern in patterns:
        regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch)
                        for ch in pattern)
        if re.search(regex, name):
            return True
    return False


def run_case_here(module_name, function_name, param, result_path):
    """In the case's own process: run one test function, write its outcome."""
    outcome = {"outcome": "pass"}
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        if param is None:
            function()
        else:
            function(param)
    except lib.Missing as exc:
        outcome = {"outcome": "missing", "reason": str(exc)}
    except lib.Skip as exc:
        outcome = {"outcome": "skip", "reason": str(exc)}
    except lib.Failure as exc:
        outcome = {"outcome": "fail", "reason": str(exc)}
    except Exception as exc:  # a bug in the test or an unexpected product answer
        outcome = {"outcome": "fail", "reason": "%s: %s" % (type(exc).__name__, exc),
                   "detail": traceback.format_exc()}
    with open(result_path + ".tmp", "w") as out:
        json.dump(outcome, out)
    os.rename(result_path + ".tmp", result_path)
    return 0


def run_case(case, tally, scratch, timeout, env):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", case.name)
    log = os.path.join(scratch, safe + ".log")
    result_path = os.path.join(scratch, safe + ".result")
    argv = [sys.executable, os.path.abspath(__file__), "--case", case.module, case.function,
            json.dumps(case.param), result_path]
    status, timed_out = run_group(argv, timeout, log, env)
    if timed_out:
        tally.report(case.name, "fail", "did not finish in %d s (process group killed)" % timeout,
                     read_tail(log))
        return
    try:
        with open(result_path) as source:
            outcome = json.load(source)
    except (OSError, ValueError):
        tally.report(case.name, "fail", "the case process %s without a result"
                     % describe_status(status), read_tail(log))
        return
    kind = outcome["outcome"]
    if kind == "missing":
        if lib.under_ci():
            tally.report(case.name, "fail", "missing under CI: " + outcome["reason"])
        else:
            tally.report(case.name, "skip", outcome["reason"])
    elif kind == "skip":
        tally.report(case.name, "skip", outcome["reason"])
    elif kind == "fail":
        tally.report(case.name, "fail", outcome["reason"],
                     outcome.get("detail") or read_tail(log, 3000))
    else:
        tally.report(case.name, "pass")


def run_e2e(cases, tally, scratch, jobs, timeout, prefetched):
    env = dict(os.environ)
    labels = set(lib.interpreter_labels())
    # Group each interpreter's cases together so that its cached cores can be
    # deleted as soon as they are done; fetched interpreters go last.
    def order(indexed):
        index, case = indexed
        label = case.param if case.param in labels else None
        return (lib.needs_fetch(label) if label else False,
                label is not None, label or "", index)
    ordered = [case for _, case in sorted(enumerate(cases), key=order)]
    remaining = {}
    for case in ordered:
        if case.param in labels:
            remaining[case.param] = remaining.get(case.param, 0) + 1
    work = queue.Queue()
    for case in ordered:
        work.put(case)
    count_lock = threading.Lock()

    def worker():
        while True:
            try:
                case = work.get_nowait()
            except queue.Empty:
                return
            if STOPPING.is_set():
                return
            if case.param in labels and lib.needs_fetch(case.param):
                prefetched.wait()
            try:
                run_case(case, tally, scratch, timeout, env)
            except Exception:
                tally.report(case.name, "fail", "runner error", traceback.format_exc())
            if case.param in labels:
                with count_lock:
                    remaining[case.param] -= 1
                    if remaining[case.param] == 0:
                        shutil.rmtree(os.path.join(lib.run_dir(), "cache", case.param),
                                      ignore_errors=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        STOPPING.set()
        kill_active()
        for thread in threads:
            thread.join(5)
        raise


# ------------------------------------------------------------------ main

def _interrupted(signum, frame):
    raise KeyboardInterrupt()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        _, _, module_name, function_name, param, result_path = sys.argv
        return run_case_here(module_name, function_name, json.loads(param), result_path)
    parser = argparse.ArgumentParser(description="Run pycoreprof's unit and end-to-end tests.")
    parser.add_argument("--build", default="build", help="build directory (default: build)")
    parser.add_argument("--asan-build", default="build-san",
                        help="sanitizer build directory (default: build-san)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="parallel e2e cases (default 2)")
    parser.add_argument("-k", dest="patterns", action="append", default=[],
                        help="run only cases whose name contains PATTERN (* and ? are wildcards)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per case (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list passing cases")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)

    os.environ["PYCOREPROF_TEST_BUILD"] = args.build
    os.environ["PYCOREPROF_TEST_ASAN_BUILD"] = args.asan_build
    scratch = tempfile.mkdtemp(prefix="pycoreprof-tests-")
    os.environ["PYCOREPROF_TEST_RUN"] = scratch
    logs = os.path.join(scratch, "logs")
    os.makedirs(logs)
    tally = Tally(args.verbose)
    started = time.time()
    try:
        cases = [case for case in collect() if selected(case.name, args.patterns)]
        prefetched = threading.Event()
        fetch_labels = {case.param for case in cases if lib.needs_fetch(case.param)}

        def fetch():
            try:
                if fetch_labels:
                    lib.prefetch()
            finally:
                prefetched.set()
        fetcher = threading.Thread(target=fetch, daemon=True)
        fetcher.start()
        for program in unit_programs(args.build):
            if selected("unit/" + os.path.basename(program), args.patterns):
                run_unit(program, tally, logs, 120)
        run_e2e(cases, tally, logs, args.jobs, args.timeout, prefetched)
        if args.patterns and tally.passed + tally.failed + tally.skipped == 0:
            print("no test matches %s" % " or ".join(args.patterns))
    except KeyboardInterrupt:
        STOPPING.set()
        kill_active()
        print("interrupted")
        tally.failed += 1
    finally:
        if args.keep:
            print("scratch kept in %s" % scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("# %.0f s%s" % (time.time() - started, ", CI=true" if lib.under_ci() else ""))
    print("%d passed, %d failed, %d skipped" % (tally.passed, tally.failed, tally.skipped))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
