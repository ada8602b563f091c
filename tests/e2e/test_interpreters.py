# Sub-interpreters, in every interpreter version: a fixture runs code in a
# second interpreter (Py_NewInterpreter, fixtures/python/subinterpreters.py);
# dump walks both interpreters' threads and says which interpreter each
# thread state belongs to, and record --threads names the sub-interpreter in
# its thread roots. The fixture's own ground truth is the expectation.
import os
import re

import lib
from lib import check
from test_record import check_success, read_folded, record

FIXTURE = os.path.join(lib.FIXTURES, "subinterpreters.py")
THREAD_ROOT = re.compile(r'^thread (?P<tid>\d+) "(?P<name>[^"]*)"(?: in interpreter (?P<id>\d+))?$')


def start(label):
    workdir = lib.scratch("subinterpreters")
    truth = os.path.join(workdir, "truth.json")
    return lib.Process(label, [FIXTURE, truth], workdir=workdir, ready=truth), truth


@lib.each_interpreter
def test_subinterpreter_threads(label):
    fixture, truth_path = start(label)
    with fixture:
        truth = lib.load_truth(truth_path)
        worker, sub_id = truth["worker_tid"], truth["sub_id"]
        has_ids = lib.label_version(label) >= (3, 7)
        check(has_ids == (sub_id is not None), "sub-interpreter id %r from Python %s", sub_id,
              truth["python_version"])
        expected_sub = lib.truth_frames({"frames": truth["sub_frames"]})

        result = lib.run_pycoreprof(["dump", "--pid", str(fixture.pid), "--json"])
        check(result.code == 0, "dump failed: %s", result.describe())
        document = lib.parse_json(result)
        states = [thread for thread in document["threads"] if thread["tid"] == worker]
        check(len(states) == 2, "the worker thread %d has %d thread states in the dump, expected one "
              "in each interpreter", worker, len(states))
        in_sub = [thread for thread in states if lib.python_frames(thread)[:1] and
                  lib.python_frames(thread)[0][:2] == expected_sub[0][:2]]
        check(len(in_sub) == 1, "no thread state of the worker runs %s: %s", expected_sub[0][0],
              [lib.python_frames(thread)[:1] for thread in states])
        got = lib.python_frames(in_sub[0])
        lib.compare_frames("the sub-interpreter's frames below the spinner", expected_sub[1:],
                           got[1:len(expected_sub)])
        other = [thread for thread in states if thread is not in_sub[0]][0]
        main = [thread for thread in document["threads"] if thread["tid"] == truth["main_tid"]]
        check(len(main) == 1, "the main thread %d appears %d times", truth["main_tid"], len(main))
        for thread in [in_sub[0], other, main[0]]:
            check(thread["interpreter"] is not None and thread["interpreter"]["name"] is None,
                  "thread %d: interpreter %r, expected an id and no name", thread["tid"],
                  thread["interpreter"])
        check(in_sub[0]["interpreter"]["id"] == sub_id,
              "the spinner's thread state is in interpreter %r, the fixture created %r (the "
              "worker's thread states: %s)", in_sub[0]["interpreter"]["id"], sub_id,
              [(thread["interpreter"], lib.python_frames(thread)[:2]) for thread in states])
        main_id = 0 if has_ids else None
        for thread in (other, main[0]):
            check(thread["interpreter"]["id"] == main_id, "thread %d of the main interpreter is in "
                  "interpreter %r", thread["tid"], thread["interpreter"]["id"])

        out = os.path.join(fixture.workdir, "threads.folded")
        result, summary = record(["--pid", str(fixture.pid), "--duration", "2", "--threads",
                                  "-o", out])
        check_success(result, summary)
        spun = 0
        for frames, count in read_folded(out):
            if not any(frame.kind == "python" and frame.name == expected_sub[0][0] for frame in frames):
                continue
            root = THREAD_ROOT.match(frames[0].text)
            check(root and int(root.group("tid")) == worker,
                  "--threads: the spinner under %r, expected thread %d", frames[0].text, worker)
            if has_ids:
                check(root.group("id") and int(root.group("id")) == sub_id,
                      "--threads: root %r, expected interpreter %d", frames[0].text, sub_id)
            else:
                check(root.group("id") is None, "--threads: root %r names an interpreter, but "
                      "Python %s has no interpreter ids", frames[0].text, truth["python_version"])
            spun += count
        check(spun >= summary.samples // 2, "--threads: %d samples of the spinner in %d", spun,
              summary.samples)
