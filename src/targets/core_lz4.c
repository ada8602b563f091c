/* The lz4 decoder of compressed cores (liblz4's frame format, every frame
 * of the file in turn, as `lz4 -d` reads them; not the legacy format),
 * driven by core_decompress.c. Reading the file and keeping the result are
 * not its job. */
#include <lz4frame.h>
#include <stdlib.h>

#include "pycoreprof/base.h"
#include "targets/core_decompress.h"

struct lz4_decoder {
	LZ4F_dctx *context;
	bool between_frames;        /* the last frame ended and was all given out */
};

static int lz4_start(void **decoder, const char *path)
{
	struct lz4_decoder *lz4 = calloc(1, sizeof(*lz4));
	if (!lz4 || LZ4F_isError(LZ4F_createDecompressionContext(&lz4->context, LZ4F_VERSION))) {
		free(lz4);
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	}
	*decoder = lz4;
	return 0;
}

static int lz4_step(void *decoder, struct decompress_io *io)
{
	struct lz4_decoder *lz4 = decoder;
	if (!io->avail_in && io->input_ended && lz4->between_frames)
		return 1;
	size_t in_len = io->avail_in, out_len = io->avail_out;
	size_t next = LZ4F_decompress(lz4->context, io->next_out, &out_len,
	                              io->next_in, &in_len, NULL);
	io->next_in += in_len;
	io->avail_in -= in_len;
	io->next_out += out_len;
	io->avail_out -= out_len;
	if (LZ4F_isError(next))
		return err_set(ERR_DECOMPRESS, "cannot decompress core %s: lz4: %s", io->path,
		               LZ4F_getErrorName(next));
	/* 0 once a frame is whole and flushed; another may follow. */
	if (next == 0)
		lz4->between_frames = true;
	else if (in_len)
		lz4->between_frames = false;
	return 0;
}

static void lz4_end(void *decoder)
{
	struct lz4_decoder *lz4 = decoder;
	if (!lz4)
		return;
	LZ4F_freeDecompressionContext(lz4->context);
	free(lz4);
}

const struct decompressor core_lz4_decompressor = {
	.start = lz4_start,
	.step = lz4_step,
	.end = lz4_end,
};
