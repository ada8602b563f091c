/* Adding native frames to collected stacks: each copied thread is unwound,
 * symbolized with source lines, and merged with its Python frames; threads
 * with no Python thread state get their native frames alone. */
#include <stdlib.h>
#include <string.h>

#include "collect/internal.h"
#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

enum { MAX_NATIVE = 2048 };

static struct thread_stack *thread_of(struct process_stacks *ps, pid_t tid)
{
	for (size_t i = 0; i < ps->nthreads; i++)
		if (ps->threads[i].tid == tid)
			return &ps->threads[i];
	return NULL;
}

static struct thread_stack *add_thread(struct process_stacks *ps, pid_t tid)
{
	struct thread_stack *ts = ARRAY_PUSH(ps->threads, ps->nthreads, ps->threads_cap);
	if (ts)
		ts->tid = tid;
	return ts;
}

static int merge_thread(struct thread_merge *m, const struct native_thread_copy *copy, struct thread_stack *ts)
{
	if (thread_merge_unwind(m, copy) < 0) {
		ts->native_error = xasprintf("%s", err_context());
		return ts->native_error ? 0 : -ERR_NOMEM;
	}
	size_t npy = ts->nframes;
	struct stack_frame *frames = NULL;
	if (thread_merge_reserve(m, npy) < 0 || !(frames = xcalloc(m->nnative + npy + 1, sizeof(*frames))))
		return -ERR_NOMEM;
	for (size_t i = 0; i < npy; i++) {
		m->py_entry[i] = ts->frames[i].entry;
		m->py_shim[i] = ts->frames[i].entry_shim;
		m->py_empty[i] = ts->frames[i].empty_shim;
	}
	size_t n = thread_merge_run(m, npy, &ts->native_partial);
	for (size_t k = 0; k < n; k++) {
		if (m->order[k].python) {
			frames[k] = ts->frames[m->order[k].index];
			continue;
		}
		const struct native_frame *nf = &m->native[m->order[k].index];
		frames[k] = (struct stack_frame){.kind = FRAME_NATIVE, .function = nf->function, .qualname = nf->function,
		                                 .file = nf->file, .line = nf->line, .library = nf->library,
		                                 .address = nf->address, .offset = nf->offset};
	}
	free(ts->frames);
	ts->frames = frames;
	ts->nframes = n;
	return 0;
}

int process_stacks_add_native(struct process_stacks *ps, struct native_unwinder *u,
                              const struct native_copies *copies, enum native_mode mode)
{
	struct thread_merge merge;
	int ret = thread_merge_init(&merge, u, mode, pywalker_info(ps->walker)->version_hex, true, MAX_NATIVE);
	if (ret < 0)
		return ret;
	ps->native = mode;
	for (size_t i = 0; i < copies->n; i++) {
		const struct native_thread_copy *copy = &copies->threads[i];
		struct thread_stack *ts = thread_of(ps, copy->tid);
		if (!ts && !(ts = add_thread(ps, copy->tid))) {
			ret = -ERR_NOMEM;
			break;
		}
		if ((ret = merge_thread(&merge, copy, ts)) < 0)
			break;
	}
	/* Python threads whose OS thread we could not tell have no native part. */
	for (size_t i = 0; i < ps->nthreads && ret == 0; i++) {
		struct thread_stack *ts = &ps->threads[i];
		bool unwound = false;
		for (size_t k = 0; k < copies->n && !unwound; k++)
			unwound = ts->tid && copies->threads[k].tid == ts->tid;
		if (!unwound && !ts->native_error &&
		    !(ts->native_error = xstrdup(ts->tid ? "no registers for this thread" : "OS thread unknown")))
			ret = -ERR_NOMEM;
	}
	thread_merge_release(&merge);
	return ret;
}

int process_stacks_unwind(struct process_stacks *ps, const struct native_copies *copies, enum native_mode mode,
                          struct native_unwinder **u)
{
	int ret = native_unwinder_new(ps->target, pywalker_info(ps->walker), u);
	if (ret == 0)
		ret = process_stacks_add_native(ps, *u, copies, mode);
	return ret;
}
