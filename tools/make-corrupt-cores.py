#!/usr/bin/env python3
# Writes the crafted corrupt cores kept in fixtures/corrupt/: each is a
# small ELF64 x86_64 core with one field made hostile, or a compressed core
# whose compressed data is cut or damaged (the zstd and lz4 tools make
# those). `pycoreprof core` must reject each with one line and exit 2. It
# also writes the small well-formed cores in fixtures/fuzz/core/ that
# tests/tools/fuzz_readers.c mutates. Run from the repository root.
import binascii
import gzip
import lzma
import os
import struct
import subprocess

OUT = os.path.join("fixtures", "corrupt")
EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
PHDR = struct.Struct("<IIQQQQQQ")
PT_LOAD, PT_NOTE, ET_CORE, EM_X86_64 = 1, 4, 4, 62


def elf_header(phnum, phoff=64):
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return EHDR.pack(ident, ET_CORE, EM_X86_64, 1, 0, phoff, 0, 0, 64, PHDR.size, phnum, 0, 0, 0)


def note(name, ntype, desc, namesz=None, descsz=None):
    name_bytes = name + b"\0"
    pad = lambda data: data + bytes((-len(data)) % 4)
    return (struct.pack("<III", len(name_bytes) if namesz is None else namesz,
                        len(desc) if descsz is None else descsz, ntype)
            + pad(name_bytes) + pad(desc))


def write(name, data, directory=OUT):
    with open(os.path.join(directory, name), "wb") as out:
        out.write(data)


def core_with_notes(notes):
    offset = 64 + PHDR.size
    return elf_header(1) + PHDR.pack(PT_NOTE, 0, offset, 0, 0, len(notes), 0, 4) + notes


def flipped(data, index):
    """DATA with every bit of the byte at INDEX inverted."""
    data = bytearray(data)
    data[index] ^= 0xFF
    return bytes(data)


def with_command(argv, data):
    return subprocess.run(argv, input=data, stdout=subprocess.PIPE, check=True).stdout


def check(condition, what):
    if not condition:
        raise SystemExit("make-corrupt-cores: unexpected xz layout: expected " + what)


def xz_with_dictionary_byte(data, dictionary_byte):
    """DATA in .xz whose first block header asks for the LZMA2 dictionary
    size DICTIONARY_BYTE encodes (40: 4 GiB), its CRC32 made to match."""
    packed = bytearray(lzma.compress(data, format=lzma.FORMAT_XZ))
    start = 12                                  # after the stream header
    size = (packed[start] + 1) * 4
    header = packed[start:start + size]
    flags = header[1]
    check(flags & 0x03 == 0 and not flags & 0xC0, "one filter, no sizes in the block header")
    check(header[2:4] == b"\x21\x01", "an LZMA2 filter with one property byte")
    header[4] = dictionary_byte
    header[-4:] = struct.pack("<I", binascii.crc32(bytes(header[:-4])))
    packed[start:start + size] = header
    return bytes(packed)


def zstd_frame_with_window_log(data, window_log):
    """DATA as one raw block of a zstd frame that asks for a 2**WINDOW_LOG window."""
    descriptor = 0x00                           # no size, no checksum, no dictionary
    window = (window_log - 10) << 3
    block = struct.pack("<I", (len(data) << 3) | 1)[:3]   # last block, raw
    return b"\x28\xb5\x2f\xfd" + bytes([descriptor, window]) + block + data


def compressed(main_core):
    """The compressed fixtures, each from MAIN_CORE."""
    gz = gzip.compress(main_core, mtime=0)
    zst = with_command(["zstd", "-q", "-c"], main_core)
    xz = lzma.compress(main_core, format=lzma.FORMAT_XZ)
    lz4 = with_command(["lz4", "-q", "-c"], main_core)
    # Each format cut in the middle of its data.
    write("gzip-cut.gz", gz[:len(gz) // 2])
    write("zstd-cut.zst", zst[:len(zst) // 2])
    write("xz-cut.xz", xz[:len(xz) // 2])
    write("lz4-cut.lz4", lz4[:len(lz4) // 2])
    # Whole, but the checksum of the decompressed data does not match it.
    write("gzip-crc-wrong.gz", flipped(gz, len(gz) - 8))
    write("zstd-checksum-wrong.zst", flipped(zst, len(zst) - 1))
    write("lz4-checksum-wrong.lz4", flipped(lz4, len(lz4) - 1))
    # A byte of the compressed data changed (xz checks it with CRC64).
    write("xz-data-corrupt.xz", flipped(xz, 12 + (xz[12] + 1) * 4 + 8))
    # Headers asking for more memory than a decoder gives one core: a 2 GiB
    # zstd window, a 4 GiB xz dictionary.
    write("zstd-window-too-large.zst", zstd_frame_with_window_log(main_core, 31))
    write("xz-dict-over-limit.xz", xz_with_dictionary_byte(main_core, 40))


def main():
    os.makedirs(OUT, exist_ok=True)
    # A note whose name size runs far past its segment.
    write("note-namesz-overflow.core", core_with_notes(note(b"CORE", 1, bytes(8), namesz=0xFFFFFFF0)))
    # A note whose descriptor size wraps a 32-bit sum.
    write("note-descsz-wraps.core", core_with_notes(note(b"CORE", 1, bytes(8), descsz=0xFFFFFFFC)))
    # An NT_FILE note claiming a million mappings in 16 bytes.
    write("ntfile-count-lies.core", core_with_notes(note(b"CORE", 0x46494c45, struct.pack("<QQ", 1000000, 4096))))
    # An NT_PRSTATUS far too short for its registers.
    write("prstatus-short.core", core_with_notes(note(b"CORE", 1, bytes(12))))
    # Program headers said to lie past the end of the file.
    write("phdrs-past-eof.core", elf_header(3, phoff=1 << 20))
    # A PT_LOAD whose address range wraps around the address space.
    load = PHDR.pack(PT_LOAD, 4, 64 + PHDR.size, 0xFFFFFFFFFFFFF000, 0, 16, 0x10000, 4096)
    write("load-wraps.core", elf_header(1) + load + bytes(16))
    # A well-formed core of one thread (registers all zero) to compress.
    compressed(core_with_notes(note(b"CORE", 1, bytes(336))))


def fuzz_seeds():
    """Well-formed cores with every note the reader parses, a segment, a
    snapshot note and a compressed one: what the fuzzer starts from."""
    seeds = os.path.join("fixtures", "fuzz", "core")
    os.makedirs(seeds, exist_ok=True)
    prstatus = bytearray(336)
    struct.pack_into("<hxx", prstatus, 12, 11)          # pr_cursig
    struct.pack_into("<i", prstatus, 32, 4242)          # pr_pid
    prpsinfo = bytearray(136)
    struct.pack_into("<i", prpsinfo, 24, 4242)
    prpsinfo[40:47] = b"python3"
    prpsinfo[56:70] = b"python3 app.py"
    siginfo = struct.pack("<iiiiQ", 11, 0, 1, 0, 0x1000) + bytes(104)
    auxv = struct.pack("<QQQQQQ", 3, 0x400040, 9, 0x401000, 0, 0)
    files = [(0x400000, 0x401000, 0, b"/nonexistent/bin/python3"),
             (0x7f0000000000, 0x7f0000001000, 0, b"/nonexistent/lib/libpython3.12.so.1.0")]
    ntfile = struct.pack("<QQ", len(files), 4096)
    ntfile += b"".join(struct.pack("<QQQ", start, end, offset) for start, end, offset, _ in files)
    ntfile += b"".join(path + b"\0" for *_, path in files)
    notes = (note(b"CORE", 1, bytes(prstatus)) + note(b"CORE", 3, bytes(prpsinfo))
             + note(b"CORE", 0x53494749, siginfo) + note(b"CORE", 6, auxv)
             + note(b"CORE", 0x46494c45, ntfile))
    ids = struct.pack("<I", 1) + struct.pack("<II", 4, len(files[1][3]) + 1) + b"\x01\x02\x03\x04" \
        + files[1][3] + b"\0"
    ids += bytes((-len(ids)) % 4)
    command = b"python3 app.py --flag\0"
    snap = bytearray(72)
    struct.pack_into("<IIQ", snap, 0, 1, 0x030c00f0, 1700000000000000000)
    struct.pack_into("<QQ", snap, 24, 0x7f0000000100, 0x7f0000000200)
    snap = bytes(snap) + ids + struct.pack("<I", len(command)) + command

    def core(notes_data, segment):
        phoff = 64
        notes_at = phoff + 2 * PHDR.size
        load_at = notes_at + len(notes_data)
        return (elf_header(2, phoff) + PHDR.pack(PT_NOTE, 0, notes_at, 0, 0, len(notes_data), 0, 4)
                + PHDR.pack(PT_LOAD, 5, load_at, 0x7f0000000000, 0, len(segment), 0x1000, 4096)
                + notes_data + segment)
    segment = bytes(range(256))
    plain = core(notes, segment)
    write("seed-core", plain, seeds)
    write("seed-snapshot", core(notes + note(b"PYCOREPROF", 0x50435046, snap), segment), seeds)
    write("seed-core.gz", gzip.compress(plain, mtime=0), seeds)


main()
fuzz_seeds()
