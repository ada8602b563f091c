/* What a collected stack adds to an aggregate: the roots above a thread's
 * own frames (its process, the thread, the marker of a stack read only in
 * part), native frames by function and library, and a whole collected
 * stack counted once. Python frames of samples are interned by the sampler,
 * which memoizes them. */
#include <stdio.h>
#include <string.h>

#include "pycoreprof/collect.h"

int stack_roots_add(struct aggregate *agg, const struct stack_roots *roots, uint32_t *ids, size_t *n)
{
	int ret;
	if (roots->process && (ret = agg_frame(agg, AGG_PROCESS, roots->process, NULL, -1, &ids[(*n)++])) < 0)
		return ret;
	if (roots->thread) {
		char label[64];
		if (roots->thread_name)
			snprintf(label, sizeof(label), "thread %d \"%s\"", (int)roots->tid, roots->thread_name);
		else
			snprintf(label, sizeof(label), "thread %d", (int)roots->tid);
		if ((ret = agg_frame(agg, AGG_THREAD, label, NULL, -1, &ids[(*n)++])) < 0)
			return ret;
	}
	if (roots->unreadable && (ret = agg_frame(agg, AGG_ERROR, "[unreadable stack]", NULL, -1, &ids[(*n)++])) < 0)
		return ret;
	return 0;
}

int native_frame_id(struct aggregate *agg, const char *function, const char *library, bool named,
                    const struct native_site *site, uint32_t *id)
{
	const char *base = library ? strrchr(library, '/') : NULL;
	base = base ? base + 1 : library;
	struct agg_native_site where = {0};
	if (site && library)
		where = (struct agg_native_site){.address = site->function, .path = library, .build_id = site->build_id,
		                                 .start = site->map_start, .limit = site->map_end,
		                                 .file_offset = site->map_offset};
	return agg_native_frame(agg, function ? function : "??", base, named && function, site ? &where : NULL, id);
}

int thread_stack_count(struct aggregate *agg, const struct thread_stack *ts, bool thread_roots, uint32_t *ids,
                       size_t max)
{
	/* Threads of cores were never named in `report`'s thread roots. */
	struct stack_roots roots = {.thread = thread_roots, .tid = ts->tid, .unreadable = ts->error != NULL};
	size_t n = 0;
	int ret;
	if ((ret = stack_roots_add(agg, &roots, ids, &n)) < 0)
		return ret;
	for (size_t k = ts->nframes; k-- > 0 && n < max;) {
		const struct stack_frame *f = &ts->frames[k];
		if (f->kind == FRAME_NATIVE) {
			if ((ret = native_frame_id(agg, f->function, f->library, f->named, &f->site, &ids[n++])) < 0)
				return ret;
			continue;
		}
		const char *name = f->qualname ? f->qualname : f->function ? f->function : "?";
		ret = agg_python_frame(agg, name, f->file, f->line, &ids[n++]);
		if (ret < 0)
			return ret;
	}
	if (!n)
		return 0;
	return ts->idle ? agg_add_waiting(agg, ids, n, 1) : agg_add(agg, ids, n, 1);
}
