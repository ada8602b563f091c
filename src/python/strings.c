/* Decoding of Python string objects read from a target: PEP 393 str (3.x,
 * compact ASCII, compact Latin-1/UCS-2/UCS-4 and legacy strings), 2.7 byte
 * strings, and bytes objects. Output is always valid UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "python/internal.h"

int py_scratch(struct pywalker *w, size_t size, uint8_t **out)
{
	if (ARRAY_GROW(w->scratch, w->scratch_cap, size) < 0)
		return -ERR_NOMEM;
	*out = w->scratch;
	return 0;
}

/* Length of the valid UTF-8 sequence at DATA, or 0 if it is not one. */
static size_t utf8_sequence_length(const uint8_t *data, size_t avail)
{
	uint8_t lead = data[0];
	size_t n = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 0;
	if (n == 0 || n > avail)
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((data[k] & 0xC0) != 0x80)
			return 0;
	return n;
}

/* Append bytes that should be UTF-8; bytes that are not valid UTF-8 are
 * taken as Latin-1, so the output is always valid. */
static void add_bytes_as_utf8(struct strbuf *sb, const uint8_t *data, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t n = utf8_sequence_length(data + i, len - i);
		if (n) {
			strbuf_add(sb, data + i, n);
			i += n;
		} else {
			strbuf_add_utf8(sb, data[i]);
			i++;
		}
	}
}

int py_read_bytes(struct pywalker *w, uint64_t addr, uint8_t **data, size_t *size)
{
	const struct py_layout *L = &w->layout;
	int64_t len;
	int ret = target_read(w->target, addr + (uint64_t)L->bytes_size, &len, sizeof(len));
	if (ret < 0)
		return ret;
	if (len < 0 || len > PY_MAX_LINETABLE)
		return err_set(ERR_CORRUPT, "bytes object at 0x%llx has an implausible size %lld",
		               (unsigned long long)addr, (long long)len);
	uint8_t *copy = xcalloc((size_t)len + 1, 1);
	if (!copy)
		return -ERR_NOMEM;
	if (len) {
		ret = target_read(w->target, addr + (uint64_t)L->bytes_data, copy, (size_t)len);
		if (ret < 0) {
			free(copy);
			return ret;
		}
	}
	*data = copy;
	*size = (size_t)len;
	return 0;
}

static int read_py2_string(struct pywalker *w, uint64_t addr, size_t max_chars, struct strbuf *sb)
{
	uint8_t *data;
	size_t size;
	int ret = py_read_bytes(w, addr, &data, &size);
	if (ret < 0)
		return ret;
	if (size > max_chars)
		size = max_chars;
	add_bytes_as_utf8(sb, data, size);
	free(data);
	return 0;
}

int py_read_string(struct pywalker *w, uint64_t addr, struct strbuf *sb)
{
	return py_read_string_max(w, addr, PY_MAX_STRING_CHARS, sb);
}

int py_read_string_max(struct pywalker *w, uint64_t addr, size_t max_chars, struct strbuf *sb)
{
	const struct py_layout *L = &w->layout;
	if (!addr)
		return err_set(ERR_CORRUPT, "NULL string pointer");
	if (max_chars > PY_MAX_STRING_CHARS)
		max_chars = PY_MAX_STRING_CHARS;
	if (w->py2_strings)
		return read_py2_string(w, addr, max_chars, sb);

	uint8_t header[128];
	size_t header_size = (size_t)L->unicode_compact_size + 8;
	if (header_size > sizeof(header))
		header_size = sizeof(header);
	int ret = target_read(w->target, addr, header, header_size);
	if (ret < 0)
		return ret;
	int64_t length = (int64_t)load_u64(header, L->unicode_length);
	uint32_t state = (uint32_t)load_i32(header, L->unicode_state);
	unsigned kind = (state >> 2) & 7;
	bool compact = (state >> 5) & 1;
	bool ascii = (state >> 6) & 1;
	if (length < 0 || (kind != 1 && kind != 2 && kind != 4))
		return err_set(ERR_CORRUPT, "str object at 0x%llx is not a valid string",
		               (unsigned long long)addr);
	if ((uint64_t)length > max_chars)
		length = (int64_t)max_chars;

	uint64_t data_addr;
	if (compact)
		data_addr = addr + (uint64_t)(ascii ? L->unicode_ascii_size : L->unicode_compact_size);
	else
		data_addr = load_u64(header, L->unicode_data);
	size_t nbytes = (size_t)length * kind;
	uint8_t *data;
	if ((ret = py_scratch(w, nbytes + 1, &data)) < 0)
		return ret;
	if (nbytes && (ret = target_read(w->target, data_addr, data, nbytes)) < 0)
		return ret;
	for (int64_t i = 0; i < length; i++) {
		uint32_t cp;
		if (kind == 1) {
			cp = data[i];
		} else if (kind == 2) {
			uint16_t unit;
			memcpy(&unit, data + 2 * i, 2);
			cp = unit;
		} else {
			memcpy(&cp, data + 4 * i, 4);
		}
		strbuf_add_utf8(sb, cp);
	}
	return strbuf_ok(sb) ? 0 : -ERR_NOMEM;
}
