# The profile formats and `flamegraph` / `convert` on a known profile the
# test writes itself: the SVG driven in headless Chromium, speedscope checked
# against its schema and app, pprof read by `go tool pprof`, determinism,
# round trips and differential graphs.
import gzip
import json
import os
import random
import re
import shutil
import xml.etree.ElementTree as ElementTree

import lib
from lib import check

BROWSER = os.path.join(lib.REPO, "tests", "browser")
SVG = "{http://www.w3.org/2000/svg}"

# 1000 samples; `work` is reached two ways, `<lambda>` and `<module>` need
# their angle brackets kept by every tool.
KNOWN = [
    ("<module> (app.py:1);main (app.py:10);work (app.py:20);inner (app.py:30)", 400),
    ("<module> (app.py:1);main (app.py:10);work (app.py:20)", 100),
    ("<module> (app.py:1);main (app.py:10);<lambda> (app.py:12)", 200),
    ("<module> (app.py:1);main (app.py:10);dumps (json/encoder.py:50);qsort (libc.so.6)", 150),
    ("<module> (app.py:1);helper (util.py:5);work (app.py:20)", 100),
    ("<module> (app.py:1)", 50),
]
TOTAL = sum(count for _, count in KNOWN)
FLAT = {"inner": 400, "work": 200, "<lambda>": 200, "qsort": 150, "<module>": 50}
CUM = {"<module>": 1000, "main": 850, "work": 600, "inner": 400, "<lambda>": 200, "dumps": 150,
       "qsort": 150, "helper": 100}
FORMATS = ("svg", "folded", "json", "speedscope", "pprof")
EXTENSIONS = {"svg": "svg", "folded": "folded", "json": "json", "speedscope": "speedscope.json",
              "pprof": "pb.gz"}


def write_known(directory, name="known.folded", lines=None, shuffle=None):
    lines = list(lines or KNOWN)
    if shuffle is not None:
        random.Random(shuffle).shuffle(lines)
    path = os.path.join(directory, name)
    with open(path, "w") as out:
        for stack, count in lines:
            out.write("%s %d\n" % (stack, count))
    return path


def pycoreprof_ok(args):
    result = lib.run_pycoreprof(args)
    check(result.code == 0, "expected exit 0: %s", result.describe())
    return result


def convert(source, directory, fmt, name="out"):
    out = os.path.join(directory, "%s.%s" % (name, EXTENSIONS[fmt]))
    pycoreprof_ok(["convert", source, "-o", out])
    with open(out, "rb") as data:
        return data.read()


# ---------------------------------------------------------------- tools

def node_script(name):
    lib.tool("node", "nodejs")
    for module in ("playwright-core", "ajv", "speedscope"):
        if not os.path.isdir(os.path.join(BROWSER, "node_modules", module)):
            raise lib.Missing("npm package %s not installed in tests/browser (npm ci there; "
                              "tools/install-deps.sh does it)" % module)
    if not (os.environ.get("CHROMIUM") or lib.shutil.which("chromium")):
        raise lib.Missing("chromium not found on PATH (Debian package chromium)")
    return os.path.join(BROWSER, name)


def run_node(name, args, timeout=120):
    result = lib.run(["node", node_script(name)] + list(args), timeout=timeout)
    check(result.code == 0, "the browser check failed: %s", result.describe())
    return json.loads(result.text())


def pprof_program():
    """The program `go tool pprof` runs, built once per Go version and kept
    in the tests' cache (${PYCOREPROF_CACHE:-~/.cache/pycoreprof}/go-pprof):
    Go 1.24 and later build it on first use, which takes minutes of CPU on
    a busy machine."""
    go = lib.tool("go", "golang-go")

    def build(directory):
        version = lib.run([go, "env", "GOVERSION"], timeout=60).text().strip() or "unknown"
        kept = os.path.join(lib.cache_home(), "go-pprof", version)
        program = os.path.join(kept, "pprof")
        with lib.Locked(os.path.join(kept + ".lock")):
            if not os.access(program, os.X_OK):
                home = os.path.join(kept, "home")
                result = lib.run([go, "build", "-o", program + ".tmp", "cmd/pprof"], timeout=900,
                                 env={"HOME": home, "GOCACHE": os.path.join(home, "cache"),
                                      "GOFLAGS": "-mod=mod"})
                shutil.rmtree(home, ignore_errors=True)
                check(result.code == 0, "go build cmd/pprof failed: %s", result.describe())
                os.rename(program + ".tmp", program)
        return program
    return lib.cached("shared", "go-pprof", build)


def go_pprof_bytes(args, profile):
    program = pprof_program()
    home = lib.scratch("gohome")
    result = lib.run([program] + list(args) + [profile], timeout=120,
                     env={"HOME": home, "PPROF_TMPDIR": home})
    check(result.code == 0, "go tool pprof failed: %s", result.describe())
    return result.stdout


def go_pprof(args, profile):
    return go_pprof_bytes(args, profile).decode("utf-8", "replace")


# ---------------------------------------------------------------- folded, json

def test_formats_deterministic():
    """Same samples in any order give the same bytes in every format."""
    directory = lib.scratch("determinism")
    first = write_known(directory, "a.folded")
    second = write_known(directory, "b.folded", shuffle=7)
    for fmt in FORMATS:
        one = convert(first, directory, fmt, "one")
        again = convert(first, directory, fmt, "again")
        shuffled = convert(second, directory, fmt, "shuffled")
        check(one == again, "%s output differs between two runs on the same input", fmt)
        check(one == shuffled, "%s output depends on the order of the input lines", fmt)


def test_folded_json_round_trip():
    directory = lib.scratch("roundtrip")
    source = write_known(directory)
    document = json.loads(convert(source, directory, "json").decode("utf-8"))
    check(document["samples"] == TOTAL, "json samples %s, expected %d", document.get("samples"), TOTAL)
    frames = document["frames"]
    stacks = {}
    for stack in document["stacks"]:
        labels = []
        for index in stack["frames"]:
            frame = frames[index]
            label = frame["name"]
            if "file" in frame:
                label += " (%s%s)" % (frame["file"], ":%d" % frame["line"] if "line" in frame else "")
            labels.append(label)
        stacks[";".join(labels)] = stack["count"]
    check(stacks == dict(KNOWN), "json stacks differ from the input: %s", stacks)
    kinds = dict((frame["name"], frame["kind"]) for frame in frames)
    check(kinds["qsort"] == "native", "qsort (libc.so.6) should read as native, got %s", kinds["qsort"])
    back = convert(os.path.join(directory, "out.json"), directory, "folded", "back").decode("utf-8")
    check(sorted(back.splitlines()) == sorted("%s %d" % line for line in KNOWN),
          "json -> folded lost stacks:\n%s", back)


def folded_lines(path):
    with open(path) as data:
        return sorted(data.read().splitlines())


def test_every_format_reads_back():
    """speedscope and pprof files, ours and pprof's own rewrite of ours
    (`go tool pprof -proto`), read back by `convert` into exactly the
    stacks they were written from; a sampled speedscope profile in another
    unit counts its weights in multiples of the smallest, an evented one
    its stacks by how long they were open, its times kept."""
    directory = lib.scratch("readback")
    source = write_known(directory)
    for fmt in ("speedscope", "pprof", "json"):
        convert(source, directory, fmt, "known")
        back = os.path.join(directory, "back-%s.folded" % fmt)
        pycoreprof_ok(["convert", os.path.join(directory, "known.%s" % EXTENSIONS[fmt]), "-o", back])
        check(folded_lines(back) == sorted("%s %d" % line for line in KNOWN),
              "%s -> folded differs from the input:\n%s", fmt, "\n".join(folded_lines(back)))
    rewritten = os.path.join(directory, "rewritten.pb.gz")
    with open(rewritten, "wb") as out:
        out.write(go_pprof_bytes(["-proto"], os.path.join(directory, "known.pb.gz")))
    back = os.path.join(directory, "back-rewritten.folded")
    pycoreprof_ok(["convert", rewritten, "-o", back])
    check(folded_lines(back) == sorted("%s %d" % line for line in KNOWN),
          "pprof's own rewrite -> folded differs from the input:\n%s", "\n".join(folded_lines(back)))

    timed = os.path.join(directory, "timed.speedscope.json")
    with open(timed, "w") as out:
        json.dump({"$schema": "https://www.speedscope.app/file-format-schema.json",
                   "shared": {"frames": [{"name": "main", "file": "app.py", "line": 1},
                                         {"name": "work", "file": "app.py", "line": 5}]},
                   "profiles": [{"type": "sampled", "name": "timed", "unit": "milliseconds",
                                 "startValue": 0, "endValue": 50, "samples": [[0], [0, 1]],
                                 "weights": [10.0, 40.0]}]}, out)
    back = os.path.join(directory, "back-timed.folded")
    pycoreprof_ok(["convert", timed, "-o", back])
    check(folded_lines(back) == ["main (app.py:1) 1", "main (app.py:1);work (app.py:5) 4"],
          "a timed speedscope profile read as %s", folded_lines(back))
    # An evented profile in milliseconds: each stack counted by how long it
    # stayed open, in samples of the median stretch or of a thousandth of
    # the whole if shorter; its times kept as a timeline in JSON, a gap
    # included, and written back as events.
    evented = os.path.join(directory, "evented.speedscope.json")
    events = [("O", 0, 1000), ("O", 1, 1010), ("C", 1, 1050), ("C", 0, 1060), ("O", 0, 1100), ("C", 0, 1110)]
    with open(evented, "w") as out:
        json.dump({"$schema": "https://www.speedscope.app/file-format-schema.json",
                   "shared": {"frames": [{"name": "main", "file": "app.py", "line": 1},
                                         {"name": "work", "file": "app.py", "line": 5}]},
                   "profiles": [{"type": "evented", "name": 'thread 7 "main"', "unit": "milliseconds",
                                 "startValue": 1000, "endValue": 1110,
                                 "events": [{"type": t, "frame": f, "at": at} for t, f, at in events]}]}, out)
    stretches = [("main", 10), ("work", 40), ("main", 10), ("main", 10)]
    sample = min(sorted(length for _, length in stretches)[len(stretches) // 2],
                 sum(length for _, length in stretches) / 1000.0)
    expected = {}
    for name, length in stretches:
        expected[name] = expected.get(name, 0) + int(length / sample + 0.5)
    back = os.path.join(directory, "back-evented.folded")
    pycoreprof_ok(["convert", evented, "-o", back])
    check(folded_lines(back) == ['thread 7 "main";main (app.py:1) %d' % expected["main"],
                                 'thread 7 "main";main (app.py:1);work (app.py:5) %d' % expected["work"]],
          "an evented speedscope profile read as %s, not %s", folded_lines(back), expected)
    timeline = os.path.join(directory, "evented.json")
    pycoreprof_ok(["convert", evented, "-o", timeline])
    with open(timeline) as data:
        document = json.load(data)
    times = [event[0] / 1e6 for event in document["timeline"]["events"]]
    check(len(times) == sum(expected.values()) and times[0] == 1000 and
          all(1000 <= t < 1060 or 1100 <= t < 1110 for t in times),
          "the evented profile's samples should be at its times, none in the gap: %s", times[:5])
    again = os.path.join(directory, "again.speedscope.json")
    pycoreprof_ok(["convert", timeline, "-o", again])
    with open(again) as data:
        profile = json.load(data)["profiles"][0]
    check(profile["type"] == "evented" and profile["name"] == 'thread 7 "main"' and
          [(e["type"], e["at"] // 1000000) for e in profile["events"] if e["type"] == "C"][-1] == ("C", 1110) and
          ("C", 1060) in [(e["type"], e["at"] // 1000000) for e in profile["events"]],
          "the timeline written back should close at 1060 ms, reopen at 1100 and end at 1110: %s", profile["events"])
    for name, bad in (("unbalanced", events[:-1]), ("crossed", [("O", 0, 1), ("O", 1, 2), ("C", 0, 3), ("C", 1, 4)]),
                      ("backwards", [("O", 0, 5), ("C", 0, 4)])):
        path = os.path.join(directory, name + ".speedscope.json")
        with open(path, "w") as out:
            json.dump({"$schema": "https://www.speedscope.app/file-format-schema.json",
                       "shared": {"frames": [{"name": "main"}, {"name": "work"}]},
                       "profiles": [{"type": "evented", "name": "e", "unit": "none", "startValue": 0,
                                     "endValue": 9, "events": [{"type": t, "frame": f, "at": at}
                                                               for t, f, at in bad]}]}, out)
        result = lib.run_pycoreprof(["convert", path, "-o", os.path.join(directory, name + ".folded")])
        check(result.code == 2 and len(result.stderr.decode().strip().splitlines()) == 1,
              "a %s evented profile should be one error line: %s", name, result.describe())


# ---------------------------------------------------------------- pprof

def test_pprof_top_and_traces():
    directory = lib.scratch("pprof")
    profile = os.path.join(directory, "known.pb.gz")
    pycoreprof_ok(["convert", write_known(directory), "-o", profile, "--interval", "0.005"])
    with open(profile, "rb") as data:
        check(data.read(2) == b"\x1f\x8b", "the pprof file is not gzip-compressed")
    top = go_pprof(["-top", "-sample_index=samples", "-nodefraction=0", "-nodecount=100"], profile)
    flat, cum = {}, {}
    for line in top.splitlines():
        fields = line.split()
        if len(fields) == 6 and re.match(r"^\d+$", fields[0]) and fields[1].endswith("%"):
            flat[fields[5]] = int(fields[0])
            cum[fields[5]] = int(fields[3])
    for name, count in FLAT.items():
        check(flat.get(name) == count, "pprof -top: %s flat %s, expected %d\n%s", name, flat.get(name), count, top)
    for name, count in CUM.items():
        check(cum.get(name) == count, "pprof -top: %s cum %s, expected %d\n%s", name, cum.get(name), count, top)
    cpu = go_pprof(["-top", "-sample_index=cpu", "-unit=ms"], profile)
    check(re.search(r"of 5000ms total", cpu), "cpu total should be 1000 samples x 5ms:\n%s", cpu)

    traces = go_pprof(["-traces", "-sample_index=samples"], profile)
    found, block = {}, []
    for line in traces.splitlines() + ["-----------+"]:
        if not line.startswith("-----------+"):
            block.append(line.strip())
            continue
        head = block[0].split() if block else []
        if len(head) == 2 and head[0].isdigit():
            found[tuple([head[1]] + [name for name in block[1:] if name])] = int(head[0])
        block = []
    expected = {}
    for stack, count in KNOWN:
        names = tuple(frame.split(" (")[0] for frame in reversed(stack.split(";")))
        expected[names] = expected.get(names, 0) + count
    check(found == expected, "pprof -traces: %s, expected %s", found, expected)


# ---------------------------------------------------------------- speedscope

def test_speedscope_schema_and_app():
    directory = lib.scratch("speedscope")
    out = os.path.join(directory, "known.speedscope.json")
    pycoreprof_ok(["convert", write_known(directory), "-o", out, "--title", "known"])
    with open(out) as data:
        document = json.load(data)
    profile = document["profiles"][0]
    check(profile["type"] == "sampled", "profile type %s", profile["type"])
    check(sum(profile["weights"]) == TOTAL, "weights sum to %d, expected %d", sum(profile["weights"]), TOTAL)
    frames = document["shared"]["frames"]
    inner = [frame for frame in frames if frame["name"] == "inner"]
    check(inner == [{"name": "inner", "file": "app.py", "line": 30}], "frame of inner: %s", inner)
    outcome = run_node("speedscope_check.mjs", [out, directory])
    check(outcome["valid"], "not valid against speedscope's schema: %s", outcome["schema_errors"])
    check(not outcome["errors"], "the speedscope app reported errors: %s", outcome["errors"])
    check(outcome.get("title") == "known - speedscope", "speedscope did not open the profile: title %s",
          outcome.get("title"))


def test_speedscope_thread_profiles():
    directory = lib.scratch("speedscope-threads")
    lines = [('thread 1 "MainThread";<module> (app.py:1);main (app.py:10)', 30),
             ('thread 2 "worker";run (app.py:40)', 70)]
    out = os.path.join(directory, "threads.speedscope.json")
    pycoreprof_ok(["convert", write_known(directory, lines=lines), "-o", out])
    with open(out) as data:
        document = json.load(data)
    names = [profile["name"] for profile in document["profiles"]]
    check(names == ['thread 1 "MainThread"', 'thread 2 "worker"'], "one profile per thread expected: %s", names)
    weights = [sum(profile["weights"]) for profile in document["profiles"]]
    check(weights == [30, 70], "per-thread weights %s", weights)


# ---------------------------------------------------------------- SVG

def svg_frames(path):
    root = ElementTree.parse(path).getroot()
    frames = []
    for group in root.iter(SVG + "g"):
        if "f" not in (group.get("class") or "").split():
            continue
        title = group.find(SVG + "title").text
        rect = group.find(SVG + "rect")
        frames.append((title, float(rect.get("width")), float(rect.get("y")), rect.get("fill")))
    return root, frames


def test_flamegraph_static():
    """Readable without JavaScript: every frame a <title> with its count."""
    directory = lib.scratch("flamegraph")
    out = os.path.join(directory, "known.svg")
    pycoreprof_ok(["flamegraph", write_known(directory), "-o", out, "--title", "Known <profile>",
                   "--subtitle", "sub & title", "--width", "1000"])
    root, frames = svg_frames(out)
    check(root.get("width") == "1000", "--width ignored: %s", root.get("width"))
    texts = ["".join(element.itertext()) for element in root.iter(SVG + "text")]
    check("Known <profile>" in texts and "sub & title" in texts, "title/subtitle missing: %s", texts[:6])
    titles = dict((title.rsplit(" (", 1)[0], title) for title, _, _, _ in frames)
    check("inner (app.py:30)" in titles and "(400 samples, 40.00%)" in titles["inner (app.py:30)"],
          "inner's title: %s", titles.get("inner (app.py:30)"))
    plot = 1000 - 20
    width = dict((title.rsplit(" (", 1)[0], width) for title, width, _, _ in frames)
    check(abs(width["<lambda> (app.py:12)"] - plot * 0.2) < 0.2, "<lambda> width %s", width["<lambda> (app.py:12)"])


def test_flamegraph_reverse_inverted_palette():
    directory = lib.scratch("flamegraph-options")
    source = write_known(directory)
    flame, icicle, inverted, mono = (os.path.join(directory, name + ".svg")
                                     for name in ("flame", "icicle", "inverted", "mono"))
    pycoreprof_ok(["flamegraph", source, "-o", flame])
    pycoreprof_ok(["flamegraph", source, "-o", icicle, "--reverse"])
    pycoreprof_ok(["flamegraph", source, "-o", inverted, "--inverted"])
    pycoreprof_ok(["flamegraph", source, "-o", mono, "--palette", "mono"])
    y = dict((path, dict((title.split(" (")[0], y) for title, _, y, _ in svg_frames(path)[1]))
             for path in (flame, icicle))
    check(y[flame]["all"] > y[flame]["inner"], "flame graph: the root should be at the bottom")
    check(y[icicle]["all"] < y[icicle]["inner"], "--reverse: the root should be at the top")
    # Inverted: the leaves are the roots, so inner (400 self) sits on `all`.
    _, frames = svg_frames(inverted)
    depth1 = [title for title, _, yy, _ in frames if yy == max(f[2] for f in frames if not f[0].startswith("all"))]
    check(any(title.startswith("inner (app.py:30) (400 samples") for title in depth1),
          "--inverted: inner should be a root frame: %s", depth1)
    fills = set(fill for _, _, _, fill in svg_frames(mono)[1])
    check(all(re.match(r"rgb\((\d+),\1,\1\)", fill) for fill in fills), "--palette mono is not grey: %s", fills)
    result = lib.run_pycoreprof(["flamegraph", source, "--palette", "nope"])
    check(result.code == 64, "an unknown palette is a usage error: %s", result.describe())


def test_flamegraph_diff():
    directory = lib.scratch("flamegraph-diff")
    baseline = write_known(directory, "base.folded")
    changed = [(stack, count * 3 if "inner" in stack else count) for stack, count in KNOWN]
    source = write_known(directory, "new.folded", lines=changed)
    out = os.path.join(directory, "diff.svg")
    pycoreprof_ok(["flamegraph", source, "--diff", baseline, "-o", out])
    fills = dict((title.split(" (")[0], fill) for title, _, _, fill in svg_frames(out)[1])

    def rgb(text):
        return tuple(int(v) for v in re.findall(r"\d+", text))
    red = rgb(fills["inner"])
    blue = rgb(fills["<lambda>"])
    check(red[0] == 255 and red[1] < 255, "inner grew: expected red, got %s", fills["inner"])
    check(blue[2] == 255 and blue[0] < 255, "<lambda> shrank (in share): expected blue, got %s", fills["<lambda>"])


def test_flamegraph_other_tools():
    """py-spy's raw output and stackcollapse-perf's lines render too."""
    directory = lib.scratch("flamegraph-foreign")
    lines = [("process 4242:\"python app.py\";<module> (app.py:3);slow (app.py:9)", 12),
             ("perl;Perl_runops_standard;Perl_pp_sort;[unknown]", 5),
             ("swapper;secondary_startup_64;cpu_idle;default_idle_[k]", 3)]
    out = os.path.join(directory, "foreign.svg")
    pycoreprof_ok(["flamegraph", "-o", out, write_known(directory, lines=lines)])
    titles = [title for title, _, _, _ in svg_frames(out)[1]]
    check(any(title.startswith("default_idle_[k] (3 samples") for title in titles), "perf frames: %s", titles)
    check(any(title.startswith("slow (app.py:9) (12 samples") for title in titles), "py-spy frames: %s", titles)
    result = lib.run_pycoreprof(["flamegraph", "-o", out, os.path.join(directory, "absent.folded")])
    check(result.code == 2 and b"absent.folded" in result.stderr, "a missing input: %s", result.describe())


def test_flamegraph_in_browser():
    """Frames and widths, hover, click-to-zoom and reset, search with the
    matched share, and the view restored from the URL, in headless Chromium."""
    directory = lib.scratch("browser")
    out = os.path.join(directory, "known.svg")
    pycoreprof_ok(["flamegraph", write_known(directory), "-o", out])
    seen = run_node("flamegraph_check.mjs", [out, directory, "main (app.py:10)", "work", "s=inner&x=100:2"])
    check(not seen["errors"], "page errors: %s", seen["errors"])
    plot = 1200 - 20

    def widths(frames):
        return dict((frame["label"], frame["width"]) for frame in frames)
    initial = widths(seen["initial"])
    check(len(seen["initial"]) == 10, "expected 10 frames drawn (all + 9), got %s", list(initial))
    check(abs(initial["<lambda> (app.py:12)"] - plot * 0.2) <= 0.1, "<lambda> width %s",
          initial["<lambda> (app.py:12)"])
    check(seen["hover"].strip() == "main (app.py:10) (850 samples, 85.00%)", "hover text %r", seen["hover"])
    zoomed = widths(seen["zoomed"])
    check(abs(zoomed["main (app.py:10)"] - plot) <= 0.1, "zoomed main should fill the width: %s", zoomed)
    check(abs(zoomed["<lambda> (app.py:12)"] - plot * 200 / 850) <= 0.1, "zoomed <lambda> width %s",
          zoomed["<lambda> (app.py:12)"])
    check("helper (util.py:5)" not in zoomed, "frames outside the zoom stay drawn: %s", list(zoomed))
    check(widths(seen["reset"]) == initial, "reset did not restore the widths")
    matched = sorted(frame["label"] for frame in seen["searched"] if frame["match"])
    check(matched == ["work (app.py:20)", "work (app.py:20)"], "search 'work' highlighted %s", matched)
    check(seen["matched"].strip() == "Matched: 60.0%", "matched text %r", seen["matched"])
    check("s=work" in seen["url_after_search"], "search not kept in the URL: %s", seen["url_after_search"])
    # helper's 100 samples come first (children are sorted by name).
    check("x=100%3A2" in seen["url_after_zoom"] or "x=100:2" in seen["url_after_zoom"],
          "zoom not kept in the URL: %s", seen["url_after_zoom"])
    check(seen["after_escape"].strip() == "", "Escape did not clear the search: %r", seen["after_escape"])
    check(seen["after_ctrl_f"].strip() == "Matched: 60.0%", "Ctrl-F search: %r", seen["after_ctrl_f"])
    restored = widths(seen["restored"])
    check(abs(restored["main (app.py:10)"] - plot) <= 0.1, "?x= did not restore the zoom: %s", restored)
    check(seen["restored_matched"].strip() == "Matched: 40.0%", "?s= did not restore the search: %r",
          seen["restored_matched"])
    check(os.path.getsize(os.path.join(directory, "flamegraph-search.png")) > 1000, "no screenshot")


def test_flamegraph_thin_frames():
    """A frame too thin to draw at full width (3 samples of 10,000: 0.35
    pixels) is not in the picture, is found by a search, and is drawn with
    its title when a zoom makes it wide enough."""
    directory = lib.scratch("thin")
    out = os.path.join(directory, "thin.svg")
    lines = [("main (app.py:1);big (app.py:2)", 9950), ("main (app.py:1);small (app.py:3)", 47),
             ("main (app.py:1);small (app.py:3);tiny (app.py:4)", 3)]
    pycoreprof_ok(["flamegraph", write_known(directory, "thin.folded", lines=lines), "-o", out])
    with open(out) as svg:
        text = svg.read()
    check("tiny (app.py:4) (3 samples" not in text.replace("&lt;", "<"),
          "the thin frame is drawn as an element of its own")
    seen = run_node("thin_frames_check.mjs", [out, "small (app.py:3)", "tiny (app.py:4)", "^tiny"])
    check(not seen["errors"], "page errors: %s", seen["errors"])
    labels = [frame["label"] for frame in seen["initial"]]
    check("small (app.py:3)" in labels and "tiny (app.py:4)" not in labels,
          "drawn at load: %s", labels)
    zoomed = dict((frame["label"], frame) for frame in seen["zoomed"])
    plot = 1200 - 20
    check("tiny (app.py:4)" in zoomed, "zooming into small did not draw tiny: %s", sorted(zoomed))
    tiny = zoomed["tiny (app.py:4)"]
    check(abs(tiny["width"] - plot * 3 / 50) <= 0.1, "zoomed tiny width %s", tiny["width"])
    check(tiny["title"] == "tiny (app.py:4) (3 samples, 0.03%)", "tiny's title %r", tiny["title"])
    check(tiny["y"] == zoomed["small (app.py:3)"]["y"] - 16, "tiny at y %s, small at %s", tiny["y"],
          zoomed["small (app.py:3)"]["y"])
    check(tiny["text"] and tiny["text"].startswith("tiny"), "tiny's label %r", tiny["text"])
    check(seen["hover"].strip() == "tiny (app.py:4) (3 samples, 0.03%)", "hover %r", seen["hover"])
    check(seen["matched_percent"] == "0.0300", "search ^tiny matched %s%%", seen["matched_percent"])
    matched = [frame["label"] for frame in seen["searched"] if frame["match"]]
    check(matched == ["tiny (app.py:4)"], "search highlighted %s", matched)
    check("tiny (app.py:4)" not in [frame["label"] for frame in seen["reset"] if frame["width"] >= 0.5],
          "after reset tiny is drawn %s wide", [frame for frame in seen["reset"]
                                                 if frame["label"] == "tiny (app.py:4)"])


def test_usage_errors():
    for args in (["convert"], ["convert", "a.folded", "-o", "x.unknown"], ["flamegraph", "--width", "3"],
                 ["flamegraph", "a", "b"]):
        result = lib.run_pycoreprof(args)
        check(result.code == 64, "%s should be a usage error: %s", args, result.describe())


# ---------------------------------------------------------------- from record

def newest_interpreter():
    return lib.interpreter_labels()[-1:]


@lib.each(newest_interpreter)
def test_record_pprof_and_speedscope(label):
    """record writes pprof and speedscope straight from a live process."""
    from test_record import Shares, record_shares, check_success
    pprof_program()  # built before the fixture's minute starts
    with Shares(label) as fixture:
        profile = fixture.path("shares.pb.gz")
        result, summary, _ = record_shares(fixture, ["--rate", "200", "-o", profile], 1.0)
        check_success(result, summary)
        top = go_pprof(["-top", "-sample_index=samples", "-nodefraction=0"], profile)
        flat = dict((line.split()[5], int(line.split()[0])) for line in top.splitlines()
                    if len(line.split()) == 6 and line.split()[0].isdigit())
        cum = dict((line.split()[5], int(line.split()[3])) for line in top.splitlines()
                   if len(line.split()) == 6 and line.split()[0].isdigit())
        for name in ("fifty", "thirty", "twenty"):
            check(flat.get(name, 0) > 0, "pprof -top lists no samples in %s:\n%s", name, top)
        total = re.search(r"of (\d+) total", top)
        check(total and cum.get("<module>") == int(total.group(1)) > 0,
              "<module> should hold all the samples:\n%s", top)
        raw = go_pprof(["-raw"], profile)
        check("Period: 5000000" in raw, "the period should be the 5ms interval:\n%s", raw[:400])
        duration = re.search(r"^Duration: ([\d.]+)(ms|s)?$", raw, re.M)
        seconds = duration and float(duration.group(1)) / (1000.0 if duration.group(2) == "ms" else 1.0)
        check(seconds and 0.9 <= seconds <= 3.0, "the duration should be the recording's, about 1 s:\n%s",
              raw[:400])

        idle = fixture.path("idle.pb.gz")
        result, summary, _ = record_shares(fixture, ["--rate", "200", "--idle", "-o", idle], 0.5)
        check_success(result, summary)
        check("Type: wall" in go_pprof(["-top"], idle), "with --idle the sample type should be wall time")

        speedscope = fixture.path("shares.speedscope.json")
        result, summary, _ = record_shares(fixture, ["--rate", "200", "--threads", "-o", speedscope], 1.0)
        check_success(result, summary)
        with open(speedscope) as data:
            document = json.load(data)
        names = [profile["name"] for profile in document["profiles"]]
        check(names and all(name.startswith("thread ") for name in names), "per-thread profiles: %s", names)
        check(all(sum(p["weights"]) == p["endValue"] > 0 for p in document["profiles"]),
              "speedscope weights do not add up to each profile's end value")
