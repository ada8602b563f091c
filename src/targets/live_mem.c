/* Reading a live process's memory: process_vm_readv, or /proc/PID/mem where
 * that syscall is unavailable, behind a direct-mapped page cache so that
 * repeated reads of a page within one sample cost no syscall. Never writes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "targets/live_internal.h"

int live_cache_init(struct live_page_cache *cache)
{
	cache->pages = xcalloc(LIVE_CACHE_SLOTS, LIVE_PAGE_SIZE);
	cache->tags = xcalloc(LIVE_CACHE_SLOTS, sizeof(*cache->tags));
	cache->gens = xcalloc(LIVE_CACHE_SLOTS, sizeof(*cache->gens));
	cache->unused = xcalloc(LIVE_CACHE_SLOTS, sizeof(*cache->unused));
	bool lists = true;
	for (int phase = 0; phase < 2; phase++) {
		struct live_page_list *both[2] = {&cache->touched[phase], &cache->previous[phase]};
		for (int k = 0; k < 2; k++) {
			both[k]->pages = xcalloc(LIVE_PREFETCH_MAX, sizeof(uint64_t));
			both[k]->ages = xcalloc(LIVE_PREFETCH_MAX, sizeof(uint8_t));
			lists = lists && both[k]->pages && both[k]->ages;
		}
	}
	cache->fixed_pages = xcalloc(LIVE_FIXED_SLOTS, LIVE_PAGE_SIZE);
	cache->fixed_tags = xcalloc(LIVE_FIXED_SLOTS, sizeof(*cache->fixed_tags));
	cache->gen = 1;
	if (!cache->pages || !cache->tags || !cache->gens || !cache->unused || !lists ||
	    !cache->fixed_pages || !cache->fixed_tags) {
		live_cache_release(cache);
		return -ERR_NOMEM;
	}
	return 0;
}

void live_cache_release(struct live_page_cache *cache)
{
	free(cache->pages);
	free(cache->tags);
	free(cache->gens);
	free(cache->unused);
	for (int phase = 0; phase < 2; phase++) {
		free(cache->touched[phase].pages);
		free(cache->touched[phase].ages);
		free(cache->previous[phase].pages);
		free(cache->previous[phase].ages);
	}
	free(cache->fixed_pages);
	free(cache->fixed_tags);
	memset(cache, 0, sizeof(*cache));
}

void live_cache_forget_fixed(struct live_page_cache *cache)
{
	if (cache->fixed_tags)
		memset(cache->fixed_tags, 0, LIVE_FIXED_SLOTS * sizeof(*cache->fixed_tags));
}

static void next_generation(struct live_page_cache *cache)
{
	/* Bumping the generation invalidates every slot at once. */
	if (++cache->gen == 0) {
		if (cache->gens)
			memset(cache->gens, 0, LIVE_CACHE_SLOTS * sizeof(*cache->gens));
		cache->gen = 1;
	}
}

/* NOW (this round's list) becomes BEFORE (the next round's prefetch); NOW
 * starts empty, reusing BEFORE's arrays. */
static void rotate(struct live_page_list *now, struct live_page_list *before)
{
	struct live_page_list swap = *before;
	*before = *now;
	*now = swap;
	now->count = 0;
}

/* A new round starts in the first phase with every slot invalid. */
static void start_round(struct live_page_cache *cache)
{
	cache->phase = 0;
	cache->prefetch_pending = cache->previous[0].count > 0;
	next_generation(cache);
}

void live_cache_clear(struct live_page_cache *cache)
{
	/* This round's pages, and those of the last few rounds not read this
	 * time, become the next round's prefetch. */
	for (int phase = 0; phase < 2; phase++) {
		struct live_page_list *now = &cache->touched[phase], *before = &cache->previous[phase];
		size_t fresh = now->count;
		for (size_t i = 0; i < before->count && now->count < LIVE_PREFETCH_MAX; i++) {
			if (before->ages[i] + 1u >= LIVE_PAGE_ROUNDS)
				continue;
			bool seen = false;
			for (size_t j = 0; j < fresh && !seen; j++)
				seen = now->pages[j] == before->pages[i];
			if (seen)
				continue;
			now->pages[now->count] = before->pages[i];
			now->ages[now->count++] = (uint8_t)(before->ages[i] + 1);
		}
		rotate(now, before);
	}
	start_round(cache);
}

void live_cache_after_rehearsal(struct live_page_cache *cache)
{
	/* The rehearsal read only in the first phase; the decoding phase
	 * keeps its history. */
	rotate(&cache->touched[0], &cache->previous[0]);
	start_round(cache);
}

void live_cache_restart_touched(struct live_page_cache *cache)
{
	/* Pages cached so far are listed again only if read again. */
	cache->touched[cache->phase].count = 0;
	for (size_t slot = 0; cache->gens && slot < LIVE_CACHE_SLOTS; slot++)
		if (cache->gens[slot] == cache->gen)
			cache->unused[slot] = true;
}

void live_cache_after_pause(struct live_page_cache *cache)
{
	cache->phase = 1;
	cache->prefetch_pending = cache->previous[1].count > 0;
}

static void note_touched(struct live_page_cache *cache, uint64_t page)
{
	struct live_page_list *list = &cache->touched[cache->phase];
	if (list->count < LIVE_PREFETCH_MAX) {
		list->ages[list->count] = 0;
		list->pages[list->count++] = page;
	}
}

static int open_mem(struct live_backend *b)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)b->pid);
	b->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->mem_fd >= 0)
		return 0;
	int saved = errno;
	if (saved == ENOENT || saved == ESRCH)
		return err_set(ERR_PROCESS_GONE, "cannot read the memory of pid %d: the process exited", (int)b->pid);
	int ret = err_set_errno(saved == EACCES || saved == EPERM ? ERR_PERM : ERR_IO, saved,
	                        "cannot read the memory of pid %d", (int)b->pid);
	if (ret == -ERR_PERM)
		live_perm_hint(b->pid, true);
	return ret;
}

static int gone_error(struct live_backend *b, uint64_t addr)
{
	return err_set(ERR_PROCESS_GONE, "cannot read memory at 0x%llx in pid %d: the process exited",
	               (unsigned long long)addr, (int)b->pid);
}

/* Read [ADDR, ADDR + total) into LOCAL in one syscall. *GOT gets the bytes
 * read from the start; an unreadable range is not an error here. */
static int fetch(struct live_backend *b, uint64_t addr, const struct iovec *local, size_t nlocal,
                 size_t total, size_t *got)
{
	*got = 0;
	if (!b->mem_fallback) {
		struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = total};
		ssize_t n = process_vm_readv(b->pid, local, nlocal, &remote, 1, 0);
		if (n >= 0) {
			*got = (size_t)n;
			return 0;
		}
		int saved = errno;
		if (saved == ESRCH)
			return gone_error(b, addr);
		if (saved == EFAULT || saved == ENOMEM)
			return 0;
		if (saved != ENOSYS && saved != EPERM)
			return err_set_errno(ERR_IO, saved, "cannot read memory at 0x%llx in pid %d",
			                     (unsigned long long)addr, (int)b->pid);
		/* Some sandboxes forbid the syscall but let /proc/PID/mem through. */
		int ret = b->mem_fd >= 0 ? 0 : open_mem(b);
		if (ret < 0)
			return ret;
		b->mem_fallback = true;
	}
	if (addr > (uint64_t)INT64_MAX)
		return 0;
	ssize_t n;
	do
		n = preadv(b->mem_fd, local, (int)nlocal, (off_t)addr);
	while (n < 0 && errno == EINTR);
	if (n >= 0) {
		*got = (size_t)n;
		return 0;
	}
	if (errno == ESRCH)
		return gone_error(b, addr);
	return 0;
}

/* A read came up short: either the process is gone or the address is not
 * mapped (then the mappings may have changed: reread them on refresh). */
static int short_read(struct live_backend *b, uint64_t addr, size_t len)
{
	if (kill(b->pid, 0) < 0 && errno == ESRCH)
		return gone_error(b, addr);
	b->maps_stale = true;
	return err_set(ERR_UNMAPPED, "cannot read %zu bytes at 0x%llx in pid %d", len, (unsigned long long)addr,
	               (int)b->pid);
}

static bool slot_holds(const struct live_page_cache *cache, uint64_t page)
{
	size_t slot = page & (LIVE_CACHE_SLOTS - 1);
	return cache->gens[slot] == cache->gen && cache->tags[slot] == page;
}

/* Fill the slots of pages [FIRST, FIRST + COUNT) with one syscall. Returns
 * how many leading pages were read, or a negative error. */
static int fill_pages(struct live_backend *b, uint64_t first, size_t count)
{
	struct live_page_cache *cache = &b->cache;
	struct iovec local[LIVE_CACHE_MAX_RUN];
	for (size_t i = 0; i < count; i++) {
		size_t slot = (first + i) & (LIVE_CACHE_SLOTS - 1);
		local[i].iov_base = cache->pages + slot * LIVE_PAGE_SIZE;
		local[i].iov_len = LIVE_PAGE_SIZE;
	}
	size_t got;
	int ret = fetch(b, first << LIVE_PAGE_SHIFT, local, count, count * LIVE_PAGE_SIZE, &got);
	if (ret < 0)
		return ret;
	size_t full = got / LIVE_PAGE_SIZE;
	for (size_t i = 0; i < full; i++) {
		size_t slot = (first + i) & (LIVE_CACHE_SLOTS - 1);
		cache->tags[slot] = first + i;
		cache->gens[slot] = cache->gen;
		cache->unused[slot] = false;
		note_touched(cache, first + i);
	}
	return (int)full;
}

/* The first read of a phase fetches every page the same phase of the
 * previous round read, with one process_vm_readv: one syscall instead of
 * one per page in a steady state. A page that is no longer mapped ends the
 * batch there (the rest is read on demand). */
static void prefetch(struct live_backend *b)
{
	struct live_page_cache *cache = &b->cache;
	struct iovec local[LIVE_PREFETCH_MAX], remote[LIVE_PREFETCH_MAX];
	uint64_t pages[LIVE_PREFETCH_MAX];
	size_t n = 0;
	const struct live_page_list *previous = &cache->previous[cache->phase];
	cache->prefetch_pending = false;
	if (b->mem_fallback)
		return;
	for (size_t i = 0; i < previous->count; i++) {
		uint64_t page = previous->pages[i];
		size_t slot = page & (LIVE_CACHE_SLOTS - 1);
		/* Two pages of the batch may not share a slot. */
		if (cache->gens[slot] == cache->gen)
			continue;
		cache->gens[slot] = cache->gen;
		cache->tags[slot] = UINT64_MAX;
		local[n].iov_base = cache->pages + slot * LIVE_PAGE_SIZE;
		local[n].iov_len = LIVE_PAGE_SIZE;
		remote[n].iov_base = (void *)(uintptr_t)(page << LIVE_PAGE_SHIFT);
		remote[n].iov_len = LIVE_PAGE_SIZE;
		pages[n++] = page;
	}
	ssize_t got = n ? process_vm_readv(b->pid, local, n, remote, n, 0) : 0;
	size_t full = got > 0 ? (size_t)got / LIVE_PAGE_SIZE : 0;
	for (size_t i = 0; i < n; i++) {
		size_t slot = pages[i] & (LIVE_CACHE_SLOTS - 1);
		if (i < full) {
			/* Listed for the next round only once something reads it:
			 * a page the walk stopped needing drops out. */
			cache->tags[slot] = pages[i];
			cache->unused[slot] = true;
		} else {
			cache->gens[slot] = 0; /* not fetched: invalid again */
		}
	}
}

/* The slots are free to scribble on: live_cache_clear() invalidated them. */
void live_cache_warm(struct live_backend *b)
{
	struct live_page_cache *cache = &b->cache;
	struct iovec local[LIVE_PREFETCH_MAX], remote[LIVE_PREFETCH_MAX];
	size_t n = 0;
	if (b->mem_fallback)
		return;
	const struct live_page_list *previous = &cache->previous[0];
	for (size_t i = 0; i < previous->count; i++) {
		uint64_t page = previous->pages[i];
		size_t slot = page & (LIVE_CACHE_SLOTS - 1);
		local[n].iov_base = cache->pages + slot * LIVE_PAGE_SIZE;
		local[n].iov_len = LIVE_PAGE_SIZE;
		remote[n].iov_base = (void *)(uintptr_t)(page << LIVE_PAGE_SHIFT);
		remote[n].iov_len = LIVE_PAGE_SIZE;
		n++;
	}
	if (n)
		(void)process_vm_readv(b->pid, local, n, remote, n, 0);
}

static int read_uncached(struct live_backend *b, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	size_t got;
	int ret = fetch(b, addr, &local, 1, len, &got);
	if (ret < 0)
		return ret;
	return got == len ? 0 : short_read(b, addr, len);
}

/* PAGE from the pages kept across rounds, fetching it there when it lies in
 * a read-only file mapping; NULL when it is not such a page or unreadable. */
static const uint8_t *fixed_page(struct target *t, struct live_backend *b, uint64_t page)
{
	struct live_page_cache *cache = &b->cache;
	size_t slot = page & (LIVE_FIXED_SLOTS - 1);
	uint8_t *data = cache->fixed_pages + slot * LIVE_PAGE_SIZE;
	if (cache->fixed_tags[slot] == page + 1)
		return data;
	uint64_t start = page << LIVE_PAGE_SHIFT;
	const struct target_mapping *m = target_find_mapping(t, start);
	if (!m || !m->path || m->writable || m->end - start < LIVE_PAGE_SIZE)
		return NULL;
	struct iovec local = {.iov_base = data, .iov_len = LIVE_PAGE_SIZE};
	size_t got;
	cache->fixed_tags[slot] = 0;
	if (fetch(b, start, &local, 1, LIVE_PAGE_SIZE, &got) < 0 || got != LIVE_PAGE_SIZE)
		return NULL;
	cache->fixed_tags[slot] = page + 1;
	return data;
}

int live_mem_read_ranges(struct target *t, const struct target_range *ranges, size_t n, uint8_t *out)
{
	struct live_backend *b = t->backend;
	enum { BATCH = 1024 };   /* UIO_MAXIOV */
	struct iovec local, remote[BATCH];
	for (size_t first = 0; first < n; first += BATCH) {
		size_t count = n - first < BATCH ? n - first : BATCH, total = 0;
		for (size_t i = 0; i < count; i++) {
			remote[i] = (struct iovec){.iov_base = (void *)(uintptr_t)ranges[first + i].addr,
			                           .iov_len = ranges[first + i].len};
			total += ranges[first + i].len;
		}
		local = (struct iovec){.iov_base = out, .iov_len = total};
		ssize_t got = b->mem_fallback ? -1 : process_vm_readv(b->pid, &local, 1, remote, count, 0);
		if (got != (ssize_t)total) {
			/* Short, or no syscall: range by range, which says what failed. */
			uint8_t *at = out;
			for (size_t i = 0; i < count; i++) {
				int ret = read_uncached(b, ranges[first + i].addr, at, ranges[first + i].len);
				if (ret < 0)
					return ret;
				at += ranges[first + i].len;
			}
		}
		out += total;
	}
	return 0;
}

int live_mem_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct live_backend *b = t->backend;
	struct live_page_cache *cache = &b->cache;
	if (!len)
		return 0;
	if (cache->prefetch_pending)
		prefetch(b);
	uint64_t end = addr + (len - 1);
	uint64_t first = addr >> LIVE_PAGE_SHIFT, last = end >> LIVE_PAGE_SHIFT;
	if (last - first >= LIVE_CACHE_MAX_RUN)
		return read_uncached(b, addr, buf, len);

	uint8_t *dest = buf;
	for (uint64_t page = first; page <= last;) {
		const uint8_t *data = NULL;
		size_t slot = page & (LIVE_CACHE_SLOTS - 1);
		if (slot_holds(cache, page)) {
			if (cache->unused[slot]) {
				cache->unused[slot] = false;
				note_touched(cache, page);
			}
		} else if (!(data = fixed_page(t, b, page))) {
			/* Fetch this page and the missing ones after it in one go. */
			size_t run = 1;
			while (page + run <= last && !slot_holds(cache, page + run))
				run++;
			int full = fill_pages(b, page, run);
			if (full < 0)
				return full;
			if ((size_t)full < run)
				return short_read(b, addr, len);
		}
		/* Copy the part of this page the read covers. */
		uint64_t page_start = page << LIVE_PAGE_SHIFT, page_last = page_start + (LIVE_PAGE_SIZE - 1);
		uint64_t from = addr > page_start ? addr : page_start;
		uint64_t upto = end < page_last ? end : page_last;   /* inclusive */
		if (!data)
			data = cache->pages + slot * LIVE_PAGE_SIZE;
		memcpy(dest, data + (from - page_start), (size_t)(upto - from + 1));
		dest += upto - from + 1;
		page++;
	}
	return 0;
}
