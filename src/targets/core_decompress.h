/* The interface between core_decompress.c, which reads a compressed core and
 * writes the result, and the decoders of its formats (core_gzip.c,
 * core_zstd.c, core_xz.c, core_lz4.c). Not used outside the core backend. */
#ifndef PYCOREPROF_TARGET_CORE_DECOMPRESS_H
#define PYCOREPROF_TARGET_CORE_DECOMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One call's buffers, zlib style: a decoder consumes from next_in and
 * writes to next_out, moving each pointer and shrinking its count. */
struct decompress_io {
	const uint8_t *next_in;
	size_t avail_in;
	uint8_t *next_out;
	size_t avail_out;
	bool input_ended;           /* nothing follows next_in[avail_in] */
	const char *path;           /* the core, for messages */
};

/* A format's decoder. The caller makes sure each step has input or has
 * reached the end of the file, and gives it an empty output buffer; a step
 * that consumes nothing and produces nothing is taken as the data ending
 * early (at the end of the file) or as corrupt (before it), so a decoder
 * needs no check of its own for either. */
struct decompressor {
	/* A decoder for one file in *DECODER; 0 or -ERR_NOMEM with context. */
	int (*start)(void **decoder, const char *path);
	/* 0 to be called again, 1 when the data is complete (then the rest of
	 * the file is not read), or -ERR_DECOMPRESS (-ERR_NOMEM) with context. */
	int (*step)(void *decoder, struct decompress_io *io);
	/* Frees what start made; accepts NULL. */
	void (*end)(void *decoder);
};

extern const struct decompressor core_gzip_decompressor;
extern const struct decompressor core_zstd_decompressor;
extern const struct decompressor core_xz_decompressor;
extern const struct decompressor core_lz4_decompressor;

#endif
