/* The snapshot archive's bytes (docs/archive-format.md), shared by its
 * writer and reader: the file header, the record header, the record kinds
 * and the scan that walks records and stops at the first that does not
 * check out (a torn tail). Private to targets/. */
#ifndef PYCOREPROF_TARGETS_ARCHIVE_FORMAT_H
#define PYCOREPROF_TARGETS_ARCHIVE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/archive.h"

#define ARCHIVE_MAGIC "PCPARCH\n"
#define ARCHIVE_VERSION 1u
#define ARCHIVE_HEADER_BYTES 16u
#define ARCHIVE_RECORD_MAGIC 0x52435050u   /* "PPCR" */
#define ARCHIVE_PAGE_BYTES 4096u
/* A record longer than this is taken for garbage. */
#define ARCHIVE_RECORD_MAX ((uint64_t)1 << 31)

enum archive_record_kind { ARCHIVE_PAGES = 1, ARCHIVE_SNAPSHOT = 2 };

struct archive_record_header {
	uint32_t magic;
	uint32_t kind;
	uint64_t payload_len;
	uint32_t crc;                /* zlib crc32 of the payload */
	uint32_t reserved;
};
_Static_assert(sizeof(struct archive_record_header) == 24, "record header is 24 bytes");

/* A page's content hash: two 64-bit hashes of its bytes. */
struct archive_hash {
	uint64_t lo, hi;
};

/* PAGES payload: u32 count, u32 compressed length, COUNT hashes, then the
 * COUNT pages zstd-compressed as one frame. */
struct archive_pages_head {
	uint32_t count, zlen;
};

/* SNAPSHOT payload: this, then the body zstd-compressed: NLOADS (offset,
 * size) pairs, NREFS page hashes, then the skeleton (every byte of the core
 * outside its PT_LOAD data, in order). A snapshot whose BASE is not 0 was
 * compressed with the body of the key snapshot whose record is at BASE as
 * its prefix (what the two share costs nearly nothing); a key snapshot
 * (BASE 0) stands alone, so no extraction needs more than one other body. */
struct archive_snapshot_head {
	uint64_t capture_ns;
	uint64_t core_len;
	uint32_t nloads, nrefs;
	uint32_t skeleton_len, body_zlen;
	uint64_t base;
};
/* A key snapshot at least every this many appends of one writer. */
#define ARCHIVE_KEY_EVERY 256u
struct archive_load {
	uint64_t offset, size;
};

struct archive_hash archive_hash_page(const uint8_t page[ARCHIVE_PAGE_BYTES]);
/* LEN bytes of FD at OFFSET: 0, 1 when the file ends first, or -errno. */
int archive_read_at(int fd, void *buf, size_t len, uint64_t offset);

/* Called for each record that checks out, with its offset in the file and
 * its payload (valid during the call). A negative return stops the scan and
 * is returned. */
typedef int (*archive_record_fn)(void *ctx, uint64_t offset, const struct archive_record_header *h,
                                 const uint8_t *payload);
struct archive_scan_result {
	uint64_t good_end;           /* where the last record that checks out ends */
	uint64_t torn;               /* bytes after it: a torn tail */
	uint64_t skipped;            /* damaged bytes before it, skipped */
};
/* Walk FD's records from the header on, past damaged ones (to the next
 * record that checks out). Errors: -ERR_NOT_CORE naming PATH when the file
 * is no archive, -ERR_IO, or FN's. */
int archive_scan(int fd, const char *path, archive_record_fn fn, void *ctx, struct archive_scan_result *result);

#endif
