#!/bin/bash
# Fetches Debian unstable's CPython 3.13/3.14/3.15 builds into a private cache and
# makes them runnable in place (patched loader and rpath), for tests and layout
# generation. Never touches the system's apt configuration or installed packages.
#
#   debian-python.sh path [--dev] [--dbg] 3.X
#                                       print the runnable interpreter (fetch if needed);
#                                       --dev adds the headers, --dbg the detached DWARF
#                                       of the interpreter and its extension modules
#                                       (python3.X-dbg, under usr/lib/debug/.build-id)
#   debian-python.sh list               print the supported versions
#
# The cache is ${PYCOREPROF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pycoreprof}/debian-python.
# Layout: apt/ (private apt state), 3.X/root/ (the unpacked packages), 3.X/root/usr/bin/python3.X
# (the patched interpreter; python3.X.orig next to it is the file as Debian ships it).

set -u
set -o pipefail

VERSIONS="3.13 3.14 3.15"
PROG=debian-python.sh
FALLBACK_MIRROR=http://deb.debian.org/debian
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
LISTS_MAX_AGE_MIN=$((24 * 60))

CACHE=${PYCOREPROF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pycoreprof}
TOP=$CACHE/debian-python
LOG=/dev/null

die() {
	echo "$PROG: $*" >&2
	exit 1
}

usage() {
	die "usage: $PROG path [--dev] [--dbg] 3.X | $PROG list"
}

# The mirror the machine already uses, so that proxies and local mirrors keep
# working; only the suite is ours. deb822 sources first, then one-line format.
find_mirror() {
	local uri=''
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '
			/^[ \t]*$/ { if (u != "" && s !~ /security/) { print u; exit } u = ""; s = ""; next }
			tolower($1) == "uris:"   { u = $2 }
			tolower($1) == "suites:" { s = $0 }
			END { if (u != "" && s !~ /security/) print u }
		' /etc/apt/sources.list.d/debian.sources | head -n 1)
	fi
	if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
		uri=$(awk '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) !~ /security/) { print $i; exit }
			}' /etc/apt/sources.list)
	fi
	case $uri in
	http://* | https://*) echo "${uri%/}" ;;
	*) echo "$FALLBACK_MIRROR" ;;
	esac
}

apt_opts() {
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$TOP/apt/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=/dev/null"
		-o "Dir::Etc::PreferencesParts=/dev/null"
		-o "Dir::State::Lists=$TOP/apt/lists"
		-o "Dir::Cache=$TOP/apt/cache"
		-o "Dir::State::status=/dev/null"
		-o "APT::Sandbox::User=root"
		-o "Acquire::Languages=none"
	)
}

# Refresh the private package lists when missing or older than a day.
apt_update() {
	mkdir -p "$TOP/apt/lists/partial" "$TOP/apt/cache/archives/partial" || return 1
	echo "deb [signed-by=$KEYRING] $(find_mirror) unstable main" >"$TOP/apt/sources.list.new" &&
		mv -f "$TOP/apt/sources.list.new" "$TOP/apt/sources.list" || return 1
	if [ -f "$TOP/apt/updated" ] &&
		[ -z "$(find "$TOP/apt/updated" -mmin +"$LISTS_MAX_AGE_MIN")" ]; then
		return 0
	fi
	rm -f "$TOP/apt/updated"
	# apt-get update only warns when an index cannot be fetched; insist on one.
	apt-get "${APT_OPTS[@]}" -q update >>"$LOG" 2>&1 &&
		! grep -q '^[WE]: Failed to fetch' "$LOG" &&
		compgen -G "$TOP/apt/lists/*_unstable_main_binary-amd64_Packages*" >/dev/null || return 1
	touch "$TOP/apt/updated"
}

# First package of an "a|b|c" list that unstable has.
pick_package() {
	local alt
	for alt in ${1//|/ }; do
		if apt-cache "${APT_OPTS[@]}" show --no-all-versions "$alt" >/dev/null 2>&1; then
			echo "$alt"
			return 0
		fi
	done
	return 1
}

# Version of package $1 that unstable offers now.
candidate_version() {
	apt-cache "${APT_OPTS[@]}" show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}

# Download the named packages into DIR and unpack each into ROOT.
fetch_and_unpack() {
	local dir=$1 root=$2 spec pkgs=() p deb
	shift 2
	for spec in "$@"; do
		p=$(pick_package "$spec") || {
			echo "no package $spec in unstable" >>"$LOG"
			return 1
		}
		pkgs+=("$p")
	done
	mkdir -p "$dir" "$root" || return 1
	rm -f "$dir"/*.deb
	(cd "$dir" && apt-get "${APT_OPTS[@]}" -q download "${pkgs[@]}") >>"$LOG" 2>&1 || return 1
	for deb in "$dir"/*.deb; do
		dpkg -x "$deb" "$root" >>"$LOG" 2>&1 || return 1
	done
}

# Point the interpreter (and a shared libpython, if it links one) at the
# unpacked loader and libraries. DT_RPATH rather than DT_RUNPATH: the
# executable's RPATH also serves the libraries that extension modules pull in
# (libffi for _ctypes), so nothing resolves to the host's older copies.
patch_interpreter() {
	local root=$1 minor=$2 bin loader libdirs lib needed
	bin=$root/usr/bin/python$minor
	loader=
	for lib in "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
		"$root/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
		"$root/usr/lib64/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"; do
		if [ -f "$lib" ] && [ ! -L "$lib" ]; then
			loader=$lib
			break
		fi
	done
	[ -n "$loader" ] || {
		echo "no ld-linux-x86-64.so.2 in $root" >>"$LOG"
		return 1
	}
	libdirs=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
	[ -f "$bin.orig" ] || cp -p "$bin" "$bin.orig" || return 1
	cp -p "$bin.orig" "$bin.new" &&
		patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$libdirs" "$bin.new" >>"$LOG" 2>&1 &&
		mv -f "$bin.new" "$bin" || return 1
	needed=$(patchelf --print-needed "$bin") || return 1
	for lib in $needed; do
		case $lib in
		libpython*)
			lib=$root/usr/lib/x86_64-linux-gnu/$lib
			lib=$(readlink -f "$lib") && [ -f "$lib" ] || return 1
			patchelf --force-rpath --set-rpath "$libdirs" "$lib" >>"$LOG" 2>&1 || return 1
			;;
		esac
	done
}

# The interpreter must start with no environment and find its own stdlib.
smoke_test() {
	local root=$1 minor=$2 out
	out=$(cd / && env -i "$root/usr/bin/python$minor" -c '
import sys, threading, ctypes, asyncio
print(sys.prefix)
print(sys.version.split()[0])' 2>>"$LOG") || return 1
	echo "$out" >>"$LOG"
	[ "$(echo "$out" | head -n 1)" = "$root/usr" ] || {
		echo "sys.prefix is not $root/usr" >>"$LOG"
		return 1
	}
}

ensure_patchelf() {
	command -v patchelf >/dev/null 2>&1 && return 0
	{ apt-get -q install -y patchelf || { apt-get -q update && apt-get -q install -y patchelf; }; } >>"$LOG" 2>&1
	command -v patchelf >/dev/null 2>&1
}

# Everything below runs under the cache lock; the stamps are written last, so a
# present stamp always means a complete, tested tree.
build_base() {
	local minor=$1 dir=$TOP/$1
	rm -rf "$dir/root" "$dir/debs" "$dir/debs-dev" "$dir/debs-dev2" "$dir/debs-dbg" "$dir/dbg" \
		"$dir/ok" "$dir/dev-ok" "$dir/dbg-ok" "$dir/version"
	fetch_and_unpack "$dir/debs" "$dir/root" \
		"python$minor-minimal" "libpython$minor-minimal" "libpython$minor-stdlib" \
		libc6 libgcc-s1 zlib1g libexpat1 "libffi8|libffi9" "libmpdec4|libmpdec3" \
		libzstd1 liblzma5 libbz2-1.0 "libssl3t64|libssl3" libuuid1 ||
		die "cannot download or unpack python$minor from Debian unstable (see $LOG)"
	[ -f "$dir/root/usr/bin/python$minor" ] || die "python$minor-minimal has no usr/bin/python$minor (see $LOG)"
	patch_interpreter "$dir/root" "$minor" || die "cannot patch $dir/root/usr/bin/python$minor (see $LOG)"
	smoke_test "$dir/root" "$minor" || die "python$minor from Debian unstable does not run here (see $LOG)"
	candidate_version "python$minor-minimal" >"$dir/version"
	(cd "$dir/debs" && ls) >"$dir/ok"
}

build_dev() {
	local minor=$1 dir=$TOP/$1 inc
	inc=$dir/root/usr/include/python$minor
	rm -f "$dir/dev-ok"
	# Headers must match the interpreter: if unstable has moved on since the
	# interpreter was fetched, fetch both again.
	if [ "$(candidate_version "libpython$minor-dev")" != "$(cat "$dir/version" 2>/dev/null)" ]; then
		build_base "$minor"
	fi
	fetch_and_unpack "$dir/debs-dev" "$dir/root" "libpython$minor-dev" "libpython$minor" ||
		die "cannot download or unpack libpython$minor-dev from Debian unstable (see $LOG)"
	# Older Debian releases kept some headers in python3.X-dev.
	if [ ! -f "$inc/internal/pycore_runtime.h" ]; then
		fetch_and_unpack "$dir/debs-dev2" "$dir/root" "python$minor-dev" ||
			die "cannot download or unpack python$minor-dev from Debian unstable (see $LOG)"
	fi
	[ -f "$inc/Python.h" ] && [ -f "$inc/internal/pycore_runtime.h" ] ||
		die "no headers with internal/ in $inc (see $LOG)"
	# Again, in case the interpreter links the libpython3.X just unpacked.
	patch_interpreter "$dir/root" "$minor" || die "cannot patch $dir/root/usr/bin/python$minor (see $LOG)"
	touch "$dir/dev-ok"
}

# The DWARF of the interpreter as Debian built it: python3.X-dbg ships it
# (besides a debug build, which is not kept) as usr/lib/debug/.build-id files.
build_dbg() {
	local minor=$1 dir=$TOP/$1
	rm -f "$dir/dbg-ok"
	if [ "$(candidate_version "python$minor-dbg")" != "$(cat "$dir/version" 2>/dev/null)" ]; then
		build_base "$minor"
		[ "$dev" = 0 ] || build_dev "$minor"
	fi
	rm -rf "$dir/dbg"
	fetch_and_unpack "$dir/debs-dbg" "$dir/dbg" "python$minor-dbg" ||
		die "cannot download or unpack python$minor-dbg from Debian unstable (see $LOG)"
	[ -d "$dir/dbg/usr/lib/debug/.build-id" ] || die "python$minor-dbg has no usr/lib/debug/.build-id (see $LOG)"
	rm -rf "$dir/root/usr/lib/debug" && mkdir -p "$dir/root/usr/lib" &&
		mv "$dir/dbg/usr/lib/debug" "$dir/root/usr/lib/debug" || die "cannot move the debug files into $dir/root"
	rm -rf "$dir/dbg" "$dir/debs-dbg"
	touch "$dir/dbg-ok"
}

cmd_path() {
	local dev=0 dbg=0 minor='' arg dir
	for arg in "$@"; do
		case $arg in
		--dev) dev=1 ;;
		--dbg) dbg=1 ;;
		3.*) [ -z "$minor" ] || usage; minor=$arg ;;
		*) usage ;;
		esac
	done
	[ -n "$minor" ] || usage
	case " $VERSIONS " in *" $minor "*) ;; *) die "unsupported version $minor (supported: $VERSIONS)" ;; esac
	dir=$TOP/$minor

	ready() {
		[ -f "$dir/ok" ] && { [ "$dev" = 0 ] || [ -f "$dir/dev-ok" ]; } &&
			{ [ "$dbg" = 0 ] || [ -f "$dir/dbg-ok" ]; }
	}
	if ! ready; then
		mkdir -p "$dir" || die "cannot create $dir"
		exec 9>"$TOP/lock" || die "cannot open $TOP/lock"
		flock 9 || die "cannot lock $TOP/lock"
		if ! ready; then
			LOG=$dir/fetch.log
			: >"$LOG"
			command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
				die "apt-get and dpkg are needed to fetch Debian's python$minor"
			ensure_patchelf || die "patchelf is missing and cannot be installed (see $LOG)"
			apt_opts
			apt_update || die "cannot update the private package lists for Debian unstable (see $LOG)"
			[ -f "$dir/ok" ] || build_base "$minor"
			[ "$dev" = 0 ] || build_dev "$minor"
			[ "$dbg" = 0 ] || build_dbg "$minor"
		fi
		exec 9>&-
	fi
	echo "$dir/root/usr/bin/python$minor"
}

case ${1-} in
path) shift; cmd_path "$@" ;;
list) [ $# = 1 ] || usage; echo "$VERSIONS" ;;
*) usage ;;
esac
