/* Collecting every thread's stack: joins the target's OS threads with the
 * Python thread states, marks the crashed thread, the GIL holder and idle
 * threads, and orders them crashed first, then oldest first; for a running
 * process, within one freeze. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

enum { MAX_FRAMES = 65536 };

static bool thread_is_idle(struct target *t, const struct target_thread *os, const struct thread_stack *ts,
                           const struct pyframe *innermost)
{
	if (ts->crashed || ts->gil)
		return false;
	if (os && (os->has_regs || os->state))
		return target_thread_waiting(t, os);
	return innermost && pyframe_looks_idle(innermost);
}

/* The state of each interpreter the threads belong to, read once. */
struct interp_states {
	uint64_t interp[16];
	struct pystate state[16];
	size_t n;
};

static const struct pystate *state_of(struct interp_states *states, struct pywalker *w, uint64_t interp)
{
	static const struct pystate unknown = {.run = PY_RUN_UNKNOWN, .gc_collecting = -1};
	for (size_t i = 0; i < states->n; i++)
		if (states->interp[i] == interp)
			return &states->state[i];
	if (states->n == sizeof(states->interp) / sizeof(states->interp[0]))
		return &unknown;
	size_t i = states->n++;
	states->interp[i] = interp;
	if (pywalker_state(w, interp, &states->state[i]) < 0) {
		err_clear();
		states->state[i] = unknown;
	}
	return &states->state[i];
}

/* Who finalizes and who collects. The collector is the thread whose stack
 * holds the frame that started the collection where the version records it
 * (3.15+); otherwise the thread holding its interpreter's GIL, as a
 * collection runs with the GIL held (a finalizer called by the collector
 * that released the GIL leaves the collector unknown here: native frames
 * tell, see stacks_native.c). THREADS[i] is PY[n - 1 - i]. */
static void mark_state(struct process_stacks *out, struct pywalker *w, struct interp_states *states,
                       const struct pythread *py, size_t n, const bool *has_gc_frame)
{
	for (size_t i = 0; i < n; i++) {
		const struct pythread *th = &py[n - 1 - i];
		struct thread_stack *ts = &out->threads[i];
		const struct pystate *st = state_of(states, w, th->interp_addr);
		ts->finalizing = st->finalizing_tstate && st->finalizing_tstate == th->tstate_addr;
		if (st->gc_collecting != 1)
			continue;
		bool frame_found = false;
		for (size_t j = 0; st->gc_frame && j < n; j++)
			frame_found |= py[n - 1 - j].interp_addr == th->interp_addr && has_gc_frame[j];
		ts->gc = frame_found ? has_gc_frame[i] : th->holds_gil;
	}
	out->state = *state_of(states, w, pywalker_info(w)->interp_head_addr);
}

/* Each Python frame's locals, read while the frames are what was walked. */
static int read_locals(struct pylocals_reader *reader, const struct pyframe *frames, struct thread_stack *ts)
{
	ts->locals = xcalloc(ts->nframes, sizeof(*ts->locals));
	if (!ts->locals)
		return -ERR_NOMEM;
	ts->nlocals = ts->nframes;
	for (size_t i = 0; i < ts->nframes; i++) {
		int ret = pylocals_read(reader, &frames[i], &ts->locals[i]);
		if (ret < 0)
			return ret;
		ts->frames[i].locals = &ts->locals[i];
	}
	return 0;
}

static int walk_one(struct pywalker *w, struct pylocals_reader *reader, const struct pythread *th,
                    struct pyframe *scratch, struct thread_stack *ts, const struct pyframe **innermost)
{
	size_t n = 0;
	int ret = th->frame_addr || th->cframe_addr ? pywalker_stack(w, th, scratch, MAX_FRAMES, &n) : 0;
	if (ret < 0)
		ts->error = xasprintf("%s%s%s", err_message(ret), *err_context() ? ": " : "", err_context());
	*innermost = n ? &scratch[0] : NULL;
	if (!n)
		return 0;
	ts->frames = xcalloc(n, sizeof(*ts->frames));
	if (!ts->frames)
		return -ERR_NOMEM;
	stack_frames_from_python(w, scratch, n, ts->frames);
	ts->nframes = n;
	return reader ? read_locals(reader, scratch, ts) : 0;
}

void stack_frames_from_python(struct pywalker *w, const struct pyframe *frames, size_t n, struct stack_frame *out)
{
	for (size_t i = 0; i < n; i++) {
		struct stack_frame *f = &out[i];
		memset(f, 0, sizeof(*f));
		f->kind = FRAME_PYTHON;
		f->function = frames[i].code->name;
		f->qualname = frames[i].code->qualname;
		f->file = frames[i].code->filename;
		struct pyposition where;
		f->has_position = pywalker_position(w, frames[i].code, frames[i].byte_offset, &where);
		f->line = frames[i].line;
		f->end_line = where.end_line;
		f->column = where.column;
		f->end_column = where.end_column;
		f->entry = frames[i].is_entry;
		f->entry_shim = frames[i].entry_shim;
		f->empty_shim = frames[i].empty_shim;
	}
}

/* Move the crashed thread to the front, keeping the others' order. */
static void crashed_first(struct thread_stack *threads, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (!threads[i].crashed)
			continue;
		struct thread_stack crashed = threads[i];
		memmove(threads + 1, threads, i * sizeof(*threads));
		threads[0] = crashed;
		return;
	}
}

int process_stacks_collect(struct target *t, struct pywalker *w, const char *source,
                           const struct stacks_options *opts, struct process_stacks *out)
{
	struct pylocals_reader *reader = NULL;
	bool *has_gc_frame = NULL;
	struct pyframe *scratch = NULL;
	memset(out, 0, sizeof(*out));
	out->source = source;
	out->target = t;
	out->walker = w;
	out->locals = opts && opts->locals;
	const struct pythread *pythreads;
	size_t npy = 0;
	int ret = pywalker_threads(w, &pythreads, &npy);
	if (ret < 0 && !npy)
		return ret;
	if (ret < 0)
		out->errors++;
	if (out->locals && (ret = pylocals_reader_new(w, &reader)) < 0)
		return ret;
	/* Names are a bonus: a registry that cannot be read names nobody. */
	const struct pythread_name *names;
	size_t nnames;
	if (pywalker_thread_names(w, &names, &nnames) < 0)
		err_clear();

	pid_t crashed_tid = t->has_signal ? t->signal.tid : 0;
	bool crashed_found = false;
	/* Room for every Python thread and a crashed thread without one. */
	out->threads = xcalloc(npy + 1, sizeof(*out->threads));
	/* Not zeroed: a walk fills what it returns, and zeroing MAX_FRAMES
	 * frames cost more than reading a snapshot. */
	scratch = xrealloc_array(NULL, MAX_FRAMES, sizeof(*scratch));
	if (!out->threads || !scratch) {
		ret = -ERR_NOMEM;
		goto fail;
	}
	out->threads_cap = npy + 1;
	/* Read before the stacks, as they were when the threads were listed. */
	struct interp_states states = {0};
	/* 3.15+: which thread's stack holds the frame that started a collection. */
	has_gc_frame = xcalloc(npy + 1, sizeof(*has_gc_frame));
	if (!has_gc_frame) {
		ret = -ERR_NOMEM;
		goto fail;
	}
	/* Thread states are newest first; report oldest first. */
	for (size_t k = npy; k-- > 0;) {
		const struct pythread *th = &pythreads[k];
		struct thread_stack *ts = &out->threads[out->nthreads++];
		ts->is_python = true;
		ts->tid = th->tid;
		ts->ns_tid = th->ns_tid;
		ts->thread_id = th->thread_id;
		const char *name = pywalker_thread_name(w, th->interp_addr, th->thread_id, th->tid);
		if (name && !(ts->name = xstrdup(name))) {
			ret = -ERR_NOMEM;
			goto fail;
		}
		ts->interp_id = th->interp_id;
		ts->interp_addr = th->interp_addr;
		ts->gil = th->holds_gil;
		ts->crashed = crashed_tid && th->tid == crashed_tid;
		crashed_found |= ts->crashed;
		const struct pyframe *innermost;
		if ((ret = walk_one(w, reader, th, scratch, ts, &innermost)) < 0)
			goto fail;
		if (ts->error)
			out->errors++;
		ts->idle = thread_is_idle(t, target_find_thread(t, ts->tid), ts, innermost);
		if ((ret = pywalker_exceptions(w, th, &ts->raising, &ts->handling)) < 0)
			goto fail;
		uint64_t gc_frame = state_of(&states, w, th->interp_addr)->gc_frame;
		for (size_t i = 0; gc_frame && i < ts->nframes; i++)
			has_gc_frame[out->nthreads - 1] |= scratch[i].addr == gc_frame;
	}
	mark_state(out, w, &states, pythreads, npy, has_gc_frame);
	if (crashed_tid && !crashed_found) {
		struct thread_stack *ts = &out->threads[out->nthreads++];
		const struct target_thread *os = target_find_thread(t, crashed_tid);
		ts->tid = crashed_tid;
		ts->ns_tid = os ? os->ns_tid : 0;
		ts->interp_id = -1;
		ts->crashed = true;
	}
	free(scratch);
	free(has_gc_frame);
	pylocals_reader_free(reader);
	reader = NULL;
	scratch = NULL;
	has_gc_frame = NULL;
	crashed_first(out->threads, out->nthreads);
	/* From the same state of the target as the threads. */
	if (opts && opts->tasks && (ret = process_stacks_add_tasks(out, opts->task_reader)) < 0)
		goto fail;
	return 0;
fail:
	free(scratch);
	free(has_gc_frame);
	pylocals_reader_free(reader);
	process_stacks_release(out);
	return ret;
}

void process_stacks_name_interpreters(struct process_stacks *ps)
{
	for (size_t i = 0; i < ps->nthreads; i++)
		if (ps->threads[i].interp_addr)
			ps->threads[i].interp_name = pywalker_interp_name(ps->walker, ps->threads[i].interp_addr,
			                                                  ps->threads[i].interp_id);
}

void process_stacks_release(struct process_stacks *ps)
{
	for (size_t i = 0; i < ps->nthreads; i++) {
		for (size_t k = 0; k < ps->threads[i].nlocals; k++)
			pylocals_release(&ps->threads[i].locals[k]);
		free(ps->threads[i].locals);
		free(ps->threads[i].frames);
		free(ps->threads[i].name);
		free(ps->threads[i].error);
		free(ps->threads[i].native_error);
		pyexc_free(ps->threads[i].raising);
		pyexc_free(ps->threads[i].handling);
	}
	free(ps->threads);
	ps->threads = NULL;
	ps->nthreads = ps->threads_cap = 0;
	for (size_t i = 0; ps->task_stacks && i < ps->tasks.count; i++)
		free(ps->task_stacks[i].frames);
	free(ps->task_stacks);
	ps->task_stacks = NULL;
	pytask_list_release(&ps->tasks);
	free(ps->tasks_error);
	ps->tasks_error = NULL;
	pywalker_free(ps->task_walker);
	ps->task_walker = NULL;
	target_free(ps->task_target);
	ps->task_target = NULL;
}

/* Everything that needs the process stopped happens between freeze and
 * detach; the rest before or after. */
int process_stacks_collect_live(pid_t pid, bool freeze, const struct stacks_options *opts,
                                struct native_copies *copies, size_t stack_bytes, struct target **t,
                                struct pywalker **w, struct process_stacks *ps)
{
	struct live_open_options open_opts = {.freeze = freeze};
	struct stacks_options what = opts ? *opts : (struct stacks_options){0};
	struct pytasks *reader = NULL;
	struct task_rehearsal ahead = {0};
	int ret;
	if ((ret = live_target_open(pid, &open_opts, t)) < 0 || (ret = guard_add(*t)) < 0)
		goto out;
	/* Finding the interpreter (and what asyncio publishes) opens files and
	 * takes time: do it before stopping the process. */
	if ((ret = pywalker_new(*t, w)) < 0)
		goto out;
	/* One that cannot be made is made again, to say why, in the freeze. */
	if (what.tasks && !what.task_reader && (ret = pytasks_new(*w, &reader)) == -ERR_NOMEM)
		goto out;
	if (reader)
		what.task_reader = reader;
	/* Many tasks take long to read: read them before the freeze, which
	 * then only checks that nothing they were read from has changed. */
	bool rehearse = what.tasks && freeze && reader;
	if (rehearse) {
		if ((ret = task_rehearsal_open(&ahead, *t)) < 0)
			goto out;
		task_rehearsal_run(&ahead);
	}
	ret = freeze ? target_freeze(*t) : target_refresh(*t);
	if (ret < 0)
		goto out;
	bool adopted = false;
	if (rehearse) {
		struct stacks_options threads_only = what;
		threads_only.tasks = false;
		ret = process_stacks_collect(*t, *w, "live", &threads_only, ps);
		if (ret == 0)
			ret = task_rehearsal_adopt(&ahead, ps, &adopted);
		if (ret == 0 && !adopted)
			ret = process_stacks_add_tasks(ps, reader);
	} else {
		ret = process_stacks_collect(*t, *w, "live", &what, ps);
	}
	if (ret == 0 && copies)
		ret = native_copy_threads(copies, *t, stack_bytes);
	if (freeze && target_resume(*t) == 0)
		ps->pause = target_last_pause(*t);
	if (ret == 0)
		ret = task_rehearsal_frames(ps);
out:
	target_detach(*t);
	guard_remove(*t);
	task_rehearsal_release(&ahead);
	pytasks_free(reader);
	/* Names are read from the running process: they do not change. */
	if (ret == 0)
		process_stacks_name_interpreters(ps);
	return ret;
}
