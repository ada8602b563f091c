# Benchmarks of the profile writers on a large folded profile made here
# (100,000 distinct stacks, 1,000,000 samples): SVG and pprof rendering time
# and size, and opening the SVG and searching it in headless Chromium.
import json
import os
import random
import shutil
import subprocess
import time

STACKS = 100000
SAMPLES = 1000000
RENDER_GOAL_MS = 500.0
SVG_GOAL_MIB = 5.0
BROWSER_GOAL_MS = 1000.0


def make_folded(path):
    """Stacks are random walks down a fixed call graph (each of 3,000
    functions in a few dozen modules calls 2 to 6 others), 8 to 40 frames
    deep, so prefixes and callees repeat as in a real program; written in
    random order, 10 samples each."""
    rng = random.Random(42)
    modules = ["app/%s.py" % name for name in ("main", "views", "models", "db", "cache", "tasks")]
    modules += ["site-packages/lib%d/core.py" % i for i in range(20)] + ["json/decoder.py", "re/_parser.py"]
    functions = ["%s (%s:%d)" % ("f%d" % i, rng.choice(modules), rng.randint(1, 900)) for i in range(3000)]
    callees = [rng.sample(range(len(functions)), rng.randint(2, 6)) for _ in functions]
    seen = set()
    while len(seen) < STACKS:
        stack, at = ["<module> (app/main.py:1)", "main (app/main.py:10)"], rng.randrange(50)
        for _ in range(rng.randint(8, 40)):
            stack.append(functions[at])
            at = rng.choice(callees[at])
        seen.add(";".join(stack))
    lines = sorted(seen)
    rng.shuffle(lines)
    with open(path, "w") as out:
        for line in lines:
            out.write("%s %d\n" % (line, SAMPLES // STACKS))


def bench_outputs(bench):
    bench.describe("pycoreprof flamegraph / convert on %d distinct stacks, %d samples" % (STACKS, SAMPLES))
    folded = os.path.join(bench.tmpdir, "big.folded")
    make_folded(folded)
    bench.note("input: %.1f MiB of folded stacks; times include process start and reading the input"
               % (os.path.getsize(folded) / 2.0 ** 20))
    svg = os.path.join(bench.tmpdir, "big.svg")
    pprof = os.path.join(bench.tmpdir, "big.pb.gz")
    timing = bench.time([bench.binary, "flamegraph", folded, "-o", svg])
    if timing.returncode != 0:
        raise RuntimeError("flamegraph exited %d: %s" % (timing.returncode, timing.stderr))
    bench.ours("folded -> SVG (median of %d)" % len(timing.seconds), timing.median_ms, "ms", RENDER_GOAL_MS)
    bench.ours("SVG size", os.path.getsize(svg) / 2.0 ** 20, "MiB", SVG_GOAL_MIB)
    timing = bench.time([bench.binary, "convert", folded, "-o", pprof])
    if timing.returncode != 0:
        raise RuntimeError("convert exited %d: %s" % (timing.returncode, timing.stderr))
    bench.ours("folded -> pprof", timing.median_ms, "ms", RENDER_GOAL_MS)
    bench.ours("pprof size", os.path.getsize(pprof) / 2.0 ** 20, "MiB")
    for tool in ("flamegraph.pl", "inferno-flamegraph"):
        path = shutil.which(tool)
        if not path:
            bench.reference(tool, missing="not installed")
            continue
        other = bench.time([path, folded], repeat=1)
        bench.reference(tool + " (folded -> SVG)", other.median_ms, "ms")

    script = os.path.join(bench.repo, "tests", "browser", "search_timing.mjs")
    modules = os.path.join(bench.repo, "tests", "browser", "node_modules", "playwright-core")
    if not shutil.which("node") or not shutil.which("chromium") or not os.path.isdir(modules):
        bench.note("browser figures skipped: node, chromium or tests/browser's npm packages missing "
                   "(tools/install-deps.sh)")
        return
    out = subprocess.run(["node", script, svg, "f1[0-9]"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError("search_timing.mjs failed: %s" % out.stderr)
    seen = json.loads(out.stdout)
    bench.note("Chromium drew %d frames; search matched %s" % (seen["frames"], seen["matched"].strip()))
    bench.ours("Chromium: open the SVG", seen["load_ms"], "ms")
    bench.ours("Chromium: open + search", seen["load_ms"] + seen["search_ms"], "ms", BROWSER_GOAL_MS)
