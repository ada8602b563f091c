/* An interpreter's own state beside its threads: whether it is finalizing
 * (and which thread state does it), whether the garbage collector is running
 * and, where the version records it (3.15+), the frame that started the
 * collection. A few reads per call, none of them on the sampling path. */
#include "python/internal.h"

/* Where the collector's state is: the runtime's (3.7, 3.8), the
 * interpreter's (3.9+), or a static of gcmodule.c (2.7, 3.6; 0 when the
 * binary has no symbol table). */
static uint64_t gc_state_addr(const struct pywalker *w, uint64_t interp)
{
	const struct py_layout *L = &w->layout;
	if (L->interp_gc >= 0)
		return interp + (uint64_t)L->interp_gc;
	if (L->runtime_gc >= 0 && w->info.runtime_addr)
		return w->info.runtime_addr + (uint64_t)L->runtime_gc;
	return 0;
}

static void read_gc(struct pywalker *w, uint64_t interp, struct pystate *out)
{
	const struct py_layout *L = &w->layout;
	struct target *t = w->target;
	uint64_t gc = gc_state_addr(w, interp);
	int32_t collecting;
	uint64_t at = gc && L->gc_collecting >= 0 ? gc + (uint64_t)L->gc_collecting : w->gc_collecting_addr;
	if (!at || target_read_i32(t, at, &collecting) < 0) {
		err_clear();
		return;
	}
	out->gc_collecting = collecting != 0;
	if (collecting && gc && L->gc_frame >= 0 && target_read_u64(t, gc + (uint64_t)L->gc_frame, &out->gc_frame) < 0) {
		err_clear();
		out->gc_frame = 0;
	}
}

/* Py_FinalizeEx() marks the runtime with the finalizing thread state once
 * the exit functions ran (3.6's _Py_Finalizing, 3.7+'s _PyRuntime field);
 * 3.12+ also set the interpreter's `finalizing` before they run, and its
 * own thread state with the runtime's. 2.7 keeps nothing readable. */
static void read_finalizing(struct pywalker *w, uint64_t interp, struct pystate *out)
{
	const struct py_layout *L = &w->layout;
	struct target *t = w->target;
	uint64_t runtime_at = L->runtime_finalizing >= 0 && w->info.runtime_addr ?
	                      w->info.runtime_addr + (uint64_t)L->runtime_finalizing : w->finalizing_addr;
	bool known = false, finalizing = false;
	uint64_t tstate;
	if (runtime_at && target_read_u64(t, runtime_at, &tstate) == 0) {
		known = true;
		if (tstate) {
			finalizing = true;
			out->finalizing_tstate = tstate;
		}
	}
	int32_t flag;
	if (L->interp_finalizing >= 0 && target_read_i32(t, interp + (uint64_t)L->interp_finalizing, &flag) == 0) {
		known = true;
		finalizing |= flag != 0;
	}
	if (L->interp_finalizing_tstate >= 0 &&
	    target_read_u64(t, interp + (uint64_t)L->interp_finalizing_tstate, &tstate) == 0) {
		known = true;
		if (tstate) {
			finalizing = true;
			if (!out->finalizing_tstate)
				out->finalizing_tstate = tstate;
		}
	}
	err_clear();
	out->run = !known ? PY_RUN_UNKNOWN : finalizing ? PY_RUN_FINALIZING : PY_RUN_RUNNING;
}

int pywalker_state(struct pywalker *w, uint64_t interp, struct pystate *out)
{
	*out = (struct pystate){.run = PY_RUN_UNKNOWN, .gc_collecting = -1};
	if (!interp)
		return err_set(ERR_CORRUPT, "no interpreter state to read");
	read_finalizing(w, interp, out);
	read_gc(w, interp, out);
	return 0;
}
