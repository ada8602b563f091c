/* Protocol buffers wire format, the few pieces pprof's profile.proto needs:
 * base-128 varints, field keys, length-delimited and packed fields, written
 * and read. */
#include "formats/protobuf.h"

void pb_varint(struct strbuf *sb, uint64_t value)
{
	unsigned char bytes[10];
	size_t n = 0;
	while (value >= 0x80) {
		bytes[n++] = (unsigned char)(value | 0x80);
		value >>= 7;
	}
	bytes[n++] = (unsigned char)value;
	strbuf_add(sb, bytes, n);
}

void pb_uint(struct strbuf *sb, unsigned number, uint64_t value)
{
	if (!value)
		return;
	pb_varint(sb, (uint64_t)number << 3);
	pb_varint(sb, value);
}

void pb_bytes(struct strbuf *sb, unsigned number, const void *data, size_t len)
{
	pb_varint(sb, (uint64_t)number << 3 | 2);
	pb_varint(sb, len);
	strbuf_add(sb, data, len);
}

void pb_packed(struct strbuf *sb, unsigned number, const uint64_t *values, size_t n, struct strbuf *scratch)
{
	if (!n)
		return;
	strbuf_reset(scratch);
	for (size_t i = 0; i < n; i++)
		pb_varint(scratch, values[i]);
	pb_bytes(sb, number, scratch->buf, scratch->len);
}

/* A varint at *P (before END) into *VALUE; false when it runs past END or
 * over ten bytes. */
static bool read_varint(const unsigned char **p, const unsigned char *end, uint64_t *value)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70 && *p < end; shift += 7) {
		unsigned char byte = *(*p)++;
		v |= (uint64_t)(byte & 0x7F) << shift;
		if (!(byte & 0x80)) {
			*value = v;
			return true;
		}
	}
	return false;
}

int pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t key;
	if (r->p >= r->end)
		return 0;
	if (!read_varint(&r->p, r->end, &key) || key >> 3 == 0 || key >> 3 > 0x1FFFFFFF)
		return -1;
	f->number = (unsigned)(key >> 3);
	f->wire = (enum pb_wire)(key & 7);
	f->value = 0;
	f->data = NULL;
	f->len = 0;
	switch (f->wire) {
	case PB_VARINT:
		return read_varint(&r->p, r->end, &f->value) ? 1 : -1;
	case PB_FIXED64:
	case PB_FIXED32: {
		size_t size = f->wire == PB_FIXED64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < size)
			return -1;
		for (size_t i = 0; i < size; i++)
			f->value |= (uint64_t)r->p[i] << (8 * i);
		r->p += size;
		return 1;
	}
	case PB_BYTES: {
		uint64_t len;
		if (!read_varint(&r->p, r->end, &len) || len > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)len;
		r->p += len;
		return 1;
	}
	default:
		return -1;
	}
}

int pb_uints(const struct pb_field *f, uint64_t **values, size_t *n, size_t *cap)
{
	if (f->wire == PB_VARINT) {
		if (ARRAY_GROW(*values, *cap, *n + 1) < 0)
			return -ERR_NOMEM;
		(*values)[(*n)++] = f->value;
		return 0;
	}
	if (f->wire != PB_BYTES)
		return 1;
	const unsigned char *p = f->data, *end = f->data + f->len;
	while (p < end) {
		uint64_t v;
		if (!read_varint(&p, end, &v))
			return 1;
		if (ARRAY_GROW(*values, *cap, *n + 1) < 0)
			return -ERR_NOMEM;
		(*values)[(*n)++] = v;
	}
	return 0;
}
