#!/usr/bin/env python3
# Writes the crafted corrupt cores kept in fixtures/corrupt/: each is a
# small ELF64 x86_64 core with one field made hostile. `pycoreprof core` must
# reject each with one line and exit 2. Run from the repository root.
import os
import struct

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


main()
