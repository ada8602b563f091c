/* Collect layer, internal: what the one-shot and the sampling halves share
 * about native frames, and the sampler's native part. Not included outside
 * src/collect/. */
#ifndef PYCOREPROF_COLLECT_INTERNAL_H
#define PYCOREPROF_COLLECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pycoreprof/agg.h"
#include "pycoreprof/native.h"
#include "pycoreprof/python.h"
#include "pycoreprof/target.h"

/* One thread's native frames unwound, symbolized and merged with its
 * Python frames (thread_merge.c): the input of native_merge() assembled in
 * one place for one-shot and sampled stacks. Buffers are sized once (native
 * frames) or grow (Python frames, the merged order) and are reused, so a
 * steady-state thread allocates nothing. */
struct thread_merge {
	struct native_unwinder *unwinder; /* borrowed */
	enum native_mode mode;
	bool one_per_eval;       /* the interpreter nests one evaluation call per Python frame */
	bool want_lines;         /* symbolize with source lines */
	size_t max_native;
	uint64_t *pcs, *sps;
	bool *activation;
	enum native_class *classes;
	bool *runtime;           /* per native frame: native_frame.runtime */
	struct native_frame *native; /* the last unwind's frames, symbolized */
	size_t nnative;
	bool complete;           /* the last unwind reached the stack's outermost frame */
	/* Per Python frame: pyframe.is_entry, entry_shim and empty_shim,
	 * filled by the caller after thread_merge_reserve(). */
	bool *py_entry;
	uint64_t *py_shim, *py_empty;
	size_t py_cap;
	struct merged_frame *order; /* the last merge */
	size_t order_cap;
};

/* Unwind with U (borrowed), MODE says which native frames stay; VERSION_HEX
 * is the interpreter's; at most MAX_NATIVE native frames. Errors:
 * -ERR_NOMEM. */
int thread_merge_init(struct thread_merge *m, struct native_unwinder *u, enum native_mode mode,
                      uint32_t version_hex, bool want_lines, size_t max_native);
void thread_merge_release(struct thread_merge *m);
/* Unwind and symbolize COPY into NATIVE/NNATIVE (none when COPY is NULL).
 * Errors as native_unwind(), with NNATIVE 0. */
int thread_merge_unwind(struct thread_merge *m, const struct native_thread_copy *copy);
/* Room for NPY Python frames in PY_ENTRY and PY_SHIM, and for the merge of
 * the last unwind with them. Errors: -ERR_NOMEM. */
int thread_merge_reserve(struct thread_merge *m, size_t npy);
/* Merge the last unwind with the NPY Python frames in PY_ENTRY/PY_SHIM into
 * ORDER (native_merge()); returns how many entries, innermost first. */
size_t thread_merge_run(struct thread_merge *m, size_t npy, bool *partial);

/* sampler_native.c, for sampler.c: start a round; copy thread OS (returns
 * the copy's index, or -1 when it has no registers); count copy COPY merged
 * with PY into AGG, appending frame ids (root first) to *IDS. */
struct sampler_native;
void sampler_native_begin(struct sampler_native *n);
int sampler_native_copy(struct sampler_native *n, struct target *t, const struct target_thread *os);
int sampler_native_count(struct sampler_native *n, int copy, const struct pyframe *py, size_t npy,
                         struct aggregate *agg, bool by_function, uint32_t **ids, size_t *ids_cap, size_t *nids);
void sampler_native_free(struct sampler_native *n);

/* capture.c, for crash.c: the parts of a snapshot every capture shares. */
double capture_realtime_now(void);
/* Build-ids of every file T maps (capture.c); *IDS is the caller's, freed
 * with capture_build_ids_free(). Errors: -ERR_NOMEM. */
int capture_build_ids(struct target *t, struct snap_build_id **ids, size_t *count);
void capture_build_ids_free(struct snap_build_id *ids, size_t count);
/* Read through RECORDER what native tools need: each stopped thread's
 * stack top, the vDSO, ELF headers, the dynamic linker's list. */
void capture_stack_tops(struct target *recorder);
/* The core of the blocks RECORDER read (uncompressed) into OUT, with INFO;
 * *PAGES_STORED gets how many pages they are in. Errors: -ERR_NOMEM. */
int capture_build_core(struct target *recorder, const struct snap_info *info, size_t *pages_stored,
                       struct strbuf *out);

#endif
