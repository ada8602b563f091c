# C++ names: every mangled function name the C++ runtime exports
# (libstdc++'s dynamic symbols: templates, std:: abbreviations, operators,
# constructors, thunks) demangles to exactly what c++filt prints.
import os
import subprocess

import lib
from lib import check, Failure


def runtime_library():
    for directory in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"):
        path = os.path.join(directory, "libstdc++.so.6")
        if os.path.exists(path):
            return path
    raise lib.Missing("libstdc++.so.6 not found (Debian package libstdc++6)")


def test_names_match_cxxfilt():
    cxxfilt = lib.tool("c++filt", "binutils")
    nm = lib.tool("eu-nm", "elfutils")
    tool = os.path.join(lib._build_dir("PYCOREPROF_TEST_BUILD", "build"), "tests", "tools", "demangle_names")
    check(os.access(tool, os.X_OK), "%s not built: run make unit", tool)
    listing = lib.run([nm, "-D", "--defined-only", "-f", "bsd", runtime_library()])
    check(listing.code == 0, "eu-nm failed: %s", listing.describe())
    names = sorted(set(line.split()[-1].split("@")[0] for line in listing.text().splitlines()
                       if line.split() and line.split()[-1].startswith("_Z")))
    check(len(names) > 1000, "only %d mangled names in libstdc++", len(names))
    text = "\n".join(names) + "\n"
    ours = subprocess.run([tool], input=text.encode(), stdout=subprocess.PIPE, timeout=120).stdout
    theirs = subprocess.run([cxxfilt], input=text.encode(), stdout=subprocess.PIPE, timeout=120).stdout
    ours, theirs = ours.decode().splitlines(), theirs.decode().splitlines()
    check(len(ours) == len(names) == len(theirs), "%d names in, %d and %d out", len(names), len(ours),
          len(theirs))
    refused = [name for name, mine in zip(names, ours) if mine == name]
    wrong = ["%s\n  ours:     %s\n  c++filt:  %s" % (name, mine, other)
             for name, mine, other in zip(names, ours, theirs) if mine != name and mine != other]
    if wrong:
        raise Failure("%d of %d names demangle differently from c++filt:\n%s"
                      % (len(wrong), len(names), "\n".join(wrong[:10])))
    check(len(refused) <= len(names) // 100, "%d of %d names not demangled, e.g. %s", len(refused),
          len(names), refused[:5])
