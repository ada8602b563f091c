/* Adding native frames to collected stacks: each copied thread is unwound,
 * symbolized with source lines, and merged with its Python frames; threads
 * with no Python thread state get their native frames alone. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

enum { MAX_NATIVE = 2048 };

/* Scratch reused across threads. */
struct merge_scratch {
	uint64_t pcs[MAX_NATIVE];
	uint64_t sps[MAX_NATIVE];
	bool activation[MAX_NATIVE];
	struct native_frame native[MAX_NATIVE];
	enum native_class classes[MAX_NATIVE];
};

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

static int merge_thread(struct process_stacks *ps, struct native_unwinder *u, const struct native_thread_copy *copy,
                        struct thread_stack *ts, enum native_mode mode, struct merge_scratch *s)
{
	size_t nnative = 0;
	bool *entries = NULL;
	uint64_t *shims = NULL;
	struct merged_frame *order = NULL;
	struct stack_frame *frames = NULL;
	int ret = 0;
	if (native_unwind(u, copy, s->pcs, s->activation, s->sps, MAX_NATIVE, &nnative) < 0) {
		ts->native_error = xasprintf("%s", err_context());
		return ts->native_error ? 0 : -ERR_NOMEM;
	}
	for (size_t i = 0; i < nnative; i++) {
		native_symbolize(u, s->pcs[i], s->activation[i], true, &s->native[i]);
		s->classes[i] = s->native[i].cls;
	}
	size_t npy = ts->nframes;
	entries = xcalloc(npy + 1, sizeof(*entries));
	shims = xcalloc(npy + 1, sizeof(*shims));
	order = xcalloc(nnative + npy + 1, sizeof(*order));
	frames = xcalloc(nnative + npy + 1, sizeof(*frames));
	if (!entries || !shims || !order || !frames) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < npy; i++) {
		entries[i] = ts->frames[i].entry;
		shims[i] = ts->frames[i].entry_shim;
	}
	struct merge_input in = {.classes = s->classes, .sps = s->sps, .nnative = nnative, .py_entry = entries,
	                         .py_shim = shims, .npy = npy, .mode = mode,
	                         .one_per_eval = pywalker_info(ps->walker)->version_hex < 0x030b0000};
	size_t n = native_merge(&in, order, &ts->native_partial);
	for (size_t k = 0; k < n; k++) {
		if (order[k].python) {
			frames[k] = ts->frames[order[k].index];
			continue;
		}
		const struct native_frame *nf = &s->native[order[k].index];
		frames[k] = (struct stack_frame){.kind = FRAME_NATIVE, .function = nf->function, .qualname = nf->function,
		                                 .file = nf->file, .line = nf->line, .library = nf->library,
		                                 .address = nf->address, .offset = nf->offset};
	}
	free(ts->frames);
	ts->frames = frames;
	ts->nframes = n;
	frames = NULL;
out:
	free(entries);
	free(shims);
	free(order);
	free(frames);
	return ret;
}

int process_stacks_add_native(struct process_stacks *ps, struct native_unwinder *u,
                              const struct native_copies *copies, enum native_mode mode)
{
	struct merge_scratch *scratch = xcalloc(1, sizeof(*scratch));
	int ret = 0;
	if (!scratch)
		return -ERR_NOMEM;
	ps->native = mode;
	for (size_t i = 0; i < copies->n; i++) {
		const struct native_thread_copy *copy = &copies->threads[i];
		struct thread_stack *ts = thread_of(ps, copy->tid);
		if (!ts && !(ts = add_thread(ps, copy->tid))) {
			ret = -ERR_NOMEM;
			break;
		}
		if ((ret = merge_thread(ps, u, copy, ts, mode, scratch)) < 0)
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
	free(scratch);
	return ret;
}
