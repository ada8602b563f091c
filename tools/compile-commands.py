#!/usr/bin/env python3
# Writes compile_commands.json for clangd and clang-tidy: one entry per C
# source, with the compiler command the GNUmakefile uses. Usage (from make):
# compile-commands.py 'CC FLAGS' SOURCES... > compile_commands.json
import json
import os
import shlex
import sys

command, sources = sys.argv[1], sys.argv[2:]
root = os.getcwd()
entries = [{"directory": root, "file": os.path.join(root, source),
            "arguments": shlex.split(command) + ["-c", source]} for source in sources]
json.dump(entries, sys.stdout, indent=1)
sys.stdout.write("\n")
