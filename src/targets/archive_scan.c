/* Walking a snapshot archive's records (archive_format.h): each header
 * read, its length checked against the file, its payload read and its
 * CRC checked; the first record that fails ends the walk, as a writer
 * killed mid-append leaves it. Also the page hash both sides use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "targets/archive_format.h"

struct archive_hash archive_hash_page(const uint8_t page[ARCHIVE_PAGE_BYTES])
{
	struct archive_hash h = {hash_bytes(0x9E3779B97F4A7C15ull, page, ARCHIVE_PAGE_BYTES),
	                         hash_bytes(0xC2B2AE3D27D4EB4Full, page, ARCHIVE_PAGE_BYTES)};
	return h;
}

bool archive_has_magic(const void *data, size_t len)
{
	return len >= 8 && !memcmp(data, ARCHIVE_MAGIC, 8);
}

int archive_read_at(int fd, void *buf, size_t len, uint64_t offset)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;   /* short: the end of the file */
		done += (size_t)n;
	}
	return 0;
}

/* The offset of the next record magic after AT, or SIZE when none. */
static uint64_t next_magic(int fd, uint64_t at, uint64_t size)
{
	static const uint8_t magic[4] = {0x50, 0x50, 0x43, 0x52};   /* ARCHIVE_RECORD_MAGIC, little-endian */
	uint8_t chunk[65536];
	for (uint64_t from = at + 1; from + sizeof(magic) <= size;) {
		size_t want = size - from < sizeof(chunk) ? (size_t)(size - from) : sizeof(chunk);
		ssize_t got = pread(fd, chunk, want, (off_t)from);
		if (got < (ssize_t)sizeof(magic))
			return size;
		const uint8_t *hit = memmem(chunk, (size_t)got, magic, sizeof(magic));
		if (hit)
			return from + (uint64_t)(hit - chunk);
		from += (uint64_t)got - (sizeof(magic) - 1);
	}
	return size;
}

int archive_scan(int fd, const char *path, archive_record_fn fn, void *ctx, struct archive_scan_result *result)
{
	struct stat st;
	uint8_t head[ARCHIVE_HEADER_BYTES];
	memset(result, 0, sizeof(*result));
	if (fstat(fd, &st) < 0)
		return err_set_errno(ERR_IO, errno, "cannot read %s", path);
	int got = archive_read_at(fd, head, sizeof(head), 0);
	if (got < 0)
		return err_set_errno(ERR_IO, -got, "cannot read %s", path);
	uint32_t version;
	memcpy(&version, head + 8, sizeof(version));
	if (got > 0 || !archive_has_magic(head, sizeof(head)))
		return err_set(ERR_NOT_CORE, "%s is not a snapshot archive", path);
	if (version != ARCHIVE_VERSION)
		return err_set(ERR_NOT_CORE, "%s is a snapshot archive of version %u; this pycoreprof reads version %u",
		               path, version, ARCHIVE_VERSION);
	uint64_t offset = ARCHIVE_HEADER_BYTES, size = (uint64_t)st.st_size;
	uint8_t *payload = NULL;
	size_t cap = 0;
	int ret = 0;
	result->good_end = offset;
	while (offset + sizeof(struct archive_record_header) <= size) {
		struct archive_record_header h;
		bool good = archive_read_at(fd, &h, sizeof(h), offset) == 0 && h.magic == ARCHIVE_RECORD_MAGIC &&
		            h.payload_len <= ARCHIVE_RECORD_MAX && h.payload_len <= size - offset - sizeof(h);
		if (good && ARRAY_GROW(payload, cap, h.payload_len ? h.payload_len : 1) < 0) {
			ret = -ERR_NOMEM;
			break;
		}
		good = good && archive_read_at(fd, payload, h.payload_len, offset + sizeof(h)) == 0 &&
		       (uint32_t)crc32(0, payload, (uInt)h.payload_len) == h.crc;
		if (!good) {
			/* Damaged (or torn, at the end): go on from the next record
			 * that checks out; what lies between is lost. */
			uint64_t next = next_magic(fd, offset, size);
			result->skipped += next - offset;
			offset = next;
			continue;
		}
		if (fn && (ret = fn(ctx, offset, &h, payload)) < 0)
			break;
		offset += sizeof(h) + h.payload_len;
		result->good_end = offset;
	}
	/* Bytes after the last good record are a torn tail, not damage. */
	uint64_t tail = size - result->good_end;
	result->skipped = result->skipped > tail ? result->skipped - tail : 0;
	result->torn = tail;
	free(payload);
	return ret;
}
