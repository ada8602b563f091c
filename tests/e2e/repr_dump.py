# Writes, for tests/tools/repr_check, what this interpreter's repr() says of
# many floats (random bit patterns, short decimals, the edges), ints of up to
# 3,000 bits with their 30-bit digits, every byte and a sample of characters
# (all below U+3000, then random ones; unassigned ones left out: pycoreprof
# prints them, CPython escapes them). Runs on 2.7 and 3.x.
from __future__ import print_function

import binascii
import random
import struct
import sys
import unicodedata

PY2 = sys.version_info[0] == 2
SHIFT = 30


def hexed(text):
    if not PY2 or isinstance(text, type(u"")):
        text = text.encode("utf-8")
    return binascii.hexlify(text).decode("ascii")


def floats(rng):
    values = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, 1e16, 1e15, 9999999999999998.0, 1e-4, 1e-5, 0.1, 0.5, 1.0, 123456789.0]
    for _ in range(20000):
        bits = rng.getrandbits(64)
        values.append(struct.unpack("<d", struct.pack("<Q", bits))[0])
    for _ in range(20000):
        values.append(round(rng.uniform(-1e6, 1e6), rng.randint(0, 12)) * 10 ** rng.randint(-30, 30))
    for value in values:
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
        print("float %016x %s" % (bits, hexed(repr(value))))


def ints(rng):
    for _ in range(3000):
        number = rng.getrandbits(rng.randint(1, 3000)) * rng.choice((1, -1))
        magnitude, digits = abs(number), []
        while magnitude:
            digits.append(magnitude & ((1 << SHIFT) - 1))
            magnitude >>= SHIFT
        text = "%d" % number
        print("int %d %d %s %s" % (number < 0, SHIFT, ",".join(str(d) for d in digits) or "0", hexed(text)))


def characters(rng):
    points = list(range(0x3000)) + [rng.randint(0x3000, sys.maxunicode) for _ in range(30000)]
    make = unichr if PY2 else chr  # noqa: F821 (2.7 only)
    for point in points:
        char = make(point)
        if unicodedata.category(char) == "Cn":
            continue
        text = repr(char)
        if PY2:
            print("uchar %d %s %s" % (point, text[1], hexed(text[2:-1])))
        else:
            print("char %d %s %s" % (point, text[0], hexed(text[1:-1])))
    for byte in range(256):
        text = repr(chr(byte)) if PY2 else repr(bytes([byte]))[1:]
        print("byte %d %s %s" % (byte, text[0], hexed(text[1:-1])))


def main():
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 18)
    floats(rng)
    ints(rng)
    characters(rng)


if __name__ == "__main__":
    main()
