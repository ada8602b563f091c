/* Native frames in sampling: each sampled thread's registers and stack top
 * are copied while the target is frozen; after it runs on they are unwound,
 * symbolized by function and merged with the thread's Python frames into
 * the aggregate. Buffers grow during warm-up and are reused after. */
#include <stdlib.h>
#include <string.h>

#include "collect/internal.h"
#include "pycoreprof/base.h"
#include "pycoreprof/collect.h"

enum { MAX_NATIVE = 1024 };

struct sampler_native {
	size_t stack_bytes;
	struct native_copies copies;
	struct thread_merge merge;
};

int sampler_enable_native(struct sampler *s, struct native_unwinder *u, enum native_mode mode, size_t stack_bytes)
{
	struct sampler_native *n = xcalloc(1, sizeof(*n));
	if (!n)
		return -ERR_NOMEM;
	n->stack_bytes = stack_bytes;
	if (thread_merge_init(&n->merge, u, mode, pywalker_info(s->walker)->version_hex, false, MAX_NATIVE) < 0) {
		free(n);
		return -ERR_NOMEM;
	}
	sampler_native_free(s->native);
	s->native = n;
	/* Every thread walked needs its registers: wait for each stop. With
	 * --idle every thread is walked, the sleeping ones too, and a thread's
	 * registers are read only while it is stopped: stop every thread. */
	s->policy.hold_unstopped = false;
	if (s->opts.idle)
		s->policy.only_running = false;
	target_set_freeze_policy(s->target, &s->policy);
	return 0;
}

void sampler_native_free(struct sampler_native *n)
{
	if (!n)
		return;
	native_copies_release(&n->copies);
	thread_merge_release(&n->merge);
	free(n);
}

void sampler_native_begin(struct sampler_native *n)
{
	native_copies_clear(&n->copies);
}

int sampler_native_copy(struct sampler_native *n, struct target *t, const struct target_thread *os)
{
	if (!os || !target_thread_regs(t, os))
		return -1;
	size_t index = n->copies.n;
	if (native_copy_thread(&n->copies, t, os, n->stack_bytes) < 0)
		return -1;
	return (int)index;
}

int sampler_native_count(struct sampler_native *n, int copy, const struct pyframe *py, size_t npy,
                         struct aggregate *agg, bool by_function, uint32_t **ids, size_t *ids_cap, size_t *nids)
{
	struct thread_merge *m = &n->merge;
	/* A thread that cannot be unwound keeps its Python frames. */
	(void)thread_merge_unwind(m, copy >= 0 && (size_t)copy < n->copies.n ? &n->copies.threads[copy] : NULL);
	if (thread_merge_reserve(m, npy) < 0 ||
	    ARRAY_GROW(*ids, *ids_cap, *nids + npy + m->nnative + 1) < 0)
		return -ERR_NOMEM;
	for (size_t i = 0; i < npy; i++) {
		m->py_entry[i] = py[i].is_entry;
		m->py_shim[i] = py[i].entry_shim;
		m->py_empty[i] = py[i].empty_shim;
	}
	bool partial;
	size_t count = thread_merge_run(m, npy, &partial);
	/* The aggregate takes stacks root first. */
	for (size_t k = count; k-- > 0;) {
		const struct merged_frame *mf = &m->order[k];
		uint32_t *id = &(*ids)[(*nids)++];
		int ret;
		if (mf->python) {
			const struct pycode *code = py[mf->index].code;
			ret = agg_python_frame(agg, code->qualname, code->filename, by_function ? -1 : py[mf->index].line,
			                       id);
		} else {
			const struct native_frame *f = &m->native[mf->index];
			ret = native_frame_id(agg, f->function, f->library, f->named, &f->site, id);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}
