/* The thread list read again inside a freeze at a cost that does not grow
 * with the threads left asleep: the last whole walk is checked where it can
 * have changed (each interpreter's first thread state, the chain of
 * interpreters, the GIL holder) and only the thread states the caller needs
 * are read again, each checked to still be linked where it was. Any
 * difference falls back to a whole walk. Why that is exact: docs/record.md,
 * "Which thread states a freeze reads". */
#include "python/internal.h"

/* Whether the thread state of THREADS[I], read into BUF, is still the one
 * the last walk found there, linked where it was. HEAD is its interpreter's
 * first thread state, read now. */
static bool still_linked(struct pywalker *w, size_t i, const uint8_t *buf, uint64_t head)
{
	const struct py_layout *L = &w->layout;
	const struct pythread *th = &w->threads[i];
	const struct pythread *after = i + 1 < w->list_count ? &w->threads[i + 1] : NULL;
	uint64_t next_was = after && after->interp_addr == th->interp_addr ? after->tstate_addr : 0;
	if (load_u64(buf, L->tstate_interp) != th->interp_addr || load_u64(buf, L->tstate_next) != next_was ||
	    load_u64(buf, L->tstate_thread_id) != th->thread_id)
		return false;
	if (L->tstate_native_thread_id >= 0 && (pid_t)load_u64(buf, L->tstate_native_thread_id) != th->ns_tid)
		return false;
	/* Unlinked and freed, its memory could still say all that: the thread
	 * before it (or the interpreter) must still point at it. */
	uint64_t prev = load_u64(buf, L->tstate_prev), points_at;
	if (!prev)
		return head == th->tstate_addr;
	return target_read_u64(w->target, prev + (uint64_t)L->tstate_next, &points_at) == 0 &&
	       points_at == th->tstate_addr;
}

/* Whether every interpreter and its first thread state are where the last
 * walk found them; *HOLDERS gets each one's GIL holder, read now. */
static bool same_interpreters(struct pywalker *w, uint64_t *holders)
{
	struct target *t = w->target;
	const struct py_layout *L = &w->layout;
	uint64_t interp = w->info.interp_head_addr;
	for (size_t k = 0; k < w->list_interps; k++) {
		uint64_t head, next;
		if (interp != w->list_interp[k] ||
		    target_read_u64(t, interp + (uint64_t)L->interp_threads_head, &head) < 0 ||
		    head != w->list_head[k] || target_read_u64(t, interp + (uint64_t)L->interp_next, &next) < 0)
			return false;
		holders[k] = py_gil_holder(w, interp);
		interp = next;
	}
	return interp == 0;
}

int pywalker_threads_again(struct pywalker *w, pywalker_must_read must_read, void *ctx,
                           const struct pythread **threads, size_t *count)
{
	const struct py_layout *L = &w->layout;
	uint64_t holders[PY_MAX_INTERPRETERS];
	uint8_t buf[4096];
	int32_t tsize = py_tstate_read_size(L);
	if (!w->list_whole || L->tstate_prev < 0 || (size_t)tsize > sizeof(buf) || !same_interpreters(w, holders))
		return pywalker_threads(w, threads, count);
	for (size_t i = 0, k = 0; i < w->list_count; i++) {
		struct pythread *th = &w->threads[i];
		while (k < w->list_interps && w->list_interp[k] != th->interp_addr)
			k++;
		if (k == w->list_interps)
			return pywalker_threads(w, threads, count);
		th->holds_gil = holders[k] && holders[k] == th->tstate_addr;
		if (!th->holds_gil && !must_read(ctx, i, th))
			continue;
		if (target_read(w->target, th->tstate_addr, buf, (size_t)tsize) < 0 ||
		    !still_linked(w, i, buf, w->list_head[k]))
			return pywalker_threads(w, threads, count);
		/* Before 3.11 the OS thread ids are not in the thread state:
		 * they stay as the last walk found them. */
		py_thread_from_tstate(w, buf, th);
	}
	*threads = w->threads;
	*count = w->list_count;
	return 0;
}
