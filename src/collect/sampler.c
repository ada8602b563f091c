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

struct thread_capture {
	pid_t tid;
	bool failed;
	enum sampler_error error; /* what failed, when FAILED */
	bool waiting;            /* kept by --idle though not running */
	char name[16];
	struct pyframe *frames;  /* MAX_DEPTH entries */
	size_t nframes;
	int native_copy;         /* index of the native copy, or -1 */
};

void sampler_init(struct sampler *s, struct target *t, struct pywalker *w, struct aggregate *agg,
                  const struct sampler_options *opts)
{
	memset(s, 0, sizeof(*s));
	s->target = t;
	s->walker = w;
	s->agg = agg;
	s->opts = *opts;
	/* Unless idle threads are kept, a freeze stops only the threads that
	 * may be running: the others are idle by their run state, and stopping
	 * them would wake them. Stopped threads are told idle by their
	 * registers. With --idle every thread is stopped and nobody asks. */
	s->policy.run_states = !opts->idle;
	/* Only the threads kept are walked: their frames only are reached. */
	pywalker_lazy_frames(w, true);
	s->policy.only_running = opts->freeze && !opts->idle;
	/* A thread slow to stop (off CPU, or in the kernel) need not keep the
	 * stopped ones waiting: the walk needs its memory, not its registers.
	 * Its run state then says whether it waits. Native stacks need the
	 * registers (sampler_enable_native() turns this off). */
	s->policy.hold_unstopped = opts->freeze && !opts->idle;
	target_set_freeze_policy(t, &s->policy);
}

void sampler_release(struct sampler *s)
{
	for (size_t i = 0; i < s->ncaptures_cap; i++)
		free(s->captures[i].frames);
	free(s->captures);
	free(s->ids);
	hashtab_release(&s->memo);
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
		if (!grown[i].frames) {
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
again:
	kept = 0;
	s->gil_holder = 0;
	int ret = pywalker_threads(s->walker, &threads, &n);
	*torn = ret < 0;
	if (ret < 0 && !n)
		return ret;
	if ((ret = ensure_captures(s, n)) < 0)
		return ret;
	if (s->native && !rehearsal)
		sampler_native_begin(s->native);
	for (size_t i = 0; i < n; i++) {
		const struct target_thread *os = target_find_thread(s->target, threads[i].tid);
		bool waiting;
		if (threads[i].holds_gil)
			s->gil_holder = threads[i].tid;
		if (!keep_thread(s, &threads[i], os, &waiting))
			continue;
		/* Kept but left running by the freeze: the GIL holder asleep in a
		 * system call, or just woken. Stop it, then read the thread list
		 * again: it may have moved on since its state was read. */
		if (s->opts.freeze && !rehearsal && !stopped_late && os && !os->has_regs && !os->regs_pending &&
		    !os->held && target_stop_thread(s->target, os->tid) == 0) {
			stopped_late = true;
			target_forget_pages(s->target);
			goto again;
		}
		struct thread_capture *c = &s->captures[kept++];
		c->tid = threads[i].tid;
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
		c->native_copy = s->native && !rehearsal ? sampler_native_copy(s->native, s->target, os) : -1;
	}
	*ncaptured = kept;
	return 0;
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

static int count_capture(struct sampler *s, const struct thread_capture *c)
{
	struct aggregate *agg = s->agg;
	size_t need = c->nframes + STACK_ROOTS_MAX;
	size_t n = 0;
	int ret;
	if (ARRAY_GROW(s->ids, s->ids_cap, need) < 0)
		return -ERR_NOMEM;
	struct stack_roots roots = {.process = s->opts.process_root, .thread = s->opts.thread_roots, .tid = c->tid,
	                            .thread_name = c->name, .unreadable = c->failed};
	if ((ret = stack_roots_add(agg, &roots, s->ids, &n)) < 0)
		return ret;
	if (s->native) {
		ret = sampler_native_count(s->native, c->native_copy, c->frames, c->nframes, agg, s->opts.by_function,
		                           &s->ids, &s->ids_cap, &n);
		if (ret < 0)
			return ret;
	}
	for (size_t k = s->native ? 0 : c->nframes; k-- > 0;)
		if ((ret = python_frame_id(s, &c->frames[k], &s->ids[n++])) < 0)
			return ret;
	if (!n)
		return 0;
	return c->waiting ? agg_add_waiting(agg, s->ids, n, 1) : agg_add(agg, s->ids, n, 1);
}

static const char *const error_names[SAMPLER_ERR__COUNT] = {
	[SAMPLER_ERR_FREEZE] = "process not stopped or listed",
	[SAMPLER_ERR_THREADS] = "thread list unreadable",
	[SAMPLER_ERR_FRAMES] = "frame chain unreadable",
	[SAMPLER_ERR_DEPTH] = "stack too deep",
	[SAMPLER_ERR_CODE] = "code object unreadable",
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
		int captured = capture(s, false, &ncaptured, &torn);
		target_resume_last(s->target, s->gil_holder);
		target_resume(s->target);
		pause_stats_add(&s->stats.pauses, target_last_pause(s->target));
		ret = captured;
	} else {
		if ((ret = target_refresh(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
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
		stack_failed |= s->captures[i].failed;
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
	s->stats.samples++;
	for (size_t i = 0; i < ncaptured; i++) {
		if (s->captures[i].failed)
			count_error(s, s->captures[i].error);
		if ((ret = count_capture(s, &s->captures[i])) < 0)
			return ret;
		s->stats.stacks++;
	}
	return 0;
}
