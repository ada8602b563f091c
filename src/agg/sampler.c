/* One sampling round over a live target: capture every thread's Python
 * frames and their code objects (with the target frozen in freeze mode),
 * let the target run again, then intern and count. Buffers grow during
 * warm-up and are reused, so a steady-state sample allocates nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/sampler.h"

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
	live_target_want_run_states(t, !opts->idle);
	/* Only the threads kept are walked: their frames only are reached. */
	pywalker_lazy_frames(w, true);
	if (opts->freeze)
		live_target_stop_only_running(t, !opts->idle);
	/* A thread slow to stop (off CPU, or in the kernel) need not keep the
	 * stopped ones waiting: the walk needs its memory, not its registers.
	 * Its run state then says whether it waits. Native stacks need the
	 * registers (sampler_enable_native() turns this off). */
	if (opts->freeze && !opts->idle)
		live_target_hold_unstopped(t, true);
}

void sampler_release(struct sampler *s)
{
	for (size_t i = 0; i < s->ncaptures_cap; i++)
		free(s->captures[i].frames);
	free(s->captures);
	free(s->ids);
	free(s->memo);
	free(s->stats.pauses);
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
		    !os->held && live_target_stop_thread(s->target, os->tid) == 0) {
			stopped_late = true;
			live_target_forget_pages(s->target);
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

static size_t memo_slot(const struct pycode *code, int byte_offset, size_t cap)
{
	uint64_t h = ((uint64_t)(uintptr_t)code ^ ((uint64_t)(uint32_t)byte_offset << 40)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (cap - 1);
}

static int memo_grow(struct sampler *s)
{
	size_t cap = s->memo_cap ? s->memo_cap * 2 : 1024;
	struct frame_memo_slot *fresh = xcalloc(cap, sizeof(*fresh));
	if (!fresh)
		return -ERR_NOMEM;
	for (size_t i = 0; i < s->memo_cap; i++) {
		const struct frame_memo_slot *old = &s->memo[i];
		if (!old->code)
			continue;
		size_t k = memo_slot(old->code, old->byte_offset, cap);
		while (fresh[k].code)
			k = (k + 1) & (cap - 1);
		fresh[k] = *old;
	}
	free(s->memo);
	s->memo = fresh;
	s->memo_cap = cap;
	return 0;
}

/* The aggregate's id for a Python frame; computed once per distinct
 * (code, offset). Code objects live as long as the walker, so their
 * addresses are stable keys. */
static int python_frame_id(struct sampler *s, const struct pyframe *f, uint32_t *id)
{
	int ret;
	if (s->memo_used * 2 >= s->memo_cap && (ret = memo_grow(s)) < 0)
		return ret;
	size_t k = memo_slot(f->code, f->byte_offset, s->memo_cap);
	for (; s->memo[k].code; k = (k + 1) & (s->memo_cap - 1)) {
		if (s->memo[k].code == f->code && s->memo[k].byte_offset == f->byte_offset) {
			*id = s->memo[k].frame_id;
			return 0;
		}
	}
	int line = s->opts.by_function ? -1 : pywalker_line(s->walker, f->code, f->byte_offset);
	if ((ret = agg_python_frame(s->agg, f->code->qualname, f->code->filename, line, id)) < 0)
		return ret;
	s->memo[k] = (struct frame_memo_slot){.code = f->code, .byte_offset = f->byte_offset, .frame_id = *id};
	s->memo_used++;
	return 0;
}

static int count_capture(struct sampler *s, const struct thread_capture *c)
{
	struct aggregate *agg = s->agg;
	size_t need = c->nframes + 3;
	size_t n = 0;
	int ret;
	if (need > s->ids_cap) {
		uint32_t *grown = xrealloc_array(s->ids, need, sizeof(*grown));
		if (!grown)
			return -ERR_NOMEM;
		s->ids = grown;
		s->ids_cap = need;
	}
	if (s->opts.process_root && (ret = agg_frame(agg, AGG_PROCESS, s->opts.process_root, NULL, -1, &s->ids[n++])) < 0)
		return ret;
	if (s->opts.thread_roots) {
		char label[64];
		snprintf(label, sizeof(label), "thread %d \"%s\"", (int)c->tid, c->name);
		if ((ret = agg_frame(agg, AGG_THREAD, label, NULL, -1, &s->ids[n++])) < 0)
			return ret;
	}
	if (c->failed && (ret = agg_frame(agg, AGG_ERROR, "[unreadable stack]", NULL, -1, &s->ids[n++])) < 0)
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

static void record_pause(struct sampler *s, double seconds)
{
	struct sampler_stats *st = &s->stats;
	if (st->npauses == st->pauses_cap) {
		size_t cap = st->pauses_cap ? st->pauses_cap * 2 : 1024;
		double *grown = xrealloc_array(st->pauses, cap, sizeof(*grown));
		if (!grown)
			return;
		st->pauses = grown;
		st->pauses_cap = cap;
	}
	st->pauses[st->npauses++] = seconds;
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
		if ((ret = live_target_prepare_freeze(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		(void)capture(s, true, &ncaptured, &torn);
		if ((ret = live_target_freeze(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		int captured = capture(s, false, &ncaptured, &torn);
		live_target_resume_last(s->target, s->gil_holder);
		live_target_resume(s->target);
		record_pause(s, live_target_last_pause(s->target));
		ret = captured;
	} else {
		if ((ret = live_target_refresh(s->target)) < 0)
			return ret == -ERR_PROCESS_GONE ? ret : (count_error(s, SAMPLER_ERR_FREEZE), 0);
		ret = capture(s, false, &ncaptured, &torn);
		/* The process ran while we read: a torn stack is read once more,
		 * with fresh pages. */
		if (torn && ret != -ERR_PROCESS_GONE) {
			live_target_forget_pages(s->target);
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

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double percentile(double *values, size_t n, double p)
{
	if (!n)
		return 0;
	qsort(values, n, sizeof(*values), compare_doubles);
	size_t index = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return values[index < n ? index : n - 1];
}
