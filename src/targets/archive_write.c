/* Appending snapshots to an archive (archive.h): the core's PT_LOAD data
 * cut into pages, each hashed and stored only when the archive has no page
 * with that hash yet (one PAGES record per append, zstd-compressed), then
 * a SNAPSHOT record: the page references and the rest of the core (its
 * skeleton: headers and notes). Each record goes out in one write, pages
 * before the snapshot that needs them, so a reader never meets a snapshot
 * whose pages are missing. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "targets/archive_format.h"

struct known_page {
	uint64_t key;                /* hash.lo, never 0 */
	uint64_t hi;
};

struct archive_writer {
	int fd;
	char *path;
	uint64_t end;                /* where the next record goes */
	struct hashtab pages;        /* of known_page: in the file */
	struct hashtab pending;      /* of known_page: new in this append */
	struct strbuf record, scratch, skeleton, body;
	struct strbuf key_body;      /* the last key snapshot's body */
	uint64_t key_offset;         /* its record; 0: none yet */
	unsigned since_key;          /* appends since it */
	ZSTD_CCtx *zstd;
	struct archive_hash *refs;
	size_t refs_cap;
	struct archive_load *loads;
	size_t loads_cap;
	uint8_t *new_pages;
	size_t new_cap;
	struct archive_hash *new_hashes; /* of NEW_PAGES, in order */
	size_t new_hashes_cap;
};

static uint64_t key_of(struct archive_hash h)
{
	return h.lo ? h.lo : 1;
}

static bool page_in(const struct hashtab *pages, struct archive_hash h)
{
	const struct known_page *slot = hashtab_find(pages, key_of(h));
	return slot && slot->hi == h.hi;
}

static int note_page(struct hashtab *pages, struct archive_hash h)
{
	int ret = hashtab_reserve(pages, pages->count + 1, sizeof(struct known_page));
	if (ret < 0)
		return ret;
	struct known_page *slot = hashtab_slot_for(pages, key_of(h));
	if (!slot->key) {
		hashtab_claim(pages, slot, key_of(h));
		slot->hi = h.hi;
	}
	return 0;
}

static int learn_pages(void *ctx, uint64_t offset, const struct archive_record_header *h, const uint8_t *payload)
{
	struct archive_writer *w = ctx;
	struct archive_pages_head head;
	if (h->kind != ARCHIVE_PAGES || h->payload_len < sizeof(head))
		return 0;
	memcpy(&head, payload, sizeof(head));
	if ((uint64_t)head.count * sizeof(struct archive_hash) > h->payload_len - sizeof(head))
		return 0;
	for (uint32_t i = 0; i < head.count; i++) {
		struct archive_hash hash;
		memcpy(&hash, payload + sizeof(head) + i * sizeof(hash), sizeof(hash));
		int ret = note_page(&w->pages, hash);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int archive_writer_open(const char *path, struct archive_writer **out)
{
	struct archive_writer *w = xcalloc(1, sizeof(*w));
	if (!w || !(w->path = xstrdup(path))) {
		free(w);
		return -ERR_NOMEM;
	}
	int ret = 0;
	w->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		ret = err_set_errno(errno == EACCES ? ERR_PERM : ERR_IO, errno, "cannot open %s", path);
		goto fail;
	}
	struct stat st;
	if (fstat(w->fd, &st) < 0) {
		ret = err_set_errno(ERR_IO, errno, "cannot read %s", path);
		goto fail;
	}
	if (st.st_size == 0) {
		uint8_t head[ARCHIVE_HEADER_BYTES] = {0};
		uint32_t version = ARCHIVE_VERSION;
		memcpy(head, ARCHIVE_MAGIC, 8);
		memcpy(head + 8, &version, sizeof(version));
		if (pwrite(w->fd, head, sizeof(head), 0) != (ssize_t)sizeof(head)) {
			ret = err_set_errno(ERR_IO, errno, "cannot write %s", path);
			goto fail;
		}
		w->end = sizeof(head);
	} else {
		struct archive_scan_result scanned;
		if ((ret = archive_scan(w->fd, path, learn_pages, w, &scanned)) < 0)
			goto fail;
		w->end = scanned.good_end;
		/* A torn tail (a writer killed mid-append, a full disk) goes. */
		if (w->end < (uint64_t)st.st_size && ftruncate(w->fd, (off_t)w->end) < 0) {
			ret = err_set_errno(ERR_IO, errno, "cannot cut the torn end off %s", path);
			goto fail;
		}
	}
	*out = w;
	return 0;
fail:
	archive_writer_close(w);
	return ret;
}

uint64_t archive_writer_size(const struct archive_writer *w)
{
	return w->end;
}

void archive_writer_close(struct archive_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	hashtab_release(&w->pages);
	hashtab_release(&w->pending);
	strbuf_release(&w->record);
	strbuf_release(&w->scratch);
	strbuf_release(&w->skeleton);
	strbuf_release(&w->body);
	strbuf_release(&w->key_body);
	ZSTD_freeCCtx(w->zstd);
	free(w->refs);
	free(w->loads);
	free(w->new_pages);
	free(w->new_hashes);
	free(w);
}

static int compare_loads(const void *a, const void *b)
{
	const struct archive_load *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The PT_LOAD data ranges of the core, sorted, into w->loads. */
static int find_loads(struct archive_writer *w, const uint8_t *core, size_t len, size_t *nloads)
{
	Elf64_Ehdr eh;
	if (len < sizeof(eh))
		return err_set(ERR_NOT_ELF, "the snapshot is not an ELF core");
	memcpy(&eh, core, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_CORE ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len || eh.e_phnum > (len - eh.e_phoff) / sizeof(Elf64_Phdr))
		return err_set(ERR_NOT_ELF, "the snapshot is not an ELF core");
	*nloads = 0;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, core + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			return err_set(ERR_NOT_ELF, "the snapshot's segments run past its end");
		if (ARRAY_GROW(w->loads, w->loads_cap, *nloads + 1) < 0)
			return -ERR_NOMEM;
		w->loads[(*nloads)++] = (struct archive_load){ph.p_offset, ph.p_filesz};
	}
	qsort(w->loads, *nloads, sizeof(*w->loads), compare_loads);
	for (size_t i = 1; i < *nloads; i++)
		if (w->loads[i].offset < w->loads[i - 1].offset + w->loads[i - 1].size)
			return err_set(ERR_NOT_ELF, "the snapshot's segments overlap");
	return 0;
}

/* LEN bytes at DATA compressed onto OUT; with PREFIX (PREFIX_LEN bytes),
 * against it. */
static int compress_into(struct archive_writer *w, struct strbuf *out, const void *data, size_t len,
                         const void *prefix, size_t prefix_len, uint32_t *zlen)
{
	size_t bound = ZSTD_compressBound(len);
	if (!strbuf_grow(out, bound) || (!w->zstd && !(w->zstd = ZSTD_createCCtx())))
		return -ERR_NOMEM;
	ZSTD_CCtx_reset(w->zstd, ZSTD_reset_session_and_parameters);
	ZSTD_CCtx_setParameter(w->zstd, ZSTD_c_compressionLevel, 3);
	if (prefix_len)
		ZSTD_CCtx_refPrefix(w->zstd, prefix, prefix_len);
	size_t n = ZSTD_compress2(w->zstd, out->buf + out->len, bound, data, len);
	if (ZSTD_isError(n))
		return err_set(ERR_IO, "cannot compress: %s", ZSTD_getErrorName(n));
	out->len += n;
	*zlen = (uint32_t)n;
	return 0;
}

/* Frame w->scratch as a record of KIND at the end of w->record. */
static void add_record(struct archive_writer *w, uint32_t kind)
{
	struct archive_record_header h = {ARCHIVE_RECORD_MAGIC, kind, w->scratch.len,
	                                  (uint32_t)crc32(0, (const Bytef *)w->scratch.buf, (uInt)w->scratch.len), 0};
	strbuf_add(&w->record, &h, sizeof(h));
	strbuf_add(&w->record, w->scratch.buf, w->scratch.len);
}

int archive_writer_append(struct archive_writer *w, const void *core_bytes, size_t len, uint64_t capture_ns,
                          struct archive_append *what)
{
	const uint8_t *core = core_bytes;
	size_t nloads = 0, nrefs = 0, nnew = 0;
	int ret;
	memset(what, 0, sizeof(*what));
	hashtab_release(&w->pending);
	if ((ret = find_loads(w, core, len, &nloads)) < 0)
		return ret;
	strbuf_reset(&w->skeleton);
	uint64_t at = 0;
	for (size_t i = 0; i < nloads; i++) {
		const struct archive_load *load = &w->loads[i];
		strbuf_add(&w->skeleton, core + at, load->offset - at);
		at = load->offset + load->size;
		for (uint64_t off = 0; off < load->size; off += ARCHIVE_PAGE_BYTES) {
			uint8_t page[ARCHIVE_PAGE_BYTES] = {0};
			uint64_t n = load->size - off < ARCHIVE_PAGE_BYTES ? load->size - off : ARCHIVE_PAGE_BYTES;
			memcpy(page, core + load->offset + off, n);
			struct archive_hash h = archive_hash_page(page);
			if (ARRAY_GROW(w->refs, w->refs_cap, nrefs + 1) < 0)
				return -ERR_NOMEM;
			w->refs[nrefs++] = h;
			/* New here; a page twice in one core is stored once. */
			if (page_in(&w->pages, h) || page_in(&w->pending, h))
				continue;
			if ((ret = note_page(&w->pending, h)) < 0)
				return ret;
			if (ARRAY_GROW(w->new_pages, w->new_cap, (nnew + 1) * ARCHIVE_PAGE_BYTES) < 0 ||
			    ARRAY_GROW(w->new_hashes, w->new_hashes_cap, nnew + 1) < 0)
				return -ERR_NOMEM;
			memcpy(w->new_pages + nnew * ARCHIVE_PAGE_BYTES, page, ARCHIVE_PAGE_BYTES);
			w->new_hashes[nnew++] = h;
		}
	}
	strbuf_add(&w->skeleton, core + at, len - at);
	strbuf_reset(&w->record);
	if (nnew) {
		struct archive_pages_head head = {(uint32_t)nnew, 0};
		strbuf_reset(&w->scratch);
		strbuf_add(&w->scratch, &head, sizeof(head));
		strbuf_add(&w->scratch, w->new_hashes, nnew * sizeof(*w->new_hashes));
		if ((ret = compress_into(w, &w->scratch, w->new_pages, nnew * ARCHIVE_PAGE_BYTES, NULL, 0, &head.zlen)) < 0)
			return ret;
		if (!strbuf_ok(&w->scratch))
			return -ERR_NOMEM;
		memcpy(w->scratch.buf, &head, sizeof(head));
		add_record(w, ARCHIVE_PAGES);
	}
	/* The body, against the last key snapshot's unless this one is a key. */
	bool key = !w->key_offset || w->since_key >= ARCHIVE_KEY_EVERY;
	struct archive_snapshot_head head = {capture_ns, len, (uint32_t)nloads, (uint32_t)nrefs,
	                                     (uint32_t)w->skeleton.len, 0, key ? 0 : w->key_offset};
	strbuf_reset(&w->body);
	strbuf_add(&w->body, w->loads, nloads * sizeof(*w->loads));
	strbuf_add(&w->body, w->refs, nrefs * sizeof(*w->refs));
	strbuf_add(&w->body, w->skeleton.buf ? w->skeleton.buf : "", w->skeleton.len);
	if (!strbuf_ok(&w->body) || !strbuf_ok(&w->skeleton))
		return -ERR_NOMEM;
	strbuf_reset(&w->scratch);
	strbuf_add(&w->scratch, &head, sizeof(head));
	if ((ret = compress_into(w, &w->scratch, w->body.buf, w->body.len, key ? NULL : w->key_body.buf,
	                         key ? 0 : w->key_body.len, &head.body_zlen)) < 0)
		return ret;
	if (!strbuf_ok(&w->scratch))
		return -ERR_NOMEM;
	memcpy(w->scratch.buf, &head, sizeof(head));
	uint64_t snapshot_offset = w->end + w->record.len;
	add_record(w, ARCHIVE_SNAPSHOT);
	if (!strbuf_ok(&w->record))
		return -ERR_NOMEM;
	/* One write; a short one (a full disk) is cut back off. */
	size_t done = 0;
	while (done < w->record.len) {
		ssize_t n = pwrite(w->fd, w->record.buf + done, w->record.len - done, (off_t)(w->end + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n < 0 ? errno : ENOSPC;
			if (ftruncate(w->fd, (off_t)w->end) < 0) {
				/* Left torn: the next reader or writer skips it. */
			}
			return err_set_errno(ERR_IO, saved, "cannot append to %s", w->path);
		}
		done += (size_t)n;
	}
	for (size_t k = 0; k < nnew; k++)
		if ((ret = note_page(&w->pages, w->new_hashes[k])) < 0)
			return ret;
	w->end += w->record.len;
	if (key) {
		strbuf_reset(&w->key_body);
		strbuf_add(&w->key_body, w->body.buf, w->body.len);
		w->key_offset = strbuf_ok(&w->key_body) ? snapshot_offset : 0;
		w->since_key = 0;
	}
	w->since_key++;
	what->pages = nrefs;
	what->new_pages = nnew;
	what->bytes = w->record.len;
	return 0;
}
