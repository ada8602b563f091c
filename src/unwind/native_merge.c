/* Merging a thread's native frames with its Python frames: each call of
 * CPython's evaluation loop, innermost first, takes the Python frames it
 * ran. Python frames left without one go outermost, flagged as partial. */
#include "pycoreprof/native.h"

/* The end (exclusive) of the group of Python frames starting at FIRST: the
 * frames one evaluation call ran, innermost first, ending with the one that
 * call was entered for. */
static size_t group_end(const struct merge_input *in, size_t first)
{
	if (in->one_per_eval)
		return first + 1;
	size_t i = first;
	while (i < in->npy && !in->py_entry[i])
		i++;
	return i < in->npy ? i + 1 : in->npy;
}

/* 3.12+ keeps a shim frame in each evaluation call's own C stack frame:
 * the native frame whose stack range holds it is that call. */
static void mark_shim_frames(const struct merge_input *in)
{
	if (!in->py_shim || !in->sps)
		return;
	for (size_t k = 0; k < in->npy; k++) {
		uint64_t shim = in->py_shim[k];
		if (!shim)
			continue;
		for (size_t i = 0; i < in->nnative; i++) {
			uint64_t low = in->sps[i];
			uint64_t high = i + 1 < in->nnative ? in->sps[i + 1] : UINT64_MAX;
			if (shim >= low && shim < high) {
				in->classes[i] = NATIVE_EVAL;
				break;
			}
		}
	}
}

size_t native_merge(const struct merge_input *in, struct merged_frame *out, bool *partial)
{
	size_t n = 0, next_py = 0;
	*partial = false;
	mark_shim_frames(in);
	for (size_t i = 0; i < in->nnative; i++) {
		switch (in->classes[i]) {
		case NATIVE_EVAL:
			if (next_py < in->npy) {
				size_t end = group_end(in, next_py);
				while (next_py < end)
					out[n++] = (struct merged_frame){.python = true, .index = (uint32_t)next_py++};
				if (in->mode == NATIVE_ALL)
					out[n++] = (struct merged_frame){.index = (uint32_t)i};
			} else {
				/* An evaluation call whose Python frames we do not see. */
				*partial = true;
				out[n++] = (struct merged_frame){.index = (uint32_t)i};
			}
			break;
		case NATIVE_PLUMBING:
			if (in->mode == NATIVE_ALL)
				out[n++] = (struct merged_frame){.index = (uint32_t)i};
			break;
		default:
			out[n++] = (struct merged_frame){.index = (uint32_t)i};
			break;
		}
	}
	if (next_py < in->npy)
		*partial = true;
	while (next_py < in->npy)
		out[n++] = (struct merged_frame){.python = true, .index = (uint32_t)next_py++};
	return n;
}
