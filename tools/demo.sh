#!/bin/sh
# `make demo`: profile the bundled example worker into a flame graph, then
# crash it and analyse the core. Output goes to demo-output/.
set -eu
build=${1:-build}
bin="$build/pycoreprof"
out=demo-output
python=$(command -v python3)
mkdir -p "$out"

echo "== Profiling examples/worker.py for 5 seconds (pycoreprof record)"
"$bin" record --rate 200 --threads -o "$out/worker.svg" -- "$python" examples/worker.py 5
"$bin" record --rate 200 -o "$out/worker.folded" -- "$python" examples/worker.py 2 >/dev/null 2>&1
echo "   the innermost frames with the most samples:"
awk '{ n = $NF; sub(/ [0-9]+$/, ""); k = split($0, f, ";"); printf "%d\t%s\n", n, f[k] }' "$out/worker.folded" |
	sort -t "$(printf '\t')" -k1,1nr | head -5 | awk -F '\t' '{ printf "   %6d samples in  %s\n", $1, $2 }'

echo
echo "== Crashing the worker and reading its core (pycoreprof core)"
crash_dir=$(mktemp -d)
abs_worker=$(cd examples && pwd)/worker.py
( cd "$crash_dir" && ulimit -c unlimited && "$python" "$abs_worker" 1 crash ) >/dev/null 2>&1 || true
core=$(ls "$crash_dir"/core* 2>/dev/null | head -n 1 || true)
if [ -n "$core" ]; then
	"$bin" core "$core"
	mv "$core" "$out/worker.core"
	gzip -f "$out/worker.core"
	echo "   (core kept, compressed, as $out/worker.core.gz)"
else
	echo "   no core was written: /proc/sys/kernel/core_pattern is '$(cat /proc/sys/kernel/core_pattern)'"
fi
rmdir "$crash_dir" 2>/dev/null || true
echo
echo "Open $out/worker.svg in a browser: hover for details, click to zoom, Ctrl-F to search."
