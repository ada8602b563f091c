/* Sampling through tasks (record --async): in each sample, which task each
 * thread runs and the tasks awaiting it, level by level, with their
 * suspended chains. Reads only what the sample needs: the running tasks
 * (asyncio.tasks._current_tasks, or from 3.14 the thread state), then one
 * awaiter per level; buffers are the reader's, reused. */
#include <stdio.h>
#include <string.h>

#include "python/tasks_internal.h"

struct current {
	struct pytasks *r;
};

static int note_running(struct pytasks *r, uint64_t task)
{
	enum obj_kind kind;
	uint64_t coro;
	int ret = obj_kind(&r->o, task, &kind);
	if (ret < 0 || !obj_is_task(kind) || r->nrunning >= sizeof(r->running) / sizeof(r->running[0]))
		return ret;
	if ((ret = task_coroutine(r, task, kind, &coro)) < 0 || !coro)
		return ret;
	uint64_t frame = gen_frame_address(&r->o, coro);
	if (frame)
		r->running[r->nrunning++] = (struct running_task){.task = task, .frame = frame, .kind = kind};
	return 0;
}

static int current_one(void *ctx, uint64_t loop, uint64_t task)
{
	struct current *c = ctx;
	return note_running(c->r, task);
}

int pytasks_sample_begin(struct pytasks *r, const struct pythread *threads, size_t nthreads)
{
	r->nrunning = 0;
	if (!nthreads)
		return 0;
	/* 3.14+ C tasks are each thread state's; the dict holds pure-Python
	 * ones, and every running task before. */
	if (!r->current_tasks) {
		double now = time_now();
		if (now < r->next_lookup)
			return 0;
		r->next_lookup = now + 1.0;
		uint64_t tasks;
		int ret = tasks_module(r, threads[0].interp_addr, &tasks);
		if (ret <= 0)
			return ret;
		if ((ret = dict_get(&r->o, tasks, "_current_tasks", &r->current_tasks)) < 0)
			return ret;
		if (!r->current_tasks)
			return 0;
	}
	struct current c = {r};
	return dict_each(&r->o, r->current_tasks, current_one, &c);
}

/* The first awaiter of TASK not seen at an earlier level, or 0. */
static int next_awaiter(struct pytasks *r, const struct found_task *task, const struct pytask_level *levels,
                        size_t nlevels, struct found_task *next)
{
	r->nawaiters = 0;
	int ret = task_awaiters(r, task, &r->awaiters, &r->nawaiters, &r->awaiters_cap);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < r->nawaiters; i++) {
		bool seen = false;
		for (size_t k = 0; k < nlevels && !seen; k++)
			seen = levels[k].task == r->awaiters[i];
		if (seen)
			continue;  /* a cycle: walked once, no further */
		next->addr = r->awaiters[i];
		return obj_kind(&r->o, next->addr, &next->kind);
	}
	next->addr = 0;
	return 0;
}

static int level_name(struct pytasks *r, const struct found_task *task, struct pytask_level *level)
{
	strbuf_reset(&r->name);
	int ret = task_name_into(r, task->addr, task->kind, &r->name);
	if (ret < 0)
		return ret;
	if (!strbuf_ok(&r->name))
		return -ERR_NOMEM;
	snprintf(level->name, sizeof(level->name), "%s", r->name.len ? r->name.buf : "");
	return 0;
}

int pytasks_sample_thread(struct pytasks *r, const struct pythread *th, const struct pyframe *frames, size_t nframes,
                          size_t *keep, struct pytask_level *levels, size_t *nlevels, struct pyframe *chain,
                          size_t chain_max, size_t *nchain)
{
	const struct py_async_layout *A = &r->o.A;
	int ret;
	*keep = *nlevels = *nchain = 0;
	if (A->tstate_running_task >= 0) {
		uint64_t task;
		if ((ret = obj_ptr(&r->o, th->tstate_addr, A->tstate_running_task, &task)) < 0)
			return ret;
		if (task && (ret = note_running(r, task)) < 0)
			return ret;
	}
	struct found_task task = {0};
	for (size_t i = 0; i < r->nrunning && !task.addr; i++) {
		for (size_t k = 0; k < nframes; k++) {
			if (frames[k].addr == r->running[i].frame) {
				task = (struct found_task){.addr = r->running[i].task, .kind = r->running[i].kind};
				*keep = k + 1;
				break;
			}
		}
	}
	if (!task.addr)
		return 0;
	while (task.addr && *nlevels < PYTASK_MAX_LEVELS) {
		struct pytask_level *level = &levels[(*nlevels)++];
		memset(level, 0, sizeof(*level));
		level->task = task.addr;
		level->first = *nchain;
		if ((ret = level_name(r, &task, level)) < 0)
			return ret;
		if (*nlevels > 1) {
			uint64_t coro;
			size_t n = 0, resolved = 0;
			if ((ret = task_coroutine(r, task.addr, task.kind, &coro)) < 0)
				return ret;
			if (coro && (ret = await_chain(&r->o, coro, chain + *nchain, chain_max - *nchain, &n)) < 0)
				return ret;
			if ((ret = pywalker_resolve_codes(r->o.w, chain + *nchain, n, &resolved)) < 0)
				return ret;
			level->count = n;
			*nchain += n;
		}
		if ((ret = next_awaiter(r, &task, levels, *nlevels, &task)) < 0)
			return ret;
	}
	return 0;
}
