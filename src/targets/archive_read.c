/* Reading a snapshot archive (archive.h): one scan finds every page
 * record (each page's hash and where it is) and every snapshot record;
 * extracting a snapshot puts its skeleton and its pages back in their
 * places, giving the ELF core's own bytes. Page records are decompressed
 * when first needed and a few are kept. Every length and reference is
 * checked: a corrupt archive gives an error, never a read out of bounds.
 * Also the count of threads in an extracted core, for `archive list`. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "targets/archive_format.h"

enum { BLOCK_CACHE = 8 };

struct page_slot {
	uint64_t key;                /* hash.lo, never 0 */
	uint64_t hi;
	uint64_t record;             /* offset of its PAGES record */
	uint32_t index;              /* in that record */
};

struct block {
	uint64_t record;             /* 0: empty */
	uint8_t *pages;
	uint32_t count;
	uint64_t used;               /* for eviction */
};

struct archive {
	int fd;
	char *path;
	struct archive_entry *entries;
	size_t n, cap;
	struct archive_scan_result scanned;
	struct hashtab pages;        /* of page_slot */
	struct block cache[BLOCK_CACHE];
	uint64_t clock;
	uint64_t pages_before;       /* bytes of page records since the last snapshot */
	struct strbuf key;           /* the body of the key snapshot at KEY_OFFSET */
	uint64_t key_offset;
	ZSTD_DCtx *zstd;
};

static int index_record(void *ctx, uint64_t offset, const struct archive_record_header *h, const uint8_t *payload)
{
	struct archive *a = ctx;
	uint64_t stored = sizeof(*h) + h->payload_len;
	if (h->kind == ARCHIVE_PAGES) {
		struct archive_pages_head head;
		if (h->payload_len < sizeof(head))
			return 0;
		memcpy(&head, payload, sizeof(head));
		if ((uint64_t)head.count * sizeof(struct archive_hash) + head.zlen > h->payload_len - sizeof(head))
			return 0;
		for (uint32_t i = 0; i < head.count; i++) {
			struct archive_hash hash;
			memcpy(&hash, payload + sizeof(head) + (size_t)i * sizeof(hash), sizeof(hash));
			int ret = hashtab_reserve(&a->pages, a->pages.count + 1, sizeof(struct page_slot));
			if (ret < 0)
				return ret;
			struct page_slot *slot = hashtab_slot_for(&a->pages, hash.lo ? hash.lo : 1);
			if (!slot->key) {
				hashtab_claim(&a->pages, slot, hash.lo ? hash.lo : 1);
				slot->hi = hash.hi;
				slot->record = offset;
				slot->index = i;
			}
		}
		a->pages_before += stored;
		return 0;
	}
	if (h->kind != ARCHIVE_SNAPSHOT || h->payload_len < sizeof(struct archive_snapshot_head))
		return 0;
	struct archive_snapshot_head head;
	memcpy(&head, payload, sizeof(head));
	if (ARRAY_GROW(a->entries, a->cap, a->n + 1) < 0)
		return -ERR_NOMEM;
	a->entries[a->n++] = (struct archive_entry){head.capture_ns, head.core_len, offset, stored + a->pages_before};
	a->pages_before = 0;
	return 0;
}

int archive_open(const char *path, struct archive **out)
{
	struct archive *a = xcalloc(1, sizeof(*a));
	if (!a || !(a->path = xstrdup(path))) {
		free(a);
		return -ERR_NOMEM;
	}
	int ret;
	a->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0) {
		ret = err_set_errno(errno == ENOENT ? ERR_NOENT : errno == EACCES ? ERR_PERM : ERR_IO, errno,
		                    "cannot open %s", path);
		goto fail;
	}
	if ((ret = archive_scan(a->fd, path, index_record, a, &a->scanned)) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	archive_close(a);
	return ret;
}

size_t archive_count(const struct archive *a)
{
	return a->n;
}

const struct archive_entry *archive_entry(const struct archive *a, size_t index)
{
	return index < a->n ? &a->entries[index] : NULL;
}

uint64_t archive_torn_bytes(const struct archive *a)
{
	return a->scanned.torn;
}

uint64_t archive_damaged_bytes(const struct archive *a)
{
	return a->scanned.skipped;
}

void archive_close(struct archive *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	for (int i = 0; i < BLOCK_CACHE; i++)
		free(a->cache[i].pages);
	hashtab_release(&a->pages);
	strbuf_release(&a->key);
	ZSTD_freeDCtx(a->zstd);
	free(a->entries);
	free(a->path);
	free(a);
}

static int corrupt(const struct archive *a, const char *what)
{
	return err_set(ERR_CORRUPT, "%s: %s", a->path, what);
}

/* The whole payload of the record at OFFSET, checked again (the file may
 * have changed since the scan). */
static int read_record(struct archive *a, uint64_t offset, uint32_t kind, uint8_t **payload, uint64_t *len)
{
	struct archive_record_header h;
	if (archive_read_at(a->fd, &h, sizeof(h), offset) != 0 || h.magic != ARCHIVE_RECORD_MAGIC || h.kind != kind ||
	    h.payload_len > ARCHIVE_RECORD_MAX)
		return corrupt(a, "a record changed or vanished");
	uint8_t *data = malloc(h.payload_len ? h.payload_len : 1);
	if (!data)
		return -ERR_NOMEM;
	if (archive_read_at(a->fd, data, h.payload_len, offset + sizeof(h)) != 0) {
		free(data);
		return corrupt(a, "a record is cut short");
	}
	*payload = data;
	*len = h.payload_len;
	return 0;
}

/* The decompressed pages of the PAGES record at OFFSET. */
static int load_block(struct archive *a, uint64_t offset, struct block **out)
{
	struct block *victim = &a->cache[0];
	for (int i = 0; i < BLOCK_CACHE; i++) {
		if (a->cache[i].record == offset && a->cache[i].pages) {
			a->cache[i].used = ++a->clock;
			*out = &a->cache[i];
			return 0;
		}
		if (a->cache[i].used < victim->used)
			victim = &a->cache[i];
	}
	uint8_t *payload;
	uint64_t len;
	int ret = read_record(a, offset, ARCHIVE_PAGES, &payload, &len);
	if (ret < 0)
		return ret;
	struct archive_pages_head head = {0, 0};
	if (len >= sizeof(head))
		memcpy(&head, payload, sizeof(head));
	uint64_t hashes = (uint64_t)head.count * sizeof(struct archive_hash);
	uint64_t want = (uint64_t)head.count * ARCHIVE_PAGE_BYTES;
	uint8_t *pages = NULL;
	if (len < sizeof(head) || hashes + head.zlen > len - sizeof(head) || want > ARCHIVE_RECORD_MAX * 64) {
		ret = corrupt(a, "a page record is malformed");
	} else if (!(pages = malloc(want ? want : 1))) {
		ret = -ERR_NOMEM;
	} else {
		size_t got = ZSTD_decompress(pages, want, payload + sizeof(head) + hashes, head.zlen);
		if (ZSTD_isError(got) || got != want)
			ret = corrupt(a, "a page record does not decompress");
	}
	free(payload);
	if (ret < 0) {
		free(pages);
		return ret;
	}
	free(victim->pages);
	*victim = (struct block){offset, pages, head.count, ++a->clock};
	*out = victim;
	return 0;
}

static int put_page(struct archive *a, struct archive_hash h, uint8_t *dest, uint64_t n)
{
	const struct page_slot *slot = hashtab_find(&a->pages, h.lo ? h.lo : 1);
	if (!slot || slot->hi != h.hi)
		return corrupt(a, "a snapshot refers to a page the archive does not hold");
	struct block *b;
	int ret = load_block(a, slot->record, &b);
	if (ret < 0)
		return ret;
	if (slot->index >= b->count)
		return corrupt(a, "a page index is past its record");
	memcpy(dest, b->pages + (size_t)slot->index * ARCHIVE_PAGE_BYTES, n);
	return 0;
}

/* The body of the snapshot record at OFFSET into *BODY (malloc'd), with
 * PREFIX as the key body it was compressed against (NULL: none). */
static int snapshot_body(struct archive *a, uint64_t offset, const struct strbuf *prefix,
                         struct archive_snapshot_head *head, uint8_t **body, uint64_t *body_len)
{
	uint8_t *payload;
	uint64_t len;
	int ret = read_record(a, offset, ARCHIVE_SNAPSHOT, &payload, &len);
	if (ret < 0)
		return ret;
	memset(head, 0, sizeof(*head));
	if (len >= sizeof(*head))
		memcpy(head, payload, sizeof(*head));
	uint64_t tables = (uint64_t)head->nloads * sizeof(struct archive_load) +
	                  (uint64_t)head->nrefs * sizeof(struct archive_hash);
	uint64_t want = tables + head->skeleton_len;
	*body = NULL;
	if (len < sizeof(*head) || head->body_zlen > len - sizeof(*head) || head->core_len > ARCHIVE_RECORD_MAX * 64 ||
	    head->skeleton_len > head->core_len || want > ARCHIVE_RECORD_MAX * 64) {
		ret = corrupt(a, "a snapshot record is malformed");
	} else if (!(*body = malloc(want ? want : 1)) || (!a->zstd && !(a->zstd = ZSTD_createDCtx()))) {
		ret = -ERR_NOMEM;
	} else {
		ZSTD_DCtx_reset(a->zstd, ZSTD_reset_session_and_parameters);
		if (prefix)
			ZSTD_DCtx_refPrefix(a->zstd, prefix->buf, prefix->len);
		size_t got = ZSTD_decompressDCtx(a->zstd, *body, want, payload + sizeof(*head), head->body_zlen);
		if (ZSTD_isError(got) || got != want)
			ret = corrupt(a, "a snapshot does not decompress");
	}
	free(payload);
	if (ret < 0) {
		free(*body);
		*body = NULL;
	}
	*body_len = want;
	return ret;
}

/* The key body at OFFSET, kept for the snapshots that follow it. */
static int key_body(struct archive *a, uint64_t offset, const struct strbuf **out)
{
	if (a->key_offset != offset || !a->key.buf) {
		struct archive_snapshot_head head;
		uint8_t *body;
		uint64_t len;
		int ret = snapshot_body(a, offset, NULL, &head, &body, &len);
		if (ret < 0)
			return ret;
		if (head.base) {
			free(body);
			return corrupt(a, "a snapshot's base is not a key snapshot");
		}
		strbuf_reset(&a->key);
		strbuf_add(&a->key, body, len);
		free(body);
		if (!strbuf_ok(&a->key))
			return -ERR_NOMEM;
		a->key_offset = offset;
	}
	*out = &a->key;
	return 0;
}

int archive_extract(struct archive *a, size_t index, struct strbuf *core)
{
	if (index >= a->n)
		return err_set(ERR_USAGE, "%s holds %zu snapshots; there is no snapshot %zu", a->path, a->n, index);
	struct archive_snapshot_head head;
	const struct strbuf *prefix = NULL;
	uint8_t *body = NULL;
	uint64_t body_len;
	int ret = 0;
	/* The base named in the record's head: read it first. */
	uint64_t base = 0;
	if (archive_read_at(a->fd, &head, sizeof(head), a->entries[index].offset + sizeof(struct archive_record_header)) == 0)
		base = head.base;
	if (base && (base >= a->entries[index].offset || (ret = key_body(a, base, &prefix)) < 0))
		return ret < 0 ? ret : corrupt(a, "a snapshot's base does not come before it");
	if ((ret = snapshot_body(a, a->entries[index].offset, prefix, &head, &body, &body_len)) < 0)
		return ret;
	if (head.base != base) {
		ret = corrupt(a, "a snapshot record changed while read");
		goto out;
	}
	const uint8_t *loads = body, *refs = loads + (size_t)head.nloads * sizeof(struct archive_load);
	const uint8_t *skeleton = refs + (size_t)head.nrefs * sizeof(struct archive_hash);
	size_t base_len = core->len;
	if (!strbuf_grow(core, head.core_len)) {
		ret = -ERR_NOMEM;
		goto out;
	}
	uint8_t *dest = (uint8_t *)core->buf + base_len;
	uint64_t at = 0, from = 0, ref = 0;
	for (uint32_t i = 0; i < head.nloads && ret == 0; i++) {
		struct archive_load load;
		memcpy(&load, loads + (size_t)i * sizeof(load), sizeof(load));
		if (load.offset < at || load.offset > head.core_len || load.size > head.core_len - load.offset ||
		    load.offset - at > head.skeleton_len - from) {
			ret = corrupt(a, "a snapshot's segments do not fit its size");
			break;
		}
		memcpy(dest + at, skeleton + from, load.offset - at);
		from += load.offset - at;
		for (uint64_t off = 0; off < load.size && ret == 0; off += ARCHIVE_PAGE_BYTES, ref++) {
			struct archive_hash h;
			if (ref >= head.nrefs) {
				ret = corrupt(a, "a snapshot has fewer pages than its segments");
				break;
			}
			memcpy(&h, refs + ref * sizeof(h), sizeof(h));
			uint64_t n = load.size - off < ARCHIVE_PAGE_BYTES ? load.size - off : ARCHIVE_PAGE_BYTES;
			ret = put_page(a, h, dest + load.offset + off, n);
		}
		at = load.offset + load.size;
	}
	if (ret == 0 && head.core_len - at != head.skeleton_len - from)
		ret = corrupt(a, "a snapshot's headers do not fill its size");
	if (ret == 0) {
		memcpy(dest + at, skeleton + from, head.core_len - at);
		core->len += head.core_len;
		core->buf[core->len] = '\0';
	}
out:
	free(body);
	return ret;
}

size_t archive_core_threads(const void *core_bytes, size_t len)
{
	const uint8_t *core = core_bytes;
	Elf64_Ehdr eh;
	size_t threads = 0;
	if (len < sizeof(eh))
		return 0;
	memcpy(&eh, core, sizeof(eh));
	if (eh.e_phoff > len)
		return 0;
	for (size_t i = 0; i < eh.e_phnum && i < (len - eh.e_phoff) / sizeof(Elf64_Phdr); i++) {
		Elf64_Phdr ph;
		memcpy(&ph, core + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		for (uint64_t at = ph.p_offset; at + sizeof(Elf64_Nhdr) <= ph.p_offset + ph.p_filesz;) {
			Elf64_Nhdr nh;
			memcpy(&nh, core + at, sizeof(nh));
			threads += nh.n_type == NT_PRSTATUS;
			at += sizeof(nh) + ((nh.n_namesz + 3ull) & ~3ull) + ((nh.n_descsz + 3ull) & ~3ull);
		}
	}
	return threads;
}
