/* The asyncio tasks of a collected process: read with the Python layer's
 * task reader from the same target state as the threads, their chains
 * turned into stack frames for the writers. */
#include <stdlib.h>

#include "pycoreprof/base.h"
#include "pycoreprof/stacks.h"

static int tasks_failed(struct process_stacks *ps, int ret)
{
	ps->tasks_error = xasprintf("%s%s%s", err_message(ret), *err_context() ? ": " : "", err_context());
	return ps->tasks_error ? 0 : -ERR_NOMEM;
}

int process_stacks_add_tasks(struct process_stacks *ps, struct pytasks *reader)
{
	struct pytasks *own = NULL;
	const struct pythread *threads;
	size_t nthreads = 0;
	int ret;
	ps->tasks_read = true;
	if (!reader) {
		if ((ret = pytasks_new(ps->walker, &own)) < 0)
			return ret == -ERR_NOMEM ? ret : tasks_failed(ps, ret);
		reader = own;
	}
	ret = pywalker_threads(ps->walker, &threads, &nthreads);
	if (ret < 0 && !nthreads)
		goto out;
	ret = pytasks_read(reader, threads, nthreads, &ps->tasks);
	if (ret < 0)
		goto out;
	ps->task_stacks = xcalloc(ps->tasks.count ? ps->tasks.count : 1, sizeof(*ps->task_stacks));
	if (!ps->task_stacks) {
		ret = -ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < ps->tasks.count; i++) {
		const struct pytask *task = &ps->tasks.tasks[i];
		struct task_stack *ts = &ps->task_stacks[i];
		ts->task = task;
		if (!task->nframes)
			continue;
		if (!(ts->frames = xcalloc(task->nframes, sizeof(*ts->frames)))) {
			ret = -ERR_NOMEM;
			goto out;
		}
		stack_frames_from_python(ps->walker, task->frames, task->nframes, ts->frames);
		ts->nframes = task->nframes;
	}
out:
	pytasks_free(own);
	if (ret == -ERR_NOMEM)
		return ret;
	return ret < 0 ? tasks_failed(ps, ret) : 0;
}
