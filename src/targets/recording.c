/* The recording backend: wraps another target (a frozen live process) and
 * remembers every page read through it, with its bytes, so that a snapshot
 * can be written from exactly those pages. It never writes anything. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"

#define PAGE_SIZE_BYTES 4096u
#define PAGE_MASK_BITS (~(uint64_t)(PAGE_SIZE_BYTES - 1))

/* What recording_target_unchanged() reads the pages into, made ahead. */
struct recording_check {
	struct recorded_page *pages; /* this round's, sorted */
	size_t npages;
	struct target_range *ranges; /* the pages, neighbours merged */
	size_t nranges;
	uint8_t *now;                /* NPAGES pages, already touched */
};

static void check_release(struct recording_check *c);

struct recording_backend {
	struct target *inner;       /* borrowed */
	struct hashtab pages;       /* of recorded_page, key addr */
	uint32_t round;             /* pages whose round differs are re-read */
	struct recording_check check;
	unsigned readahead;         /* pages read with a missing one (recording_target_readahead()) */
	uint8_t *ahead;             /* READAHEAD pages, for that read */
};

_Static_assert(offsetof(struct recorded_page, addr) == 0, "a page's address is its hashtab key");

static struct recorded_page *page_at(const struct recording_backend *rec, size_t index)
{
	return hashtab_slot(&rec->pages, index);
}

/* The page at ADDR (page-aligned), read from the inner target unless it
 * was already read this round. */
static int fetch_page(struct recording_backend *rec, uint64_t addr, struct recorded_page **out);

/* With readahead: the pages after ADDR (a missing one) are read with it in
 * one go, and kept unless this round has them; those never read again stay
 * untouched, and no snapshot or check holds them. */
static void read_ahead(struct recording_backend *rec, uint64_t addr)
{
	unsigned n = rec->readahead;
	while (n > 1 && target_read(rec->inner, addr, rec->ahead, (size_t)n * PAGE_SIZE_BYTES) < 0)
		n /= 4;
	err_clear();
	for (unsigned i = 1; n > 1 && i < n; i++) {
		uint64_t page = addr + (uint64_t)i * PAGE_SIZE_BYTES;
		if (hashtab_reserve(&rec->pages, rec->pages.count + 1, sizeof(struct recorded_page)) < 0)
			return;
		struct recorded_page *slot = hashtab_slot_for(&rec->pages, page);
		if (slot->data && slot->round == rec->round)
			continue;
		uint8_t *data = slot->data ? slot->data : malloc(PAGE_SIZE_BYTES);
		if (!data)
			return;
		memcpy(data, rec->ahead + (size_t)i * PAGE_SIZE_BYTES, PAGE_SIZE_BYTES);
		if (!slot->data)
			hashtab_claim(&rec->pages, slot, page);
		uint64_t touched = slot->data ? slot->touched : 0;
		*slot = (struct recorded_page){.addr = page, .data = data, .touched = touched, .round = rec->round};
	}
}

static int fetch_page(struct recording_backend *rec, uint64_t addr, struct recorded_page **out)
{
	int ret = hashtab_reserve(&rec->pages, rec->pages.count + 1, sizeof(struct recorded_page));
	if (ret)
		return ret;
	struct recorded_page *slot = hashtab_slot_for(&rec->pages, addr);
	if (slot->data && slot->round == rec->round) {
		*out = slot;
		return 0;
	}
	if (rec->readahead > 1) {
		read_ahead(rec, addr);
		if ((ret = hashtab_reserve(&rec->pages, rec->pages.count + 1, sizeof(struct recorded_page))))
			return ret;
		slot = hashtab_slot_for(&rec->pages, addr);
	}
	uint8_t *data = slot->data ? slot->data : malloc(PAGE_SIZE_BYTES);
	if (!data)
		return err_set(ERR_NOMEM, "cannot allocate a page");
	ret = target_read(rec->inner, addr, data, PAGE_SIZE_BYTES);
	if (ret) {
		if (!slot->data)
			free(data);
		return ret;
	}
	if (!slot->data)
		hashtab_claim(&rec->pages, slot, addr);
	uint64_t touched = slot->data ? slot->touched : 0;
	*slot = (struct recorded_page){.addr = addr, .data = data, .touched = touched, .round = rec->round};
	*out = slot;
	return 0;
}

static int recording_read(struct target *t, uint64_t addr, void *buf, size_t len)
{
	struct recording_backend *rec = t->backend;
	uint8_t *dest = buf;
	while (len) {
		uint64_t page = addr & PAGE_MASK_BITS;
		size_t skip = (size_t)(addr - page);
		size_t chunk = PAGE_SIZE_BYTES - skip < len ? PAGE_SIZE_BYTES - skip : len;
		struct recorded_page *p = NULL;
		/* Page 0 is never mapped, and is the table's empty key. */
		if (!page)
			return err_set(ERR_UNMAPPED, "address 0x%llx is not in the target's memory",
			               (unsigned long long)addr);
		int ret = fetch_page(rec, page, &p);
		if (ret)
			return ret;
		memcpy(dest, p->data + skip, chunk);
		/* Only the blocks read are stored: most of a heap page is other
		 * objects. */
		unsigned first = (unsigned)(skip / RECORDED_BLOCK), last = (unsigned)((skip + chunk - 1) / RECORDED_BLOCK);
		uint64_t bits = last - first == 63 ? ~(uint64_t)0 : (((uint64_t)1 << (last - first + 1)) - 1) << first;
		p->touched |= bits;
		dest += chunk;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

static int recording_open_mapped_file(struct target *t, const struct target_mapping *m, char **resolved)
{
	struct recording_backend *rec = t->backend;
	if (!rec->inner->ops->open_mapped_file)
		return err_set(ERR_NOENT, "no file behind mapping 0x%llx", (unsigned long long)m->start);
	return rec->inner->ops->open_mapped_file(rec->inner, m, resolved);
}

/* The shared tables belong to the inner target: forget them before
 * target_free() releases the wrapper's own fields. */
static void recording_destroy(struct target *t)
{
	struct recording_backend *rec = t->backend;
	if (rec) {
		for (size_t i = 0; i < rec->pages.cap; i++)
			free(page_at(rec, i)->data);
		hashtab_release(&rec->pages);
		check_release(&rec->check);
		free(rec->ahead);
		free(rec);
	}
	t->backend = NULL;
	t->threads = NULL;
	t->nthreads = 0;
	t->mappings = NULL;
	t->nmappings = 0;
	t->auxv = NULL;
	t->auxv_words = 0;
	t->command = NULL;
	t->executable = NULL;
	t->search_path = NULL;
	t->root = NULL;
	t->ns_tids = NULL;
	t->n_ns_tids = 0;
}

/* Live control goes to the inner target; the calls that may rewrite its
 * thread or mapping tables take the shared tables again. */
static struct target *inner_of(const struct target *t)
{
	return ((const struct recording_backend *)t->backend)->inner;
}

static void recording_load_regs(struct target *t, struct target_thread *th)
{
	/* TH is one of the inner target's threads: the tables are shared. */
	struct target *inner = inner_of(t);
	if (inner->ops->load_regs)
		inner->ops->load_regs(inner, th);
}

static int recording_prepare_freeze(struct target *t)
{
	int ret = target_prepare_freeze(inner_of(t));
	recording_target_sync(t);
	return ret;
}

static int recording_freeze(struct target *t)
{
	int ret = target_freeze(inner_of(t));
	recording_target_sync(t);
	return ret;
}

static int recording_resume(struct target *t)
{
	return target_resume(inner_of(t));
}

static int recording_refresh(struct target *t)
{
	int ret = target_refresh(inner_of(t));
	recording_target_sync(t);
	return ret;
}

static int recording_stop_thread(struct target *t, pid_t tid)
{
	int ret = target_stop_thread(inner_of(t), tid);
	recording_target_sync(t);
	return ret;
}

static void recording_resume_last(struct target *t, pid_t tid)
{
	target_resume_last(inner_of(t), tid);
}

static void recording_set_freeze_policy(struct target *t, const struct freeze_policy *policy)
{
	target_set_freeze_policy(inner_of(t), policy);
}

static void recording_forget_pages(struct target *t)
{
	target_forget_pages(inner_of(t));
}

static void recording_prefetch_from_here(struct target *t)
{
	target_prefetch_from_here(inner_of(t));
}

static void recording_answer_reports(struct target *t)
{
	target_answer_reports(inner_of(t));
}

static void recording_hold_crashes(struct target *t, bool hold)
{
	target_hold_crashes(inner_of(t), hold);
}

static bool recording_crash_held(struct target *t)
{
	bool held = target_crash_held(inner_of(t));
	recording_target_sync(t);
	return held;
}

static void recording_release_crash(struct target *t)
{
	target_release_crash(inner_of(t));
	recording_target_sync(t);
}

static double recording_last_pause(const struct target *t)
{
	return target_last_pause(inner_of(t));
}

static int recording_thread_runtime(struct target *t, pid_t tid, struct target_runtime *out)
{
	return target_thread_runtime(inner_of(t), tid, out);
}

static int recording_thread_syscall(struct target *t, pid_t tid, struct target_syscall *out)
{
	return target_thread_syscall(inner_of(t), tid, out);
}

static void recording_detach(struct target *t)
{
	if (t->backend)
		target_detach(inner_of(t));
}

static const struct target_ops recording_ops = {
	.read = recording_read,
	.open_mapped_file = recording_open_mapped_file,
	.destroy = recording_destroy,
	.load_regs = recording_load_regs,
	.prepare_freeze = recording_prepare_freeze,
	.freeze = recording_freeze,
	.resume = recording_resume,
	.refresh = recording_refresh,
	.stop_thread = recording_stop_thread,
	.resume_last = recording_resume_last,
	.set_freeze_policy = recording_set_freeze_policy,
	.forget_pages = recording_forget_pages,
	.prefetch_from_here = recording_prefetch_from_here,
	.answer_reports = recording_answer_reports,
	.last_pause = recording_last_pause,
	.thread_runtime = recording_thread_runtime,
	.thread_syscall = recording_thread_syscall,
	.detach = recording_detach,
	.hold_crashes = recording_hold_crashes,
	.crash_held = recording_crash_held,
	.release_crash = recording_release_crash,
};

void recording_target_sync(struct target *t)
{
	struct recording_backend *rec = t->backend;
	struct target *inner = rec->inner;
	t->pid = inner->pid;
	t->threads = inner->threads;
	t->nthreads = inner->nthreads;
	t->threads_sorted = inner->threads_sorted;
	t->mappings = inner->mappings;
	t->nmappings = inner->nmappings;
	t->auxv = inner->auxv;
	t->auxv_words = inner->auxv_words;
	t->command = inner->command;
	t->executable = inner->executable;
	t->search_path = inner->search_path;
	t->root = inner->root;
	t->ns_pid = inner->ns_pid;
	t->ns_tids = inner->ns_tids;
	t->n_ns_tids = inner->n_ns_tids;
	t->has_signal = inner->has_signal;
	t->signal = inner->signal;
}

int recording_target_readahead(struct target *t, unsigned pages)
{
	struct recording_backend *rec = t->backend;
	uint8_t *ahead = pages > 1 ? realloc(rec->ahead, (size_t)pages * PAGE_SIZE_BYTES) : NULL;
	if (pages > 1 && !ahead)
		return err_set(ERR_NOMEM, "cannot allocate %u pages", pages);
	if (pages <= 1) {
		free(rec->ahead);
		ahead = NULL;
	}
	rec->ahead = ahead;
	rec->readahead = pages > 1 ? pages : 0;
	return 0;
}

int recording_target_new(struct target *inner, struct target **out)
{
	struct target *t = xcalloc(1, sizeof(*t));
	struct recording_backend *rec = xcalloc(1, sizeof(*rec));
	if (!t || !rec) {
		free(t);
		free(rec);
		return -ERR_NOMEM;
	}
	rec->inner = inner;
	t->ops = &recording_ops;
	t->kind = inner->kind;
	t->backend = rec;
	recording_target_sync(t);
	*out = t;
	return 0;
}

void recording_target_new_round(struct target *t)
{
	struct recording_backend *rec = t->backend;
	rec->round++;
}

int recording_target_refresh(struct target *t)
{
	struct recording_backend *rec = t->backend;
	for (size_t i = 0; i < rec->pages.cap; i++) {
		struct recorded_page *p = page_at(rec, i);
		if (!p->data || p->round == rec->round)
			continue;
		/* A page that went away (a freed arena) is simply dropped. */
		if (target_read(rec->inner, p->addr, p->data, PAGE_SIZE_BYTES) == 0)
			p->round = rec->round;
	}
	return 0;
}

static int compare_pages(const void *a, const void *b)
{
	const struct recorded_page *left = a, *right = b;
	return left->addr < right->addr ? -1 : left->addr > right->addr;
}

int recording_target_pages(struct target *t, struct recorded_page **pages, size_t *count)
{
	struct recording_backend *rec = t->backend;
	struct recorded_page *list = xcalloc(rec->pages.count ? rec->pages.count : 1, sizeof(*list));
	size_t n = 0;
	if (!list)
		return -ERR_NOMEM;
	for (size_t i = 0; i < rec->pages.cap; i++) {
		const struct recorded_page *p = page_at(rec, i);
		if (p->data && p->round == rec->round)
			list[n++] = *p;
	}
	qsort(list, n, sizeof(*list), compare_pages);
	*pages = list;
	*count = n;
	return 0;
}

static void check_release(struct recording_check *c)
{
	free(c->pages);
	free(c->ranges);
	free(c->now);
	memset(c, 0, sizeof(*c));
}

int recording_target_prepare_check(struct target *t)
{
	struct recording_backend *rec = t->backend;
	struct recording_check *c = &rec->check;
	check_release(c);
	int ret = recording_target_pages(t, &c->pages, &c->npages);
	if (ret < 0)
		return ret;
	/* Pages read ahead but never used tell nothing. */
	size_t kept = 0;
	for (size_t i = 0; i < c->npages; i++)
		if (c->pages[i].touched)
			c->pages[kept++] = c->pages[i];
	c->npages = kept;
	/* Whole pages, neighbours as one range: a system call costs per range
	 * more than per byte. */
	c->ranges = xcalloc(c->npages ? c->npages : 1, sizeof(*c->ranges));
	c->now = malloc(c->npages ? c->npages * PAGE_SIZE_BYTES : 1);
	if (!c->ranges || !c->now) {
		check_release(c);
		return err_set(ERR_NOMEM, "cannot allocate %zu pages", c->npages);
	}
	/* Touched now, so that reading into it faults in no page later. */
	memset(c->now, 0, c->npages * PAGE_SIZE_BYTES);
	for (size_t i = 0; i < c->npages; i++) {
		struct target_range *last = c->nranges ? &c->ranges[c->nranges - 1] : NULL;
		if (last && last->addr + last->len == c->pages[i].addr)
			last->len += PAGE_SIZE_BYTES;
		else
			c->ranges[c->nranges++] = (struct target_range){.addr = c->pages[i].addr, .len = PAGE_SIZE_BYTES};
	}
	return 0;
}

int recording_target_unchanged(struct target *t, bool *same)
{
	struct recording_backend *rec = t->backend;
	struct recording_check *c = &rec->check;
	*same = false;
	int ret = c->now ? 0 : recording_target_prepare_check(t);
	if (ret < 0)
		return ret;
	if (target_read_ranges(rec->inner, c->ranges, c->nranges, c->now) < 0) {
		err_clear();
		check_release(c);
		return 0;   /* a page gone: changed */
	}
	/* Only the blocks read count: the rest of a page is other objects. */
	*same = true;
	for (size_t i = 0; i < c->npages && *same; i++) {
		const uint8_t *before = c->pages[i].data, *after = c->now + i * PAGE_SIZE_BYTES;
		for (unsigned block = 0; block < 64 && *same; block++)
			if ((c->pages[i].touched >> block & 1) &&
			    memcmp(before + block * RECORDED_BLOCK, after + block * RECORDED_BLOCK, RECORDED_BLOCK))
				*same = false;
	}
	check_release(c);
	return 0;
}
