/* The gzip decoder of compressed cores (zlib's inflate with a gzip
 * wrapper), driven by core_decompress.c. Reading the file and keeping the
 * result are not its job. */
#include <stdlib.h>
#include <zlib.h>

#include "pycoreprof/base.h"
#include "targets/core_decompress.h"

#define GZIP_ONLY_WINDOW (15 + 16)   /* zlib's windowBits for a gzip wrapper */
#define ZLIB_CALL_MAX (1u << 30)     /* zlib counts in uInt */

static int gzip_start(void **decoder, const char *path)
{
	z_stream *stream = calloc(1, sizeof(*stream));
	if (!stream)
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	if (inflateInit2(stream, GZIP_ONLY_WINDOW) != Z_OK) {
		free(stream);
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	}
	*decoder = stream;
	return 0;
}

static int gzip_step(void *decoder, struct decompress_io *io)
{
	z_stream *stream = decoder;
	uInt in_len = io->avail_in < ZLIB_CALL_MAX ? (uInt)io->avail_in : ZLIB_CALL_MAX;
	uInt out_len = io->avail_out < ZLIB_CALL_MAX ? (uInt)io->avail_out : ZLIB_CALL_MAX;

	stream->next_in = (Bytef *)io->next_in;
	stream->avail_in = in_len;
	stream->next_out = io->next_out;
	stream->avail_out = out_len;
	int status = inflate(stream, Z_NO_FLUSH);
	io->next_in += in_len - stream->avail_in;
	io->avail_in -= in_len - stream->avail_in;
	io->next_out += out_len - stream->avail_out;
	io->avail_out -= out_len - stream->avail_out;
	/* Bytes after the first gzip member are not read. */
	if (status == Z_STREAM_END)
		return 1;
	if (status == Z_OK || status == Z_BUF_ERROR)
		return 0;
	if (status == Z_MEM_ERROR)
		return err_set(ERR_NOMEM, "cannot decompress core %s: out of memory", io->path);
	return err_set(ERR_DECOMPRESS, "cannot decompress core %s: %s", io->path,
	               stream->msg ? stream->msg : "invalid gzip data");
}

static void gzip_end(void *decoder)
{
	z_stream *stream = decoder;
	if (!stream)
		return;
	inflateEnd(stream);
	free(stream);
}

const struct decompressor core_gzip_decompressor = {
	.start = gzip_start,
	.step = gzip_step,
	.end = gzip_end,
};
