/* Where a function without a symbol starts and ends, from the call frame
 * information every x86-64 object carries: the sorted table of
 * .eh_frame_hdr (PT_GNU_EH_FRAME) names each FDE's first address, and the
 * FDE its length. Reads the file image libelf has; every read is bounded,
 * so a corrupt file gives no range, never a crash. Not an unwinder. */
#include <elf.h>
#include <gelf.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "unwind/native_internal.h"

/* Pointer encodings (DW_EH_PE_*): the format in the low bits, how the
 * value applies in the high ones. */
enum {
	PE_OMIT = 0xff,
	PE_ABSPTR = 0x00, PE_ULEB128 = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03, PE_UDATA8 = 0x04,
	PE_SLEB128 = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b, PE_SDATA8 = 0x0c,
	PE_PCREL = 0x10, PE_DATAREL = 0x30,
};

/* Bytes of the file image at link-time address VADDR: how many follow in
 * its PT_LOAD's file part (0 when none). */
static size_t bytes_at(Elf *elf, uint64_t vaddr, const uint8_t **out)
{
	size_t image_size, n;
	const uint8_t *image = (const uint8_t *)elf_rawfile(elf, &image_size);
	if (!image || elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || vaddr < ph.p_vaddr ||
		    vaddr - ph.p_vaddr >= ph.p_filesz)
			continue;
		uint64_t offset = ph.p_offset + (vaddr - ph.p_vaddr);
		if (offset >= image_size)
			return 0;
		uint64_t left = ph.p_filesz - (vaddr - ph.p_vaddr);
		*out = image + offset;
		return left < image_size - offset ? (size_t)left : image_size - offset;
	}
	return 0;
}

/* A cursor over bytes at a known link-time address. */
struct cursor {
	const uint8_t *at, *end;
	uint64_t vaddr;          /* of AT */
	bool bad;
};

static uint64_t take(struct cursor *c, size_t size)
{
	if (c->bad || (size_t)(c->end - c->at) < size) {
		c->bad = true;
		return 0;
	}
	uint64_t value = 0;
	for (size_t i = 0; i < size; i++)
		value |= (uint64_t)c->at[i] << (8 * i);
	c->at += size;
	c->vaddr += size;
	return value;
}

static uint64_t take_leb(struct cursor *c, bool is_signed)
{
	uint64_t value = 0;
	unsigned shift = 0;
	uint8_t byte;
	do {
		byte = (uint8_t)take(c, 1);
		if (shift < 64)
			value |= (uint64_t)(byte & 0x7f) << shift;
		shift += 7;
	} while ((byte & 0x80) && !c->bad);
	if (is_signed && shift < 64 && (byte & 0x40))
		value |= ~(uint64_t)0 << shift;
	return value;
}

static uint64_t sign_extend(uint64_t value, unsigned bits)
{
	uint64_t sign = (uint64_t)1 << (bits - 1);
	return (value ^ sign) - sign;
}

/* A value encoded as ENCODING; pc-relative and data-relative ones made
 * absolute (DATA_BASE: the address datarel counts from). */
static uint64_t take_encoded(struct cursor *c, uint8_t encoding, uint64_t data_base)
{
	uint64_t here = c->vaddr, value;
	if (encoding & 0x80) {                /* indirect: not for code addresses */
		c->bad = true;
		return 0;
	}
	switch (encoding & 0x0f) {
	case PE_ABSPTR: value = take(c, 8); break;
	case PE_ULEB128: value = take_leb(c, false); break;
	case PE_UDATA2: value = take(c, 2); break;
	case PE_UDATA4: value = take(c, 4); break;
	case PE_UDATA8: value = take(c, 8); break;
	case PE_SLEB128: value = take_leb(c, true); break;
	case PE_SDATA2: value = sign_extend(take(c, 2), 16); break;
	case PE_SDATA4: value = sign_extend(take(c, 4), 32); break;
	case PE_SDATA8: value = take(c, 8); break;
	default: c->bad = true; return 0;
	}
	switch (encoding & 0x70) {
	case 0: break;
	case PE_PCREL: value += here; break;
	case PE_DATAREL: value += data_base; break;
	default: c->bad = true; break;
	}
	return value;
}

/* The pointer encoding of the FDE's addresses, from its CIE at VADDR
 * (the 'R' of a "z" augmentation; absolute 8-byte values without one). */
static int cie_encoding(Elf *elf, uint64_t vaddr, uint8_t *encoding)
{
	const uint8_t *bytes;
	size_t size = bytes_at(elf, vaddr, &bytes);
	struct cursor c = {.at = bytes, .end = bytes + size, .vaddr = vaddr, .bad = size == 0};
	uint32_t length = (uint32_t)take(&c, 4);
	if (c.bad || length == 0 || length == 0xffffffff || length > (size_t)(c.end - c.at))
		return -1;
	c.end = c.at + length;
	take(&c, 4);                         /* the CIE id */
	uint8_t version = (uint8_t)take(&c, 1);
	const char *augmentation = (const char *)c.at;
	size_t aug_len = strnlen(augmentation, (size_t)(c.end - c.at));
	if (c.bad || aug_len == (size_t)(c.end - c.at))
		return -1;
	take(&c, aug_len + 1);
	take_leb(&c, false);                 /* code alignment */
	take_leb(&c, true);                  /* data alignment */
	if (version == 1)
		take(&c, 1);                 /* return address register */
	else
		take_leb(&c, false);
	*encoding = PE_ABSPTR;
	if (augmentation[0] != 'z')
		return c.bad ? -1 : 0;
	take_leb(&c, false);                 /* augmentation data length */
	for (size_t i = 1; i < aug_len && !c.bad; i++) {
		switch (augmentation[i]) {
		case 'R': *encoding = (uint8_t)take(&c, 1); return c.bad ? -1 : 0;
		case 'L': take(&c, 1); break;
		case 'P': {
			uint8_t personality = (uint8_t)take(&c, 1);
			take_encoded(&c, personality & 0x7f, 0);
			break;
		}
		case 'S': case 'B': break;
		default: return -1;
		}
	}
	return c.bad ? -1 : 0;
}

/* Read the header of the module's .eh_frame_hdr once. Only the table GNU
 * ld, gold and lld write (4-byte entries relative to the header) is used. */
static void read_header(struct native_fde_index *index, Elf *elf)
{
	index->read = true;
	size_t n;
	if (!elf || elf_getphdrnum(elf, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		const uint8_t *bytes;
		size_t size = bytes_at(elf, ph.p_vaddr, &bytes);
		struct cursor c = {.at = bytes, .end = bytes + size, .vaddr = ph.p_vaddr, .bad = size < 4};
		uint8_t version = (uint8_t)take(&c, 1), frame_enc = (uint8_t)take(&c, 1);
		uint8_t count_enc = (uint8_t)take(&c, 1), table_enc = (uint8_t)take(&c, 1);
		if (c.bad || version != 1 || table_enc != (PE_DATAREL | PE_SDATA4) || frame_enc == PE_OMIT ||
		    count_enc == PE_OMIT)
			return;
		take_encoded(&c, frame_enc, ph.p_vaddr);
		uint64_t count = take_encoded(&c, count_enc, ph.p_vaddr);
		if (c.bad || count > (size_t)(c.end - c.at) / 8)
			return;
		index->elf = elf;
		index->hdr_vaddr = ph.p_vaddr;
		index->table = c.at;
		index->count = (size_t)count;
		return;
	}
}

static uint64_t table_field(const struct native_fde_index *index, size_t entry, size_t field)
{
	const uint8_t *at = index->table + entry * 8 + field * 4;
	uint32_t raw = (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
	return index->hdr_vaddr + sign_extend(raw, 32);
}

int native_fde_range(struct native_fde_index *index, Elf *elf, uint64_t vaddr, uint64_t *start, uint64_t *end)
{
	if (!index->read)
		read_header(index, elf);
	if (!index->count)
		return -1;
	/* The last entry starting at or below VADDR. */
	size_t low = 0, high = index->count;
	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (table_field(index, mid, 0) <= vaddr)
			low = mid + 1;
		else
			high = mid;
	}
	if (low == 0)
		return -1;
	uint64_t first = table_field(index, low - 1, 0), fde = table_field(index, low - 1, 1);
	/* The FDE: length, CIE pointer (back from itself), first address and
	 * length in the CIE's encoding (the length without its relative part). */
	const uint8_t *bytes;
	size_t size = bytes_at(index->elf, fde, &bytes);
	struct cursor c = {.at = bytes, .end = bytes + size, .vaddr = fde, .bad = size == 0};
	uint32_t length = (uint32_t)take(&c, 4);
	uint64_t cie_field = c.vaddr;
	uint32_t cie_back = (uint32_t)take(&c, 4);
	uint8_t encoding;
	if (c.bad || length == 0xffffffff || cie_back == 0 || cie_back > cie_field ||
	    cie_encoding(index->elf, cie_field - cie_back, &encoding) < 0)
		return -1;
	uint64_t begin = take_encoded(&c, encoding, index->hdr_vaddr);
	uint64_t range = take_encoded(&c, encoding & 0x0f, 0);
	if (c.bad || begin != first || vaddr - begin >= range)
		return -1;
	*start = begin;
	*end = begin + range;
	return 0;
}
