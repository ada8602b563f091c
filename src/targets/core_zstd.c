/* The zstd decoder of compressed cores (libzstd's streaming decoder, every
 * frame of the file in turn, as `zstd -d` reads them), driven by
 * core_decompress.c. Reading the file and keeping the result are not its job. */
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "pycoreprof/base.h"
#include "targets/core_decompress.h"

struct zstd_decoder {
	ZSTD_DStream *stream;
	bool between_frames;        /* the last frame ended and was all given out */
};

static int zstd_start(void **decoder, const char *path)
{
	struct zstd_decoder *zstd = calloc(1, sizeof(*zstd));
	if (!zstd || !(zstd->stream = ZSTD_createDStream())) {
		free(zstd);
		return err_set(ERR_NOMEM, "cannot start decompressing core %s", path);
	}
	*decoder = zstd;
	return 0;
}

static int zstd_step(void *decoder, struct decompress_io *io)
{
	struct zstd_decoder *zstd = decoder;
	if (!io->avail_in && io->input_ended && zstd->between_frames)
		return 1;
	ZSTD_inBuffer in = { io->next_in, io->avail_in, 0 };
	ZSTD_outBuffer out = { io->next_out, io->avail_out, 0 };
	size_t next = ZSTD_decompressStream(zstd->stream, &out, &in);
	io->next_in += in.pos;
	io->avail_in -= in.pos;
	io->next_out += out.pos;
	io->avail_out -= out.pos;
	if (ZSTD_isError(next)) {
		int ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: zstd: %s", io->path,
		                  ZSTD_getErrorName(next));
		if (ZSTD_getErrorCode(next) == ZSTD_error_frameParameter_windowTooLarge)
			err_hint("the frame needs a window over 128 MiB, as `zstd --long=31` writes; decompress it first with `zstd -d --long=31`");
		return ret;
	}
	/* 0 once a frame is whole and flushed; another may follow. */
	if (next == 0)
		zstd->between_frames = true;
	else if (in.pos)
		zstd->between_frames = false;
	return 0;
}

static void zstd_end(void *decoder)
{
	struct zstd_decoder *zstd = decoder;
	if (!zstd)
		return;
	ZSTD_freeDStream(zstd->stream);
	free(zstd);
}

const struct decompressor core_zstd_decompressor = {
	.start = zstd_start,
	.step = zstd_step,
	.end = zstd_end,
};
