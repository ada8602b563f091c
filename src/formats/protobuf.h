/* A minimal protocol buffers encoder for the pprof writer: varints, length-
 * delimited fields and packed repeated integers, appended to a strbuf.
 * Encoding only; zero scalars are left out as proto3 allows. */
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

#endif
