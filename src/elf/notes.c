/* Walking raw ELF note buffers (PT_NOTE contents, note sections) and picking
 * out the GNU build-id. Every length is checked against the buffer before it
 * is used; nothing here knows which file the notes came from. */
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/elf.h"

#define NOTE_HEADER_SIZE 12u     /* namesz, descsz, type: three 32-bit words */
#define GNU_BUILD_ID_TYPE 3u     /* NT_GNU_BUILD_ID */

static uint64_t align_up(uint64_t value, uint64_t align)
{
	return (value + align - 1) & ~(align - 1);
}

static bool all_zero(const uint8_t *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (bytes[i])
			return false;
	return true;
}

int elfnote_each_aligned(const void *notes, size_t size, size_t align,
                         elfnote_fn fn, void *ctx)
{
	const uint8_t *base = notes;
	uint64_t pos = 0;

	if (align != 4 && align != 8)
		return err_set(ERR_CORRUPT, "note alignment %zu is not 4 or 8", align);
	while (pos < size) {
		uint64_t left = size - pos;
		if (left < NOTE_HEADER_SIZE) {
			/* Producers may pad the segment; only non-zero tails are damage. */
			if (all_zero(base + pos, (size_t)left))
				break;
			return err_set(ERR_CORRUPT, "note at offset %llu is cut short: %llu bytes left",
			               (unsigned long long)pos, (unsigned long long)left);
		}
		uint32_t words[3];
		memcpy(words, base + pos, sizeof(words));
		uint32_t name_size = words[0], desc_size = words[1], type = words[2];

		/* 64-bit arithmetic: 32-bit sizes cannot overflow it. */
		uint64_t name_pos = pos + NOTE_HEADER_SIZE;
		if (name_size > size - name_pos)
			return err_set(ERR_CORRUPT, "note at offset %llu has a %u-byte name past the end",
			               (unsigned long long)pos, name_size);
		uint64_t desc_pos = align_up(name_pos + name_size, align);
		if (desc_pos > size || desc_size > size - desc_pos)
			return err_set(ERR_CORRUPT, "note at offset %llu has a %u-byte descriptor past the end",
			               (unsigned long long)pos, desc_size);
		const char *name = "";
		if (name_size) {
			name = (const char *)base + name_pos;
			if (name[name_size - 1] != '\0')
				return err_set(ERR_CORRUPT, "note at offset %llu has an unterminated name",
				               (unsigned long long)pos);
		}
		int ret = fn(ctx, type, name, base + desc_pos, desc_size);
		if (ret)
			return ret;
		pos = align_up(desc_pos + desc_size, align);
	}
	return 0;
}

int elfnote_each(const void *notes, size_t size, elfnote_fn fn, void *ctx)
{
	return elfnote_each_aligned(notes, size, 4, fn, ctx);
}

struct build_id_search {
	const uint8_t *id;
	size_t len;
};

static int match_build_id(void *ctx, uint32_t type, const char *name,
                          const void *desc, size_t desc_size)
{
	struct build_id_search *search = ctx;
	if (type != GNU_BUILD_ID_TYPE || strcmp(name, "GNU") != 0 || desc_size == 0)
		return 0;
	search->id = desc;
	search->len = desc_size;
	return 1;
}

int elfnote_build_id(const void *notes, size_t size, size_t align,
                     const uint8_t **id, size_t *len)
{
	struct build_id_search search = {0};
	int ret = elfnote_each_aligned(notes, size, align, match_build_id, &search);
	*id = NULL;
	*len = 0;
	if (ret < 0)
		return ret;
	if (!search.id)
		return -ERR_NO_SYMBOL;
	*id = search.id;
	*len = search.len;
	return 0;
}

void build_id_to_hex(const uint8_t *id, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 0xf];
	}
	out[2 * len] = '\0';
}
