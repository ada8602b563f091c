# What `record` says about the stacks it could not read: the kinds of error
# and how often, in its summary and in the JSON profile, against a process
# whose main thread is deeper than the sampler's stack limit (every sample of
# it one "stack too deep") beside a shallow spinner that reads whole.
import json
import os

import lib
from lib import check
from test_record import few_interpreters, record

TOO_DEEP = os.path.join(lib.FIXTURES, "too_deep.py")
DEPTH = 4200                  # the sampler keeps 4096 frames a thread
DEEP_KIND = "stack too deep"


def deep_process(label, depth):
    workdir = lib.scratch("deep")
    truth = os.path.join(workdir, "info.json")
    return lib.Process(label, [TOO_DEEP, "60", str(depth), "--info", truth], workdir=workdir, ready=truth)


def profile(path):
    with open(path) as source:
        document = json.load(source)
    names = [frame["name"] for frame in document["frames"]]
    return document, names


def samples_with(document, names, function):
    return sum(stack["count"] for stack in document["stacks"]
               if any(names[index] == function for index in stack["frames"]))


@lib.each(few_interpreters)
def test_error_kinds(label):
    with deep_process(label, DEPTH) as fixture:
        truth = lib.load_truth(fixture.ready)
        out = fixture.path("deep.json")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "2",
                                  "--idle", "--format", "json", "-o", out])
        text = result.stderr.decode("utf-8", "replace")
        print("%s: %d samples, %d errors%s" % (label, summary.samples, summary.errors, summary.extra))
        document, names = profile(out)
        errors = document.get("errors")
        check(errors is not None, "the JSON profile has no errors object: %s", result.describe())
        check(errors["total"] == summary.errors, "JSON says %d errors, the summary %d", errors["total"],
              summary.errors)
        # With --idle the deep main thread is in every sample, running or
        # waiting for the GIL, and each time it is one error of the one kind.
        check(summary.errors >= 0.9 * summary.samples, "%d errors in %d samples, expected the deep "
              "thread's every sample: %s", summary.errors, summary.samples, result.describe())
        check(errors["kinds"] == {DEEP_KIND: summary.errors}, "error kinds %s, expected only %r",
              errors["kinds"], DEEP_KIND)
        check("%d %s" % (summary.errors, DEEP_KIND) in text, "the summary does not say '%d %s': %s",
              summary.errors, DEEP_KIND, result.describe())
        check(result.code == 1, "exit %d with errors, expected 1", result.code)
        # The error keeps the innermost frames it read under the marker; the
        # shallow thread reads whole.
        deep = samples_with(document, names, truth["deep"])
        shallow = samples_with(document, names, truth["shallow"])
        marked = samples_with(document, names, "[unreadable stack]")
        check(marked == summary.errors and deep >= marked, "%d samples under [unreadable stack], %d in "
              "%s, for %d errors", marked, deep, truth["deep"], summary.errors)
        check(shallow > 0, "the shallow spinner is in no sample")


@lib.each(few_interpreters)
def test_no_errors_said(label):
    """A profile that read every stack says so: a total of 0, no kinds."""
    with deep_process(label, 20) as fixture:
        out = fixture.path("shallow.json")
        result, summary = record(["--pid", str(fixture.pid), "--rate", "200", "--duration", "1",
                                  "--format", "json", "-o", out])
        document, _ = profile(out)
        check(summary.errors == 0 and result.code == 0, "errors reading 20-deep stacks: %s",
              result.describe())
        check(document.get("errors") == {"total": 0, "kinds": {}}, "errors object %s, expected a "
              "total of 0 and no kinds", document.get("errors"))
