/* One sampling round over a live target: capture every thread's Python
 * frames and their code objects (with the target frozen in freeze mode),
 * let the target run again, then intern and count. Buffers grow during
 * warm-up and are reused, so a steady-state sample allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/internal.h"
#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

enum { MAX_DEPTH = 4096, LOST_ROUNDS = 5 };
/* Seconds a thread's run time must stay the same before its stack is
 * reused: longer than the slowest scheduler tick (100 Hz), so that a thread
 * on a CPU all along would have been charged for it (docs/record.md). */
#define REUSE_SPAN 0.011

/* One kept thread of the last capture. A capture stays with its index in
 * the list of kept threads from sample to sample, so that the stack of a
 * thread that has not run since can be taken again as it is. */
struct thread_capture {
	pid_t tid;
	bool failed;
	enum sampler_error error; /* what failed, when FAILED */
	bool waiting;            /* kept by --idle though not running */
	char name[16];           /* the OS's (comm) */
	uint64_t thread_id, interp_addr; /* of its thread state */
	int64_t interp_id;       /* its interpreter's (pythread.interp_id) */
	struct pyframe *frames;  /* MAX_DEPTH entries */
	size_t nframes;
	int native_copy;         /* index of the native copy, or -1 */
	/* Freeze mode, threads the freeze left asleep (docs/record.md, "Which
	 * threads a freeze stops"). */
	bool unstopped;          /* read or reused without being stopped */
	bool reusable;           /* FRAMES were read whole in a pause */
	bool reused;             /* this sample's FRAMES are an earlier sample's */
	bool dropped;            /* reused, but the thread ran meanwhile: left out of this sample */
	bool has_base, has_last;
	/* With tasks: how many innermost FRAMES the running task owns (0: it
	 * runs none), and the tasks awaiting it (levels from 1) with their
	 * frames in TASK_FRAMES; TASK_FAILED when they could not be read. */
	size_t task_keep;
	bool task_failed;
	struct pytask_level levels[PYTASK_MAX_LEVELS];
	size_t nlevels;
	struct pyframe *task_frames; /* MAX_DEPTH entries, with tasks */
	size_t ntask_frames;
	struct target_runtime base; /* its run time before FRAMES were read */
	struct target_runtime last; /* its run time after the last sample */
	double base_at, last_at; /* when BASE and LAST were read */
};

void sampler_init(struct sampler *s, struct target *t, struct pywalker *w, struct aggregate *agg,
                  const struct sampler_options *opts)
{
	memset(s, 0, sizeof(*s));
	s->target = t;
	s->walker = w;
	s->agg = agg;
	s->opts = *opts;
	/* A freeze stops only the threads that may be running (run state R
	 * or D) and the GIL holder; the stacks of the others are read while
	 * they sleep. That is exact because no thread can change its Python
	 * frames without holding the GIL, which the stopped holder keeps
	 * (docs/record.md, "Which threads a freeze stops"). Stopping a
	 * sleeping thread would wake it, and cost a stop per thread: with
	 * hundreds parked, the pause would grow with them. Without --idle the
	 * sleeping threads are not even read: their run state says they wait.
	 * Stopped threads are told idle by their registers. */
	s->policy.run_states = opts->freeze || !opts->idle;
	/* Only the threads kept are walked: their frames only are reached. */
	pywalker_lazy_frames(w, true);
	s->policy.only_running = opts->freeze;
	/* A thread slow to stop (off CPU, or in the kernel) need not keep the
	 * stopped ones waiting: the walk needs its memory, not its registers.
	 * Its run state then says whether it waits. Native stacks need the
	 * registers (sampler_enable_native() turns this off). */
	s->policy.hold_unstopped = opts->freeze;
	target_set_freeze_policy(t, &s->policy);
}

void sampler_set_aggregate(struct sampler *s, struct aggregate *agg)
{
	s->agg = agg;
	hashtab_release(&s->memo);
	memset(&s->memo, 0, sizeof(s->memo));
}

void sampler_release(struct sampler *s)
{
	for (size_t i = 0; i < s->ncaptures_cap; i++) {
		free(s->captures[i].frames);
		free(s->captures[i].task_frames);
	}
	pytasks_free(s->tasks);
	free(s->captures);
	free(s->ids);
	hashtab_release(&s->memo);
	thread_roots_release(&s->roots);
	pause_stats_release(&s->stats.pauses);
	sampler_native_free(s->native);
	memset(s, 0, sizeof(*s));
}

static int ensure_captures(struct sampler *s, size_t n)
{
	if (n <= s->ncaptures_cap)
		return 0;
	struct thread_capture *grown = xrealloc_array(s->captures, n, sizeof(*grown));
	if (!grown)
		return -ERR_NOMEM;
	s->captures = grown;
	for (size_t i = s->ncaptures_cap; i < n; i++) {
		memset(&grown[i], 0, sizeof(grown[i]));
		grown[i].frames = xcalloc(MAX_DEPTH, sizeof(struct pyframe));
		if (s->tasks)
			grown[i].task_frames = xcalloc(MAX_DEPTH, sizeof(struct pyframe));
		if (!grown[i].frames || (s->tasks && !grown[i].task_frames)) {
			free(grown[i].frames);
			s->ncaptures_cap = i;
			return -ERR_NOMEM;
		}
	}
	s->ncaptures_cap = n;
	return 0;
}

/* Whether to count the thread; *WAITING: it was waiting, not running. */
static bool keep_thread(const struct sampler *s, const struct pythread *th, const struct target_thread *os,
                        bool *waiting)
{
	/* With --gil only the holder counts, and it is not waiting: asking
	 * about the others would read their registers inside the pause. */
	if (s->opts.gil_only) {
		*waiting = false;
		return th->holds_gil;
	}
	*waiting = !th->holds_gil && target_thread_waiting(s->target, os);
	return s->opts.idle || !*waiting;
}

static bool same_runtime(const struct target_runtime *a, const struct target_runtime *b)
{
	return a->run_ns == b->run_ns && a->switches == b->switches;
}

/* Whether capture C holds the stack of thread TID as it still is, provided
 * the run time read after this sample is still C->base (checked then). */
static bool may_reuse(const struct sampler *s, const struct thread_capture *c, pid_t tid, double now)
{
	return s->opts.freeze && !s->native && c->tid == tid && c->reusable && c->has_base && c->has_last &&
	       same_runtime(&c->base, &c->last) && now - c->base_at >= REUSE_SPAN;
}

/* Whether OS is a thread the freeze left running (asleep when it began). */
static bool left_running(const struct target_thread *os)
{
	return os && !os->has_regs && !os->regs_pending && !os->held;
}

/* Whether the stack of thread TH, at INDEX in the last thread list, will be
 * read in this pause (or, in the rehearsal, probably will be): then its
 * thread state is read again. The others are threads left asleep that are
 * not counted (without --idle) or whose stacks are taken from an earlier
 * sample; the GIL holder is read in any case. */
static bool must_read_thread(void *ctx, size_t index, const struct pythread *th)
{
	struct sampler *s = ctx;
	const struct target_thread *os = target_find_thread(s->target, th->tid);
	bool waiting;
	if (s->opts.gil_only || !os || !left_running(os))
		return !s->opts.gil_only;
	if (!keep_thread(s, th, os, &waiting))
		return false;
	/* With --idle every thread is kept: captures follow the list. */
	return !(s->opts.idle && index < s->ncaptures_cap && may_reuse(s, &s->captures[index], th->tid, s->now));
}

/* The thread list of this capture. A pause reads again only the thread
 * states whose stacks it reads (python/threads_again.c); the rehearsal
 * reads the whole list, then the part the pause will read, so that the
 * pause fetches the pages of that part only. */
static int list_threads(struct sampler *s, bool rehearsal, const struct pythread **threads, size_t *n)
{
	s->now = time_now();
	if (!s->opts.freeze)
		return pywalker_threads(s->walker, threads, n);
	if (!rehearsal)
		return pywalker_threads_again(s->walker, must_read_thread, s, threads, n);
	int ret = pywalker_threads(s->walker, threads, n);
	if (ret < 0)
		return ret;
	target_prefetch_from_here(s->target);
	return pywalker_threads_again(s->walker, must_read_thread, s, threads, n);
}

/* In the pause, before any stack is read: stop the kept threads the freeze
 * left running whose stacks could change as we read them. A thread asleep
 * cannot change its Python frames before it takes the GIL: while a stopped
 * thread holds it, they are read as they are; the holder itself, and any
 * thread when nobody holds the GIL, are stopped, unless their stack is
 * taken from an earlier sample (checked after the pause). Returns whether
 * one was stopped: the thread list is then read again. */
static bool stop_late(struct sampler *s, const struct pythread *threads, size_t n)
{
	bool gil_held = false, stopped = false;
	double now = time_now();
	for (size_t i = 0; i < n; i++)
		gil_held |= threads[i].holds_gil;
	for (size_t i = 0, kept = 0; i < n; i++) {
		const struct target_thread *os = target_find_thread(s->target, threads[i].tid);
		bool waiting;
		if (!keep_thread(s, &threads[i], os, &waiting))
			continue;
		const struct thread_capture *c = &s->captures[kept++];
		if (!left_running(os) || (gil_held && !threads[i].holds_gil))
			continue;
		if (!threads[i].holds_gil && may_reuse(s, c, threads[i].tid, now))
			continue;
		stopped |= target_stop_thread(s->target, os->tid) == 0;
	}
	return stopped;
}

/* Read the stacks and their code objects; in freeze mode this is the
 * whole pause. *TORN is set when the thread list or a stack could not be
 * read to the end. A REHEARSAL reads the running process before a freeze
 * only to warm the caches: it stops no thread, copies no native stack and
 * decodes no code object. */
static int capture(struct sampler *s, bool rehearsal, size_t *ncaptured, bool *torn)
{
	const struct pythread *threads;
	size_t n = 0, kept = 0;
	bool stopped_late = false;
	bool pause = s->opts.freeze && !rehearsal;
again:
	kept = 0;
	s->gil_holder = 0;
	int ret = list_threads(s, rehearsal, &threads, &n);
	*torn = ret < 0;
	if (ret < 0 && !n)
		return ret;
	if ((ret = ensure_captures(s, n)) < 0)
		return ret;
	if (pause && !stopped_late) {
		stopped_late = true;
		if (stop_late(s, threads, n)) {
			target_forget_pages(s->target);
			goto again;
		}
	}
	if (s->native && !rehearsal)
		sampler_native_begin(s->native);
	bool tasks = s->tasks && !rehearsal && pytasks_sample_begin(s->tasks, threads, n) == 0;
	double now = time_now();
	for (size_t i = 0; i < n; i++) {
		const struct target_thread *os = target_find_thread(s->target, threads[i].tid);
		bool waiting;
		if (threads[i].holds_gil)
			s->gil_holder = threads[i].tid;
		if (!keep_thread(s, &threads[i], os, &waiting))
			continue;
		struct thread_capture *c = &s->captures[kept++];
		bool unstopped = s->opts.freeze && left_running(os);
		/* Not run since its stack was read: the stack is the same. The
		 * rehearsal leaves it alone too. */
		if (unstopped && !threads[i].holds_gil && may_reuse(s, c, threads[i].tid, now)) {
			c->waiting = waiting;
			c->unstopped = c->reused = true;
			c->dropped = false;
			c->native_copy = -1;
			continue;
		}
		if (c->tid != threads[i].tid)
			c->has_last = false;
		c->base = c->last;
		c->base_at = c->last_at;
		c->has_base = c->has_last;
		c->unstopped = unstopped;
		c->reused = c->dropped = false;
		c->tid = threads[i].tid;
		c->thread_id = threads[i].thread_id;
		c->interp_addr = threads[i].interp_addr;
		c->interp_id = threads[i].interp_id;
		c->waiting = waiting;
		if (os)
			memcpy(c->name, os->name, sizeof(c->name));
		else
			c->name[0] = '\0';
		c->nframes = 0;
		c->failed = false;
		if ((threads[i].frame_addr || threads[i].cframe_addr) &&
		    (ret = pywalker_stack_raw(s->walker, &threads[i], c->frames, MAX_DEPTH, &c->nframes)) < 0) {
			c->failed = true;
			c->error = ret == -ERR_LIMIT ? SAMPLER_ERR_DEPTH : SAMPLER_ERR_FRAMES;
			*torn = true;
		}
		/* Code objects are immutable, not immortal: once the process runs
		 * again, a frame can return and drop the last reference to its
		 * code, whose memory is then freed and reused. So they are read
		 * (checked against the cache, new ones decoded) while the frames
		 * that hold them are there; a torn read in the rehearsal must not
		 * reach the cache. */
		size_t resolved;
		if (!rehearsal && pywalker_resolve_codes(s->walker, c->frames, c->nframes, &resolved) < 0) {
			c->failed = true;
			c->error = SAMPLER_ERR_CODE;
			c->nframes = resolved;
			*torn = true;
		}
		c->task_keep = c->nlevels = c->ntask_frames = 0;
		c->task_failed = false;
		if (s->tasks && !c->failed && c->nframes) {
			c->task_failed = !tasks ||
			                 pytasks_sample_thread(s->tasks, &threads[i], c->frames, c->nframes, &c->task_keep,
			                                       c->levels, &c->nlevels, c->task_frames, MAX_DEPTH,
			                                       &c->ntask_frames) < 0;
			if (c->task_failed) {
				c->task_keep = c->nlevels = c->ntask_frames = 0;
				*torn = true;
			}
		}
		c->reusable = pause && !c->failed;
		c->native_copy = s->native && !rehearsal ? sampler_native_copy(s->native, s->target, os) : -1;
	}
	*ncaptured = kept;
	return 0;
}

/* After the pause: how much each thread read or reused without a stop has
 * run by now. A reused stack stands only if the thread has not run since
 * before it was read; otherwise the thread woke around the pause, its stack
 * then is unknown, and it is left out of this sample. */
static void check_unstopped(struct sampler *s, size_t ncaptured)
{
	for (size_t i = 0; i < ncaptured; i++) {
		struct thread_capture *c = &s->captures[i];
		struct target_runtime now = {0};
		if (!c->unstopped) {
			c->has_last = false;
			continue;
		}
		c->has_last = target_thread_runtime(s->target, c->tid, &now) == 0;
		if (c->reused && (!c->has_last || !same_runtime(&now, &c->base))) {
			c->dropped = true;
			c->reusable = false;
			s->stats.left_out++;
		}
		c->last = now;
		c->last_at = time_now();
	}
}

/* Lines, for the native merge, which places frames by them (counting
 * memoizes them per (code, offset) instead); in freeze mode the process
 * runs again. They come from the decoded line tables: nothing is read. */
static void resolve_lines(struct sampler *s, size_t ncaptured)
{
	for (size_t i = 0; s->native && i < ncaptured; i++) {
		struct thread_capture *c = &s->captures[i];
		for (size_t k = 0; k < c->nframes; k++)
			c->frames[k].line = pywalker_line(s->walker, c->frames[k].code, c->frames[k].byte_offset);
	}
}

/* The aggregate's id for a Python frame; computed once per distinct
 * (code, offset). Code objects live as long as the walker, so their
 * addresses are stable keys. */
static int python_frame_id(struct sampler *s, const struct pyframe *f, uint32_t *id)
{
	int ret;
	if ((ret = hashtab_reserve(&s->memo, s->memo.count + 1, sizeof(struct frame_memo_slot))) < 0)
		return ret;
	uint64_t hash = hash_pair((uintptr_t)f->code, (uint32_t)f->byte_offset);
	size_t pos = hashtab_start(&s->memo, hash);
	for (const struct frame_memo_slot *memo; (memo = hashtab_next(&s->memo, hash, &pos));) {
		if (memo->code == f->code && memo->byte_offset == f->byte_offset) {
			*id = memo->frame_id;
			return 0;
		}
	}
	int line = s->opts.by_function ? -1 : pywalker_line(s->walker, f->code, f->byte_offset);
	if ((ret = agg_python_frame(s->agg, f->code->qualname, f->code->filename, line, id)) < 0)
		return ret;
	struct frame_memo_slot *memo = hashtab_slot(&s->memo, pos);
	hashtab_claim(&s->memo, memo, hash);
	memo->code = f->code;
	memo->byte_offset = f->byte_offset;
	memo->frame_id = *id;
	return 0;
}

/* The tasks above a running task's frames, outermost awaiter first: each a
 * `task NAME` frame and its suspended chain, then the running task's own
 * `task NAME` frame. */
static int count_tasks(struct sampler *s, const struct thread_capture *c, size_t *n)
{
	int ret;
	for (size_t level = c->nlevels; level-- > 0;) {
		const struct pytask_level *l = &c->levels[level];
		char label[96];
		if (l->name[0])
			snprintf(label, sizeof(label), "task %s", l->name);
		else
			snprintf(label, sizeof(label), "task 0x%llx", (unsigned long long)l->task);
		if ((ret = agg_frame(s->agg, AGG_THREAD, label, NULL, -1, &s->ids[(*n)++])) < 0)
			return ret;
		for (size_t k = l->first + l->count; k-- > l->first;)
			if ((ret = python_frame_id(s, &c->task_frames[k], &s->ids[(*n)++])) < 0)
				return ret;
	}
	return 0;
}

static int count_capture(struct sampler *s, const struct thread_capture *c)
{
	struct aggregate *agg = s->agg;
	size_t need = c->nframes + STACK_ROOTS_MAX + c->ntask_frames + c->nlevels;
	size_t n = 0;
	int ret;
	/* A thread state with neither an OS thread nor a Python frame is
	 * being created or torn down: nothing of it to show, not even a root. */
	if (!c->tid && !c->nframes && !c->failed)
		return 0;
	if (ARRAY_GROW(s->ids, s->ids_cap, need) < 0)
		return -ERR_NOMEM;
	struct stack_roots roots = {.process = s->opts.process_root, .unreadable = c->failed};
	if (s->opts.thread_roots) {
		const char *name = pywalker_thread_name(s->walker, c->interp_addr, c->thread_id, c->tid);
		/* Found once per interpreter, after the pause (a scan of its modules). */
		const char *interp = c->interp_id > 0 ? pywalker_interp_name(s->walker, c->interp_addr, c->interp_id)
		                                      : NULL;
		if ((ret = thread_roots_frame(&s->roots, agg, c->tid, c->interp_id, interp, name, c->name,
		                              &roots.thread_frame)) < 0)
			return ret;
		roots.thread_interned = true;
	}
	if ((ret = stack_roots_add(agg, &roots, s->ids, &n)) < 0)
		return ret;
	if (s->native) {
		ret = sampler_native_count(s->native, c->native_copy, c->frames, c->nframes, agg, s->opts.by_function,
		                           &s->ids, &s->ids_cap, &n);
		if (ret < 0)
			return ret;
	}
	size_t own = c->nframes;
	if (c->task_keep) {
		if ((ret = count_tasks(s, c, &n)) < 0)
			return ret;
		own = c->task_keep;
	}
	for (size_t k = s->native ? 0 : own; k-- > 0;)
		if ((ret = python_frame_id(s, &c->frames[k], &s->ids[n++])) < 0)
			return ret;
	if (!n)
		return 0;
	return agg_add_at(agg, s->ids, n, 1, c->waiting ? 1 : 0, s->taken_ns);
}

/* Whether capture I, without Python frames, is of a thread that has a
 * thread state in another interpreter too (mod_wsgi gives each of its
 * threads one in each application group it served): the thread runs in at
 * most one of them, and a thread root would count it twice. */
static bool other_state_of_thread(const struct sampler *s, size_t ncaptured, size_t i)
{
	const struct thread_capture *c = &s->captures[i];
	if (c->nframes || c->failed || !c->tid)
		return false;
	for (size_t k = 0; k < ncaptured; k++)
		if (k != i && s->captures[k].tid == c->tid && s->captures[k].interp_addr != c->interp_addr)
			return true;
	return false;
}

static const char *const error_names[SAMPLER_ERR__COUNT] = {
	[SAMPLER_ERR_FREEZE] = "process not stopped or listed",
	[SAMPLER_ERR_THREADS] = "thread list unreadable",
	[SAMPLER_ERR_FRAMES] = "frame chain unreadable",
	[SAMPLER_ERR_DEPTH] = "stack too deep",
	[SAMPLER_ERR_CODE] = "code object unreadable",
	[SAMPLER_ERR_TASKS] = "task awaiters unreadable",
};

const char *sampler_error_name(enum sampler_error kind)
{
	return kind < SAMPLER_ERR__COUNT ? error_names[kind] : "unknown";
}

static void count_error(struct sampler *s, enum sampler_error kind)
{
	s->stats.errors++;
	s->stats.error_kinds[kind]++;
}

int sampler_enable_tasks(struct sampler *s)
{
	if (s->tasks)
		return 0;
	if (s->native)
		return err_set(ERR_USAGE, "tasks and native frames cannot be sampled together");
	int ret = pytasks_new(s->walker, &s->tasks);
	if (ret < 0)
		return ret;
	/* Captures made before have no room for task frames. */
	for (size_t i = 0; i < s->ncaptures_cap; i++)
		if (!s->captures[i].task_frames &&
		    !(s->captures[i].task_frames = xcalloc(MAX_DEPTH, sizeof(struct pyframe))))
			return -ERR_NOMEM;
	return 0;
}

int sampler_sample(struct sampler *s)
{
	size_t ncaptured = 0;
	int ret;
	bool torn = false;
	if (s->opts.freeze) {
		/* The walk first runs on the running process and its result is
		 * thrown away: after the sleep between samples our caches, the
		 * kernel's and the CPU's are cold, and the walk in the pause would
		 * take three times as long. It also tells the freeze which pages
		 * to fetch. */
		if ((ret = target_prepare_freeze(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		(void)capture(s, true, &ncaptured, &torn);
		if ((ret = target_freeze(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		if (s->agg->timeline)
			s->taken_ns = time_realtime_ns();
		int captured = capture(s, false, &ncaptured, &torn);
		target_resume_last(s->target, s->gil_holder);
		target_resume(s->target);
		/* A freeze that found every thread asleep stopped none: no
		 * pause to count (it would pull the median to 0). */
		if (target_last_pause(s->target) > 0)
			pause_stats_add(&s->stats.pauses, target_last_pause(s->target));
		if (captured >= 0)
			check_unstopped(s, ncaptured);
		ret = captured;
	} else {
		if ((ret = target_refresh(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		if (s->agg->timeline)
			s->taken_ns = time_realtime_ns();
		ret = capture(s, false, &ncaptured, &torn);
		/* The process ran while we read: a torn stack is read once more,
		 * with fresh pages. */
		if (torn && ret != -ERR_PROCESS_GONE) {
			target_forget_pages(s->target);
			ret = capture(s, false, &ncaptured, &torn);
		}
	}
	/* A torn thread list with every stack whole still counts once. */
	bool stack_failed = false;
	for (size_t i = 0; ret >= 0 && i < ncaptured; i++)
		stack_failed |= s->captures[i].failed || s->captures[i].task_failed;
	if (torn && ret >= 0 && !stack_failed)
		count_error(s, SAMPLER_ERR_THREADS);
	if (ret < 0) {
		if (ret == -ERR_PROCESS_GONE)
			return ret;
		count_error(s, SAMPLER_ERR_THREADS);
		if (++s->lost_rounds >= LOST_ROUNDS)
			return err_set(ERR_NOT_PYTHON, "no Python thread state where the interpreter was in pid %d",
			               (int)s->target->pid);
		return 0;
	}
	s->lost_rounds = 0;
	resolve_lines(s, ncaptured);
	/* Thread roots are named as of this sample: the registry of threads
	 * is read after the pause, while the process runs (a name that cannot
	 * be read leaves the root's name as it was). */
	if (s->opts.thread_roots) {
		const struct pythread_name *names;
		size_t nnames;
		if (pywalker_thread_names(s->walker, &names, &nnames) < 0)
			err_clear();
	}
	s->stats.samples++;
	size_t counted = 0;
	for (size_t i = 0; i < ncaptured; i++) {
		if (s->captures[i].dropped || other_state_of_thread(s, ncaptured, i))
			continue;
		if (s->captures[i].failed)
			count_error(s, s->captures[i].error);
		else if (s->captures[i].task_failed)
			count_error(s, SAMPLER_ERR_TASKS);
		if ((ret = count_capture(s, &s->captures[i])) < 0)
			return ret;
		s->stats.stacks++;
		counted++;
	}
	/* A sample that kept no stack is on the timeline too: the threads were
	 * looked at and none was running. With several processes in one
	 * aggregate it could not say whose sample it was. */
	if (!counted && s->agg->timeline && !s->opts.process_root)
		return agg_timeline_add(s->agg, 0, s->taken_ns);
	return 0;
}
