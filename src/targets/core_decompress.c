/* Compressed cores: the table of formats known by their first bytes, and
 * the loop that feeds a file to its format's decoder chunk by chunk and
 * writes what comes out into an anonymous memory file, leaving zero pages as
 * holes. Only the decompressed copy is ever held; parsing it is core.c's
 * job, decoding each format the job of core_<format>.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/core_decompress.h"
#include "targets/core_internal.h"

#define INPUT_CHUNK (256u * 1024)
#define OUTPUT_CHUNK (1024u * 1024)
#define HOLE_GRAIN 4096u            /* the memory file's page size */
#define MAGIC_MAX 6

static const struct compressed_format {
	const char *name;
	uint8_t magic[MAGIC_MAX];
	size_t magic_len;
	const struct decompressor *decompressor;
} formats[] = {
	{ "gzip", { 0x1f, 0x8b }, 2, &core_gzip_decompressor },
	{ "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4, &core_zstd_decompressor },
	{ "xz", { 0xfd, '7', 'z', 'X', 'Z', 0x00 }, 6, &core_xz_decompressor },
	{ "lz4", { 0x04, 0x22, 0x4d, 0x18 }, 4, &core_lz4_decompressor },
};

static bool all_zero(const uint8_t *bytes, size_t len)
{
	return !len || (!bytes[0] && memcmp(bytes, bytes + 1, len - 1) == 0);
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

/* Append LEN bytes to FD, whose size is OFFSET: runs of zero pages are
 * skipped with lseek, which leaves holes that take no memory. */
static int emit(int fd, uint64_t offset, const uint8_t *bytes, size_t len, const char *path)
{
	while (len) {
		size_t grain = HOLE_GRAIN - (size_t)(offset % HOLE_GRAIN);
		size_t run = len < grain ? len : grain;
		bool zero = all_zero(bytes, run);
		while (run < len) {
			size_t next = len - run < HOLE_GRAIN ? len - run : HOLE_GRAIN;
			if (all_zero(bytes + run, next) != zero)
				break;
			run += next;
		}
		if (zero) {
			if (lseek(fd, (off_t)run, SEEK_CUR) < 0)
				return err_set_errno(ERR_IO, errno, "cannot decompress core %s", path);
		} else {
			int ret = write_all(fd, bytes, run);
			if (ret)
				return err_set_errno(ret == -ENOSPC || ret == -ENOMEM ? ERR_NOMEM : ERR_IO, -ret,
				                     "cannot decompress core %s into memory", path);
		}
		bytes += run;
		offset += run;
		len -= run;
	}
	return 0;
}

static int decompress_into_memfd(int in_fd, const char *path,
                                 const struct compressed_format *format, int *out_fd)
{
	const struct decompressor *decompressor = format->decompressor;
	uint8_t *input = NULL, *output = NULL;
	void *decoder = NULL;
	struct decompress_io io = { .path = path };
	uint64_t read_offset = 0, total = 0;
	int fd = -1;
	int ret = 0;

	input = malloc(INPUT_CHUNK);
	output = malloc(OUTPUT_CHUNK);
	if (!input || !output) {
		ret = err_set(ERR_NOMEM, "cannot allocate buffers to decompress core %s", path);
		goto out;
	}
	fd = memfd_create("pycoreprof-core", MFD_CLOEXEC);
	if (fd < 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot create a memory file to decompress core %s", path);
		goto out;
	}
	ret = decompressor->start(&decoder, path);
	if (ret)
		goto out;
	for (;;) {
		if (!io.avail_in && !io.input_ended) {
			ssize_t got = pread(in_fd, input, INPUT_CHUNK, (off_t)read_offset);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				ret = err_set_errno(ERR_IO, errno, "cannot read core %s", path);
				goto out;
			}
			read_offset += (uint64_t)got;
			io.next_in = input;
			io.avail_in = (size_t)got;
			io.input_ended = got == 0;
		}
		size_t avail_before = io.avail_in;
		io.next_out = output;
		io.avail_out = OUTPUT_CHUNK;
		int status = decompressor->step(decoder, &io);
		if (status < 0) {
			ret = status;
			goto out;
		}
		size_t produced = OUTPUT_CHUNK - io.avail_out;
		if (produced) {
			ret = emit(fd, total, output, produced, path);
			if (ret)
				goto out;
			total += produced;
		}
		if (status == 1)
			break;
		/* With input (or the end of the file) and a whole empty buffer, a
		 * decoder that does nothing never will. */
		if (!produced && io.avail_in == avail_before) {
			if (io.input_ended)
				ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: the %s data ends early after %llu bytes of output",
				              path, format->name, (unsigned long long)total);
			else
				ret = err_set(ERR_DECOMPRESS, "cannot decompress core %s: the %s decoder stopped after %llu bytes of output",
				              path, format->name, (unsigned long long)total);
			goto out;
		}
	}
	/* Trailing holes need the size set explicitly. */
	if (ftruncate(fd, (off_t)total) != 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot size the decompressed core %s", path);
		goto out;
	}
	*out_fd = fd;
	fd = -1;
out:
	decompressor->end(decoder);
	if (fd >= 0)
		close(fd);
	free(input);
	free(output);
	return ret;
}

int core_decompress(int fd, const char *path, int *out_fd)
{
	uint8_t magic[MAGIC_MAX] = {0};
	ssize_t got;

	*out_fd = -1;
	do
		got = pread(fd, magic, sizeof(magic), 0);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return err_set_errno(ERR_IO, errno, "cannot read core %s", path);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		const struct compressed_format *format = &formats[i];
		if ((size_t)got >= format->magic_len && memcmp(magic, format->magic, format->magic_len) == 0)
			return decompress_into_memfd(fd, path, format, out_fd);
	}
	return 0;
}
