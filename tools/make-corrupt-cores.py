#!/usr/bin/env python3
# Writes the crafted corrupt cores kept in fixtures/corrupt/: each is a
# small ELF64 x86_64 core with one field made hostile, or a compressed core
# whose compressed data is cut or damaged (the zstd and lz4 tools make
# those). `pycoreprof core` must reject each with one line and exit 2. Run
# from the repository root.
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


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as out:
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


main()
