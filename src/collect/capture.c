/* Taking snapshots: a recording target over a frozen live process; the
 * Python walk (and with --native the stack tops, with --full every private
 * mapping) read through it; the process resumed before the core is built.
 * The freeze stops only the threads that may be running; a thread left
 * asleep is checked to have stayed so, or the snapshot is taken again with
 * every thread stopped (docs/snapshot.md). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collect/internal.h"
#include "pycoreprof/collect.h"
#include "pycoreprof/elf.h"
#include "pycoreprof/native.h"
#include "pycoreprof/stacks.h"

#define PAGE_BYTES 4096u
#define AT_SYSINFO_EHDR_TYPE 33

double capture_realtime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Build-ids of every mapped file, read once: a snapshot analysed elsewhere
 * names the exact binaries it needs. Files that cannot be read are left out.
 * The paths are the session's own copies: the target reads its mappings
 * again while sampling, which frees the old ones. */
int capture_build_ids(struct target *t, struct snap_build_id **ids, size_t *count)
{
	size_t n = 0;
	struct snap_build_id *found = xcalloc(t->nmappings ? t->nmappings : 1, sizeof(*found));
	*ids = NULL;
	*count = 0;
	if (!found)
		return -ERR_NOMEM;
	for (size_t i = 0; i < t->nmappings; i++) {
		const struct target_mapping *m = &t->mappings[i];
		if (!m->path || target_first_mapping_of(t, m->path) != m || !t->ops->open_mapped_file)
			continue;
		char *resolved = NULL;
		struct elfobj *obj = NULL;
		int fd = t->ops->open_mapped_file(t, m, &resolved);
		free(resolved);
		if (fd < 0 || elfobj_open_fd(fd, m->path, &obj) < 0) {
			err_clear();
			continue;
		}
		size_t len = 0;
		const uint8_t *id = elfobj_build_id(obj, &len);
		char *path = id && len && len <= sizeof(found[0].id) ? xstrdup(m->path) : NULL;
		if (path) {
			struct snap_build_id *b = &found[n++];
			b->path = path;
			memcpy(b->id, id, len);
			b->len = len;
		}
		elfobj_free(obj);
	}
	*ids = found;
	*count = n;
	return 0;
}

void capture_build_ids_free(struct snap_build_id *ids, size_t count)
{
	for (size_t i = 0; ids && i < count; i++)
		free((char *)ids[i].path);   /* our copies */
	free(ids);
}

/* Native stacks and full snapshots need every thread's registers, which
 * only a stopped thread gives; otherwise only the threads that may run
 * (run state R or D) are stopped, and registers are read for them only. */
static const struct freeze_policy every_thread = {.run_states = false};
static const struct freeze_policy running_threads = {.run_states = true, .only_running = true};

int capture_session_open(struct capture_session *s, pid_t pid, const struct capture_options *opts)
{
	int ret;
	memset(s, 0, sizeof(*s));
	s->opts = *opts;
	s->leave_asleep = !opts->native && !opts->full;
	struct live_open_options live_opts = {.freeze = true,
	                                      .policy = s->leave_asleep ? &running_threads : &every_thread};
	if ((ret = live_target_open(pid, &live_opts, &s->live)) < 0)
		goto out;
	if ((ret = recording_target_new(s->live, &s->recorder)) < 0)
		goto out;
	if ((ret = capture_build_ids(s->live, &s->build_ids, &s->nbuild_ids)) < 0)
		goto out;
	/* Discovery reads (the runtime, the version) go through the recorder
	 * so that every snapshot holds them; they are re-read at each freeze. */
	if ((ret = target_freeze(s->recorder)) < 0)
		goto out;
	ret = pywalker_new(s->recorder, &s->walker);
	/* A Python without tasks says so in the snapshot's reading. */
	if (ret == 0 && s->opts.tasks && pytasks_new(s->walker, &s->tasks) == -ERR_NOMEM)
		ret = -ERR_NOMEM;
	target_resume(s->recorder);
	if (ret == 0)
		ret = guard_add(s->live);
out:
	if (ret < 0)
		capture_session_close(s);
	return ret;
}

void capture_session_close(struct capture_session *s)
{
	pytasks_free(s->tasks);
	s->tasks = NULL;
	pywalker_free(s->walker);
	s->walker = NULL;
	target_free(s->recorder);
	s->recorder = NULL;
	guard_remove(s->live);
	target_free(s->live);
	s->live = NULL;
	capture_build_ids_free(s->build_ids, s->nbuild_ids);
	free(s->watch);
	s->watch = NULL;
	s->nwatch = s->watch_cap = 0;
	free(s->asleep);
	s->asleep = NULL;
	s->nasleep = s->asleep_cap = 0;
	s->build_ids = NULL;
	s->nbuild_ids = 0;
}

/* Read [START, END) page by page through the recorder; unreadable pages
 * (guard pages, [vvar]) are skipped. */
static void record_range(struct target *recorder, uint64_t start, uint64_t end)
{
	uint8_t page[PAGE_BYTES];
	for (uint64_t addr = start & ~(uint64_t)(PAGE_BYTES - 1); addr < end; addr += PAGE_BYTES)
		if (target_read(recorder, addr, page, sizeof(page)) < 0)
			err_clear();
}

/* Native tools (eu-stack, gdb) find the modules of a core by the ELF
 * headers in its memory, as the kernel stores them: the first page of
 * each file mapped from offset 0. */
static void record_elf_headers(struct target *recorder)
{
	for (size_t i = 0; i < recorder->nmappings; i++) {
		const struct target_mapping *m = &recorder->mappings[i];
		if (m->path && m->file_offset == 0 && m->readable)
			record_range(recorder, m->start, m->start + PAGE_BYTES);
	}
}

void capture_stack_tops(struct target *recorder)
{
	record_elf_headers(recorder);
	/* gdb finds shared libraries through the dynamic linker's list. */
	target_read_link_map(recorder);
	/* The vDSO is code in no file: unwinding through it needs its bytes. */
	const struct target_mapping *vdso = target_find_mapping(recorder, target_auxv(recorder, AT_SYSINFO_EHDR_TYPE));
	if (vdso && target_auxv(recorder, AT_SYSINFO_EHDR_TYPE))
		record_range(recorder, vdso->start, vdso->end);
	for (size_t i = 0; i < recorder->nthreads; i++) {
		const struct target_thread *th = &recorder->threads[i];
		if (!th->has_regs)
			continue;
		uint64_t sp = th->regs[TREG_RSP];
		const struct target_mapping *m = target_find_mapping(recorder, sp);
		uint64_t end = sp + NATIVE_STACK_BYTES_DEFAULT;
		if (m && end > m->end)
			end = m->end;
		record_range(recorder, sp, end);
	}
}

/* Like gcore: what is private to the process (anonymous, or written to);
 * read-only file mappings are in the files themselves. */
static void record_private_mappings(struct target *recorder)
{
	for (size_t i = 0; i < recorder->nmappings; i++) {
		const struct target_mapping *m = &recorder->mappings[i];
		if (m->readable && (m->writable || !m->path))
			record_range(recorder, m->start, m->end);
	}
}

static int compare_watch(const void *a, const void *b)
{
	pid_t x = ((const struct capture_watch *)a)->tid, y = ((const struct capture_watch *)b)->tid;
	return (x > y) - (x < y);
}

/* Before the freeze, for each thread known: how much it has run, then where
 * it waits. Room for the threads left asleep is made here too: nothing is
 * allocated in the pause. */
static int watch_before(struct capture_session *s)
{
	const struct target *t = s->live;
	if (ARRAY_GROW(s->watch, s->watch_cap, t->nthreads) < 0 ||
	    ARRAY_GROW(s->asleep, s->asleep_cap, t->nthreads) < 0)
		return -ERR_NOMEM;
	s->nwatch = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		struct capture_watch *w = &s->watch[s->nwatch++];
		w->tid = t->threads[i].tid;
		w->known = target_thread_runtime(s->live, w->tid, &w->before) == 0 &&
		           target_thread_syscall(s->live, w->tid, &w->where) == 0 && !w->where.running;
		err_clear();
	}
	qsort(s->watch, s->nwatch, sizeof(*s->watch), compare_watch);
	return 0;
}

/* Looked up per thread in the pause: by binary search. */
static const struct capture_watch *find_watch(const struct capture_session *s, pid_t tid)
{
	struct capture_watch key = {.tid = tid};
	return bsearch(&key, s->watch, s->nwatch, sizeof(*s->watch), compare_watch);
}

static int compare_thread_tids(const void *a, const void *b)
{
	pid_t x = ((const struct target_thread *)a)->tid, y = ((const struct target_thread *)b)->tid;
	return (x > y) - (x < y);
}

/* In the pause: registers of the stopped threads, and the threads the
 * freeze left asleep as the snapshot's note writes them. Returns whether
 * every thread left is one whose wait was read before the freeze. */
static bool list_asleep(struct capture_session *s, const struct process_stacks *ps)
{
	struct target *t = s->recorder;
	bool whole = true;
	s->nasleep = 0;
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct target_thread *th = &t->threads[i];
		if (target_thread_regs(t, th))
			continue;
		const struct capture_watch *w = find_watch(s, th->tid);
		if (!w || !w->known || s->nasleep == s->asleep_cap) {
			whole = false;
			continue;
		}
		struct target_thread *a = &s->asleep[s->nasleep++];
		memset(a, 0, sizeof(*a));
		a->tid = th->tid;
		a->ns_tid = th->ns_tid;
		a->state = th->state;
		memcpy(a->name, th->name, sizeof(a->name));
		a->has_regs = true;
		a->regs[TREG_ORIG_RAX] = (uint64_t)w->where.nr;
		a->regs[TREG_RSP] = w->where.sp;
		a->regs[TREG_RIP] = w->where.pc;
	}
	/* Before 3.11 a reader tells a thread by its pthread_t, which is its
	 * FS base: the thread states give it. The threads, and so those left
	 * asleep, are in tid order. */
	if (pywalker_info(s->walker)->version_hex < 0x030b0000)
		for (size_t k = 0; k < ps->nthreads; k++) {
			struct target_thread key = {.tid = ps->threads[k].tid};
			struct target_thread *a = t->threads_sorted ? bsearch(&key, s->asleep, s->nasleep, sizeof(key),
			                                                      compare_thread_tids)
			                                            : NULL;
			if (a)
				a->regs[TREG_FS_BASE] = ps->threads[k].thread_id;
		}
	return whole;
}

/* After the pause: whether each thread left asleep has not run since its
 * run time was read before the freeze (docs/record.md: a thread put on a
 * CPU in between would have been counted). */
static bool stayed_asleep(struct capture_session *s)
{
	for (size_t i = 0; i < s->nasleep; i++) {
		const struct capture_watch *w = find_watch(s, s->asleep[i].tid);
		struct target_runtime now;
		if (!w || target_thread_runtime(s->live, w->tid, &now) < 0 || now.run_ns != w->before.run_ns ||
		    now.switches != w->before.switches) {
			err_clear();
			return false;
		}
	}
	return true;
}

/* Everything that needs the process stopped, between freeze and resume.
 * *WHOLE: every thread left asleep stayed so (always, when none was). */
static int walk_frozen(struct capture_session *s, struct capture_result *r, bool *whole)
{
	struct process_stacks ps = {0};
	int ret;
	*whole = true;
	s->nasleep = 0;
	if (s->leave_asleep && (ret = watch_before(s)) < 0)
		return ret;
	if ((ret = target_freeze(s->recorder)) < 0)
		return ret;
	r->capture_time = capture_realtime_now();
	recording_target_new_round(s->recorder);
	/* Pages read by earlier walks (code objects, strings the walker keeps
	 * decoded) are needed by a fresh reader too: take them as they are now. */
	recording_target_refresh(s->recorder);
	struct stacks_options what = {.locals = s->opts.locals, .tasks = s->opts.tasks, .task_reader = s->tasks};
	ret = process_stacks_collect(s->recorder, s->walker, "live", &what, &ps);
	if (ret == 0) {
		r->threads = ps.nthreads;
		/* A full snapshot is for native tools too (like gcore's). */
		if (s->opts.native || s->opts.full)
			capture_stack_tops(s->recorder);
		if (s->opts.full)
			record_private_mappings(s->recorder);
		for (size_t i = 0; i < ps.nthreads; i++)
			if (ps.threads[i].gil)
				target_resume_last(s->recorder, ps.threads[i].tid);
		if (s->leave_asleep)
			*whole = list_asleep(s, &ps);
	}
	target_resume(s->recorder);
	process_stacks_release(&ps);
	if (ret == 0 && *whole && s->nasleep)
		*whole = stayed_asleep(s);
	return ret;
}

int capture_build_core(struct target *recorder, const struct snap_info *info, size_t *pages_stored,
                       struct strbuf *out)
{
	struct recorded_page *pages = NULL;
	struct snap_region *regions = NULL;
	size_t count = 0;
	int ret = recording_target_pages(recorder, &pages, &count);
	if (ret < 0)
		goto out;
	/* One region per run of blocks read: at most 32 per page. */
	regions = xcalloc(count ? count * 32 : 1, sizeof(*regions));
	if (!regions) {
		ret = -ERR_NOMEM;
		goto out;
	}
	size_t nregions = 0;
	for (size_t i = 0; i < count; i++) {
		uint64_t touched = pages[i].touched;
		for (unsigned block = 0; block < 64;) {
			if (!(touched >> block & 1)) {
				block++;
				continue;
			}
			unsigned end = block;
			while (end < 64 && (touched >> end & 1))
				end++;
			regions[nregions++] = (struct snap_region){
				.addr = pages[i].addr + block * RECORDED_BLOCK,
				.len = (end - block) * RECORDED_BLOCK,
				.data = pages[i].data + block * RECORDED_BLOCK,
			};
			block = end;
		}
	}
	*pages_stored = count;
	ret = snapshot_build(recorder, regions, nregions, info, out);
out:
	free(regions);
	free(pages);
	return ret;
}

static int build_file(struct capture_session *s, struct capture_result *r)
{
	struct strbuf core = {0};
	int ret;
	const struct pyinfo *py = pywalker_info(s->walker);
	struct snap_info info = {
		.capture_ns = (uint64_t)(r->capture_time * 1e9),
		.interval_ns = (uint64_t)(s->opts.interval * 1e9),
		.py_version_hex = py->version_hex,
		.py_version = py->version,
		.runtime_addr = py->runtime_addr,
		.interp_head_addr = py->interp_head_addr,
		.build_ids = s->build_ids,
		.nbuild_ids = s->nbuild_ids,
		.command = s->recorder->command,
		.asleep = s->asleep,
		.nasleep = s->nasleep,
	};
	if (!s->opts.compress)
		return capture_build_core(s->recorder, &info, &r->pages, &r->file);
	if ((ret = capture_build_core(s->recorder, &info, &r->pages, &core)) == 0)
		ret = snapshot_gzip(core.buf, core.len, &r->file);
	strbuf_release(&core);
	return ret;
}

int capture_session_take(struct capture_session *s, struct capture_result *r)
{
	bool whole;
	strbuf_reset(&r->file);
	r->retaken = false;
	int ret = walk_frozen(s, r, &whole);
	r->paused = target_last_pause(s->recorder);
	if (ret == 0 && !whole) {
		/* A thread left asleep woke around the pause (or was not known
		 * before it): its stack is not known to be the one read. Once
		 * more, with every thread stopped. */
		target_set_freeze_policy(s->live, &every_thread);
		s->leave_asleep = false;
		ret = walk_frozen(s, r, &whole);
		r->paused += target_last_pause(s->recorder);
		s->leave_asleep = true;
		target_set_freeze_policy(s->live, &running_threads);
		r->retaken = true;
	}
	r->left_asleep = s->nasleep;
	if (ret < 0)
		return ret;
	double start = time_now();
	ret = build_file(s, r);
	r->build_seconds = time_now() - start;
	return ret;
}
