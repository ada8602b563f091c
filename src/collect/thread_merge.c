/* A thread's native frames for the merge with its Python frames: unwound
 * from a copy, symbolized (with source lines for one-shot stacks, by
 * function for samples), classified, and handed to native_merge() with the
 * Python frames' entry marks. Shared by one-shot collection and sampling;
 * what the merged order becomes is theirs. */
#include <stdlib.h>
#include <string.h>

#include "collect/internal.h"
#include "pycoreprof/base.h"

int thread_merge_init(struct thread_merge *m, struct native_unwinder *u, enum native_mode mode,
                      uint32_t version_hex, bool want_lines, size_t max_native)
{
	memset(m, 0, sizeof(*m));
	m->unwinder = u;
	m->mode = mode;
	m->one_per_eval = version_hex < 0x030b0000;
	m->want_lines = want_lines;
	m->max_native = max_native;
	m->pcs = xcalloc(max_native, sizeof(*m->pcs));
	m->sps = xcalloc(max_native, sizeof(*m->sps));
	m->activation = xcalloc(max_native, sizeof(*m->activation));
	m->classes = xcalloc(max_native, sizeof(*m->classes));
	m->runtime = xcalloc(max_native, sizeof(*m->runtime));
	m->native = xcalloc(max_native, sizeof(*m->native));
	if (!m->pcs || !m->sps || !m->activation || !m->classes || !m->runtime || !m->native) {
		thread_merge_release(m);
		return -ERR_NOMEM;
	}
	return 0;
}

void thread_merge_release(struct thread_merge *m)
{
	free(m->pcs);
	free(m->sps);
	free(m->activation);
	free(m->classes);
	free(m->runtime);
	free(m->native);
	free(m->py_entry);
	free(m->py_shim);
	free(m->py_empty);
	free(m->order);
	memset(m, 0, sizeof(*m));
}

int thread_merge_unwind(struct thread_merge *m, const struct native_thread_copy *copy)
{
	m->nnative = 0;
	m->complete = false;
	if (!copy)
		return 0;
	int ret = native_unwind(m->unwinder, copy, m->pcs, m->activation, m->sps, m->max_native, &m->nnative,
	                        &m->complete);
	if (ret < 0) {
		m->nnative = 0;
		return ret;
	}
	for (size_t i = 0; i < m->nnative; i++) {
		native_symbolize(m->unwinder, m->pcs[i], m->activation[i], m->want_lines, &m->native[i]);
		m->classes[i] = m->native[i].cls;
		m->runtime[i] = m->native[i].runtime;
	}
	return 0;
}

int thread_merge_reserve(struct thread_merge *m, size_t npy)
{
	size_t py_cap = m->py_cap, shim_cap = m->py_cap;
	if (ARRAY_GROW(m->py_entry, py_cap, npy + 1) < 0 || ARRAY_GROW(m->py_empty, shim_cap, npy + 1) < 0 ||
	    ARRAY_GROW(m->py_shim, m->py_cap, npy + 1) < 0 ||
	    ARRAY_GROW(m->order, m->order_cap, npy + m->nnative + 1) < 0)
		return -ERR_NOMEM;
	return 0;
}

size_t thread_merge_run(struct thread_merge *m, size_t npy, bool *partial)
{
	struct merge_input in = {.classes = m->classes, .sps = m->sps, .runtime = m->runtime, .nnative = m->nnative,
	                         .complete = m->complete, .py_entry = m->py_entry, .py_shim = m->py_shim,
	                         .py_empty = m->py_empty, .npy = npy, .mode = m->mode, .one_per_eval = m->one_per_eval};
	return native_merge(&in, m->order, partial);
}
