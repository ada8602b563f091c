/* Protocol buffers wire format, the few pieces pprof's profile.proto needs:
 * base-128 varints, field keys, length-delimited and packed fields. */
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
