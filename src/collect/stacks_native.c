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
	const struct target_thread *os = target_find_thread(ps->target, tid);
	if (ts) {
		ts->tid = tid;
		ts->ns_tid = os ? os->ns_tid : 0;
		ts->interp_id = -1;
	}
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
		                                 .address = nf->address, .offset = nf->offset, .named = nf->named,
		                                 .site = nf->site};
	}
	free(ts->frames);
	ts->frames = frames;
	ts->nframes = n;
	return 0;
}

/* The C functions of CPython's collector (gcmodule.c, gc.c), 2.7 to 3.15:
 * a thread inside one of them is running the collection. */
static bool is_gc_function(const char *name)
{
	static const char *const names[] = {
		"collect", "collect_with_callback", "collect_generations", "gc_collect_main",
		"gc_collect_full", "gc_collect_young", "gc_collect_increment", "gc_collect_region",
		"_PyGC_Collect", "_PyGC_CollectNoFail", "PyGC_Collect", "gc_collect", "gc_collect_impl",
	};
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static const char *file_name(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;
	return slash ? slash + 1 : path;
}

/* While the interpreter collects and the version does not record which
 * thread does (the GIL holder was taken for it), the native frames tell:
 * the threads inside the collector's functions, in the interpreter's own
 * file. Without such frames (a stripped interpreter names only what it
 * exports) the guess stays. */
static void gc_threads_from_native(struct process_stacks *ps)
{
	if (ps->state.gc_collecting != 1 || ps->state.gc_frame)
		return;
	const char *library = file_name(pywalker_info(ps->walker)->library);
	bool found = false;
	bool *inside = xcalloc(ps->nthreads ? ps->nthreads : 1, sizeof(*inside));
	if (!inside)
		return;
	for (size_t i = 0; i < ps->nthreads; i++) {
		const struct thread_stack *ts = &ps->threads[i];
		for (size_t k = 0; k < ts->nframes && !inside[i]; k++) {
			const struct stack_frame *f = &ts->frames[k];
			inside[i] = f->kind == FRAME_NATIVE && is_gc_function(f->function) && library &&
			            f->library && !strcmp(file_name(f->library), library);
		}
		found |= inside[i];
	}
	for (size_t i = 0; found && i < ps->nthreads; i++)
		ps->threads[i].gc = inside[i];
	free(inside);
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
	if (ret == 0)
		gc_threads_from_native(ps);
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
