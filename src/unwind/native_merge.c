/* Merging a thread's native frames with its Python frames: each call of
 * CPython's evaluation loop, innermost first, takes the Python frames it
 * ran. Where the eval loop keeps a shim frame on its C stack (3.12+), the
 * call is the native frame whose stack holds the shim; else the calls take
 * the groups in order. Python frames left without one go outermost, flagged
 * as partial. Which frames --native hides (plumbing, the start-up at the
 * root) is decided here from the frames' classes, which are the symbols'.
 * Reads only what it is given; allocates nothing. */
#include "pycoreprof/native.h"

/* Where an address on the stack is relative to native frame I. */
enum place { PLACE_UNKNOWN, PLACE_INNER, PLACE_HERE, PLACE_OUTER };

static enum place place_of(const struct merge_input *in, size_t i, uint64_t addr)
{
	if (!addr || !in->sps)
		return PLACE_UNKNOWN;
	uint64_t low = in->sps[i];
	uint64_t high = i + 1 < in->nnative ? in->sps[i + 1] : UINT64_MAX;
	if (addr < low)
		return PLACE_INNER;
	return addr < high ? PLACE_HERE : PLACE_OUTER;
}

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

static size_t emit_python(struct merged_frame *out, size_t n, size_t *next_py, size_t end)
{
	while (*next_py < end)
		out[n++] = (struct merged_frame){.python = true, .index = (uint32_t)(*next_py)++};
	return n;
}

static bool is_start_class(enum native_class cls)
{
	return cls == NATIVE_START || cls == NATIVE_INTERP_START || cls == NATIVE_PLUMBING;
}

/* The first index of the start-up run at the root of the stack that
 * NATIVE_MERGED hides, or NNATIVE when nothing is hidden; read once the
 * evaluation calls are marked. By name: the outermost frames while they
 * are start-up or plumbing, if the interpreter's own start-up is among
 * them (libc's start and main() alone are a program's or a thread's that
 * the interpreter did not start). By place: in a complete stack, the
 * outermost frames while they are the interpreter's or libc's (or named
 * start-up), if the outermost evaluation call follows them: nothing but
 * the interpreter ran before the first Python frame, whether or not its
 * functions have names. */
static size_t startup_run(const struct merge_input *in)
{
	if (in->mode != NATIVE_MERGED)
		return in->nnative;
	size_t by_name = in->nnative;
	bool interpreter = false;
	while (by_name > 0 && is_start_class(in->classes[by_name - 1])) {
		interpreter |= in->classes[by_name - 1] == NATIVE_INTERP_START;
		by_name--;
	}
	if (!interpreter)
		by_name = in->nnative;
	size_t by_place = in->nnative;
	if (in->complete && in->runtime) {
		while (by_place > 0 && in->classes[by_place - 1] != NATIVE_EVAL &&
		       (in->runtime[by_place - 1] || is_start_class(in->classes[by_place - 1])))
			by_place--;
		if (by_place == 0 || in->classes[by_place - 1] != NATIVE_EVAL)
			by_place = in->nnative;
	}
	return by_name < by_place ? by_name : by_place;
}

size_t native_merge(const struct merge_input *in, struct merged_frame *out, bool *partial)
{
	size_t n = 0, next_py = 0;
	*partial = false;
	for (size_t i = 0; i < in->nnative; i++) {
		enum native_class cls = in->classes[i];
		bool placed = false;    /* this frame is an evaluation call, its frames placed */
		if (next_py < in->npy) {
			size_t end = group_end(in, next_py);
			uint64_t shim = in->py_shim ? in->py_shim[end - 1] : 0;
			enum place group = place_of(in, i, shim);
			uint64_t empty = in->py_empty ? in->py_empty[next_py] : 0;
			if (group == PLACE_HERE) {
				/* The call that runs the group, whatever its symbol says:
				 * stripped interpreters merge too. */
				n = emit_python(out, n, &next_py, end);
				placed = true;
			} else if (place_of(in, i, empty) == PLACE_HERE) {
				/* A call popping its last frame: it runs none. */
				placed = true;
			} else if (cls == NATIVE_EVAL && group != PLACE_OUTER) {
				/* No shim to go by (before 3.12), or the call whose stack
				 * holds it was not unwound: the calls take the groups in
				 * order. */
				if (group == PLACE_INNER)
					*partial = true;
				n = emit_python(out, n, &next_py, end);
				placed = true;
			}
		}
		if (placed) {
			in->classes[i] = NATIVE_EVAL;
			if (in->mode == NATIVE_ALL)
				out[n++] = (struct merged_frame){.index = (uint32_t)i};
			continue;
		}
		switch (cls) {
		case NATIVE_EVAL:
			/* An evaluation call whose Python frames we do not see. */
			*partial = true;
			out[n++] = (struct merged_frame){.index = (uint32_t)i};
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
	/* The start-up run is the tail of what was written so far: native
	 * frames in order, Python frames only at evaluation calls, which the
	 * run does not reach. */
	size_t hidden_from = startup_run(in);
	while (n > 0 && !out[n - 1].python && out[n - 1].index >= hidden_from)
		n--;
	if (next_py < in->npy)
		*partial = true;
	return emit_python(out, n, &next_py, in->npy);
}
