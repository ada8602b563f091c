/* Compressing a snapshot into the gzip format (zlib's deflate with a gzip
 * header), which the core reader inflates transparently. In memory only. */
#include <zlib.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

/* Heap pages compress poorly at any level: level 1 is about 10 % larger
 * than zlib's default (6) and takes a third of the time. */
#define SNAP_GZIP_LEVEL 1

int snapshot_gzip(const void *data, size_t len, struct strbuf *out)
{
	z_stream zs = {0};
	int ret = 0;
	if (deflateInit2(&zs, SNAP_GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return err_set(ERR_NOMEM, "cannot start compressing a snapshot");
	size_t bound = deflateBound(&zs, len);
	if (!strbuf_grow(out, bound)) {
		ret = err_set(ERR_NOMEM, "cannot allocate %zu bytes to compress a snapshot", bound);
		goto out;
	}
	zs.next_in = (Bytef *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)out->buf + out->len;
	zs.avail_out = (uInt)(out->cap - out->len - 1);
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		ret = err_set(ERR_IO, "cannot compress a snapshot of %zu bytes", len);
		goto out;
	}
	out->len += zs.total_out;
	out->buf[out->len] = '\0';
out:
	deflateEnd(&zs);
	return ret;
}
