/* The xz decoder of compressed cores (liblzma's .xz stream decoder, every
 * stream of the file in turn, as `xz -d` reads them), driven by
 * core_decompress.c. Reading the file and keeping the result are not its job. */
#include <lzma.h>
#include <stdlib.h>

#include "pycoreprof/base.h"
#include "targets/core_decompress.h"

/* xz's presets need at most 65 MiB to decode; a header asking for more is
 * refused rather than allocated. */
#define XZ_MEMORY_LIMIT (256ull << 20)

static int xz_start(void **decoder, const char *path)
{
	lzma_stream *stream = calloc(1, sizeof(*stream));
	if (!stream)
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	*stream = (lzma_stream)LZMA_STREAM_INIT;
	if (lzma_stream_decoder(stream, XZ_MEMORY_LIMIT, LZMA_CONCATENATED) != LZMA_OK) {
		free(stream);
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	}
	*decoder = stream;
	return 0;
}

static const char *xz_error_text(lzma_ret status)
{
	switch (status) {
	case LZMA_FORMAT_ERROR: return "not in the .xz format";
	case LZMA_OPTIONS_ERROR: return "unsupported compression options";
	case LZMA_DATA_ERROR: return "the compressed data is corrupt";
	case LZMA_MEMLIMIT_ERROR: return "decoding would need more than 256 MiB of memory";
	default: return "invalid xz data";
	}
}

static int xz_step(void *decoder, struct decompress_io *io)
{
	lzma_stream *stream = decoder;
	stream->next_in = io->next_in;
	stream->avail_in = io->avail_in;
	stream->next_out = io->next_out;
	stream->avail_out = io->avail_out;
	/* LZMA_FINISH tells a concatenated decoder that no stream follows. */
	lzma_ret status = lzma_code(stream, io->input_ended ? LZMA_FINISH : LZMA_RUN);
	io->next_in = stream->next_in;
	io->avail_in = stream->avail_in;
	io->next_out = stream->next_out;
	io->avail_out = stream->avail_out;
	switch (status) {
	case LZMA_STREAM_END:
		return 1;
	case LZMA_OK:
	case LZMA_BUF_ERROR:    /* no progress: the caller says why */
		return 0;
	case LZMA_MEM_ERROR:
		return err_set(ERR_NOMEM, "cannot decompress core %s: out of memory", io->path);
	default: {
		int ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: xz: %s", io->path,
		                  xz_error_text(status));
		if (status == LZMA_MEMLIMIT_ERROR)
			err_hint("decompress it first with `xz -d`");
		return ret;
	}
	}
}

static void xz_end(void *decoder)
{
	lzma_stream *stream = decoder;
	if (!stream)
		return;
	lzma_end(stream);
	free(stream);
}

const struct decompressor core_xz_decompressor = {
	.start = xz_start,
	.step = xz_step,
	.end = xz_end,
};
