#!/bin/sh
# Installs the Debian packages that pycoreprof's build and tests need, when
# they are missing; silent when everything is already installed. With
# --build, only what building and the demo need (`make demo`).
set -eu
only_build=false
[ "${1:-}" = "--build" ] && only_build=true

build_packages="gcc make pkg-config libelf-dev libdw-dev zlib1g-dev libzstd-dev liblzma-dev liblz4-dev"
test_packages="tmux gdb elfutils binutils patchelf python3 procps python3.11-dbg libgmp10 zstd xz-utils lz4 python3-numpy"
# A distributed engine for report's map and reduce (dask.distributed's
# LocalCluster, for Debian's python3).
test_packages="$test_packages python3-distributed"
# The servers the server tests run Python in (started with their own
# configuration, never as services): Apache with mod_wsgi, uwsgi with its
# python3 plugin, gunicorn, Django, and ab for load.
test_packages="$test_packages apache2 libapache2-mod-wsgi-py3 python3-django gunicorn uwsgi uwsgi-plugin-python3 apache2-utils"

# The output tests' tools, by command: a node or go from elsewhere will do.
# command:package pairs
test_commands="chromium:chromium go:golang-go node:nodejs npm:npm"
if $only_build; then
	test_packages="python3"
	test_commands=""
fi

missing=""
for package in $build_packages $test_packages; do
	status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $package" ;;
	esac
done
for pair in $test_commands; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing="$missing ${pair#*:}"
done

# The browser tests' npm packages (tests/browser/package.json, pinned by its
# lock file), installed when node_modules is missing or older than the lock.
browser_modules() {
	dir="$(dirname "$0")/../tests/browser"
	if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
		echo "install-deps: npm packages for tests/browser" >&2
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && touch "$dir/node_modules"
	fi
}

if [ -z "$missing" ]; then
	$only_build || browser_modules
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "install-deps: missing packages:$missing (run as root or install sudo)" >&2
	exit 1
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086  # word splitting of the package list is wanted
$as_root apt-get update -qq
# shellcheck disable=SC2086
$as_root apt-get install -y -qq --no-install-recommends $missing
$only_build || browser_modules
