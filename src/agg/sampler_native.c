/* Native frames in sampling: each sampled thread's registers and stack top
 * are copied while the target is frozen; after it runs on they are unwound,
 * symbolized by function and merged with the thread's Python frames into
 * the aggregate. Buffers grow during warm-up and are reused after. */
#include <stdlib.h>
#include <string.h>

#include "pycoreprof/base.h"
#include "pycoreprof/sampler.h"

enum { MAX_NATIVE = 1024 };

struct sampler_native {
	struct native_unwinder *unwinder;  /* borrowed */
	enum native_mode mode;
	uint32_t version_hex;    /* of the interpreter: how evaluation calls nest */
	size_t stack_bytes;
	struct native_copies copies;
	uint64_t pcs[MAX_NATIVE], sps[MAX_NATIVE];
	bool activation[MAX_NATIVE];
	enum native_class classes[MAX_NATIVE];
	struct native_frame frames[MAX_NATIVE];
	/* per Python frame, and the merged order; grown on demand */
	bool *entries;
	uint64_t *shims;
	size_t py_cap;
	struct merged_frame *order;
	size_t order_cap;
};

int sampler_enable_native(struct sampler *s, struct native_unwinder *u, enum native_mode mode, size_t stack_bytes)
{
	struct sampler_native *n = xcalloc(1, sizeof(*n));
	if (!n)
		return -ERR_NOMEM;
	n->unwinder = u;
	n->mode = mode;
	n->stack_bytes = stack_bytes;
	n->version_hex = pywalker_info(s->walker)->version_hex;
	sampler_native_free(s->native);
	s->native = n;
	/* Every thread walked needs its registers: wait for each stop. */
	live_target_hold_unstopped(s->target, false);
	return 0;
}

void sampler_native_free(struct sampler_native *n)
{
	if (!n)
		return;
	native_copies_release(&n->copies);
	free(n->entries);
	free(n->shims);
	free(n->order);
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

static int native_id(struct aggregate *agg, const struct native_frame *f, uint32_t *id)
{
	const char *library = f->library ? strrchr(f->library, '/') : NULL;
	library = library ? library + 1 : f->library;
	return agg_frame(agg, AGG_NATIVE, f->function ? f->function : "??", library, -1, id);
}

int sampler_native_count(struct sampler_native *n, int copy, const struct pyframe *py, size_t npy,
                         struct aggregate *agg, bool by_function, uint32_t **ids, size_t *ids_cap, size_t *nids)
{
	size_t nnative = 0;
	if (copy < 0 || (size_t)copy >= n->copies.n ||
	    native_unwind(n->unwinder, &n->copies.threads[copy], n->pcs, n->activation, n->sps, MAX_NATIVE,
	                  &nnative) < 0)
		nnative = 0;
	for (size_t i = 0; i < nnative; i++) {
		native_symbolize(n->unwinder, n->pcs[i], n->activation[i], false, &n->frames[i]);
		n->classes[i] = n->frames[i].cls;
	}
	size_t py_cap = n->py_cap;
	if (ARRAY_GROW(n->entries, py_cap, npy + 1) < 0 || ARRAY_GROW(n->shims, n->py_cap, npy + 1) < 0 ||
	    ARRAY_GROW(n->order, n->order_cap, npy + nnative + 1) < 0 ||
	    ARRAY_GROW(*ids, *ids_cap, *nids + npy + nnative + 1) < 0)
		return -ERR_NOMEM;
	for (size_t i = 0; i < npy; i++) {
		n->entries[i] = py[i].is_entry;
		n->shims[i] = py[i].entry_shim;
	}
	struct merge_input in = {.classes = n->classes, .sps = n->sps, .nnative = nnative, .py_entry = n->entries,
	                         .py_shim = n->shims, .npy = npy, .mode = n->mode,
	                         .one_per_eval = n->version_hex < 0x030b0000};
	bool partial;
	size_t count = native_merge(&in, n->order, &partial);
	/* The aggregate takes stacks root first. */
	for (size_t k = count; k-- > 0;) {
		const struct merged_frame *m = &n->order[k];
		uint32_t *id = &(*ids)[(*nids)++];
		int ret;
		if (m->python) {
			const struct pycode *code = py[m->index].code;
			ret = agg_python_frame(agg, code->qualname, code->filename, by_function ? -1 : py[m->index].line,
			                       id);
		} else {
			ret = native_id(agg, &n->frames[m->index], id);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}
