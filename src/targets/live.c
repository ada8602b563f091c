/* The live-process backend: opening a running process, keeping its thread
 * table in line with /proc/PID/task, refreshing between samples, opening the
 * files behind its mappings. Ptrace, reads and /proc parsing live elsewhere. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycoreprof/base.h"
#include "pycoreprof/target.h"
#include "targets/live_internal.h"

#define MAX_STAT_FDS 1024       /* stat and schedstat files kept open; more threads reopen theirs */
#define MAPS_MAX_AGE 1.0        /* seconds before refresh rereads /proc/PID/maps */
#define RELIST_INTERVAL 0.02    /* seconds between thread listings between freezes */

static void publish_tasks(struct live_backend *b, struct live_task *tasks, size_t n)
{
	/* A signal handler may read the table between any two statements:
	 * shrink the count, switch arrays, then set the new count. */
	if (n < b->ntasks)
		b->ntasks = n;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	b->tasks = tasks;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	b->ntasks = n;
}

int live_tasks_reserve(struct target *t, struct live_backend *b, size_t n)
{
	if (n <= b->tasks_cap)
		return 0;
	size_t cap = b->tasks_cap * 2 > n ? b->tasks_cap * 2 : n + 16;
	struct live_task *fresh[2] = {xcalloc(cap, sizeof(struct live_task)), xcalloc(cap, sizeof(struct live_task))};
	pid_t *listing = xcalloc(cap, sizeof(*listing));
	struct target_thread *threads = xrealloc_array(t->threads, cap, sizeof(*threads));
	if (threads)
		t->threads = threads;
	if (!fresh[0] || !fresh[1] || !listing || !threads) {
		free(fresh[0]);
		free(fresh[1]);
		free(listing);
		return -ERR_NOMEM;
	}
	if (b->ntasks)
		memcpy(fresh[0], b->tasks, b->ntasks * sizeof(struct live_task));
	publish_tasks(b, fresh[0], b->ntasks);
	free(b->bufs[0]);
	free(b->bufs[1]);
	b->bufs[0] = fresh[0];
	b->bufs[1] = fresh[1];
	b->cur = 0;
	if (b->listing_cap)
		memcpy(listing, b->listing, b->listing_cap * sizeof(*listing));
	free(b->listing);
	b->listing = listing;
	b->listing_cap = cap;
	b->tasks_cap = cap;
	return 0;
}

void live_publish_threads(struct target *t, struct live_backend *b)
{
	const struct live_task *tasks = b->tasks;
	size_t n = 0;
	/* Tasks are kept in tid order, but those caught in a freeze are
	 * appended. */
	t->threads_sorted = true;
	for (size_t i = 0; i < b->ntasks; i++) {
		const struct live_task *task = &tasks[i];
		if (task->ctl == CTL_GONE)
			continue;
		if (n && t->threads[n - 1].tid >= task->tid)
			t->threads_sorted = false;
		struct target_thread *th = &t->threads[n++];
		th->tid = task->tid;
		th->ns_tid = t->ns_pid ? task->ns_tid : task->tid;
		th->state = task->state;
		memcpy(th->name, task->name, sizeof(th->name));
		th->cursig = task->crashed ? task->pending_sig : 0;
		th->has_regs = task->has_regs && task->ctl == CTL_STOPPED;
		th->regs_pending = !th->has_regs && task->ctl == CTL_STOPPED && b->only_running;
		th->held = task->held && task->ctl == CTL_INTERRUPTED;
		if (th->has_regs)
			memcpy(th->regs, task->regs, sizeof(th->regs));
	}
	t->nthreads = n;
}

static int compare_tids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	x = x < 0 ? -x : x;
	y = y < 0 ? -y : y;
	return (x > y) - (x < y);
}

static int compare_tasks(const void *a, const void *b)
{
	return compare_tids(&((const struct live_task *)a)->tid, &((const struct live_task *)b)->tid);
}

static void close_stat_fd(struct live_backend *b, struct live_task *task)
{
	if (task->stat_fd >= 0) {
		close(task->stat_fd);
		task->stat_fd = -1;
		b->open_stat_fds--;
	}
	if (task->schedstat_fd >= 0) {
		close(task->schedstat_fd);
		task->schedstat_fd = -1;
		b->open_stat_fds--;
	}
}

static void read_state(struct live_backend *b, struct live_task *task)
{
	bool had_fd = task->stat_fd >= 0;
	task->state = live_proc_task_state(b->pid, task->tid, &task->stat_fd,
	                                   had_fd || b->open_stat_fds < MAX_STAT_FDS, task->name, &task->cpu);
	if (had_fd && task->stat_fd < 0)
		b->open_stat_fds--;
	else if (!had_fd && task->stat_fd >= 0)
		b->open_stat_fds++;
}

/* List /proc/PID/task into b->listing, sorted; *COUNT gets the count. */
static int list_tasks(struct target *t, struct live_backend *b, size_t *count)
{
	int ret;
	for (int attempt = 0;; attempt++) {
		if ((ret = live_proc_list_tasks(b->task_dir_fd, b->listing, b->listing_cap, count)) < 0)
			return ret;
		if (*count <= b->listing_cap)
			break;
		if (attempt == 3) {
			*count = b->listing_cap;   /* still growing: take what fits */
			break;
		}
		if ((ret = live_tasks_reserve(t, b, *count * 2 + 16)) < 0)
			return ret;
	}
	if (!*count)
		return err_set(ERR_PROCESS_GONE, "process %d exited", (int)b->pid);
	qsort(b->listing, *count, sizeof(*b->listing), compare_tids);
	return 0;
}

int live_sync_tasks(struct target *t, struct live_backend *b)
{
	size_t count, n = 0;
	int ret, failure = 0;
	if (b->freeze)
		live_reap_reports(b);
	if ((ret = list_tasks(t, b, &count)) < 0)
		return ret;
	/* Room for the merge, and for threads found while frozen. */
	if ((ret = live_tasks_reserve(t, b, b->ntasks + 2 * count + 16)) < 0)
		return ret;
	struct live_task *old = b->tasks, *next = b->bufs[1 - b->cur];
	size_t nold = b->ntasks;
	/* Known threads still listed are kept (their listing entry negated to
	 * mark it); the rest have ended. */
	for (size_t i = 0; i < nold; i++) {
		pid_t *hit = bsearch(&old[i].tid, b->listing, count, sizeof(pid_t), compare_tids);
		if (hit && *hit > 0 && old[i].ctl != CTL_GONE) {
			next[n] = old[i];
			next[n].has_regs = false;
			n++;
			*hit = -*hit;
		} else {
			close_stat_fd(b, &old[i]);
		}
	}
	for (size_t j = 0; j < count; j++) {
		if (b->listing[j] < 0) {
			b->listing[j] = -b->listing[j];
			continue;
		}
		next[n++] = (struct live_task){
			.tid = b->listing[j], .ctl = CTL_UNTRACED, .stat_fd = -1, .schedstat_fd = -1, .cpu = -1};
	}
	/* States first: a zombie thread cannot be seized. */
	size_t kept = 0, living = 0;
	for (size_t k = 0; k < n; k++) {
		struct live_task *task = &next[k];
		/* New threads always (a zombie cannot be seized); the others only
		 * when the caller wants run states. */
		if (b->run_states || task->ctl == CTL_UNTRACED)
			read_state(b, task);
		else
			task->cpu = -1;   /* as stale as the state: say unknown */
		living += task->state != 'Z' && task->state != 'X';
		if (b->freeze && task->ctl == CTL_UNTRACED) {
			int seized = task->state == 'Z' || task->state == 'X' ? -ERR_NO_PROCESS : live_seize(b, task);
			if (seized < 0) {
				if (seized != -ERR_NO_PROCESS && !failure)
					failure = seized;
				close_stat_fd(b, task);
				continue;
			}
		}
		next[kept++] = *task;
	}
	/* Threads of a process in another PID namespace: their id there, once. */
	for (size_t k = 0; t->ns_pid && k < kept; k++)
		if (!next[k].ns_tid)
			next[k].ns_tid = live_ns_task_id(b, next[k].tid);
	qsort(next, kept, sizeof(*next), compare_tasks);
	publish_tasks(b, next, kept);
	b->nsorted = kept;
	b->cur = 1 - b->cur;
	live_publish_threads(t, b);
	if ((ret = live_ns_index(t, b)) < 0)
		return ret;
	if (failure)
		return failure;
	/* A zombie waiting for its parent has threads but no memory. */
	if (!kept || !living)
		return err_set(ERR_PROCESS_GONE, "process %d exited", (int)b->pid);
	return 0;
}

static void free_mappings(struct target_mapping *maps, size_t n)
{
	for (size_t i = 0; maps && i < n; i++)
		free(maps[i].path);
	free(maps);
}

static int read_maps(struct target *t, struct live_backend *b)
{
	struct target_mapping *maps;
	struct live_mapinfo *info;
	size_t n;
	int ret = live_proc_maps(b->pid, &maps, &info, &n);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++)
		info[i].rerooted = live_ns_reroot(b, maps[i].path);
	free_mappings(t->mappings, t->nmappings);
	free(b->mapinfo);
	t->mappings = maps;
	t->nmappings = n;
	b->mapinfo = info;
	b->maps_read_at = time_now();
	b->maps_stale = false;
	t->mappings_generation++;
	live_cache_forget_fixed(&b->cache);
	return 0;
}

int live_refresh_maps(struct target *t, struct live_backend *b)
{
	if (b->maps_stale || time_now() - b->maps_read_at >= MAPS_MAX_AGE)
		return read_maps(t, b);
	return 0;
}

static void live_forget_pages(struct target *t)
{
	struct live_backend *b = t->backend;
	live_cache_clear(&b->cache);
}

static void live_prefetch_from_here(struct target *t)
{
	struct live_backend *b = t->backend;
	live_cache_restart_touched(&b->cache);
}

static void live_set_freeze_policy(struct target *t, const struct freeze_policy *policy)
{
	struct live_backend *b = t->backend;
	b->only_running = policy->only_running;
	b->run_states = policy->run_states || policy->only_running;
	b->hold_unstopped = policy->hold_unstopped;
}

static void live_answer_reports(struct target *t)
{
	struct live_backend *b = t->backend;
	if (b->freeze && !b->frozen)
		live_reap_reports(b);
}

/* Between listings: the run states of the threads known, when wanted.
 * False when none could be read (the process may be gone: list again). */
static bool read_known_states(struct target *t, struct live_backend *b)
{
	if (!b->run_states)
		return true;
	bool any = false;
	for (size_t i = 0; i < b->ntasks; i++) {
		struct live_task *task = &b->tasks[i];
		if (task->ctl != CTL_UNTRACED)
			return false;   /* ours to trace: only a listing keeps them right */
		read_state(b, task);
		any |= task->state != 0 && task->state != 'Z' && task->state != 'X';
	}
	if (any)
		live_publish_threads(t, b);
	return any;
}

static int live_refresh(struct target *t)
{
	struct live_backend *b = t->backend;
	if (b->frozen)
		return 0;   /* memory cannot change while frozen: keep the cache */
	b->rehearsing = false;
	live_cache_clear(&b->cache);
	/* The thread list only matters for new threads, which the Python
	 * thread list shows first (a thread not listed yet counts as running):
	 * relist at most every RELIST_INTERVAL, and in between read only the
	 * run states of the threads known, when they are wanted. */
	double now = time_now();
	if (now - b->synced_at >= RELIST_INTERVAL || !read_known_states(t, b)) {
		int ret = live_sync_tasks(t, b);
		if (ret < 0)
			return ret;
		b->synced_at = now;
	}
	return live_refresh_maps(t, b);
}

/* PATH if it is still the file mapped (the inode /proc/PID/maps showed),
 * else -1. */
static int open_if_mapped(const char *path, const struct live_mapinfo *info)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || !info || !info->inode || (fstat(fd, &st) == 0 && (uint64_t)st.st_ino == info->inode))
		return fd;
	close(fd);
	return -1;
}

static int live_open_mapped_file(struct target *t, const struct target_mapping *m, char **resolved_path)
{
	struct live_backend *b = t->backend;
	const struct live_mapinfo *info = NULL;
	char path[PATH_MAX + 64];
	int fd = -1;
	if (resolved_path)
		*resolved_path = NULL;
	if (m >= t->mappings && m < t->mappings + t->nmappings)
		info = &b->mapinfo[m - t->mappings];
	if (!m->path)
		return err_set(ERR_NOENT, "no file is mapped at 0x%llx in pid %d", (unsigned long long)m->start,
		               (int)b->pid);
	/* Through the process's own root, so that containers work; a file that
	 * was replaced since (another inode) is not the one mapped. A path that
	 * lost a chroot's prefix is also where our /proc showed it. */
	if (!info || !info->deleted) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)b->pid, m->path);
		fd = open_if_mapped(path, info);
		if (fd < 0 && info && info->rerooted && b->root_prefix) {
			snprintf(path, sizeof(path), "%s%s", b->root_prefix, m->path);
			fd = open_if_mapped(path, info);
		}
		if (fd >= 0)
			return fd;
	}
	/* The mapping itself, which works for deleted files too. */
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)b->pid, (unsigned long long)m->start,
	         (unsigned long long)m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int saved = errno;
	return err_set_errno(saved == EACCES || saved == EPERM ? ERR_PERM : ERR_NOENT, saved,
	                     "cannot open %s, mapped by pid %d", m->path, (int)b->pid);
}

struct live_task *live_find_task(struct live_backend *b, pid_t tid)
{
	/* Looked up per thread per sample: a binary search over the sorted
	 * tasks, then the few caught during a freeze, appended after them. */
	struct live_task *tasks = b->tasks;
	size_t lo = 0, hi = b->nsorted < b->ntasks ? b->nsorted : b->ntasks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tasks[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->ntasks && tasks[lo].tid == tid)
		return &tasks[lo];
	for (size_t i = b->nsorted; i < b->ntasks; i++)
		if (tasks[i].tid == tid)
			return &tasks[i];
	return NULL;
}

static int live_thread_runtime(struct target *t, pid_t tid, struct target_runtime *out)
{
	struct live_backend *b = t->backend;
	struct live_task *task = live_find_task(b, tid);
	if (task && task->ctl == CTL_GONE)
		task = NULL;
	if (!task)
		return err_set(ERR_NO_PROCESS, "thread %d of pid %d is not known", (int)tid, (int)b->pid);
	bool had_fd = task->schedstat_fd >= 0;
	int ret = live_proc_task_runtime(b->pid, tid, &task->schedstat_fd, had_fd || b->open_stat_fds < MAX_STAT_FDS,
	                                 out);
	if (had_fd && task->schedstat_fd < 0)
		b->open_stat_fds--;
	else if (!had_fd && task->schedstat_fd >= 0)
		b->open_stat_fds++;
	return ret;
}

static int live_thread_syscall(struct target *t, pid_t tid, struct target_syscall *out)
{
	struct live_backend *b = t->backend;
	return live_proc_task_syscall(b->pid, tid, out);
}

static void live_destroy(struct target *t)
{
	struct live_backend *b = t->backend;
	if (!b)
		return;
	live_detach(t);
	for (size_t i = 0; i < b->ntasks; i++)
		close_stat_fd(b, &b->tasks[i]);
	if (b->task_dir_fd >= 0)
		close(b->task_dir_fd);
	if (b->mem_fd >= 0)
		close(b->mem_fd);
	free(b->bufs[0]);
	free(b->bufs[1]);
	free(b->listing);
	free(b->mapinfo);
	free(b->root_prefix);
	live_cache_release(&b->cache);
	free(b);
	t->backend = NULL;
}

static const struct target_ops live_ops = {
	.read = live_mem_read,
	.read_ranges = live_mem_read_ranges,
	.open_mapped_file = live_open_mapped_file,
	.destroy = live_destroy,
	.load_regs = live_load_regs,
	.prepare_freeze = live_prepare_freeze,
	.freeze = live_freeze,
	.resume = live_resume,
	.refresh = live_refresh,
	.stop_thread = live_stop_thread,
	.resume_last = live_resume_last,
	.set_freeze_policy = live_set_freeze_policy,
	.forget_pages = live_forget_pages,
	.prefetch_from_here = live_prefetch_from_here,
	.answer_reports = live_answer_reports,
	.last_pause = live_last_pause,
	.thread_runtime = live_thread_runtime,
	.thread_syscall = live_thread_syscall,
	.detach = live_detach,
	.hold_crashes = live_hold_crashes,
	.crash_held = live_crash_held,
	.release_crash = live_release_crash,
	.end_status = live_end_status,
};

static int open_task_dir(struct live_backend *b)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)b->pid);
	b->task_dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->task_dir_fd >= 0)
		return 0;
	int saved = errno;
	if (saved == ENOENT || saved == ESRCH)
		return err_set(ERR_NO_PROCESS, "no process with pid %d", (int)b->pid);
	int ret = err_set_errno(saved == EACCES || saved == EPERM ? ERR_PERM : ERR_IO, saved, "cannot open %s", path);
	if (ret == -ERR_PERM)
		live_perm_hint(b->pid, false);
	return ret;
}

int live_target_open(pid_t pid, const struct live_open_options *opts, struct target **out)
{
	struct target *t = NULL;
	struct live_backend *b = NULL;
	pid_t ppid, tgid, tracer;
	int ret;
	*out = NULL;
	if (pid <= 0)
		return err_set(ERR_NO_PROCESS, "no process with pid %d", (int)pid);
	t = xcalloc(1, sizeof(*t));
	b = t ? xcalloc(1, sizeof(*b)) : NULL;
	if (!b) {
		free(t);
		return -ERR_NOMEM;
	}
	t->ops = &live_ops;
	t->kind = TARGET_LIVE;
	t->pid = pid;
	t->backend = b;
	b->pid = pid;
	b->task_dir_fd = -1;
	b->mem_fd = -1;
	if ((ret = open_task_dir(b)) < 0)
		goto out;
	if ((ret = live_proc_ids(pid, &ppid, &tgid, &tracer)) < 0) {
		if (ret == -ERR_PROCESS_GONE)
			ret = err_set(ERR_NO_PROCESS, "no process with pid %d", (int)pid);
		goto out;
	}
	if (tgid != pid) {
		/* /proc/TID exists for threads too, though it is not listed. */
		ret = err_set(ERR_NO_PROCESS, "%d is a thread of process %d, not a process", (int)pid, (int)tgid);
		err_hint("pass --pid %d", (int)tgid);
		goto out;
	}
	b->is_parent = ppid == getpid();
	if ((ret = live_ns_open(t, b)) < 0 || (ret = live_proc_command(pid, &t->command)) < 0 ||
	    (ret = live_proc_executable(pid, &t->executable)) < 0 ||
	    (ret = live_proc_auxv(pid, &t->auxv, &t->auxv_words)) < 0 || (ret = read_maps(t, b)) < 0 ||
	    (ret = live_cache_init(&b->cache)) < 0) {
		if (ret == -ERR_PERM) {
			/* The file that failed matters less than whose it is. */
			ret = err_set(ERR_PERM, "cannot inspect pid %d: permission denied", (int)pid);
			live_perm_hint(pid, false);
		}
		goto out;
	}
	live_ns_reroot(b, t->executable);
	b->freeze = opts && opts->freeze;
	if (opts && opts->policy)
		live_set_freeze_policy(t, opts->policy);
	else
		b->run_states = true;
	if ((ret = live_sync_tasks(t, b)) < 0)
		goto out;
	*out = t;
	t = NULL;
out:
	target_free(t);
	return ret;
}
