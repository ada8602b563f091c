/* A minimal protocol buffers codec for pprof's profile.proto: the writer's
 * varints, length-delimited fields and packed repeated integers, appended
 * to a strbuf (zero scalars are left out as proto3 allows); the reader's
 * walk over a message's fields, every length checked against the input. */
#ifndef PYCOREPROF_OUT_PROTOBUF_H
#define PYCOREPROF_OUT_PROTOBUF_H

#include "pycoreprof/base.h"

void pb_varint(struct strbuf *sb, uint64_t value);
/* Field NUMBER as a varint (wire type 0); nothing when VALUE is 0. */
void pb_uint(struct strbuf *sb, unsigned number, uint64_t value);
/* Field NUMBER as LEN bytes (wire type 2): strings and nested messages. */
void pb_bytes(struct strbuf *sb, unsigned number, const void *data, size_t len);
/* A repeated integer field, packed; nothing when N is 0. SCRATCH is reused
 * to measure the payload. */
void pb_packed(struct strbuf *sb, unsigned number, const uint64_t *values, size_t n, struct strbuf *scratch);


/* A message being read: the bytes left. */
struct pb_reader {
	const unsigned char *p, *end;
};

enum pb_wire { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };

/* One field read: its number and wire type; VALUE for the scalar types,
 * DATA and LEN (inside the input) for PB_BYTES. */
struct pb_field {
	unsigned number;
	enum pb_wire wire;
	uint64_t value;
	const unsigned char *data;
	size_t len;
};

/* The next field of R into *F: 1, or 0 at the end of the message, or -1
 * when the bytes are not protocol buffers (a bad varint, a length past the
 * end, a group or an unknown wire type). */
int pb_next(struct pb_reader *r, struct pb_field *f);
/* The integers of a repeated field, packed (PB_BYTES) or one at a time
 * (PB_VARINT), appended to *VALUES (*N of them, capacity *CAP). 0, 1 when
 * malformed, or -ERR_NOMEM. */
int pb_uints(const struct pb_field *f, uint64_t **values, size_t *n, size_t *cap);

#endif
