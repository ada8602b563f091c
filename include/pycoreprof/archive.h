/* Snapshot archives (targets layer, src/targets/archive_*.c, format in
 * docs/archive-format.md): many snapshots of one process in one
 * append-only file, each page stored once however many snapshots hold
 * it. A writer killed mid-append leaves a torn tail that readers skip and
 * the next writer cuts off. Every snapshot comes back out as the very
 * bytes of the ELF core it was. */
#ifndef PYCOREPROF_ARCHIVE_H
#define PYCOREPROF_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/base.h"

struct archive_writer;
/* Open PATH for appending, creating it when missing; an existing one is
 * scanned (its pages become known) and a torn tail cut off. Errors:
 * -ERR_NOT_CORE (a file that is no archive), -ERR_IO, -ERR_PERM, -ERR_NOMEM. */
int archive_writer_open(const char *path, struct archive_writer **out);
/* What an append stored. */
struct archive_append {
	size_t pages, new_pages;     /* pages the core holds, and those not stored before */
	size_t bytes;                /* written to the file */
};
/* Append the ELF core CORE (LEN bytes, uncompressed) taken at CAPTURE_NS.
 * On a failed write (a full disk) the file is cut back to where it was.
 * Errors: -ERR_NOT_ELF, -ERR_IO, -ERR_NOMEM. */
int archive_writer_append(struct archive_writer *w, const void *core, size_t len, uint64_t capture_ns,
                          struct archive_append *what);
/* Size of the file now. */
uint64_t archive_writer_size(const struct archive_writer *w);
void archive_writer_close(struct archive_writer *w);

struct archive_entry {
	uint64_t capture_ns;
	uint64_t core_len;           /* the core's bytes when extracted */
	uint64_t offset;             /* of its record in the file */
	uint64_t stored;             /* bytes of its record and of the pages it added */
};
struct archive;
/* Open PATH for reading: every snapshot that checks out, in file order.
 * Errors: -ERR_NOT_CORE (not an archive), -ERR_IO, -ERR_PERM, -ERR_NOMEM. */
int archive_open(const char *path, struct archive **out);
size_t archive_count(const struct archive *a);
const struct archive_entry *archive_entry(const struct archive *a, size_t index);
/* Bytes after the last record that checks out (a torn tail), 0 when none. */
uint64_t archive_torn_bytes(const struct archive *a);
/* Damaged bytes before it, skipped to the next record that checks out (the
 * snapshots and pages there are lost; a snapshot whose pages were lost
 * fails to extract). */
uint64_t archive_damaged_bytes(const struct archive *a);
/* Append snapshot INDEX's core to CORE. Errors: -ERR_CORRUPT, -ERR_IO,
 * -ERR_NOMEM. */
int archive_extract(struct archive *a, size_t index, struct strbuf *core);
void archive_close(struct archive *a);
/* Threads of an extracted core (its NT_PRSTATUS notes), LEN bytes at CORE. */
size_t archive_core_threads(const void *core, size_t len);
/* Whether the LEN bytes at DATA begin an archive. */
bool archive_has_magic(const void *data, size_t len);

#endif
