/* Inflating a gzip-compressed core into an anonymous memory file, streamed
 * chunk by chunk so that only the inflated copy is ever held; runs of zero
 * bytes become holes. Parsing the result is core.c's job. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "pycoreprof/base.h"
#include "targets/core_internal.h"

#define INPUT_CHUNK (256u * 1024)
#define OUTPUT_CHUNK (1024u * 1024)
#define GZIP_ONLY_WINDOW (15 + 16)   /* zlib's windowBits for a gzip wrapper */

static bool all_zero(const uint8_t *bytes, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (bytes[i])
			return false;
	return true;
}

static int write_all(int fd, const uint8_t *bytes, size_t len)
{
	while (len) {
		ssize_t wrote = write(fd, bytes, len);
		if (wrote < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		bytes += wrote;
		len -= (size_t)wrote;
	}
	return 0;
}

/* Zero chunks are skipped with lseek, which leaves a hole in the memfd. */
static int emit(int fd, const uint8_t *bytes, size_t len, const char *path)
{
	if (all_zero(bytes, len)) {
		if (lseek(fd, (off_t)len, SEEK_CUR) < 0)
			return err_set_errno(ERR_IO, errno, "cannot inflate core %s", path);
		return 0;
	}
	int ret = write_all(fd, bytes, len);
	if (ret)
		return err_set_errno(ret == -ENOSPC || ret == -ENOMEM ? ERR_NOMEM : ERR_IO, -ret,
		                     "cannot inflate core %s into memory", path);
	return 0;
}

int core_gunzip(int in_fd, const char *path, int *out_fd)
{
	uint8_t *input = NULL, *output = NULL;
	z_stream stream = {0};
	bool stream_ready = false, finished = false;
	uint64_t total = 0;
	int fd = -1;
	int ret = 0;

	*out_fd = -1;
	input = malloc(INPUT_CHUNK);
	output = malloc(OUTPUT_CHUNK);
	if (!input || !output) {
		ret = err_set(ERR_NOMEM, "cannot allocate buffers to inflate core %s", path);
		goto out;
	}
	fd = memfd_create("pycoreprof-core", MFD_CLOEXEC);
	if (fd < 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot create a memory file to inflate core %s", path);
		goto out;
	}
	if (inflateInit2(&stream, GZIP_ONLY_WINDOW) != Z_OK) {
		ret = err_set(ERR_NOMEM, "cannot start inflating core %s", path);
		goto out;
	}
	stream_ready = true;
	if (lseek(in_fd, 0, SEEK_SET) < 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot read core %s", path);
		goto out;
	}
	while (!finished) {
		ssize_t got = read(in_fd, input, INPUT_CHUNK);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			ret = err_set_errno(ERR_IO, errno, "cannot read core %s", path);
			goto out;
		}
		if (got == 0) {
			ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: the gzip data ends early after %llu bytes of output",
			              path, (unsigned long long)total);
			goto out;
		}
		stream.next_in = input;
		stream.avail_in = (uInt)got;
		do {
			stream.next_out = output;
			stream.avail_out = OUTPUT_CHUNK;
			int status = inflate(&stream, Z_NO_FLUSH);
			if (status == Z_STREAM_END) {
				/* Bytes after the first gzip member are ignored, as gzip does. */
				finished = true;
			} else if (status != Z_OK && status != Z_BUF_ERROR) {
				ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: %s", path,
				              stream.msg ? stream.msg : "invalid gzip data");
				goto out;
			}
			size_t produced = OUTPUT_CHUNK - stream.avail_out;
			if (produced) {
				ret = emit(fd, output, produced, path);
				if (ret)
					goto out;
				total += produced;
			}
		} while (!finished && stream.avail_out == 0);
	}
	/* Trailing holes need the size set explicitly. */
	if (ftruncate(fd, (off_t)total) != 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot size the inflated core %s", path);
		goto out;
	}
	*out_fd = fd;
	fd = -1;
out:
	if (stream_ready)
		inflateEnd(&stream);
	if (fd >= 0)
		close(fd);
	free(input);
	free(output);
	return ret;
}
