# Prints, for every code object of a few standard-library modules, its line
# table and the line CPython's own PyCode_Addr2Line gives at every instruction
# offset: the ground truth for tests/tools/linetable_check. Runs on 2.7-3.15;
# "positions" adds the column ranges of 3.11+.
from __future__ import print_function

import binascii
import ctypes
import sys
import types

api = ctypes.pythonapi
api.PyCode_Addr2Line.argtypes = [ctypes.py_object, ctypes.c_int]
api.PyCode_Addr2Line.restype = ctypes.c_int

v = sys.version_info
if v < (3,):
    FORMAT, STEP = "lnotab_u", 1
elif v < (3, 10):
    FORMAT, STEP = "lnotab_s", 2
elif v < (3, 11):
    FORMAT, STEP = "l310", 2
else:
    FORMAT, STEP = "loc", 2
# With "positions" (3.11+): also a "pos" line per code object, with the
# (line, end line, column, end column) co_positions() gives for each unit.
POSITIONS = sys.argv[1:] == ["positions"]
MODULES = ["threading", "json.decoder", "argparse", "collections", "inspect", "tokenize", "difflib"]


def line_table(code):
    if v >= (3, 10):
        return code.co_linetable
    return code.co_lnotab


def walk(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            for inner in walk(const):
                yield inner


def main():
    for name in MODULES:
        module = __import__(name, fromlist=["_"])
        path = module.__file__
        if path.endswith((".pyc", ".pyo")):
            path = path[:-1]
        with open(path, "rb") as source:
            top = compile(source.read(), path, "exec", 0, True)
        for code in walk(top):
            table = line_table(code)
            hex_table = binascii.hexlify(table).decode("ascii") if table else "-"
            pairs = []
            for offset in [-STEP] + list(range(0, len(code.co_code), STEP)):
                pairs.append("%d:%d" % (offset, api.PyCode_Addr2Line(code, offset)))
            print(FORMAT, code.co_firstlineno, hex_table, " ".join(pairs))
            if POSITIONS:
                places = []
                for index, place in enumerate(code.co_positions()):
                    values = [-1 if value is None else value for value in place]
                    places.append("%d:%s" % (2 * index, ",".join(str(value) for value in values)))
                print("pos", code.co_firstlineno, hex_table, " ".join(places))


main()
